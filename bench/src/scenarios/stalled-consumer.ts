import http2 from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { echoStreamPath, sluiceArgv } from "../arms/arm-catalog.js";
import { statsRequestId, streamRequestFrame } from "../echo-messages.js";
import { EchoService } from "../../gen/bench/v1/echo_pb.js";
import { connectLean, openGrpcCall } from "../load/grpc-call.js";
import { StallValve } from "../load/stall-valve.js";
import type { CorePlan } from "../process/cpu-pinning.js";
import { startServer } from "../process/server-process.js";

/**
 * How the client stops reading:
 * - "flow-control": it stops consuming its HTTP/2 streams (stream.pause())
 *   on a connection with Node's default 64 KiB windows; the gateway's
 *   send window closes.
 * - "socket": it granted 2 GiB windows, then its socket stops reading (a
 *   TCP relay stops reading from the gateway); only TCP backpressure is left.
 */
export type StallMode = "flow-control" | "socket";

export interface StallResult {
  mode: StallMode;
  streams: number;
  stallSeconds: number;
  /** The first part of the stall, in which buffers on the way fill up. */
  fillSeconds: number;
  /** Gateway RSS before any stream was opened, and when the stall began. */
  rssIdleMb: number;
  rssAtStallMb: number;
  /** Highest RSS during the stall, and 1.5 s after the client went away. */
  rssPeakDuringStallMb: number;
  rssAfterCancelMb: number;
  /** rssPeakDuringStallMb − rssAtStallMb: includes the buffers filling up. */
  rssGrowthMb: number;
  /** Highest RSS after the first `fillSeconds` minus RSS at that point: growth once the buffers were full. */
  rssGrowthAfterFillingMb: number;
  /** Messages the handlers produced in the stall's first `fillSeconds` (filling buffers), and after; null if the gateway did not answer. */
  producedWhileFilling: number | null;
  producedAfterFilling: number | null;
  /** Gateway CPU seconds used after the buffers had filled. */
  gatewayCpuSecondsAfterFilling: number;
  /** No message produced after the buffers had filled (or, unanswered, the gateway was idle). */
  handlerPaused: boolean;
  /** Messages produced after the client went away, until the count stopped moving. */
  producedAfterCancel: number | null;
  /** The count stopped moving within 10 s of the client going away. */
  handlerStoppedAfterCancel: boolean | null;
  /** Anything that did not go as a healthy gateway would have it. */
  problems: string[];
}

/** A count the handler will never reach: it sends as fast as the gateway lets it. */
const endless = 0xffff_ffff;
/** Time the stall gets to fill every buffer on the way (kernel socket buffers can take megabytes). */
const fillSeconds = 2;
/** A gateway above this RSS is not going to stop growing; the run ends early. */
const rssCeiling = 2 * 2 ** 30;

/**
 * Stalled consumer: a client opens `streams` EchoStream calls for an endless
 * count, reads for a moment, then stops reading for `stallSeconds` while the
 * handler keeps trying to send. Runs against its own fresh gateway so that
 * RSS is not shared with other arms. Every wait is bounded: a gateway that
 * stops answering is reported, not waited for.
 */
