import { createHash } from "node:crypto";
import { mkdir, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type * as esbuild from "esbuild";
import { importMetaDefines, sourceImportMeta } from "./source-import-meta.js";

export interface Bundle {
  /** file: URL of the bundle on disk, ready for `import()`. */
  url: string;
  /** Content hash: same source and dependencies, same hash. */
  hash: string;
  /** Absolute paths of every local file the bundle was built from. */
  inputs: string[];
}

/** What every bundle of function code (and the config file) is built with. */
export const bundleOptions = {
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // Packages (bare imports such as "sluice") stay imports, resolved by Node from the cache folder inside the project.
  packages: "external",
  sourcemap: "inline",
  sourcesContent: false,
  define: importMetaDefines,
  plugins: [sourceImportMeta],
  logLevel: "silent",
} satisfies esbuild.BuildOptions;

/**
 * Compiles one TypeScript or JavaScript module and the local files it
 * imports into a single ESM file under `outDir`, named by content hash.
 *
 * Why bundle instead of importing the source: Node caches ES modules
 * forever, so a changed file (or a changed generated `_pb.ts` it imports)
 * needs a new URL to load again. The hash gives exactly that, and an
 * unchanged file keeps its URL, its module instance and its state.
 * Packages (bare imports such as "sluice" or "@connectrpc/connect") stay
 * external and are resolved by Node from `outDir`, which therefore has to be
 * inside the project. `import.meta.url` in each bundled module names its
 * source file (source-import-meta.ts).
 */
export async function bundleModule(
  file: string,
  outDir: string,
): Promise<{ ok: true; bundle: Bundle } | { ok: false; message: string }> {
  const base = path.basename(file).replace(/\.[cm]?[jt]s$/, "");
  const outFile = path.join(outDir, `${base}.mjs`);
  // Imported on first use: a built artifact (sluice build) never bundles,
  // and runs where the esbuild package is not installed.
  const esbuild = await import("esbuild");
  let result: esbuild.BuildResult<{ write: false; metafile: true }>;
  try {
    result = await esbuild.build({ ...bundleOptions, entryPoints: [file], outfile: outFile, write: false, metafile: true });
  } catch (e) {
    const errors = (e as { errors?: esbuild.Message[] }).errors;
    if (!errors) return { ok: false, message: e instanceof Error ? e.message : String(e) };
    const text = await esbuild.formatMessages(errors, { kind: "error", color: false });
    return { ok: false, message: text.join("").trimEnd() };
  }
  const output = result.outputFiles.find((f) => f.path.endsWith(".mjs"));
  if (!output) return { ok: false, message: "esbuild produced no output" };
  const hash = createHash("sha256").update(output.contents).digest("hex").slice(0, 16);
  const target = path.join(outDir, `${base}-${hash}.mjs`);
  await writeOnce(target, output.contents);
  const cwd = process.cwd();
  return {
    ok: true,
    bundle: {
      url: pathToFileURL(target).href,
      hash,
      inputs: Object.keys(result.metafile.inputs).map((p) => path.resolve(cwd, p)),
    },
  };
}

/** Writes content-addressed files atomically, and only once. */
export async function writeOnce(target: string, contents: Uint8Array): Promise<void> {
  try {
    await stat(target);
    return;
  } catch {
    // not there yet
  }
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.tmp`;
  await writeFile(tmp, contents);
  await rename(tmp, target);
}
