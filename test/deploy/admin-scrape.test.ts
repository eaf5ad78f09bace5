// The prod overlay's pod, replayed on the built artifact and scraped as its
// PodMonitor and the plain Prometheus job would: the artifact runs with the
// rendered ConfigMap's config, the container's args and its environment,
// SLUICE_ADMIN_TOKEN filled from "the Secret" as the kubelet would. /metrics
// answers at the path the scrape configs name only with the Secret's token
// (401 SLUICE_ADMIN_UNAUTHORIZED without it, or with another); the probes'
// paths answer on the RPC port with no token; the RPC port serves no
// metrics; and the same pod without the Secret's value does not start.
// With SLUICE_HOST and SLUICE_ADMIN_HOST "::", the advice for IPv6 clusters,
// the pod answers over IPv6 and IPv4; as shipped (0.0.0.0), IPv4 only.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { after, before, test } from "node:test";
import { parse } from "yaml";
import { adminUrl, parseMetrics, value } from "../support/admin.js";
import { buildArtifact, copyReadOnly, runArtifact, scratchFolder, startArtifact } from "../support/artifact.js";
import { root, type RunningGateway } from "../support/gateway.js";
import { kustomizeBuildWith } from "../support/kustomize.js";
import { containerEnv, type Secrets } from "../support/pod-env.js";
import { describeWithTool, findTool } from "../support/tools.js";

const kubernetesDir = path.join(root, "wrangler-free-deploy", "kubernetes");
const kustomize = findTool("kustomize", "go install sigs.k8s.io/kustomize/kustomize/v5@v5.8.1");
const token = "prod-admin-token-0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const secrets: Secrets = { "sluice-admin": { token } };
/** The Accept header Prometheus 3 scrapes with (its default scrape_protocols). */
const prometheusAccept = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";

/** Whether this machine can listen on ::1 (IPv6 may be turned off in its kernel). */
function hasIpv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(0, "::1", () => server.close(() => resolve(true)));
  });
}

