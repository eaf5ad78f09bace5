import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { sluiceError, type SluiceError } from "../errors.js";
import { bundleModule } from "../functions/bundle-module.js";
import { validateProxyRoutes, type ProxyRouteConfig } from "../upstream/proxy-routes-config.js";
import { validateLimits, type LimitsConfig } from "../limits/limits-config.js";
import { validateUpstreams, type UpstreamConfig } from "../upstream/upstream-config.js";
import type { SluiceConfig } from "./config.js";
import { envName, options, type OptionSpec } from "./options.js";
import { parseOptionValue } from "./parse-option-value.js";

const configFileNames = ["sluice.config.ts", "sluice.config.mts", "sluice.config.js", "sluice.config.mjs", "sluice.config.json"];

/**
 * Where parseArgs records the flag typed for each key (`--log-level`,
 * `--set http1.headersTimeoutMs`), so that an error names a flag that
 * exists rather than the config key. A symbol on the flags object itself,
 * because the CLI hands that object on unchanged to loadConfig (through
 * artifactConfigSources too), and a symbol is not one of its keys.
 */
export const typedFlags = Symbol("sluice.typedFlags");

/** Dotted keys from command-line flags, e.g. { port: "9000" }, and the flag typed for each. */
export type CliFlags = Record<string, string> & { [typedFlags]?: Record<string, string> };

export interface ConfigSources {
  cwd: string;
  env: NodeJS.ProcessEnv;
  flags: CliFlags;
  /** --config; otherwise the first of configFileNames found in cwd. */
  configFile?: string;
}

/**
 * Resolves the configuration: defaults, then the config file, then SLUICE_*
 * environment variables, then command-line flags; each later source wins.
 * Every value is checked, and all problems are reported together.
 */
