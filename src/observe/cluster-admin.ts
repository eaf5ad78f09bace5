import type { Worker } from "node:cluster";
import { sluiceError, SluiceError, type ErrorCode } from "../errors.js";
import type { AdminSource, LocalSource } from "./admin-source.js";
import type { MetricFamily } from "./metric-families.js";
import { Profiler, type ProfileKind } from "./profiler.js";
import type { StatusSnapshot } from "./status-board.js";

/** The primary asks a worker. */
type AdminAsk =
  | { type: "sluice:admin"; id: number; op: "families" | "status" }
  | { type: "sluice:admin"; id: number; op: "profile"; kind: ProfileKind; seconds: number };

/** A worker answers (profiles first send their JSON in chunks). */
type AdminReply =
  | { type: "sluice:admin-reply"; id: number; result?: unknown; error?: { code: ErrorCode | undefined; message: string } }
  | { type: "sluice:admin-chunk"; id: number; chunk: string };

/** A worker that does not answer a scrape within this long is left out of it. */
const scrapeTimeoutMs = 3_000;

/**
 * In a worker of `--workers N`: answers the primary's admin questions
 * (metrics, status counters, profiles) about this worker over IPC.
 */
export function answerAdminRequests(local: LocalSource): void {
  process.on("message", (m: unknown) => {
    if (!isAsk(m)) return;
    const reply = (r: Omit<Extract<AdminReply, { type: "sluice:admin-reply" }>, "type" | "id">) => process.send?.({ type: "sluice:admin-reply", id: m.id, ...r });
    const run = async (): Promise<unknown> => {
      switch (m.op) {
        case "families":
          return (await local.families())[0];
        case "status":
          return local.snapshot();
        case "profile":
          await local.profile(m.kind, m.seconds, undefined, (chunk) => process.send?.({ type: "sluice:admin-chunk", id: m.id, chunk }));
          return null;
      }
    };
    run().then(
      (result) => reply({ result }),
      (e: unknown) => reply({ error: { code: e instanceof SluiceError ? e.code : undefined, message: e instanceof Error ? e.message : String(e) } }),
    );
  });
}

/**
 * In the primary of `--workers N`: the admin listener's view of every
 * worker. One scrape asks each worker serving now for its metric families
 * and sums them per series (a worker that does not answer within 3 s is
 * left out of that scrape, rather than failing it). Profiles are taken by
 * one worker, chosen by its 1-based index, one at a time for all.
 */
export class ClusterSource implements AdminSource {
  readonly #workers: () => Worker[];
  readonly #profiler = new Profiler();
  #nextId = 0;

  constructor(workers: () => Worker[]) {
    this.#workers = workers;
  }

  processes(): number {
    return this.#workers().length;
  }

  async families(): Promise<MetricFamily[][]> {
    return this.#askAll<MetricFamily[]>("families");
  }

  async snapshots(): Promise<StatusSnapshot[]> {
    return this.#askAll<StatusSnapshot>("status");
  }

  async profile(kind: ProfileKind, seconds: number, worker: number | undefined, write: (chunk: string) => void): Promise<void> {
    const workers = this.#workers();
    const index = worker ?? 1;
    const target = workers[index - 1];
    if (target === undefined) {
      throw sluiceError("SLUICE_ADMIN_WORKER_UNAVAILABLE", { worker: String(index), reason: `there are ${workers.length} workers serving (worker=1 to ${workers.length})` });
    }
    this.#profiler.claim(kind, seconds);
    try {
      // A heap snapshot takes as long as the heap is big; bound it generously.
      await this.#ask(target, { op: "profile", kind, seconds }, kind === "heap-snapshot" ? 300_000 : seconds * 1000 + 30_000, write);
    } finally {
      this.#profiler.release();
    }
  }

  async #askAll<T>(op: "families" | "status"): Promise<T[]> {
    const answers = await Promise.allSettled(this.#workers().map((w) => this.#ask(w, { op }, scrapeTimeoutMs)));
    return answers.flatMap((a) => (a.status === "fulfilled" ? [a.value as T] : []));
  }

  #ask(worker: Worker, ask: Omit<Extract<AdminAsk, { op: "profile" }>, "type" | "id"> | { op: "families" | "status" }, timeoutMs: number, write?: (chunk: string) => void): Promise<unknown> {
    const id = ++this.#nextId;
    const name = String(worker.process.pid);
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("exit", onExit);
      };
      const onMessage = (m: unknown) => {
        if (!isReply(m) || m.id !== id) return;
        if (m.type === "sluice:admin-chunk") return write?.(m.chunk);
        done();
        if (m.error === undefined) return resolve(m.result);
        const { code, message } = m.error;
        reject(code !== undefined ? new SluiceError(code, message) : sluiceError("SLUICE_ADMIN_WORKER_UNAVAILABLE", { worker: name, reason: message }));
      };
      const onExit = () => {
        done();
        reject(sluiceError("SLUICE_ADMIN_WORKER_UNAVAILABLE", { worker: name, reason: "it exited" }));
      };
      const timer = setTimeout(() => {
        done();
        reject(sluiceError("SLUICE_ADMIN_WORKER_UNAVAILABLE", { worker: name, reason: `no answer within ${timeoutMs} ms` }));
      }, timeoutMs);
      worker.on("message", onMessage);
      worker.on("exit", onExit);
      worker.send({ type: "sluice:admin", id, ...ask } satisfies AdminAsk);
    });
  }
}

function isAsk(m: unknown): m is AdminAsk {
  return typeof m === "object" && m !== null && (m as { type?: unknown }).type === "sluice:admin";
}

function isReply(m: unknown): m is AdminReply {
  const type = typeof m === "object" && m !== null ? (m as { type?: unknown }).type : undefined;
  return type === "sluice:admin-reply" || type === "sluice:admin-chunk";
}
