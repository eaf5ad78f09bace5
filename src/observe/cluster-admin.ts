import cluster, { type Worker } from "node:cluster";
import { Readable } from "node:stream";
import { sluiceError, SluiceError, type ErrorCode } from "../errors.js";
import { beforeLeavingCluster } from "../host/worker-pool.js";
import type { AdminSource, LocalSource } from "./admin-source.js";
import type { MetricFamily } from "./metric-families.js";
import { Profiler, type ProfileKind } from "./profiler.js";
import { RetiredTotals } from "./retired-totals.js";
import type { StatusSnapshot } from "./status-board.js";

/** The primary asks a worker; "profile-read" lets it send more of a profile, "profile-cancel" stops one. */
type AdminAsk =
  | { type: "sluice:admin"; id: number; op: "families" | "status" }
  | { type: "sluice:admin"; id: number; op: "profile"; kind: ProfileKind; seconds: number }
  | { type: "sluice:admin"; id: number; op: "profile-read" | "profile-cancel" };

/** A worker answers (profiles first send their JSON in chunks), and tells its final counters as it leaves. */
type AdminReply =
  | { type: "sluice:admin-reply"; id: number; result?: unknown; error?: { code: ErrorCode | undefined; message: string } }
  | { type: "sluice:admin-chunk"; id: number; chunk: string }
  | { type: "sluice:admin-final"; families: MetricFamily[]; status: StatusSnapshot };

/** A worker that does not answer a scrape within this long is counted with its last answer. */
const scrapeTimeoutMs = 3_000;
/**
 * Chunks of a profile a worker sends before the primary has passed them on:
 * the primary holds no more than these (the worker holds its profile
 * anyway, having made it), however slow the download.
 */
const profileWindow = 4;
/** Longest piece of a profile in one IPC message (a CPU profile comes as one string of megabytes). */
const profilePieceChars = 64 * 1024;
/** A worker that has been asked for more of a profile and sends nothing for this long is given up. */
const profileChunkTimeoutMs = 30_000;

/**
 * In a worker of `--workers N`: answers the primary's admin questions
 * (metrics, status counters, profiles) about this worker over IPC, and
 * sends its final counters as it leaves the cluster.
 */
export function answerAdminRequests(local: LocalSource): void {
  /** Profiles being sent: what the primary's profile-read and profile-cancel act on. */
  const sending = new Map<number, { read(): void; cancel(): void }>();
  process.on("message", (m: unknown) => {
    if (!isAsk(m)) return;
    if (m.op === "profile-read" || m.op === "profile-cancel") {
      const s = sending.get(m.id);
      if (m.op === "profile-read") s?.read();
      else s?.cancel();
      return;
    }
    const reply = (r: Omit<Extract<AdminReply, { type: "sluice:admin-reply" }>, "type" | "id">) => process.send?.({ type: "sluice:admin-reply", id: m.id, ...r });
    const run = async (): Promise<unknown> => {
      switch (m.op) {
        case "families":
          return (await local.families())[0];
        case "status":
          return local.snapshot();
        case "profile":
          await sendProfile(local.profile(m.kind, m.seconds), m.id, sending);
          return null;
      }
    };
    run().then(
      (result) => reply({ result }),
      (e: unknown) => reply({ error: { code: e instanceof SluiceError ? e.code : undefined, message: e instanceof Error ? e.message : String(e) } }),
    );
  });
  // After the drain, so that the calls it ended are in the primary's totals.
  beforeLeavingCluster(async () => ({ type: "sluice:admin-final", families: (await local.families())[0]!, status: local.snapshot() }) satisfies AdminReply);
}

/**
 * Sends a profile to the primary in pieces, at most profileWindow ahead of
 * what the primary has passed on. Read in flowing mode, paused between
 * chunks: an async iterator would hand over everything buffered at once,
 * and V8 buffers a whole heap snapshot as soon as it is read.
 */
