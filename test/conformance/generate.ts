// Generates TypeScript for the conformance protos into test/conformance/gen/
// (git-ignored). The .proto files are not copied into the repository: they
// ship inside the Go module of the runner, so the ones used always match the
// runner's release.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { root } from "../support/gateway.js";

/** The runner release, the module its protos come from, and how to install it. */
export const conformanceVersion = "v1.0.5";
export const conformanceModule = "connectrpc.com/conformance";
export const installCommand = `go install ${conformanceModule}/cmd/connectconformance@${conformanceVersion}`;
/** The suite's reference server, the upstream of the proxy-route runs. */
export const referenceInstall = `go install ${conformanceModule}/cmd/referenceserver@${conformanceVersion}`;

export const genDir = path.join(root, "test/conformance/gen");

/**
 * Finds the module's proto/ folder with `go mod download` (from the module
 * cache when `go install` already fetched it) and runs buf with this
 * folder's template on it.
 */
export function generateConformanceCode(): void {
  const download = execFileSync("go", ["mod", "download", "-json", `${conformanceModule}@${conformanceVersion}`], {
    cwd: root,
    encoding: "utf8",
  });
  const { Dir: moduleDir } = JSON.parse(download) as { Dir?: string };
  const protoDir = moduleDir && path.join(moduleDir, "proto");
  if (!protoDir || !existsSync(path.join(protoDir, "connectrpc/conformance/v1/service.proto"))) {
    throw new Error(`go mod download ${conformanceModule}@${conformanceVersion} gave no proto folder:\n${download}`);
  }
  // buf finds protoc-gen-es on PATH, as under `npm run`.
  const bin = path.join(root, "node_modules/.bin");
  execFileSync(path.join(bin, "buf"), ["generate", protoDir, "--template", "test/conformance/buf.gen.yaml"], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}` },
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  generateConformanceCode();
  process.stdout.write(`generated ${path.relative(root, genDir)}/\n`);
}