export async function loadConfig(src: ConfigSources): Promise<{ config: SluiceConfig; file?: string } | { errors: SluiceError[] }> {
  const errors: SluiceError[] = [];
  const values = new Map<string, unknown>();
  /** Where each value in `values` came from, for errors about combinations of options. */
  const sources = new Map<string, string>();
  const specs = new Map(options.map((o) => [o.key, o]));
  const set = (spec: OptionSpec, raw: unknown, source: string) => {
    const parsed = parseOptionValue(spec, raw);
    // A secret stays out of the error, which goes to the logs.
    const shown = spec.type.kind !== "token" ? raw : typeof raw === "string" ? `<hidden, ${raw.length} characters>` : `<hidden ${typeof raw}>`;
    if ("expected" in parsed) errors.push(sluiceError("SLUICE_CONFIG_INVALID", { key: spec.key, value: shown, allowed: parsed.expected, source }));
    else {
      values.set(spec.key, parsed.value);
      sources.set(spec.key, source);
    }
  };

  let upstreams: Record<string, UpstreamConfig> = {};
  let routes: ProxyRouteConfig[] = [];
  let limits: LimitsConfig = {};
  const file = findConfigFile(src);
  if (file) {
    const loaded = await readConfigFile(file, src.cwd);
    if ("error" in loaded) return { errors: [loaded.error] };
    const source = path.relative(src.cwd, file) || file;
    // "upstreams", "routes" and "limits" map names of the user's choosing to options: their own tables validate them.
    const {
      upstreams: rawUpstreams,
      routes: rawRoutes,
      limits: rawLimits,
      ...fixed
    } = isObject(loaded.value) ? loaded.value : { upstreams: undefined, routes: undefined, limits: undefined };
    const checked = validateUpstreams(rawUpstreams, source, src.cwd);
    if ("errors" in checked) errors.push(...checked.errors);
    else upstreams = checked.upstreams;
    const checkedRoutes = validateProxyRoutes(rawRoutes, upstreams, source);
    if ("errors" in checkedRoutes) errors.push(...checkedRoutes.errors);
    else routes = checkedRoutes.routes;
    const checkedLimits = validateLimits(rawLimits, source);
    if ("errors" in checkedLimits) errors.push(...checkedLimits.errors);
    else limits = checkedLimits.limits;
    for (const [key, raw] of flatten(isObject(loaded.value) ? fixed : loaded.value)) {
      const spec = specs.get(key);
      if (!spec) errors.push(sluiceError("SLUICE_CONFIG_UNKNOWN_KEY", { key, source, known: [...specs.keys()] }));
      else if (raw !== undefined) set(spec, raw, source);
    }
  } else if (src.configFile) {
    return { errors: [sluiceError("SLUICE_CONFIG_LOAD_FAILED", { file: src.configFile, reason: "no such file" })] };
  }
  for (const spec of options) {
    const raw = src.env[envName(spec.key)];
    if (raw !== undefined && raw !== "") set(spec, raw, `environment ${envName(spec.key)}`);
  }
  for (const [key, raw] of Object.entries(src.flags)) {
    const spec = specs.get(key);
    if (!spec) errors.push(sluiceError("SLUICE_CONFIG_UNKNOWN_KEY", { key, source: "command line", known: [...specs.keys()] }));
    // Any key can be set with --set, so that is what a flag not recorded by parseArgs was.
    else set(spec, raw, src.flags[typedFlags]?.[key] ?? `--set ${key}`);
  }
  if (errors.length > 0) return { errors };

  const get = <T>(key: string): T => (values.has(key) ? values.get(key) : specs.get(key)!.default) as T;
  const sourceOf = (key: string) => sources.get(key) ?? "default";
  const abs = (p: string) => path.resolve(src.cwd, p);
  const config: SluiceConfig = {
    host: get("host"),
    port: get("port"),
    functionsDir: abs(get("functionsDir")),
    cacheDir: abs(get("cacheDir")),
    protoGenDir: abs(get("protoGenDir")),
    logLevel: get("logLevel"),
    logFormat: get("logFormat"),
    typeCheck: get("typeCheck"),
    readMaxBytes: get("readMaxBytes"),
    writeMaxBytes: get("writeMaxBytes"),
    maxHeaderBytes: get("maxHeaderBytes"),
    maxTimeoutMs: get("maxTimeoutMs"),
    defaultTimeoutMs: get("defaultTimeoutMs"),
    shutdownDelayMs: get("shutdownDelayMs"),
    drainTimeoutMs: get("drainTimeoutMs"),
    workers: get("workers"),
    idleTimeoutMs: get("idleTimeoutMs"),
    http2: {
      maxConcurrentStreams: get("http2.maxConcurrentStreams"),
      initialWindowSize: get("http2.initialWindowSize"),
      connectionWindowSize: get("http2.connectionWindowSize"),
      maxSessionMemoryBytes: get("http2.maxSessionMemoryBytes"),
      maxResets: get("http2.maxResets"),
      maxResetsPerSecond: get("http2.maxResetsPerSecond"),
      keepAliveMs: get("http2.keepAliveMs"),
    },
    http1: { headersTimeoutMs: get("http1.headersTimeoutMs"), bodyTimeoutMs: get("http1.bodyTimeoutMs") },
    firstMessageTimeoutMs: get("firstMessageTimeoutMs"),
    connections: { max: get("connections.max"), maxPerAddress: get("connections.maxPerAddress") },
    overload: {
      maxInFlight: get("overload.maxInFlight"),
      maxBufferedBytes: get("overload.maxBufferedBytes"),
      maxEventLoopDelayMs: get("overload.maxEventLoopDelayMs"),
      maxHeapPercent: get("overload.maxHeapPercent"),
    },
    limits,
    compression: { encodings: get("compression.encodings"), minBytes: get("compression.minBytes") },
    cors: {
      origins: get("cors.origins"),
      allowedHeaders: get("cors.allowedHeaders"),
      exposedHeaders: get("cors.exposedHeaders"),
      credentials: get("cors.credentials"),
      maxAgeSeconds: get("cors.maxAgeSeconds"),
    },
    websocket: { enabled: get("websocket.enabled"), pingIntervalMs: get("websocket.pingIntervalMs") },
    upstreams,
    routes,
    upstreamMaxPools: get("upstreamMaxPools"),
    admin: { port: get("admin.port"), host: get("admin.host") },
    reflection: get("reflection"),
    tracing: get("tracing"),
  };
  // A bundle imports the project's packages by walking up from its own
  // folder to a node_modules; from a cacheDir outside the project every
  // function would fail to load, blamed on its own top-level code.
  if (!isInside(config.cacheDir, src.cwd)) {
    errors.push(sluiceError("SLUICE_CONFIG_INVALID", { key: "cacheDir", value: get("cacheDir"), allowed: `a folder inside the project (${src.cwd}): function files are bundled there, and a bundle outside the project cannot import the project's node_modules`, source: sourceOf("cacheDir") }));
  }
  const adminToken = get<string | undefined>("admin.token");
  if (adminToken !== undefined) config.admin.token = adminToken;
  if (adminToken === undefined && !isLoopback(config.admin.host)) {
    errors.push(sluiceError("SLUICE_CONFIG_INVALID", { key: "admin.token", value: undefined, allowed: `a token: admin.host ${config.admin.host} is not a loopback address, and the admin listener serves profiles and metrics (set admin.token, e.g. SLUICE_ADMIN_TOKEN)`, source: "config" }));
  }
  const cert = get<string | undefined>("tls.cert");
  const key = get<string | undefined>("tls.key");
  const ca = get<string | undefined>("tls.ca");
  const requireClientCert = get<boolean>("tls.requireClientCert");
  const staticDir = get<string | undefined>("staticDir");
  if (staticDir !== undefined) config.staticDir = abs(staticDir);
  if ((cert === undefined) !== (key === undefined)) {
    const missing = cert === undefined ? "tls.cert" : "tls.key";
    errors.push(sluiceError("SLUICE_CONFIG_INVALID", { key: missing, value: undefined, allowed: "a PEM file path: tls.cert and tls.key go together", source: "config" }));
  } else if (cert !== undefined && key !== undefined) {
    config.tls = { cert: abs(cert), key: abs(key), requireClientCert, ...(ca ? { ca: abs(ca) } : {}) };
  }
  if (requireClientCert && (config.tls === undefined || ca === undefined)) {
    errors.push(sluiceError("SLUICE_CONFIG_INVALID", { key: "tls.requireClientCert", value: true, allowed: "false unless tls.cert, tls.key and tls.ca are set", source: sourceOf("tls.requireClientCert") }));
  }
  // The listener asks clients for a certificate only when one is required:
  // a CA alone would verify nothing, while looking as if it did.
  if (ca !== undefined && !requireClientCert) {
    errors.push(sluiceError("SLUICE_CONFIG_INVALID", { key: "tls.ca", value: ca, allowed: "unset unless tls.requireClientCert is true: tls.ca is the CA that verifies client certificates, and clients are asked for one only with tls.requireClientCert: true; set both, or remove tls.ca", source: sourceOf("tls.ca") }));
  }
  if (config.cors.credentials && config.cors.origins.includes("*")) {
    errors.push(sluiceError("SLUICE_CONFIG_INVALID", { key: "cors.credentials", value: true, allowed: "false when cors.origins contains \"*\" (browsers refuse credentials with a wildcard origin); list the origins instead", source: sourceOf("cors.credentials") }));
  }
  return errors.length > 0 ? { errors } : { config, ...(file ? { file } : {}) };
}