export async function runStalledConsumer(mode: StallMode, streams: number, stallSeconds: number, cores: CorePlan): Promise<StallResult> {
  const gateway = await startServer("sluice (stalled consumer)", sluiceArgv(), { pin: cores.server });
  const valve = mode === "socket" ? await StallValve.open(gateway.port) : undefined;
  let session: http2.ClientHttp2Session | undefined;
  const stats = statsClient(gateway.url);
  const problems: string[] = [];
  const produced = () =>
    stats.produced().catch((e: Error) => {
      problems.push(`the gateway did not answer the stats request: ${e.message}`);
      return null;
    });
  try {
    await sleep(500);
    const rssIdle = gateway.memory().rssBytes;
    session = mode === "socket" ? await connectHuge(valve!.url) : await connectDefault(gateway.url);
    const { calls, flowing } = await openStreams(session, streams, 10_000);
    if (!flowing) problems.push("no message arrived within 10 s of opening the streams");
    // Let every stream flow for a moment so the stall starts from a running state.
    await sleep(500);
    const rssAtStall = gateway.memory().rssBytes;
    const produced0 = await produced();
    if (valve) valve.stall();
    else for (const call of calls) call.pause();
    const stallStart = performance.now();
    let peak = rssAtStall;
    const sampleUntil = async (seconds: number) => {
      while (performance.now() - stallStart < seconds * 1000) {
        await sleep(250);
        peak = Math.max(peak, gateway.memory().rssBytes);
        if (peak > rssCeiling) {
          problems.push(`RSS passed ${rssCeiling / 2 ** 30} GiB after ${((performance.now() - stallStart) / 1000).toFixed(1)} s; stall ended early`);
          return false;
        }
      }
      return true;
    };
    await sampleUntil(fillSeconds);
    const produced1 = await produced();
    const cpu1 = gateway.cpuSeconds();
    const elapsed1 = performance.now();
    const rssFilled = gateway.memory().rssBytes;
    const peakWhileFilling = peak;
    peak = rssFilled;
    await sampleUntil(stallSeconds);
    const peakAfterFilling = peak;
    peak = Math.max(peak, peakWhileFilling);
    const produced2 = await produced();
    const cpuAfterFilling = gateway.cpuSeconds() - cpu1;
    const busy = cpuAfterFilling / ((performance.now() - elapsed1) / 1000);
    // The client goes away; the handlers should stop.
    session.destroy();
    valve?.close();
    const stopped = await untilSteady(produced, 10_000);
    await sleep(1000);
    const rssAfter = gateway.memory().rssBytes;
    const known = (...values: (number | null)[]) => values.every((v) => v !== null);
    const handlerPaused = known(produced1, produced2) ? produced2 === produced1 : busy < 0.1;
    return {
      mode,
      streams,
      stallSeconds,
      fillSeconds,
      rssIdleMb: mb(rssIdle),
      rssAtStallMb: mb(rssAtStall),
      rssPeakDuringStallMb: mb(peak),
      rssAfterCancelMb: mb(rssAfter),
      rssGrowthMb: mb(peak - rssAtStall),
      rssGrowthAfterFillingMb: mb(peakAfterFilling - rssFilled),
      producedWhileFilling: known(produced0, produced1) ? produced1! - produced0! : null,
      producedAfterFilling: known(produced1, produced2) ? produced2! - produced1! : null,
      gatewayCpuSecondsAfterFilling: Math.round(cpuAfterFilling * 100) / 100,
      handlerPaused,
      producedAfterCancel: stopped.last !== null && produced2 !== null ? stopped.last - produced2 : null,
      handlerStoppedAfterCancel: stopped.last === null ? null : stopped.steady,
      problems,
    };
  } finally {
    session?.destroy();
    valve?.close();
    stats.close();
    await gateway.stop();
  }
}

/**
 * Reads the counter every 250 ms until it has not moved for a second
 * (steady) or `ms` pass. After a client vanishes, the gateway may take a
 * moment, and a buffer's worth of messages per stream, to notice.
 */
async function untilSteady(read: () => Promise<number | null>, ms: number): Promise<{ steady: boolean; last: number | null }> {
  const started = performance.now();
  let last = await read();
  let changedAt = started;
  while (performance.now() - started < ms) {
    await sleep(250);
    const now = await read();
    if (now === null || last === null) return { steady: false, last: now };
    if (now !== last) {
      last = now;
      changedAt = performance.now();
    } else if (performance.now() - changedAt >= 1000) {
      return { steady: true, last };
    }
  }
  return { steady: false, last };
}

function mb(bytes: number): number {
  return Math.round((bytes / 2 ** 20) * 10) / 10;
}

function connectDefault(url: string): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.once("error", reject);
    session.once("connect", () => {
      session.on("error", () => {});
      resolve(session);
    });
  });
}

/** A client that lets the server send up to 2 GiB before it has to wait for window updates. */
async function connectHuge(url: string): Promise<http2.ClientHttp2Session> {
  const session = await connectLean(url);
  session.settings({ initialWindowSize: 2 ** 31 - 1 });
  session.setLocalWindowSize(2 ** 31 - 1);
  return session;
}

/** Opens the calls and waits (at most `ms`) until each has delivered its first message. */
async function openStreams(session: http2.ClientHttp2Session, count: number, ms: number): Promise<{ calls: http2.ClientHttp2Stream[]; flowing: boolean }> {
  const request = streamRequestFrame(endless);
  const calls: http2.ClientHttp2Stream[] = [];
  const firsts: Promise<boolean>[] = [];
  for (let i = 0; i < count; i++) {
    const { stream } = openGrpcCall(session, echoStreamPath);
    // Reading means discarding: this client only cares that bytes move.
    stream.on("data", () => {});
    firsts.push(new Promise((resolve) => {
      stream.once("data", () => resolve(true));
      stream.once("close", () => resolve(false));
    }));
    stream.end(request);
    calls.push(stream);
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean[]>((resolve) => (timer = setTimeout(() => resolve([false]), ms)));
  const outcomes = await Promise.race([Promise.all(firsts), timeout]);
  clearTimeout(timer);
  return { calls, flowing: outcomes.every(Boolean) };
}

/** Reads the bench function's produced-messages counter (bench/functions/echo.ts). */
function statsClient(baseUrl: string): { produced(): Promise<number>; close(): void } {
  const sessions = new Http2SessionManager(baseUrl);
  const client = createClient(EchoService, createGrpcTransport({ baseUrl, sessionManager: sessions }));
  return {
    async produced() {
      for await (const res of client.echoStream({ count: 0, message: { id: statsRequestId } }, { timeoutMs: 5_000 })) return Number(res.text);
      throw new Error("the stats request got no answer");
    },
    close: () => sessions.abort(),
  };
}

