// Imported by the artifact's entry point before the compile cache is on, so
// it imports nothing but Node's own modules (not even the error catalogue).
import { readFileSync } from "node:fs";
import path from "node:path";

/** The file, at the root of a built artifact, that describes it. */
export const manifestFileName = "sluice-artifact.json";
/** The project's config file, compiled to JSON by `sluice build`. */
export const artifactConfigFileName = "sluice.config.json";

/** One prebundled function file of an artifact. */
export interface ArtifactFunction {
  /** The function file it was built from, relative to the project (shown in logs and the routes table). */
  source: string;
  /** Its module in the artifact, relative to the artifact's folder. */
  module: string;
}

/** What `sluice build` records about an artifact (sluice-artifact.json). */
export interface ArtifactManifest {
  format: 1;
  /** Version of Sluice that built it. */
  sluice: string;
  /** Node.js version that built it (process.version); the code targets this major version. */
  node: string;
  /** sha256 of every other file of the artifact (names and contents), hex. */
  hash: string;
  functions: ArtifactFunction[];
  /** artifactConfigFileName when the project had a config file. */
  config?: string;
  /** Module re-exporting every file generated from proto/ (proxy routes read it), when there were any. */
  descriptors?: string;
}

/** A built artifact this process runs from. */
export interface RunningArtifact {
  /** Absolute path of the artifact's folder. */
  dir: string;
  manifest: ArtifactManifest;
}

let running: RunningArtifact | undefined;

/**
 * The artifact this process was started from (`node <artifact>/sluice.mjs`),
 * or undefined when it runs from the sources. Set once by the artifact's
 * entry point before the CLI is loaded.
 */
export function runningArtifact(): RunningArtifact | undefined {
  return running;
}

export function setRunningArtifact(artifact: RunningArtifact): void {
  running = artifact;
}

/** Reads and checks `<dir>/sluice-artifact.json`; a problem is reported as SLUICE_ARTIFACT_INVALID. */
export function readArtifactManifest(dir: string): { manifest: ArtifactManifest } | { problem: { file: string; reason: string } } {
  const file = path.join(dir, manifestFileName);
  const fail = (reason: string) => ({ problem: { file, reason } });
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e));
  }
  const m = value as Partial<ArtifactManifest>;
  if (m.format !== 1) return fail(`format ${JSON.stringify(m.format)} is not one this Sluice reads (1); rebuild the artifact with this version`);
  for (const key of ["sluice", "node", "hash"] as const) {
    if (typeof m[key] !== "string" || m[key] === "") return fail(`"${key}" is missing`);
  }
  const fnOk = (f: unknown) => typeof (f as ArtifactFunction).source === "string" && typeof (f as ArtifactFunction).module === "string";
  if (!Array.isArray(m.functions) || !m.functions.every(fnOk)) return fail(`"functions" must list { source, module } entries`);
  for (const key of ["config", "descriptors"] as const) {
    if (m[key] !== undefined && typeof m[key] !== "string") return fail(`"${key}" must be a file name`);
  }
  return { manifest: m as ArtifactManifest };
}

/** What /healthz and the start-up log line report of an artifact. */
export function describeArtifact(m: ArtifactManifest): { hash: string; sluice: string; builtForNode: string } {
  return { hash: m.hash, sluice: m.sluice, builtForNode: m.node };
}
