import type { ProxyRouteConfig } from "../upstream/proxy-routes-config.js";
import type { RouteLimitsInput } from "../limits/limit-options.js";
import type { LimitsConfig } from "../limits/limits-config.js";
import type { UpstreamConfig, UpstreamConfigInput } from "../upstream/upstream-config.js";
import type { encodings, logFormats, logLevels, tracingModes, typeCheckModes } from "./options.js";

/** The gateway's resolved configuration; see options.ts for each key. */
export interface SluiceConfig {
  host: string;
  port: number;
  /** Absolute path. */
  functionsDir: string;
  /** Absolute path. */
  cacheDir: string;
  /** Absolute path of the generated code (proxy routes read its descriptors). */
  protoGenDir: string;
  /** Absolute path; undefined when no static files are served. */
  staticDir?: string;
  logLevel: (typeof logLevels)[number];
  /** json, pretty, or auto (pretty in dev). */
  logFormat: (typeof logFormats)[number];
  /** How sluice check and dev treat type errors in function files. */
  typeCheck: (typeof typeCheckModes)[number];
  readMaxBytes: number;
  writeMaxBytes: number;
  maxHeaderBytes: number;
  maxTimeoutMs: number;
  defaultTimeoutMs: number;
  /** Readiness fails this long before the drain begins (new calls still served). */
  shutdownDelayMs: number;
  drainTimeoutMs: number;
  /** Worker processes for start; "auto" is one per available CPU. */
  workers: number | "auto";
  idleTimeoutMs: number;
  http2: {
    maxConcurrentStreams: number;
    initialWindowSize: number;
    connectionWindowSize: number;
    maxSessionMemoryBytes: number;
    maxResets: number;
    maxResetsPerSecond: number;
    keepAliveMs: number;
  };
  http1: { headersTimeoutMs: number; bodyTimeoutMs: number };
  firstMessageTimeoutMs: number;
  connections: { max: number; maxPerAddress: number };
  overload: { maxInFlight: number; maxBufferedBytes: number; maxEventLoopDelayMs: number; maxHeapPercent: number };
  /** Per-route flow limits (src/limits/limit-options.ts), by route name: "*", "pkg.Svc", "pkg.Svc/Method". */
  limits: LimitsConfig;
  compression: { encodings: (typeof encodings)[number][]; minBytes: number };
  cors: {
    origins: string[];
    allowedHeaders: string[];
    exposedHeaders: string[];
    credentials: boolean;
    maxAgeSeconds: number;
  };
  /** gRPC-Web over WebSocket (src/host/websocket-upgrade.ts). */
  websocket: { enabled: boolean; pingIntervalMs: number };
  /** Present when tls.cert and tls.key are set; paths are absolute. */
  tls?: { cert: string; key: string; ca?: string; requireClientCert: boolean };
  /** Backends functions call (src/upstream/upstream-config.ts), by name. */
  upstreams: Record<string, UpstreamConfig>;
  upstreamMaxPools: number;
  /** The admin listener: port "auto" is off in start and on in dev. */
  admin: { port: number | "auto"; host: string; token?: string };
  /** Serve gRPC server reflection. */
  reflection: boolean;
  /** OpenTelemetry spans when an SDK is registered ("auto"), or never. */
  tracing: (typeof tracingModes)[number];
  /** Proxy routes (src/upstream/proxy-routes-config.ts): services or methods served by an upstream. */
  routes: ProxyRouteConfig[];
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** What `sluice.config.ts` (or `.json`) may contain: any subset of the options. */
export type SluiceConfigInput = DeepPartial<Omit<SluiceConfig, "tls" | "upstreams" | "routes" | "admin" | "limits">> & {
  admin?: { port?: number | "auto"; host?: string; token?: string };
  /** Flow limits by route name: "*" (every route), "pkg.Service" or "pkg.Service/Method". */
  limits?: Record<string, RouteLimitsInput>;
  tls?: { cert?: string; key?: string; ca?: string; requireClientCert?: boolean };
  upstreams?: Record<string, UpstreamConfigInput>;
  /** "pkg.v1.Service" or "pkg.v1.Service/Method" → the upstream that serves it, and how. */
  routes?: Record<string, ProxyRouteInput>;
};

/** What a config file may say about one proxy route. */
export interface ProxyRouteInput {
  upstream: string;
  forwardHeaders?: string[];
  setHeaders?: Record<string, string>;
  maxTimeoutMs?: number;
  defaultTimeoutMs?: number;
  readMaxBytes?: number;
  writeMaxBytes?: number;
  compression?: { encodings?: ("gzip" | "br")[]; minBytes?: number };
  retry?: UpstreamConfigInput["retry"];
}

/** Types a `sluice.config.ts` default export. */
export function defineConfig(config: SluiceConfigInput): SluiceConfigInput {
  return config;
}
