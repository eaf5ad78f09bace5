// The admin listener: off by default in start, on in dev; profiles on
// demand (a .cpuprofile that parses and has nodes, a heap-sampling profile,
// a heap snapshot), one at a time, bounded; the token, required off
// loopback; /status.json; and --workers 2, whose one scrape sums every
// worker.
import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { ProbeRequestSchema } from "../gen/probe/v1/probe_pb.js";
import { adminUrl, scrape, until, value } from "../support/admin.js";
import { runCli, startGateway, type RunningGateway } from "../support/gateway.js";
import { envelope } from "../support/raw-http.js";

/** One gRPC unary call to the probe on its own connection (so that --workers spreads them). */
async function unaryOnNewConnection(url: string, text: string): Promise<string> {
  const session = http2.connect(url);
  session.on("error", () => {});
  try {
    const stream = session.request({ ":method": "POST", ":path": "/probe.v1.ProbeService/Unary", "content-type": "application/grpc" });
    let status = "";
    stream.on("response", (h) => {
      if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
    });
    stream.on("trailers", (t) => (status = String(t["grpc-status"])));
    stream.resume();
    stream.end(envelope(toBinary(ProbeRequestSchema, create(ProbeRequestSchema, { text }))));
    await new Promise((r) => stream.once("close", r));
    return status;
  } finally {
    session.close();
  }
}

