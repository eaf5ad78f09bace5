import path from "node:path";
import { pathToFileURL } from "node:url";
import type { RunningArtifact } from "../artifact/artifact-manifest.js";
import { sluiceError } from "../errors.js";
import type { LoadOutcome } from "./load-function-file.js";
import { validateDefinition } from "./validate-definition.js";

/** A function of a built artifact, ready to import. */
export interface PrebuiltFunction {
  /** Absolute path of its module in the artifact. */
  file: string;
  /** The function file it was built from, as the project named it (e.g. functions/greet.ts). */
  displayPath: string;
  /** The artifact's hash: a prebuilt function changes only with a new artifact. */
  hash: string;
  /** The artifact's folder. */
  artifactDir: string;
}

/** The functions an artifact's manifest lists. */
export function prebuiltFunctions(artifact: RunningArtifact): PrebuiltFunction[] {
  return artifact.manifest.functions.map((f) => ({
    file: path.join(artifact.dir, f.module),
    displayPath: f.source,
    hash: artifact.manifest.hash,
    artifactDir: artifact.dir,
  }));
}

/**
 * Loads one prebundled function: imports its module from the artifact (no
 * bundling, no writes) and validates its default export exactly as a
 * bundled function file is validated. The module shares the host's own
 * copies of "sluice", Connect and protobuf (sluice build splits them into
 * chunks both import), so `instanceof ConnectError` and context keys hold.
 */
export async function loadPrebuiltFunction(fn: PrebuiltFunction): Promise<LoadOutcome> {
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(pathToFileURL(fn.file).href)) as Record<string, unknown>;
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    const hint = notInArtifact(e, fn.artifactDir);
    return { ok: false, file: fn.file, inputs: [], error: sluiceError("SLUICE_FUNCTION_IMPORT_FAILED", { file: fn.displayPath, reason, ...(hint ? { hint } : {}) }, e) };
  }
  const checked = validateDefinition(fn.displayPath, namespace);
  if (!checked.ok) return { ok: false, file: fn.file, inputs: [], error: checked.error };
  return { ok: true, fn: { ...checked.fn, file: fn.file, displayPath: fn.displayPath, hash: fn.hash, inputs: [] } };
}

/**
 * A file the function reads at load that the artifact does not have: most
 * likely one beside the function file, found through import.meta.url, which
 * in an artifact names the function's module there (sluice build copies
 * code, not data files).
 */
function notInArtifact(e: unknown, artifactDir: string): string | undefined {
  const { code, path: missing } = e as NodeJS.ErrnoException;
  if (code !== "ENOENT" || typeof missing !== "string" || !missing.startsWith(artifactDir + path.sep)) return undefined;
  return `${path.relative(artifactDir, missing)} is not in the built artifact: sluice build bundles code, and does not copy data files that sit beside function files. Import the data instead (JSON is bundled: import words from "./words.json" with { type: "json" }), or read it from staticDir or a path the environment gives`;
}