function findConfigFile(src: ConfigSources): string | undefined {
  if (src.configFile) {
    const f = path.resolve(src.cwd, src.configFile);
    return existsSync(f) ? f : undefined;
  }
  return configFileNames.map((n) => path.join(src.cwd, n)).find((f) => existsSync(f));
}

/** Reads a config file's default export (a .json file's value), without validating it. */
export async function readConfigFile(file: string, cwd: string): Promise<{ value: unknown } | { error: SluiceError }> {
  const fail = (reason: string) => ({ error: sluiceError("SLUICE_CONFIG_LOAD_FAILED", { file: path.relative(cwd, file) || file, reason }) });
  try {
    if (file.endsWith(".json")) return { value: JSON.parse(readFileSync(file, "utf8")) };
    const built = await bundleModule(file, path.join(cwd, ".sluice", "config"));
    if (!built.ok) return fail(built.message);
    const mod = (await import(built.bundle.url)) as { default?: unknown };
    if (mod.default === undefined) return fail("it has no default export; write \"export default defineConfig({ ... })\"");
    return { value: mod.default };
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e));
  }
}

/** Whether `child` is `parent` or a path below it. */
function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** { cors: { origins: [] } } → [["cors.origins", []]]; lists and scalars are leaves. */
function flatten(value: unknown, prefix = ""): [string, unknown][] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return prefix === "" ? [["(root)", value]] : [[prefix, value]];
  }
  const out: [string, unknown][] = [];
  for (const [k, v] of Object.entries(value)) {
    const key = prefix === "" ? k : `${prefix}.${k}`;
    const isGroup = typeof v === "object" && v !== null && !Array.isArray(v);
    if (isGroup) out.push(...flatten(v, key));
    else out.push([key, v]);
  }
  return out;
}

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
