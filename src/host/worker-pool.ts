import cluster, { type Worker } from "node:cluster";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { withProductionNodeFlags } from "./node-flags.js";

/** What a worker tells the primary once it serves. */
export interface WorkerListening {
  type: "sluice:listening";
  url: string;
  /** The routes table, printed once by the primary. */
  routes: string;
}

/** The primary's answer to "sluice:leaving": it hands this worker no more connections. */
interface WorkerReleased {
  type: "sluice:released";
}

/** From the primary: the shutdown delay has begun; fail readiness and go on serving. */
interface FailReadiness {
  type: "sluice:fail-readiness";
}

/** A worker that stopped listening asks to be released before it exits (see leaveCluster). */
interface WorkerLeaving {
  type: "sluice:leaving";
}

/** Longest wait for the primary's answer to "sluice:leaving" (it may be gone). */
const leaveTimeoutMs = 2_000;

export interface WorkerPoolOptions {
  count: number;
  log: Logger;
  /** Longest time a worker may take to drain (drainTimeoutMs plus its grace). */
  stopTimeoutMs: number;
  /** Environment added to every worker's. */
  env?: Record<string, string>;
}

/** Restarting a crashed worker waits this long, doubling per crash in a row up to maxBackoffMs. */
const firstBackoffMs = 500;
const maxBackoffMs = 30_000;
/** A worker that ran this long resets the backoff. */
const healthyAfterMs = 60_000;

/**
 * The primary of `sluice start --workers N`: N worker processes serve one
 * port (node:cluster hands each new connection to the next worker), and
 * the primary only supervises them.
 *
 * - start(): forks the workers and resolves once every one listens.
 * - A worker that dies unexpectedly is replaced, with a growing backoff.
 * - shutdown() (SIGTERM): every worker drains at once (readiness goes
 *   NOT_SERVING in each, streams get their drain time) and the primary
 *   exits when the last one has.
 * - rollingRestart() (SIGHUP): each worker in turn is replaced by a new one,
 *   which must listen before the old one drains, so the port never has
 *   fewer than N workers serving: new code (a redeployed artifact) goes live
 *   without dropping a call.
 */
export class WorkerPool {
  readonly #opts: WorkerPoolOptions;
  readonly #workers = new Set<Worker>();
  /** Workers being retired (draining); they are not replaced when they exit. */
  readonly #retiring = new Set<Worker>();
  /** Workers that listen and are not retiring, in the order they started. */
  readonly #serving = new Set<Worker>();
  #stopping = false;
  #crashesInARow = 0;
  #first: WorkerListening | undefined;

  constructor(opts: WorkerPoolOptions) {
    this.#opts = opts;
    // Each worker runs as a single `sluice start` would: with the production
    // flags, even when the primary was started without them.
    cluster.setupPrimary({ execArgv: withProductionNodeFlags(process.execArgv) });
  }

  get size(): number {
    return this.#workers.size;
  }

