import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

// This file runs as bench/.build/src/paths.js.
const here = path.dirname(fileURLToPath(import.meta.url));

/** bench/ */
export const benchDir = path.resolve(here, "../..");
/** The repository root, where the gateway and node_modules live. */
export const repoRoot = path.dirname(benchDir);
/** bench/.build/: compiled harness, plus scratch files (git-ignored). */
export const buildDir = path.join(benchDir, ".build");
/** The production entry point of the gateway, built by `npm run build`. */
export const gatewayCli = path.join(repoRoot, "dist/src/cli.js");
/**
 * The Node flags `npm start` gives the gateway (package.json's start script,
 * `node <flags> dist/src/cli.js start`): every Sluice process the harness
 * starts gets them, as production does.
 */
export const gatewayNodeFlags: string[] = startScriptFlags();
/** The Sluice arm's function file lives here. */
export const benchFunctions = path.join(benchDir, "functions");
/** The example functions in the repository root, for the cold-start arm. */
export const exampleFunctions = path.join(repoRoot, "functions");
/** Published results (committed). */
export const resultsDir = path.join(benchDir, "results");
/** The .proto files the grpc-js arm loads with @grpc/proto-loader. */
export const benchProtoDir = path.join(benchDir, "proto");

/** A compiled harness module, as a path `node` can run. */
export function compiled(relative: string): string {
  return path.join(buildDir, "src", relative);
}

function startScriptFlags(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { scripts: { start: string } };
  const words = pkg.scripts.start.split(/\s+/);
  return words.slice(1, words.indexOf("dist/src/cli.js")).filter((w) => w.startsWith("--"));
}
