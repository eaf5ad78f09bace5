import http2 from "node:http2";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { echoPath, echoStreamPath, sluiceArgv } from "../arms/arm-catalog.js";
import { payloads, streamRequestFrame } from "../echo-messages.js";
import { connectLean, openGrpcCall } from "../load/grpc-call.js";
import { StallValve } from "../load/stall-valve.js";
import { killAll, killChildrenOnExit } from "../process/children.js";
import { planCores, type CorePlan } from "../process/cpu-pinning.js";
import { startServer, type ServerProcess } from "../process/server-process.js";
import { lookupTools } from "../process/tools.js";
import { percentiles } from "../report/summary.js";
import { mib, round } from "./bench-context.js";
import type { StallMode } from "./stalled-consumer.js";

/**
 * Stalled consumers beside a normal client: `streams` EchoStream calls for
 * an endless count stop reading (default windows and paused streams, or
 * 2 GiB windows and a socket that stopped reading); once their messages
 * fill every buffer on the way, a normal client on its own connection makes
 * unary calls one after the other. Reports the
 * gateway's RSS growth and the normal client's p50/p99, unloaded and beside
 * the stalled streams (issue 9's targets: RSS growth under 16 MiB for 1
 * stream, 64 MiB for 100, 256 MiB for 1,000; p99 within twice the unloaded).
 */
export interface StalledLoadResult {
  mode: StallMode;
  streams: number;
  /** Normal-client calls in each measurement. */
  calls: number;
  rssIdleMb: number;
  rssPeakMb: number;
  rssGrowthMb: number;
  targetGrowthMb: number;
  unloaded: { p50Ms: number; p99Ms: number };
  stalled: { p50Ms: number; p99Ms: number };
  /** stalled p99 / unloaded p99. */
  p99Ratio: number;
  /** From the last stalled stream opened until the gateway fell idle: its handlers had filled every buffer on the way. */
  fillMs: number;
  /** The stalled streams that were still open at the end (none should have been cut). */
  streamsOpen: number;
  problems: string[];
}

/** The streams of one HTTP/2 connection: the gateway's default SETTINGS_MAX_CONCURRENT_STREAMS. */
const streamsPerConnection = 100;
/**
 * The stalled streams fill every buffer on the way before the normal client
 * is measured: at least this long, and then until the gateway falls idle
 * (its handlers all wait for a window). With 1,000 streams of small
 * messages on default windows that is some 17 MB of messages, which took
 * longer than the 2 s this once was on a slow day; the normal client was then
 * measured beside the filling, not beside the stall.
 */
const minFillMs = 2_000;
/** Longer than this and the gateway is not going to fall idle: measured anyway, reported as a problem. */
const maxFillMs = 30_000;
/** The gateway counts as idle when it used less than this share of a core over one sample. */
const idleCpuShare = 0.1;
const fillSampleMs = 250;

function targetMb(streams: number): number {
  return streams <= 1 ? 16 : streams <= 100 ? 64 : 256;
}

