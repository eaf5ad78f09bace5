import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import { Code, type ConnectError } from "@connectrpc/connect";
import { rpcError } from "../errors.js";
import type { Endpoint } from "./endpoint.js";
import type { UpstreamConfig } from "./upstream-config.js";

/** Resolves a host name to every address it has (getaddrinfo, so /etc/hosts counts). */
export type LookupFn = (hostname: string) => Promise<string[]>;

export const systemLookup: LookupFn = async (hostname) => (await dnsLookup(hostname, { all: true })).map((a) => a.address);

/**
 * The endpoints of one upstream. Static ones are the configured URLs. With
 * discovery "dns", the first call resolves the host name, and it is
 * resolved again every resolveIntervalMs from then on; a failed resolution
 * keeps the last good answer, so a DNS hiccup does not take the upstream down.
 */
export class EndpointResolver {
  private endpoints: Endpoint[] | undefined;
  private pending: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private attemptedAt: number | undefined;
  /** For state(): when the name was last resolved, and the last error. */
  resolvedAt: number | undefined;
  lastError: string | undefined;

  constructor(
    private readonly config: UpstreamConfig,
    private readonly lookup: LookupFn,
    /** Called with the endpoints that a new resolution no longer lists. */
    private readonly onRemoved: (gone: Endpoint[]) => void,
  ) {
    if (config.discovery === "static") {
      this.endpoints = config.endpoints.map((address) => ({ address, authority: new URL(address).host }));
    }
  }

  /** The current endpoints (resolving the first time); rejects with UNAVAILABLE when there are none. */
  current(): Endpoint[] | Promise<Endpoint[]> {
    if (this.endpoints !== undefined && this.endpoints.length > 0) return this.endpoints;
    if (this.config.discovery === "static") return this.endpoints ?? [];
    // After a failed or empty answer, calls fail at once for a second instead of each asking DNS.
    const retryMs = Math.min(this.config.resolveIntervalMs, 1000);
    if (this.pending === undefined && this.attemptedAt !== undefined && Date.now() - this.attemptedAt < retryMs) {
      return Promise.reject(this.noEndpoints());
    }
    this.pending ??= this.resolve();
    return this.pending.then(() => {
      if (this.endpoints === undefined || this.endpoints.length === 0) throw this.noEndpoints();
      return this.endpoints;
    });
  }

  /** The endpoints known now, without resolving. */
  known(): Endpoint[] {
    return this.endpoints ?? [];
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private async resolve(): Promise<void> {
    const url = new URL(this.config.endpoints[0]!);
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port === "" ? (url.protocol === "https:" ? "443" : "80") : url.port;
    this.attemptedAt = Date.now();
    try {
      const addresses = [...new Set(await this.lookup(host))].sort();
      const next = addresses.map((a) => ({
        address: `${url.protocol}//${isIP(a) === 6 ? `[${a}]` : a}:${port}`,
        authority: url.host,
        serverName: host,
      }));
      const gone = (this.endpoints ?? []).filter((e) => !next.some((n) => n.address === e.address));
      this.endpoints = next;
      this.resolvedAt = Date.now();
      this.lastError = addresses.length === 0 ? `${host} resolved to no address` : undefined;
      if (gone.length > 0) this.onRemoved(gone);
    } catch (e) {
      this.lastError = `cannot resolve ${host}: ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      this.pending = undefined;
      if (!this.closed) {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          this.pending ??= this.resolve();
        }, this.config.resolveIntervalMs).unref();
      }
    }
  }

  private noEndpoints(): ConnectError {
    return rpcError("SLUICE_UPSTREAM_NO_ENDPOINTS", Code.Unavailable, { upstream: this.config.name, reason: this.lastError ?? "no endpoint is configured" });
  }
}
