import type { Logger } from "pino";
import type { CorsPolicy } from "../host/cors-policy.js";
import type { InFlight } from "../host/in-flight.js";
import type { DeadlineTimers } from "../limits/deadline-timers.js";
import type { Telemetry } from "../observe/telemetry.js";
import type { UpstreamRegistry } from "../upstream/upstream-registry.js";

/** What every call shares with the gateway that runs it. */
export interface CallEnv {
  deadlines: DeadlineTimers;
  inFlight: InFlight;
  /** Aborted when shutdown begins (RpcContext.draining). */
  draining: AbortSignal;
  log: Logger;
  /** One info line per call (log level info or finer). */
  readonly logCalls: boolean;
  cors: CorsPolicy;
  /** For ctx.upstream(). */
  upstreams: UpstreamRegistry;
  /** Metrics and tracing: each call asks it for its observer. */
  telemetry: Telemetry;
}
