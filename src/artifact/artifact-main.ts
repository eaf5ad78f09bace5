// The entry point of a built artifact: `node <artifact>/sluice.mjs start`.
//
// It stays small and imports the CLI only after the compile cache is on, so
// that V8 can reuse the code it compiled for the host and the functions on
// a previous start instead of compiling them again (about a fifth of the
// start-up time; see wrangler-free-deploy/README.md).
import { existsSync } from "node:fs";
import module from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readArtifactManifest, setRunningArtifact } from "./artifact-manifest.js";

const dir = path.dirname(fileURLToPath(import.meta.url));

// A cache warmed when the image was built (wrangler-free-deploy/container)
// is read from the artifact itself; otherwise Node keeps one in the system's
// temporary folder, the only place an artifact writes to. Node 20 has no
// compile cache; NODE_COMPILE_CACHE and NODE_DISABLE_COMPILE_CACHE still apply.
// (@types/node 20 does not declare it: it came in Node 22.8.)
const { enableCompileCache } = module as { enableCompileCache?: (directory?: string) => unknown };
const warmed = path.join(dir, ".compile-cache");
enableCompileCache?.(existsSync(warmed) ? warmed : undefined);

const read = readArtifactManifest(dir);
if ("problem" in read) {
  const { sluiceError } = await import("../errors.js");
  process.stderr.write(`${sluiceError("SLUICE_ARTIFACT_INVALID", read.problem).message}\n`);
  process.exit(1);
}
setRunningArtifact({ dir, manifest: read.manifest });
await import("../cli.js");
