// What the primary of --workers keeps of workers that have exited
// (counters and histograms, never gauges), summed exactly so that folding
// one in never lowers a float sum; the status board reading a decrease as
// a reset; and profile downloads cut when the reader stops.
import assert from "node:assert/strict";
import http from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { test } from "node:test";
import { handlingBuckets } from "../../src/observe/call-stats.js";
import { counter, gauge, histogramSamples, type MetricFamily, type MetricSample } from "../../src/observe/metric-families.js";
import { renderMetrics } from "../../src/observe/render-metrics.js";
import { addExact, exactSum, roundExact } from "../../src/observe/exact-sum.js";
import { RetiredTotals } from "../../src/observe/retired-totals.js";
import { cutWhenStalled } from "../../src/observe/stalled-download.js";
import { mergeSnapshots, StatusBoard, type StatusSnapshot } from "../../src/observe/status-board.js";
import { parseMetrics, value } from "../support/admin.js";

/** One worker's families: a counter, a gauge and a histogram of one route. */
function worker(calls: number, open: number): MetricFamily[] {
  const labels = { grpc_service: "a.B", grpc_method: "C" };
  const latency: MetricSample[] = [];
  const counts = new Array<number>(handlingBuckets.length + 1).fill(0);
  counts[2] = calls;
  histogramSamples("h_seconds", labels, handlingBuckets, counts, calls * 0.002, latency);
  return [
    counter("calls_total", "Calls.", [{ labels, value: calls }]),
    gauge("open_calls", "Open.", [{ labels, value: open }]),
    { name: "h_seconds", help: "Handling.", type: "histogram", aggregator: "sum", values: latency },
    gauge("info", "Info.", [{ labels, value: 1 }], "max"),
  ];
}

test("exited workers' counters and histograms are kept, summed with the live workers'; their gauges are not", async () => {
  const retired = new RetiredTotals();
  retired.fold(worker(20, 3));
  retired.fold(worker(5, 1));
  const text = await renderMetrics(retired.sumWith([worker(7, 2)]), false);
  const s = parseMetrics(text);
  const l = { grpc_service: "a.B", grpc_method: "C" };
  assert.equal(value(s, "calls_total", l), 32);
  assert.equal(value(s, "open_calls", l), 2);
  assert.equal(value(s, "info", l), 1);
  assert.equal(value(s, "h_seconds_count", l), 32);
  assert.equal(value(s, "h_seconds_bucket", { ...l, le: "+Inf" }), 32);
  assert.equal(value(s, "h_seconds_bucket", { ...l, le: "0.0005" }), 0);
  assert.equal(value(s, "h_seconds_bucket", { ...l, le: "0.0025" }), 32);
  // Buckets stay in order (Prometheus rejects a histogram whose buckets are not).
  const les = s.filter((x) => x.name === "h_seconds_bucket").map((x) => x.labels.le);
  assert.deepEqual(les, [...handlingBuckets.map(String), "+Inf"]);
});

