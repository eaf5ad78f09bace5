// Runs in browsers: no Node APIs here (nor in the rest of src/web/).
import { Code, ConnectError } from "@connectrpc/connect";

/** The part of the WebSocket API the transport uses: a browser's WebSocket, or Node's `ws` package. */
export interface WebSocketLike {
  binaryType: string;
  readonly bufferedAmount: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike;

/** WebSocketStream (Chromium): a WebSocket whose messages are read with backpressure. */
interface WebSocketStreamLike {
  readonly opened: Promise<{ readable: ReadableStream<ArrayBuffer | Uint8Array | string>; writable: WritableStream<Uint8Array> }>;
  readonly closed: Promise<{ closeCode?: number; reason?: string }>;
  close(info?: { closeCode?: number; reason?: string }): void;
}
type WebSocketStreamConstructor = new (url: string, options: { protocols: string[]; signal?: AbortSignal }) => WebSocketStreamLike;

/** How a connection ended: the server's close code and reason (1006 when it just dropped). */
export interface CloseInfo {
  code: number;
  reason: string;
}

/**
 * One WebSocket, seen as binary messages in and out with flow control:
 * `send` resolves when the next message may go (the socket's buffered
 * amount is under the bound), `next` resolves with the next message, or
 * undefined once the connection has closed (`closeInfo` says how).
 */
export interface MessageChannel {
  send(data: Uint8Array): Promise<void>;
  next(): Promise<Uint8Array | undefined>;
  readonly closeInfo: Promise<CloseInfo>;
  /** Closes from this side (1000: the call is over or cancelled). */
  close(code: number, reason: string): void;
}

export interface ChannelOptions {
  /**
   * With a plain WebSocket, sending waits while more than this many bytes
   * are queued on the socket (bufferedAmount). WebSocketStream has its own
   * backpressure: each message waits for the last to be taken.
   */
  sendBufferBytes: number;
  /**
   * With a plain WebSocket (no WebSocketStream), messages the application
   * has not read yet are kept here; past this many bytes the call fails
   * with RESOURCE_EXHAUSTED instead of buffering without bound.
   */
  receiveBufferBytes: number;
  /** A WebSocket class to use instead of the browser's (e.g. Node's `ws`). Forces the plain WebSocket path. */
  webSocket?: WebSocketConstructor;
}

/**
 * Opens a WebSocket for one call. Where the browser has WebSocketStream
 * (Chromium), messages are read only as the application reads its
 * responses: a page that stops reading stops the socket, and the server's
 * flow control sees a slow consumer, as it would with HTTP/2.
 */
export async function openChannel(url: string, protocol: string, signal: AbortSignal | undefined, opts: ChannelOptions): Promise<MessageChannel> {
  const Stream = (globalThis as { WebSocketStream?: WebSocketStreamConstructor }).WebSocketStream;
  if (opts.webSocket === undefined && Stream !== undefined) return openStream(Stream, url, protocol, signal, opts);
  const Plain = opts.webSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (Plain === undefined) throw new ConnectError("no WebSocket in this environment; pass one as the webSocket option", Code.Unimplemented);
  return openPlain(Plain, url, protocol, signal, opts);
}

function unavailable(url: string, detail: string): ConnectError {
  return new ConnectError(`could not open a WebSocket to ${url}: ${detail}`, Code.Unavailable);
}

async function openStream(Stream: WebSocketStreamConstructor, url: string, protocol: string, signal: AbortSignal | undefined, opts: ChannelOptions): Promise<MessageChannel> {
  const wss = new Stream(url, { protocols: [protocol], ...(signal ? { signal } : {}) });
  let opened: Awaited<WebSocketStreamLike["opened"]>;
  try {
    opened = await wss.opened;
  } catch (e) {
    throw unavailable(url, e instanceof Error ? e.message : String(e));
  }
  const reader = opened.readable.getReader();
  const writer = opened.writable.getWriter();
  // The connection dropping without a close frame rejects `closed`.
  const closeInfo = wss.closed.then(
    (c) => ({ code: c.closeCode ?? 1005, reason: c.reason ?? "" }),
    (e: unknown) => ({ code: 1006, reason: e instanceof Error ? e.message : String(e) }),
  );
  return {
    async send(data) {
      // The stream's own backpressure: ready waits until the socket took the last message.
      await writer.ready;
      writer.write(data).catch(() => {});
    },
    async next() {
      try {
        const r = await reader.read();
        if (r.done) return undefined;
        if (typeof r.value === "string") throw new ConnectError("the server sent a text message", Code.Internal);
        return r.value instanceof Uint8Array ? r.value : new Uint8Array(r.value);
      } catch (e) {
        if (e instanceof ConnectError) throw e;
        return undefined;
      }
    },
    closeInfo,
    close(code, reason) {
      try {
        wss.close({ closeCode: code, reason });
      } catch {
        // already closed
      }
    },
  };
}

async function openPlain(Plain: WebSocketConstructor, url: string, protocol: string, signal: AbortSignal | undefined, opts: ChannelOptions): Promise<MessageChannel> {
  const ws = new Plain(url, [protocol]);
  ws.binaryType = "arraybuffer";
  const queue: Uint8Array[] = [];
  let queued = 0;
  let waiter: ((m: Uint8Array | undefined) => void) | undefined;
  let failure: ConnectError | undefined;
  let done = false;
  let settleClose!: (c: CloseInfo) => void;
  const closeInfo = new Promise<CloseInfo>((resolve) => (settleClose = resolve));
  const wake = () => {
    const w = waiter;
    if (w === undefined) return;
    waiter = undefined;
    const m = queue.shift();
    if (m !== undefined) queued -= m.byteLength;
    w(m);
  };
  await new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      ws.close(1000, "cancelled");
      reject(new ConnectError("the call was cancelled before its WebSocket opened", Code.Canceled));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    ws.onopen = () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    };
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      signal?.removeEventListener("abort", onAbort);
      done = true;
      settleClose({ code: ev.code, reason: ev.reason });
      reject(unavailable(url, `closed with ${ev.code}${ev.reason ? ` ${ev.reason}` : ""} before it opened (refused, or the server is down)`));
      wake();
    };
  });
  ws.onmessage = (ev) => {
    if (failure !== undefined) return;
    const data = ev.data;
    if (typeof data === "string") {
      failure = new ConnectError("the server sent a text message", Code.Internal);
      ws.close(1003, "text message");
      return;
    }
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array);
    queue.push(bytes);
    queued += bytes.byteLength;
    if (queued > opts.receiveBufferBytes) {
      failure = new ConnectError(`more than ${opts.receiveBufferBytes} bytes of responses arrived that the application has not read (receiveBufferBytes)`, Code.ResourceExhausted);
      ws.close(1000, "the client fell behind");
    }
    wake();
  };
  ws.onclose = (ev) => {
    done = true;
    settleClose({ code: ev.code, reason: ev.reason });
    wake();
  };
  return {
    async send(data) {
      if (done) return;
      ws.send(data);
      // The WebSocket API has no drain event: look again until the socket took enough.
      for (let delay = 1; ws.bufferedAmount > opts.sendBufferBytes && !done; delay = Math.min(delay * 2, 50)) {
        await new Promise((r) => setTimeout(r, delay));
      }
    },
    next() {
      if (failure !== undefined) return Promise.reject(failure);
      const m = queue.shift();
      if (m !== undefined) {
        queued -= m.byteLength;
        return Promise.resolve(m);
      }
      if (done) return Promise.resolve(undefined);
      return new Promise((resolve, reject) => {
        waiter = (v) => (failure !== undefined ? reject(failure) : resolve(v));
      });
    },
    closeInfo,
    close(code, reason) {
      done = true;
      ws.close(code, reason);
    },
  };
}
