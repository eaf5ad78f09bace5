import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { isBuiltin } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type * as esbuild from "esbuild";
import { artifactConfigFileName, manifestFileName, type ArtifactFunction, type ArtifactManifest } from "../artifact/artifact-manifest.js";
import { readConfigFile } from "../config/load-config.js";
import { sluiceError, type SluiceError } from "../errors.js";
import { findFunctionFiles } from "../functions/find-function-files.js";
import { eagerModuleWrappers } from "./eager-module-wrappers.js";
import { importMetaUsesOfFunctions, type ImportMetaUse } from "./import-meta-warnings.js";
import { findGeneratedFiles } from "../upstream/load-descriptors.js";

export interface BuildInput {
  /** The project: function files, config and node_modules resolve from here. */
  projectRoot: string;
  functionsDir: string;
  /** The code generated from proto/ (config protoGenDir): proxy routes read its descriptors. */
  protoGenDir: string;
  /** The project's config file, compiled into the artifact as JSON. */
  configFile?: string;
  outDir: string;
  sluiceVersion: string;
}

export interface BuiltArtifact {
  manifest: ArtifactManifest;
  /** Relative path → bytes, every file written. */
  files: Map<string, Uint8Array>;
  /**
   * Where function code reads import.meta.url, .dirname, .filename or
   * .resolve, which in the artifact name the bundle and not the source:
   * warnings, kept out of the files (and so out of the hash).
   */
  importMetaUses: ImportMetaUse[];
}

/** Where the artifact keeps the project's static files (config staticDir). */
const staticFolder = "static";
/** The module that re-exports every generated file (without its extension). */
const descriptorsModule = "app/descriptors";

/**
 * `sluice build`: writes one folder that runs with only `node`:
 *
 *   sluice.mjs            entry point (src/artifact/artifact-main.ts)
 *   app/                  the host, and the chunks it shares with the functions
 *   functions/<name>.mjs  one module per function file, prebundled
 *   app/descriptors.mjs   every file generated from proto/, for proxy routes
 *   sluice.config.json    the project's config file, as JSON (when it has one)
 *   static/               the config's staticDir (when set)
 *   sluice-artifact.json  the manifest: versions, functions, content hash
 *
 * One esbuild run bundles the host and every function file together with
 * code splitting, so each package (Connect, protobuf, "sluice" itself)
 * exists once in the artifact and the functions share the host's instances:
 * a ConnectError a function throws is the class the host checks with
 * instanceof, and descriptors and context keys are the same objects.
 *
 * The output depends only on the sources, the Sluice version and the Node
 * version that builds it (its major version sets esbuild's target; the
 * manifest records the whole): no time stamps, no absolute paths, files in
 * a fixed order. Building twice gives the same bytes and the same hash.
 */
