import type http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { rpcError } from "../errors.js";
import type { UpstreamStats } from "../observe/upstream-stats.js";
import type { Endpoint } from "./endpoint.js";
import type { UpstreamConnection } from "./upstream-connection.js";
import type { EndpointPool, EndpointState } from "./endpoint-pool.js";
import { notProcessed, wasNotProcessed } from "./not-processed.js";
import { pickEndpoint } from "./pick-endpoint.js";
import { EndpointResolver } from "./resolve-endpoints.js";
import { RetryBudget } from "./retry-budget.js";
import { trackStream } from "./stream-outcome.js";
import { codeName, type UpstreamConfig, type UpstreamProtocol } from "./upstream-config.js";

export interface OpenStreamOptions {
  /** Cancels the stream (RST_STREAM CANCEL), or the wait for one. */
  signal?: AbortSignal;
  /**
   * Absolute deadline, ms since epoch (Date.now()). Bounds the wait for a
   * connection, is sent as the protocol's timeout header, and cancels the
   * stream when it passes.
   */
  deadline?: number;
  /** Endpoint addresses to stay away from when there is another (those that failed this call). */
  avoid?: ReadonlySet<string>;
}

/** Operators' view of one upstream (for /readyz detail and metrics). */
export interface UpstreamState {
  name: string;
  protocol: UpstreamProtocol;
  discovery: "static" | "dns";
  /** With discovery dns: when the name was last resolved, and the last resolution error. */
  resolvedAt?: string;
  resolveError?: string;
  /** Whether a call now would find an endpoint that is not ejected. */
  available: boolean;
  endpoints: EndpointState[];
  activeStreams: number;
  queued: number;
  connections: number;
  /** Since start: calls (first attempts), retries, retries the budget refused, failed connects, ejections. */
  calls: number;
  retries: number;
  retriesThrottled: number;
  connectFailures: number;
  ejections: number;
  retryPolicy: { maxAttempts: number; retryableCodes: string[] };
}

/** How an Upstream reaches the shared, bounded pool cache (upstream-registry.ts). */
export interface PoolSource {
  /** The pool of `endpoint`, created on first use. */
  get(upstream: Upstream, endpoint: Endpoint): EndpointPool;
  /** The pool of `endpoint` if cached, without touching its recency. */
  peek(upstream: Upstream, endpoint: Endpoint): EndpointPool | undefined;
  /** Drains and forgets the pools of endpoints that left DNS. */
  remove(upstream: Upstream, endpoints: Endpoint[]): void;
}

/** Headers that belong to one hop (HTTP/1.1 or the client's HTTP/2 connection) and are illegal or wrong on the upstream's. */
const hopByHop = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "http2-settings"]);

/**
 * One configured upstream: its endpoints, balancing between them, its
 * retry budget and counters. Streams are opened on the endpoints' pools.
 */
export class Upstream {
  readonly name: string;
  readonly budget: RetryBudget;
  readonly counters = { calls: 0, retries: 0, retriesThrottled: 0, connectFailures: 0, ejections: 0 };
  /** Latency and outcomes of calls to it, while metrics are on. */
  stats: UpstreamStats | undefined = undefined;
  private readonly resolver: EndpointResolver;

  constructor(
    readonly config: UpstreamConfig,
    private readonly pools: PoolSource,
    lookup: ConstructorParameters<typeof EndpointResolver>[1],
  ) {
    this.name = config.name;
    this.budget = new RetryBudget(config.retry.budgetPercent, config.retry.budgetMinPerSecond);
    this.resolver = new EndpointResolver(config, lookup, (gone) => this.pools.remove(this, gone));
  }