export async function runStalledLoad(mode: StallMode, streams: number, calls: number, cores: CorePlan): Promise<StalledLoadResult> {
  const gateway = await startServer("sluice (stalled load)", sluiceArgv(), { pin: cores.server });
  const valve = mode === "socket" ? await StallValve.open(gateway.port) : undefined;
  const sessions: http2.ClientHttp2Session[] = [];
  const normal = await connectLean(gateway.url);
  const problems: string[] = [];
  try {
    await sleep(500);
    await normalCalls(normal, 50); // warm-up
    const unloaded = await normalCalls(normal, calls);
    const rssIdle = gateway.memory().rssBytes;
    let peak = rssIdle;
    const sampler = setInterval(() => (peak = Math.max(peak, gateway.memory().rssBytes)), 100);
    try {
      const open: http2.ClientHttp2Stream[] = [];
      const request = streamRequestFrame(0xffff_ffff);
      for (let opened = 0; opened < streams; opened += streamsPerConnection) {
        const session = mode === "socket" ? await connectHuge(valve!.url) : await connectDefault(gateway.url);
        sessions.push(session);
        for (let i = 0; i < Math.min(streamsPerConnection, streams - opened); i++) {
          const { stream } = openGrpcCall(session, echoStreamPath);
          // The default-window reader never consumes its streams; the other reads
          // them, but its socket stops at the relay once the valve closes.
          if (mode === "flow-control") stream.pause();
          else stream.on("data", () => {});
          stream.end(request);
          open.push(stream);
        }
      }
      valve?.stall();
      const fillMs = await untilIdle(gateway);
      if (fillMs >= maxFillMs) problems.push(`the gateway was still busy ${maxFillMs / 1000} s after the stall began`);
      const stalled = await normalCalls(normal, calls);
      const streamsOpen = open.filter((s) => !s.closed).length;
      if (streamsOpen !== streams) problems.push(`${streams - streamsOpen} stalled stream(s) were closed by the gateway`);
      if (stalled.failed > 0) problems.push(`${stalled.failed} normal call(s) failed beside the stalled streams`);
      return {
        mode,
        streams,
        calls,
        rssIdleMb: mib(rssIdle),
        rssPeakMb: mib(peak),
        rssGrowthMb: mib(peak - rssIdle),
        targetGrowthMb: targetMb(streams),
        unloaded: { p50Ms: round(unloaded.p50, 2), p99Ms: round(unloaded.p99, 2) },
        stalled: { p50Ms: round(stalled.p50, 2), p99Ms: round(stalled.p99, 2) },
        p99Ratio: round(stalled.p99 / unloaded.p99, 2),
        fillMs: Math.round(fillMs),
        streamsOpen,
        problems,
      };
    } finally {
      clearInterval(sampler);
    }
  } finally {
    for (const s of sessions) s.destroy();
    normal.destroy();
    valve?.close();
    await gateway.stop();
  }
}

/** Waits at least minFillMs, then until the gateway is idle (or maxFillMs); returns the time waited. */
async function untilIdle(gateway: ServerProcess): Promise<number> {
  const started = performance.now();
  await sleep(minFillMs);
  let before = gateway.cpuSeconds();
  while (performance.now() - started < maxFillMs) {
    await sleep(fillSampleMs);
    const now = gateway.cpuSeconds();
    if ((now - before) * 1000 < fillSampleMs * idleCpuShare) break;
    before = now;
  }
  return performance.now() - started;
}

/** `n` unary Echo calls one after the other; latency percentiles in ms. */
async function normalCalls(session: http2.ClientHttp2Session, n: number): Promise<{ p50: number; p99: number; failed: number }> {
  const ms = new Float64Array(n);
  let failed = 0;
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    const { stream, status } = openGrpcCall(session, echoPath);
    stream.on("data", () => {});
    stream.end(payloads.small.frame);
    const timeout = sleep(10_000).then(() => "timed out after 10 s");
    const s = await Promise.race([status, timeout]);
    if (s !== "0") {
      failed++;
      stream.destroy();
    }
    ms[i] = performance.now() - started;
  }
  const p = percentiles(ms);
  return { p50: p.p50, p99: p.p99, failed };
}

function connectDefault(url: string): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.once("error", reject);
    session.once("connect", () => {
      session.off("error", reject);
      session.on("error", () => {});
      resolve(session);
    });
  });
}

/** A client that lets the gateway send up to 2 GiB before it has to wait for window updates. */
async function connectHuge(url: string): Promise<http2.ClientHttp2Session> {
  const session = await connectLean(url);
  session.settings({ initialWindowSize: 2 ** 31 - 1 });
  session.setLocalWindowSize(2 ** 31 - 1);
  return session;
}

// Alone: node bench/.build/src/scenarios/stalled-load.js [--streams 1,100,1000] [--modes flow-control,socket] [--calls 300]
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name: string, fallback: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1]! : fallback;
  };
  killChildrenOnExit();
  const cores = planCores(lookupTools().taskset);
  try {
    for (const mode of arg("modes", "flow-control,socket").split(",") as StallMode[]) {
      for (const streams of arg("streams", "1,100,1000").split(",").map(Number)) {
        const r = await runStalledLoad(mode, streams, Number(arg("calls", "300")), cores);
        process.stdout.write(`${JSON.stringify(r)}\n`);
      }
    }
  } finally {
    killAll();
  }
}