function sendProfile(profile: Readable, id: number, sending: Map<number, { read(): void; cancel(): void }>): Promise<void> {
  return new Promise((resolve, reject) => {
    const pieces: string[] = [];
    let ahead = 0;
    let ended = false;
    const settle = (e?: Error) => {
      if (!sending.delete(id)) return;
      profile.destroy();
      if (e === undefined) resolve();
      else reject(e);
    };
    const pump = () => {
      while (ahead < profileWindow && pieces.length > 0) {
        process.send?.({ type: "sluice:admin-chunk", id, chunk: pieces.shift()! } satisfies AdminReply);
        ahead++;
      }
      if (pieces.length > 0) return;
      if (ended) settle();
      else profile.resume();
    };
    sending.set(id, {
      read() {
        ahead--;
        pump();
      },
      cancel: () => settle(),
    });
    // Whole characters per piece: the JSON is sent as text.
    profile.setEncoding("utf8");
    profile.on("data", (chunk: string) => {
      profile.pause();
      for (let at = 0; at < chunk.length; at += profilePieceChars) pieces.push(chunk.slice(at, at + profilePieceChars));
      pump();
    });
    profile.once("end", () => {
      ended = true;
      if (pieces.length === 0) settle();
    });
    profile.once("error", (e) => settle(e));
    profile.once("close", () => {
      if (!ended) settle(new Error("the profile stopped before its end"));
    });
  });
}

/** What the primary last heard from a worker alive; `seq` orders answers, so that a late one never replaces a newer one. */
interface Heard {
  families?: MetricFamily[];
  familiesSeq: number;
  status?: StatusSnapshot;
  statusSeq: number;
}

/**
 * In the primary of `--workers N`: the admin listener's view of every
 * worker. One scrape asks each worker alive (serving, or draining) for its
 * metric families and sums them per series, with two things kept so that
 * the sums, counters to Prometheus, never go down: a worker that does not
 * answer within 3 s counts with its last answer, and a worker that has
 * exited counts with its last answer (or the final counters it sent as it
 * left) forever after, folded into RetiredTotals. Profiles are taken by one
 * worker, chosen by its 1-based index, one at a time for all.
 */
export class ClusterSource implements AdminSource {
  readonly #workers: () => Worker[];
  readonly #profiler = new Profiler();
  /** Workers alive that have been asked or have told something; an exited one is folded into #retired. */
  readonly #heard = new Map<Worker, Heard>();
  readonly #retired = new RetiredTotals();
  #nextId = 0;

  constructor(workers: () => Worker[]) {
    this.#workers = workers;
    cluster.on("message", (worker, m: unknown) => {
      if (!isReply(m) || m.type !== "sluice:admin-final") return;
      // Final: no answer still on its way may replace it.
      this.#record(worker, "families", m.families, Infinity);
      this.#record(worker, "status", m.status, Infinity);
    });
    cluster.on("exit", (worker) => {
      const heard = this.#heard.get(worker);
      if (heard === undefined) return;
      this.#heard.delete(worker);
      if (heard.families !== undefined) this.#retired.fold(heard.families);
      if (heard.status !== undefined) this.#retired.foldSnapshot(heard.status);
    });
  }

  processes(): number {
    return this.#workers().length;
  }

  async families(): Promise<MetricFamily[][]> {
    await this.#askAll("families");
    return this.#retired.sumWith([...this.#heard.values()].flatMap((h) => (h.families !== undefined ? [h.families] : [])));
  }

