import type { IncomingHttpHeaders } from "node:http";

/** The WebSocket sub-protocol of gRPC-Web over WebSocket (improbable-eng/grpc-web's transport). */
export const grpcWebSocketProtocol = "grpc-websockets";

/** First byte of a client message after the header block. */
const dataByte = 0;
const endOfStreamByte = 1;

/** Where the parts of a call's request go. */
export interface WebSocketRequestSink {
  /** The header block (the first message): the call's request headers. */
  headers(headers: IncomingHttpHeaders): void;
  /** Request body bytes: gRPC-Web frames, split and joined as the client sent them. */
  data(bytes: Uint8Array): void;
  /** The client finished sending (half-close). */
  end(): void;
}

/**
 * Reads the client's side of one gRPC-Web call carried over a WebSocket,
 * message by message: the first binary message is the request headers as
 * "name: value\r\n" lines (browsers cannot set headers on a WebSocket);
 * every later message starts with one byte, 0 for request body bytes that
 * follow it (gRPC-Web frames, which may be split across messages or share
 * one), 1 alone for the end of the client's stream.
 *
 * Message payloads arrive in pieces (FrameSink.messageData) and body bytes
 * are passed on as they come, so no message is buffered whole except the
 * header block, which is bounded by `maxHeaderBytes`. Returns a problem
 * (and nothing more should be fed) when the client breaks the protocol.
 */
export class WebSocketRequestReader {
  #state: "headers" | "idle" | "message-start" | "data" | "end-marker" | "ended" = "headers";
  #headerChunks: Buffer[] = [];
  #headerBytes = 0;

  constructor(private readonly maxHeaderBytes: number) {}

  /** True once the header block has been read. */
  get started(): boolean {
    return this.#state !== "headers";
  }

  messageStart(binary: boolean): string | undefined {
    if (!binary) return "text messages are not part of the grpc-websockets protocol; send binary messages";
    if (this.#state === "ended") return "a message after the end of the client's stream (the 0x01 message)";
    if (this.#state !== "headers") this.#state = "message-start";
    return undefined;
  }

  messageData(bytes: Uint8Array, sink: WebSocketRequestSink): string | undefined {
    switch (this.#state) {
      case "headers":
        this.#headerBytes += bytes.byteLength;
        if (this.#headerBytes > this.maxHeaderBytes) return `the header block is larger than maxHeaderBytes (${this.maxHeaderBytes})`;
        this.#headerChunks.push(Buffer.from(bytes));
        return undefined;
      case "message-start": {
        const first = bytes[0]!;
        if (first === dataByte) {
          this.#state = "data";
          if (bytes.byteLength > 1) sink.data(bytes.subarray(1));
          return undefined;
        }
        if (first === endOfStreamByte) {
          this.#state = "end-marker";
          return bytes.byteLength > 1 ? "the end-of-stream message (0x01) must be one byte" : undefined;
        }
        return `a message starting with 0x${first.toString(16).padStart(2, "0")}; each message starts with 0x00 (data) or is 0x01 (end of stream)`;
      }
      case "data":
        sink.data(bytes);
        return undefined;
      case "end-marker":
        return "the end-of-stream message (0x01) must be one byte";
      default:
        return undefined;
    }
  }

  messageEnd(sink: WebSocketRequestSink): string | undefined {
    switch (this.#state) {
      case "headers": {
        const parsed = parseHeaderBlock(Buffer.concat(this.#headerChunks, this.#headerBytes));
        this.#headerChunks = [];
        if (typeof parsed === "string") return parsed;
        this.#state = "idle";
        sink.headers(parsed);
        return undefined;
      }
      case "message-start":
        // An empty message carries nothing: ignored, as an empty DATA frame would be.
        this.#state = "idle";
        return undefined;
      case "end-marker":
        this.#state = "ended";
        sink.end();
        return undefined;
      case "data":
        this.#state = "idle";
        return undefined;
      default:
        return undefined;
    }
  }
}

const token = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/**
 * The header block: "name: value" lines separated by CRLF (a bare LF is
 * taken too). Names are lower-cased; repeated names are joined with ", ",
 * as HTTP/1.1 joins repeated fields. A string is the problem.
 */
export function parseHeaderBlock(block: Buffer): IncomingHttpHeaders | string {
  const out: IncomingHttpHeaders = {};
  for (const raw of block.toString("latin1").split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) return `header block line ${JSON.stringify(line.slice(0, 40))} is not "name: value"`;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!token.test(name)) return `header name ${JSON.stringify(name.slice(0, 40))} is not an HTTP token`;
    const value = line.slice(colon + 1).trim();
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return `header ${name} has a control character in its value`;
    const prev = out[name];
    out[name] = prev === undefined ? value : `${String(prev)}, ${value}`;
  }
  return out;
}
