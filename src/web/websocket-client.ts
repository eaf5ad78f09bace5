// Runs in browsers: no Node APIs here.
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalClientFn } from "@connectrpc/connect/protocol";
import { openChannel, type ChannelOptions, type CloseInfo, type MessageChannel } from "./message-channel.js";

/** The sub-protocol Sluice (and improbable-eng's grpcwebproxy) serve gRPC-Web calls on. */
const protocol = "grpc-websockets";
const endOfStream = new Uint8Array([1]);
/** A header frame larger than this is refused rather than buffered. */
const maxHeaderFrameBytes = 1024 * 1024;
const trailerFlag = 0x80;

/**
 * An HTTP client for Connect-ES's gRPC-Web protocol that carries each call
 * on its own WebSocket (sub-protocol grpc-websockets), so both directions
 * stream at once, which fetch cannot do in browsers:
 *
 * - first message: the request headers, "name: value\r\n" lines;
 * - each request chunk (gRPC-Web frames): 0x00 then the bytes;
 * - the end of the request: the one byte 0x01;
 * - from the server: a header frame (flag 0x80, read here as the response
 *   headers), then the gRPC-Web response body, trailer frame included,
 *   which Connect-ES reads as it would over HTTP; then a close.
 *
 * Cancelling the call (its signal) closes the WebSocket, which the server
 * takes as the client going away.
 */
export function createWebSocketClient(opts: ChannelOptions): UniversalClientFn {
  return async (req) => {
    const url = webSocketUrl(req.url);
    const channel = await openChannel(url, protocol, req.signal, opts);
    const signal = req.signal;
    const cancel = () => channel.close(1000, "cancelled");
    if (signal?.aborted) cancel();
    signal?.addEventListener("abort", cancel, { once: true });
    void channel.closeInfo.then(() => signal?.removeEventListener("abort", cancel));
    await channel.send(encodeHeaderBlock(req.header));
    void sendBody(channel, req.body);
    const head = await readHeaderFrame(channel);
    return { status: 200, header: head.header, body: readBody(channel, head.rest), trailer: new Headers() };
  };
}

function webSocketUrl(url: string): string {
  if (url.startsWith("https://")) return `wss://${url.slice(8)}`;
  if (url.startsWith("http://")) return `ws://${url.slice(7)}`;
  return url;
}

function encodeHeaderBlock(header: Headers): Uint8Array {
  let text = "";
  header.forEach((value, name) => (text += `${name}: ${value}\r\n`));
  return new TextEncoder().encode(text);
}

/** The request body, message by message, then the end-of-stream byte; a failure cuts the call. */
async function sendBody(channel: MessageChannel, body: AsyncIterable<Uint8Array> | undefined): Promise<void> {
  try {
    if (body !== undefined) {
      for await (const chunk of body) {
        const message = new Uint8Array(chunk.byteLength + 1);
        message.set(chunk, 1);
        await channel.send(message);
      }
    }
    await channel.send(endOfStream);
  } catch {
    channel.close(1000, "the request could not be sent");
  }
}

/** Reads messages until the header frame is whole; returns the headers and the bytes after it. */
async function readHeaderFrame(channel: MessageChannel): Promise<{ header: Headers; rest: Uint8Array }> {
  let buf: Uint8Array = new Uint8Array(0);
  for (;;) {
    const m = await channel.next();
    if (m === undefined) throw closedEarly(await channel.closeInfo, "before the response headers");
    buf = concat(buf, m);
    if (buf.byteLength < 5) continue;
    if ((buf[0]! & trailerFlag) === 0) throw new ConnectError("protocol error: the response did not start with a header frame", Code.Internal);
    const length = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(1);
    if (length > maxHeaderFrameBytes) throw new ConnectError(`protocol error: a header frame of ${length} bytes`, Code.Internal);
    if (buf.byteLength < 5 + length) continue;
    return { header: parseHeaderFrame(buf.subarray(5, 5 + length)), rest: buf.subarray(5 + length) };
  }
}

/**
 * The response body after the header frame, as the server sent it. It ends
 * when the WebSocket closes; closing before a trailer frame ended is an
 * error with the close code (1001 from a server shutting down, 1006 when
 * the connection dropped).
 */
async function* readBody(channel: MessageChannel, first: Uint8Array): AsyncGenerator<Uint8Array> {
  const frames = new TrailerWatch();
  try {
    if (first.byteLength > 0) {
      frames.push(first);
      yield first;
    }
    for (let m = await channel.next(); m !== undefined; m = await channel.next()) {
      frames.push(m);
      yield m;
    }
  } finally {
    // The application stopped reading (or the call ended): the socket goes.
    channel.close(1000, "");
  }
  if (!frames.sawTrailer) throw closedEarly(await channel.closeInfo, "before the call's status");
}

function closedEarly(info: CloseInfo, when: string): ConnectError {
  const code = [1001, 1006, 1012, 1013, 1014].includes(info.code) ? Code.Unavailable : info.code === 1000 || info.code === 1005 ? Code.Unknown : Code.Internal;
  return new ConnectError(`the WebSocket closed ${when} (close code ${info.code}${info.reason ? `: ${info.reason}` : ""})`, code);
}

/** Follows gRPC-Web frames through the body, however it is split, to see a trailer frame end. */
class TrailerWatch {
  sawTrailer = false;
  #head = new Uint8Array(5);
  #headLength = 0;
  #left = 0;
  #flags = 0;

  push(bytes: Uint8Array): void {
    let i = 0;
    while (i < bytes.byteLength) {
      if (this.#left > 0) {
        const take = Math.min(this.#left, bytes.byteLength - i);
        this.#left -= take;
        i += take;
        if (this.#left === 0) this.#frameEnd();
        continue;
      }
      this.#head[this.#headLength++] = bytes[i++]!;
      if (this.#headLength < 5) continue;
      this.#headLength = 0;
      this.#flags = this.#head[0]!;
      this.#left = new DataView(this.#head.buffer).getUint32(1);
      if (this.#left === 0) this.#frameEnd();
    }
  }

  #frameEnd(): void {
    if ((this.#flags & trailerFlag) !== 0) this.sawTrailer = true;
  }
}

function parseHeaderFrame(bytes: Uint8Array): Headers {
  const header = new Headers();
  for (const line of new TextDecoder().decode(bytes).split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) header.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return header;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.byteLength === 0) return b;
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}
