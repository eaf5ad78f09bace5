import net from "node:net";

/**
 * A bare HTTP/2 client over a TCP socket, for the attack tests: it writes
 * the frames it is told to (including ones a well-behaved client never
 * sends) and records the frames the server sends back. Header blocks are
 * HPACK literals without indexing or Huffman coding; the server's header
 * blocks are not decoded (the tests look at frame types, flags, stream ids
 * and error codes).
 */

export const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export const FrameType = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;
export const ErrorCode = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, CANCEL: 8, REFUSED_STREAM: 7, ENHANCE_YOUR_CALM: 11 } as const;

export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

export function frame(type: number, flags: number, stream: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.byteLength, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** SETTINGS with (id, value) pairs, e.g. [[4, 0]] for an initial window of 0. */
export function settings(entries: [number, number][] = []): Buffer {
  const p = Buffer.alloc(6 * entries.length);
  entries.forEach(([id, value], i) => {
    p.writeUInt16BE(id, 6 * i);
    p.writeUInt32BE(value, 6 * i + 2);
  });
  return frame(FrameType.SETTINGS, 0, 0, p);
}

function hpackInt(value: number, prefixBits: number, first = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([first | value]);
  const out = [first | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest & 0x7f) | 0x80);
    rest >>= 7;
  }
  out.push(rest);
  return Buffer.from(out);
}

/** An HPACK header block of literal fields (no indexing, no Huffman). */
export function headerBlock(fields: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    const n = Buffer.from(name, "latin1");
    const v = Buffer.from(value, "latin1");
    parts.push(Buffer.from([0x00]), hpackInt(n.length, 7), n, hpackInt(v.length, 7), v);
  }
  return Buffer.concat(parts);
}

/** A request's HEADERS (split into CONTINUATION frames past 16 KiB). */
export function headers(stream: number, fields: [string, string][], endStream = false): Buffer {
  const block = headerBlock(fields);
  const max = 16_384;
  const out: Buffer[] = [];
  for (let i = 0; i < block.length || i === 0; i += max) {
    const last = i + max >= block.length;
    const type = i === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
    const flags = (last ? Flag.END_HEADERS : 0) | (i === 0 && endStream ? Flag.END_STREAM : 0);
    out.push(frame(type, flags, stream, block.subarray(i, i + max)));
  }
  return Buffer.concat(out);
}

export function rstStream(stream: number, code: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(FrameType.RST_STREAM, 0, stream, p);
}

/** The request fields of a gRPC call to `path`. */
export function grpcRequest(path: string, extra: [string, string][] = []): [string, string][] {
  return [[":method", "POST"], [":scheme", "http"], [":path", path], [":authority", "localhost"], ["content-type", "application/grpc"], ["te", "trailers"], ...extra];
}

export interface RawH2 {
  socket: net.Socket;
  /** Every frame the server sent so far. */
  frames: Frame[];
  /** Writes; false when the socket's buffer is full (then wait for writable()). */
  send(bytes: Buffer): boolean;
  /** Resolves once the socket takes writes again, or has closed. */
  writable(): Promise<void>;
  /** Resolves when the connection has closed. */
  closed: Promise<void>;
  isClosed(): boolean;
  /** RST_STREAM error codes received, by stream. */
  resets(): Map<number, number>;
  /** The GOAWAY error code received, if any. */
  goaway(): number | undefined;
  destroy(): void;
}

/**
 * Connects, sends the preface and an (optionally customised) SETTINGS, and
 * acknowledges the server's SETTINGS unless `ackSettings` is false. With
 * `ackPings`, it answers the server's keepalive PINGs as a live client does.
 */
export async function connectRaw(port: number, opts: { ackSettings?: boolean; ackPings?: boolean; settings?: [number, number][]; localAddress?: string } = {}): Promise<RawH2> {
  const socket = net.connect({ port, host: "127.0.0.1", ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("close", () => reject(new Error("closed before connecting")));
  });
  const frames: Frame[] = [];
  let pending: Buffer = Buffer.alloc(0);
  let closed = false;
  const ack = opts.ackSettings ?? true;
  socket.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 9) {
      const len = pending.readUIntBE(0, 3);
      if (pending.length < 9 + len) break;
      const f = { type: pending[3]!, flags: pending[4]!, stream: pending.readUInt32BE(5) & 0x7fffffff, payload: pending.subarray(9, 9 + len) };
      frames.push(f);
      if (f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) === 0 && ack && !socket.destroyed) socket.write(frame(FrameType.SETTINGS, Flag.ACK, 0));
      if (f.type === FrameType.PING && (f.flags & Flag.ACK) === 0 && opts.ackPings === true && !socket.destroyed) socket.write(frame(FrameType.PING, Flag.ACK, 0, Buffer.from(f.payload)));
      pending = pending.subarray(9 + len);
    }
  });
  const done = new Promise<void>((resolve) => socket.once("close", () => {
    closed = true;
    resolve();
  }));
  socket.write(Buffer.concat([preface, settings(opts.settings ?? [])]));
  return {
    socket,
    frames,
    send: (bytes) => !socket.destroyed && socket.write(bytes),
    writable: () => new Promise<void>((resolve) => {
      if (closed || !socket.writableNeedDrain) return resolve();
      const done = () => {
        socket.off("drain", done);
        socket.off("close", done);
        resolve();
      };
      socket.on("drain", done);
      socket.on("close", done);
    }),
    closed: done,
    isClosed: () => closed,
    resets: () => new Map(frames.filter((f) => f.type === FrameType.RST_STREAM).map((f) => [f.stream, f.payload.readUInt32BE(0)])),
    goaway: () => {
      const g = frames.find((f) => f.type === FrameType.GOAWAY);
      return g?.payload.readUInt32BE(4);
    },
    destroy: () => socket.destroy(),
  };
}
