import { existsSync } from "node:fs";
import { isIP } from "node:net";
import path from "node:path";
import { Code } from "@connectrpc/connect";
import { sluiceError, type SluiceError } from "../errors.js";
import type { OptionSpec, OptionType } from "../config/options.js";
import { parseOptionValue } from "../config/parse-option-value.js";

/**
 * The `upstreams` section of the config: backends that functions call
 * through pooled clients (and that proxy routes forward to). It is a map
 * from a name of the user's choosing to the options below, so it cannot
 * live in the fixed options table (config/options.ts); this file is its
 * table, its validation and the README's reference for it.
 */

export const upstreamProtocols = ["grpc", "connect", "grpc-web"] as const;
export type UpstreamProtocol = (typeof upstreamProtocols)[number];

/** One upstream, validated, with every default filled in. */
export interface UpstreamConfig {
  name: string;
  protocol: UpstreamProtocol;
  /** Origins (`http://host:port`, `https://host:port`); with discovery "dns", the one URL whose name is resolved. */
  endpoints: string[];
  discovery: "static" | "dns";
  resolveIntervalMs: number;
  /** Absolute paths; present only for upstreams with https:// endpoints and some TLS option. */
  tls?: { ca?: string; cert?: string; key?: string; serverName?: string };
  connectTimeoutMs: number;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  idleTimeoutMs: number;
  connections: number;
  maxConnections: number;
  maxQueued: number;
  queueTimeoutMs: number;
  maxSessionMemoryMiB: number;
  readMaxBytes: number;
  /** Lower-case header names. */
  forwardHeaders: string[];
  outlier: { consecutiveFailures: number; baseEjectionMs: number; maxEjectionMs: number };
  retry: RetryPolicy;
}

/** A gRPC-style retry policy (gRPC proposal A6), plus the replay bound and the budget. */
export interface RetryPolicy {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  backoffMultiplier: number;
  retryableCodes: Code[];
  maxReplayBytes: number;
  budgetPercent: number;
  budgetMinPerSecond: number;
}

/** What a config file may say about one upstream. */
export interface UpstreamConfigInput {
  url?: string;
  endpoints?: string[];
  protocol?: UpstreamProtocol;
  discovery?: "static" | "dns";
  resolveIntervalMs?: number;
  tls?: { ca?: string; cert?: string; key?: string; serverName?: string };
  connectTimeoutMs?: number;
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
  idleTimeoutMs?: number;
  connections?: number;
  maxConnections?: number;
  maxQueued?: number;
  queueTimeoutMs?: number;
  maxSessionMemoryMiB?: number;
  readMaxBytes?: number;
  forwardHeaders?: string[];
  outlier?: Partial<UpstreamConfig["outlier"]>;
  retry?: Partial<Omit<RetryPolicy, "retryableCodes">> & { retryableCodes?: string[] };
}

type UpstreamOptionType =
  | OptionType
  | { kind: "url" }
  | { kind: "urls" }
  | { kind: "number"; min: number; max: number }
  | { kind: "codes" };

export interface UpstreamOptionSpec {
  /** Dotted key inside one upstream: `retry.maxAttempts`. */
  key: string;
  type: UpstreamOptionType;
  default: unknown;
  doc: string;
}

const MiB = 1024 * 1024;

