import { existsSync } from "node:fs";
import path from "node:path";
import { sluiceError, type SluiceError } from "../errors.js";
import { checkConflicts } from "./check-conflicts.js";
import { findFunctionFiles } from "./find-function-files.js";
import { loadFunctionFile, type LoadedFunction } from "./load-function-file.js";

export interface ReloadReport {
  errors: SluiceError[];
  added: LoadedFunction[];
  updated: LoadedFunction[];
  removed: LoadedFunction[];
}

/**
 * The set of function files currently served, keyed by file.
 *
 * `load()` is all-or-nothing (start and check): any bad file fails it.
 * `reload()` is for dev mode: a file that fails keeps its previous version,
 * a file whose bundle hash did not change keeps its very object (and with
 * it its route handlers and module state), and a change that would create a
 * conflict between files is refused.
 */
export class FunctionRegistry {
  #current = new Map<string, LoadedFunction>();

  constructor(
    readonly functionsDir: string,
    private readonly bundleDir: string,
    private readonly reservedServices: ReadonlySet<string>,
  ) {}

  list(): LoadedFunction[] {
    return [...this.#current.values()];
  }

  /** Loads every function file; on any error nothing is loaded. */
  async load(): Promise<{ errors: SluiceError[] }> {
    const report = await this.#build(new Map());
    if (report.errors.length === 0) this.#current = report.next;
    return { errors: report.errors };
  }

  /** Loads every function file again, keeping what works (dev mode). */
  async reload(): Promise<ReloadReport> {
    const before = this.#current;
    const { next, errors } = await this.#build(before);
    this.#current = next;
    const added = [...next.entries()].filter(([f]) => !before.has(f)).map(([, fn]) => fn);
    const updated = [...next.entries()].filter(([f, fn]) => before.has(f) && before.get(f) !== fn).map(([, fn]) => fn);
    const removed = [...before.entries()].filter(([f]) => !next.has(f)).map(([, fn]) => fn);
    return { errors, added, updated, removed };
  }

  async #build(previous: Map<string, LoadedFunction>): Promise<{ next: Map<string, LoadedFunction>; errors: SluiceError[] }> {
    if (!existsSync(this.functionsDir)) {
      const dir = path.relative(process.cwd(), this.functionsDir) || this.functionsDir;
      return { next: previous, errors: [sluiceError("SLUICE_FUNCTIONS_DIR_MISSING", { dir })] };
    }
    const files = await findFunctionFiles(this.functionsDir);
    const outcomes = await Promise.all(files.map((f) => loadFunctionFile(f, this.functionsDir, this.bundleDir)));
    const errors: SluiceError[] = [];
    const next = new Map<string, LoadedFunction>();
    for (const outcome of outcomes) {
      if (outcome.ok) {
        const prev = previous.get(outcome.fn.file);
        next.set(outcome.fn.file, prev && prev.hash === outcome.fn.hash ? prev : outcome.fn);
      } else {
        errors.push(outcome.error);
        const prev = previous.get(outcome.file);
        if (prev) next.set(outcome.file, prev);
      }
    }
    const conflicts = checkConflicts([...next.values()], this.reservedServices);
    if (conflicts.errors.length > 0) {
      errors.push(...conflicts.errors);
      // Undo the changes that took part in a conflict; what was served before stays.
      for (const [file, fn] of [...next]) {
        if (!conflicts.files.has(fn.displayPath) || previous.get(file) === fn) continue;
        const prev = previous.get(file);
        if (prev) next.set(file, prev);
        else next.delete(file);
      }
    }
    return { next, errors };
  }
}
