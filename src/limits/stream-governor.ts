import { Code, type ConnectError } from "@connectrpc/connect";
import { rpcError } from "../errors.js";
import type { Deadlined, DeadlineTimers } from "./deadline-timers.js";
import type { LimitStats } from "./limit-stats.js";
import type { StreamPolicy } from "./route-policy.js";
import { TokenBucket } from "./token-bucket.js";

/** What a governor needs from the gateway. */
export interface GovernorEnv {
  deadlines: DeadlineTimers;
  stats: LimitStats;
}

/**
 * The per-stream limits of one call, for any call engine: message counts
 * (maxStreamMessages), pacing (messagesPerSecond: a request is handed to
 * the handler, and a response is pulled from it, no faster than the rate,
 * after a burst of one second's worth), and the idle timeout (no message
 * either way). Made only for routes that set one of them, so other calls
 * pay nothing. The engine calls:
 *
 *   inbound()        when a request message arrives (it may return the error that ends the call)
 *   inboundDelay()   before handing a request to the handler (ms to wait; 0 = now, and the slot is taken)
 *   outboundDelay()  before pulling the next response (same)
 *   outbound()       when a response message goes out (may return the error)
 *   close()          when the call is over
 *
 * The idle timeout ends the call through `onLimit`.
 */
export class StreamGovernor implements Deadlined {
  // Deadlined: the idle timeout's node in the shared timer lists.
  deadlineAt = 0;
  deadlineList: Deadlined["deadlineList"] = undefined;
  deadlinePrev: Deadlined | undefined = undefined;
  deadlineNext: Deadlined | undefined = undefined;

  readonly #policy: StreamPolicy;
  readonly #route: string;
  readonly #env: GovernorEnv;
  readonly #onLimit: (error: ConnectError) => void;
  readonly #paceIn: TokenBucket | undefined;
  readonly #paceOut: TokenBucket | undefined;
  #in = 0;
  #out = 0;
  #lastActivity = 0;
  #closed = false;

  constructor(policy: StreamPolicy, route: string, env: GovernorEnv, onLimit: (error: ConnectError) => void) {
    this.#policy = policy;
    this.#route = route;
    this.#env = env;
    this.#onLimit = onLimit;
    const now = performance.now();
    const { messagesPerSecondIn: inRate, messagesPerSecondOut: outRate, idleTimeoutMs } = policy;
    if (inRate !== undefined) this.#paceIn = new TokenBucket(inRate, Math.max(1, Math.ceil(inRate)), now);
    if (outRate !== undefined) this.#paceOut = new TokenBucket(outRate, Math.max(1, Math.ceil(outRate)), now);
    if (idleTimeoutMs !== undefined) {
      this.#lastActivity = now;
      env.deadlines.add(this, idleTimeoutMs);
    }
  }

  /** Request messages so far. */
  get received(): number {
    return this.#in;
  }

  /** Response messages so far. */
  get sent(): number {
    return this.#out;
  }

  /** A request message arrived; the error ends the call when it is one too many. */
  inbound(): ConnectError | undefined {
    this.#in++;
    if (this.#policy.idleTimeoutMs !== undefined) this.#lastActivity = performance.now();
    const max = this.#policy.maxStreamMessagesIn;
    if (max !== undefined && this.#in > max) {
      this.#env.stats.count("maxStreamMessagesIn", this.#route);
      return rpcError("SLUICE_LIMIT_STREAM_MESSAGES", Code.ResourceExhausted, { route: this.#route, direction: "in", max });
    }
    return undefined;
  }

  /** ms until the next request may be handed on (0: now, and its slot is taken). */
  inboundDelay(): number {
    return this.#pace(this.#paceIn, "pacedIn");
  }

  /** ms until the next response may be pulled (0: now, and its slot is taken). */
  outboundDelay(): number {
    return this.#pace(this.#paceOut, "pacedOut");
  }

  /** A response message goes out; the error ends the call when it is one too many. */
  outbound(): ConnectError | undefined {
    this.#out++;
    if (this.#policy.idleTimeoutMs !== undefined) this.#lastActivity = performance.now();
    const max = this.#policy.maxStreamMessagesOut;
    if (max !== undefined && this.#out > max) {
      this.#env.stats.count("maxStreamMessagesOut", this.#route);
      return rpcError("SLUICE_LIMIT_STREAM_MESSAGES", Code.ResourceExhausted, { route: this.#route, direction: "out", max });
    }
    return undefined;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#env.deadlines.remove(this);
  }

  /** Deadlined: the idle timer came due; activity since then only moves it. */
  onDeadline(): void {
    if (this.#closed) return;
    const idle = this.#policy.idleTimeoutMs!;
    const left = this.#lastActivity + idle - performance.now();
    if (left > 1) {
      // Rounded up to a sixteenth of the timeout, so that streams share a
      // handful of timer lists instead of one per distinct remainder.
      const step = Math.max(1, Math.ceil(idle / 16));
      this.#env.deadlines.add(this, Math.ceil(left / step) * step);
      return;
    }
    this.#closed = true;
    this.#env.stats.count("idleTimeout", this.#route);
    this.#onLimit(rpcError("SLUICE_LIMIT_IDLE_TIMEOUT", Code.DeadlineExceeded, { route: this.#route, ms: idle }));
  }

  #pace(bucket: TokenBucket | undefined, event: "pacedIn" | "pacedOut"): number {
    if (bucket === undefined) return 0;
    const wait = bucket.take(performance.now());
    if (wait > 0) this.#env.stats.count(event, this.#route);
    return wait;
  }
}
