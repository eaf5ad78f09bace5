import { Code, ConnectError } from "@connectrpc/connect";
import { rpcError } from "../errors.js";
import type { Deadlined, DeadlineTimers } from "./deadline-timers.js";
import type { LimitStats } from "./limit-stats.js";

/** What a call's deadline node is waiting for. */
export const enum Due {
  /** The deadline: the client's, or the route's default. */
  Deadline,
  /** limits maxDurationMs, shorter than the deadline. */
  MaxDuration,
  /** firstMessageTimeoutMs: the request message has to arrive first. */
  FirstMessage,
}

/**
 * A call with one deadline node (DeadlineTimers) that serves its deadline,
 * the route's maxDurationMs and the first-message timeout. The fields live
 * on the call, like the node's links, so that arming allocates nothing.
 * Function calls and proxy calls both are one.
 */
export interface DueCall extends Deadlined {
  due: Due;
  /** With Due.FirstMessage: when the deadline proper comes (performance.now() time), and what it is. */
  dueEnd: number;
  dueEndKind: Due;
}

/** What the node needs of the call's route. */
export interface DueRoute {
  /** "pkg.Svc/Method", for messages and counters. */
  readonly name: string;
  readonly stream: { readonly maxDurationMs: number | undefined };
}

/** The error of a call whose deadline passed. */
export const timedOut = () => new ConnectError("the operation timed out", Code.DeadlineExceeded);

/**
 * Arms the call's node for what is left of `deadlineMs` from `startedAt`
 * (the call's arrival: time spent in the route's queue counts, as the
 * client's deadline runs from when it sent the call), or for the route's
 * maxDurationMs from now when that is shorter. When the first-message
 * timeout applies (`firstMessageMs`: unary and server streaming, not a
 * Connect GET) and is shorter still, the node comes due then first and, if
 * the request has arrived by then, moves on to the rest (dueExpired).
 * False, and nothing armed, when the deadline has already passed.
 */
export function armDue(call: DueCall, timers: DeadlineTimers, startedAt: number, deadlineMs: number, route: DueRoute, firstMessageMs: number | undefined): boolean {
  const now = performance.now();
  let ms = deadlineMs - (now - startedAt);
  if (ms <= 0) return false;
  call.due = Due.Deadline;
  const maxDurationMs = route.stream.maxDurationMs;
  if (maxDurationMs !== undefined && maxDurationMs < ms) {
    ms = maxDurationMs;
    call.due = Due.MaxDuration;
  }
  if (firstMessageMs !== undefined && firstMessageMs < ms) {
    call.dueEnd = now + ms;
    call.dueEndKind = call.due;
    call.due = Due.FirstMessage;
    ms = firstMessageMs;
  }
  timers.add(call, ms);
  return true;
}

/**
 * The call's node came due: the error that ends the call (counted), or
 * undefined when only the first-message wait is over because the request
 * came, and the node has been armed again for the rest.
 */
export function dueExpired(call: DueCall, timers: DeadlineTimers, gotRequest: boolean, route: DueRoute, firstMessageMs: number, stats: LimitStats): ConnectError | undefined {
  switch (call.due) {
    case Due.Deadline:
      return timedOut();
    case Due.MaxDuration:
      stats.count("maxDuration", route.name);
      return rpcError("SLUICE_LIMIT_MAX_DURATION", Code.DeadlineExceeded, { route: route.name, ms: route.stream.maxDurationMs! });
    case Due.FirstMessage: {
      if (gotRequest) {
        call.due = call.dueEndKind;
        const left = call.dueEnd - performance.now();
        // Rounded up (to 1 s for long remainders), so that long calls share
        // a few timer lists instead of one per remainder.
        timers.add(call, left > 10_000 ? Math.ceil(left / 1000) * 1000 : Math.max(1, Math.ceil(left / 10) * 10));
        return undefined;
      }
      stats.count("firstMessageTimeout", route.name);
      return rpcError("SLUICE_LIMIT_FIRST_MESSAGE_TIMEOUT", Code.DeadlineExceeded, { route: route.name, ms: firstMessageMs });
    }
  }
}
