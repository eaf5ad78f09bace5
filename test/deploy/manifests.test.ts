// Every Kubernetes and Knative manifest in wrangler-free-deploy/, rendered
// through kustomize, is checked against the real API schemas (values and
// field names), and against Sluice: the config it mounts is a valid Sluice
// config, the grace period outlasts preStop plus the drain, the probes and
// ports are the gateway's, and the resources cover the memory the benchmark
// harness measured.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { loadConfig } from "../../src/config/load-config.js";
import type { SluiceConfig } from "../../src/config/config.js";
import { root } from "../support/gateway.js";
import { latestBenchResults, parseManifests, validateManifests, type Manifest } from "../support/kubernetes-schemas.js";
import { describeWithTool, findTool } from "../support/tools.js";

const deployDir = path.join(root, "wrangler-free-deploy");
const kustomize = findTool("kustomize", "go install sigs.k8s.io/kustomize/kustomize/v5@v5.8.1");

/** How long after drainTimeoutMs the gateway may take to end calls and close connections (src/host/gateway.ts). */
const afterDrainSeconds = 4;

function render(dir: string): Manifest[] {
  const r = spawnSync(kustomize.path!, ["build", dir], { encoding: "utf8" });
  assert.equal(r.status, 0, `kustomize build ${dir} failed:\n${r.stderr}`);
  return parseManifests(r.stdout, `kustomize build ${path.relative(deployDir, dir)}`);
}

function find(ms: Manifest[], kind: string, apiVersion?: string): Record<string, any> {
  const m = ms.find((x) => x.value.kind === kind && (apiVersion === undefined || x.value.apiVersion === apiVersion));
  assert.ok(m, `no ${kind} in ${ms[0]?.source}`);
  return m.value as Record<string, any>;
}

/** The Sluice config a rendered ConfigMap carries, loaded as the gateway would load it. */
async function sluiceConfigOf(configMap: Record<string, any>): Promise<SluiceConfig> {
  const json = configMap.data?.["sluice.config.json"] as string | undefined;
  assert.ok(json, `ConfigMap ${configMap.metadata.name} has no sluice.config.json`);
  const dir = mkdtempSync(path.join(os.tmpdir(), "sluice-configmap-"));
  try {
    writeFileSync(path.join(dir, "sluice.config.json"), json);
    const loaded = await loadConfig({ cwd: dir, env: {}, flags: {}, configFile: "sluice.config.json" });
    assert.ok(!("errors" in loaded), `ConfigMap ${configMap.metadata.name}: ${"errors" in loaded ? loaded.errors.map((e) => e.message).join("; ") : ""}`);
    return loaded.config;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const mebibytes = (q: string): number => {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  assert.ok(m, `memory quantity ${q} in Mi or Gi`);
  return Number(m[1]) * (m[2] === "Gi" ? 1024 : 1);
};

describe("the schema check itself", () => {
  test("a field the API does not have, a wrong type and a missing required field are each reported", async () => {
    const deployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "x" },
      spec: {
        replicas: 2,
        selector: { matchLabels: { a: "b" } },
        template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i", readinessProbe: { httpGet: { path: "/readyz", port: 8080 } } }] } },
      },
    };
    assert.deepEqual(await validateManifests([{ source: "test", value: deployment }]), []);
    const unknown = structuredClone(deployment) as any;
    unknown.spec.template.spec.containers[0].readinessProbe.httpGet.paht = "/readyz";
    const p1 = await validateManifests([{ source: "test", value: unknown }]);
    assert.equal(p1.length, 1, p1.join("\n"));
    assert.match(p1[0]!, /Deployment x \(test\): Object literal may only specify known properties, and '"paht"' does not exist in type/);
    const wrongType = structuredClone(deployment) as any;
    wrongType.spec.replicas = "two";
    assert.ok((await validateManifests([{ source: "test", value: wrongType }])).some((p) => /replicas.*must be integer|Type 'string' is not assignable to type 'number'/.test(p)));
    const missing = structuredClone(deployment) as any;
    delete missing.spec.template.spec.containers[0].name;
    assert.ok((await validateManifests([{ source: "test", value: missing }])).some((p) => /name/.test(p)));
    const knative = { apiVersion: "serving.knative.dev/v1", kind: "Service", metadata: { name: "k" }, spec: { template: { spec: { containerConcurency: 5, containers: [{ image: "i" }] } } } };
    assert.match((await validateManifests([{ source: "test", value: knative }])).join("\n"), /'"containerConcurency"' does not exist/);
  });
});

