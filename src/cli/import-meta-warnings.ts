import { readFile } from "node:fs/promises";
import path from "node:path";
import type * as esbuild from "esbuild";

/** The import.meta properties whose value, in a built artifact, is the bundle's and not the source file's. */
export type ImportMetaProperty = "url" | "dirname" | "filename" | "resolve";

/** One place in function code that reads an import.meta property. */
export interface ImportMetaUse {
  /** The source file, relative to the project root, with forward slashes. */
  file: string;
  /** 1-based, in the source as written. */
  line: number;
  column: number;
  property: ImportMetaProperty;
}

// Text, not syntax: an "import.meta.url" inside a comment or a string is
// reported too. We accept that: it is rare, a false warning costs a line of
// output and fails nothing, and ruling it out would take a JavaScript parser.
const use = /\bimport\s*\.\s*meta\s*(?:\?\.|\.)\s*(url|dirname|filename|resolve)\b/g;

const jsOrTs = /\.[cm]?[jt]sx?$/;

/** Where `source` reads import.meta.url, .dirname, .filename or .resolve. */
export function findImportMetaUses(source: string): { line: number; column: number; property: ImportMetaProperty }[] {
  // Most modules never mention it: skip the regular expression for them.
  if (!source.includes("meta")) return [];
  const found: { line: number; column: number; property: ImportMetaProperty }[] = [];
  let line = 1;
  let lineStart = 0;
  for (const m of source.matchAll(use)) {
    for (let nl = source.indexOf("\n", lineStart); nl !== -1 && nl < m.index; nl = source.indexOf("\n", lineStart)) {
      line++;
      lineStart = nl + 1;
    }
    found.push({ line, column: m.index - lineStart + 1, property: m[1] as ImportMetaProperty });
  }
  return found;
}

/**
 * The import.meta uses in the project's own modules that the function
 * entry points of an artifact build reach: the function files and the local
 * modules they import, read from the metafile's import graph (the bundle
 * itself is not looked at, so it cannot change). Not node_modules, not the
 * generated code, not Sluice's own sources (which the repository's own
 * build reaches through the "sluice" alias): their import.meta is not the
 * project's to change. Sorted by file, line and column.
 */
export async function importMetaUsesOfFunctions(
  metafile: esbuild.Metafile,
  functionEntryPoints: string[],
  projectRoot: string,
  /** Folders of code that is not the project's (Sluice's own sources, the generated code), absolute. */
  excluded: string[],
): Promise<ImportMetaUse[]> {
  const foreign = (abs: string) => abs.split(path.sep).includes("node_modules") || excluded.some((dir) => abs === dir || abs.startsWith(dir + path.sep));
  const seen = new Set<string>();
  const queue = [...functionEntryPoints];
  const local: string[] = [];
  while (queue.length > 0) {
    const key = queue.pop()!;
    if (seen.has(key)) continue;
    seen.add(key);
    const input = metafile.inputs[key];
    // Keys of other namespaces ("sluice-builtin:node:fs") and data (.json) have no code of the project's.
    if (!input || !jsOrTs.test(key) || foreign(path.resolve(projectRoot, key))) continue;
    local.push(key);
    for (const imported of input.imports) if (!imported.external) queue.push(imported.path);
  }
  const uses: ImportMetaUse[] = [];
  for (const key of local) {
    const file = path.resolve(projectRoot, key);
    // Read again after esbuild read it: a file gone since then has nothing to warn about.
    const source = await readFile(file, "utf8").catch(() => "");
    const shown = path.relative(projectRoot, file).split(path.sep).join("/");
    for (const u of findImportMetaUses(source)) uses.push({ file: shown, ...u });
  }
  return uses.sort((a, b) => (a.file !== b.file ? (a.file < b.file ? -1 : 1) : a.line - b.line || a.column - b.column));
}

const whatItNames: Record<ImportMetaProperty, string> = {
  url: "names the module it is bundled into (functions/<name>.mjs or a chunk in app/), not this source file",
  filename: "names the module it is bundled into (functions/<name>.mjs or a chunk in app/), not this source file",
  dirname: "names the artifact's functions/ or app/ folder, not this source file's folder",
  resolve: "resolves against the module it is bundled into (functions/<name>.mjs or a chunk in app/), in a folder with no node_modules and none of the files beside this source",
};

/** The warning sluice build prints for `uses` (none for none). */
export function formatImportMetaWarnings(uses: ImportMetaUse[]): string {
  if (uses.length === 0) return "";
  const lines = uses.map((u) => `sluice: warning: ${u.file}:${u.line}:${u.column}: in the built artifact, import.meta.${u.property} ${whatItNames[u.property]}`);
  lines.push([
    "  A file found this way beside the source is not in the artifact: sluice build copies the code, the config and config",
    "  staticDir (into static/, served to anyone over GET), and no other file. Read while a function loads, the missing file",
    "  fails the artifact's start (SLUICE_FUNCTION_IMPORT_FAILED); read in a handler, it fails the call.",
    "  Instead: import JSON with an import attribute, which is bundled (import words from \"./words.json\" with { type: \"json\" }),",
    "  embed other data in a module (export const words = \"…\"), or read the file from a path the environment gives.",
    "  A use that finds no file needs no change: the artifact was written either way.",
  ].join("\n"));
  return `${lines.join("\n")}\n`;
}
