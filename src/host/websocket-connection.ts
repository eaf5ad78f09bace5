import type { Socket } from "node:net";
import { FrameReader, opcode, type FrameProblem, type FrameSink } from "../protocol/websocket/frame-reader.js";
import { closeFrame, encodeFrame, frameHeader, parseClose } from "../protocol/websocket/frame-writer.js";

/** Above this many bytes queued on the socket, send() says to wait for onDrain. */
export const sendHighWaterBytes = 64 * 1024;

/** How long a close we sent waits for the client's before the socket is cut. */
const closeTimeoutMs = 5_000;
/** A client that has not taken the end of its response this long after the call ended is cut. */
const closeDeadlineMs = 60_000;

/** What the owner of a connection hears from it. */
export interface ConnectionEvents {
  messageStart(binary: boolean): void;
  messageData(data: Uint8Array): void;
  messageEnd(): void;
  /**
   * The connection is over, once: `code` is the client's close code (1005
   * when its close frame had none), or undefined when the socket ended
   * without one (the client vanished, or the server cut it).
   */
  closed(code: number | undefined): void;
  /** The client broke the framing; the connection is being closed with `problem.closeCode`. */
  protocolError(problem: FrameProblem): void;
}

/**
 * The server side of one WebSocket (RFC 6455), on the socket an HTTP/1.1
 * upgrade handed over: frames in (FrameReader), binary messages out, the
 * ping/pong and close handshakes, and the flow control the RPC engine needs:
 * `pause` stops reading the socket (the client's TCP window then fills, and
 * a browser's WebSocket.bufferedAmount grows), and `send` returns false past
 * `sendHighWaterBytes` queued, until `onDrain`.
 *
 * Keepalive: with `pingIntervalMs`, a ping goes out that often; a client
 * that sent nothing (not even a pong) for a whole interval, while nothing
 * was waiting to be sent to it and its socket was being read, is taken for
 * gone and the socket is cut.
 */
export class WebSocketConnection implements FrameSink {
  readonly #socket: Socket;
  readonly #events: ConnectionEvents;
  readonly #reader = new FrameReader();
  #closeSent = false;
  #closeReceived = false;
  #over = false;
  #awaitingClose = false;
  #closeTimer: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #heard = true;
  #paused = false;