/** Every option of one upstream: the single source for validation and the README table. */
export const upstreamOptions: readonly UpstreamOptionSpec[] = [
  { key: "url", type: { kind: "url" }, default: undefined,
    doc: "The upstream's address: http://host:port (HTTP/2 without TLS, h2c) or https://host:port (HTTP/2 over TLS). Give url or endpoints, not both." },
  { key: "endpoints", type: { kind: "urls" }, default: undefined,
    doc: "Several addresses of the same service (http:// or https:// URLs); calls are balanced across them." },
  { key: "protocol", type: { kind: "enum", values: upstreamProtocols }, default: "grpc",
    doc: "What the upstream speaks: grpc, connect or grpc-web (always over HTTP/2)." },
  { key: "discovery", type: { kind: "enum", values: ["static", "dns"] }, default: "static",
    doc: "static: connect to each URL as given. dns: every address the url's host name resolves to is an endpoint, re-resolved every resolveIntervalMs." },
  { key: "resolveIntervalMs", type: { kind: "int", min: 100, max: 86_400_000 }, default: 30_000,
    doc: "With discovery dns, how often the name is resolved again; endpoints that disappear are drained." },
  { key: "tls.ca", type: { kind: "path" }, default: undefined,
    doc: "PEM CA bundle that signs the upstream's certificate (https:// only). Unset: the system's CAs." },
  { key: "tls.cert", type: { kind: "path" }, default: undefined,
    doc: "PEM client certificate presented to the upstream (mutual TLS). Goes with tls.key." },
  { key: "tls.key", type: { kind: "path" }, default: undefined,
    doc: "PEM private key of tls.cert." },
  { key: "tls.serverName", type: { kind: "string", nonEmpty: true }, default: undefined,
    doc: "Name the upstream's certificate is checked against (and sent as SNI). Unset: the URL's host name." },
  { key: "connectTimeoutMs", type: { kind: "int", min: 10, max: 600_000 }, default: 5_000,
    doc: "Longest wait for a connection to an endpoint, up to the upstream's HTTP/2 SETTINGS. Past it, calls waiting for it fail with UNAVAILABLE (SLUICE_UPSTREAM_CONNECT_TIMEOUT)." },
  { key: "pingIntervalMs", type: { kind: "int", min: 10, max: 86_400_000 }, default: 30_000,
    doc: "Keepalive: a connection with open calls sends an HTTP/2 PING this often; an idle one is checked with a PING before reuse when it has shown no sign of life for this long. Doubled when the upstream answers GOAWAY too_many_pings." },
  { key: "pingTimeoutMs", type: { kind: "int", min: 10, max: 600_000 }, default: 10_000,
    doc: "A PING not answered within this time closes the connection (its calls fail with UNAVAILABLE) and it is replaced." },
  { key: "idleTimeoutMs", type: { kind: "int", min: 100, max: 86_400_000 }, default: 300_000,
    doc: "A connection with no open call for this long is closed." },
  { key: "connections", type: { kind: "int", min: 1, max: 64 }, default: 1,
    doc: "HTTP/2 connections kept per endpoint while it is in use; each new call goes to the one with the fewest open calls." },
  { key: "maxConnections", type: { kind: "int", min: 1, max: 1024 }, default: 16,
    doc: "Connections per endpoint at most: when every connection has as many open calls as the upstream's SETTINGS_MAX_CONCURRENT_STREAMS allows, another is opened, up to this number; then calls queue." },
  { key: "maxQueued", type: { kind: "int", min: 1, max: 100_000 }, default: 1024,
    doc: "Calls that may wait per endpoint for a connection or a free stream; one more fails at once with RESOURCE_EXHAUSTED (SLUICE_UPSTREAM_QUEUE_FULL)." },
  { key: "queueTimeoutMs", type: { kind: "int", min: 1, max: 600_000 }, default: 5_000,
    doc: "Longest wait in that queue (the call's deadline may end it sooner); then RESOURCE_EXHAUSTED (SLUICE_UPSTREAM_QUEUE_TIMEOUT). While the endpoint has no connection yet, only ones being made, connectTimeoutMs decides instead." },
  { key: "maxSessionMemoryMiB", type: { kind: "int", min: 1, max: 4096 }, default: 64,
    doc: "Memory one HTTP/2 connection may use for buffered frames before Node refuses new streams with ENHANCE_YOUR_CALM (Node's own default is 10)." },
  { key: "readMaxBytes", type: { kind: "int", min: 1, max: 1024 * MiB }, default: 4 * MiB,
    doc: "Largest response message a function's client accepts from this upstream, after decompression; larger ones fail with RESOURCE_EXHAUSTED." },
  { key: "forwardHeaders", type: { kind: "list" }, default: [],
    doc: "Request headers of the calling function's own call that are passed on to this upstream, e.g. authorization. traceparent and x-request-id are always passed on." },
  { key: "outlier.consecutiveFailures", type: { kind: "int", min: 1, max: 1000 }, default: 5,
    doc: "An endpoint is ejected (taken out of the balancing) after this many failures in a row: failed connects, lost connections, calls answered UNAVAILABLE." },
  { key: "outlier.baseEjectionMs", type: { kind: "int", min: 1, max: 3_600_000 }, default: 1_000,
    doc: "How long the first ejection lasts; each further ejection in a row lasts twice as long. Then one call (or a background connect) tries the endpoint again." },
  { key: "outlier.maxEjectionMs", type: { kind: "int", min: 1, max: 86_400_000 }, default: 60_000,
    doc: "Longest ejection." },
  { key: "retry.maxAttempts", type: { kind: "int", min: 1, max: 5 }, default: 2,
    doc: "Attempts per call, the first included (1: no retries). A call is retried only while it has received no response message." },
  { key: "retry.initialBackoffMs", type: { kind: "int", min: 0, max: 60_000 }, default: 100,
    doc: "Backoff before the first retry; the wait is random between 0 and the backoff (full jitter)." },
  { key: "retry.maxBackoffMs", type: { kind: "int", min: 0, max: 600_000 }, default: 1_000,
    doc: "Backoff at most." },
  { key: "retry.backoffMultiplier", type: { kind: "number", min: 1, max: 10 }, default: 2,
    doc: "Each retry's backoff is the previous one times this." },
  { key: "retry.retryableCodes", type: { kind: "codes" }, default: ["unavailable"],
    doc: "Status codes that are retried, as Connect names them (unavailable, resource_exhausted, ...). Calls the upstream never processed (refused streams, GOAWAY, failed connects) are retried whatever their code." },
  { key: "retry.maxReplayBytes", type: { kind: "int", min: 0, max: 64 * MiB }, default: 256 * 1024,
    doc: "Request bytes kept per call to replay on a retry; a call that has sent more is no longer retried." },
  { key: "retry.budgetPercent", type: { kind: "int", min: 0, max: 100 }, default: 20,
    doc: "Retry budget: retries in the last 10 s may be at most this percentage of the calls started in that time (plus budgetMinPerSecond), so retries cannot multiply the load on a failing upstream." },
  { key: "retry.budgetMinPerSecond", type: { kind: "int", min: 0, max: 10_000 }, default: 10,
    doc: "Retries per second always allowed by the budget, so that a quiet upstream still gets retries." },
];

