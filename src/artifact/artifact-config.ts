import path from "node:path";
import type { ConfigSources } from "../config/load-config.js";
import { sluiceError, type SluiceError } from "../errors.js";
import type { RunningArtifact } from "./artifact-manifest.js";

/**
 * Where a built artifact takes its configuration from; the same precedence
 * as a project (defaults, file, SLUICE_* environment, flags), with three
 * differences that make one artifact run unchanged on a host, in a
 * container and on Knative:
 *
 * - The file is `--config <file>` (a mounted one), else the project's config
 *   that `sluice build` compiled into the artifact. It must be JSON: the
 *   artifact has no TypeScript compiler.
 * - Relative paths in it (tls.*, staticDir) resolve against the artifact's
 *   folder, wherever the process was started from.
 * - `PORT`, which platforms such as Knative set, is the port unless
 *   `SLUICE_PORT` is set too.
 */
export function artifactConfigSources(
  artifact: RunningArtifact,
  env: NodeJS.ProcessEnv,
  flags: Record<string, string>,
  configFile: string | undefined,
): { sources: ConfigSources } | { error: SluiceError } {
  const file = configFile !== undefined
    ? path.resolve(process.cwd(), configFile)
    : artifact.manifest.config !== undefined ? path.join(artifact.dir, artifact.manifest.config) : undefined;
  if (file !== undefined && !file.endsWith(".json")) {
    return { error: sluiceError("SLUICE_CONFIG_LOAD_FAILED", { file, reason: "a built artifact reads JSON config files only (it carries no TypeScript compiler); write the settings as JSON, e.g. sluice.config.json" }) };
  }
  const port = env.PORT !== undefined && env.PORT !== "" && (env.SLUICE_PORT === undefined || env.SLUICE_PORT === "") ? { SLUICE_PORT: env.PORT } : {};
  return { sources: { cwd: artifact.dir, env: { ...env, ...port }, flags, ...(file !== undefined ? { configFile: file } : {}) } };
}
