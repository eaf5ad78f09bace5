/**
 * Every gateway option: its key, type, default, environment variable and
 * meaning. This table is the single source for validation (validate-config.ts),
 * environment overrides and the README's config reference.
 */

export type OptionType =
  | { kind: "string"; nonEmpty?: boolean }
  | { kind: "int"; min: number; max: number }
  /** An integer, or "auto" for a value Sluice works out (e.g. available parallelism). */
  | { kind: "int-or-auto"; min: number; max: number }
  | { kind: "bool" }
  | { kind: "enum"; values: readonly string[] }
  | { kind: "list"; of?: readonly string[] }
  | { kind: "path" }
  /** A secret sent in an HTTP header (a bearer token): never shown in an error. */
  | { kind: "token" };

export interface OptionSpec {
  /** Dotted key, as in the config file: `cors.origins`. */
  key: string;
  type: OptionType;
  /** `undefined` means "not set" (only for optional paths). */
  default: unknown;
  doc: string;
}

const MiB = 1024 * 1024;

export const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export const encodings = ["gzip", "br"] as const;
export const typeCheckModes = ["refuse", "warn", "off"] as const;
export const logFormats = ["auto", "pretty", "json"] as const;
export const tracingModes = ["auto", "off"] as const;

export const options: readonly OptionSpec[] = [
  { key: "host", type: { kind: "string", nonEmpty: true }, default: "127.0.0.1",
    doc: "Address to listen on. Use 0.0.0.0 (or ::) to accept connections from other machines, as in a container." },
  { key: "port", type: { kind: "int", min: 0, max: 65535 }, default: 8080,
    doc: "TCP port for HTTP/1.1, h2c and (with TLS) h2, all on one port. 0 picks a free port." },
  { key: "functionsDir", type: { kind: "path" }, default: "functions",
    doc: "Folder of function files, relative to the working directory." },
  { key: "cacheDir", type: { kind: "path" }, default: ".sluice",
    doc: "Folder where function files are bundled before loading, relative to the working directory. Must be inside the project (the working directory) so that bundles resolve the project's node_modules: a folder outside it is refused at start. A built artifact bundles nothing and does not use it." },
  { key: "protoGenDir", type: { kind: "path" }, default: "proto/gen",
    doc: "Folder of the code generated from proto/ (the *_pb.ts files buf generate writes), relative to the working directory. Proxy routes find their services' descriptors here; read only when routes are configured." },
  { key: "staticDir", type: { kind: "path" }, default: undefined,
    doc: "Folder served over GET for paths that are not RPCs, such as a browser app that calls the functions (index.html at /). Unset: no files are served." },
  { key: "logLevel", type: { kind: "enum", values: logLevels }, default: "info",
    doc: "Level of the JSON logs on stdout (pino). info writes one line per call with its status and duration; warn and above only problems." },
  { key: "logFormat", type: { kind: "enum", values: logFormats }, default: "auto",
    doc: "How logs are written: json (pino's JSON lines on stdout), pretty (one readable line each, with colours on a terminal), or auto: pretty for sluice dev, json for sluice start." },
  { key: "typeCheck", type: { kind: "enum", values: typeCheckModes }, default: "refuse",
    doc: "Type-checking of function files against their generated code, by sluice check and in sluice dev after every change. refuse: a file with type errors fails check, and dev does not load it (its previous version keeps serving); warn: errors are reported, the file loads; off: no type-checking." },
  { key: "workers", type: { kind: "int-or-auto", min: 1, max: 256 }, default: 1,
    doc: "Processes that serve the port (start only). 1: the gateway is one process. N > 1: a primary forks N workers with node:cluster, replaces a worker that dies, drains all on SIGTERM, and on SIGHUP replaces them one at a time (each new worker listening before the old one drains), so new function code goes live without dropping a call. \"auto\": one per available CPU (os.availableParallelism()), always under a primary, so that SIGHUP replaces them even on a one-CPU machine (a single process ignores SIGHUP)." },
  { key: "readMaxBytes", type: { kind: "int", min: 1, max: 1024 * MiB }, default: 4 * MiB,
    doc: "Largest request message accepted, in bytes, after decompression. Larger ones fail with RESOURCE_EXHAUSTED." },
  { key: "writeMaxBytes", type: { kind: "int", min: 1, max: 1024 * MiB }, default: 4 * MiB,
    doc: "Largest response message a handler may send, in bytes. Larger ones fail the call with RESOURCE_EXHAUSTED." },
  { key: "maxHeaderBytes", type: { kind: "int", min: 1024, max: 1024 * 1024 }, default: 16 * 1024,
    doc: "Largest request header block, in bytes (HTTP/1.1 header size, HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE)." },
  { key: "maxTimeoutMs", type: { kind: "int", min: 1, max: 2_147_483_647 }, default: 3_600_000,
    doc: "Longest deadline any call may have. A longer client deadline (grpc-timeout, connect-timeout-ms) is lowered to it." },
  { key: "defaultTimeoutMs", type: { kind: "int", min: 1, max: 2_147_483_647 }, default: 3_600_000,
    doc: "Deadline of calls that send none (capped by maxTimeoutMs). Long-lived streams end with DEADLINE_EXCEEDED when it passes." },
  { key: "shutdownDelayMs", type: { kind: "int", min: 0, max: 600_000 }, default: 0,
    doc: "On SIGTERM/SIGINT, how long to keep accepting and serving new calls with readiness already failing (/readyz 503, health NOT_SERVING) before the drain begins, so load balancers that poll readiness stop sending first. 0: drain at once (on Kubernetes, a preStop pause does this job)." },
  { key: "drainTimeoutMs", type: { kind: "int", min: 0, max: 3_600_000 }, default: 30_000,
    doc: "On SIGTERM/SIGINT, how long in-flight calls may run before they are ended with UNAVAILABLE." },
  { key: "idleTimeoutMs", type: { kind: "int", min: 1000, max: 86_400_000 }, default: 300_000,
    doc: "A connection with no open call and no traffic for this long is closed (HTTP/2 with GOAWAY)." },
  { key: "http2.maxConcurrentStreams", type: { kind: "int", min: 1, max: 100_000 }, default: 100,
    doc: "SETTINGS_MAX_CONCURRENT_STREAMS: open calls one HTTP/2 connection may have. A stream's slot is freed only once its handler has returned; a stream past the limit is refused with REFUSED_STREAM (Envoy max_concurrent_streams, edge 100; nginx http2_max_concurrent_streams 128)." },
  { key: "http2.initialWindowSize", type: { kind: "int", min: 1024, max: 2_147_483_647 }, default: 65_535,
    doc: "SETTINGS_INITIAL_WINDOW_SIZE: request bytes a client may send on one stream before the gateway has read them (Envoy initial_stream_window_size, edge 64 KiB)." },
  { key: "http2.connectionWindowSize", type: { kind: "int", min: 65_535, max: 2_147_483_647 }, default: 1024 * 1024,
    doc: "Request bytes a client may send on one connection, all streams together, before the gateway has read them (Envoy initial_connection_window_size, edge 1 MiB)." },
  { key: "http2.maxSessionMemoryBytes", type: { kind: "int", min: MiB, max: 1024 * MiB }, default: 10 * MiB,
    doc: "Memory one HTTP/2 connection may use for frames and headers being processed; past it, Node refuses new streams with ENHANCE_YOUR_CALM (Node's maxSessionMemory)." },
  { key: "http2.maxResets", type: { kind: "int", min: 1, max: 1_000_000 }, default: 400,
    doc: "Streams a connection may reset (or have refused) in a burst; with http2.maxResetsPerSecond, a token bucket. Once it is empty the connection gets GOAWAY ENHANCE_YOUR_CALM and is closed (Rapid Reset; Envoy overload.premature_reset_total_stream_count 500)." },
  { key: "http2.maxResetsPerSecond", type: { kind: "int", min: 1, max: 1_000_000 }, default: 100,
    doc: "Resets per second a connection regains in that bucket." },
  { key: "http2.keepAliveMs", type: { kind: "int", min: 0, max: 86_400_000 }, default: 60_000,
    doc: "While a connection has open calls, the gateway sends a PING this often; a peer that has not answered the previous one by the next is gone and the connection is closed. 0: no pings (Envoy connection_keepalive.interval, unset by default)." },
  { key: "http1.headersTimeoutMs", type: { kind: "int", min: 100, max: 3_600_000 }, default: 20_000,
    doc: "An HTTP/1.1 request's headers must be complete this long after its first byte; otherwise 408 and the connection is closed (nginx client_header_timeout 60 s; Node headersTimeout 60 s)." },
  { key: "http1.bodyTimeoutMs", type: { kind: "int", min: 100, max: 3_600_000 }, default: 30_000,
    doc: "While an HTTP/1.1 request body is arriving, the longest silence between two reads; then the connection is closed (nginx client_body_timeout 60 s)." },
  { key: "firstMessageTimeoutMs", type: { kind: "int", min: 1, max: 2_147_483_647 }, default: 30_000,
    doc: "A unary or server-streaming call whose request message has not fully arrived this long after its headers ends with DEADLINE_EXCEEDED, freeing its slot (Envoy request_timeout, off by default; nginx client_body_timeout). Client and bidi streams may stay quiet: limits idleTimeoutMs bounds those." },
  { key: "connections.max", type: { kind: "int", min: 1, max: 10_000_000 }, default: 10_000,
    doc: "Open connections at most; past it a new connection is closed at once, counted and logged (at most once per 10 s), so the process keeps file descriptors for the clients it has (Envoy overload global_downstream_max_connections; nginx worker_connections)." },
  { key: "connections.maxPerAddress", type: { kind: "int", min: 1, max: 10_000_000 }, default: 1000,
    doc: "Open connections at most from one client address; past it the same (nginx limit_conn, off by default)." },
  { key: "overload.maxInFlight", type: { kind: "int", min: 1, max: 10_000_000 }, default: 10_000,
    doc: "Calls in flight gateway-wide at most; past it new calls get UNAVAILABLE with a RetryInfo of 1 s (health checks excepted); calls in flight go on (Envoy circuit_breakers max_requests 1024 per cluster)." },
  { key: "overload.maxBufferedBytes", type: { kind: "int", min: 64 * 1024, max: 1024 * 1024 * MiB }, default: 256 * MiB,
    doc: "Response bytes held for slow readers, all streams together, at most; past it new calls are shed with UNAVAILABLE until it drains; health checks and calls in flight go on (Envoy overload buffer actions)." },
  { key: "overload.maxEventLoopDelayMs", type: { kind: "int", min: 0, max: 3_600_000 }, default: 2_000,
    doc: "Event-loop stall, sampled every 250 ms, at or above which new calls are shed; 0: not checked (@fastify/under-pressure maxEventLoopDelay, off by default)." },
  { key: "overload.maxHeapPercent", type: { kind: "int", min: 0, max: 100 }, default: 95,
    doc: "V8 heap in use, as a percentage of the heap limit, at or above which new calls are shed; 0: not checked (Envoy overload fixed_heap stop_accepting_requests at 0.98)." },
  { key: "compression.encodings", type: { kind: "list", of: encodings }, default: ["gzip", "br"],
    doc: "Per-message compression the RPC protocols may negotiate, in order of preference. Empty list: identity only." },
  { key: "compression.minBytes", type: { kind: "int", min: 0, max: 1024 * MiB }, default: 1024,
    doc: "Response messages smaller than this are sent uncompressed." },
  { key: "cors.origins", type: { kind: "list" }, default: [],
    doc: "Origins browsers may call from, e.g. https://app.example.com; \"*\" allows any. Empty: no cross-origin calls." },
  { key: "cors.allowedHeaders", type: { kind: "list" }, default: [],
    doc: "Request headers allowed in addition to the RPC protocols' own (Content-Type, Connect-*, Grpc-Timeout, X-Grpc-Web, ...)." },
  { key: "cors.exposedHeaders", type: { kind: "list" }, default: [],
    doc: "Response headers exposed in addition to the protocols' own (Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin, ...) and the call's own response headers." },
  { key: "cors.credentials", type: { kind: "bool" }, default: false,
    doc: "Send Access-Control-Allow-Credentials: true (cookies and client certificates). Not allowed with origin \"*\"." },
  { key: "cors.maxAgeSeconds", type: { kind: "int", min: 0, max: 86_400 }, default: 7200,
    doc: "How long browsers may cache a preflight answer." },
  { key: "websocket.enabled", type: { kind: "bool" }, default: true,
    doc: "Serve gRPC-Web over WebSocket (sub-protocol grpc-websockets) on the same port and paths, so browsers can do client and bidi streaming. The upgrade's Origin must be the gateway's own or one cors.origins allows." },
  { key: "websocket.pingIntervalMs", type: { kind: "int", min: 0, max: 3_600_000 }, default: 30_000,
    doc: "A WebSocket call gets a ping this often; a client that sent nothing (not even a pong) for a whole interval, while nothing was waiting to be sent to it, is taken for gone and its call is cancelled. 0: no pings." },
  { key: "tls.cert", type: { kind: "path" }, default: undefined,
    doc: "PEM certificate chain. With tls.key, the port speaks TLS and negotiates h2 or http/1.1 by ALPN." },
  { key: "tls.key", type: { kind: "path" }, default: undefined,
    doc: "PEM private key for tls.cert." },
  { key: "tls.ca", type: { kind: "path" }, default: undefined,
    doc: "PEM CA bundle that verifies client certificates; only with tls.requireClientCert true, since clients are asked for a certificate only then (set without it, it is refused at start)." },
  { key: "tls.requireClientCert", type: { kind: "bool" }, default: false,
    doc: "Reject TLS clients without a certificate signed by tls.ca." },
  { key: "admin.port", type: { kind: "int-or-auto", min: 0, max: 65535 }, default: "auto",
    doc: "Port of the admin listener (/metrics, the status page, profiles), apart from the RPC port. auto: off in sluice start; in sluice dev, 9464, or a free port when 9464 is taken. 0 picks a free port. While it is off, calls are not counted." },
  { key: "admin.host", type: { kind: "string", nonEmpty: true }, default: "127.0.0.1",
    doc: "Address of the admin listener. Anything but a loopback address (127.0.0.0/8, ::1, localhost) requires admin.token." },
  { key: "admin.token", type: { kind: "token" }, default: undefined,
    doc: "Bearer token the admin listener requires (Authorization: Bearer <token>) on every endpoint but the status page's HTML. Required when admin.host is not loopback; unset on loopback: no token asked. Visible ASCII characters, no spaces or line breaks: a token read from a file or Secret that ends with a newline is refused. In Kubernetes, give it from a Secret as SLUICE_ADMIN_TOKEN." },
  { key: "reflection", type: { kind: "bool" }, default: true,
    doc: "Serve gRPC server reflection (grpc.reflection.v1 and v1alpha), so that grpcurl, buf curl and Postman find every service without .proto files. false: not served." },
  { key: "tracing", type: { kind: "enum", values: tracingModes }, default: "auto",
    doc: "OpenTelemetry spans: auto makes a server span per call, and a client span per upstream call, whenever an OpenTelemetry SDK has registered a tracer provider (none registered: no span, nothing allocated); off never looks. See Operating Sluice." },
  { key: "upstreamMaxPools", type: { kind: "int", min: 1, max: 100_000 }, default: 1024,
    doc: "Upstream endpoints (each a pool of connections and its health) kept at once; beyond it, the least recently used is drained: calls in flight on it finish, then its connections close. See Upstreams." },
];

/** SLUICE_CORS_ORIGINS for cors.origins. */
export function envName(key: string): string {
  return "SLUICE_" + key.split(".").map((part) => part.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()).join("_");
}
