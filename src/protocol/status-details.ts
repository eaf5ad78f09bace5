import { create, toBinary, toJson, type JsonWriteOptions } from "@bufbuild/protobuf";
import { BinaryWriter, base64Encode } from "@bufbuild/protobuf/wire";
import { Code, type ConnectError } from "@connectrpc/connect";

/** One error detail as it goes on the wire: a type name and its bytes. */
export interface WireDetail {
  type: string;
  value: Uint8Array;
  /** JSON form for Connect's "debug" field, when it can be made. */
  debug?: unknown;
}

/** ConnectError details, whether given as {desc, value} or as received bytes. */
export function wireDetails(error: ConnectError, json?: Partial<JsonWriteOptions>): WireDetail[] {
  return error.details.map((d) => {
    if ("desc" in d) {
      const msg = create(d.desc, d.value);
      const out: WireDetail = { type: d.desc.typeName, value: toBinary(d.desc, msg) };
      try {
        out.debug = toJson(d.desc, msg, json);
      } catch {
        // Only a debugging aid (a message holding an Any it cannot resolve).
      }
      return out;
    }
    return d.debug === undefined ? { type: d.type, value: d.value } : { type: d.type, value: d.value, debug: d.debug };
  });
}

/**
 * google.rpc.Status in binary, for grpc-status-details-bin: code (1),
 * message (2), details (3) as google.protobuf.Any (type_url 1, value 2).
 * Written field by field so that no descriptor is needed.
 */
export function encodeStatus(error: ConnectError): Uint8Array {
  const w = new BinaryWriter();
  if ((error.code as number) !== 0) w.tag(1, 0).int32(error.code);
  if (error.rawMessage !== "") w.tag(2, 2).string(error.rawMessage);
  for (const d of wireDetails(error)) {
    w.tag(3, 2).fork();
    w.tag(1, 2).string(`type.googleapis.com/${d.type}`);
    w.tag(2, 2).bytes(d.value);
    w.join();
  }
  return w.finish();
}

/** Unpadded standard base64, as gRPC binary metadata is sent. */
export function encodeBinaryHeaderValue(bytes: Uint8Array): string {
  return base64Encode(bytes, "std_raw");
}

const codeNames: string[] = [];
for (const [name, value] of Object.entries(Code)) {
  if (typeof value === "number") codeNames[value] = name.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/** The Connect protocol's name of a code: "invalid_argument", "canceled". */
export function connectCodeName(code: Code): string {
  return codeNames[code] ?? "unknown";
}
