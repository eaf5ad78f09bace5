// Every Kubernetes and Knative manifest in wrangler-free-deploy/, rendered
// through kustomize, is checked against the real API schemas (values and
// field names), and against Sluice: the config it mounts is a valid Sluice
// config, the grace period outlasts preStop plus the drain, the probes and
// ports are the gateway's, the resources cover the memory the benchmark
// harness measured plus the response bytes Sluice may buffer before it
// sheds (overload.maxBufferedBytes), and the admin listener is where the scrape configs
// (PodMonitor, ServiceMonitor, plain Prometheus jobs) look for it, with its
// token from a Secret. admin-scrape.test.ts scrapes it for real.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { isLoopback, loadConfig } from "../../src/config/load-config.js";
import type { SluiceConfig } from "../../src/config/config.js";
import { options } from "../../src/config/options.js";
import { root } from "../support/gateway.js";
import { latestBenchResults, validateManifests, type Manifest } from "../support/kubernetes-schemas.js";
import { kustomizeBuild, kustomizeBuildWith } from "../support/kustomize.js";
import { containerEnv, podConfig } from "../support/pod-env.js";
import { discover, relabel, type DiscoveredPod, type KubernetesSdConfig, type RelabelRule } from "../support/prometheus-targets.js";
import { describeWithTool, findTool } from "../support/tools.js";

const deployDir = path.join(root, "wrangler-free-deploy");
const kustomize = findTool("kustomize", "go install sigs.k8s.io/kustomize/kustomize/v5@v5.8.1");

/** How long after drainTimeoutMs the gateway may take to end calls and close connections (src/host/gateway.ts). */
const afterDrainSeconds = 4;
/** Where the admin listener serves metrics (src/observe/admin-server.ts; admin-scrape.test.ts scrapes it). */
const metricsPath = "/metrics";
/** What the tests put in the Secret sluice-admin, as an operator would. */
const secrets = { "sluice-admin": { token: "test-admin-token-0123456789abcdef" } };
/** Ports Knative's queue-proxy and profiler hold in every pod (knative.dev/serving, k8s_validation.go). */
const knativeReservedPorts = [8008, 8012, 8013, 8022, 9090, 9091];

const render = (dir: string): Manifest[] => kustomizeBuild(kustomize.path!, dir);

/** The config the pod runs with (ConfigMap and environment, Secrets filled in), or a failed assertion naming Sluice's errors. */
async function effectiveConfig(configMap: Record<string, any>, container: Record<string, any>): Promise<SluiceConfig> {
  const loaded = await podConfig(configMap, containerEnv(container, secrets));
  assert.ok("config" in loaded, "errors" in loaded ? loaded.errors.join("\n") : "");
  return loaded.config;
}

/** The one job of a scrape-config.yaml. */
function scrapeJob(file: string): { metrics_path: string; scheme: string; authorization: { type?: string; credentials?: string; credentials_file?: string }; kubernetes_sd_configs: KubernetesSdConfig[]; relabel_configs: RelabelRule[] } {
  const doc = parse(readFileSync(file, "utf8")) as { scrape_configs: unknown[] };
  assert.equal(doc.scrape_configs.length, 1);
  return doc.scrape_configs[0] as ReturnType<typeof scrapeJob>;
}

/** The secretKeyRef the container's SLUICE_ADMIN_TOKEN comes from. */
function tokenRef(container: Record<string, any>): { name: string; key: string } {
  const env = (container.env as any[]).find((e) => e.name === "SLUICE_ADMIN_TOKEN");
  assert.ok(env, "SLUICE_ADMIN_TOKEN is set");
  assert.equal(env.value, undefined, "never a literal in the manifest");
  assert.deepEqual(Object.keys(env.valueFrom), ["secretKeyRef"]);
  assert.notEqual(env.valueFrom.secretKeyRef.optional, true, "without the token the pod must not start: Sluice would refuse the non-loopback admin.host anyway");
  return env.valueFrom.secretKeyRef;
}