describe("admin listener", () => {
  let gw: RunningGateway;
  let base: string;

  before(async () => {
    gw = await startGateway({ args: ["--set", "admin.port=0"] });
    base = adminUrl(gw);
  });
  after(async () => {
    await gw?.stop();
  });

  test("a CPU profile of N seconds is a .cpuprofile that parses and has nodes", async () => {
    const res = await fetch(`${base}/debug/profile/cpu?seconds=1`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-disposition") ?? "", /attachment; filename="sluice-.*\.cpuprofile"/);
    const profile = (await res.json()) as { nodes: { callFrame: { functionName: string } }[]; startTime: number; endTime: number; samples: number[] };
    assert.ok(profile.nodes.length > 1);
    assert.equal(profile.nodes[0]!.callFrame.functionName, "(root)");
    assert.ok(profile.endTime - profile.startTime >= 900_000, `${profile.endTime - profile.startTime} µs`);
    assert.ok(profile.samples.length > 0);
  });

  test("one profile at a time: the second is refused with SLUICE_ADMIN_PROFILE_BUSY (409)", async () => {
    const first = fetch(`${base}/debug/profile/heap-sampling?seconds=2`);
    await until(async () => {
      const second = await fetch(`${base}/debug/profile/cpu?seconds=1`);
      if (second.status === 200) {
        await second.arrayBuffer();
        return false;
      }
      assert.equal(second.status, 409);
      const body = (await second.json()) as { code: string; message: string };
      assert.equal(body.code, "SLUICE_ADMIN_PROFILE_BUSY");
      assert.match(body.message, /heap-sampling profile of 2 s/);
      return true;
    }, "a refused second profile");
    // Calls while it samples, so that the heap-sampling profile has allocations to show.
    for (let i = 0; i < 20; i++) assert.equal(await unaryOnNewConnection(gw.url, "x".repeat(10_000)), "0");
    const sampled = (await (await first).json()) as { head: { callFrame: { functionName: string }; children: unknown[] }; samples: unknown[] };
    assert.equal(sampled.head.callFrame.functionName, "(root)");
    assert.ok(Array.isArray(sampled.samples));
  });

  test("a heap snapshot streams as a .heapsnapshot", async () => {
    const res = await fetch(`${base}/debug/profile/heap-snapshot`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-disposition") ?? "", /\.heapsnapshot"/);
    const snapshot = (await res.json()) as { snapshot: { node_count: number }; nodes: number[] };
    assert.ok(snapshot.snapshot.node_count > 1000);
    assert.ok(snapshot.nodes.length > 0);
  });

  test("profile durations are bounded; unknown profiles are refused", async () => {
    for (const [url, status] of [["/debug/profile/cpu?seconds=61", 400], ["/debug/profile/cpu?seconds=0", 400], ["/debug/profile/cpu?seconds=abc", 400], ["/debug/profile/wall", 400]] as const) {
      const res = await fetch(`${base}${url}`);
      assert.equal(res.status, status, url);
      assert.equal(((await res.json()) as { code: string }).code, "SLUICE_ADMIN_BAD_REQUEST");
    }
  });

  test("/status.json: routes with their counts, and the page that reads it", async () => {
    assert.equal(await unaryOnNewConnection(gw.url, "s"), "0");
    const status = (await (await fetch(`${base}/status.json`)).json()) as { processes: number; routes: { route: string; calls: number; kind: string }[] };
    assert.equal(status.processes, 1);
    const unary = status.routes.find((r) => r.route === "probe.v1.ProbeService/Unary");
    assert.ok(unary && unary.calls >= 1 && unary.kind === "function", JSON.stringify(status.routes));
    const page = await fetch(`${base}/`);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(await page.text(), /status\.json/);
  });

  test("the RPC port serves none of it", async () => {
    const res = await fetch(`${gw.url}/metrics`);
    assert.equal(res.status, 404);
  });
});

describe("admin listener defaults and the token", () => {
  test("off in start unless admin.port is set: no admin line, no counting", async () => {
    const gw = await startGateway();
    try {
      assert.doesNotMatch(gw.output(), /sluice admin listening/);
    } finally {
      await gw.stop();
    }
  });

  test("on in dev by default (9464, or a free port when taken)", async () => {
    const gw = await startGateway({ command: "dev", env: { SLUICE_LOG_FORMAT: "json", SLUICE_TYPE_CHECK: "off" } });
    try {
      const res = await fetch(`${adminUrl(gw)}/metrics`);
      assert.equal(res.status, 200);
    } finally {
      await gw.stop();
    }
  });

  test("a host other than loopback without a token is a config error", async () => {
    const r = await runCli(["start", "--port", "0", "--set", "admin.port=0", "--set", "admin.host=0.0.0.0"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /SLUICE_CONFIG_INVALID: config admin\.token = undefined .*admin\.host 0\.0\.0\.0 is not a loopback address/);
  });

  test("with a token: 401 SLUICE_ADMIN_UNAUTHORIZED without it or with a wrong one, served with it; the page's HTML needs none", async () => {
    const gw = await startGateway({ args: ["--set", "admin.port=0", "--set", "admin.host=0.0.0.0"], env: { SLUICE_ADMIN_TOKEN: "s3cret-token" } });
    try {
      const base = adminUrl(gw).replace("0.0.0.0", "127.0.0.1");
      for (const headers of [{}, { authorization: "Bearer wrong-token!" }, { authorization: "s3cret-token" }] as Record<string, string>[]) {
        for (const p of ["/metrics", "/status.json", "/debug/profile/cpu?seconds=1"]) {
          const res = await fetch(`${base}${p}`, { headers });
          assert.equal(res.status, 401, `${p} ${JSON.stringify(headers)}`);
          assert.equal(((await res.json()) as { code: string }).code, "SLUICE_ADMIN_UNAUTHORIZED");
        }
      }
      const ok = await scrape(base, { authorization: "Bearer s3cret-token" });
      assert.ok(ok.length > 0);
      assert.equal((await fetch(`${base}/`)).status, 200);
    } finally {
      await gw.stop();
    }
  });
});

describe("--workers 2", () => {
  let gw: RunningGateway;
  let base: string;

  before(async () => {
    gw = await startGateway({ args: ["--workers", "2", "--set", "admin.port=0", "--set", "drainTimeoutMs=2000"] });
    base = adminUrl(gw);
  });
  after(async () => {
    await gw?.stop();
  });

  test("one scrape sums every worker's counters", async () => {
    const calls = 12;
    for (let i = 0; i < calls; i++) assert.equal(await unaryOnNewConnection(gw.url, `w${i}`), "0");
    const s = await scrape(base);
    const l = { grpc_service: "probe.v1.ProbeService", grpc_method: "Unary", protocol: "grpc" };
    assert.equal(value(s, "grpc_server_started_total", l), calls);
    assert.equal(value(s, "grpc_server_handled_total", { ...l, grpc_code: "OK" }), calls);
    assert.equal(value(s, "grpc_server_handling_seconds_count", l), calls);
    // Runtime metrics are summed too: two processes' worth of heap.
    assert.ok(value(s, "nodejs_heap_size_used_bytes") > 0);
    const status = (await (await fetch(`${base}/status.json`)).json()) as { processes: number; routes: { route: string; calls: number }[] };
    assert.equal(status.processes, 2);
    assert.equal(status.routes.find((r) => r.route === "probe.v1.ProbeService/Unary")?.calls, calls);
  });

  test("a profile of one worker, chosen by its index; a worker that is not there is 503", async () => {
    const res = await fetch(`${base}/debug/profile/cpu?seconds=1&worker=2`);
    assert.equal(res.status, 200);
    assert.ok(((await res.json()) as { nodes: unknown[] }).nodes.length > 1);
    const missing = await fetch(`${base}/debug/profile/cpu?seconds=1&worker=3`);
    assert.equal(missing.status, 503);
    assert.equal(((await missing.json()) as { code: string }).code, "SLUICE_ADMIN_WORKER_UNAVAILABLE");
  });
});