  /**
   * Opens an HTTP/2 stream to one of the upstream's endpoints, on a pooled
   * connection. `headers` must have `:path`; `:method` defaults to POST,
   * `:authority` and `:scheme` are the endpoint's, hop-by-hop headers are
   * dropped, gRPC gets `te: trailers`, and with a deadline the protocol's
   * timeout header says the time left. No retries (see call()), but a call
   * that could not be sent to one endpoint (failed connect) goes to another.
   *
   * Rejects with a ConnectError: UNAVAILABLE when no endpoint can be
   * reached, RESOURCE_EXHAUSTED when the pool's queue is full or timed out,
   * DEADLINE_EXCEEDED, or the signal's reason. A stream that then fails can
   * be explained with streamFailure(stream).
   */
  async openStream(headers: http2.OutgoingHttpHeaders, opts: OpenStreamOptions = {}): Promise<http2.ClientHttp2Stream> {
    const avoid = new Set<EndpointPool>();
    for (let tries = 0; ; tries++) {
      if (opts.signal?.aborted) throw ConnectError.from(opts.signal.reason, Code.Canceled);
      if (opts.deadline !== undefined && opts.deadline <= Date.now()) {
        throw rpcError("SLUICE_UPSTREAM_DEADLINE_EXCEEDED", Code.DeadlineExceeded, { upstream: this.name, endpoint: "no endpoint chosen yet", stage: "choosing an endpoint" });
      }
      const found = this.resolver.current();
      const endpoints = Array.isArray(found) ? found : await found;
      const pools = this.#poolsOf(endpoints);
      const available = pools.filter((p) => p.available());
      if (available.length === 0) throw this.noHealthyEndpoint(pools);
      if (opts.avoid !== undefined) for (const p of available) if (opts.avoid.has(p.endpoint.address)) avoid.add(p);
      const pool = pickEndpoint(available, avoid)!;
      let conn;
      try {
        conn = await pool.acquire(opts);
      } catch (e) {
        // A call that was never sent may go to another endpoint, once per endpoint.
        avoid.add(pool);
        if (wasNotProcessed(e) && tries < pools.length && available.some((p) => !avoid.has(p))) continue;
        throw e;
      }
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.#open(conn, pool, headers, opts);
      } catch (e) {
        if (tries < pools.length + 2) continue;
        throw rpcError("SLUICE_UPSTREAM_CONNECTION_LOST", Code.Unavailable, { upstream: this.name, endpoint: pool.endpoint.address, reason: e instanceof Error ? e.message : String(e) });
      }
      return stream;
    }
  }

  /**
   * openStream without waiting: the stream when an endpoint's pool has a
   * connection with a free slot now, otherwise undefined, and the caller
   * goes through openStream (which connects, queues, resolves DNS and
   * names every failure). Most calls take this path, with no promise.
   */
  openStreamNow(headers: http2.OutgoingHttpHeaders, opts: OpenStreamOptions = {}): http2.ClientHttp2Stream | undefined {
    if (opts.signal?.aborted || (opts.deadline !== undefined && opts.deadline <= Date.now())) return undefined;
    const known = this.resolver.known();
    if (known.length === 0) return undefined;
    const pools = this.#poolsOf(known);
    let pool: EndpointPool | undefined;
    if (pools.length === 1) {
      pool = pools[0]!.available() ? pools[0] : undefined;
    } else {
      const available = pools.filter((p) => p.available());
      const avoid = opts.avoid === undefined ? undefined : new Set(available.filter((p) => opts.avoid!.has(p.endpoint.address)));
      pool = pickEndpoint(available, avoid);
    }
    const conn = pool?.tryAcquire();
    if (conn === undefined) return undefined;
    try {
      return this.#open(conn, pool!, headers, opts);
    } catch {
      return undefined;
    }
  }

  /** Opens the stream in the slot reserved on `conn`; gives the slot back if the session went away meanwhile. */
  #open(conn: UpstreamConnection, pool: EndpointPool, headers: http2.OutgoingHttpHeaders, opts: OpenStreamOptions): http2.ClientHttp2Stream {
    let stream: http2.ClientHttp2Stream;
    try {
      stream = conn.request(this.requestHeaders(headers, pool.endpoint, opts.deadline));
    } catch (e) {
      // The session went away between the reservation and the request (GOAWAY, death).
      conn.release();
      throw e;
    }
    trackStream(stream, this.name, this.config.protocol, pool, conn, opts);
    return stream;
  }

  #poolsFor: Endpoint[] | undefined;
  #pools: EndpointPool[] = [];
  #poolsAt = 0;

  /**
   * The pools of `endpoints`, kept from call to call while the endpoints
   * stay the same and no pool was drained; asked of the shared pool cache
   * at most once a second, which keeps them recently used there.
   */
  #poolsOf(endpoints: Endpoint[]): EndpointPool[] {
    const now = Date.now();
    let fresh = endpoints === this.#poolsFor && now - this.#poolsAt < 1000;
    if (fresh) for (const p of this.#pools) if (p.isDrained()) fresh = false;
    if (!fresh) {
      this.#pools = endpoints.map((e) => this.pools.get(this, e));
      this.#poolsFor = endpoints;
      this.#poolsAt = now;
    }
    return this.#pools;
  }

  state(): UpstreamState {
    const endpoints = this.resolver.known().map((e) => this.pools.peek(this, e)?.state() ?? idleEndpointState(e, this.config.pingIntervalMs));
    const known = this.resolver.known();
    // Before DNS first answers, nothing is known to be wrong.
    const available = known.length === 0 ? this.resolver.lastError === undefined : known.some((e) => this.pools.peek(this, e)?.available() ?? true);
    const sum = (f: (e: EndpointState) => number) => endpoints.reduce((n, e) => n + f(e), 0);
    return {
      name: this.name,
      protocol: this.config.protocol,
      discovery: this.config.discovery,
      ...(this.resolver.resolvedAt !== undefined ? { resolvedAt: new Date(this.resolver.resolvedAt).toISOString() } : {}),
      ...(this.resolver.lastError !== undefined ? { resolveError: this.resolver.lastError } : {}),
      available,
      endpoints,
      activeStreams: sum((e) => e.activeStreams),
      queued: sum((e) => e.queued),
      connections: sum((e) => e.connections.length),
      ...this.counters,
      retryPolicy: { maxAttempts: this.config.retry.maxAttempts, retryableCodes: this.config.retry.retryableCodes.map(codeName) },
    };
  }

  /** Stops re-resolving DNS; the registry drains the pools. */
  close(): void {
    this.resolver.close();
  }

  private requestHeaders(headers: http2.OutgoingHttpHeaders, endpoint: Endpoint, deadline: number | undefined): http2.OutgoingHttpHeaders {
    const out: http2.OutgoingHttpHeaders = {};
    for (const name in headers) {
      const lower = name.toLowerCase();
      if (hopByHop.has(lower) || lower === "te") continue;
      out[lower] = headers[name];
    }
    out[":method"] ??= "POST";
    out[":authority"] = endpoint.authority;
    out[":scheme"] = endpoint.address.startsWith("https:") ? "https" : "http";
    if (this.config.protocol === "grpc" || headers["te"] === "trailers") out["te"] = "trailers";
    if (deadline !== undefined) {
      const ms = Math.max(1, Math.ceil(deadline - Date.now()));
      if (this.config.protocol === "connect") out["connect-timeout-ms"] = String(Math.min(ms, 9_999_999_999));
      else out["grpc-timeout"] = ms <= 99_999_999 ? `${ms}m` : `${Math.min(Math.ceil(ms / 1000), 99_999_999)}S`;
    }
    return out;
  }

  private noHealthyEndpoint(pools: EndpointPool[]): ConnectError {
    if (pools.length > 0 && pools.every((p) => p.isDrained())) {
      return notProcessed(rpcError("SLUICE_UPSTREAM_CLOSED", Code.Unavailable, { upstream: this.name, endpoint: pools.map((p) => p.endpoint.address).join(", ") }));
    }
    const retryInMs = Math.min(...pools.map((p) => p.state().ejectedForMs ?? 0));
    return rpcError("SLUICE_UPSTREAM_NO_HEALTHY_ENDPOINT", Code.Unavailable, { upstream: this.name, endpoints: pools.map((p) => p.endpoint.address), retryInMs });
  }
}

/** An endpoint whose pool is not in the cache (not used yet, or evicted). */
function idleEndpointState(e: Endpoint, pingIntervalMs: number): EndpointState {
  return {
    address: e.address, health: "healthy", consecutiveFailures: 0, ejections: 0, activeStreams: 0, queued: 0,
    connectFailures: 0, pingIntervalMs, connections: [],
  };
}
