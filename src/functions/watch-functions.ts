import { watch, type FSWatcher } from "node:fs";
import path from "node:path";

/** Changes that arrive within this window are handled as one reload. */
const debounceMs = 60;

/**
 * Watches the folders a dev server depends on and calls `onChange` once per
 * burst of changes. Reloads never overlap: a change during a reload
 * schedules one more reload after it.
 *
 * Folders are watched recursively and by folder, not by file, because code
 * generators (buf generate with `clean: true`) delete and recreate files.
 */
export class FunctionWatcher {
  #watchers = new Map<string, FSWatcher>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;

  constructor(private readonly onChange: () => Promise<void>, private readonly ignore: (file: string) => boolean) {}

  /** Starts watching each folder not watched yet. */
  watch(folders: Iterable<string>): void {
    for (const folder of folders) {
      if (this.#watchers.has(folder)) continue;
      try {
        const w = watch(folder, { recursive: true }, (_event, name) => {
          if (name !== null && this.ignore(path.join(folder, name.toString()))) return;
          this.#schedule();
        });
        w.on("error", () => {
          w.close();
          this.#watchers.delete(folder);
        });
        this.#watchers.set(folder, w);
      } catch {
        // A folder that does not exist (yet) is not watched.
      }
    }
  }

  close(): void {
    clearTimeout(this.#timer);
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#run(), debounceMs);
  }

  async #run(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.onChange().catch(() => {});
    await this.#running;
    this.#running = undefined;
    if (this.#again) {
      this.#again = false;
      await this.#run();
    }
  }
}

/**
 * The folders to watch for a set of function inputs: the functions folder,
 * plus, for every input outside it (generated code, shared helpers), the
 * top-level folder of the project that holds it (e.g. proto/).
 */
export function foldersToWatch(functionsDir: string, inputs: Iterable<string>, projectDir: string): Set<string> {
  const folders = new Set([functionsDir]);
  for (const input of inputs) {
    if (input.startsWith(functionsDir + path.sep) || input.includes(`${path.sep}node_modules${path.sep}`)) continue;
    const rel = path.relative(projectDir, input);
    if (rel.startsWith("..") || path.isAbsolute(rel)) {
      folders.add(path.dirname(input));
      continue;
    }
    const top = rel.split(path.sep)[0]!;
    if (top !== rel) folders.add(path.join(projectDir, top));
  }
  return folders;
}