test("a series only exited workers had is still written, in order, and in OpenMetrics too", async () => {
  const retired = new RetiredTotals();
  retired.fold(worker(4, 0));
  const text = await renderMetrics(retired.sumWith([[gauge("other", "Other.", [{ labels: {}, value: 1 }])]]), true);
  assert.match(text, /^calls_total\{grpc_service="a.B",grpc_method="C"\} 4$/m);
  assert.match(text, /^h_seconds_bucket\{grpc_service="a.B",grpc_method="C",le="0.0005"\} 0\nh_seconds_bucket\{grpc_service="a.B",grpc_method="C",le="0.001"\} 0\n/m);
  assert.match(text, /# EOF\n$/);
});

test("exact sums are the same float whatever the order or grouping of their values", () => {
  const exact = (values: number[]) => {
    const sum = exactSum();
    for (const v of values) addExact(sum, v);
    return roundExact(sum);
  };
  // A plain sum regroups: (0.1 + 0.2) + 0.3 > 0.1 + (0.3 + 0.2).
  assert.ok(0.1 + 0.2 + 0.3 > 0.1 + (0.3 + 0.2));
  assert.equal(exact([0.1, 0.2, 0.3]), exact([0.3, 0.2, 0.1]));
  assert.equal(exact([0.1, 0.2, 0.3]), 0.6);
  assert.equal(exact([0.052875953999999975, 0.1, 0.2]), exact([0.2, 0.052875953999999975, 0.1]));
  // Whole counts stay whole.
  assert.equal(exact([123456789, 1, 2]), 123456792);
  assert.equal(exact([]), 0);
});

test("a histogram's _sum does not go down when a live worker is folded into the total", async () => {
  const sum = (v: number) => [{ name: "h_seconds", help: "H.", type: "histogram", aggregator: "sum", values: [{ metricName: "h_seconds_sum", labels: {}, value: v }] }] as MetricFamily[];
  const retired = new RetiredTotals();
  retired.fold(sum(0.3));
  const before = value(parseMetrics(await renderMetrics(retired.sumWith([sum(0.1), sum(0.2)]), false)), "h_seconds_sum");
  // The worker with 0.2 exits, unchanged since: nothing was counted, nothing may move.
  retired.fold(sum(0.2));
  const after = value(parseMetrics(await renderMetrics(retired.sumWith([sum(0.1)]), false)), "h_seconds_sum");
  assert.equal(after, before);
});

function snapshot(at: number, route: { started: number; finished: number }, upstreamCalls = 0): StatusSnapshot {
  const handling = new Array<number>(handlingBuckets.length + 1).fill(0);
  handling[1] = route.finished;
  return {
    at, pid: 1,
    routes: [{ route: "a.B/C", type: "unary", kind: "function", source: "f.ts", ...route, errors: 0, rejected: 0, handling }],
    upstreams: [{ name: "u", protocol: "grpc", available: false, calls: upstreamCalls, retries: 0, connectFailures: 0, ejections: 0, queued: 2, endpoints: [{ address: "http://x", health: "ejected", connections: 1, activeStreams: 1 }], latency: [upstreamCalls] }],
  };
}

test("exited workers' status counters are kept, without their open calls, queues or endpoints", () => {
  const retired = new RetiredTotals();
  // Killed with 2 calls open: they never finish.
  retired.foldSnapshot(snapshot(5, { started: 12, finished: 10 }, 4));
  const live = snapshot(9, { started: 3, finished: 3 }, 1);
  live.upstreams[0]!.available = true;
  live.upstreams[0]!.endpoints[0]!.health = "healthy";
  const m = mergeSnapshots([live, retired.snapshot()]);
  assert.equal(m.at, 9);
  const r = m.routes[0]!;
  assert.deepEqual([r.started, r.finished, r.handling[1], r.kind], [13, 13, 13, "function"]);
  const u = m.upstreams[0]!;
  assert.deepEqual([u.calls, u.queued, u.available, u.latency[0]], [5, 2, true, 5]);
  assert.deepEqual(u.endpoints, [{ address: "http://x", health: "healthy", connections: 1, activeStreams: 1 }]);
});

test("the status board reads a count that went down as a reset: calls per second is never negative", () => {
  const board = new StatusBoard();
  board.view(snapshot(0, { started: 300, finished: 300 }, 50), 2);
  const v = board.view(snapshot(5_000, { started: 20, finished: 20 }, 10), 2);
  assert.equal(v.routes[0]!.callsPerSecond, 4);
  assert.equal(v.upstreams[0]!.callsPerSecond, 2);
  assert.ok(v.routes[0]!.p50Ms !== null);
});

test("a download whose client stops reading is cut; one that is only slow to start is not", async () => {
  const bodies: Readable[] = [];
  const server = http.createServer((_req, res) => {
    let sent = 0;
    // Nothing for 1.5 s (a profile being made), then as much as the client takes.
    const body = new Readable({
      read() {
        if (sent === 0) {
          sent = 1;
          setTimeout(() => this.push(Buffer.alloc(64 * 1024, 120)), 1_500);
          return;
        }
        if (sent++ < 200) this.push(Buffer.alloc(64 * 1024, 120));
        else this.push(null);
      },
    });
    bodies.push(body);
    cutWhenStalled(res, body, 1_000);
    body.on("error", () => res.destroy());
    body.pipe(res);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  try {
    // A client that reads it all.
    const whole = await fetch(url);
    assert.equal((await whole.arrayBuffer()).byteLength, 200 * 64 * 1024);
    // A client that stops reading after the head.
    const res = await new Promise<http.IncomingMessage>((resolve) => http.get(url, resolve));
    res.pause();
    await new Promise((r) => bodies[1]!.once("close", r));
    assert.ok(bodies[1]!.destroyed);
    assert.match(String(bodies[1]!.errored), /the client took nothing for 1000 ms/);
    res.destroy();
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
