import { sluiceError, type SluiceError } from "../errors.js";
import { encodings } from "../config/options.js";
import { nearestName } from "../nearest-name.js";
import { flatten, isPlainObject, parseUpstreamValue, upstreamOptions, type RetryPolicy, type UpstreamConfig } from "./upstream-config.js";

/** One proxy route as configured: calls to a service (or one method) go to an upstream. */
export interface ProxyRouteConfig {
  /** "pkg.v1.Service" or "pkg.v1.Service/Method". */
  name: string;
  upstream: string;
  /** Lower-case request headers passed on; undefined: every end-to-end header. */
  forwardHeaders?: string[];
  /** Headers set on every upstream request (lower-case names). */
  setHeaders: Record<string, string>;
  /** Overrides of the upstream's retry policy for calls on this route. */
  retry: Partial<RetryPolicy>;
  maxTimeoutMs?: number;
  defaultTimeoutMs?: number;
  readMaxBytes?: number;
  writeMaxBytes?: number;
  compression?: { encodings?: ("gzip" | "br")[]; minBytes?: number };
}

interface RouteOptionSpec {
  key: string;
  doc: string;
  default: string;
  parse(raw: unknown): { value: unknown } | { expected: string };
}

const retrySpecs = new Map(upstreamOptions.filter((o) => o.key.startsWith("retry.")).map((o) => [o.key, o]));

const positiveInt = (max: number) => (raw: unknown) =>
  typeof raw === "number" && Number.isSafeInteger(raw) && raw >= 1 && raw <= max ? { value: raw } : { expected: `an integer from 1 to ${max}` };

/**
 * The options of one entry of `routes`. The README's "Proxy routes" table
 * is written from this list (test/upstream/proxy-routes-config.test.ts
 * checks that every key has a row).
 */
export const proxyRouteOptions: readonly RouteOptionSpec[] = [
  { key: "upstream", default: "(required)",
    doc: "Name of the upstream (under upstreams) that serves the calls.",
    parse: (raw) => (typeof raw === "string" && raw !== "" ? { value: raw } : { expected: "the name of an upstream" }) },
  { key: "forwardHeaders", default: "every end-to-end header",
    doc: "Request headers passed on to the upstream, as an allowlist. Unset: every header of the client's request except hop-by-hop headers (Connection, TE, Upgrade, ...) and the protocols' own (content-type, timeouts, encodings), which the gateway sets for the upstream's protocol.",
    parse: (raw) => (Array.isArray(raw) && raw.every((h) => typeof h === "string" && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(h))
      ? { value: raw.map((h: string) => h.toLowerCase()) }
      : { expected: "a list of header names" }) },
  { key: "setHeaders", default: "none",
    doc: "Headers added to (or replacing those of) every upstream request, e.g. { \"x-tenant\": \"eu\" }.",
    parse: (raw) => {
      const expected = "an object of header names to string values";
      if (!isPlainObject(raw)) return { expected };
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== "string" || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k) || /[\r\n\0]/.test(v)) return { expected };
        out[k.toLowerCase()] = v;
      }
      return { value: out };
    } },
  { key: "maxTimeoutMs", default: "config maxTimeoutMs",
    doc: "Longest deadline a client may ask for on this route; longer ones are lowered to it before they are passed on.",
    parse: positiveInt(2_147_483_647) },
  { key: "defaultTimeoutMs", default: "config defaultTimeoutMs",
    doc: "Deadline of calls that send none; the gateway ends them (and cancels the upstream call) when it passes.",
    parse: positiveInt(2_147_483_647) },
  { key: "readMaxBytes", default: "config readMaxBytes",
    doc: "Largest request message a client may send on this route, in bytes after decompression.",
    parse: positiveInt(1024 * 1024 * 1024) },
  { key: "writeMaxBytes", default: "config writeMaxBytes",
    doc: "Largest response message passed from the upstream to the client, in bytes after decompression.",
    parse: positiveInt(1024 * 1024 * 1024) },
  { key: "compression.encodings", default: "config compression.encodings",
    doc: "Message compression negotiated with clients on this route (the upstream leg negotiates its own).",
    parse: (raw) => (Array.isArray(raw) && raw.every((e) => (encodings as readonly unknown[]).includes(e)) ? { value: raw } : { expected: `a list of ${encodings.join(", ")}` }) },
  { key: "compression.minBytes", default: "config compression.minBytes",
    doc: "Response messages smaller than this go to clients uncompressed.",
    parse: (raw) => (typeof raw === "number" && Number.isSafeInteger(raw) && raw >= 0 ? { value: raw } : { expected: "an integer of 0 or more" }) },
  ...[...retrySpecs.values()].map((o): RouteOptionSpec => ({
    key: o.key,
    default: "the upstream's",
    doc: `Overrides the upstream's ${o.key} for calls on this route.`,
    parse: (raw) => parseUpstreamValue(o, raw),
  })),
];

