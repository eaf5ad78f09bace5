import type { IncomingHttpHeaders } from "node:http";
import { nearestName } from "../nearest-name.js";

/** What a `rate.key` function is given about a call. */
export interface RateKeyRequest {
  /** "/pkg.Svc/Method" */
  path: string;
  /** The client's address (the TCP peer). */
  remoteAddress: string | undefined;
  /** Request headers, lower-case names. */
  headers: IncomingHttpHeaders;
}

/**
 * Whose calls share a rate bucket: every caller of the route (`"route"`),
 * each client address (`"address"`), each value of a request header
 * (`{ header: "x-api-key" }`; calls without it share one bucket), or each
 * value a function returns.
 */
export type RateKey = "route" | "address" | { header: string } | ((request: RateKeyRequest) => string);

/** New calls per second on a route, as a token bucket per key. */
export interface RateLimit {
  /** Calls per second each key may start, on average. */
  perSecond: number;
  /** Calls a key may start at once after being quiet. Default: `perSecond` (at least 1). */
  burst?: number;
  /** Default: `"address"`. */
  key?: RateKey;
  /** Keys remembered at once (least recently used forgotten first), so a flood of keys cannot grow memory. Default: 10000. */
  maxKeys?: number;
}

/** A limit given once for both directions, or separately for requests (`in`) and responses (`out`). */
export type InOut = number | { in?: number; out?: number };

/** What a slow reader of a stream's responses gets. */
export type SlowConsumerPolicy = "block" | "drop-oldest" | "cancel";

/**
 * Flow limits of a route (a method, every method of a service, or every
 * route), from a function file's options or the config's `limits`. Every
 * one is optional; README.md ("Limits") gives each default.
 */
export interface RouteLimitsInput {
  /** Calls (or streams) in flight on the route at once; one more gets RESOURCE_EXHAUSTED, or waits with `queue`. */
  maxConcurrent?: number;
  /** Calls that may wait (first in, first out) for a `maxConcurrent` slot. Default 0: none wait. */
  queue?: number;
  /** Longest wait in that queue, in ms; then RESOURCE_EXHAUSTED. */
  queueTimeoutMs?: number;
  /** New calls per second, per key. */
  rate?: RateLimit;
  /** Messages per second per stream: faster requests are read slower (flow control holds the client back), faster responses make the handler wait. */
  messagesPerSecond?: InOut;
  /** Largest message in bytes, after decompression (`in` is the route's readMaxBytes, `out` its writeMaxBytes). */
  maxMessageBytes?: InOut;
  /** Messages one stream may carry; one more ends the call with RESOURCE_EXHAUSTED. */
  maxStreamMessages?: InOut;
  /** Longest a call may last, whatever deadline the client asks for; then DEADLINE_EXCEEDED. */
  maxDurationMs?: number;
  /** A stream with no message either way for this long ends with DEADLINE_EXCEEDED. */
  idleTimeoutMs?: number;
  /** Bytes of responses one stream may hold waiting for a slow reader (the memory they take, not their count). */
  outboundBufferBytes?: number;
  /** What happens when that buffer is full: `block` the handler, `drop-oldest` waiting messages, or `cancel` the call. */
  slowConsumer?: SlowConsumerPolicy;
  /** With `cancel`: how long the buffer may stay full before the call ends with RESOURCE_EXHAUSTED. */
  slowConsumerMs?: number;
}

/** One thing wrong in a set of limits: the dotted key, its value and what is allowed. */
export interface LimitProblem {
  key: string;
  value: unknown;
  allowed: string;
  /** The key is not an option at all (the allowed text then says so, with the nearest name). */
  unknown?: boolean;
}

const maxInt = 2_147_483_647;

type Check = (v: unknown) => string | undefined;

const int = (min: number, max = maxInt): Check => (v) =>
  Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max ? undefined : `an integer from ${min} to ${max}`;

const positive: Check = (v) =>
  typeof v === "number" && Number.isFinite(v) && v > 0 && v <= 1e9 ? undefined : "a number above 0 (e.g. 0.5 or 100)";

const inOut = (each: Check): Check => (v) => {
  if (typeof v === "number") return each(v) === undefined ? undefined : `${each(v)}, or { in, out }`;
  const form = `a number, or { in?: …, out?: … } with each ${each(-1)}`;
  if (typeof v !== "object" || v === null || Array.isArray(v)) return form;
  for (const [k, x] of Object.entries(v)) {
    if (k !== "in" && k !== "out") return form;
    if (x !== undefined && each(x) !== undefined) return form;
  }
  return undefined;
};

