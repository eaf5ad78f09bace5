import type { JsonWriteOptions } from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import type { ConnectError } from "@connectrpc/connect";
import { connectCodeName, wireDetails } from "../status-details.js";

/** A Connect error as JSON: { code, message?, details?: [{ type, value, debug? }] }. */
export function errorToJson(error: ConnectError, json?: Partial<JsonWriteOptions>): Record<string, unknown> {
  const out: Record<string, unknown> = { code: connectCodeName(error.code) };
  if (error.rawMessage !== "") out.message = error.rawMessage;
  if (error.details.length > 0) {
    out.details = wireDetails(error, json).map((d) => {
      const o: Record<string, unknown> = { type: d.type, value: base64Encode(d.value, "std_raw") };
      if (d.debug !== undefined) o.debug = d.debug;
      return o;
    });
  }
  return out;
}
