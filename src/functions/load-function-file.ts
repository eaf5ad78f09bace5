import path from "node:path";
import { sluiceError, type SluiceError } from "../errors.js";
import type { FunctionBuild } from "./bundle-functions.js";
import { validateDefinition, type ValidFunction } from "./validate-definition.js";

/** One function file, compiled, imported and validated. */
export interface LoadedFunction extends ValidFunction {
  /** Absolute path of the function file. */
  file: string;
  /** The path shown to people: relative to the working directory. */
  displayPath: string;
  /** Hash of the bundle; changes whenever the file or what it imports changes. */
  hash: string;
  /** Every local file the function was built from (for the dev watcher). */
  inputs: string[];
}

export type LoadOutcome =
  | { ok: true; fn: LoadedFunction }
  | { ok: false; file: string; inputs: string[]; error: SluiceError };

/**
 * Loads one function file from what bundling made of it (bundle-functions.ts):
 * imports its module and validates its default export.
 */
export async function loadFunctionFile(file: string, built: FunctionBuild): Promise<LoadOutcome> {
  const displayPath = path.relative(process.cwd(), file) || file;
  if (!built.ok) {
    const hint = missingGeneratedImport(built.message);
    return { ok: false, file, inputs: built.inputs, error: sluiceError("SLUICE_FUNCTION_BUILD_FAILED", { file: displayPath, reason: built.message, ...(hint ? { hint } : {}) }) };
  }
  const { url, hash, inputs } = built.bundle;
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(url)) as Record<string, unknown>;
  } catch (e) {
    return { ok: false, file, inputs, error: sluiceError("SLUICE_FUNCTION_IMPORT_FAILED", { file: displayPath, reason: reasonOf(e) }, e) };
  }
  const checked = validateDefinition(displayPath, namespace);
  if (!checked.ok) return { ok: false, file, inputs, error: checked.error };
  return { ok: true, fn: { ...checked.fn, file, displayPath, hash, inputs } };
}

function reasonOf(e: unknown): string {
  if (e instanceof Error) {
    const where = e.stack?.split("\n").find((line) => line.includes("file://") || line.includes("/"))?.trim();
    return where ? `${e.message} (${where})` : e.message;
  }
  return String(e);
}

/**
 * An import of generated code that does not resolve almost always means the
 * code was never generated (a fresh clone) or a .proto was added since.
 */
function missingGeneratedImport(message: string): string | undefined {
  const m = /Could not resolve "([^"]*\/gen\/[^"]*_pb(?:\.js|\.ts)?)"/.exec(message);
  if (!m) return undefined;
  return `${m[1]} is generated code that does not exist yet: run \`npm run generate\` (buf generate writes proto/gen/ from proto/), then try again`;
}
