import { Code, ConnectError } from "@connectrpc/connect";
import { rpcError } from "../errors.js";
import type { Endpoint } from "./endpoint.js";
import { EndpointHealth } from "./endpoint-health.js";
import { notProcessed } from "./not-processed.js";
import { UpstreamConnection, type ConnectionSettings, type ConnectionState } from "./upstream-connection.js";
import type { UpstreamConfig } from "./upstream-config.js";

/** What a pool tells its upstream, for the upstream's totals. */
export interface PoolEvents {
  onConnectFailure(): void;
  onEjected(): void;
}

export interface AcquireOptions {
  signal?: AbortSignal;
  /** Absolute deadline, ms since epoch. */
  deadline?: number;
}

interface Waiter {
  resolve(conn: UpstreamConnection): void;
  reject(error: ConnectError): void;
  cleanup(): void;
}

/** A snapshot of one endpoint for operators (Upstream.state()). */
export interface EndpointState {
  address: string;
  health: "healthy" | "ejected" | "probing";
  consecutiveFailures: number;
  /** Ejections in a row (0 when healthy). */
  ejections: number;
  /** Time left of the current ejection, ms. */
  ejectedForMs?: number;
  activeStreams: number;
  queued: number;
  connectFailures: number;
  pingIntervalMs: number;
  connections: { id: number; state: ConnectionState; activeStreams: number; maxConcurrentStreams: number }[];
}

/**
 * The HTTP/2 connections to one endpoint and its health. A stream goes to
 * the ready connection with the fewest open streams, never past the
 * upstream's SETTINGS_MAX_CONCURRENT_STREAMS; when every connection is full
 * another is opened, up to maxConnections, and then calls wait in a bounded
 * queue with a timeout. While the pool is in use it keeps `connections`
 * connections open and replaces lost ones by itself, as soon as the
 * endpoint's health allows.
 */
export class EndpointPool {
  readonly health: EndpointHealth;
  connectFailures = 0;
  private readonly connections: UpstreamConnection[] = [];
  private readonly queue: Waiter[] = [];
  private readonly settings: ConnectionSettings;
  private pingIntervalMs: number;
  private lastUsedAt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private drained = false;
  private resolveClosed!: () => void;
  /** Resolves once the pool has been drained and its last connection has closed. */
  readonly closed = new Promise<void>((resolve) => {
    this.resolveClosed = resolve;
  });

  constructor(
    private readonly config: UpstreamConfig,
    readonly endpoint: Endpoint,
    tls: ConnectionSettings["tls"],
    private readonly events: PoolEvents,
  ) {
    this.health = new EndpointHealth(config.outlier);
    this.pingIntervalMs = config.pingIntervalMs;
    this.settings = {
      upstream: config.name,
      connectTimeoutMs: config.connectTimeoutMs,
      pingTimeoutMs: config.pingTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
      maxSessionMemoryMiB: config.maxSessionMemoryMiB,
      pingIntervalMs: () => this.pingIntervalMs,
      ...(tls ? { tls } : {}),
    };
  }

  /** Streams open and calls waiting: what the balancer compares. */
  load(): number {
    let n = this.queue.length;
    for (const c of this.connections) n += c.active;
    return n;
  }

  consecutiveFailures(): number {
    return this.health.consecutiveFailures();
  }

  /** Whether calls may be sent here now (not ejected, not drained). */
  available(): boolean {
    return !this.drained && this.health.available();
  }

  /**
   * A connection with a stream slot reserved for the caller, who must open
   * the stream on it (conn.request) or give the slot back (conn.release).
   */
  acquire(opts: AcquireOptions = {}): Promise<UpstreamConnection> {
    if (this.drained) return Promise.reject(this.closedError());
    const conn = this.tryAcquire();
    if (conn !== undefined) return Promise.resolve(conn);
    if (opts.signal?.aborted) return Promise.reject(ConnectError.from(opts.signal.reason, Code.Canceled));
    this.grow();
    if (this.queue.length >= this.config.maxQueued) {
      return Promise.reject(rpcError("SLUICE_UPSTREAM_QUEUE_FULL", Code.ResourceExhausted, { upstream: this.config.name, endpoint: this.endpoint.address, max: this.config.maxQueued }));
    }
    return this.enqueue(opts);
  }