  async snapshots(): Promise<StatusSnapshot[]> {
    await this.#askAll("status");
    return [...[...this.#heard.values()].flatMap((h) => (h.status !== undefined ? [h.status] : [])), this.#retired.snapshot()];
  }

  profile(kind: ProfileKind, seconds: number, worker: number | undefined): Readable {
    const workers = this.#workers();
    const index = worker ?? 1;
    const target = workers[index - 1];
    if (target === undefined) {
      throw sluiceError("SLUICE_ADMIN_WORKER_UNAVAILABLE", { worker: String(index), reason: `there are ${workers.length} workers serving (worker=1 to ${workers.length})` });
    }
    if (!target.isConnected()) throw sluiceError("SLUICE_ADMIN_WORKER_UNAVAILABLE", { worker: String(index), reason: "it is leaving" });
    this.#profiler.claim(kind, seconds);
    const id = ++this.#nextId;
    const name = String(target.process.pid);
    // Chunks taken while the reader was behind: the worker may send more once it has caught up.
    let owed = 0;
    let ended = false;
    let timer: NodeJS.Timeout | undefined;
    const send = (op: "profile-read" | "profile-cancel") => {
      if (target.isConnected()) target.send({ type: "sluice:admin", id, op } satisfies AdminAsk);
    };
    const waitForWorker = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(() => out.destroy(sluiceError("SLUICE_ADMIN_WORKER_UNAVAILABLE", { worker: name, reason: `no answer within ${ms} ms` })), ms);
    };
    const onMessage = (m: unknown) => {
      if (!isReply(m) || m.type === "sluice:admin-final" || m.id !== id) return;
      if (m.type === "sluice:admin-chunk") {
        if (out.push(m.chunk)) {
          send("profile-read");
          waitForWorker(profileChunkTimeoutMs);
        } else {
          // The reader is behind: the worker waits for it, so the timeout is the reader's (cutWhenStalled).
          owed++;
          clearTimeout(timer);
        }
        return;
      }
      ended = true;
      if (m.error === undefined) {
        clearTimeout(timer);
        out.push(null);
        return;
      }
      const { code, message } = m.error;
      out.destroy(code !== undefined ? new SluiceError(code, message) : sluiceError("SLUICE_ADMIN_WORKER_UNAVAILABLE", { worker: name, reason: message }));
    };
    const onExit = () => {
      ended = true;
      out.destroy(sluiceError("SLUICE_ADMIN_WORKER_UNAVAILABLE", { worker: name, reason: "it exited" }));
    };
    const out = new Readable({
      read() {
        if (owed === 0) return;
        for (; owed > 0; owed--) send("profile-read");
        if (!ended) waitForWorker(profileChunkTimeoutMs);
      },
      destroy: (e, done) => {
        clearTimeout(timer);
        target.off("message", onMessage);
        target.off("exit", onExit);
        // The reader went away (or gave up on the worker): the worker stops and frees its profile.
        if (!ended) send("profile-cancel");
        this.#profiler.release();
        done(e);
      },
    });
    target.on("message", onMessage);
    target.on("exit", onExit);
    // A heap snapshot takes as long as the heap is big; bound it generously.
    waitForWorker(kind === "heap-snapshot" ? 300_000 : seconds * 1000 + 30_000);
    target.send({ type: "sluice:admin", id, op: "profile", kind, seconds } satisfies AdminAsk);
    return out;
  }

  /** Asks every worker alive; each answer replaces what was last heard from it. */
  async #askAll(op: "families" | "status"): Promise<void> {
    const alive = new Set([...this.#workers(), ...this.#heard.keys()]);
    await Promise.allSettled([...alive].map(async (w) => {
      if (!w.isConnected() || w.isDead()) return;
      if (!this.#heard.has(w)) this.#heard.set(w, { familiesSeq: 0, statusSeq: 0 });
      const id = ++this.#nextId;
      this.#record(w, op, await this.#ask(w, id, op), id);
    }));
  }

  #record(worker: Worker, op: "families" | "status", value: unknown, seq: number): void {
    // A worker that has exited is in the retired totals already.
    if (worker.isDead()) return;
    let heard = this.#heard.get(worker);
    if (heard === undefined) this.#heard.set(worker, (heard = { familiesSeq: 0, statusSeq: 0 }));
    if (op === "families" && seq > heard.familiesSeq) {
      heard.families = value as MetricFamily[];
      heard.familiesSeq = seq;
    } else if (op === "status" && seq > heard.statusSeq) {
      heard.status = value as StatusSnapshot;
      heard.statusSeq = seq;
    }
  }

  #ask(worker: Worker, id: number, op: "families" | "status"): Promise<unknown> {
    const name = String(worker.process.pid);
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("exit", onExit);
      };
      const onMessage = (m: unknown) => {
        if (!isReply(m) || m.type !== "sluice:admin-reply" || m.id !== id) return;
        done();
        if (m.error === undefined) return resolve(m.result);
        reject(sluiceError("SLUICE_ADMIN_WORKER_UNAVAILABLE", { worker: name, reason: m.error.message }));
      };
      const onExit = () => {
        done();
        reject(sluiceError("SLUICE_ADMIN_WORKER_UNAVAILABLE", { worker: name, reason: "it exited" }));
      };
      const timer = setTimeout(() => {
        done();
        reject(sluiceError("SLUICE_ADMIN_WORKER_UNAVAILABLE", { worker: name, reason: `no answer within ${scrapeTimeoutMs} ms` }));
      }, scrapeTimeoutMs);
      worker.on("message", onMessage);
      worker.on("exit", onExit);
      worker.send({ type: "sluice:admin", id, op } satisfies AdminAsk);
    });
  }
}

function isAsk(m: unknown): m is AdminAsk {
  return typeof m === "object" && m !== null && (m as { type?: unknown }).type === "sluice:admin";
}

function isReply(m: unknown): m is AdminReply {
  const type = typeof m === "object" && m !== null ? (m as { type?: unknown }).type : undefined;
  return type === "sluice:admin-reply" || type === "sluice:admin-chunk" || type === "sluice:admin-final";
}