describeWithTool(kustomize, "Kubernetes (kustomize base, overlays dev and prod)", {}, () => {
  for (const target of ["base", "overlays/dev", "overlays/prod"]) {
    describe(target, () => {
      const manifests = render(path.join(deployDir, "kubernetes", target));

      test("every object matches the Kubernetes API schemas (no unknown field)", async () => {
        assert.deepEqual(manifests.map((m) => m.value.kind).sort(), ["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Service"]);
        assert.deepEqual(await validateManifests(manifests), []);
      });

      test("the Deployment mounts the ConfigMap's config, which Sluice accepts; its grace period outlasts preStop and the drain", async () => {
        const deployment = find(manifests, "Deployment");
        const configMap = find(manifests, "ConfigMap");
        const pod = deployment.spec.template.spec;
        const [container] = pod.containers;
        const configVolume = pod.volumes.find((v: any) => v.configMap);
        assert.equal(configVolume.configMap.name, configMap.metadata.name, "the generated (hashed) ConfigMap name");
        const mount = container.volumeMounts.find((m: any) => m.name === configVolume.name);
        assert.equal(mount.mountPath, "/etc/sluice");
        assert.deepEqual(container.args, ["start", "--config", "/etc/sluice/sluice.config.json"]);
        const config = await sluiceConfigOf(configMap);
        const preStop = container.lifecycle.preStop.sleep.seconds as number;
        const needed = preStop + Math.ceil(config.drainTimeoutMs / 1000) + afterDrainSeconds;
        assert.ok(pod.terminationGracePeriodSeconds > needed, `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} must exceed preStop ${preStop} s + drainTimeoutMs ${config.drainTimeoutMs} ms + ${afterDrainSeconds} s`);
        assert.ok(pod.terminationGracePeriodSeconds <= needed + 5, "and not by much: a stuck pod should not linger");
        assert.ok(preStop >= 2, "preStop leaves time for the endpoint to leave the load balancers");
      });

      test("probes, ports and the Service are the gateway's: readiness /readyz, liveness /healthz, appProtocol h2c", () => {
        const deployment = find(manifests, "Deployment");
        const service = find(manifests, "Service");
        const [container] = deployment.spec.template.spec.containers;
        const port = container.ports[0];
        assert.equal(container.readinessProbe.httpGet.path, "/readyz");
        assert.equal(container.livenessProbe.httpGet.path, "/healthz");
        assert.equal(container.readinessProbe.httpGet.port, port.name);
        assert.equal(container.env.find((e: any) => e.name === "SLUICE_PORT").value, String(port.containerPort));
        assert.equal(container.env.find((e: any) => e.name === "SLUICE_HOST").value, "0.0.0.0");
        assert.equal(service.spec.ports[0].appProtocol, "kubernetes.io/h2c");
        assert.equal(service.spec.ports[0].targetPort, port.name);
        const podLabels = deployment.spec.template.metadata.labels;
        for (const [k, v] of Object.entries(service.spec.selector)) assert.equal(podLabels[k], v, "the Service selects the pods");
        assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0, "a rolling update adds before it removes");
      });

      test("non-root, read-only root filesystem, a writable /tmp", () => {
        const pod = find(manifests, "Deployment").spec.template.spec;
        const [container] = pod.containers;
        assert.equal(pod.securityContext.runAsNonRoot, true);
        assert.notEqual(pod.securityContext.runAsUser, 0);
        assert.equal(container.securityContext.readOnlyRootFilesystem, true);
        assert.equal(container.securityContext.allowPrivilegeEscalation, false);
        const tmp = container.volumeMounts.find((m: any) => m.mountPath === "/tmp");
        assert.ok(pod.volumes.find((v: any) => v.name === tmp.name).emptyDir);
      });

      test("the HPA scales the Deployment; the PDB covers its pods", () => {
        const deployment = find(manifests, "Deployment");
        const hpa = find(manifests, "HorizontalPodAutoscaler");
        const pdb = find(manifests, "PodDisruptionBudget");
        assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata.name });
        assert.ok(hpa.spec.minReplicas >= 1 && hpa.spec.minReplicas <= hpa.spec.maxReplicas);
        assert.equal(deployment.spec.replicas, hpa.spec.minReplicas, "the Deployment starts at the HPA's minimum");
        const podLabels = deployment.spec.template.metadata.labels;
        for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) assert.equal(podLabels[k], v);
        assert.equal(pdb.spec.maxUnavailable, 1);
      });

      if (target !== "overlays/dev") {
        test("memory requests cover the peak the benchmark harness measured", () => {
          const { file, value } = latestBenchResults();
          const peaks = [...value.unary, ...value.serverStream, ...value.bidi].filter((r) => r.server === "sluice").map((r) => r.summary?.peakRssMb ?? 0);
          const peak = Math.max(...peaks);
          const { resources } = find(manifests, "Deployment").spec.template.spec.containers[0];
          assert.ok(mebibytes(resources.requests.memory) >= peak, `requests.memory ${resources.requests.memory} below the ${peak} MiB peak in ${path.relative(root, file)}`);
          assert.ok(mebibytes(resources.limits.memory) >= 1.5 * peak, `limits.memory ${resources.limits.memory} leaves less than half again the peak`);
        });
      }
    });
  }
});

