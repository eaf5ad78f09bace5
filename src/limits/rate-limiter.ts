import type { IncomingHttpHeaders } from "node:http";
import { LRUCache } from "lru-cache";
import type { RateKey } from "./limit-options.js";
import { TokenBucket } from "./token-bucket.js";

/** The resolved `rate` of a route. */
export interface RatePolicy {
  perSecond: number;
  burst: number;
  key: RateKey;
  maxKeys: number;
}

/** What a key is taken from. */
export interface RateSubject {
  readonly headers: IncomingHttpHeaders;
  readonly remoteAddress: string | undefined;
}

/**
 * New calls per second of one route, a token bucket per key. The buckets
 * live in an LRU cache of `maxKeys`, so a flood of keys evicts old buckets
 * instead of growing memory (a forgotten key starts again with a full
 * bucket, which is why the key should be something a client cannot mint
 * freely, like its address or an API key that is checked elsewhere).
 */
export class RateLimiter {
  readonly #policy: RatePolicy;
  readonly #one: TokenBucket | undefined;
  readonly #buckets: LRUCache<string, TokenBucket> | undefined;
  readonly #header: string | undefined;

  constructor(policy: RatePolicy, readonly path: string) {
    this.#policy = policy;
    if (policy.key === "route") this.#one = new TokenBucket(policy.perSecond, policy.burst, performance.now());
    else this.#buckets = new LRUCache({ max: policy.maxKeys });
    if (typeof policy.key === "object") this.#header = policy.key.header.toLowerCase();
  }

  get policy(): RatePolicy {
    return this.#policy;
  }

  /** Keys remembered now (for tests). */
  get keys(): number {
    return this.#buckets?.size ?? 1;
  }

  /** Takes a token for the call's key: 0 when allowed, otherwise the ms until the key has one. */
  take(subject: RateSubject): number {
    const now = performance.now();
    if (this.#one !== undefined) return this.#one.take(now);
    const key = this.#keyOf(subject);
    let bucket = this.#buckets!.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.#policy.perSecond, this.#policy.burst, now);
      this.#buckets!.set(key, bucket);
    }
    return bucket.take(now);
  }

  #keyOf(subject: RateSubject): string {
    const key = this.#policy.key;
    if (key === "address") return subject.remoteAddress ?? "";
    if (this.#header !== undefined) {
      const v = subject.headers[this.#header];
      return Array.isArray(v) ? v.join(",") : (v ?? "");
    }
    try {
      const k = (key as (r: { path: string; remoteAddress: string | undefined; headers: IncomingHttpHeaders }) => string)({ path: this.path, remoteAddress: subject.remoteAddress, headers: subject.headers });
      return typeof k === "string" ? k : String(k);
    } catch {
      // A key function that throws puts the call in one shared bucket rather than failing it.
      return "";
    }
  }
}
