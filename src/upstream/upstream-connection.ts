import http2 from "node:http2";
import net, { isIP } from "node:net";
import tls from "node:tls";
import { Code, type ConnectError } from "@connectrpc/connect";
import { rpcError } from "../errors.js";
import { forgetListeners } from "../rpc/forget-listeners.js";
import type { Endpoint } from "./endpoint.js";

/** session.request() only reads its options. */
const requestOptions = Object.freeze({ endStream: false });

const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

/** What one connection needs from its pool. */
export interface ConnectionSettings {
  upstream: string;
  connectTimeoutMs: number;
  pingTimeoutMs: number;
  idleTimeoutMs: number;
  maxSessionMemoryMiB: number;
  /** Read at every use: the pool doubles it when the upstream complains of too many pings. */
  pingIntervalMs(): number;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; serverName?: string };
}

export interface ConnectionEvents {
  /** The handshake completed: the endpoint is reachable. */
  onReady(conn: UpstreamConnection): void;
  /** The connection can take more streams: it became ready, a PING verified it, or a stream ended. */
  onCapacity(conn: UpstreamConnection): void;
  /**
   * It closed. `failure` is set when the cause counts against the
   * endpoint's health: a failed connect, an unanswered PING, a connection
   * lost while calls were open.
   */
  onClose(conn: UpstreamConnection, failure: ConnectError | undefined, unexpected: boolean): void;
  /** The upstream sent GOAWAY ENHANCE_YOUR_CALM "too_many_pings". */
  onTooManyPings(): void;
}

export type ConnectionState = "connecting" | "ready" | "draining" | "closed";

let nextId = 1;

/**
 * One HTTP/2 connection to an endpoint. It is ready once the upstream's
 * SETTINGS arrive (a socket that accepts TCP but never speaks HTTP/2 is a
 * failed connect, not a connection), never carries more streams than the
 * upstream's SETTINGS_MAX_CONCURRENT_STREAMS, keeps itself alive with PINGs
 * while it has streams (gRPC keepalive), closes itself when idle, and stops
 * taking streams at GOAWAY while the ones in flight finish.
 */
export class UpstreamConnection {
  readonly id = nextId++;
  state: ConnectionState = "connecting";
  /** Streams open, plus slots reserved by the pool for streams about to open. */
  active = 0;
  /** The upstream's SETTINGS_MAX_CONCURRENT_STREAMS. */
  maxStreams = 0;
  /** Whether the handshake ever completed (a connection that never got there is a failed connect). */
  wasReady = false;
  /** Why it ended, when it ended abnormally: what its streams fail with. */
  closeReason: ConnectError | undefined;
  /** Last-Stream-ID of a GOAWAY: streams above it were not processed. */
  goawayLastStreamId: number | undefined;

  private readonly session: http2.ClientHttp2Session;
  private closeHandled = false;
  private lastAliveAt = Date.now();
  private connectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private pingDeadline: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private verifying: Promise<boolean> | undefined;
  private pinging = false;
  private closingOnPurpose = false;
  private lostWithStreams = false;
  private failure: ConnectError | undefined;

  constructor(
    readonly endpoint: Endpoint,
    private readonly settings: ConnectionSettings,
    private readonly events: ConnectionEvents,
  ) {
    this.session = http2.connect(endpoint.address, {
      maxSessionMemory: settings.maxSessionMemoryMiB,
      settings: { enablePush: false },
      // Our own socket: Node can destroy a session whose TLS peer refused it
      // (a missing client certificate) without "error" or "close" on the
      // session, and only the socket tells why.
      createConnection: () => this.connectSocket(),
    });
    this.session.unref();
    this.connectTimer = setTimeout(() => {
      this.fail(rpcError("SLUICE_UPSTREAM_CONNECT_TIMEOUT", Code.Unavailable, { upstream: settings.upstream, endpoint: endpoint.address, ms: settings.connectTimeoutMs }));
    }, settings.connectTimeoutMs).unref();
    this.session.on("remoteSettings", (remote) => this.onRemoteSettings(remote));
    this.session.on("goaway", (code, lastStreamId, data) => this.onGoaway(code, lastStreamId, data));
    // Node destroys the session before it emits "error": keep the reason for "close".
    this.session.on("error", (err: Error) => {
      this.failure ??= this.describe(err);
    });
    this.session.on("close", () => this.onClosed());
  }