const codeNames = new Map<string, Code>();
for (const [name, value] of Object.entries(Code)) {
  if (typeof value !== "number") continue;
  const snake = name.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
  codeNames.set(snake, value);
}
codeNames.set("cancelled", Code.Canceled);

/** The code Connect calls `name` ("unavailable"), in any case; gRPC's spelling "cancelled" too. */
export function codeFromName(name: string): Code | undefined {
  return codeNames.get(name.toLowerCase());
}

/** The Connect name of a code: Code.ResourceExhausted → "resource_exhausted". */
export function codeName(code: Code): string {
  for (const [name, value] of codeNames) if (value === code) return name;
  return String(code);
}

/**
 * Validates the `upstreams` section of a config file. Returns every upstream
 * with defaults filled in, or every problem, each naming the upstream and
 * the key.
 */
export function validateUpstreams(raw: unknown, source: string, cwd: string): { upstreams: Record<string, UpstreamConfig> } | { errors: SluiceError[] } {
  const errors: SluiceError[] = [];
  if (raw === undefined) return { upstreams: {} };
  if (!isPlainObject(raw)) {
    return { errors: [sluiceError("SLUICE_CONFIG_INVALID", { key: "upstreams", value: raw, allowed: "an object mapping upstream names to their options", source })] };
  }
  const upstreams: Record<string, UpstreamConfig> = {};
  for (const [name, input] of Object.entries(raw)) {
    const result = validateUpstream(name, input, source, cwd);
    if ("errors" in result) errors.push(...result.errors);
    else upstreams[name] = result.upstream;
  }
  return errors.length > 0 ? { errors } : { upstreams };
}