describeWithTool(kustomize, "overlays/prod's pod, replayed on the built artifact and scraped", {}, () => {
  const work = scratchFolder("sluice-admin-scrape-");
  const deployed = path.join(work, "app");
  const etc = path.join(work, "etc", "sluice");
  const rendered = kustomizeBuildWith(kustomize.path!, path.join(kubernetesDir, "overlays", "prod"), [path.join(kubernetesDir, "prometheus")], "sluice");
  const byKind = (kind: string) => rendered.find((m) => m.value.kind === kind)!.value as Record<string, any>;
  const container = byKind("Deployment").spec.template.spec.containers[0];
  const endpoint = byKind("PodMonitor").spec.podMetricsEndpoints[0];
  const job = (parse(readFileSync(path.join(kubernetesDir, "prometheus", "scrape-config.yaml"), "utf8")) as { scrape_configs: Record<string, any>[] }).scrape_configs[0]!;
  const args = (container.args as string[]).map((a) => a.replace("/etc/sluice", etc));
  /**
   * The container's environment, but on free loopback ports for the RPC
   * listener (the machine is shared; manifests.test.ts checks the numbers).
   * The admin listener keeps the manifest's host, 0.0.0.0, which is what
   * needs the token; its port is a free one too.
   */
  const env = (s: Secrets, c: { env?: any[] } = container): Record<string, string> => ({ ...containerEnv(c, s), SLUICE_HOST: "127.0.0.1", SLUICE_PORT: "0", SLUICE_ADMIN_PORT: "0" });
  let gw: RunningGateway;
  let admin: string;

  before(async () => {
    const out = path.join(work, "build");
    const r = buildArtifact(out, ["--set", "typeCheck=off"]);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    copyReadOnly(out, deployed);
    mkdirSync(etc, { recursive: true });
    const configMap = byKind("ConfigMap");
    writeFileSync(path.join(etc, "sluice.config.json"), configMap.data["sluice.config.json"] as string);
    chmodSync(path.join(etc, "sluice.config.json"), 0o444);
    assert.equal(env(secrets).SLUICE_ADMIN_HOST, "0.0.0.0");
    gw = await startArtifact(deployed, args, env(secrets));
    // Bound to every address; scraped here over loopback.
    admin = adminUrl(gw).replace("://0.0.0.0:", "://127.0.0.1:");
  });

  after(async () => {
    if (gw && gw.child.exitCode === null) await gw.stop("SIGKILL");
    rmSync(work, { recursive: true, force: true });
  });

  test("the admin listener is on its own port, bound to every address", () => {
    assert.match(gw.output(), /sluice admin listening on http:\/\/0\.0\.0\.0:\d+/);
    assert.notEqual(new URL(admin).port, String(gw.port));
  });

  test("without the token, or with another, /metrics (and /status.json) answer 401 SLUICE_ADMIN_UNAUTHORIZED", async () => {
    for (const headers of [{}, { authorization: "Bearer not-the-token" } as Record<string, string>, { authorization: `Basic ${Buffer.from(`x:${token}`).toString("base64")}` }]) {
      for (const p of [endpoint.path as string, job.metrics_path as string, "/status.json"]) {
        const res = await fetch(`${admin}${p}`, { headers });
        assert.equal(res.status, 401, `${p} with ${JSON.stringify(headers)}`);
        const body = (await res.json()) as { code: string };
        assert.equal(body.code, "SLUICE_ADMIN_UNAUTHORIZED");
      }
    }
  });

  test("with the Secret's token, as the PodMonitor sends it: OpenMetrics at its path, counting the calls made", async () => {
    const call = await fetch(`${gw.url}/greet.v1.GreetService/Greet`, { method: "POST", headers: { "content-type": "application/json" }, body: "{\"name\":\"prod\"}" });
    assert.equal(call.status, 200);
    const res = await fetch(`${admin}${endpoint.path as string}`, { headers: { authorization: `${endpoint.authorization.type as string} ${secrets[endpoint.authorization.credentials.name]![endpoint.authorization.credentials.key]!}`, accept: prometheusAccept } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/openmetrics-text/);
    const text = await res.text();
    assert.match(text, /# EOF\n$/);
    const samples = parseMetrics(text);
    assert.equal(value(samples, "grpc_server_handled_total", { grpc_service: "greet.v1.GreetService", grpc_method: "Greet", protocol: "connect", grpc_code: "OK" }), 1);
  });

  test("with the token as the plain job sends it (credentials_file, trimmed by Prometheus): the Prometheus text format at its path", async () => {
    // The mounted Secret's file, as Prometheus reads it.
    const file = path.join(work, "credentials");
    writeFileSync(file, token);
    const res = await fetch(`${admin}${job.metrics_path as string}`, { headers: { authorization: `${(job.authorization.type as string | undefined) ?? "Bearer"} ${readFileSync(file, "utf8").trim()}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    assert.ok(value(parseMetrics(await res.text()), "grpc_server_started_total", { grpc_service: "greet.v1.GreetService", grpc_method: "Greet", protocol: "connect" }) >= 1);
  });

  test("the probes' paths answer on the RPC port with no token; the RPC port serves no metrics", async () => {
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      assert.equal(probe.httpGet.port, "http");
      const res = await fetch(`${gw.url}${probe.httpGet.path as string}`);
      assert.equal(res.status, 200, probe.httpGet.path);
    }
    const metricsOnRpcPort = await fetch(`${gw.url}${endpoint.path as string}`, { headers: { authorization: `Bearer ${token}` } });
    assert.notEqual(metricsOnRpcPort.status, 200);
    assert.doesNotMatch(await metricsOnRpcPort.text(), /grpc_server_started_total/);
  });

  test("the same pod without the Secret's value does not start; with a value that ends in a newline, neither (the token is not printed)", () => {
    // A missing Secret stops the kubelet first; were the reference optional, Sluice would refuse the pod.
    assert.throws(() => containerEnv(container, { "sluice-admin": {} }), /secret "sluice-admin" has no key "token"/);
    const r = runArtifact(deployed, args, env({}, { env: container.env.filter((e: any) => e.name !== "SLUICE_ADMIN_TOKEN") }));
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /SLUICE_CONFIG_INVALID: config admin\.token .* admin\.host 0\.0\.0\.0 is not a loopback address/);
    const echoed = runArtifact(deployed, args, env({ "sluice-admin": { token: `${token}\n` } }));
    assert.equal(echoed.code, 1);
    assert.match(echoed.stderr, /config admin\.token = "<hidden, \d+ characters>" \(from environment SLUICE_ADMIN_TOKEN\) .* ends with a line break/);
    assert.ok(!`${echoed.stdout}${echoed.stderr}`.includes(token), "the token is not in the output");
  });

  test("on an IPv6 cluster, with SLUICE_HOST and SLUICE_ADMIN_HOST \"::\" as the README says: probes and scrapes answer over IPv6 and IPv4; the manifests' 0.0.0.0 over IPv4 only", async (t) => {
    if (!(await hasIpv6Loopback())) return t.skip("no IPv6 loopback on this machine");
    const authorization = { authorization: `Bearer ${token}` };
    // The pod as shipped: what a kubelet or Prometheus dialling an IPv6 pod address would meet.
    await assert.rejects(fetch(`http://[::1]:${new URL(admin).port}${endpoint.path as string}`, { headers: authorization }), "0.0.0.0 accepts no IPv6 connection");
    const dual = await startArtifact(deployed, args, { ...env(secrets), SLUICE_HOST: "::", SLUICE_ADMIN_HOST: "::" });
    try {
      const adminPort = new URL(adminUrl(dual)).port;
      for (const host of ["[::1]", "127.0.0.1"]) {
        for (const probe of [container.readinessProbe, container.livenessProbe]) {
          assert.equal((await fetch(`http://${host}:${dual.port}${probe.httpGet.path as string}`)).status, 200, `${host} ${probe.httpGet.path as string}`);
        }
        assert.equal((await fetch(`http://${host}:${adminPort}${endpoint.path as string}`, { headers: authorization })).status, 200, `${host} ${endpoint.path as string}`);
      }
    } finally {
      await dual.stop("SIGKILL");
    }
  });

  test("SIGTERM drains and exits 0 with the admin listener open", async () => {
    gw.child.kill("SIGTERM");
    assert.equal(await gw.exited, 0, gw.output());
  });
});
