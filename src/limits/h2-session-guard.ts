import http2 from "node:http2";
import type { Socket } from "node:net";
import type { Logger } from "pino";
import { sluiceError } from "../errors.js";
import type { LimitStats } from "./limit-stats.js";
import { TokenBucket } from "./token-bucket.js";

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

export interface H2GuardOptions {
  /** Stream slots per connection (the SETTINGS_MAX_CONCURRENT_STREAMS advertised). */
  maxStreams: number;
  /** Resets (by the client, or refusals by us) a connection may accumulate at once… */
  maxResets: number;
  /** …and regain per second. */
  maxResetsPerSecond: number;
  /** With open streams, a PING this often; one still unanswered at the next closes the connection. 0: no pings. */
  keepAliveMs: number;
}

const guards = new WeakMap<http2.Http2Session, H2SessionGuard>();

/**
 * The protections of one HTTP/2 connection that nghttp2 does not give:
 *
 * - Stream slots. A slot is taken when a stream opens and given back only
 *   once the stream has closed and the call engine has released it (its
 *   handler has returned). A client that resets streams therefore cannot
 *   have more handlers running than maxStreams; past it, a new stream is
 *   refused with REFUSED_STREAM (retryable) before any work is done.
 * - Reset floods (Rapid Reset, CVE-2023-44487). Streams the client resets
 *   before their response ended, and streams refused, drain a token bucket;
 *   when it is empty the connection gets GOAWAY(ENHANCE_YOUR_CALM) and its
 *   socket is closed at once, so no more of its frames are read.
 * - Keepalive. While streams are open, a PING every keepAliveMs; a peer that
 *   has not answered the previous one by then is gone, and the connection is
 *   closed so its streams stop holding slots and handlers.
 */
export class H2SessionGuard {
  /** Slots in use. */
  open = 0;
  /** Resets and refusals counted on this connection. */
  resets = 0;
  readonly #session: http2.ServerHttp2Session;
  /** The connection's own socket (session.socket is a proxy that may not be paused or ended). */
  readonly #socket: Socket | undefined;
  readonly #options: H2GuardOptions;
  readonly #stats: LimitStats;
  readonly #log: Logger;
  readonly #bucket: TokenBucket;
  #timer: NodeJS.Timeout | undefined;
  #pingOutstanding = false;
  #flooded = false;

  private constructor(session: http2.ServerHttp2Session, socket: Socket | undefined, options: H2GuardOptions, stats: LimitStats, log: Logger) {
    this.#session = session;
    this.#socket = socket;
    this.#options = options;
    this.#stats = stats;
    this.#log = log;
    this.#bucket = new TokenBucket(options.maxResetsPerSecond, options.maxResets, performance.now());
    if (options.keepAliveMs > 0) {
      this.#timer = setInterval(() => this.#keepAlive(), options.keepAliveMs);
      this.#timer.unref();
    }
    session.once("close", () => clearInterval(this.#timer));
  }

  /** Guards a new session; `socket` is the connection it was made on. */
  static attach(session: http2.ServerHttp2Session, socket: Socket | undefined, options: H2GuardOptions, stats: LimitStats, log: Logger): H2SessionGuard {
    const guard = new H2SessionGuard(session, socket, options, stats, log);
    guards.set(session, guard);
    return guard;
  }

  /** The guard of the session a stream belongs to (undefined once the session is gone). */
  static of(stream: http2.ServerHttp2Stream): H2SessionGuard | undefined {
    const session = stream.session;
    return session === undefined ? undefined : guards.get(session);
  }

  /** A new stream: takes a slot, or refuses it with REFUSED_STREAM (false). */
  takeSlot(stream: http2.ServerHttp2Stream): boolean {
    if (this.open < this.#options.maxStreams) {
      this.open++;
      return true;
    }
    this.#stats.count("http2RefusedStream");
    stream.close(NGHTTP2_REFUSED_STREAM);
    this.onReset();
    return false;
  }

  releaseSlot(): void {
    this.open--;
  }

  /** A stream the client reset before its response ended, or one we refused. */
  onReset(): void {
    this.resets++;
    if (this.#flooded || this.#bucket.take(performance.now()) === 0) return;
    this.#flooded = true;
    this.#stats.count("http2ResetFlood");
    const session = this.#session;
    const address = session.socket?.remoteAddress ?? "(unknown)";
    const e = sluiceError("SLUICE_HTTP2_RESET_FLOOD", { address, resets: this.resets, perSecond: this.#options.maxResetsPerSecond });
    this.#log.warn({ code: e.code, address, resets: this.resets }, e.message);
    const socket = this.#socket;
    if (socket === undefined) return closeNow(session, NGHTTP2_ENHANCE_YOUR_CALM);
    // Nothing more of the peer's is read from now on. The GOAWAY goes out,
    // then FIN: a plain destroy would reset the connection with the peer's
    // unread frames in our buffers, and a reset makes the peer drop the
    // GOAWAY unread.
    socket.pause();
    try {
      session.goaway(NGHTTP2_ENHANCE_YOUR_CALM);
    } catch {
      // Already closing.
    }
    setImmediate(() => socket.end());
    setTimeout(() => {
      socket.destroy();
      if (!session.destroyed) session.destroy();
    }, 1000).unref();
  }

  #keepAlive(): void {
    const session = this.#session;
    if (session.destroyed || this.open === 0) {
      this.#pingOutstanding = false;
      return;
    }
    if (this.#pingOutstanding) {
      this.#stats.count("http2PingTimeout");
      closeNow(session, http2.constants.NGHTTP2_NO_ERROR);
      return;
    }
    this.#pingOutstanding = true;
    try {
      session.ping(() => {
        this.#pingOutstanding = false;
      });
    } catch {
      // Too many pings outstanding or the session is closing: the next tick decides.
    }
  }
}

/** GOAWAY with `code`, then the session and its socket are destroyed: nothing more of the peer's is read. */
function closeNow(session: http2.ServerHttp2Session, code: number): void {
  if (session.destroyed) return;
  try {
    session.goaway(code);
  } catch {
    // Already closing.
  }
  // The GOAWAY is queued in nghttp2 and flushed as the session is destroyed.
  session.destroy();
}
