// The environment the kubelet gives a container of a rendered manifest:
// literal values, and values from Secrets (which the deploy kit only names;
// the tests supply their contents, as the cluster would).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../../src/config/load-config.js";
import type { SluiceConfig } from "../../src/config/config.js";

type EnvVar = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } };

/** Secret name → key → value. */
export type Secrets = Record<string, Record<string, string>>;

/**
 * The container's `env` as the process sees it. A Secret that is missing is
 * an error, as for the kubelet (CreateContainerConfigError), unless the
 * reference is optional; any other source is not modelled.
 */
export function containerEnv(container: { env?: EnvVar[] }, secrets: Secrets): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) {
      out[e.name] = e.value;
      continue;
    }
    const ref = e.valueFrom?.secretKeyRef;
    if (!ref) throw new Error(`env ${e.name}: only value and valueFrom.secretKeyRef are modelled`);
    const v = secrets[ref.name]?.[ref.key];
    if (v !== undefined) out[e.name] = v;
    else if (!ref.optional) throw new Error(`env ${e.name}: secret "${ref.name}" has no key "${ref.key}": the pod would not start`);
  }
  return out;
}

/**
 * The Sluice config a pod runs with: the ConfigMap's sluice.config.json
 * (mounted as --config) and the container's environment, loaded by Sluice's
 * own loader. Returns its errors instead when Sluice would refuse to start.
 */
export async function podConfig(configMap: { data?: Record<string, string> }, env: Record<string, string>): Promise<{ config: SluiceConfig } | { errors: string[] }> {
  const json = configMap.data?.["sluice.config.json"];
  if (json === undefined) throw new Error("the ConfigMap has no sluice.config.json");
  const dir = mkdtempSync(path.join(os.tmpdir(), "sluice-pod-config-"));
  try {
    writeFileSync(path.join(dir, "sluice.config.json"), json);
    const loaded = await loadConfig({ cwd: dir, env, flags: {}, configFile: "sluice.config.json" });
    return "errors" in loaded ? { errors: loaded.errors.map((e) => e.message) } : { config: loaded.config };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
