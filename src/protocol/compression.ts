import { promisify } from "node:util";
import zlib from "node:zlib";
import { Code, ConnectError } from "@connectrpc/connect";

/** A per-message compression the RPC protocols can negotiate. */
export interface Compression {
  readonly name: "gzip" | "br";
  compress(data: Uint8Array): Promise<Uint8Array>;
  /** Rejects with RESOURCE_EXHAUSTED past `limit` bytes of output, before it is all inflated. */
  decompress(data: Uint8Array, limit: number): Promise<Uint8Array>;
}

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);
const brotliCompress = promisify(zlib.brotliCompress);
const brotliDecompress = promisify(zlib.brotliDecompress);

/**
 * zlib stops at maxOutputLength and fails with ERR_BUFFER_TOO_LARGE, so a
 * small compressed bomb never inflates past the read limit.
 */
function limited(name: string, run: (data: Uint8Array, opts: zlib.ZlibOptions | zlib.BrotliOptions) => Promise<Buffer>) {
  return async (data: Uint8Array, limit: number): Promise<Uint8Array> => {
    try {
      return await run(data, { maxOutputLength: limit });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
        throw new ConnectError(`message is larger than configured readMaxBytes ${limit} after decompression`, Code.ResourceExhausted);
      }
      throw new ConnectError(`${name} decompression failed: ${(e as Error).message}`, Code.InvalidArgument);
    }
  };
}

export const compressions: Record<Compression["name"], Compression> = {
  gzip: { name: "gzip", compress: (d) => gzip(d), decompress: limited("gzip", (d, o) => gunzip(d, o)) },
  br: { name: "br", compress: (d) => brotliCompress(d), decompress: limited("br", (d, o) => brotliDecompress(d, o as zlib.BrotliOptions)) },
};

/** The outcome of negotiating compression for one call. */
export interface Negotiated {
  /** How request messages are compressed; null for identity. */
  request: Compression | null;
  /** How response messages will be compressed; null for identity. */
  response: Compression | null;
  /** Set when the request uses an encoding this route does not accept. */
  error?: ConnectError;
}

const none: Negotiated = { request: null, response: null };

/**
 * Negotiates per-message compression from the request's encoding header
 * (`requested`, e.g. grpc-encoding) and accept header (`accepted`, e.g.
 * grpc-accept-encoding), among the encodings the route accepts. An unknown
 * request encoding is UNIMPLEMENTED with the acceptable list, as the gRPC
 * compression spec asks; without an accept header the response uses the
 * request's encoding.
 */
export function negotiateCompression(
  available: readonly Compression[],
  requested: string | undefined,
  accepted: string | undefined,
  acceptHeaderName: string,
): Negotiated {
  if ((requested === undefined || requested === "identity") && (accepted === undefined || accepted === "")) return none;
  let request: Compression | null = null;
  if (requested !== undefined && requested !== "identity") {
    const found = available.find((c) => c.name === requested);
    if (!found) {
      const acceptable = available.map((c) => c.name).join(",");
      return {
        request: null,
        response: null,
        error: new ConnectError(`unknown compression "${requested}": supported encodings are ${acceptable || "identity"}`, Code.Unimplemented, { [acceptHeaderName]: acceptable || "identity" }),
      };
    }
    request = found;
  }
  if (accepted === undefined || accepted === "") return { request, response: request };
  return { request, response: accepted.includes(";") ? preferredByWeight(available, accepted) : firstAccepted(available, accepted) };
}

/** The first encoding the client lists that the route has: the common form, `gzip, br`, with no weights. */
function firstAccepted(available: readonly Compression[], accepted: string): Compression | null {
  for (const part of accepted.split(",")) {
    const found = findEncoding(available, part.trim());
    if (found) return found;
  }
  return null;
}

/**
 * With weights (`br;q=1.0, gzip;q=0.5`, RFC 9110 §12.5.3): the available
 * encoding with the highest weight, the client's order breaking ties; q=0
 * means "not this one". A weight that does not parse counts as 1, as an
 * absent one does: a client's typo should not turn compression off.
 */
function preferredByWeight(available: readonly Compression[], accepted: string): Compression | null {
  let best: Compression | null = null;
  let bestWeight = 0;
  for (const part of accepted.split(",")) {
    const [name = "", ...params] = part.split(";");
    const found = findEncoding(available, name.trim());
    if (!found) continue;
    let weight = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
      if (m) {
        const q = Number(m[1]);
        if (q >= 0 && q <= 1) weight = q;
      }
    }
    if (weight > bestWeight) {
      best = found;
      bestWeight = weight;
    }
  }
  return best;
}

/** Content codings are case-insensitive (RFC 9110 §8.4.1); the usual lower-case spelling is matched first. */
function findEncoding(available: readonly Compression[], name: string): Compression | undefined {
  return available.find((c) => c.name === name) ?? available.find((c) => c.name === name.toLowerCase());
}