  constructor(socket: Socket, head: Buffer, events: ConnectionEvents, opts: { pingIntervalMs: number }) {
    this.#socket = socket;
    this.#events = events;
    socket.setNoDelay(true);
    socket.setTimeout(0);
    socket.on("data", this.#onData);
    socket.on("error", () => socket.destroy());
    socket.once("close", () => this.#finish(undefined));
    if (opts.pingIntervalMs > 0) {
      this.#pingTimer = setInterval(() => this.#ping(), opts.pingIntervalMs);
      this.#pingTimer.unref();
    }
    if (head.byteLength > 0) this.#onData(Buffer.from(head));
  }

  /** True once the connection can carry nothing more (a close was sent or received, or the socket ended). */
  get closing(): boolean {
    return this.#closeSent || this.#closeReceived || this.#over;
  }

  /** Bytes queued on the socket, not yet taken by the network. */
  get bufferedAmount(): number {
    return this.#socket.writableLength;
  }

  /** Sends one binary message; false when the caller should wait for onDrain before the next. */
  send(data: Uint8Array): boolean {
    if (this.closing) return true;
    const socket = this.#socket;
    if (data.byteLength <= 1024) {
      socket.write(encodeFrame(opcode.binary, data));
    } else {
      // A large payload goes as it is, after its own header, instead of being copied.
      socket.cork();
      socket.write(frameHeader(opcode.binary, data.byteLength));
      socket.write(data);
      socket.uncork();
    }
    return socket.writableLength < sendHighWaterBytes;
  }

  /** Calls `cb` once the socket has taken what was queued, or the connection is over. */
  onDrain(cb: () => void): void {
    const socket = this.#socket;
    if (this.#over || socket.writableLength === 0) return cb();
    const done = () => {
      socket.off("drain", done);
      socket.off("close", done);
      cb();
    };
    socket.on("drain", done);
    socket.on("close", done);
  }

  /** Stops reading the socket (flow control). */
  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#socket.pause();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#socket.resume();
  }

  /**
   * Starts the closing handshake with `code`: after what was sent, a close
   * frame; the socket ends when the client answers with its own, or a few
   * seconds after everything queued was taken if it does not (a client that
   * reads slowly still gets the whole response and the close, if it takes
   * it within a minute).
   */
  close(code: number, reason = ""): void {
    if (this.#over) return;
    this.resume();
    const socket = this.#socket;
    if (!this.#closeSent) {
      this.#closeSent = true;
      socket.write(closeFrame(code, reason));
    }
    if (this.#closeReceived) {
      socket.end();
      return;
    }
    if (this.#awaitingClose) return;
    this.#awaitingClose = true;
    const wait = () => {
      clearTimeout(this.#closeTimer);
      this.#closeTimer = setTimeout(() => socket.destroy(), closeTimeoutMs);
      this.#closeTimer.unref();
    };
    if (socket.writableLength === 0) return wait();
    socket.once("drain", wait);
    // A client that stopped reading altogether must not hold the socket and its buffers for ever.
    this.#closeTimer = setTimeout(() => socket.destroy(), closeDeadlineMs);
    this.#closeTimer.unref();
  }

  /** Cuts the connection now, without a close handshake. */
  destroy(): void {
    this.#socket.destroy();
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#heard = true;
    const problem = this.#reader.push(chunk, this);
    if (problem === undefined) return;
    this.#socket.off("data", this.#onData);
    this.#events.protocolError(problem);
    this.close(problem.closeCode, problem.reason);
  };

  // --- FrameSink ---------------------------------------------------------

  messageStart(binary: boolean): void {
    if (!this.#closeReceived) this.#events.messageStart(binary);
  }

  messageData(data: Uint8Array): void {
    if (!this.#closeReceived) this.#events.messageData(data);
  }

  messageEnd(): void {
    if (!this.#closeReceived) this.#events.messageEnd();
  }

  control(code: number, payload: Uint8Array): void {
    if (code === opcode.ping) {
      if (!this.closing) this.#socket.write(encodeFrame(opcode.pong, payload));
      return;
    }
    if (code === opcode.pong) return;
    // A close: answer it (unless ours already went), then the socket ends.
    if (this.#closeReceived) return;
    this.#closeReceived = true;
    const parsed = parseClose(payload);
    if ("problem" in parsed) {
      this.#events.protocolError({ closeCode: 1002, reason: parsed.problem });
      if (!this.#closeSent) {
        this.#closeSent = true;
        this.#socket.write(closeFrame(1002, parsed.problem));
      }
    } else if (!this.#closeSent) {
      this.#closeSent = true;
      this.#socket.write(closeFrame(parsed.code ?? 1000, ""));
    }
    this.#socket.end();
    this.#finish("problem" in parsed ? undefined : (parsed.code ?? 1005));
  }

  #ping(): void {
    if (this.closing) return;
    // Only a connection idle both ways can be judged: a paused socket is
    // not read (its pongs cannot be seen), and one with output queued has a
    // client that reads slowly, which is flow control's business.
    if (!this.#heard && !this.#paused && this.#socket.writableLength === 0) {
      this.#socket.destroy();
      return;
    }
    this.#heard = false;
    this.#socket.write(encodeFrame(opcode.ping, emptyPayload));
  }

  #finish(code: number | undefined): void {
    if (this.#over) return;
    this.#over = true;
    clearTimeout(this.#closeTimer);
    clearInterval(this.#pingTimer);
    this.#events.closed(code);
  }
}

const emptyPayload = new Uint8Array(0);