  private connectSocket(): net.Socket {
    const url = new URL(this.endpoint.address);
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    const secure = url.protocol === "https:";
    const port = Number(url.port || (secure ? 443 : 80));
    const t = this.settings.tls;
    const servername = t?.serverName ?? this.endpoint.serverName ?? (isIP(host) === 0 ? host : undefined);
    const socket = secure
      ? tls.connect({
          host, port, ALPNProtocols: ["h2"],
          ...(servername !== undefined ? { servername } : {}),
          ...(t?.ca ? { ca: t.ca } : {}),
          ...(t?.cert && t.key ? { cert: t.cert, key: t.key } : {}),
        })
      : net.connect({ host, port });
    if (socket instanceof tls.TLSSocket) {
      socket.once("secureConnect", () => {
        if (socket.alpnProtocol !== "h2") this.fail(this.describe(new Error(`the upstream does not speak HTTP/2 over TLS (ALPN chose ${socket.alpnProtocol || "nothing"})`)));
      });
    }
    socket.on("error", (err) => {
      this.failure ??= this.describe(err);
      if (!this.session.destroyed) this.session.destroy();
      // The session may never emit "close" after this: make sure the pool hears of it.
      setImmediate(() => this.onClosed());
    });
    return socket;
  }

  /** Whether the pool may open a stream on it now. */
  hasCapacity(): boolean {
    return this.state === "ready" && this.active < this.maxStreams && !this.session.destroyed && !this.session.closed;
  }

  /**
   * An idle connection that has shown no sign of life for a PING interval
   * is checked with a PING before it is trusted with a call (as gRPC and
   * Connect do), instead of PINGing idle connections, which servers police.
   */
  needsVerify(): boolean {
    return this.active === 0 && Date.now() - this.lastAliveAt > this.settings.pingIntervalMs();
  }

  /**
   * Sends a PING and holds new streams back until it is answered; resolves
   * true when answered in time (false: the connection is closing).
   */
  verify(): Promise<boolean> {
    this.verifying ??= new Promise<boolean>((resolve) => {
      this.session.ref();
      this.ping(() => {
        this.verifying = undefined;
        if (this.active === 0) this.session.unref();
        resolve(this.state === "ready");
        if (this.state === "ready") this.events.onCapacity(this);
      });
    });
    return this.verifying;
  }

  /** Sends a PING without holding anything back: an unanswered one closes the connection. */
  probe(): void {
    if (this.state === "ready" && !this.pinging) this.ping(() => {});
  }

  isVerifying(): boolean {
    return this.verifying !== undefined;
  }

  /** Opens a stream in a slot the pool reserved (active was already counted). */
  request(headers: http2.OutgoingHttpHeaders): http2.ClientHttp2Stream {
    const stream = this.session.request(headers, requestOptions);
    // Each comes once per stream: plain listeners, no once-wrappers.
    stream.on("response", () => {
      this.lastAliveAt = Date.now();
    });
    stream.on("close", () => {
      this.release();
      // The first 'close' listener: those added after it still run this
      // time. The call's closures must not live as long as the stream.
      forgetListeners(stream);
    });
    return stream;
  }

  /** Counts a slot in; the pool reserves it before the stream opens. */
  reserve(): void {
    this.active += 1;
    if (this.active === 1) {
      clearTimeout(this.idleTimer);
      this.session.ref();
      this.schedulePing();
    }
  }

