import type { Transport } from "@connectrpc/connect";
import { createNodeHttpClient, Http2SessionManager } from "@connectrpc/connect-node";
import type { UniversalClientFn } from "@connectrpc/connect/protocol";
import { createTransport } from "@connectrpc/connect/protocol-grpc-web";
import { Base64Decoder } from "../../src/protocol/grpc-web/base64-decoder.js";

/** What a text-mode client saw of its last response, for wire-level assertions. */
export interface TextWire {
  contentType: string | null;
  /** The response body's chunks as received, still base64. */
  chunks: string[];
}

/**
 * A Connect-ES gRPC-Web transport in text mode (application/grpc-web-text),
 * as the official grpc-web client speaks it: every request chunk is sent as
 * its own padded base64 piece (so padding lands mid-body when a request has
 * several), and the response is decoded as it streams in. Connect-ES has no
 * text mode of its own; its gRPC-Web protocol runs on top of this client.
 */
export function createGrpcWebTextTransport(opts: { baseUrl: string; httpVersion: "1.1" | "2"; wire?: TextWire }): Transport {
  const http = createNodeHttpClient(opts.httpVersion === "2" ? { httpVersion: "2", sessionProvider: sharedSession(opts.baseUrl) } : { httpVersion: "1.1" });
  const text: UniversalClientFn = async (req) => {
    req.header.set("content-type", "application/grpc-web-text");
    req.header.set("accept", "application/grpc-web-text");
    const res = await http({ ...req, body: req.body === undefined ? undefined : encodeEach(req.body) });
    if (opts.wire) {
      opts.wire.contentType = res.header.get("content-type");
      opts.wire.chunks = [];
    }
    return { ...res, body: decodeAll(res.body, opts.wire) };
  };
  return createTransport({
    httpClient: text,
    baseUrl: opts.baseUrl,
    useBinaryFormat: true,
    interceptors: [],
    acceptCompression: [],
    sendCompression: null,
    compressMinBytes: 0,
    readMaxBytes: 0xffffffff,
    writeMaxBytes: 0xffffffff,
  });
}

async function* encodeEach(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  for await (const chunk of body) yield Buffer.from(Buffer.from(chunk).toString("base64"), "latin1");
}

async function* decodeAll(body: AsyncIterable<Uint8Array>, wire: TextWire | undefined): AsyncIterable<Uint8Array> {
  const decoder = new Base64Decoder();
  for await (const chunk of body) {
    wire?.chunks.push(Buffer.from(chunk).toString("latin1"));
    const out = decoder.push(chunk);
    if (!Buffer.isBuffer(out)) throw new Error(`response is not base64: ${JSON.stringify(out)}`);
    if (out.byteLength > 0) yield out;
  }
  const problem = decoder.end();
  if (problem) throw new Error(`response is not base64: ${JSON.stringify(problem)}`);
}

/** One HTTP/2 connection for every call of the transport. */
function sharedSession(baseUrl: string): () => Http2SessionManager {
  const manager = new Http2SessionManager(baseUrl);
  return () => manager;
}