/** No object carries a token: no Secret is shipped, no ConfigMap or literal env value holds one. */
function assertNoTokenInPlainText(manifests: Manifest[]): void {
  assert.deepEqual(manifests.filter((m) => m.value.kind === "Secret").map((m) => (m.value.metadata as any).name), [], "the kit names the Secret; the operator creates it");
  for (const m of manifests.filter((x) => x.value.kind === "ConfigMap")) {
    for (const [k, v] of Object.entries((m.value.data ?? {}) as Record<string, string>)) {
      assert.doesNotMatch(v, /token/i, `ConfigMap ${(m.value.metadata as any).name} ${k}`);
      assert.doesNotMatch(v, new RegExp(secrets["sluice-admin"].token));
    }
  }
  assert.doesNotMatch(JSON.stringify(manifests.map((m) => m.value)), /SLUICE_ADMIN_TOKEN","value"/);
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

/** The highest resident memory (MiB) of Sluice the newest harness run measured, and that run's file. */
function measuredPeak(): { peak: number; file: string } {
  const { file, value } = latestBenchResults();
  const peaks = [...value.unary, ...value.serverStream, ...value.bidi].filter((r) => r.server === "sluice").map((r) => r.summary?.peakRssMb ?? 0);
  return { peak: Math.max(...peaks), file: path.relative(root, file) };
}

/**
 * kubernetes/README.md, "Resources": the limit holds the peak under load plus
 * the response bytes Sluice may buffer before it sheds (off the V8 heap),
 * with a tenth of the limit to spare; otherwise the OOM killer acts first.
 */
function assertMemoryRule(where: string, limit: string, config: SluiceConfig): void {
  const { peak, file } = measuredPeak();
  const buffered = config.overload.maxBufferedBytes / (1024 * 1024);
  const spare = mebibytes(limit) - peak - buffered;
  assert.ok(spare >= mebibytes(limit) / 10, `${where}: limits.memory ${limit} must hold the ${peak} MiB peak (${file}) + overload.maxBufferedBytes ${buffered} MiB with a tenth to spare; ${spare.toFixed(1)} MiB left`);
}

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
        const kinds = ["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Service", ...(target === "overlays/prod" ? ["NetworkPolicy"] : [])];
        assert.deepEqual(manifests.map((m) => m.value.kind).sort(), kinds.sort());
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
        const needed = preStop + Math.ceil((config.shutdownDelayMs + config.drainTimeoutMs) / 1000) + afterDrainSeconds;
        assert.ok(pod.terminationGracePeriodSeconds > needed, `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} must exceed preStop ${preStop} s + shutdownDelayMs ${config.shutdownDelayMs} ms + drainTimeoutMs ${config.drainTimeoutMs} ms + ${afterDrainSeconds} s`);
        assert.ok(pod.terminationGracePeriodSeconds <= needed + 5, "and not by much: a stuck pod should not linger");
        assert.ok(preStop >= 2, "preStop leaves time for the endpoint to leave the load balancers");
      });

      test("probes, ports and the Service are the gateway's: readiness /readyz, liveness /healthz, appProtocol h2c", () => {
        const deployment = find(manifests, "Deployment");
        const service = find(manifests, "Service");
        const [container] = deployment.spec.template.spec.containers;
        const port = container.ports.find((p: any) => p.name === "http");
        assert.equal(container.readinessProbe.httpGet.path, "/readyz");
        assert.equal(container.livenessProbe.httpGet.path, "/healthz");
        assert.equal(container.readinessProbe.httpGet.port, port.name);
        assert.equal(container.env.find((e: any) => e.name === "SLUICE_PORT").value, String(port.containerPort));
        assert.equal(container.env.find((e: any) => e.name === "SLUICE_HOST").value, "0.0.0.0");
        assert.equal(service.spec.ports.length, 1, "the Service carries RPCs only: no Ingress or Gateway route can reach the admin listener through it");
        assert.equal(service.spec.ports[0].appProtocol, "kubernetes.io/h2c");
        assert.equal(service.spec.ports[0].targetPort, port.name);
        const podLabels = deployment.spec.template.metadata.labels;
        for (const [k, v] of Object.entries(service.spec.selector)) assert.equal(podLabels[k], v, "the Service selects the pods");
        assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0, "a rolling update adds before it removes");
      });

      test(target === "overlays/prod"
        ? "the admin listener: on the pod's address, on the declared port \"metrics\", its token from the Secret sluice-admin; probes stay on the RPC port"
        : "the admin listener: on the pod's loopback (kubectl port-forward reaches it), no token, no port declared", async () => {
        const deployment = find(manifests, "Deployment");
        const [container] = deployment.spec.template.spec.containers;
        const config = await effectiveConfig(find(manifests, "ConfigMap"), container);
        assert.equal(config.admin.port, 9464);
        const metrics = container.ports.find((p: any) => p.name === "metrics");
        if (target === "overlays/prod") {
          assert.equal(config.admin.host, "0.0.0.0", "reachable on the pod's IP");
          assert.equal(config.admin.token, secrets["sluice-admin"].token, "the token the Secret holds");
          assert.deepEqual(tokenRef(container), { name: "sluice-admin", key: "token" });
          assert.deepEqual(metrics, { name: "metrics", containerPort: config.admin.port, protocol: "TCP" });
          // Without the Secret's value, the same pod would not serve: Sluice refuses a non-loopback admin.host without a token.
          const withoutToken = await podConfig(find(manifests, "ConfigMap"), containerEnv({ env: container.env.filter((e: any) => e.name !== "SLUICE_ADMIN_TOKEN") }, {}));
          assert.ok("errors" in withoutToken && withoutToken.errors.some((e) => /admin\.token .*not a loopback address/.test(e)), JSON.stringify(withoutToken));
        } else {
          assert.ok(isLoopback(config.admin.host), `admin.host ${config.admin.host}`);
          assert.equal(config.admin.token, undefined);
          assert.equal(metrics, undefined, "no port declared for a listener only the pod itself reaches");
        }
        for (const probe of [container.readinessProbe, container.livenessProbe]) assert.equal(probe.httpGet.port, "http", "probes never need the admin token");
        assert.notEqual(config.admin.port, config.port);
        assertNoTokenInPlainText(manifests);
      });

      if (target === "overlays/prod") {
        test("the NetworkPolicy admits anyone to the RPC port and only the monitoring namespace to the admin listener", () => {
          const deployment = find(manifests, "Deployment");
          const policy = find(manifests, "NetworkPolicy");
          const podLabels = deployment.spec.template.metadata.labels;
          for (const [k, v] of Object.entries(policy.spec.podSelector.matchLabels)) assert.equal(podLabels[k], v, "it selects the pods");
          assert.deepEqual(policy.spec.policyTypes, ["Ingress"]);
          const ruleFor = (port: string) => {
            const rules = policy.spec.ingress.filter((r: any) => r.ports.some((p: any) => p.port === port));
            assert.equal(rules.length, 1, `one rule for port ${port}`);
            return rules[0];
          };
          assert.equal(ruleFor("http").from, undefined, "RPCs from anywhere, as without the policy");
          assert.deepEqual(ruleFor("metrics").from, [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }]);
          const declared = deployment.spec.template.spec.containers[0].ports.map((p: any) => p.name).sort();
          assert.deepEqual(policy.spec.ingress.flatMap((r: any) => r.ports.map((p: any) => p.port)).sort(), declared, "every declared port has its rule, and no other");
        });
      }

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
          const { peak, file } = measuredPeak();
          const { resources } = find(manifests, "Deployment").spec.template.spec.containers[0];
          assert.ok(mebibytes(resources.requests.memory) >= peak, `requests.memory ${resources.requests.memory} below the ${peak} MiB peak in ${file}`);
          assert.ok(mebibytes(resources.limits.memory) >= 1.5 * peak, `limits.memory ${resources.limits.memory} leaves less than half again the peak`);
        });
      }

      test("the memory limit holds the measured peak plus overload.maxBufferedBytes; HTTP/2 streams per connection at the default the peak was measured with", async () => {
        const { resources } = find(manifests, "Deployment").spec.template.spec.containers[0];
        const config = await sluiceConfigOf(find(manifests, "ConfigMap"));
        assertMemoryRule(target, resources.limits.memory, config);
        const measuredWith = options.find((o) => o.key === "http2.maxConcurrentStreams")!.default as number;
        assert.ok(config.http2.maxConcurrentStreams <= measuredWith, `http2.maxConcurrentStreams ${config.http2.maxConcurrentStreams}: the harness measured the peak at Sluice's default, ${measuredWith}`);
      });
    });
  }
});