  /** Gives a slot back: its stream closed, or never opened. */
  release(): void {
    // Node closes a dead session's streams before the session's own "close".
    if (this.session.destroyed && !this.closingOnPurpose) this.lostWithStreams = true;
    this.active -= 1;
    if (this.active === 0) {
      this.session.unref();
      clearTimeout(this.pingTimer);
      this.pingTimer = undefined;
      if (this.state === "ready") this.idleTimer = setTimeout(() => this.close(), this.settings.idleTimeoutMs).unref();
    }
    if (this.state === "draining" && this.active === 0) {
      // After GOAWAY, Node does not always close an idle session by itself.
      this.session.destroy();
      return;
    }
    this.events.onCapacity(this);
  }

  /** Stops taking streams; closes once the open ones have finished. */
  close(): void {
    if (this.state === "closed") return;
    this.closingOnPurpose = true;
    this.state = this.state === "connecting" ? "closed" : "draining";
    if (this.state === "closed" || this.active === 0) this.session.destroy();
    else this.session.close();
  }

  /** Closes the connection now, streams and all (they fail with SLUICE_UPSTREAM_CLOSED). */
  destroy(): void {
    this.closingOnPurpose = true;
    if (this.state === "connecting") this.state = "closed";
    this.fail(rpcError("SLUICE_UPSTREAM_CLOSED", Code.Unavailable, { upstream: this.settings.upstream, endpoint: this.endpoint.address }));
  }

  /**
   * Why a stream that closed without an answer was lost, when it was lost
   * with its connection (undefined while the connection is alive).
   */
  lossReason(): ConnectError | undefined {
    if (!this.session.destroyed) return undefined;
    return this.failure ?? this.closeReason ?? rpcError("SLUICE_UPSTREAM_CONNECTION_LOST", Code.Unavailable, {
      upstream: this.settings.upstream, endpoint: this.endpoint.address, reason: "the upstream closed the connection",
    });
  }

  private onRemoteSettings(remote: http2.Settings): void {
    this.maxStreams = remote.maxConcurrentStreams ?? 2 ** 32 - 1;
    if (this.state !== "connecting") {
      // A later SETTINGS may raise the limit.
      this.events.onCapacity(this);
      return;
    }
    clearTimeout(this.connectTimer);
    this.state = "ready";
    this.lastAliveAt = Date.now();
    if (this.active === 0) this.idleTimer = setTimeout(() => this.close(), this.settings.idleTimeoutMs).unref();
    this.wasReady = true;
    this.events.onReady(this);
    this.events.onCapacity(this);
  }

  private onGoaway(code: number, lastStreamId: number, data: Buffer | undefined): void {
    this.goawayLastStreamId = lastStreamId;
    if (code === NGHTTP2_ENHANCE_YOUR_CALM && data?.toString() === "too_many_pings") this.events.onTooManyPings();
    if (code !== NGHTTP2_NO_ERROR) {
      this.failure ??= rpcError("SLUICE_UPSTREAM_CONNECTION_LOST", Code.Unavailable, {
        upstream: this.settings.upstream, endpoint: this.endpoint.address, reason: `GOAWAY with HTTP/2 error ${h2CodeName(code)}`,
      });
    }
    if (this.state === "ready" || this.state === "connecting") {
      this.state = "draining";
      this.closingOnPurpose = code === NGHTTP2_NO_ERROR;
      if (this.active === 0) this.session.destroy();
    }
  }

  private schedulePing(): void {
    clearTimeout(this.pingTimer);
    if (this.state !== "ready" && this.state !== "draining") return;
    this.pingTimer = setTimeout(() => {
      this.ping(() => {
        if (this.active > 0) this.schedulePing();
      });
    }, this.settings.pingIntervalMs()).unref();
  }