const policies: readonly SlowConsumerPolicy[] = ["block", "drop-oldest", "cancel"];

/** Each option and what it accepts; `rate` is checked field by field below. */
const checks: Record<Exclude<keyof RouteLimitsInput, "rate">, Check> = {
  maxConcurrent: int(1),
  queue: int(0, 1_000_000),
  queueTimeoutMs: int(1),
  messagesPerSecond: inOut(positive),
  maxMessageBytes: inOut(int(1, 1024 * 1024 * 1024)),
  maxStreamMessages: inOut(int(1)),
  maxDurationMs: int(1),
  idleTimeoutMs: int(1),
  outboundBufferBytes: int(1024, 1024 * 1024 * 1024),
  slowConsumer: (v) => (policies.includes(v as SlowConsumerPolicy) ? undefined : `one of ${policies.join(", ")}`),
  slowConsumerMs: int(1),
};

const rateChecks: Record<keyof RateLimit, Check> = {
  perSecond: positive,
  burst: int(1, 1_000_000_000),
  maxKeys: int(1, 10_000_000),
  key: (v) => {
    if (v === "route" || v === "address" || typeof v === "function") return undefined;
    if (typeof v === "object" && v !== null && Object.keys(v).length === 1 && typeof (v as { header?: unknown }).header === "string" && (v as { header: string }).header !== "") return undefined;
    return `"route", "address", { header: "<name>" } or a function (request) => string`;
  },
};

/** The option names, for "did you mean" and the docs check. */
export const limitOptionNames: readonly string[] = [...Object.keys(checks), "rate"];

/**
 * Checks one set of route limits. `at` is the dotted path shown in
 * problems (`limits["pkg.Svc"]`, `options`). Returns every problem found.
 */
export function checkRouteLimits(value: unknown, at: string): LimitProblem[] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return [{ key: at, value, allowed: "an object of limits (maxConcurrent, rate, messagesPerSecond, ...)" }];
  }
  const problems: LimitProblem[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    problems.push(...checkLimit(key, v, at));
  }
  const limits = value as RouteLimitsInput;
  if (limits.queue !== undefined && limits.queue > 0 && limits.maxConcurrent === undefined) {
    problems.push({ key: `${at}.queue`, value: limits.queue, allowed: "0 unless maxConcurrent is set in the same place: calls queue for a maxConcurrent slot" });
  }
  return problems;
}

/** Checks one limit option by name; unknown names get the nearest known one. */
export function checkLimit(key: string, v: unknown, at: string): LimitProblem[] {
  if (key === "rate") return checkRate(v, `${at}.rate`);
  const check = checks[key as keyof typeof checks];
  if (check === undefined) {
    const near = nearestName(key, limitOptionNames);
    return [{ key: `${at}.${key}`, value: v, unknown: true, allowed: `a known limit: "${key}" is not one${near ? `; did you mean "${near}"?` : ` (the limits are ${limitOptionNames.join(", ")})`}` }];
  }
  const allowed = check(v);
  return allowed === undefined ? [] : [{ key: `${at}.${key}`, value: v, allowed }];
}

function checkRate(v: unknown, at: string): LimitProblem[] {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    return [{ key: at, value: v, allowed: "{ perSecond, burst?, key?, maxKeys? }" }];
  }
  const problems: LimitProblem[] = [];
  for (const [k, x] of Object.entries(v)) {
    if (x === undefined) continue;
    const check = rateChecks[k as keyof RateLimit];
    if (check === undefined) {
      const near = nearestName(k, Object.keys(rateChecks));
      problems.push({ key: `${at}.${k}`, value: x, unknown: true, allowed: `a known rate option: "${k}" is not one${near ? `; did you mean "${near}"?` : " (perSecond, burst, key, maxKeys)"}` });
      continue;
    }
    const allowed = check(x);
    if (allowed !== undefined) problems.push({ key: `${at}.${k}`, value: typeof x === "function" ? "(function)" : x, allowed });
  }
  // After the typos: a misspelled perSecond is better told as such.
  if ((v as RateLimit).perSecond === undefined) problems.push({ key: `${at}.perSecond`, value: undefined, allowed: "a number above 0: the calls per second each key may start" });
  return problems;
}

/** `in` or `out` of an InOut. */
export function inOf(v: InOut | undefined): number | undefined {
  return typeof v === "number" ? v : v?.in;
}

export function outOf(v: InOut | undefined): number | undefined {
  return typeof v === "number" ? v : v?.out;
}
