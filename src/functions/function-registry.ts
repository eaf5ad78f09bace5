import { existsSync } from "node:fs";
import path from "node:path";
import { sluiceError, type SluiceError } from "../errors.js";
import { checkConflicts } from "./check-conflicts.js";
import { FunctionBundler } from "./bundle-functions.js";
import { findFunctionFiles } from "./find-function-files.js";
import { loadFunctionFile, type LoadedFunction, type LoadOutcome } from "./load-function-file.js";
import { loadPrebuiltFunction, type PrebuiltFunction } from "./load-prebuilt-function.js";

export interface ReloadReport {
  errors: SluiceError[];
  /** The files that failed (or were held back), each with its error. */
  failed: { file: string; error: SluiceError }[];
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

  /**
   * Consulted before a file is loaded: an error here keeps the file from
   * being imported at all, as if it had failed to load (its previous version,
   * if any, keeps serving). Dev mode holds back files with type errors.
   */
  hold: ((file: string) => SluiceError | undefined) | undefined;

  /**
   * Consulted by `reload()` for a served file that is not on disk: true
   * keeps it serving. Dev's watcher says true for a file it has seen gone
   * for less than its removal grace (a delete-then-create save, a folder
   * being swapped) or not seen gone yet, so that a reload another file set
   * off in that moment does not drop it; the watcher reports the file
   * removed once the grace is over, and that reload drops it.
   */
  stillPresent: ((file: string) => boolean) | undefined;

  readonly #bundler: FunctionBundler;

  constructor(
    readonly functionsDir: string,
    bundleDir: string,
    private readonly reservedServices: ReadonlyMap<string, "built-in" | "proxy">,
    /** A built artifact's functions: imported as they are, never bundled. */
    private readonly prebuilt?: PrebuiltFunction[],
  ) {
    this.#bundler = new FunctionBundler(functionsDir, bundleDir);
  }

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
    const { next, errors, failed } = await this.#build(before);
    this.#current = next;
    const added = [...next.entries()].filter(([f]) => !before.has(f)).map(([, fn]) => fn);
    const updated = [...next.entries()].filter(([f, fn]) => before.has(f) && before.get(f) !== fn).map(([, fn]) => fn);
    const removed = [...before.entries()].filter(([f]) => !next.has(f)).map(([, fn]) => fn);
    return { errors, failed, added, updated, removed };
  }

  async #build(previous: Map<string, LoadedFunction>): Promise<{ next: Map<string, LoadedFunction>; errors: SluiceError[]; failed: ReloadReport["failed"] }> {
    if (this.prebuilt) return this.#check(previous, await Promise.all(this.prebuilt.map(loadPrebuiltFunction)));
    if (!existsSync(this.functionsDir)) {
      const dir = path.relative(process.cwd(), this.functionsDir) || this.functionsDir;
      return { next: previous, errors: [sluiceError("SLUICE_FUNCTIONS_DIR_MISSING", { dir })], failed: [] };
    }
    const files = await findFunctionFiles(this.functionsDir);
    // Held files are bundled too, only not imported: leaving them out would
    // change how the modules they share with other files are split.
    const builds = await this.#bundler.bundle(files);
    const outcomes = await Promise.all(files.map((f): Promise<LoadOutcome> => {
      const built = builds.get(f) ?? { ok: false, message: "not bundled", inputs: [f] };
      const held = this.hold?.(f);
      if (held) return Promise.resolve({ ok: false, file: f, inputs: built.ok ? built.bundle.inputs : built.inputs, error: held });
      return loadFunctionFile(f, built);
    }));
    const onDisk = new Set(files);
    const goneForNow = [...previous.values()].filter((fn) => !onDisk.has(fn.file) && this.stillPresent?.(fn.file) === true);
    return this.#check(previous, outcomes, goneForNow);
  }

  /**
   * Keeps what loaded, and refuses conflicts between files. A file gone for
   * now keeps serving unless another file now serves what it served: then
   * it was moved or renamed, and the new name wins at once.
   */
  #check(previous: Map<string, LoadedFunction>, outcomes: LoadOutcome[], goneForNow: LoadedFunction[] = []): { next: Map<string, LoadedFunction>; errors: SluiceError[]; failed: ReloadReport["failed"] } {
    const errors: SluiceError[] = [];
    const failed: ReloadReport["failed"] = [];
    const next = new Map<string, LoadedFunction>();
    for (const outcome of outcomes) {
      if (outcome.ok) {
        const prev = previous.get(outcome.fn.file);
        next.set(outcome.fn.file, prev && prev.hash === outcome.fn.hash ? prev : outcome.fn);
      } else {
        errors.push(outcome.error);
        failed.push({ file: outcome.file, error: outcome.error });
        const prev = previous.get(outcome.file);
        if (prev) next.set(outcome.file, prev);
      }
    }
    const conflicts = checkConflicts([...next.values()], this.reservedServices);
    if (conflicts.errors.length > 0) {
      errors.push(...conflicts.errors);
      for (const e of conflicts.errors) for (const fn of next.values()) if (conflicts.files.has(fn.displayPath) && previous.get(fn.file) !== fn) failed.push({ file: fn.file, error: e });
      // Undo the changes that took part in a conflict; what was served before stays.
      for (const [file, fn] of [...next]) {
        if (!conflicts.files.has(fn.displayPath) || previous.get(file) === fn) continue;
        const prev = previous.get(file);
        if (prev) next.set(file, prev);
        else next.delete(file);
      }
    }
    for (const fn of goneForNow) {
      if (checkConflicts([...next.values(), fn], this.reservedServices).errors.length === 0) next.set(fn.file, fn);
    }
    return { next, errors, failed };
  }
}
