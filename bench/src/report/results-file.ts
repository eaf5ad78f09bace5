import type { BenchMode, BenchPlan } from "../bench-plan.js";
import type { BidiResult } from "../scenarios/bidi.js";
import type { BrowserTransportsResult } from "../scenarios/browser-transports.js";
import type { ReplyCheck } from "../scenarios/check-replies.js";
import type { ColdStartResult } from "../scenarios/cold-start.js";
import type { ProfileResult } from "../scenarios/cpu-profile.js";
import type { StreamResult } from "../scenarios/server-stream.js";
import type { PacedClientResult } from "../scenarios/paced-client.js";
import type { StallResult } from "../scenarios/stalled-consumer.js";
import type { StalledLoadResult } from "../scenarios/stalled-load.js";
import type { UnaryResult } from "../scenarios/unary.js";
import type { FixedRateResult } from "../scenarios/fixed-rate.js";
import type { ProxyResult } from "../scenarios/proxy.js";
import type { WorkersResult } from "../scenarios/workers.js";
import type { Machine } from "./machine.js";
import type { TypeCheckLatencyResult } from "../scenarios/type-check-latency.js";

/** Everything one run measured: bench/results/<date>.json. */
export interface BenchResults {
  schema: 1;
  mode: BenchMode;
  command: string;
  startedAt: string;
  durationSeconds: number;
  machine: Machine;
  pinning: string;
  plan: BenchPlan;
  /** Real-client checks made before anything was timed. */
  checks: ReplyCheck[];
  unary: UnaryResult[];
  /** Heap each server process held after full garbage collections during the unary rounds (node --trace-gc). */
  heapAfterGc: { server: string; medianMb: number; maxMb: number; collections: number }[];
  fixedRate: FixedRateResult[];
  workers: WorkersResult[];
  proxy: ProxyResult[];
  serverStream: StreamResult[];
  bidi: BidiResult[];
  /** gRPC-Web text against binary, bidi over WebSocket against HTTP/2 (scenarios/browser-transports.ts); absent in older runs. */
  browserTransports?: BrowserTransportsResult;
  stalledConsumer: StallResult[];
  /** Stalled consumers beside a normal client (absent from results before issue 9). */
  stalledLoad?: StalledLoadResult[];
  /** A client faster than messagesPerSecond (absent from results before issue 9). */
  pacedClient?: PacedClientResult;
  coldStart: ColdStartResult[];
  /** sluice dev: save of a file with a type error → the error printed (scenarios/type-check-latency.ts). */
  typeCheckLatency?: TypeCheckLatencyResult;
  profile?: ProfileResult;
  /** Every check or run that did not come out right; empty on a healthy run. */
  failures: string[];
}

/** What went wrong in a run, one line each, for the exit code and the smoke test. */
export function listFailures(r: Omit<BenchResults, "failures">): string[] {
  const out: string[] = [];
  for (const c of r.checks) if (!c.ok) out.push(`check ${c.arm} ${c.payload}: ${c.detail}`);
  for (const u of r.unary) {
    for (const x of u.rounds) {
      if (x.failed > 0) out.push(`unary ${u.arm} ${u.payload} round ${x.round}: ${x.failed} of ${x.succeeded + x.failed} requests failed`);
      if (!x.echoBytesOk) out.push(`unary ${u.arm} ${u.payload} round ${x.round}: ${x.bytesPerReply} bytes per reply, not the checked echo's ${u.check.replyBytes}`);
    }
  }
  for (const s of r.serverStream) for (const x of s.rounds) if (!x.ok) out.push(`server stream ${s.server} ${s.calls}×${s.messagesPerCall} round ${x.round}: ${x.problem ?? "short"}`);
  for (const b of r.bidi) for (const x of b.rounds) if (!x.ok) out.push(`bidi ${b.server} ${b.streams} stream(s) round ${x.round}: ${x.problem ?? "no round trips"}`);
  for (const s of r.browserTransports?.serverStream ?? []) for (const x of s.rounds) if (!x.ok) out.push(`server stream to ${s.client} ${s.calls}×${s.messagesPerCall} round ${x.round}: ${x.problem ?? "short"}`);
  for (const b of r.browserTransports?.bidi ?? []) for (const x of b.rounds) if (!x.ok) out.push(`bidi over ${b.transport} ${b.streams} stream(s) round ${x.round}: ${x.problem ?? "no round trips"}`);
  for (const s of r.stalledConsumer) {
    if (!s.handlerPaused) out.push(`stalled consumer (${s.mode}, ${s.streams} stream(s)): the handler was not paused`);
    if (s.handlerStoppedAfterCancel === false) out.push(`stalled consumer (${s.mode}, ${s.streams} stream(s)): the handler kept producing after the client went away`);
    for (const p of s.problems) out.push(`stalled consumer (${s.mode}, ${s.streams} stream(s)): ${p}`);
  }
  for (const s of r.stalledLoad ?? []) for (const p of s.problems) out.push(`stalled load (${s.mode}, ${s.streams} stream(s)): ${p}`);
  for (const p of r.pacedClient?.problems ?? []) out.push(`paced client: ${p}`);
  for (const c of r.coldStart) if (!c.ok) out.push(`cold start ${c.label}, ${c.functions}: ${c.problem ?? "failed"}`);
  for (const f of r.fixedRate) {
    if (f.rounds.length === 0) out.push(`fixed rate ${f.arm}: no round`);
    for (const x of f.rounds) if (x.failed > 0) out.push(`fixed rate ${f.arm} round ${x.round}: ${x.failed} requests failed`);
  }
  for (const w of r.workers) for (const x of w.rounds) if (x.failed > 0) out.push(`workers ${w.workers} round ${x.round}: ${x.failed} requests failed`);
  for (const p of r.proxy) for (const x of p.rounds) if (x.failed > 0) out.push(`proxy ${p.arm} round ${x.round}: ${x.failed} calls failed`);
  if (r.typeCheckLatency && !r.typeCheckLatency.ok) out.push(`type-check latency: ${r.typeCheckLatency.problem ?? "failed"}`);
  return out;
}
