import type { OutgoingHttpHeaders } from "node:http";
import { Code, ConnectError } from "@connectrpc/connect";
import { sharedError } from "../errors.js";
import type { Route } from "../host/route-table.js";
import { queued, type AdmissionWaiter } from "../limits/admission.js";
import { timedOut } from "../limits/call-due.js";
import type { RpcProtocol } from "../protocol/content-type.js";
import { headerValue } from "../protocol/metadata.js";
import { readClientTimeout } from "../protocol/timeout.js";
import type { CallEnv } from "./call-env.js";
import { answerEarlyError } from "./early-answer.js";
import type { Exchange } from "./exchange.js";
import type { QueryMessage } from "./function-call.js";

const clientLeft = sharedError(() => new ConnectError("the client cancelled the call or went away while it waited in the queue", Code.Canceled));

/** What waits: a function call or a proxy call, not yet run. */
export interface WaitingCall {
  /** `queuedSince`: when the call arrived, for a call that waited in its route's queue (its span starts then). */
  run(query?: QueryMessage, queuedSince?: number): void;
  abort(error: ConnectError): void;
}

/**
 * A call whose route had every maxConcurrent slot taken: it waits in the
 * route's queue (Admission.enqueue) until a slot is handed to it
 * (admitted: the call runs) or the wait ends without one (refused: queue
 * full, queueTimeoutMs, shutdown), and leaves the queue if its client goes
 * away first. Function calls and proxy calls wait the same way; the call
 * itself is not touched until it runs.
 */
export class QueuedCall implements AdmissionWaiter {
  readonly #since = performance.now();
  /** Waiting in the queue; then running (admitted), or over without running. */
  #state: "waiting" | "running" | "over" = "waiting";
  /** Ends the wait when the call's deadline passes first. */
  #deadline: NodeJS.Timeout | undefined;

  constructor(
    private readonly call: WaitingCall,
    private readonly x: Exchange,
    private readonly route: Route,
    private readonly protocol: RpcProtocol,
    private readonly env: CallEnv,
    private readonly requestId: string,
    /** A Connect GET request's message, kept until the call runs. */
    private readonly query: QueryMessage | undefined,
  ) {}

  /** Joins the route's queue, or is refused at once when it is full. */
  enqueue(): void {
    const admission = this.env.limits.admission;
    const verdict = admission.enqueue(this.route.admission, this);
    if (verdict !== queued) return this.refused(verdict);
    // The client's deadline runs while the call waits: one that passes in
    // the queue ends the wait, and an expired call never takes a slot.
    const ms = this.#deadlineMs();
    if (ms !== undefined) this.#deadline = setTimeout(() => this.abort(timedOut()), ms).unref();
    // The call's own run() replaces this callback once it runs.
    this.x.onClientGone(() => {
      if (this.#state !== "waiting") return;
      admission.withdraw(this.route.admission, this);
      this.#clientLeft();
    });
  }

  /**
   * Ends the call now (a WebSocket client broke the protocol, a gRPC-Web
   * text body did not decode): while it waits, it leaves the queue and is
   * answered with `error`, holding no slot to give back; once running, the
   * call ends itself.
   */
  abort(error: ConnectError): void {
    if (this.#state === "running") return this.call.abort(error);
    if (this.#state !== "waiting") return;
    this.env.limits.admission.withdraw(this.route.admission, this);
    this.refused(error);
  }

  /** A route slot is the call's. */
  admitted(): void {
    if (this.#state !== "waiting" || this.x.clientGone) {
      // Not to run: the slot goes straight back.
      this.env.limits.admission.release(this.route.admission);
      if (this.#state === "waiting") this.#clientLeft();
      return;
    }
    clearTimeout(this.#deadline);
    this.#state = "running";
    this.call.run(this.query, this.#since);
  }

  /** Refused before running: answered in the call's protocol, as errors before a call starts are. */
  refused(error: ConnectError): void {
    if (this.#state !== "waiting") return;
    this.#over();
    const x = this.x;
    if (!x.clientGone) {
      const out: OutgoingHttpHeaders = { "x-request-id": this.requestId };
      this.env.cors.applyToResponse(headerValue(x.headers.origin), out);
      try {
        answerEarlyError(x, error, out);
      } catch {
        x.cancel();
        x.release();
      }
    } else {
      x.release();
    }
    this.env.telemetry.refused(this.route, this.protocol, x.headers, error, this.#since);
    this.#log(error.code);
  }

  /** The client went away while the call waited: nothing to answer; counted as a call that ended CANCELLED, as it would have been had it run. */
  #clientLeft(): void {
    this.#over();
    this.x.release();
    this.env.telemetry.cancelledWaiting(this.route, this.protocol, this.x.headers, clientLeft(), this.#since);
    this.#log(Code.Canceled);
  }

  #over(): void {
    this.#state = "over";
    clearTimeout(this.#deadline);
  }

  /**
   * What is left of the call's deadline (the client's, or the route's
   * default, within its maximum), from its arrival; undefined when the
   * timeout header does not parse (the call answers that when it runs).
   */
  #deadlineMs(): number | undefined {
    const timeout = readClientTimeout(this.x.headers, this.protocol === "connect" ? "connect-timeout-ms" : "grpc-timeout");
    if (timeout.error) return undefined;
    const { maxMs, defaultMs } = this.route.deadline;
    return Math.max(0, Math.min(timeout.ms ?? defaultMs, maxMs) - (performance.now() - this.#since));
  }

  #log(code: Code): void {
    const env = this.env;
    if (env.logCalls) env.log.info({ reqId: this.requestId, rpc: this.route.path, code: Code[code], ms: Math.round((performance.now() - this.#since) * 10) / 10 }, "rpc");
  }
}
