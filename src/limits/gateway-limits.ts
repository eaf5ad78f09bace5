import type { Logger } from "pino";
import type { SluiceConfig } from "../config/config.js";
import { Admission } from "./admission.js";
import { ConnectionLimits } from "./connection-limits.js";
import type { H2GuardOptions } from "./h2-session-guard.js";
import type { H1TimeoutOptions } from "./h1-timeouts.js";
import { LimitStats } from "./limit-stats.js";
import { OverloadMonitor } from "./overload-monitor.js";
import { RefusalLog } from "./refusal-log.js";


/**
 * The gateway-wide half of the limits, made once from the config: the
 * counters, overload detection, admission of calls (which also keeps each
 * route's slots and rate buckets), connection caps, and the HTTP/1.1 and
 * HTTP/2 protections the listener installs. Call engines reach it through
 * CallEnv.limits.
 */
export class GatewayLimits {
  readonly stats = new LimitStats();
  readonly overload: OverloadMonitor;
  readonly admission: Admission;
  readonly connections: ConnectionLimits;
  readonly h1: H1TimeoutOptions;
  readonly h2: H2GuardOptions;
  /** Calls shed by overload protection are logged here, summed up, not one line each. */
  readonly shedLog: RefusalLog;
  /** Unary and server-streaming calls: the request message must arrive within this. */
  readonly firstMessageTimeoutMs: number;

  constructor(config: SluiceConfig, inFlight: { readonly count: number }, log: Logger) {
    const o = config.overload;
    this.overload = new OverloadMonitor({
      maxEventLoopDelayMs: o.maxEventLoopDelayMs,
      maxHeapPercent: o.maxHeapPercent,
      maxBufferedBytes: o.maxBufferedBytes,
    });
    this.admission = new Admission({ maxInFlight: o.maxInFlight }, inFlight, this.overload, this.stats);
    this.connections = new ConnectionLimits(config.connections, this.stats, new RefusalLog(log, "SLUICE_CONNECTIONS_REFUSED"));
    this.shedLog = new RefusalLog(log, "SLUICE_CALLS_SHED");
    this.h1 = { headersTimeoutMs: config.http1.headersTimeoutMs, bodyTimeoutMs: config.http1.bodyTimeoutMs, keepAliveTimeoutMs: config.idleTimeoutMs };
    this.h2 = {
      maxStreams: config.http2.maxConcurrentStreams,
      maxResets: config.http2.maxResets,
      maxResetsPerSecond: config.http2.maxResetsPerSecond,
      keepAliveMs: config.http2.keepAliveMs,
    };
    this.firstMessageTimeoutMs = config.firstMessageTimeoutMs;
  }

  start(): void {
    this.overload.start();
  }

  /** Shutdown: queued calls are refused, sampling stops. */
  stop(): void {
    this.admission.close();
    this.overload.stop();
  }
}