export async function buildArtifact(input: BuildInput): Promise<{ artifact: BuiltArtifact } | { error: SluiceError }> {
  const fail = (reason: string) => ({ error: sluiceError("SLUICE_BUILD_FAILED", { reason }) });
  const outDir = path.resolve(input.outDir);
  const refused = refuseOutDir(outDir, input);
  if (refused) return fail(refused);

  const files = new Map<string, Uint8Array>();
  // The config first: a value it cannot carry fails the build before the bundling.
  let config: string | undefined;
  if (input.configFile) {
    const baked = await bakeConfig(input.configFile, input.projectRoot, files);
    if ("error" in baked) return { error: baked.error };
    config = artifactConfigFileName;
    files.set(config, Buffer.from(baked.json));
  }

  const functionFiles = existsSync(input.functionsDir) ? await findFunctionFiles(input.functionsDir) : [];
  const functions = moduleNames(functionFiles, input.functionsDir);
  const generated = existsSync(input.protoGenDir) ? await findGeneratedFiles(input.protoGenDir) : [];
  const bundled = await bundle(input, functions, generated);
  if ("error" in bundled) return fail(bundled.error);
  for (const [name, bytes] of bundled.files) files.set(name, bytes);

  const manifest: ArtifactManifest = {
    format: 1,
    sluice: input.sluiceVersion,
    node: process.version,
    hash: contentHash(files),
    functions: functions.map((f): ArtifactFunction => ({ source: toPosix(path.relative(input.projectRoot, f.file)), module: `${f.name}.mjs` })),
    ...(config ? { config } : {}),
    ...(generated.length > 0 ? { descriptors: `${descriptorsModule}.mjs` } : {}),
  };
  files.set(manifestFileName, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
  try {
    writeFolder(outDir, files);
  } catch (e) {
    return fail(`cannot write ${outDir}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { artifact: { manifest, files, importMetaUses: bundled.importMetaUses } };
}

/** Why the artifact may not go to `outDir`, if it may not. */
function refuseOutDir(outDir: string, input: BuildInput): string | undefined {
  const inside = (child: string, parent: string) => child === parent || child.startsWith(parent + path.sep);
  if (inside(input.projectRoot, outDir) || inside(input.functionsDir, outDir)) {
    return `--out ${outDir} holds the project itself; choose a folder of its own, e.g. dist/deploy`;
  }
  if (inside(outDir, input.functionsDir)) return `--out ${outDir} is inside the functions folder, where its files would be taken for function files`;
  if (existsSync(outDir) && readdirSync(outDir).length > 0 && !existsSync(path.join(outDir, manifestFileName))) {
    return `--out ${outDir} is not empty and is not an artifact sluice build wrote before; choose an empty or new folder (a previous artifact is replaced)`;
  }
  return undefined;
}

interface FunctionModule {
  file: string;
  /** Output name without extension, e.g. functions/greet. */
  name: string;
}

/** functions/<path in functionsDir without extension>; a clash (greet.ts and greet.mjs) keeps the extension. */
function moduleNames(files: string[], functionsDir: string): FunctionModule[] {
  const taken = new Set<string>();
  return files.map((file) => {
    const rel = toPosix(path.relative(functionsDir, file));
    let name = `functions/${rel.replace(/\.[cm]?[jt]s$/, "")}`;
    if (taken.has(name)) name = `functions/${rel.replace(/\./g, "-")}`;
    taken.add(name);
    return { file, name };
  });
}

/** The host's entry point and public API, from the tree this module runs in (dist/src or src). */
function hostSources(): { entry: string; api: string } {
  const here = fileURLToPath(import.meta.url);
  const ext = path.extname(here);
  return {
    entry: path.resolve(path.dirname(here), `../artifact/artifact-main${ext}`),
    api: path.resolve(path.dirname(here), `../index${ext}`),
  };
}

/**
 * Each output file gets its own `require`: CommonJS packages in the bundle
 * (Fastify, pino) require Node's built-in modules, which an ES module can
 * only do through createRequire.
 */
const requireBanner = `import { createRequire as __sluiceCreateRequire } from "node:module"; const require = __sluiceCreateRequire(import.meta.url);`;

/**
 * Built-in modules imported as ES modules are loaded through `require`:
 * for an `import`, Node builds an ES module facade that reads every export
 * of the built-in, and on Node 24 reading node:http's exports loads undici
 * (about 20 ms of a 150 ms start). Through require, a property is read
 * only where the code uses it. Not for the entry point and the manifest
 * reader it imports: through require they would need esbuild's interop
 * helpers, which live in the largest shared chunk, and the entry point must
 * load next to nothing before it turns the compile cache on.
 */
const builtinsThroughRequire: esbuild.Plugin = {
  name: "sluice-builtins-through-require",
  setup(build) {
    build.onResolve({ filter: /^(node:)?[a-z0-9_/]+$/ }, (args) => {
      if (args.kind !== "import-statement" || !isBuiltin(args.path) || startsTheArtifact(args.importer)) return undefined;
      return { path: args.path.startsWith("node:") ? args.path : `node:${args.path}`, namespace: "sluice-builtin" };
    });
    build.onLoad({ filter: /.*/, namespace: "sluice-builtin" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: "js",
    }));
  },
};

function startsTheArtifact(importer: string): boolean {
  return /[\\/]artifact[\\/]artifact-(main|manifest)\.[jt]s$/.test(importer);
}

/**
 * The descriptors module: `export * as m<i> from "<generated file>"` for
 * each file, as loadDescriptors writes it when it bundles them at start-up.
 * Built with the functions, it shares their copies of the generated code.
 */
function descriptorsEntry(projectRoot: string, generated: string[]): esbuild.Plugin {
  return {
    name: "sluice-artifact-descriptors",
    setup(build) {
      build.onResolve({ filter: /^sluice-artifact:descriptors$/ }, () => ({ path: "descriptors", namespace: "sluice-artifact" }));
      build.onLoad({ filter: /.*/, namespace: "sluice-artifact" }, () => ({
        contents: generated.map((f, i) => `export * as m${i} from ${JSON.stringify(`./${toPosix(path.relative(projectRoot, f))}`)};\n`).join(""),
        resolveDir: projectRoot,
        loader: "js",
      }));
    },
  };
}

async function bundle(input: BuildInput, functions: FunctionModule[], generated: string[]): Promise<{ files: Map<string, Uint8Array>; importMetaUses: ImportMetaUse[] } | { error: string }> {
  let esbuildApi: typeof esbuild;
  try {
    esbuildApi = await import("esbuild");
  } catch (e) {
    return { error: `the esbuild package cannot be loaded (${e instanceof Error ? e.message.split("\n")[0] : String(e)}); run npm install` };
  }
  const host = hostSources();
  // esbuild writes source map paths relative to the output folder. Building
  // into a fixed folder of the project (nothing is written there) and then
  // moving every path up to the project root keeps the artifact the same
  // wherever --out points, and makes stack traces read functions/greet.ts.
  const virtualOut = path.join(input.projectRoot, ".sluice", "artifact");
  let result: esbuild.BuildResult<{ write: false; metafile: true }>;
  try {
    result = await esbuildApi.build({
      absWorkingDir: input.projectRoot,
      entryPoints: [
        { in: host.entry, out: "sluice" },
        ...functions.map((f) => ({ in: f.file, out: f.name })),
        ...(generated.length > 0 ? [{ in: "sluice-artifact:descriptors", out: descriptorsModule }] : []),
      ],
      outdir: virtualOut,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "node",
      target: `node${process.versions.node.split(".")[0]}`,
      outExtension: { ".js": ".mjs" },
      chunkNames: "app/[name]-[hash]",
      // Function files import "sluice": the very modules the host is built from.
      alias: { sluice: host.api },
      // Reached only by dev and check's type checking, never by an artifact.
      external: ["esbuild", "typescript"],
      banner: { js: requireBanner },
      plugins: [builtinsThroughRequire, descriptorsEntry(input.projectRoot, generated)],
      sourcemap: "linked",
      sourcesContent: false,
      metafile: true,
      write: false,
      logLevel: "silent",
    });
  } catch (e) {
    const errors = (e as { errors?: esbuild.Message[] }).errors;
    if (!errors) return { error: e instanceof Error ? e.message : String(e) };
    return { error: (await esbuildApi.formatMessages(errors, { kind: "error", color: false })).join("").trimEnd() };
  }
  const files = new Map<string, Uint8Array>();
  for (const out of result.outputFiles) {
    const name = toPosix(path.relative(virtualOut, out.path));
    if (name.endsWith(".map")) files.set(name, rebaseSourceMap(out.contents, name, virtualOut, input.projectRoot));
    else files.set(name, await eagerlyCompiled(esbuildApi, out.text));
  }
  const functionOutputs = new Set(functions.map((f) => `${f.name}.mjs`));
  const functionInputs = Object.entries(result.metafile.outputs)
    .filter(([out, o]) => o.entryPoint !== undefined && functionOutputs.has(toPosix(path.relative(virtualOut, path.resolve(input.projectRoot, out)))))
    .map(([, o]) => o.entryPoint!);
  const importMetaUses = await importMetaUsesOfFunctions(result.metafile, functionInputs, input.projectRoot, [path.dirname(host.api), path.resolve(input.protoGenDir)]);
  return { files, importMetaUses };
}

/** The module with its CommonJS wrappers compiled eagerly, unless that would not parse. */
async function eagerlyCompiled(esbuildApi: typeof esbuild, code: string): Promise<Uint8Array> {
  const eager = eagerModuleWrappers(code);
  if (eager.wrappers === 0) return Buffer.from(code);
  try {
    await esbuildApi.transform(eager.code, { loader: "js", format: "esm", logLevel: "silent" });
    return Buffer.from(eager.code);
  } catch {
    return Buffer.from(code);
  }
}

/** Rewrites a source map's sources as if its output lived at the same place under the project root. */
function rebaseSourceMap(contents: Uint8Array, name: string, virtualOut: string, projectRoot: string): Uint8Array {
  const map = JSON.parse(Buffer.from(contents).toString("utf8")) as { sources: string[] };
  const builtAt = path.dirname(path.join(virtualOut, name));
  const servedAt = path.dirname(path.join(projectRoot, name));
  map.sources = map.sources.map((s) => toPosix(path.relative(servedAt, path.resolve(builtAt, s))));
  return Buffer.from(JSON.stringify(map));
}

/**
 * The project's config file as JSON. Relative paths in it resolve against
 * the artifact's folder when it runs; staticDir's files are copied in.
 */
async function bakeConfig(configFile: string, projectRoot: string, files: Map<string, Uint8Array>): Promise<{ json: string } | { error: SluiceError }> {
  const fail = (reason: string) => ({ error: sluiceError("SLUICE_BUILD_FAILED", { reason: `config file ${path.relative(projectRoot, configFile) || configFile}: ${reason}` }) });
  const read = await readConfigFile(configFile, projectRoot);
  if ("error" in read) return { error: read.error };
  // The check before the build validated every key, but a valid value may
  // still be one JSON cannot carry: a rate.key function.
  const notJson = valuesJsonDrops(read.value);
  if (notJson.length > 0) {
    return fail(`${notJson.map((v) => `${v.at} is ${v.what}`).join(", ")}: a built artifact carries its config as JSON, so a function-valued key cannot be built; use a value JSON holds (for rate.key a header, { header: "x-tenant" }, or "address"/"route"), or keep the project running with sluice start`);
  }
  const value = JSON.parse(JSON.stringify(read.value)) as Record<string, unknown>;
  // An artifact bundles nothing when it runs, so cacheDir means nothing
  // there; an absolute one from the build machine would be refused at
  // start, as outside the artifact's folder.
  delete value.cacheDir;
  if (typeof value.staticDir === "string") {
    const from = path.resolve(projectRoot, value.staticDir);
    if (!existsSync(from) || !statSync(from).isDirectory()) return fail(`staticDir ${value.staticDir} is not a folder`);
    for (const f of listFiles(from)) files.set(`${staticFolder}/${toPosix(path.relative(from, f))}`, readFileSync(f));
    value.staticDir = staticFolder;
  }
  return { json: `${JSON.stringify(value, null, 2)}\n` };
}

/**
 * Where `value` holds something JSON.stringify would drop or refuse (a
 * function, a symbol, a bigint), as config paths such as
 * limits["greet.v1.GreetService/Greet"].rate.key.
 */
function valuesJsonDrops(value: unknown, at = ""): { at: string; what: string }[] {
  if (typeof value === "function") return [{ at, what: "a function" }];
  if (typeof value === "symbol" || typeof value === "bigint") return [{ at, what: `a ${typeof value}` }];
  if (typeof value !== "object" || value === null) return [];
  const entries: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [`[${i}]`, v]) : Object.entries(value).map(([k, v]) => [
    /^[A-Za-z_$][\w$]*$/.test(k) ? `${at === "" ? "" : "."}${k}` : `[${JSON.stringify(k)}]`,
    v,
  ]);
  return entries.flatMap(([step, v]) => valuesJsonDrops(v, at + step));
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

/** sha256 over every file's name and bytes, in name order. */
function contentHash(files: Map<string, Uint8Array>): string {
  const hash = createHash("sha256");
  for (const name of [...files.keys()].sort()) {
    const bytes = files.get(name)!;
    hash.update(`${name}\0${bytes.byteLength}\0`);
    hash.update(bytes);
  }
  return hash.digest("hex");
}

/** Writes the files into a fresh folder beside outDir, then puts it in place of outDir. */
function writeFolder(outDir: string, files: Map<string, Uint8Array>): void {
  const staging = `${outDir}.building-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  for (const name of [...files.keys()].sort()) {
    const target = path.join(staging, name);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, files.get(name)!);
  }
  rmSync(outDir, { recursive: true, force: true });
  renameSync(staging, outDir);
}

function toPosix(p: string): string {
  return p.split(path.sep).join("/");
}