describeWithTool(kustomize, "the container image's own config", {}, () => {
  test("fits the memory limit the manifests give a pod (base): the measured peak plus overload.maxBufferedBytes", async () => {
    const { resources } = find(render(path.join(deployDir, "kubernetes", "base")), "Deployment").spec.template.spec.containers[0];
    const loaded = await loadConfig({ cwd: root, env: {}, flags: {}, configFile: path.join(deployDir, "container", "sluice.config.json") });
    assert.ok(!("errors" in loaded), "errors" in loaded ? loaded.errors.map((e) => e.message).join("\n") : "");
    assertMemoryRule("container/sluice.config.json", resources.limits.memory, loaded.config);
  });
});

/** A pod of the Deployment as Prometheus would discover it. */
function podOf(deployment: Record<string, any>, ip: string): DiscoveredPod {
  const spec = deployment.spec.template.spec;
  return { name: `${deployment.metadata.name}-7d9c5-x2x4q`, namespace: deployment.metadata.namespace ?? "default", ip, labels: deployment.spec.template.metadata.labels, containers: spec.containers };
}

describeWithTool(kustomize, "Kubernetes: scraping overlays/prod", {}, () => {
  const prod = render(path.join(deployDir, "kubernetes", "overlays", "prod"));
  const deployment = find(prod, "Deployment");
  const [container] = deployment.spec.template.spec.containers;
  const metrics = container.ports.find((p: any) => p.name === "metrics");

  describe("with the Prometheus Operator (the prometheus component)", () => {
    const manifests = kustomizeBuildWith(kustomize.path!, path.join(deployDir, "kubernetes", "overlays", "prod"), [path.join(deployDir, "kubernetes", "prometheus")], deployment.metadata.namespace);

    test("every object matches its API schema, the PodMonitor's the operator's (no unknown field)", async () => {
      assert.deepEqual(manifests.map((m) => m.value.kind).sort(), ["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "NetworkPolicy", "PodDisruptionBudget", "PodMonitor", "Service"]);
      assert.deepEqual(await validateManifests(manifests), []);
    });

    test("the PodMonitor selects the pods, in their namespace, and scrapes port \"metrics\" at /metrics with the pods' Secret", async () => {
      const monitor = find(manifests, "PodMonitor");
      assert.equal(monitor.metadata.namespace, deployment.metadata.namespace, "a PodMonitor's Secret and pods are in its own namespace");
      const podLabels = deployment.spec.template.metadata.labels;
      for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels)) assert.equal(podLabels[k], v);
      assert.equal(monitor.spec.podMetricsEndpoints.length, 1);
      const [endpoint] = monitor.spec.podMetricsEndpoints;
      assert.equal(endpoint.port, metrics.name);
      assert.equal(metrics.containerPort, (await effectiveConfig(find(manifests, "ConfigMap"), container)).admin.port);
      assert.equal(endpoint.path, metricsPath);
      assert.equal(endpoint.scheme, "http");
      assert.deepEqual(endpoint.authorization, { type: "Bearer", credentials: tokenRef(container) });
    });
  });

  describe("with a plain Prometheus (prometheus/scrape-config.yaml)", () => {
    const job = scrapeJob(path.join(deployDir, "kubernetes", "prometheus", "scrape-config.yaml"));

    test("one target per pod of the Deployment, at its admin listener; none for another app's pods", () => {
      const other: DiscoveredPod = { name: "other-1", namespace: deployment.metadata.namespace, ip: "10.0.0.8", labels: { "app.kubernetes.io/name": "other" }, containers: [{ name: "other", ports: [{ name: "metrics", containerPort: 9100 }] }] };
      assert.equal(job.kubernetes_sd_configs.length, 1);
      const found = relabel(discover(job.kubernetes_sd_configs[0]!, [podOf(deployment, "10.0.0.7"), podOf(deployment, "fd00::7"), other]), job.relabel_configs);
      assert.deepEqual(found.map((t) => t.__address__), [`10.0.0.7:${metrics.containerPort}`, `[fd00::7]:${metrics.containerPort}`]);
      assert.deepEqual(found.map((t) => [t.namespace, t.pod]), [[deployment.metadata.namespace, podOf(deployment, "").name], [deployment.metadata.namespace, podOf(deployment, "").name]]);
    });

    test("at /metrics, over HTTP, with the token as a Bearer credential read from a file", () => {
      assert.equal(job.metrics_path, metricsPath);
      assert.equal(job.scheme, "http");
      assert.equal(job.authorization.type ?? "Bearer", "Bearer");
      assert.equal(job.authorization.credentials, undefined, "not written into prometheus.yml");
      assert.ok(path.isAbsolute(job.authorization.credentials_file ?? ""), "a mounted file");
    });
  });
});

