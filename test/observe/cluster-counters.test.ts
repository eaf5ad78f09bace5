// sluice start --workers 2: the primary's /metrics sums the workers, and a
// sum that went down would be a counter reset to Prometheus (rate() and
// increase() would count the whole remaining total again). Every counter
// and histogram series must only grow through a rolling restart (SIGHUP)
// and through a worker killed with SIGKILL and replaced; calls per second
// on the status page are never negative.
import assert from "node:assert/strict";
import { once } from "node:events";
import http2 from "node:http2";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { ProbeRequestSchema } from "../gen/probe/v1/probe_pb.js";
import { adminUrl, parseMetrics, value, type Sample } from "../support/admin.js";
import { startGateway, type RunningGateway } from "../support/gateway.js";
import { envelope } from "../support/raw-http.js";

/** One gRPC unary call on its own connection (so that the workers share them); the answering worker's pid. */
async function call(gw: RunningGateway): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const session = http2.connect(gw.url);
    session.on("error", () => {});
    try {
      const stream = session.request({ ":method": "POST", ":path": "/probe.v1.ProbeService/Unary", "content-type": "application/grpc" });
      let pid = 0;
      let status = "";
      stream.on("response", (h) => {
        pid = Number(h["x-probe-pid"]);
        if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
      });
      stream.on("trailers", (t) => (status = String(t["grpc-status"])));
      stream.on("error", () => {});
      stream.resume();
      stream.end(envelope(toBinary(ProbeRequestSchema, create(ProbeRequestSchema, { text: "count me" }))));
      await once(stream, "close");
      // A connection that reached a worker as it began to drain is refused (REFUSED_STREAM): clients retry those.
      if (status === "" && attempt < 3) continue;
      assert.equal(status, "0");
      return pid;
    } finally {
      session.close();
    }
  }
}

/** A scrape: its samples, and the names of the counter and histogram families (whose series must never go down). */
async function scrape(base: string): Promise<{ samples: Sample[]; monotonic: Set<string> }> {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  const monotonic = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (counter|histogram)$/gm)) {
    const name = m[1]!;
    for (const suffix of m[2] === "histogram" ? ["_bucket", "_sum", "_count"] : [""]) monotonic.add(name + suffix);
  }
  return { samples: parseMetrics(text), monotonic };
}

const key = (s: Sample) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;

/** Every counter and histogram series of `earlier` is still there in `later`, at least as high. */
function assertNoneWentDown(earlier: Awaited<ReturnType<typeof scrape>>, later: Awaited<ReturnType<typeof scrape>>, when: string): void {
  const now = new Map(later.samples.map((s) => [key(s), s.value]));
  const down: string[] = [];
  for (const s of earlier.samples) {
    if (!earlier.monotonic.has(s.name)) continue;
    const v = now.get(key(s));
    if (v === undefined || v < s.value) down.push(`${key(s)}: ${s.value} -> ${v ?? "absent"}`);
  }
  assert.deepEqual(down, [], `counters that went down ${when}`);
}

interface Status {
  routes: { route: string; calls: number; callsPerSecond: number }[];
}

/** GET /status.json: the Unary route's calls so far, after checking that no route's rate is negative. */
async function statusCalls(base: string): Promise<number> {
  const status = (await (await fetch(`${base}/status.json`)).json()) as Status;
  for (const r of status.routes) assert.ok(r.callsPerSecond >= 0, JSON.stringify(r));
  return status.routes.find((r) => r.route === "probe.v1.ProbeService/Unary")?.calls ?? 0;
}

const unary = { grpc_service: "probe.v1.ProbeService", grpc_method: "Unary", protocol: "grpc" };
const handled = (s: Awaited<ReturnType<typeof scrape>>) => value(s.samples, "grpc_server_handled_total", { ...unary, grpc_code: "OK" });

let gw: RunningGateway;
let base: string;

before(async () => {
  gw = await startGateway({ args: ["--workers", "2", "--set", "admin.port=0", "--set", "drainTimeoutMs=2000"] });
  base = adminUrl(gw);
});
after(async () => {
  if (gw?.child.exitCode === null) await gw.stop();
});

test("counters and histograms never go down through a rolling restart (SIGHUP), nor when a killed worker is replaced", { timeout: 120_000 }, async () => {
  const pids = new Set<number>();
  for (let i = 0; i < 20; i++) pids.add(await call(gw));
  assert.equal(pids.size, 2, "both workers served calls");
  let last = await scrape(base);
  assert.equal(handled(last), 20);
  let calls = await statusCalls(base);
  assert.equal(calls, 20);

  // SIGHUP: scrape throughout the rolling restart; no scrape may be below the one before.
  gw.child.kill("SIGHUP");
  const restart = gw.waitForOutput(/rolling restart done/, 60_000);
  let restarted = false;
  restart.then(() => (restarted = true), () => (restarted = true));
  while (!restarted) {
    const now = await scrape(base);
    assertNoneWentDown(last, now, "during the rolling restart");
    last = now;
    const nowCalls = await statusCalls(base);
    assert.ok(nowCalls >= calls, `status page calls ${calls} -> ${nowCalls}`);
    calls = nowCalls;
    await sleep(100);
  }
  await restart;
  const afterRestart = await scrape(base);
  assertNoneWentDown(last, afterRestart, "after the rolling restart");
  assert.equal(handled(afterRestart), 20, "the replaced workers' calls are still counted, once");
  assert.equal(await statusCalls(base), 20);

  // New workers serve new calls; then one is killed and replaced.
  const served = new Set<number>();
  for (let i = 0; i < 10; i++) served.add(await call(gw));
  assert.equal(served.size, 2, "both new workers served calls");
  for (const pid of served) assert.ok(!pids.has(pid), "every worker was replaced");
  const beforeKill = await scrape(base);
  assert.equal(handled(beforeKill), 30);
  assert.equal(await statusCalls(base), 30);
  const victim = [...served][0]!;
  process.kill(victim, "SIGKILL");
  await gw.waitForOutput(/worker exited unexpectedly; starting a replacement/);
  const afterKill = await scrape(base);
  assertNoneWentDown(beforeKill, afterKill, "after a worker was killed");
  // Its replacement serves; the sums still hold everything counted so far.
  let replacement: number | undefined;
  for (let i = 0; i < 50 && replacement === undefined; i++) {
    await sleep(200);
    const pid = await call(gw);
    if (!served.has(pid)) replacement = pid;
    const now = await scrape(base);
    assertNoneWentDown(afterKill, now, "while the killed worker was replaced");
    assert.ok((await statusCalls(base)) >= 30);
  }
  assert.ok(replacement !== undefined, "the killed worker's replacement serves");
  const end = await scrape(base);
  assertNoneWentDown(afterKill, end, "after the killed worker was replaced");
  assert.ok(handled(end) >= 30);

  // The status page: the calls so far are all there.
  assert.ok((await statusCalls(base)) >= 30);
});
