import path from "node:path";
import type { SluiceConfig } from "../config/config.js";
import { productionNodeFlags } from "../host/node-flags.js";
import { buildArtifact } from "./build-artifact.js";
import { formatImportMetaWarnings } from "./import-meta-warnings.js";
import { step } from "./progress.js";

/** Where `sluice build` writes without --out. */
export const defaultOutDir = "dist/deploy";

/**
 * `sluice build` after its check passed: writes the artifact and says how
 * to run it. Returns the exit code.
 */
export async function runBuild(config: SluiceConfig, configFile: string | undefined, outDir: string | undefined, sluiceVersion: string): Promise<number> {
  const cwd = process.cwd();
  const out = path.resolve(cwd, outDir ?? defaultOutDir);
  const result = await step("writing the artifact", () => buildArtifact({
    projectRoot: cwd,
    functionsDir: config.functionsDir,
    protoGenDir: config.protoGenDir,
    ...(configFile ? { configFile } : {}),
    outDir: out,
    sluiceVersion,
  }), (r) => ("error" in r ? "failed" : `${r.artifact.files.size} files`));
  if ("error" in result) {
    process.stderr.write(`${result.error.message}\n`);
    return 1;
  }
  const { manifest, files, importMetaUses } = result.artifact;
  // A warning, not a failure: import.meta.url may serve something other than finding a file.
  process.stderr.write(formatImportMetaWarnings(importMetaUses));
  const bytes = [...files.values()].reduce((n, f) => n + f.byteLength, 0);
  const shown = path.relative(cwd, out) || out;
  process.stdout.write([
    "",
    `built ${shown}/: ${manifest.functions.length} function(s), ${(bytes / 1024 / 1024).toFixed(1)} MiB, for Node ${manifest.node}`,
    `content hash ${manifest.hash}`,
    `run it with only node: node ${[...productionNodeFlags, path.join(shown, "sluice.mjs")].join(" ")} start`,
    "",
  ].join("\n"));
  return 0;
}
