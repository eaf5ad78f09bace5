import { createHash } from "node:crypto";
import { watch, type FSWatcher } from "node:fs";
import { lstat, readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";

/** A file whose content changed, appeared or went away since the last scan. */
export interface FileChange {
  file: string;
  kind: "added" | "changed" | "removed";
}

export interface WatchOptions {
  /** Folders whose files are tracked, recursively (the functions folder, proto/). */
  roots(): Iterable<string>;
  /** Which files under the roots are tracked (by absolute path). */
  tracks(file: string): boolean;
  /** Single files tracked wherever they are (generated code a function imports, the config file). */
  files(): Iterable<string>;
  /** Called once per burst of content changes; never while the previous call runs. */
  onChanges(changes: FileChange[]): Promise<void>;
  /** Files whose timestamps changed but whose content did not (a touch, a checkout of the same content). */
  onTouched?(files: string[]): void;
  /** A scan waits this long after the last file event, so a burst is one scan. Default 50 ms. */
  quietMs?: number;
  /** Scans this often even without events, in case an event was lost. Default 1000 ms. */
  pollMs?: number;
  /** A file must stay gone this long to count as removed. Default 500 ms. */
  removalGraceMs?: number;
}

interface Tracked {
  hash: string;
  /** What lstat said when the hash was taken: equal stats mean equal content, unless the file is too fresh to tell. */
  stamp: string;
  mtimeMs: number;
}

/**
 * A watcher for dev mode that does not miss changes and does not invent them.
 *
 * fs.watch on a file follows its inode, so after an editor saves by rename
 * (vim, sed -i, atomic saves) it watches a file that is gone, and Node 20's
 * recursive watching on Linux does just that for every file. Here events
 * only wake the watcher up: it watches folders (one non-recursive watcher
 * each, re-made when a folder is replaced), and also scans on a timer in
 * case an event is lost. Each scan compares content hashes with the last
 * scan, so a touch or a checkout of the same content changes nothing, and a
 * real change is seen however it was written. Scans are serialized, and a
 * burst of events (a checkout of fifty files) becomes one scan.
 */
export class FunctionWatcher {
  readonly #opts: WatchOptions;
  readonly #quietMs: number;
  /** Watched folder → its watcher and the inode it was opened on. */
  readonly #folders = new Map<string, { watcher: FSWatcher; ino: number }>();
  #tracked = new Map<string, Tracked>();
  /** The single files tracked so far; one that joins later starts as a baseline, not as a change. */
  #extras = new Set<string>();
  /** Files seen missing, and since when; removed once gone for removalGraceMs. */
  readonly #missing = new Map<string, number>();
  readonly #removalGraceMs: number;
  #confirmTimer: NodeJS.Timeout | undefined;
  /** Set when a file changed while it was being read; the scan is repeated. */
  #unsettled = false;
  #timer: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(opts: WatchOptions) {
    this.#opts = opts;
    this.#quietMs = opts.quietMs ?? 50;
    this.#removalGraceMs = opts.removalGraceMs ?? 500;
    const pollMs = opts.pollMs ?? 1000;
    this.#poll = setInterval(() => this.#schedule(0), pollMs);
    this.#poll.unref();
  }

  /** Takes the first snapshot (no changes reported) and starts watching. */
  async start(): Promise<void> {
    const { files, folders } = await this.#list();
    this.#tracked = await this.#hashAll(files, new Map());
    this.#extras = new Set(this.#opts.files());
    await this.#syncFolderWatchers(folders);
  }

  /**
   * Whether the last scan counted `file` as there: it was, or it has been
   * gone for less than removalGraceMs. Whoever reads the folder between
   * scans (a reload) should treat such a file as still there: if it is
   * really gone, a later scan reports it removed.
   */
  present(file: string): boolean {
    return this.#tracked.has(file);
  }

  /** Scans now (after a reload changed what is tracked, for instance). */
  rescan(): void {
    this.#schedule(0);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#confirmTimer);
    clearInterval(this.#poll);
    for (const { watcher } of this.#folders.values()) watcher.close();
    this.#folders.clear();
  }

  #schedule(delayMs = this.#quietMs): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#run(), delayMs);
  }

  async #run(): Promise<void> {
    this.#running = this.#scan().catch(() => {});
    await this.#running;
    this.#running = undefined;
    if (this.#again) {
      this.#again = false;
      this.#schedule();
    }
  }

  async #scan(): Promise<void> {
    const { files, folders } = await this.#list();
    const before = this.#tracked;
    const touched: string[] = [];
    this.#unsettled = false;
    const now = await this.#hashAll(files, before, touched);
    if (this.#unsettled) this.#again = true;
    await this.#syncFolderWatchers(folders);
    const extras = new Set(this.#opts.files());
    const changes: FileChange[] = [];
    for (const [file, t] of now) {
      const prev = before.get(file);
      // Newly tracked because a function now imports it: what changed is the importer.
      if (!prev && extras.has(file) && !this.#extras.has(file)) continue;
      if (!prev) changes.push({ file, kind: "added" });
      else if (prev.hash !== t.hash) changes.push({ file, kind: "changed" });
    }
    let confirmInMs: number | undefined;
    const scanned = Date.now();
    for (const [file, prev] of before) {
      if (now.has(file)) {
        this.#missing.delete(file);
        continue;
      }
      // No longer imported by any function: not tracked any more, but not deleted either.
      if (this.#extras.has(file) && !extras.has(file) && !files.has(file)) continue;
      // Gone for a moment may be a delete-then-create save or a folder being
      // swapped (and a busy machine can stretch that moment): believe it once
      // it has stayed gone for removalGraceMs.
      const since = this.#missing.get(file) ?? scanned;
      this.#missing.set(file, since);
      const left = since + this.#removalGraceMs - scanned;
      if (left > 0) {
        now.set(file, prev);
        confirmInMs = Math.min(confirmInMs ?? left, left);
        continue;
      }
      this.#missing.delete(file);
      changes.push({ file, kind: "removed" });
    }
    if (confirmInMs !== undefined) {
      clearTimeout(this.#confirmTimer);
      this.#confirmTimer = setTimeout(() => this.#schedule(0), confirmInMs);
    }
    this.#tracked = now;
    this.#extras = extras;
    if (touched.length > 0) this.#opts.onTouched?.(touched);
    if (changes.length > 0 && !this.#closed) await this.#opts.onChanges(changes.sort((a, b) => a.file.localeCompare(b.file)));
  }

  /** Every tracked file that exists now, and every folder to watch. */
  async #list(): Promise<{ files: Set<string>; folders: Set<string> }> {
    const files = new Set<string>();
    const folders = new Set<string>();
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return; // gone, or not a folder
      }
      folders.add(dir);
      for (const e of entries) {
        if (e.name.startsWith(".") || e.name === "node_modules") continue;
        const full = path.join(dir, e.name);
        if (e.isDirectory()) await walk(full);
        else if ((e.isFile() || e.isSymbolicLink()) && this.#opts.tracks(full)) files.add(full);
      }
    };
    for (const root of this.#opts.roots()) {
      await walk(root);
      // A root that is renamed, deleted or replaced as a whole shows up in its parent.
      folders.add(await nearestExisting(path.dirname(root)));
      if (!folders.has(root)) folders.add(await nearestExisting(root));
    }
    for (const file of this.#opts.files()) {
      files.add(file);
      // The nearest folder that exists: generated code is deleted and re-made as a whole tree.
      folders.add(await nearestExisting(path.dirname(file)));
    }
    return { files, folders };
  }

  async #hashAll(files: Set<string>, previous: Map<string, Tracked>, touched?: string[]): Promise<Map<string, Tracked>> {
    const out = new Map<string, Tracked>();
    const scanStarted = Date.now();
    await Promise.all([...files].map(async (file) => {
      let s;
      try {
        s = await stat(file);
      } catch {
        return; // does not exist (an extra file not there yet, or deleted)
      }
      if (!s.isFile()) return;
      const stamp = `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
      const prev = previous.get(file);
      // Same stat, and old enough that a write within the same timestamp tick
      // is impossible: the content is the same (git's "racy" rule).
      if (prev && prev.stamp === stamp && scanStarted - s.mtimeMs > 2000) {
        out.set(file, prev);
        return;
      }
      let content: Buffer;
      try {
        content = await readFile(file);
      } catch {
        return;
      }
      // Written to while we read it (an in-place save truncates, then
      // writes): keep what we had and look again once it settles.
      const after = await stat(file).catch(() => undefined);
      if (!after || `${after.ino}:${after.size}:${after.mtimeMs}:${after.ctimeMs}` !== stamp) {
        if (prev) out.set(file, prev);
        this.#unsettled = true;
        return;
      }
      const hash = createHash("sha256").update(content).digest("hex");
      out.set(file, { hash, stamp, mtimeMs: s.mtimeMs });
      if (prev && prev.hash === hash && prev.stamp !== stamp) touched?.push(file);
    }));
    return out;
  }

  async #syncFolderWatchers(folders: Set<string>): Promise<void> {
    for (const [folder, w] of this.#folders) {
      if (!folders.has(folder)) {
        w.watcher.close();
        this.#folders.delete(folder);
      }
    }
    await Promise.all([...folders].map((folder) => this.#watchFolder(folder)));
  }

  async #watchFolder(folder: string): Promise<void> {
    let ino: number;
    try {
      ino = (await lstat(folder)).ino;
    } catch {
      return;
    }
    const current = this.#folders.get(folder);
    // Same path, other inode: the folder was replaced, and the old watcher follows the old one.
    if (current && current.ino === ino) return;
    current?.watcher.close();
    if (this.#closed) return;
    try {
      const watcher = watch(folder, () => this.#schedule());
      watcher.on("error", () => {
        watcher.close();
        if (this.#folders.get(folder)?.watcher === watcher) this.#folders.delete(folder);
        this.#schedule();
      });
      this.#folders.set(folder, { watcher, ino });
    } catch {
      // Vanished between listing and watching; the next scan sees it.
      this.#schedule();
    }
  }
}

async function nearestExisting(dir: string): Promise<string> {
  for (let d = dir; ; d = path.dirname(d)) {
    try {
      if ((await stat(d)).isDirectory()) return d;
    } catch {
      // keep going up
    }
    if (path.dirname(d) === d) return d;
  }
}