  /** The workers serving now (listening, not draining), oldest first: what one metrics scrape asks. */
  serving(): Worker[] {
    return [...this.#serving];
  }

  /** Forks the workers; resolves with the first one's announcement once all listen. */
  async start(): Promise<WorkerListening> {
    const started = await Promise.all(Array.from({ length: this.#opts.count }, () => this.#fork()));
    this.#first = started[0]!;
    return this.#first;
  }

  /**
   * Drains every worker; resolves once all have exited. With `delayMs`
   * (shutdownDelayMs), every worker first fails readiness and goes on
   * serving for that long.
   */
  async shutdown(delayMs = 0): Promise<void> {
    this.#stopping = true;
    if (delayMs > 0) {
      const message: FailReadiness = { type: "sluice:fail-readiness" };
      for (const w of this.#workers) if (w.isConnected()) w.send(message);
      this.#opts.log.info({ shutdownDelayMs: delayMs }, "readiness fails in every worker; serving new calls until the drain begins");
      await sleep(delayMs);
    }
    await Promise.all([...this.#workers].map((w) => this.#stop(w)));
  }

  /** Stops every worker at once, without draining (a second signal). */
  kill(): void {
    this.#stopping = true;
    for (const w of this.#workers) w.process.kill("SIGKILL");
  }

  /** Replaces the workers one at a time, each new one listening before its predecessor drains. */
  async rollingRestart(): Promise<void> {
    for (const old of [...this.#workers]) {
      if (this.#stopping) return;
      if (!this.#workers.has(old)) continue;
      await this.#fork();
      this.#opts.log.info({ worker: old.process.pid }, "rolling restart: draining the replaced worker");
      await this.#stop(old);
    }
  }

  /** Forks one worker; resolves when it listens, rejects if it exits first. */
  #fork(): Promise<WorkerListening> {
    const worker = cluster.fork(this.#opts.env);
    this.#workers.add(worker);
    const forkedAt = Date.now();
    return new Promise((resolve, reject) => {
      let listening = false;
      worker.on("message", (m: unknown) => {
        if (isListening(m) && !listening) {
          listening = true;
          this.#serving.add(worker);
          resolve(m);
        } else if (isLeaving(m) && worker.isConnected()) {
          const released: WorkerReleased = { type: "sluice:released" };
          worker.send(released);
        }
      });
      worker.on("exit", (code, signal) => {
        this.#workers.delete(worker);
        this.#serving.delete(worker);
        const retired = this.#retiring.delete(worker);
        if (!listening) {
          reject(new Error(`worker ${worker.process.pid} exited with ${signal ?? code} before it was listening`));
          return;
        }
        if (this.#stopping || retired) return;
        this.#replace(worker, code, signal, Date.now() - forkedAt);
      });
    });
  }

  #replace(dead: Worker, code: number | null, signal: string | null, ranMs: number): void {
    this.#crashesInARow = ranMs > healthyAfterMs ? 1 : this.#crashesInARow + 1;
    const delay = Math.min(maxBackoffMs, firstBackoffMs * 2 ** (this.#crashesInARow - 1));
    this.#opts.log.error({ worker: dead.process.pid, code, signal, restartInMs: delay }, "worker exited unexpectedly; starting a replacement");
    setTimeout(() => {
      if (this.#stopping) return;
      this.#fork().catch((e: unknown) => this.#opts.log.error({ err: e }, "replacement worker failed to start"));
    }, delay).unref();
  }

  /** Asks a worker to drain, and kills it if it outlasts stopTimeoutMs. */
  async #stop(worker: Worker): Promise<void> {
    if (worker.process.exitCode !== null || worker.process.signalCode !== null) return;
    this.#retiring.add(worker);
    this.#serving.delete(worker);
    const exited = once(worker, "exit");
    worker.process.kill("SIGTERM");
    const timer = setTimeout(() => worker.process.kill("SIGKILL"), this.#opts.stopTimeoutMs);
    timer.unref();
    await exited;
    clearTimeout(timer);
  }
}

function isListening(m: unknown): m is WorkerListening {
  return typeof m === "object" && m !== null && (m as { type?: unknown }).type === "sluice:listening";
}

function isLeaving(m: unknown): m is WorkerLeaving {
  return typeof m === "object" && m !== null && (m as { type?: unknown }).type === "sluice:leaving";
}

/**
 * In a worker that has stopped listening, before it exits: waits until the
 * primary can hand it no more connections.
 *
 * node:cluster's primary accepts each connection and passes it to a worker
 * over IPC; a worker that closed its server answers a connection still on
 * its way with "not accepted", and the primary passes it to another worker.
 * A worker that exits before that answer leaves the connection with the
 * primary, accepted and never served: its client waits forever. The IPC
 * channel keeps order, so once the primary answers this message (sent
 * after the close, so read after it), every connection it had sent this
 * worker has arrived and been answered.
 */
export async function leaveCluster(): Promise<void> {
  if (!process.connected || process.send === undefined) return;
  // Sent before "sluice:leaving", on the same ordered channel: the primary
  // has them before it releases this worker, so before it sees it exit.
  for (const words of lastWords) {
    const message = await Promise.race([words().catch(() => undefined), sleep(leaveTimeoutMs, undefined, { ref: false })]);
    if (message !== undefined && process.connected) process.send(message);
  }
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      process.off("message", onMessage);
      process.off("disconnect", done);
      resolve();
    };
    const onMessage = (m: unknown) => {
      if (typeof m === "object" && m !== null && (m as { type?: unknown }).type === "sluice:released") done();
    };
    const timer = setTimeout(done, leaveTimeoutMs);
    process.on("message", onMessage);
    process.on("disconnect", done);
    const leaving: WorkerLeaving = { type: "sluice:leaving" };
    process.send!(leaving);
  });
}

/** What leaveCluster sends the primary first (see beforeLeavingCluster). */
const lastWords: (() => Promise<object>)[] = [];

/**
 * In a worker: `message` is sent to the primary as the worker leaves the
 * cluster, once its calls have drained (the admin listener's final
 * counters of this worker, observe/cluster-admin.ts).
 */
export function beforeLeavingCluster(message: () => Promise<object>): void {
  lastWords.push(message);
}

/** In a worker: `fail` runs when the primary's shutdown delay begins (readiness fails, calls go on). */
export function onFailReadiness(fail: () => void): void {
  process.on("message", (m: unknown) => {
    if (typeof m === "object" && m !== null && (m as { type?: unknown }).type === "sluice:fail-readiness") fail();
  });
}

/** In a worker: tells the primary that this worker serves. */
export function announceListening(url: string, routes: string): void {
  const message: WorkerListening = { type: "sluice:listening", url, routes };
  process.send?.(message);
}
