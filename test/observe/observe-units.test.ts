// Pure parts of src/observe: bucket placement, percentiles from histogram
// buckets, the status board's windows and the merging of workers'
// snapshots, and the OpenMetrics rendering of counters.
import assert from "node:assert/strict";
import { test } from "node:test";
import { bucketOf, CallStats, handlingBuckets } from "../../src/observe/call-stats.js";
import { counter } from "../../src/observe/metric-families.js";
import { renderMetrics } from "../../src/observe/render-metrics.js";
import { mergeSnapshots, quantileMs, StatusBoard, type StatusSnapshot } from "../../src/observe/status-board.js";

test("a value goes to the first bucket whose bound is at least it; above every bound, to +Inf", () => {
  assert.equal(bucketOf(handlingBuckets, 0), 0);
  assert.equal(bucketOf(handlingBuckets, 0.0005), 0);
  assert.equal(bucketOf(handlingBuckets, 0.0006), 1);
  assert.equal(bucketOf(handlingBuckets, 10), handlingBuckets.length - 1);
  assert.equal(bucketOf(handlingBuckets, 11), handlingBuckets.length);
});

test("CallStats counts codes (out of range as UNKNOWN), durations and stream lifetimes", () => {
  const s = new CallStats(true);
  s.start();
  s.start();
  s.finished(0, 0.3);
  s.finished(99, 2_000);
  assert.equal(s.codes[0], 1);
  assert.equal(s.codes[2], 1);
  assert.equal(s.finishedCount, 2);
  assert.equal(s.handling[0], 1);
  assert.equal(s.handling[handlingBuckets.indexOf(2.5)], 1);
  assert.equal(s.lifetimes!.reduce((a, b) => a + b, 0), 2);
  assert.equal(new CallStats(false).lifetimes, undefined);
});

test("percentiles interpolate within their bucket, as histogram_quantile does", () => {
  const buckets = new Array<number>(handlingBuckets.length + 1).fill(0);
  assert.equal(quantileMs(buckets, 0.5), null);
  buckets[3] = 10; // (2.5 ms, 5 ms]
  assert.equal(quantileMs(buckets, 0.5), 3.75);
  assert.equal(quantileMs(buckets, 1), 5);
  buckets[handlingBuckets.length] = 1000; // +Inf: the last bound
  assert.equal(quantileMs(buckets, 0.99), 10_000);
});

function snapshot(at: number, finished: number, errors = 0): StatusSnapshot {
  const handling = new Array<number>(handlingBuckets.length + 1).fill(0);
  handling[1] = finished;
  return { at, pid: 1, routes: [{ route: "a.B/C", type: "unary", kind: "function", source: "f.ts", started: finished + 1, finished, errors, rejected: 0, handling }], upstreams: [] };
}

test("the status board measures rates over about five seconds, and percentiles of that window", () => {
  const board = new StatusBoard();
  const first = board.view(snapshot(0, 100), 1);
  assert.equal(first.routes[0]!.callsPerSecond, 0);
  assert.equal(first.routes[0]!.open, 1);
  board.view(snapshot(1_000, 110), 1);
  const v = board.view(snapshot(6_000, 160, 5), 1);
  // Compared with the snapshot at 1 s (the newest at least 5 s older).
  assert.equal(v.windowSeconds, 5);
  assert.equal(v.routes[0]!.callsPerSecond, 10);
  assert.equal(v.routes[0]!.errorRate, 0.1);
  assert.equal(v.routes[0]!.calls, 160);
  assert.ok(v.routes[0]!.p50Ms! > 0.5 && v.routes[0]!.p50Ms! <= 1);
});

test("workers' snapshots are summed per route and per upstream endpoint", () => {
  const a = snapshot(5, 10, 1);
  const b = snapshot(7, 30, 2);
  b.upstreams = [{ name: "u", protocol: "grpc", available: true, calls: 3, retries: 1, connectFailures: 0, ejections: 0, queued: 0, endpoints: [{ address: "http://x", health: "healthy", connections: 1, activeStreams: 2 }], latency: [1, 2] }];
  a.upstreams = [{ ...b.upstreams[0]!, available: false, endpoints: [{ address: "http://x", health: "ejected", connections: 2, activeStreams: 0 }], latency: [0, 1] }];
  const m = mergeSnapshots([a, b]);
  assert.equal(m.at, 7);
  assert.deepEqual([m.routes[0]!.finished, m.routes[0]!.errors, m.routes[0]!.handling[1]], [40, 3, 40]);
  assert.deepEqual(m.upstreams[0]!.endpoints, [{ address: "http://x", health: "ejected", connections: 3, activeStreams: 2 }]);
  assert.equal(m.upstreams[0]!.available, false);
  assert.deepEqual(m.upstreams[0]!.latency, [1, 3]);
});

test("OpenMetrics names a counter's family without _total and its samples with it; workers' samples are summed", async () => {
  const fam = (v: number) => [counter("x_calls_total", "Calls.", [{ labels: { a: "1" }, value: v }])];
  const om = await renderMetrics([fam(2), fam(3)], true);
  assert.match(om, /^# TYPE x_calls counter$/m);
  assert.match(om, /^x_calls_total\{a="1"\} 5$/m);
  assert.match(om, /# EOF\n$/);
  const text = await renderMetrics([fam(2), fam(3)], false);
  assert.match(text, /^# TYPE x_calls_total counter$/m);
  assert.match(text, /^x_calls_total\{a="1"\} 5$/m);
});
