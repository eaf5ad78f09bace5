import { inOf, outOf, type RouteLimitsInput, type SlowConsumerPolicy } from "./limit-options.js";
import type { RatePolicy } from "./rate-limiter.js";

/** The limits of `limits` and function options that are not "unset" by default. */
export const limitDefaults = {
  queue: 0,
  queueTimeoutMs: 1_000,
  /** Counted as the memory responses take: their bytes plus a per-message overhead (see OutboundQueue). */
  outboundBufferBytes: 8 * 1024,
  slowConsumer: "block" as SlowConsumerPolicy,
  slowConsumerMs: 10_000,
  rateMaxKeys: 10_000,
} as const;

/** Per-stream limits of a route, as a StreamGovernor and an OutboundQueue apply them. */
export interface StreamPolicy {
  messagesPerSecondIn: number | undefined;
  messagesPerSecondOut: number | undefined;
  maxStreamMessagesIn: number | undefined;
  maxStreamMessagesOut: number | undefined;
  maxDurationMs: number | undefined;
  idleTimeoutMs: number | undefined;
  outboundBufferBytes: number;
  slowConsumer: SlowConsumerPolicy;
  slowConsumerMs: number;
  /** Something per stream is counted, paced or timed: a StreamGovernor is needed. */
  governed: boolean;
}

/** What is checked when a call arrives. */
export interface AdmissionPolicy {
  maxConcurrent: number | undefined;
  queue: number;
  queueTimeoutMs: number;
  rate: RatePolicy | undefined;
}

/** Every limit of one route, resolved from the layers that name it. */
export interface RoutePolicy {
  /** "pkg.Svc/Method", as limits and messages name it. */
  route: string;
  /** undefined: nothing to check on arrival (the call costs no admission work). */
  admission: AdmissionPolicy | undefined;
  stream: StreamPolicy;
  readMaxBytes: number;
  writeMaxBytes: number;
}

/** The stream policy of routes that set nothing: one shared object. */
export const defaultStreamPolicy: StreamPolicy = Object.freeze({
  messagesPerSecondIn: undefined,
  messagesPerSecondOut: undefined,
  maxStreamMessagesIn: undefined,
  maxStreamMessagesOut: undefined,
  maxDurationMs: undefined,
  idleTimeoutMs: undefined,
  outboundBufferBytes: limitDefaults.outboundBufferBytes,
  slowConsumer: limitDefaults.slowConsumer,
  slowConsumerMs: limitDefaults.slowConsumerMs,
  governed: false,
});

/** The config's `limits` entries for a method, lowest precedence first: "*", the service, the method. */
export function configLayers(limits: Readonly<Record<string, RouteLimitsInput>>, service: string, method: string): [RouteLimitsInput | undefined, RouteLimitsInput | undefined, RouteLimitsInput | undefined] {
  return [limits["*"], limits[service], limits[`${service}/${method}`]];
}

/**
 * Resolves a route's limits from layers, lowest precedence first (a later
 * layer's value wins; `in`/`out` are resolved separately; `rate` is taken
 * whole from the last layer that has one). `base` gives the message sizes
 * when no layer does (the config's readMaxBytes and writeMaxBytes).
 */
export function resolveRoutePolicy(route: string, layers: readonly (RouteLimitsInput | undefined)[], base: { readMaxBytes: number; writeMaxBytes: number }): RoutePolicy {
  const pick = <K extends keyof RouteLimitsInput>(key: K): RouteLimitsInput[K] | undefined => {
    let v: RouteLimitsInput[K] | undefined;
    for (const l of layers) if (l?.[key] !== undefined) v = l[key];
    return v;
  };
  const pickIn = (key: "messagesPerSecond" | "maxMessageBytes" | "maxStreamMessages"): number | undefined => {
    let v: number | undefined;
    for (const l of layers) {
      const x = inOf(l?.[key]);
      if (x !== undefined) v = x;
    }
    return v;
  };
  const pickOut = (key: "messagesPerSecond" | "maxMessageBytes" | "maxStreamMessages"): number | undefined => {
    let v: number | undefined;
    for (const l of layers) {
      const x = outOf(l?.[key]);
      if (x !== undefined) v = x;
    }
    return v;
  };

  const maxConcurrent = pick("maxConcurrent");
  const rateIn = pick("rate");
  const rate: RatePolicy | undefined = rateIn === undefined ? undefined : {
    perSecond: rateIn.perSecond,
    burst: rateIn.burst ?? Math.max(1, Math.ceil(rateIn.perSecond)),
    key: rateIn.key ?? "address",
    maxKeys: rateIn.maxKeys ?? limitDefaults.rateMaxKeys,
  };
  const admission: AdmissionPolicy | undefined = maxConcurrent === undefined && rate === undefined ? undefined : {
    maxConcurrent,
    queue: maxConcurrent === undefined ? 0 : (pick("queue") ?? limitDefaults.queue),
    queueTimeoutMs: pick("queueTimeoutMs") ?? limitDefaults.queueTimeoutMs,
    rate,
  };

  const stream: Omit<StreamPolicy, "governed"> = {
    messagesPerSecondIn: pickIn("messagesPerSecond"),
    messagesPerSecondOut: pickOut("messagesPerSecond"),
    maxStreamMessagesIn: pickIn("maxStreamMessages"),
    maxStreamMessagesOut: pickOut("maxStreamMessages"),
    maxDurationMs: pick("maxDurationMs"),
    idleTimeoutMs: pick("idleTimeoutMs"),
    outboundBufferBytes: pick("outboundBufferBytes") ?? limitDefaults.outboundBufferBytes,
    slowConsumer: pick("slowConsumer") ?? limitDefaults.slowConsumer,
    slowConsumerMs: pick("slowConsumerMs") ?? limitDefaults.slowConsumerMs,
  };
  const governed = stream.messagesPerSecondIn !== undefined || stream.messagesPerSecondOut !== undefined
    || stream.maxStreamMessagesIn !== undefined || stream.maxStreamMessagesOut !== undefined || stream.idleTimeoutMs !== undefined;
  const isDefault = !governed && stream.maxDurationMs === undefined && stream.outboundBufferBytes === defaultStreamPolicy.outboundBufferBytes
    && stream.slowConsumer === defaultStreamPolicy.slowConsumer && stream.slowConsumerMs === defaultStreamPolicy.slowConsumerMs;

  return {
    route,
    admission,
    stream: isDefault ? defaultStreamPolicy : Object.freeze({ ...stream, governed }),
    readMaxBytes: pickIn("maxMessageBytes") ?? base.readMaxBytes,
    writeMaxBytes: pickOut("maxMessageBytes") ?? base.writeMaxBytes,
  };
}