function validateUpstream(name: string, input: unknown, source: string, cwd: string): { upstream: UpstreamConfig } | { errors: SluiceError[] } {
  const errors: SluiceError[] = [];
  const prefix = `upstreams.${name}`;
  const invalid = (key: string, value: unknown, allowed: string) =>
    errors.push(sluiceError("SLUICE_CONFIG_INVALID", { key: key === "" ? prefix : `${prefix}.${key}`, value, allowed, source }));

  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(name)) {
    invalid("", name, "a name of letters, digits, '.', '_' and '-' (at most 63, starting with a letter or digit)");
  }
  if (!isPlainObject(input)) {
    invalid("", input, "an object of upstream options (url or endpoints, protocol, ...)");
    return { errors };
  }

  const specs = new Map(upstreamOptions.map((o) => [o.key, o]));
  const values = new Map<string, unknown>();
  for (const [key, value] of flatten(input)) {
    const spec = specs.get(key);
    if (!spec) {
      errors.push(sluiceError("SLUICE_CONFIG_UNKNOWN_KEY", { key: `${prefix}.${key}`, source, known: [...specs.keys()].map((k) => `${prefix}.${k}`) }));
      continue;
    }
    if (value === undefined) continue;
    const parsed = parseUpstreamValue(spec, value);
    if ("expected" in parsed) invalid(key, value, parsed.expected);
    else values.set(key, parsed.value);
  }
  const get = <T>(key: string): T => {
    if (values.has(key)) return values.get(key) as T;
    const spec = specs.get(key)!;
    // Defaults are written as in a config file ("unavailable"), and normalized the same way.
    const parsed = spec.default === undefined ? undefined : parseUpstreamValue(spec, spec.default);
    return (parsed !== undefined && "value" in parsed ? parsed.value : spec.default) as T;
  };

  const url = get<string | undefined>("url");
  const list = get<string[] | undefined>("endpoints");
  const discovery = get<"static" | "dns">("discovery");
  let endpoints: string[] = [];
  if (url !== undefined && list !== undefined) invalid("endpoints", list, "either url or endpoints, not both");
  else if (url === undefined && list === undefined && !errors.some((e) => /\.(url|endpoints) =/.test(e.message))) {
    invalid("url", undefined, "the upstream's address (http://host:port or https://host:port), or a list of them in endpoints");
  } else endpoints = url !== undefined ? [url] : list ?? [];

  if (discovery === "dns") {
    if (list !== undefined) invalid("discovery", discovery, "static when endpoints is a list; dns resolves the host name of url");
    else if (url !== undefined && isIP(stripBrackets(new URL(url).hostname)) !== 0) {
      invalid("discovery", discovery, "static when url has an IP address; dns needs a host name to resolve");
    }
  }

  const tlsKeys = ["tls.ca", "tls.cert", "tls.key", "tls.serverName"];
  const hasTls = tlsKeys.some((k) => values.has(k));
  const anyHttps = endpoints.some((e) => e.startsWith("https:"));
  if (hasTls && endpoints.length > 0 && !anyHttps) {
    invalid("tls", Object.fromEntries(tlsKeys.filter((k) => values.has(k)).map((k) => [k.slice(4), values.get(k)])), "no tls options for an upstream without https:// endpoints");
  }
  if (values.has("tls.cert") !== values.has("tls.key")) {
    invalid(values.has("tls.cert") ? "tls.key" : "tls.cert", undefined, "a PEM file path: tls.cert and tls.key go together");
  }
  const files: Record<string, string> = {};
  for (const key of ["tls.ca", "tls.cert", "tls.key"]) {
    const p = values.get(key) as string | undefined;
    if (p === undefined) continue;
    const abs = path.resolve(cwd, p);
    if (!existsSync(abs)) {
      errors.push(sluiceError("SLUICE_TLS_FILE_UNREADABLE", { key: `${prefix}.${key}`, file: p, reason: "no such file" }));
    }
    files[key.slice(4)] = abs;
  }

  const connections = get<number>("connections");
  const maxConnections = get<number>("maxConnections");
  if (maxConnections < connections) invalid("maxConnections", maxConnections, `at least connections (${connections})`);
  const baseEjectionMs = get<number>("outlier.baseEjectionMs");
  const maxEjectionMs = get<number>("outlier.maxEjectionMs");
  if (maxEjectionMs < baseEjectionMs) invalid("outlier.maxEjectionMs", maxEjectionMs, `at least outlier.baseEjectionMs (${baseEjectionMs})`);
  const initialBackoffMs = get<number>("retry.initialBackoffMs");
  const maxBackoffMs = get<number>("retry.maxBackoffMs");
  if (maxBackoffMs < initialBackoffMs) invalid("retry.maxBackoffMs", maxBackoffMs, `at least retry.initialBackoffMs (${initialBackoffMs})`);

  if (errors.length > 0) return { errors };
  const serverName = get<string | undefined>("tls.serverName");
  const upstream: UpstreamConfig = {
    name,
    protocol: get("protocol"),
    endpoints,
    discovery,
    resolveIntervalMs: get("resolveIntervalMs"),
    connectTimeoutMs: get("connectTimeoutMs"),
    pingIntervalMs: get("pingIntervalMs"),
    pingTimeoutMs: get("pingTimeoutMs"),
    idleTimeoutMs: get("idleTimeoutMs"),
    connections,
    maxConnections,
    maxQueued: get("maxQueued"),
    queueTimeoutMs: get("queueTimeoutMs"),
    maxSessionMemoryMiB: get("maxSessionMemoryMiB"),
    readMaxBytes: get("readMaxBytes"),
    forwardHeaders: get<string[]>("forwardHeaders"),
    outlier: { consecutiveFailures: get("outlier.consecutiveFailures"), baseEjectionMs, maxEjectionMs },
    retry: {
      maxAttempts: get("retry.maxAttempts"),
      initialBackoffMs,
      maxBackoffMs,
      backoffMultiplier: get("retry.backoffMultiplier"),
      retryableCodes: get("retry.retryableCodes"),
      maxReplayBytes: get("retry.maxReplayBytes"),
      budgetPercent: get("retry.budgetPercent"),
      budgetMinPerSecond: get("retry.budgetMinPerSecond"),
    },
  };
  if (hasTls) upstream.tls = { ...files, ...(serverName !== undefined ? { serverName } : {}) };
  return { upstream };
}

