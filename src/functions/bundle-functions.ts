import { createHash } from "node:crypto";
import { existsSync, realpathSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type * as esbuild from "esbuild";
import { bundleOptions, writeOnce, type Bundle } from "./bundle-module.js";

/** What bundling did with one function file. */
export type FunctionBuild =
  | { ok: true; bundle: Bundle }
  | { ok: false; message: string; inputs: string[] };

/** A local module that becomes a chunk of its own (not a package, not JSON). */
const ownChunk = /\.[cm]?[jt]sx?$/;

/**
 * Bundles every function file of the project in one esbuild run with code
 * splitting, as `sluice build` does for an artifact, so that a helper two
 * function files import is one module in Node, one instance of its state,
 * in `start`, `dev` and a built artifact alike.
 *
 * Every local module the functions import is an entry point too (found by
 * the previous run; a run that finds new ones is repeated once). That puts
 * each module in a chunk of its own, whose name is the hash of its code and
 * of the names of the chunks it imports. So the URL of a module changes
 * exactly when it or something it imports changes, whichever other function
 * files exist or build: an unchanged function file keeps its URL and its
 * module instance, a changed helper is a new instance that every function
 * file importing it reloads onto, and an unchanged helper keeps its state.
 *
 * A file that does not build must not stop the others: when the run fails,
 * each file is bundled alone to find the ones that fail and why, and the
 * run is made again without them.
 */
export class FunctionBundler {
  /** The local modules the last run found, made entry points of the next. */
  #helpers = new Set<string>();

  constructor(private readonly functionsDir: string, private readonly outDir: string) {}

  async bundle(files: string[]): Promise<Map<string, FunctionBuild>> {
    // Imported on first use: a built artifact never bundles, and runs where esbuild is not installed.
    const api = await import("esbuild");
    // esbuild names files by their real paths: a symlinked functions folder must still match.
    const real = realPaths(files);
    const builds = new Map<string, FunctionBuild>();
    let good = files;
    let run = await this.#splitBuild(api, good);
    if ("failed" in run) {
      const alone = await Promise.all(files.map(async (f) => [f, await buildAlone(api, f)] as const));
      for (const [file, r] of alone) if (!r.ok) builds.set(file, r);
      good = files.filter((f) => !builds.has(f));
      // Only what the files that build import: a broken helper nobody imports now must not fail the run.
      this.#helpers = new Set(alone.flatMap(([, r]) => (r.ok ? r.inputs : [])).filter((f) => isHelper(f, real)));
      run = good.length === 0 ? { result: undefined } : await this.#splitBuild(api, good);
      if ("failed" in run) {
        for (const f of good) builds.set(f, { ok: false, message: run.failed, inputs: [f] });
        return builds;
      }
    }
    let result = run.result;
    if (result) {
      const found = localInputs(result).filter((f) => isHelper(f, real));
      if (found.some((f) => !this.#helpers.has(f))) {
        // New helpers: once more with them as entry points, so their chunks are their own from the start.
        this.#helpers = new Set(found);
        const again = await this.#splitBuild(api, good);
        if ("result" in again && again.result) result = again.result;
      }
      this.#helpers = new Set(found);
      for (const [file, b] of await this.#write(result, good, real)) builds.set(file, b);
    }
    return builds;
  }

  async #splitBuild(api: typeof esbuild, files: string[]): Promise<{ result: esbuild.BuildResult<{ write: false; metafile: true }> | undefined } | { failed: string }> {
    if (files.length === 0) return { result: undefined };
    const real = realPaths(files);
    const helpers = [...this.#helpers].filter((f) => !real.has(f) && existsSync(f));
    try {
      const result = await api.build({
        ...bundleOptions,
        entryPoints: [...files, ...helpers.map((f, i) => ({ in: f, out: `_helpers/${i}` }))],
        outdir: this.outDir,
        outbase: this.functionsDir,
        splitting: true,
        entryNames: "[dir]/[name]-[hash]",
        chunkNames: "_chunks/[name]-[hash]",
        outExtension: { ".js": ".mjs" },
        write: false,
        metafile: true,
      });
      return { result };
    } catch (e) {
      return { failed: await messageOf(api, e) };
    }
  }

  /** Writes the chunks and the function files' modules; returns each function file's bundle. */
  async #write(result: esbuild.BuildResult<{ write: false; metafile: true }>, files: string[], real: Map<string, string>): Promise<Map<string, FunctionBuild>> {
    const cwd = process.cwd();
    const outputs = result.metafile.outputs;
    const byPath = new Map(result.outputFiles.map((f) => [f.path, f]));
    const entryOf = new Map<string, string>();
    for (const [out, meta] of Object.entries(outputs)) {
      const file = meta.entryPoint === undefined ? undefined : real.get(path.resolve(cwd, meta.entryPoint));
      if (file !== undefined) entryOf.set(file, out);
    }
    const builds = new Map<string, FunctionBuild>();
    const written = new Set<string>();
    const write = async (out: string) => {
      if (written.has(out)) return;
      written.add(out);
      const file = byPath.get(path.resolve(cwd, out));
      if (file) await writeOnce(file.path, file.contents);
    };
    for (const file of files) {
      const out = entryOf.get(file);
      const contents = out && byPath.get(path.resolve(cwd, out))?.contents;
      if (!out || !contents) {
        builds.set(file, { ok: false, message: "esbuild produced no output for it", inputs: [file] });
        continue;
      }
      // The module and every chunk it reaches: those are what it is built from.
      const reached = new Set<string>();
      const visit = (o: string) => {
        if (reached.has(o)) return;
        reached.add(o);
        for (const i of outputs[o]?.imports ?? []) if (!i.external && outputs[i.path]) visit(i.path);
      };
      visit(out);
      await Promise.all([...reached].map(write));
      const inputs = new Set([...reached].flatMap((o) => Object.keys(outputs[o]!.inputs).map((p) => path.resolve(cwd, p))));
      builds.set(file, {
        ok: true,
        bundle: {
          url: pathToFileURL(path.resolve(cwd, out)).href,
          // Its code names the chunks it imports by their hashes, so this changes when any of them does.
          hash: createHash("sha256").update(contents).digest("hex").slice(0, 16),
          inputs: [...inputs],
        },
      });
    }
    return builds;
  }
}


/** Bundles one file alone, writing nothing: whether it builds, and from what. */
async function buildAlone(api: typeof esbuild, file: string): Promise<{ ok: true; inputs: string[] } | { ok: false; message: string; inputs: string[] }> {
  try {
    const result = await api.build({ ...bundleOptions, sourcemap: false, entryPoints: [file], outdir: "/", write: false, metafile: true });
    return { ok: true, inputs: localInputs(result) };
  } catch (e) {
    return { ok: false, message: await messageOf(api, e), inputs: [file] };
  }
}

function localInputs(result: esbuild.BuildResult<{ metafile: true }>): string[] {
  const cwd = process.cwd();
  return Object.keys(result.metafile.inputs).map((p) => path.resolve(cwd, p));
}

/** Real path → the path as given, for each file. */
function realPaths(files: string[]): Map<string, string> {
  return new Map(files.map((f) => {
    try {
      return [realpathSync(f), f] as const;
    } catch {
      return [f, f] as const;
    }
  }));
}

/** A local module to make an entry point of its own: not a function file, not a package. */
function isHelper(file: string, functionFiles: Map<string, string>): boolean {
  return ownChunk.test(file) && !file.endsWith(".d.ts") && !file.includes(`${path.sep}node_modules${path.sep}`) && !functionFiles.has(file);
}

async function messageOf(api: typeof esbuild, e: unknown): Promise<string> {
  const errors = (e as { errors?: esbuild.Message[] }).errors;
  if (!errors) return e instanceof Error ? e.message : String(e);
  return (await api.formatMessages(errors, { kind: "error", color: false })).join("").trimEnd();
}
