import http from "node:http";
import http2 from "node:http2";
import { envelope } from "./raw-http.js";

/**
 * A server-streaming call made with node:http2 (gRPC) or node:http (gRPC-Web
 * over HTTP/1.1) directly, so that the test decides when the client reads:
 * pause() stops reading the response (HTTP/2 flow control, or TCP
 * backpressure over HTTP/1.1) until resume(). Connect-ES clients read
 * responses into memory as they arrive whatever the caller does, so they
 * cannot play a slow reader.
 */
export interface RawStream {
  /** Message payloads received so far (envelopes unwrapped, trailer frame excluded). */
  readonly messages: Buffer[];
  pause(): void;
  resume(): void;
  /** Resets the stream / closes the connection. */
  close(): void;
  /** The status the call ended with: grpc-status and grpc-message from trailers or the trailer frame. */
  readonly done: Promise<{ status: number; message: string }>;
}

export function rawServerStream(baseUrl: string, path: string, request: Uint8Array, protocol: "grpc" | "grpc-web"): RawStream {
  return protocol === "grpc" ? grpcStream(baseUrl, path, request) : grpcWebStream(baseUrl, path, request);
}

function grpcStream(baseUrl: string, path: string, request: Uint8Array): RawStream {
  const session = http2.connect(baseUrl);
  session.on("error", () => {});
  const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
  const reader = new EnvelopeSplitter();
  let trailers: http2.IncomingHttpHeaders = {};
  let headers: http2.IncomingHttpHeaders = {};
  stream.on("response", (h) => (headers = h));
  stream.on("trailers", (t) => (trailers = t));
  stream.on("data", (c: Buffer) => reader.push(c));
  const done = new Promise<{ status: number; message: string }>((resolve) => {
    stream.on("close", () => {
      session.close();
      const t = trailers["grpc-status"] !== undefined ? trailers : headers;
      resolve({ status: Number(t["grpc-status"] ?? -1), message: decodeURIComponent(String(t["grpc-message"] ?? "")) });
    });
  });
  stream.on("error", () => {});
  stream.end(envelope(request));
  return {
    messages: reader.messages,
    pause: () => stream.pause(),
    resume: () => stream.resume(),
    close: () => session.destroy(),
    done,
  };
}

function grpcWebStream(baseUrl: string, path: string, request: Uint8Array): RawStream {
  const url = new URL(baseUrl);
  const reader = new EnvelopeSplitter();
  let res: http.IncomingMessage | undefined;
  let paused = false;
  const req = http.request({ host: url.hostname, port: url.port, method: "POST", path, agent: false, headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" } });
  const done = new Promise<{ status: number; message: string }>((resolve) => {
    const finish = () => {
      const t = reader.trailer ?? {};
      resolve({ status: Number(t["grpc-status"] ?? -1), message: decodeURIComponent(t["grpc-message"] ?? "") });
    };
    req.on("response", (r) => {
      res = r;
      if (paused) r.pause();
      r.on("data", (c: Buffer) => reader.push(c));
      r.on("end", finish);
      r.on("error", finish);
      r.on("close", finish);
    });
    req.on("error", finish);
  });
  req.end(envelope(request));
  return {
    messages: reader.messages,
    pause: () => {
      paused = true;
      res?.pause();
    },
    resume: () => {
      paused = false;
      res?.resume();
    },
    close: () => req.destroy(),
    done,
  };
}

/** Splits a response body into envelopes as its chunks arrive. */
class EnvelopeSplitter {
  readonly messages: Buffer[] = [];
  trailer: Record<string, string> | undefined;
  #pending = Buffer.alloc(0);

  push(chunk: Buffer): void {
    let buf = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    while (buf.length >= 5) {
      const len = buf.readUInt32BE(1);
      if (buf.length < 5 + len) break;
      const flags = buf[0]!;
      const data = buf.subarray(5, 5 + len);
      if ((flags & 0x80) !== 0) this.trailer = parseTrailer(data);
      else this.messages.push(Buffer.from(data));
      buf = buf.subarray(5 + len);
    }
    this.#pending = Buffer.from(buf);
  }
}

function parseTrailer(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of data.toString("utf8").split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) out[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return out;
}