  /** PING with a deadline; an unanswered PING fails the connection. */
  private ping(answered: () => void): void {
    if (this.session.destroyed) return answered();
    clearTimeout(this.pingDeadline);
    this.pinging = true;
    this.pingDeadline = setTimeout(() => {
      this.pinging = false;
      this.fail(rpcError("SLUICE_UPSTREAM_CONNECTION_LOST", Code.Unavailable, {
        upstream: this.settings.upstream, endpoint: this.endpoint.address, reason: `keepalive PING not answered within ${this.settings.pingTimeoutMs} ms`,
      }));
      answered();
    }, this.settings.pingTimeoutMs).unref();
    const sent = this.session.ping((err) => {
      clearTimeout(this.pingDeadline);
      this.pinging = false;
      if (err === null) this.lastAliveAt = Date.now();
      answered();
    });
    if (!sent) {
      // Too many PINGs outstanding: let the pending one decide.
      clearTimeout(this.pingDeadline);
      this.pinging = false;
      answered();
    }
  }

  /** Ends the connection for `reason`, which its open streams and waiters fail with. */
  private fail(reason: ConnectError): void {
    this.failure ??= reason;
    if (this.session.destroyed) {
      setImmediate(() => this.onClosed());
      return;
    }
    // With an error, Node resets the open streams with the code given; without one it
    // would close them with NO_ERROR, as if their responses were complete.
    this.session.destroy(new Error(reason.rawMessage), NGHTTP2_CANCEL);
  }

  private onClosed(): void {
    if (this.closeHandled) return;
    this.closeHandled = true;
    const wasConnecting = this.state === "connecting";
    this.state = "closed";
    clearTimeout(this.connectTimer);
    clearTimeout(this.pingTimer);
    clearTimeout(this.pingDeadline);
    clearTimeout(this.idleTimer);
    let failure = this.failure;
    if (wasConnecting && !this.closingOnPurpose) {
      failure ??= rpcError("SLUICE_UPSTREAM_CONNECT_FAILED", Code.Unavailable, {
        upstream: this.settings.upstream, endpoint: this.endpoint.address, reason: "the connection closed before the HTTP/2 handshake completed",
      });
    } else if (!this.closingOnPurpose && (this.active > 0 || this.lostWithStreams)) {
      failure ??= rpcError("SLUICE_UPSTREAM_CONNECTION_LOST", Code.Unavailable, {
        upstream: this.settings.upstream, endpoint: this.endpoint.address, reason: "the upstream closed the connection",
      });
    }
    this.closeReason = failure ?? rpcError("SLUICE_UPSTREAM_CONNECTION_LOST", Code.Unavailable, {
      upstream: this.settings.upstream, endpoint: this.endpoint.address, reason: "the connection closed",
    });
    this.events.onClose(this, failure, !this.closingOnPurpose);
  }

  /** A connect-time or connection error, named for the upstream and endpoint. */
  private describe(err: Error): ConnectError {
    const reason = describeNodeError(err);
    return this.state === "connecting"
      ? rpcError("SLUICE_UPSTREAM_CONNECT_FAILED", Code.Unavailable, { upstream: this.settings.upstream, endpoint: this.endpoint.address, reason })
      : rpcError("SLUICE_UPSTREAM_CONNECTION_LOST", Code.Unavailable, { upstream: this.settings.upstream, endpoint: this.endpoint.address, reason });
  }
}

/** "connect ECONNREFUSED 127.0.0.1:9" as "ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:9)". */
function describeNodeError(err: Error): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}

const h2CodeNames = Object.fromEntries(
  Object.entries(http2.constants)
    .filter(([k]) => k.startsWith("NGHTTP2_") && /^NGHTTP2_(NO_ERROR|PROTOCOL_ERROR|INTERNAL_ERROR|FLOW_CONTROL_ERROR|SETTINGS_TIMEOUT|STREAM_CLOSED|FRAME_SIZE_ERROR|REFUSED_STREAM|CANCEL|COMPRESSION_ERROR|CONNECT_ERROR|ENHANCE_YOUR_CALM|INADEQUATE_SECURITY|HTTP_1_1_REQUIRED)$/.test(k))
    .map(([k, v]) => [v as number, k.slice("NGHTTP2_".length)]),
) as Record<number, string>;

/** HTTP/2 error code 7 as "REFUSED_STREAM (0x7)". */
export function h2CodeName(code: number): string {
  return `${h2CodeNames[code] ?? "UNKNOWN"} (0x${code.toString(16)})`;
}