describeWithTool(kustomize, "Knative Serving", {}, () => {
  const manifests = render(path.join(deployDir, "knative"));

  test("the Service and its ConfigMap match the Knative and Kubernetes API schemas (no unknown field)", async () => {
    assert.deepEqual(manifests.map((m) => `${String(m.value.apiVersion)} ${String(m.value.kind)}`).sort(), ["serving.knative.dev/v1 Service", "v1 ConfigMap"]);
    assert.deepEqual(await validateManifests(manifests), []);
  });

  test("an h2c port, concurrency within Sluice's gateway-wide cap, and timeouts derived from Sluice's limits", async () => {
    const service = find(manifests, "Service", "serving.knative.dev/v1");
    const config = await sluiceConfigOf(find(manifests, "ConfigMap"));
    const revision = service.spec.template;
    const [container] = revision.spec.containers;
    assert.deepEqual(container.ports, [{ name: "h2c", containerPort: 8080 }]);
    // The queue-proxy holds a pod to containerConcurrency; Sluice's gateway-wide cap must let all of them in.
    assert.ok(revision.spec.containerConcurrency >= 1, "a finite containerConcurrency (0 is unlimited)");
    assert.ok(revision.spec.containerConcurrency <= config.overload.maxInFlight, `containerConcurrency ${revision.spec.containerConcurrency} above overload.maxInFlight ${config.overload.maxInFlight}: Sluice would shed calls the queue-proxy let in`);
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

  const service = find(manifests, "Service", "serving.knative.dev/v1");
  const [container] = service.spec.template.spec.containers;

  test("the memory limit holds the measured peak plus overload.maxBufferedBytes", async () => {
    assertMemoryRule("knative", container.resources.limits.memory, await sluiceConfigOf(find(manifests, "ConfigMap")));
  });

  test("the admin listener on the pod's address, its token from the Secret sluice-admin, on a port Knative neither routes nor reserves", async () => {
    const config = await effectiveConfig(find(manifests, "ConfigMap"), container);
    assert.equal(config.admin.host, "0.0.0.0");
    assert.equal(config.admin.token, secrets["sluice-admin"].token);
    assert.deepEqual(tokenRef(container), { name: "sluice-admin", key: "token" });
    assert.equal(container.ports.length, 1, "Knative allows one declared port: the h2c one");
    assert.notEqual(config.admin.port, container.ports[0].containerPort);
    assert.ok(!knativeReservedPorts.includes(config.admin.port as number), `${String(config.admin.port)} is one of Knative's own ports`);
    assertNoTokenInPlainText(manifests);
  });

  /** A pod of the Knative Service as Knative runs it: its port renamed user-port, the queue-proxy beside it. */
  const knativePod = (ip: string): DiscoveredPod => ({
    name: `${service.metadata.name}-00001-deployment-5f7d-abcde`,
    namespace: "default",
    ip,
    labels: { ...(service.spec.template.metadata.labels ?? {}), "serving.knative.dev/service": service.metadata.name, "serving.knative.dev/configuration": service.metadata.name, "serving.knative.dev/revision": `${service.metadata.name}-00001` },
    containers: [
      { name: container.name ?? "user-container", ports: [{ name: "user-port", containerPort: container.ports[0].containerPort }] },
      { name: "queue-proxy", ports: [{ name: "http-queueadm", containerPort: 8022 }, { name: "http-autometric", containerPort: 9090 }, { name: "http-usermetric", containerPort: 9091 }, { name: "queue-port", containerPort: 8013 }] },
    ],
  });

  describe("with the Prometheus Operator (the prometheus component)", () => {
    const withOperator = kustomizeBuildWith(kustomize.path!, path.join(deployDir, "knative"), [path.join(deployDir, "knative", "prometheus")]);

    test("every object matches its API schema (no unknown field)", async () => {
      assert.deepEqual(withOperator.map((m) => `${String(m.value.apiVersion)} ${String(m.value.kind)}`).sort(), ["monitoring.coreos.com/v1 ServiceMonitor", "serving.knative.dev/v1 Service", "v1 ConfigMap", "v1 Service"]);
      assert.deepEqual(await validateManifests(withOperator), []);
    });

    test("a headless Service on the Knative Service's pods at the admin port, and a ServiceMonitor on it at /metrics with the pods' Secret", async () => {
      const config = await effectiveConfig(find(withOperator, "ConfigMap"), container);
      const metricsService = find(withOperator, "Service", "v1");
      const pod = knativePod("10.0.0.9");
      for (const [k, v] of Object.entries(metricsService.spec.selector)) assert.equal(pod.labels[k], v, "it selects the Knative Service's pods");
      assert.equal(metricsService.spec.clusterIP, "None", "no virtual IP: Prometheus scrapes each pod");
      assert.equal(metricsService.spec.ports.length, 1);
      assert.equal(metricsService.spec.ports[0].targetPort, config.admin.port, "a number: the port is not declared on the pods");
      const monitor = find(withOperator, "ServiceMonitor");
      for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels)) assert.equal(metricsService.metadata.labels[k], v);
      assert.equal(monitor.spec.endpoints.length, 1);
      const [endpoint] = monitor.spec.endpoints;
      assert.equal(endpoint.port, metricsService.spec.ports[0].name);
      assert.equal(endpoint.path, metricsPath);
      assert.deepEqual(endpoint.authorization, { type: "Bearer", credentials: tokenRef(container) });
    });
  });

  test("with a plain Prometheus (prometheus/scrape-config.yaml): one target per pod, at the admin port, none on the queue-proxy", async () => {
    const config = await effectiveConfig(find(manifests, "ConfigMap"), container);
    const job = scrapeJob(path.join(deployDir, "knative", "prometheus", "scrape-config.yaml"));
    const found = relabel(discover(job.kubernetes_sd_configs[0]!, [knativePod("10.0.0.9"), knativePod("fd00::9")]), job.relabel_configs);
    assert.deepEqual(found.map((t) => t.__address__), [`10.0.0.9:${String(config.admin.port)}`, `[fd00::9]:${String(config.admin.port)}`]);
    assert.equal(found[0]!.revision, `${service.metadata.name}-00001`);
    assert.equal(job.metrics_path, metricsPath);
    assert.equal(job.authorization.type ?? "Bearer", "Bearer");
    assert.ok(path.isAbsolute(job.authorization.credentials_file ?? ""));
  });
});
