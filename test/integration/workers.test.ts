// sluice start --workers N: one port served by N processes; a worker that
// dies is replaced; SIGHUP replaces every worker with one that loaded the
// functions again, without a failed call; SIGTERM drains every worker.
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { setTimeout as sleep } from "node:timers/promises";
import { ProbeRequestSchema } from "../gen/probe/v1/probe_pb.js";
import { productionNodeFlags } from "../../src/host/node-flags.js";
import { cli, launchGateway, probeFunctions, root, startGateway, type RunningGateway } from "../support/gateway.js";
import { envelope } from "../support/raw-http.js";

/**
 * One unary gRPC call on a fresh connection; resolves with the answering
 * pid, or the gRPC status if not OK ("no answer in 10 s" for a connection
 * accepted and never served, the failure a worker leaving the cluster too
 * early would cause). A stream refused with REFUSED_STREAM (a connection
 * that reached a worker as it began to drain: its GOAWAY says the stream
 * was never processed) is sent again on a new connection, as gRPC clients
 * retry such streams transparently.
 */
async function callOnNewConnection(gw: RunningGateway): Promise<{ pid?: number; status: string }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await callOnce(gw);
    } catch (e) {
      if (attempt < 3 && (e as { code?: string }).code === "ERR_HTTP2_STREAM_ERROR" && /REFUSED_STREAM/.test(String(e))) continue;
      throw e;
    }
  }
}

async function callOnce(gw: RunningGateway): Promise<{ pid?: number; status: string }> {
  const session = http2.connect(gw.url);
  session.on("error", () => {});
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    session.destroy();
  }, 10_000);
  try {
    const stream = session.request({ ":method": "POST", ":path": "/probe.v1.ProbeService/Unary", "content-type": "application/grpc" });
    let pid: number | undefined;
    let status = "";
    stream.on("response", (h) => {
      pid = Number(h["x-probe-pid"]);
      if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
    });
    stream.on("trailers", (t) => (status = String(t["grpc-status"])));
    stream.resume();
    stream.end(envelope(toBinary(ProbeRequestSchema, create(ProbeRequestSchema, { text: "who" }))));
    await once(stream, "close");
    return { pid, status: timedOut ? "no answer in 10 s" : status };
  } finally {
    clearTimeout(timer);
    session.close();
  }
}

/** The V8 memory flags a process runs with, from its command line (the test runner's loader flags aside). */
function nodeFlagsOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((a) => /^--(max|min)-semi-space-size/.test(a));
}

/** SIGHUP, with calls on new connections all the while until the rolling restart is done: none may fail. */
async function rollsWithoutAFailedCall(gw: RunningGateway): Promise<void> {
  let stop = false;
  const outcomes: string[] = [];
  const loop = (async () => {
    while (!stop) outcomes.push((await callOnNewConnection(gw)).status);
  })();
  gw.child.kill("SIGHUP");
  await gw.waitForOutput(/rolling restart done/, 60_000);
  stop = true;
  await loop;
  assert.ok(outcomes.length > 0);
  assert.deepEqual(outcomes.filter((s) => s !== "0"), [], "calls during the rolling restart all succeed");
}

async function pidsServing(gw: RunningGateway, calls: number): Promise<Set<number>> {
  const pids = new Set<number>();
  for (let i = 0; i < calls; i++) {
    const r = await callOnNewConnection(gw);
    assert.equal(r.status, "0");
    pids.add(r.pid!);
  }
  return pids;
}

test("--workers 2: two processes serve one port; a killed worker is replaced; SIGHUP rolls every worker without a failed call; SIGTERM drains all", { timeout: 120_000 }, async () => {
  const gw = await startGateway({ args: ["--workers", "2", "--set", "drainTimeoutMs=2000"] });
  try {
    assert.match(gw.output(), /sluice listening on \S+ \(HTTP\/1\.1 and h2c\), 2 workers/);
    // node:cluster hands connections round-robin: new connections reach both.
    const first = await pidsServing(gw, 6);
    assert.equal(first.size, 2, `answered by ${[...first].join(", ")}`);
    assert.ok(!first.has(gw.child.pid!), "the primary only supervises");
    // This primary was started without the production Node flags; its workers run with them.
    for (const pid of first) assert.deepEqual(nodeFlagsOf(pid), [...productionNodeFlags], `worker ${pid}`);

    // A worker that dies is replaced.
    const victim = [...first][0]!;
    process.kill(victim, "SIGKILL");
    await gw.waitForOutput(/worker exited unexpectedly; starting a replacement/);
    let replaced = new Set<number>();
    for (let i = 0; i < 50 && (replaced.size < 2 || replaced.has(victim)); i++) {
      await sleep(200);
      replaced = await pidsServing(gw, 4);
    }
    assert.equal(replaced.size, 2);
    assert.ok(!replaced.has(victim));
    for (const pid of replaced) assert.deepEqual(nodeFlagsOf(pid), [...productionNodeFlags], `worker ${pid}`);

    // SIGHUP: a rolling restart while calls keep coming; none fails.
    const before = replaced;
    await rollsWithoutAFailedCall(gw);
    const after = await pidsServing(gw, 6);
    assert.equal(after.size, 2);
    for (const pid of after) assert.ok(!before.has(pid), "every worker was replaced");
  } finally {
    assert.equal(await gw.stop(), 0);
  }
  // Each worker drained (its readiness went NOT_SERVING first) and the primary exited 0.
  const drains = gw.output().match(/"msg":"draining"/g) ?? [];
  assert.ok(drains.length >= 2, `expected every worker to drain:\n${gw.output()}`);
  assert.match(gw.output(), /shutting down: every worker drains/);
});

test("--workers auto on a one-CPU machine: one worker under a primary, so SIGHUP still replaces it without a failed call", { timeout: 120_000 }, async () => {
  // taskset gives the process one CPU: os.availableParallelism() is 1.
  const gw = await launchGateway("taskset", ["-c", "0", process.execPath, cli, "start", "--port", "0", "--functions", probeFunctions, "--workers", "auto", "--set", "drainTimeoutMs=2000"], { cwd: root, env: { ...process.env, SLUICE_LOG_LEVEL: "info" } });
  try {
    assert.match(gw.output(), /sluice listening on \S+ \(HTTP\/1\.1 and h2c\), 1 worker\n/);
    const before = await pidsServing(gw, 3);
    assert.equal(before.size, 1);
    assert.ok(!before.has(gw.child.pid!), "the primary only supervises");
    await rollsWithoutAFailedCall(gw);
    const after = await pidsServing(gw, 3);
    assert.equal(after.size, 1);
    assert.ok(!before.has([...after][0]!), "the worker was replaced");
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test("--workers with dev is refused with the reason", async () => {
  const { runCli } = await import("../support/gateway.js");
  const r = await runCli(["dev", "--port", "0", "--workers", "2"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /SLUICE_CLI_USAGE: dev serves from one process.*--workers 2 is for start/);
});