describeWithTool(kustomize, "Knative Serving", {}, () => {
  const manifests = render(path.join(deployDir, "knative"));

  test("the Service and its ConfigMap match the Knative and Kubernetes API schemas (no unknown field)", async () => {
    assert.deepEqual(manifests.map((m) => `${String(m.value.apiVersion)} ${String(m.value.kind)}`).sort(), ["serving.knative.dev/v1 Service", "v1 ConfigMap"]);
    assert.deepEqual(await validateManifests(manifests), []);
  });

  test("an h2c port, and concurrency and timeouts derived from Sluice's limits", async () => {
    const service = find(manifests, "Service", "serving.knative.dev/v1");
    const config = await sluiceConfigOf(find(manifests, "ConfigMap"));
    const revision = service.spec.template;
    const [container] = revision.spec.containers;
    assert.deepEqual(container.ports, [{ name: "h2c", containerPort: 8080 }]);
    assert.equal(revision.spec.containerConcurrency, config.http2.maxConcurrentStreams, "a pod takes at most the calls one HTTP/2 connection may carry");
    const a = revision.metadata.annotations;
    assert.equal(a["autoscaling.knative.dev/metric"], "concurrency");
    assert.equal(Number(a["autoscaling.knative.dev/target"]), revision.spec.containerConcurrency);
    assert.equal(a["autoscaling.knative.dev/target-utilization-percentage"], "70");
    assert.equal(a["autoscaling.knative.dev/min-scale"], "0", "scales to zero");
    const timeoutMs = revision.spec.timeoutSeconds * 1000;
    assert.ok(config.maxTimeoutMs < timeoutMs, "Sluice's own deadline ends a stream before Knative cuts it");
    assert.ok(config.defaultTimeoutMs <= config.maxTimeoutMs);
    assert.ok(config.drainTimeoutMs < timeoutMs);
    assert.equal(container.readinessProbe.httpGet.path, "/readyz");
    assert.equal(container.livenessProbe.httpGet.path, "/healthz");
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.runAsNonRoot, true);
    const configVolume = revision.spec.volumes.find((v: any) => v.configMap);
    assert.equal(configVolume.configMap.name, find(manifests, "ConfigMap").metadata.name);
  });
});