  /**
   * acquire() when a connection has a free slot now: the connection, with
   * the slot reserved, or undefined (then acquire() waits for one). No
   * promise: most calls find a slot, and a proxied call is short.
   */
  tryAcquire(): UpstreamConnection | undefined {
    if (this.drained) return undefined;
    this.lastUsedAt = Date.now();
    const conn = this.pickReady();
    if (conn === undefined) return undefined;
    conn.reserve();
    if (this.liveCount() < this.config.connections) this.open();
    return conn;
  }

  /** Counts the outcome of a call that reached the endpoint. */
  reportOutcome(ok: boolean): void {
    if (ok) this.health.recordSuccess();
    else this.recordFailure();
  }

  /**
   * Stops taking calls: waiting calls fail with UNAVAILABLE (they were never
   * sent, so they may be retried elsewhere), connections close once their
   * streams have finished.
   */
  drain(): void {
    if (this.drained) return;
    this.drained = true;
    clearTimeout(this.reconnectTimer);
    for (const w of this.queue.splice(0)) {
      w.cleanup();
      w.reject(this.closedError());
    }
    for (const c of [...this.connections]) c.close();
    if (this.connections.length === 0) this.resolveClosed();
  }

  /** Closes every connection now, with whatever streams are still open on them. */
  destroy(): void {
    this.drain();
    for (const c of [...this.connections]) c.destroy();
  }

  isDrained(): boolean {
    return this.drained;
  }

  state(): EndpointState {
    const health = this.health.status();
    const until = this.health.ejectedUntilMs();
    return {
      address: this.endpoint.address,
      health,
      consecutiveFailures: this.health.consecutiveFailures(),
      ejections: this.health.ejectionCount(),
      ...(until > 0 ? { ejectedForMs: Math.max(0, until - Date.now()) } : {}),
      activeStreams: this.connections.reduce((n, c) => n + c.active, 0),
      queued: this.queue.length,
      connectFailures: this.connectFailures,
      pingIntervalMs: this.pingIntervalMs,
      connections: this.connections.map((c) => ({ id: c.id, state: c.state, activeStreams: c.active, maxConcurrentStreams: c.maxStreams })),
    };
  }

  /** The ready connection with a free slot and the fewest streams; idle ones not heard from lately are verified first. */
  private pickReady(): UpstreamConnection | undefined {
    let best: UpstreamConnection | undefined;
    for (const c of this.connections) {
      if (!c.hasCapacity() || c.isVerifying()) continue;
      if (c.needsVerify()) {
        void c.verify();
        continue;
      }
      if (best === undefined || c.active < best.active) best = c;
    }
    return best;
  }

  /** Whether the pool has no ready connection yet, only ones being made. */
  private onlyConnecting(): boolean {
    return this.connections.some((c) => c.state === "connecting") && !this.connections.some((c) => c.state === "ready");
  }

  /** Connections that take or will take streams (not draining, not closed). */
  private liveCount(): number {
    let n = 0;
    for (const c of this.connections) if (c.state === "connecting" || c.state === "ready") n += 1;
    return n;
  }

  /** Opens connections up to `connections`, and one more when all are full and none is on its way. */
  private grow(): void {
    if (this.drained) return;
    const live = this.liveCount();
    if (live < this.config.connections) {
      this.open();
      return;
    }
    const pending = this.connections.some((c) => c.state === "connecting" || c.isVerifying() || c.hasCapacity());
    if (!pending && live < this.config.maxConnections) this.open();
  }

