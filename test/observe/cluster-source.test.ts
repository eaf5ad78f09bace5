// The primary's view of --workers, with stand-in workers: a worker that
// misses a scrape counts with its last answer (its gauges too, being alive);
// a worker that exits keeps counting with its last counters, or with the
// final ones it sent as it left, and its gauges go.
import assert from "node:assert/strict";
import cluster, { type Worker } from "node:cluster";
import { EventEmitter } from "node:events";
import { test } from "node:test";
import { ClusterSource } from "../../src/observe/cluster-admin.js";
import { counter, gauge, type MetricFamily } from "../../src/observe/metric-families.js";
import { renderMetrics } from "../../src/observe/render-metrics.js";
import type { StatusSnapshot } from "../../src/observe/status-board.js";
import { parseMetrics, value } from "../support/admin.js";

/** A worker that answers "families" and "status" with what it holds now, or not at all while `silent`. */
class FakeWorker extends EventEmitter {
  calls = 0;
  open = 0;
  silent = false;
  dead = false;
  readonly process: { pid: number };

  constructor(pid: number) {
    super();
    this.process = { pid };
  }

  families(): MetricFamily[] {
    return [counter("calls_total", "Calls.", [{ labels: {}, value: this.calls }]), gauge("open_calls", "Open.", [{ labels: {}, value: this.open }])];
  }

  status(): StatusSnapshot {
    return { at: Date.now(), pid: this.process.pid, routes: [{ route: "a.B/C", type: "unary", started: this.calls + this.open, finished: this.calls, errors: 0, rejected: 0, handling: [this.calls] }], upstreams: [] };
  }

  isConnected(): boolean {
    return !this.dead;
  }

  isDead(): boolean {
    return this.dead;
  }

  send(m: { id: number; op: string }): boolean {
    if (this.silent) return true;
    const result = m.op === "families" ? this.families() : this.status();
    setImmediate(() => this.emit("message", { type: "sluice:admin-reply", id: m.id, result }));
    return true;
  }

  /** Exits; `final` sends its final counters first, as a worker that drained does. */
  exit(final: boolean): void {
    if (final) cluster.emit("message", this, { type: "sluice:admin-final", families: this.families(), status: this.status() });
    this.dead = true;
    this.emit("exit", 0, null);
    cluster.emit("exit", this, 0, null);
  }
}

async function scrape(source: ClusterSource): Promise<{ calls: number; open: number; statusCalls: number; statusOpen: number }> {
  const s = parseMetrics(await renderMetrics(await source.families(), false));
  const snaps = await source.snapshots();
  let finished = 0;
  let started = 0;
  for (const snap of snaps) for (const r of snap.routes) (finished += r.finished), (started += r.started);
  return { calls: value(s, "calls_total"), open: value(s, "open_calls"), statusCalls: finished, statusOpen: started - finished };
}

test("a worker that misses a scrape, or exits, still counts; an exited worker's gauges do not", { timeout: 30_000 }, async () => {
  const a = new FakeWorker(101);
  const b = new FakeWorker(102);
  let serving: FakeWorker[] = [a, b];
  const source = new ClusterSource(() => serving as unknown as Worker[]);
  a.calls = 10;
  a.open = 1;
  b.calls = 5;
  b.open = 2;
  assert.deepEqual(await scrape(source), { calls: 15, open: 3, statusCalls: 15, statusOpen: 3 });

  // b stalls (a heap snapshot, a long event-loop block): its last answer stands in for it.
  b.silent = true;
  a.calls = 12;
  assert.deepEqual(await scrape(source), { calls: 17, open: 3, statusCalls: 17, statusOpen: 3 });
  b.silent = false;

  // b is killed: its last counters stay, its open calls go.
  b.calls = 8;
  b.exit(false);
  serving = [a];
  assert.deepEqual(await scrape(source), { calls: 17, open: 1, statusCalls: 17, statusOpen: 1 });

  // a drains out of serving (a rolling restart): still asked while it drains.
  const c = new FakeWorker(103);
  serving = [c];
  a.calls = 20;
  a.open = 0;
  assert.deepEqual(await scrape(source), { calls: 25, open: 0, statusCalls: 25, statusOpen: 0 });
  // It ends calls after that scrape, then sends its final counters and exits.
  a.calls = 23;
  a.exit(true);
  c.calls = 1;
  assert.deepEqual(await scrape(source), { calls: 29, open: 0, statusCalls: 29, statusOpen: 0 });
  assert.equal(source.processes(), 1);
});
