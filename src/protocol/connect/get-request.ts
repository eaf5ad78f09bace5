import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";

/** A Connect GET request's message, read from its query string. */
export interface GetRequest {
  binary: boolean;
  /** The message compression the client used (`compression=`), if any. */
  compression: string | undefined;
  message: Uint8Array;
}

/**
 * Reads a Connect GET query: `encoding` (proto or json, required),
 * `message` (percent-encoded, or unpadded base64url with `base64=1`),
 * `compression`. Undefined `binary` means an unknown encoding (HTTP 415).
 */
export function parseGetRequest(query: string): GetRequest | { unsupported: string } | { error: ConnectError } {
  const params = new URLSearchParams(query);
  const encoding = params.get("encoding");
  if (encoding !== "proto" && encoding !== "json") {
    return { unsupported: `${encoding === null ? "no encoding parameter" : `unsupported encoding ${JSON.stringify(encoding)}`}; a Connect GET request needs encoding=proto or encoding=json` };
  }
  const raw = params.get("message") ?? "";
  let message: Uint8Array;
  if (params.get("base64") === "1") {
    try {
      message = base64Decode(raw);
    } catch {
      return { error: new ConnectError("protocol error: invalid base64 in message query parameter", Code.InvalidArgument) };
    }
  } else {
    message = Buffer.from(raw, "utf8");
  }
  return { binary: encoding === "proto", compression: params.get("compression") ?? undefined, message };
}
