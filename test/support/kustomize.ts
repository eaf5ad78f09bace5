// Renders wrangler-free-deploy/'s kustomizations with the kustomize binary,
// as `kustomize build <dir> | kubectl apply -f -` would see them.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseManifests, type Manifest } from "./kubernetes-schemas.js";
import { root } from "./gateway.js";

/** `kustomize build <dir>`, parsed; fails the test with kustomize's message. */
export function kustomizeBuild(kustomize: string, dir: string): Manifest[] {
  const r = spawnSync(kustomize, ["build", dir], { encoding: "utf8" });
  assert.equal(r.status, 0, `kustomize build ${dir} failed:\n${r.stderr}`);
  return parseManifests(r.stdout, `kustomize build ${path.relative(path.join(root, "wrangler-free-deploy"), dir)}`);
}

/**
 * `dir` with `components` added, as an operator adds them to its
 * kustomization.yaml (a kustomization of their own, in a scratch folder,
 * that takes `dir` as its resource and the namespace `dir` renders into,
 * so the components' objects land beside the others).
 */
export function kustomizeBuildWith(kustomize: string, dir: string, components: string[], namespace?: string): Manifest[] {
  const scratch = mkdtempSync(path.join(os.tmpdir(), "sluice-kustomize-"));
  try {
    // kustomize takes only relative paths to other kustomizations.
    const rel = (p: string) => path.relative(scratch, p);
    writeFileSync(path.join(scratch, "kustomization.yaml"), [
      "apiVersion: kustomize.config.k8s.io/v1beta1",
      "kind: Kustomization",
      ...(namespace ? [`namespace: ${namespace}`] : []),
      "resources:",
      `  - ${rel(dir)}`,
      "components:",
      ...components.map((c) => `  - ${rel(c)}`),
      "",
    ].join("\n"));
    const manifests = kustomizeBuild(kustomize, scratch);
    const source = `kustomize build ${path.relative(path.join(root, "wrangler-free-deploy"), dir)} + ${components.map((c) => path.basename(c)).join(", ")}`;
    return manifests.map((m) => ({ ...m, source }));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
