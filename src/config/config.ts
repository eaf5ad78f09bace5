import type { RouteLimitsInput } from "../limits/limit-options.js";
import type { LimitsConfig } from "../limits/limits-config.js";
import type { UpstreamConfig, UpstreamConfigInput } from "../upstream/upstream-config.js";
import type { encodings, logFormats, logLevels, typeCheckModes } from "./options.js";

/** The gateway's resolved configuration; see options.ts for each key. */
export interface SluiceConfig {
  host: string;
  port: number;
  /** Absolute path. */
  functionsDir: string;
  /** Absolute path. */
  cacheDir: string;
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
  drainTimeoutMs: number;
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
  /** Present when tls.cert and tls.key are set; paths are absolute. */
  tls?: { cert: string; key: string; ca?: string; requireClientCert: boolean };
  /** Backends functions call (src/upstream/upstream-config.ts), by name. */
  upstreams: Record<string, UpstreamConfig>;
  upstreamMaxPools: number;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** What `sluice.config.ts` (or `.json`) may contain: any subset of the options. */
export type SluiceConfigInput = DeepPartial<Omit<SluiceConfig, "tls" | "upstreams" | "limits">> & {
  /** Flow limits by route name: "*" (every route), "pkg.Service" or "pkg.Service/Method". */
  limits?: Record<string, RouteLimitsInput>;
  tls?: { cert?: string; key?: string; ca?: string; requireClientCert?: boolean };
  upstreams?: Record<string, UpstreamConfigInput>;
};

/** Types a `sluice.config.ts` default export. */
export function defineConfig(config: SluiceConfigInput): SluiceConfigInput {
  return config;
}