  private open(): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const conn = new UpstreamConnection(this.endpoint, this.settings, {
      onReady: () => this.health.recordConnectSuccess(),
      onCapacity: () => this.serveQueue(),
      onClose: (c, failure, unexpected) => this.onConnectionClosed(c, failure, unexpected),
      onTooManyPings: () => {
        // gRPC's keepalive proposal (A8): back off instead of being cut off again.
        this.pingIntervalMs = Math.min(this.pingIntervalMs * 2, 86_400_000);
      },
    });
    this.connections.push(conn);
  }

  private onConnectionClosed(conn: UpstreamConnection, failure: ConnectError | undefined, unexpected: boolean): void {
    const i = this.connections.indexOf(conn);
    if (i >= 0) this.connections.splice(i, 1);
    if (this.drained) {
      if (this.connections.length === 0) this.resolveClosed();
      return;
    }
    if (!conn.wasReady && failure !== undefined) {
      this.connectFailures += 1;
      this.events.onConnectFailure();
    }
    if (failure !== undefined) this.recordFailure();
    // Waiting calls fail fast when nothing else can serve them soon.
    if (this.queue.length > 0) {
      const hope = this.connections.some((c) => c.state === "connecting" || c.hasCapacity() || (c.state === "ready" && c.active > 0));
      if (!hope || !this.health.available()) {
        const error = failure ?? conn.closeReason ?? this.closedError();
        for (const w of this.queue.splice(0)) {
          w.cleanup();
          w.reject(notProcessed(new ConnectError(error.rawMessage, error.code)));
        }
      } else {
        this.grow();
      }
    }
    if (unexpected || failure !== undefined) this.scheduleReconnect();
  }

  private recordFailure(): void {
    if (this.health.recordFailure()) this.events.onEjected();
  }

  /**
   * While the pool has been used within idleTimeoutMs, a lost connection is
   * replaced in the background: at once after a clean loss, after the
   * ejection (or a backoff that grows with the failures) after a failure.
   */
  private scheduleReconnect(): void {
    if (this.drained || this.reconnectTimer !== undefined) return;
    if (Date.now() - this.lastUsedAt > this.config.idleTimeoutMs) return;
    if (this.liveCount() >= this.config.connections) return;
    const failures = this.health.consecutiveFailures();
    const until = this.health.ejectedUntilMs();
    const { baseEjectionMs, maxEjectionMs } = this.config.outlier;
    const delay = until > 0
      ? until - Date.now()
      : failures === 0 ? 0 : Math.min(baseEjectionMs * 2 ** (failures - 1), maxEjectionMs);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.drained && this.liveCount() < this.config.connections) this.open();
    }, Math.max(0, delay)).unref();
  }

  private serveQueue(): void {
    while (this.queue.length > 0) {
      const conn = this.pickReady();
      if (conn === undefined) break;
      const w = this.queue.shift()!;
      w.cleanup();
      conn.reserve();
      w.resolve(conn);
    }
    if (this.queue.length > 0) this.grow();
  }

  private enqueue(opts: AcquireOptions): Promise<UpstreamConnection> {
    return new Promise<UpstreamConnection>((resolve, reject) => {
      const now = Date.now();
      const byDeadline = opts.deadline !== undefined && opts.deadline - now < this.config.queueTimeoutMs;
      const waitMs = byDeadline ? Math.max(0, opts.deadline! - now) : this.config.queueTimeoutMs;
      const expire = () => {
        if (!byDeadline && this.onlyConnecting()) {
          // Not a saturated upstream but one still being reached: the connect timeout decides.
          timer = setTimeout(expire, this.config.queueTimeoutMs);
          return;
        }
        remove();
        reject(byDeadline
          ? rpcError("SLUICE_UPSTREAM_DEADLINE_EXCEEDED", Code.DeadlineExceeded, { upstream: this.config.name, endpoint: this.endpoint.address, stage: "waiting for a connection" })
          : rpcError("SLUICE_UPSTREAM_QUEUE_TIMEOUT", Code.ResourceExhausted, { upstream: this.config.name, endpoint: this.endpoint.address, ms: this.config.queueTimeoutMs }));
      };
      let timer = setTimeout(expire, waitMs);
      const onAbort = () => {
        remove();
        reject(ConnectError.from(opts.signal!.reason, Code.Canceled));
      };
      const waiter: Waiter = {
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(timer);
          opts.signal?.removeEventListener("abort", onAbort);
        },
      };
      const remove = () => {
        waiter.cleanup();
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
      };
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  private closedError(): ConnectError {
    return notProcessed(rpcError("SLUICE_UPSTREAM_CLOSED", Code.Unavailable, { upstream: this.config.name, endpoint: this.endpoint.address }));
  }
}