const specs = new Map(proxyRouteOptions.map((o) => [o.key, o]));
const routeName = /^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+(\/[A-Za-z_]\w*)?$/;

/**
 * Validates the `routes` section of a config file: each key names a service
 * ("pkg.v1.Service") or a method ("pkg.v1.Service/Method"), each value its
 * proxy options, with an upstream that the `upstreams` section declares.
 * Whether the service exists is checked once the descriptors are loaded
 * (SLUICE_PROXY_UNKNOWN_SERVICE).
 */
export function validateProxyRoutes(raw: unknown, upstreams: Record<string, UpstreamConfig>, source: string): { routes: ProxyRouteConfig[] } | { errors: SluiceError[] } {
  if (raw === undefined) return { routes: [] };
  const errors: SluiceError[] = [];
  if (!isPlainObject(raw)) {
    return { errors: [sluiceError("SLUICE_CONFIG_INVALID", { key: "routes", value: raw, allowed: "an object mapping \"pkg.Service\" or \"pkg.Service/Method\" to { upstream: name, ... }", source })] };
  }
  const routes: ProxyRouteConfig[] = [];
  for (const [name, input] of Object.entries(raw)) {
    const prefix = `routes.${name}`;
    const invalid = (key: string, value: unknown, allowed: string) =>
      errors.push(sluiceError("SLUICE_CONFIG_INVALID", { key: key === "" ? prefix : `${prefix}.${key}`, value, allowed, source }));
    if (!routeName.test(name)) invalid("", name, "a fully qualified service name (pkg.v1.Service) or a method path (pkg.v1.Service/Method)");
    if (!isPlainObject(input)) {
      invalid("", input, "an object: { upstream: name, ... }");
      continue;
    }
    const { setHeaders, ...rest } = input;
    const values = new Map<string, unknown>();
    if (setHeaders !== undefined) {
      const parsed = specs.get("setHeaders")!.parse(setHeaders);
      if ("expected" in parsed) invalid("setHeaders", setHeaders, parsed.expected);
      else values.set("setHeaders", parsed.value);
    }
    for (const [key, value] of flatten(rest)) {
      const spec = specs.get(key);
      if (spec === undefined) {
        errors.push(sluiceError("SLUICE_CONFIG_UNKNOWN_KEY", { key: `${prefix}.${key}`, source, known: [...specs.keys()].map((k) => `${prefix}.${k}`) }));
        continue;
      }
      if (value === undefined) continue;
      const parsed = spec.parse(value);
      if ("expected" in parsed) invalid(key, value, parsed.expected);
      else values.set(key, parsed.value);
    }
    const upstream = values.get("upstream") as string | undefined;
    if (upstream === undefined) {
      if (!errors.some((e) => e.message.includes(`${prefix}.upstream `))) invalid("upstream", undefined, "the name of an upstream (routes need one)");
      continue;
    }
    if (upstreams[upstream] === undefined) {
      const near = nearestName(upstream, Object.keys(upstreams));
      invalid("upstream", upstream, `the name of an upstream declared under upstreams${Object.keys(upstreams).length === 0 ? " (there are none)" : `: ${Object.keys(upstreams).join(", ")}`}${near ? `; did you mean "${near}"?` : ""}`);
      continue;
    }
    const retry: Partial<RetryPolicy> = {};
    for (const [key, value] of values) if (key.startsWith("retry.")) (retry as Record<string, unknown>)[key.slice(6)] = value;
    const route: ProxyRouteConfig = { name, upstream, setHeaders: (values.get("setHeaders") as Record<string, string> | undefined) ?? {}, retry };
    if (values.has("forwardHeaders")) route.forwardHeaders = values.get("forwardHeaders") as string[];
    for (const key of ["maxTimeoutMs", "defaultTimeoutMs", "readMaxBytes", "writeMaxBytes"] as const) {
      if (values.has(key)) route[key] = values.get(key) as number;
    }
    if (values.has("compression.encodings") || values.has("compression.minBytes")) {
      route.compression = {
        ...(values.has("compression.encodings") ? { encodings: values.get("compression.encodings") as ("gzip" | "br")[] } : {}),
        ...(values.has("compression.minBytes") ? { minBytes: values.get("compression.minBytes") as number } : {}),
      };
    }
    routes.push(route);
  }
  return errors.length > 0 ? { errors } : { routes };
}
