// The plain-host target: the systemd unit passes systemd-analyze verify and
// says what a gateway needs (dedicated user, ProtectSystem=strict,
// Restart=on-failure, a stop timeout longer than the drain), and its
// ExecStart, ExecReload and stop are replayed on the built artifact: every
// worker serves, the admin listener on loopback answers the scrape job
// beside the unit with every worker's calls and no token, SIGHUP rolls the
// workers, SIGTERM to the main process drains all.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import { isLoopback, loadConfig } from "../../src/config/load-config.js";
import { adminUrl, parseMetrics, value } from "../support/admin.js";
import { artifactNode, buildArtifact, copyReadOnly, scratchFolder, unprivilegedUser } from "../support/artifact.js";
import { launchGateway, root, type RunningGateway } from "../support/gateway.js";
import { describeWithTool, findTool } from "../support/tools.js";

const dir = path.join(root, "wrangler-free-deploy", "host");
const unitText = readFileSync(path.join(dir, "sluice.service"), "utf8");

/** The unit's settings, by section; a key set more than once keeps every value. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const section = /^\[(\w+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf("=");
    assert.ok(current && eq > 0, `unit line outside a section or without "=": ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

const service = parseUnit(unitText).get("Service")!;
const get = (key: string) => {
  const v = service.get(key);
  assert.ok(v, `[Service] ${key} is set`);
  return v.at(-1)!;
};

async function hostConfig() {
  const loaded = await loadConfig({ cwd: dir, env: {}, flags: {}, configFile: "sluice.config.json" });
  assert.ok(!("errors" in loaded), "errors" in loaded ? loaded.errors.map((e) => e.message).join("\n") : "");
  return loaded.config;
}
/** What a stop waits for before the workers are asked to drain, plus the drain: shutdownDelayMs + drainTimeoutMs. */
const stopMs = async () => {
  const c = await hostConfig();
  return c.shutdownDelayMs + c.drainTimeoutMs;
};

/** The job of scrape-config.yaml beside the unit. */
const scrapeJob = (parse(readFileSync(path.join(dir, "scrape-config.yaml"), "utf8")) as { scrape_configs: { metrics_path: string; scheme: string; authorization?: unknown; static_configs: { targets: string[] }[] }[] }).scrape_configs[0]!;

