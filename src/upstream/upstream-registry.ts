import { readFileSync } from "node:fs";
import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { LRUCache } from "lru-cache";
import { sluiceError } from "../errors.js";
import type { Endpoint } from "./endpoint.js";
import { EndpointPool } from "./endpoint-pool.js";
import { systemLookup, type LookupFn } from "./resolve-endpoints.js";
import type { ConnectionSettings } from "./upstream-connection.js";
import { createUpstreamClient, type UpstreamPropagation } from "./upstream-client.js";
import type { UpstreamConfig } from "./upstream-config.js";
import { Upstream, type PoolSource, type UpstreamState } from "./upstream.js";

export interface UpstreamRegistryOptions {
  /** Endpoint pools kept at once (config upstreamMaxPools); the least recently used beyond it is drained. */
  maxPools?: number;
  /** Resolves host names for discovery "dns" (default: the system resolver). */
  lookup?: LookupFn;
}

/**
 * The gateway's upstreams, made from the `upstreams` config. Every
 * endpoint's pool (its connections and its health) lives in one LRU cache
 * with a bound, as functions choose upstreams at run time and DNS may bring
 * new addresses: a pool pushed out of the cache, or whose address left DNS,
 * is drained: it takes no new calls, and its connections close once the
 * calls in flight on them have finished.
 */
export class UpstreamRegistry {
  private readonly upstreams = new Map<string, Upstream>();
  private readonly pools: LRUCache<string, EndpointPool>;
  private readonly tls = new Map<string, ConnectionSettings["tls"]>();
  private readonly draining = new Set<EndpointPool>();
  private closed = false;

  /** Throws SLUICE_TLS_FILE_UNREADABLE when a TLS file of an upstream cannot be read. */
  constructor(
    private readonly configs: Record<string, UpstreamConfig>,
    opts: UpstreamRegistryOptions = {},
  ) {
    this.pools = new LRUCache<string, EndpointPool>({
      max: opts.maxPools ?? 1024,
      dispose: (pool) => this.drain(pool),
    });
    for (const config of Object.values(configs)) {
      if (config.tls !== undefined) this.tls.set(config.name, readTls(config));
    }
    const source: PoolSource = {
      get: (upstream, endpoint) => {
        const key = poolKey(upstream, endpoint);
        let pool = this.pools.get(key);
        if (pool === undefined) {
          pool = new EndpointPool(upstream.config, endpoint, this.tls.get(upstream.name), {
            onConnectFailure: () => void (upstream.counters.connectFailures += 1),
            onEjected: () => void (upstream.counters.ejections += 1),
          });
          if (!this.closed) this.pools.set(key, pool);
          else this.drain(pool);
        }
        return pool;
      },
      peek: (upstream, endpoint) => this.pools.peek(poolKey(upstream, endpoint)),
      remove: (upstream, endpoints) => {
        for (const e of endpoints) this.pools.delete(poolKey(upstream, e));
      },
    };
    for (const config of Object.values(configs)) {
      this.upstreams.set(config.name, new Upstream(config, source, opts.lookup ?? systemLookup));
    }
  }

  /** The upstream configured as `name`; throws SLUICE_UPSTREAM_UNKNOWN when there is none. */
  get(name: string): Upstream {
    const upstream = this.upstreams.get(name);
    if (upstream === undefined) throw sluiceError("SLUICE_UPSTREAM_UNKNOWN", { name, known: [...this.upstreams.keys()] });
    return upstream;
  }

  has(name: string): boolean {
    return this.upstreams.has(name);
  }

  names(): string[] {
    return [...this.upstreams.keys()];
  }

  /**
   * A typed client for `service` on the upstream `name` (see
   * createUpstreamClient); throws SLUICE_UPSTREAM_UNKNOWN for an unknown name.
   */
  client<T extends DescService>(service: T, name: string, propagation: UpstreamPropagation = {}): Client<T> {
    return createUpstreamClient(this.get(name), service, propagation);
  }

  /** Every upstream's state, by name. */
  state(): Record<string, UpstreamState> {
    return Object.fromEntries([...this.upstreams].map(([name, u]) => [name, u.state()]));
  }

  /** Endpoint pools in the cache now. */
  poolCount(): number {
    return this.pools.size;
  }

  /**
   * Drains every pool (calls in flight finish, nothing new is sent) and
   * resolves once every connection has closed, or after `timeoutMs`, when the
   * rest are closed at once.
   */
  async close(timeoutMs = 30_000): Promise<void> {
    this.closed = true;
    for (const u of this.upstreams.values()) u.close();
    this.pools.clear();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.draining].map((p) => p.closed)),
      new Promise((r) => (timer = setTimeout(r, timeoutMs))),
    ]);
    clearTimeout(timer);
    for (const pool of this.draining) pool.destroy();
  }

  private drain(pool: EndpointPool): void {
    this.draining.add(pool);
    pool.drain();
    void pool.closed.then(() => this.draining.delete(pool));
  }
}

function poolKey(upstream: Upstream, endpoint: Endpoint): string {
  return `${upstream.name}\n${endpoint.address}`;
}

function readTls(config: UpstreamConfig): ConnectionSettings["tls"] {
  const tls = config.tls!;
  const read = (key: "ca" | "cert" | "key") => {
    const file = tls[key];
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (e) {
      throw sluiceError("SLUICE_TLS_FILE_UNREADABLE", { key: `upstreams.${config.name}.tls.${key}`, file, reason: e instanceof Error ? e.message : String(e) });
    }
  };
  const ca = read("ca");
  const cert = read("cert");
  const key = read("key");
  return {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(tls.serverName !== undefined ? { serverName: tls.serverName } : {}),
  };
}
