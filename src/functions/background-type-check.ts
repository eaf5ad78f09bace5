import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { FileVerdict } from "./type-check-functions.js";
import type { CheckReply, CheckRequest } from "./type-check-worker.js";

/**
 * Type-checks function files on a worker thread, so that a dev server keeps
 * answering calls while TypeScript works. One language service lives in
 * the worker for the whole session, so a check after an edit costs only
 * what the edit touched. Checks run one at a time, in order.
 */
export class BackgroundTypeCheck {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve(r: { verdicts: FileVerdict[]; ms: number }): void; reject(e: Error): void }>();
  #nextId = 1;
  #dead: Error | undefined;

  constructor(functionsDir: string, cwd = process.cwd()) {
    const compiled = new URL("./type-check-worker.js", import.meta.url);
    // From dist/ the worker is compiled JavaScript; from src/ (tests under tsx) it needs the loader.
    const fromSource = !existsSync(fileURLToPath(compiled));
    const entry = fromSource ? new URL("./type-check-worker.ts", import.meta.url) : compiled;
    this.#worker = new Worker(entry, { workerData: { functionsDir, cwd }, ...(fromSource ? { execArgv: ["--import", "tsx"] } : {}) });
    this.#worker.unref();
    this.#worker.on("message", (reply: CheckReply) => {
      const p = this.#pending.get(reply.id);
      if (!p) return;
      this.#pending.delete(reply.id);
      if ("error" in reply) p.reject(new Error(reply.error));
      else p.resolve(reply);
    });
    const fail = (e: Error) => {
      this.#dead = e;
      for (const p of this.#pending.values()) p.reject(e);
      this.#pending.clear();
    };
    this.#worker.on("error", fail);
    this.#worker.on("exit", (code) => fail(new Error(`the type-check worker exited (code ${code})`)));
  }

  /** Checks the function files as they are on disk now. */
  check(files: string[]): Promise<{ verdicts: FileVerdict[]; ms: number }> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, files } satisfies CheckRequest);
    });
  }

  close(): Promise<number> {
    return this.#worker.terminate();
  }
}
