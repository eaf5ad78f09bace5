// shutdownDelayMs: on SIGTERM readiness fails at once (/readyz 503, health
// NOT_SERVING), and for that long new connections and new calls are still
// served, so a load balancer that polls readiness stops sending before the
// port closes; then the drain runs as without it. With --workers, the
// primary keeps the delay: every worker fails readiness and goes on serving.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { ProbeRequestSchema } from "../gen/probe/v1/probe_pb.js";
import { until } from "../support/flow-gateway.js";
import { startGateway, type RunningGateway } from "../support/gateway.js";
import { envelope, h1Request, h2Request } from "../support/raw-http.js";

/** Long enough for the checks below on a busy machine; the test waits for log lines, not for time. */
const delayMs = 4_000;

/** GET /readyz on a fresh HTTP/1.1 connection. */
async function readyz(gw: RunningGateway): Promise<{ status: number; body: string }> {
  const res = await h1Request(gw.port, { method: "GET", path: "/readyz" });
  return { status: res.status, body: res.body.toString() };
}

/** The server's health (Connect JSON, fresh connection): "SERVING" or "NOT_SERVING". */
async function health(gw: RunningGateway): Promise<string> {
  const res = await h1Request(gw.port, { path: "/grpc.health.v1.Health/Check", headers: { "content-type": "application/json" }, body: "{}" });
  assert.equal(res.status, 200, res.body.toString());
  return (JSON.parse(res.body.toString()) as { status: string }).status;
}

/** A unary gRPC call on a fresh HTTP/2 connection: its grpc-status, and the pid of the process that answered. */
async function grpcCall(gw: RunningGateway): Promise<{ status: string; pid: string }> {
  const res = await h2Request(gw.port, {
    path: "/probe.v1.ProbeService/Unary",
    headers: { "content-type": "application/grpc", te: "trailers" },
    body: envelope(toBinary(ProbeRequestSchema, create(ProbeRequestSchema, { text: "late" }))),
  });
  return { status: String(res.trailers["grpc-status"] ?? res.headers["grpc-status"]), pid: String(res.headers["x-probe-pid"]) };
}

/** True once a new connection is refused (the drain has closed the port), or the process is gone. */
async function refused(gw: RunningGateway): Promise<boolean> {
  try {
    await h1Request(gw.port, { method: "GET", path: "/healthz" });
    return false;
  } catch (e) {
    return (e as { code?: string }).code === "ECONNREFUSED";
  }
}

for (const workers of [1, 2]) {
  test(`--workers ${workers}: SIGTERM fails readiness first; new connections and calls are served for shutdownDelayMs, then the drain closes the port`, async () => {
    const gw = await startGateway({ args: ["--workers", String(workers), "--set", `shutdownDelayMs=${delayMs}`, "--set", "drainTimeoutMs=2000"] });
    try {
      assert.deepEqual(await readyz(gw), { status: 200, body: '{"status":"ready"}' });
      assert.equal(await health(gw), "SERVING");

      gw.child.kill("SIGTERM");
      // Every process that serves has failed readiness: the gateway itself, or each worker once the primary's message arrived.
      await until(`${workers} process(es) failing readiness`, () => (gw.output().match(workers === 1 ? /readiness fails; serving new calls/g : /readiness fails: the primary's shutdown delay/g) ?? []).length === workers);
      // Each check opens a new connection: with two workers, node:cluster
      // hands them out in turn, so both workers answer.
      const answeredBy = new Set<string>();
      for (let i = 0; i < 2 * workers; i++) {
        assert.deepEqual(await readyz(gw), { status: 503, body: '{"status":"draining"}' });
        assert.equal(await health(gw), "NOT_SERVING");
        const call = await grpcCall(gw);
        assert.equal(call.status, "0", "a new call during the delay is served");
        answeredBy.add(call.pid);
      }
      assert.equal(answeredBy.size, workers, `calls answered by ${[...answeredBy].join(", ")}`);
      assert.equal(await refused(gw), false, "the port still accepts during the delay");

      await gw.waitForOutput(/"msg":"draining"/, 10_000);
      assert.equal(await gw.exited, 0);
      assert.equal(await refused(gw), true);
      // The delay came before the drain, and lasted.
      const out = gw.output();
      assert.ok(out.indexOf("readiness fails") < out.indexOf('"msg":"draining"'));
    } finally {
      await gw.stop();
    }
  });
}