/** Checks one value; returns it normalized, or the "expected …" text of the error. */
export function parseUpstreamValue(spec: UpstreamOptionSpec, raw: unknown): { value: unknown } | { expected: string } {
  const t = spec.type;
  switch (t.kind) {
    case "url":
      return parseEndpointUrl(raw);
    case "urls": {
      const expected = "a non-empty list of http:// or https:// URLs";
      if (!Array.isArray(raw) || raw.length === 0) return { expected };
      const out: string[] = [];
      for (const item of raw) {
        const one = parseEndpointUrl(item);
        if ("expected" in one) return { expected: `${expected} (${JSON.stringify(item)}: ${one.expected})` };
        if (!out.includes(one.value)) out.push(one.value);
      }
      return { value: out };
    }
    case "number": {
      const expected = `a number from ${t.min} to ${t.max}`;
      const n = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
      if (typeof n !== "number" || !Number.isFinite(n) || n < t.min || n > t.max) return { expected };
      return { value: n };
    }
    case "codes": {
      const expected = `a list of status codes: ${[...codeNames.keys()].filter((n) => n !== "cancelled").join(", ")}`;
      const list = typeof raw === "string" ? raw.split(",").map((s) => s.trim()).filter((s) => s !== "") : raw;
      if (!Array.isArray(list)) return { expected };
      const codes: Code[] = [];
      for (const item of list) {
        const code = typeof item === "string" ? codeNames.get(item.toLowerCase()) : undefined;
        if (code === undefined) return { expected };
        if (!codes.includes(code)) codes.push(code);
      }
      return { value: codes };
    }
    case "list": {
      const parsed = parseOptionValue(spec as OptionSpec, raw);
      if ("expected" in parsed || spec.key !== "forwardHeaders") return parsed;
      const names = (parsed.value as string[]).map((h) => h.toLowerCase());
      if (names.some((h) => !/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(h))) return { expected: "a list of header names (no pseudo-headers, no spaces)" };
      return { value: [...new Set(names)] };
    }
    default:
      return parseOptionValue(spec as OptionSpec, raw);
  }
}

/** http(s)://host[:port], with nothing after it, as an origin. */
function parseEndpointUrl(raw: unknown): { value: string } | { expected: string } {
  const expected = "an http:// or https:// URL with a host and an optional port, and no path, query or credentials";
  if (typeof raw !== "string") return { expected };
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { expected };
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return { expected };
  if (u.hostname === "" || u.username !== "" || u.password !== "" || u.search !== "" || u.hash !== "") return { expected };
  if (u.pathname !== "/" && u.pathname !== "") return { expected };
  return { value: u.origin };
}

function stripBrackets(host: string): string {
  return host.startsWith("[") ? host.slice(1, -1) : host;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** { retry: { maxAttempts: 3 } } → [["retry.maxAttempts", 3]]; lists and scalars are leaves. */
export function flatten(value: Record<string, unknown>, prefix = ""): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [k, v] of Object.entries(value)) {
    const key = prefix === "" ? k : `${prefix}.${k}`;
    if (isPlainObject(v)) out.push(...flatten(v, key));
    else out.push([key, v]);
  }
  return out;
}
