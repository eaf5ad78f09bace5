import { once } from "node:events";
import WebSocket from "ws";
import type { WebSocketConstructor } from "../../src/web/web-transport.js";

/** Node's `ws` as the transport's WebSocket class. */
export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

/** What the gateway sent on one gRPC-Web WebSocket, split into frames. */
export interface WsOutcome {
  /** The first frame (flag 0x80): the response headers. */
  header: Record<string, string>;
  /** Message frames' payloads. */
  messages: Buffer[];
  /** The second 0x80 frame, if any. */
  trailer: Record<string, string> | undefined;
  closeCode: number;
  closeReason: string;
}

/**
 * A raw grpc-websockets call over Node's `ws`, for wire-level tests: the
 * test sends the header block and the messages itself (0x00-prefixed bytes,
 * the 0x01 end), then reads everything the gateway sent until the close.
 */
export class RawWsCall {
  readonly ws: WebSocket;
  readonly #received: Buffer[] = [];
  readonly #closed: Promise<[number, Buffer]>;

  constructor(url: string, opts: { origin?: string; protocols?: string[]; autoPong?: boolean; ca?: Buffer } = {}) {
    this.ws = new WebSocket(url, opts.protocols ?? ["grpc-websockets"], {
      ...(opts.origin ? { origin: opts.origin } : {}),
      ...(opts.autoPong === false ? { autoPong: false } : {}),
      ...(opts.ca ? { ca: opts.ca, servername: "localhost" } : {}),
    });
    this.ws.on("message", (data: Buffer) => this.#received.push(data));
    this.ws.on("error", () => {});
    this.#closed = once(this.ws, "close") as Promise<[number, Buffer]>;
  }

  /** Resolves once open, or rejects with the HTTP status the upgrade got instead. */
  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${body}`), { status: res.statusCode, body })));
      });
      this.ws.once("error", reject);
    });
  }

  headers(h: Record<string, string>): void {
    this.ws.send(Buffer.from(Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join("")));
  }

  /** Request body bytes in one 0x00 message. */
  data(bytes: Uint8Array): void {
    this.ws.send(Buffer.concat([Buffer.from([0]), bytes]));
  }

  end(): void {
    this.ws.send(Buffer.from([1]));
  }

  /** Everything received, once the connection has closed. */
  async outcome(): Promise<WsOutcome> {
    const [code, reason] = await this.#closed;
    const bytes = Buffer.concat(this.#received);
    const frames: { flags: number; data: Buffer }[] = [];
    for (let i = 0; i + 5 <= bytes.length; ) {
      const len = bytes.readUInt32BE(i + 1);
      frames.push({ flags: bytes[i]!, data: bytes.subarray(i + 5, i + 5 + len) });
      i += 5 + len;
    }
    const blocks = frames.filter((f) => f.flags & 0x80).map((f) => parseBlock(f.data));
    return {
      header: blocks[0] ?? {},
      messages: frames.filter((f) => !(f.flags & 0x80)).map((f) => f.data),
      trailer: blocks[1],
      closeCode: code,
      closeReason: reason.toString(),
    };
  }
}

function parseBlock(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of data.toString().split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}