const verify = findTool("systemd-analyze", "apt-get install systemd");
describeWithTool(verify, "the systemd unit (systemd-analyze verify)", {}, () => {
  test("verifies with no unknown key, section or value", () => {
    const copy = path.join(os.tmpdir(), `sluice-unit-${process.pid}`, "sluice.service");
    mkdirSync(path.dirname(copy), { recursive: true });
    copyFileSync(path.join(dir, "sluice.service"), copy);
    try {
      const r = spawnSync(verify.path!, ["verify", copy], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      // The user and the artifact exist only on the host it is installed on.
      const complaints = r.stderr.split("\n").filter((l) => l.trim() !== "" && !/\/opt\/sluice|sluice\.config\.json|Failed to resolve user|No such file/.test(l));
      assert.deepEqual(complaints, []);
    } finally {
      rmSync(path.dirname(copy), { recursive: true, force: true });
    }
  });
});

describe("the systemd unit (its settings)", () => {
  test("a dedicated user, ProtectSystem=strict, a private /tmp, Restart=on-failure, no MemoryDenyWriteExecute (V8's JIT)", () => {
    assert.equal(get("User"), "sluice");
    assert.equal(get("Group"), "sluice");
    assert.equal(get("ProtectSystem"), "strict");
    assert.equal(get("PrivateTmp"), "yes");
    assert.equal(get("NoNewPrivileges"), "yes");
    assert.equal(get("Restart"), "on-failure");
    assert.equal(service.get("MemoryDenyWriteExecute"), undefined);
    assert.equal(parseUnit(unitText).get("Install")?.get("WantedBy")?.[0], "multi-user.target");
  });

  test("stops with SIGTERM to the main process only, and waits longer than the drain", async () => {
    assert.equal(get("KillSignal"), "SIGTERM");
    assert.equal(get("KillMode"), "mixed", "workers hear the primary, not systemd (a second signal would skip their drain)");
    const stopSeconds = Number(/^(\d+)s?$/.exec(get("TimeoutStopSec"))?.[1]);
    // The primary waits shutdownDelayMs, then gives a worker drainTimeoutMs plus 10 s before it kills it (src/cli.ts).
    const needed = (await stopMs()) / 1000 + 10;
    assert.ok(stopSeconds > needed, `TimeoutStopSec=${stopSeconds} must exceed shutdownDelayMs + drainTimeoutMs + 10 s = ${needed} s`);
  });

  test("ExecStart runs the artifact with --workers auto and the config file; ExecReload sends SIGHUP", () => {
    assert.equal(get("ExecStart"), "/usr/bin/node --max-semi-space-size=16 --min-semi-space-size=16 /opt/sluice/current/sluice.mjs start --workers auto --config /etc/sluice/sluice.config.json");
    assert.equal(get("ExecReload"), "/bin/kill -HUP $MAINPID");
    assert.equal(get("WorkingDirectory"), "/opt/sluice/current");
  });
});

describe("the admin listener of the example config, and the scrape job beside it", () => {
  test("on loopback at 9464 (no token needed, none set); the job scrapes exactly that, at /metrics, without credentials", async () => {
    const config = await hostConfig();
    assert.equal(config.admin.port, 9464);
    assert.ok(isLoopback(config.admin.host), `admin.host ${config.admin.host}`);
    assert.equal(config.admin.token, undefined);
    assert.ok(!(service.get("Environment") ?? []).some((e) => e.startsWith("SLUICE_ADMIN_")), "the unit leaves the admin listener to the config file");
    assert.deepEqual(scrapeJob.static_configs.flatMap((c) => c.targets), [`${config.admin.host}:${config.admin.port}`]);
    assert.equal(scrapeJob.metrics_path, "/metrics");
    assert.equal(scrapeJob.scheme, "http");
    assert.equal(scrapeJob.authorization, undefined);
  });
});

describe("the unit's commands, replayed on the built artifact", () => {
  const work = scratchFolder("sluice-host-");
  const current = path.join(work, "opt", "sluice", "current");
  const etc = path.join(work, "etc", "sluice");
  let gw: RunningGateway;

  before(async () => {
    const out = path.join(work, "build");
    const r = buildArtifact(out, ["--set", "typeCheck=off"]);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    copyReadOnly(out, current);
    mkdirSync(etc, { recursive: true });
    copyFileSync(path.join(dir, "sluice.config.json"), path.join(etc, "sluice.config.json"));
    chmodSync(path.join(etc, "sluice.config.json"), 0o444);
    const [node, ...args] = get("ExecStart").split(" ").map((a) => a.replace("/opt/sluice/current", current).replace("/etc/sluice", etc));
    assert.equal(node, "/usr/bin/node");
    const env = Object.fromEntries((service.get("Environment") ?? []).map((e) => e.split("=", 2) as [string, string]));
    // Loopback and free ports here (the admin listener's too: the machine is shared); the unit's own values are checked above.
    gw = await launchGateway(artifactNode, args, { cwd: current, env: { ...env, SLUICE_HOST: "127.0.0.1", SLUICE_PORT: "0", SLUICE_ADMIN_PORT: "0" }, ...unprivilegedUser() });
  });

  after(async () => {
    if (gw && gw.child.exitCode === null) await gw.stop("SIGKILL");
    rmSync(work, { recursive: true, force: true });
  });

  test("one worker per CPU serves; SIGHUP replaces them; SIGTERM to the main process drains every worker and exits 0", { timeout: 60_000 }, async () => {
    const workers = Number(/sluice listening on \S+ \(HTTP\/1\.1 and h2c\), (\d+) workers?/.exec(gw.output())?.[1]);
    const cpus = os.availableParallelism();
    if (cpus > 1) assert.equal(workers, cpus);
    const greet = async () => (await (await fetch(`${gw.url}/greet.v1.GreetService/Greet`, { method: "POST", headers: { "content-type": "application/json" }, body: "{\"name\":\"host\"}" })).json()) as unknown;
    const calls = Math.max(workers, 4);
    for (let i = 0; i < calls; i++) assert.deepEqual(await greet(), { greeting: "Hello, host!", locale: "en" });
    // The scrape job's request: loopback, its path, no credentials; the primary sums every worker.
    const admin = adminUrl(gw);
    assert.match(admin, /^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${admin}${scrapeJob.metrics_path}`);
    assert.equal(res.status, 200);
    const samples = parseMetrics(await res.text());
    assert.equal(value(samples, "grpc_server_handled_total", { grpc_service: "greet.v1.GreetService", grpc_method: "Greet", protocol: "connect", grpc_code: "OK" }), calls);
    gw.child.kill("SIGHUP");
    await gw.waitForOutput(/rolling restart done/, 40_000);
    assert.deepEqual(await greet(), { greeting: "Hello, host!", locale: "en" });
    gw.child.kill(get("KillSignal") as NodeJS.Signals);
    assert.equal(await gw.exited, 0);
    assert.match(gw.output(), /shutting down: every worker drains/);
  });
});
