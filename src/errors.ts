import { ConnectError, type Code } from "@connectrpc/connect";
import { didYouMean } from "./nearest-name.js";

/**
 * The catalogue of every error Sluice reports to an operator, a handler
 * author or (through the RPC protocols) a client. Each has a stable code,
 * a message that names what is wrong and, where there is one, the fix.
 * README.md ("Errors") documents each code; test/errors.test.ts checks
 * that the two stay in step.
 */

/** An error Sluice raises on purpose, with a stable `SLUICE_…` code. */
export class SluiceError extends Error {
  override name = "SluiceError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type ErrorCode = keyof typeof catalogue;

/**
 * Message builders, keyed by code. The key is the stable code users search
 * for; the function builds the message from the details at hand.
 */
const catalogue = {
  // Configuration (sluice.config.*, SLUICE_* environment, CLI flags).
  SLUICE_CONFIG_INVALID: (p: { key: string; value: unknown; allowed: string; source: string }) =>
    `config ${p.key} = ${show(p.value)} (from ${p.source}) is not allowed: expected ${p.allowed}`,
  SLUICE_CONFIG_UNKNOWN_KEY: (p: { key: string; source: string; known: string[] }) =>
    `config key ${p.key} (from ${p.source}) is not a Sluice option${didYouMean(p.key, p.known) || "; every key is in the Configuration table of README.md"}`,
  SLUICE_CONFIG_LOAD_FAILED: (p: { file: string; reason: string }) =>
    `could not load config file ${p.file}: ${p.reason}`,
  SLUICE_CLI_USAGE: (p: { reason: string }) => `${p.reason}\nRun "sluice --help" for usage.`,
  SLUICE_TLS_FILE_UNREADABLE: (p: { key: string; file: string; reason: string }) =>
    `config ${p.key}: cannot read ${p.file} (${p.reason}); give the path of a PEM file`,
  // One code for both listeners; the fix names the setting of the one that failed.
  SLUICE_LISTEN_FAILED: (p: { address: string; reason: string; key?: "port" | "admin.port" }) =>
    p.key === "admin.port"
      ? `cannot listen on ${p.address} (admin.port): ${p.reason}; choose another admin port with --set admin.port=<port> or SLUICE_ADMIN_PORT`
      : `cannot listen on ${p.address}: ${p.reason}; choose another port with --port or SLUICE_PORT`,

  // Built artifacts (sluice build, wrangler-free-deploy/).
  SLUICE_BUILD_FAILED: (p: { reason: string }) =>
    `sluice build could not write the artifact: ${p.reason}`,
  SLUICE_ARTIFACT_INVALID: (p: { file: string; reason: string }) =>
    `${p.file} does not describe a usable artifact: ${p.reason}; copy the whole folder that sluice build wrote, or build it again`,

  // Function files (functions/).
  SLUICE_FUNCTIONS_DIR_MISSING: (p: { dir: string }) =>
    `functions directory ${p.dir} does not exist; create it or point --functions at the right folder`,
  SLUICE_FUNCTION_BUILD_FAILED: (p: { file: string; reason: string; hint?: string }) =>
    `${p.file}: does not compile:\n${p.reason}\n${p.hint ?? "Fix the code above; nothing from this file was loaded"}`,
  SLUICE_FUNCTION_TYPE_ERRORS: (p: { file: string; errors: string[]; held: string }) =>
    `${p.file}: ${p.errors.length === 1 ? "1 type error" : `${p.errors.length} type errors`}:\n${p.errors.map((e) => `  ${e}`).join("\n")}\n${p.held}`,
  SLUICE_TYPECHECK_UNAVAILABLE: (p: { reason: string }) =>
    `cannot type-check function files: ${p.reason}; install TypeScript (npm install --save-dev typescript) or set typeCheck to "off"`,
  SLUICE_GENERATE_FAILED: (p: { command: string; output: string }) =>
    `code generation failed (${p.command}):\n${p.output}\nFix the .proto file; the functions keep serving the code generated before`,
  SLUICE_FUNCTION_IMPORT_FAILED: (p: { file: string; reason: string; hint?: string }) =>
    `${p.file}: threw while being loaded: ${p.reason}\n${p.hint ?? "Code at the top level of a function file runs at load; move work that can fail into the handler"}`,
  SLUICE_FUNCTION_NO_DEFAULT_EXPORT: (p: { file: string }) =>
    `${p.file}: has no default export; end the file with "export default defineFunction({ service, implementation })" (import defineFunction from "sluice"), or prefix the file name with "_" if it is a helper and not a function`,
  SLUICE_FUNCTION_NOT_DEFINED: (p: { file: string; got: string }) =>
    `${p.file}: the default export is ${p.got}, not a definition made with defineFunction(); write "export default defineFunction({ service, implementation })"`,
  SLUICE_FUNCTION_UNKNOWN_KEY: (p: { file: string; key: string; near: string | undefined }) =>
    `${p.file}: defineFunction() has no key "${p.key}"${p.near ? `; did you mean "${p.near}"?` : ""} (its keys are service, implementation, options and split)`,
  SLUICE_FUNCTION_UNKNOWN_SERVICE: (p: { file: string; got: string }) =>
    `${p.file}: "service" is ${p.got}, not a service descriptor; import the service from the code generated from proto/ (e.g. import { GreetService } from "../proto/gen/greet/v1/greet_pb.js") and run "npm run generate" after changing a .proto file`,
  SLUICE_FUNCTION_UNKNOWN_METHOD: (p: { file: string; service: string; method: string; known: string[] }) =>
    `${p.file}: ${p.service} has no method "${p.method}"; its methods are ${p.known.join(", ")} (in lowerCamelCase); rename or remove "${p.method}"`,
  SLUICE_FUNCTION_WRONG_STREAM_KIND: (p: { file: string; service: string; method: string; kind: string; fix: string }) =>
    `${p.file}: ${p.service}.${p.method} is ${p.kind}: ${p.fix}`,
  SLUICE_FUNCTION_NOT_A_FUNCTION: (p: { file: string; service: string; method: string; got: string }) =>
    `${p.file}: implementation of ${p.service}.${p.method} is ${p.got}; it must be a function`,
  SLUICE_FUNCTION_BAD_OPTION: (p: { file: string; key: string; value: unknown; allowed: string }) =>
    `${p.file}: option ${p.key} = ${show(p.value)} is not allowed: expected ${p.allowed}`,
  SLUICE_FUNCTION_DUPLICATE_METHOD: (p: { method: string; files: string[] }) =>
    `${p.method} is implemented by both ${p.files.join(" and ")}; a method can live in one file only, remove it from one of them`,
  SLUICE_FUNCTION_SPLIT_NOT_DECLARED: (p: { service: string; files: string[] }) =>
    `${p.service} is defined in ${p.files.join(" and ")}; to split a service over several files, add "split: true" to the definition in every one of them`,

  // Errors clients see, sent with the protocol's status (see src/protocol/).
  SLUICE_RPC_UNIMPLEMENTED: (p: { path: string }) =>
    `${p.path} is not served here: no function implements it`,
  SLUICE_RPC_DRAINING: () => `the server is shutting down; retry on another instance`,
  SLUICE_RPC_DRAIN_TIMEOUT: (p: { ms: number }) =>
    `the server shut down before this call finished (drain timeout ${p.ms} ms); retry on another instance`,
  SLUICE_RPC_INTERNAL: (p: { requestId: string }) =>
    `internal error; the server log has the details under request id ${p.requestId}`,
  SLUICE_RPC_BAD_RESPONSE: (p: { requestId: string }) =>
    `internal error: the function returned a response that does not match its schema; the server log has the details under request id ${p.requestId}`,
  SLUICE_GRPC_WEB_TEXT_BAD_BASE64: (p: { problem: string }) =>
    `the request body is not valid base64 for application/grpc-web-text: ${p.problem}`,
  SLUICE_WEBSOCKET_HANDSHAKE: (p: { path: string; problem: string }) =>
    `WebSocket upgrade to ${p.path} refused: ${p.problem}`,
  SLUICE_WEBSOCKET_ORIGIN_REFUSED: (p: { origin: string; path: string }) =>
    `WebSocket upgrade to ${p.path} from origin ${p.origin} refused: the origin is not in cors.origins and is not the gateway's own; add it to cors.origins`,
  SLUICE_WEBSOCKET_PROTOCOL_ERROR: (p: { problem: string }) =>
    `the client broke the grpc-websockets protocol: ${p.problem}`,

  // Proxy routes (config "routes").
  SLUICE_PROXY_UNKNOWN_SERVICE: (p: { route: string; service: string; near: string | undefined }) =>
    `routes.${p.route}: no service ${p.service} in the code generated from proto/${p.near ? `; did you mean "${p.near}"?` : ""}; add its .proto file under proto/ and run "npm run generate"`,
  SLUICE_PROXY_UNKNOWN_METHOD: (p: { route: string; service: string; method: string; known: string[] }) =>
    `routes.${p.route}: ${p.service} has no method ${p.method}; its methods are ${p.known.join(", ")}`,
  SLUICE_PROXY_DESCRIPTORS_UNAVAILABLE: (p: { dir: string; reason: string }) =>
    `proxy routes need the code generated from proto/, which could not be loaded from ${p.dir}: ${p.reason}; run "npm run generate" (or set protoGenDir)`,
  SLUICE_PROXY_CONFLICT: (p: { service: string; file: string }) =>
    `${p.file}: implements ${p.service}, which the config routes to an upstream (routes); a service is served either by functions or by an upstream: remove one`,

  // Flow limits (config "limits", function options, gateway-wide protection):
  // sent to clients with the status README.md gives each.
  SLUICE_LIMIT_CONCURRENCY: (p: { route: string; max: number }) =>
    `${p.route}: ${p.max} calls are already in flight (limits maxConcurrent ${p.max}); retry later`,
  SLUICE_LIMIT_QUEUE_FULL: (p: { route: string; max: number; queue: number }) =>
    `${p.route}: ${p.max} calls are in flight and ${p.queue} are waiting (limits maxConcurrent ${p.max}, queue ${p.queue}); retry later`,
  SLUICE_LIMIT_QUEUE_TIMEOUT: (p: { route: string; ms: number }) =>
    `${p.route}: no call slot became free within ${p.ms} ms (limits queueTimeoutMs ${p.ms}); retry later`,
  SLUICE_LIMIT_RATE: (p: { route: string; perSecond: number; retryMs: number }) =>
    `${p.route}: more than ${p.perSecond} calls per second (limits rate); retry in ${p.retryMs} ms`,
  SLUICE_LIMIT_STREAM_MESSAGES: (p: { route: string; direction: "in" | "out"; max: number }) =>
    `${p.route}: the stream carried more than ${p.max} ${p.direction === "in" ? "request" : "response"} messages (limits maxStreamMessages.${p.direction} ${p.max})`,
  SLUICE_LIMIT_MAX_DURATION: (p: { route: string; ms: number }) =>
    `${p.route}: the call reached the longest duration allowed, ${p.ms} ms (limits maxDurationMs)`,
  SLUICE_LIMIT_IDLE_TIMEOUT: (p: { route: string; ms: number }) =>
    `${p.route}: no message in either direction for ${p.ms} ms (limits idleTimeoutMs)`,
  SLUICE_LIMIT_FIRST_MESSAGE_TIMEOUT: (p: { route: string; ms: number }) =>
    `${p.route}: the request message did not arrive within ${p.ms} ms of the request headers (firstMessageTimeoutMs)`,
  SLUICE_LIMIT_SLOW_CONSUMER: (p: { route: string; bytes: number; ms: number }) =>
    `${p.route}: the client is not reading its responses: ${p.bytes} bytes waited for more than ${p.ms} ms (limits slowConsumer "cancel", slowConsumerMs ${p.ms})`,
  SLUICE_OVERLOADED: (p: { reason: string }) =>
    `the server is overloaded (${p.reason}) and sheds new calls; retry shortly, or on another instance`,
  // Logged (at most once per 10 s per kind), not sent: connection-level protection.
  SLUICE_CONNECTIONS_REFUSED: (p: { count: number; reason: string }) =>
    `refused ${p.count} new connection(s) in the last 10 s: ${p.reason}`,
  SLUICE_CALLS_SHED: (p: { count: number; reason: string }) =>
    `shed ${p.count} new call(s) with UNAVAILABLE in the last 10 s: ${p.reason}`,
  SLUICE_HTTP2_RESET_FLOOD: (p: { address: string; resets: number; perSecond: number }) =>
    `closed the HTTP/2 connection from ${p.address}: its streams were reset or refused faster than http2.maxResetsPerSecond ${p.perSecond} (${p.resets} on this connection); GOAWAY ENHANCE_YOUR_CALM`,

  // Upstreams (config "upstreams"): errors of calls to a backend, seen by
  // the function that made the call (or the client of a proxy route).
  SLUICE_UPSTREAM_UNKNOWN: (p: { name: string; known: string[] }) =>
    `no upstream is named "${p.name}"; ${p.known.length > 0 ? `the config has ${p.known.map((n) => `"${n}"`).join(", ")}` : "the config has none"}; add it under "upstreams" in sluice.config.ts`,
  SLUICE_UPSTREAM_NO_ENDPOINTS: (p: { upstream: string; reason: string }) =>
    `upstream ${p.upstream} has no endpoint to call: ${p.reason}`,
  SLUICE_UPSTREAM_NO_HEALTHY_ENDPOINT: (p: { upstream: string; endpoints: string[]; retryInMs: number }) =>
    `upstream ${p.upstream}: every endpoint is ejected after failing repeatedly (${p.endpoints.join(", ")}); the first is tried again in ${p.retryInMs} ms`,
  SLUICE_UPSTREAM_CONNECT_FAILED: (p: { upstream: string; endpoint: string; reason: string }) =>
    `upstream ${p.upstream}: cannot connect to ${p.endpoint}: ${p.reason}`,
  SLUICE_UPSTREAM_CONNECT_TIMEOUT: (p: { upstream: string; endpoint: string; ms: number }) =>
    `upstream ${p.upstream}: ${p.endpoint} did not complete the connection and HTTP/2 handshake within ${p.ms} ms (connectTimeoutMs)`,
  SLUICE_UPSTREAM_CONNECTION_LOST: (p: { upstream: string; endpoint: string; reason: string }) =>
    `upstream ${p.upstream}: the connection to ${p.endpoint} was lost: ${p.reason}`,
  SLUICE_UPSTREAM_STREAM_REFUSED: (p: { upstream: string; endpoint: string; reason: string }) =>
    `upstream ${p.upstream}: ${p.endpoint} did not process the call (${p.reason}); it is safe to retry`,
  SLUICE_UPSTREAM_STREAM_RESET: (p: { upstream: string; endpoint: string; code: string }) =>
    `upstream ${p.upstream}: ${p.endpoint} reset the call with HTTP/2 error ${p.code}`,
  SLUICE_UPSTREAM_QUEUE_FULL: (p: { upstream: string; endpoint: string; max: number }) =>
    `upstream ${p.upstream}: ${p.max} calls are already waiting for a stream to ${p.endpoint} (maxQueued); the upstream is saturated`,
  SLUICE_UPSTREAM_QUEUE_TIMEOUT: (p: { upstream: string; endpoint: string; ms: number }) =>
    `upstream ${p.upstream}: no connection to ${p.endpoint} could take the call within ${p.ms} ms (queueTimeoutMs); the upstream is saturated`,
  SLUICE_UPSTREAM_DEADLINE_EXCEEDED: (p: { upstream: string; endpoint: string; stage: string }) =>
    `upstream ${p.upstream}: the call's deadline passed while ${p.stage} (${p.endpoint})`,
  SLUICE_UPSTREAM_CLOSED: (p: { upstream: string; endpoint: string }) =>
    `upstream ${p.upstream}: the connections to ${p.endpoint} are being closed (shutdown, or the endpoint left DNS or the pool cache); the call was not sent`,

  // The admin listener (admin.port): metrics, status, profiles.
  SLUICE_ADMIN_UNAUTHORIZED: () =>
    `the admin listener requires its token: send "Authorization: Bearer <admin.token>"`,
  SLUICE_ADMIN_PROFILE_BUSY: (p: { running: string }) =>
    `a profile is already being taken (${p.running}); profiles are taken one at a time, try again when it is done`,
  SLUICE_ADMIN_BAD_REQUEST: (p: { reason: string }) => `bad admin request: ${p.reason}`,
  SLUICE_ADMIN_WORKER_UNAVAILABLE: (p: { worker: string; reason: string }) =>
    `worker ${p.worker} cannot answer: ${p.reason}`,
} as const;

type Params<C extends ErrorCode> = Parameters<(typeof catalogue)[C]>[0];

/** Builds the catalogued error `code` from its details. */
export function sluiceError<C extends ErrorCode>(
  code: C,
  ...args: Params<C> extends undefined ? [] : [details: Params<C>, cause?: unknown]
): SluiceError {
  const [details, cause] = args as [Params<C>, unknown];
  const build = catalogue[code] as (p: Params<C>) => string;
  return new SluiceError(code, `${code}: ${build(details)}`, cause === undefined ? undefined : { cause });
}

/**
 * Builds the catalogued error `code` as a ConnectError with the RPC status
 * `status`, for errors a client sees.
 */
export function rpcError<C extends ErrorCode>(
  code: C,
  status: Code,
  ...args: Params<C> extends undefined ? [] : [details: Params<C>]
): ConnectError {
  const build = catalogue[code] as (p: Params<C> | undefined) => string;
  return new ConnectError(`${code}: ${build(args[0])}`, status);
}

/**
 * A ConnectError made on its first use and shared after that, for the errors
 * a module keeps ready. Made at import instead, it would cost every start
 * about 15 ms: a ConnectError holds a Headers object, and Node loads its
 * fetch implementation (undici) on the first Headers of a process, for
 * errors most processes never raise.
 */
export function sharedError(make: () => ConnectError): () => ConnectError {
  let error: ConnectError | undefined;
  return () => (error ??= make());
}

/** Every code in the catalogue, for the docs check. */
export const errorCodes = Object.keys(catalogue) as ErrorCode[];

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
