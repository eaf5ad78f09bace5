import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { echoPath, echoStreamPath, serverArgv, sluiceArgv } from "../arms/arm-catalog.js";
import { compiled } from "../paths.js";
import { payloads, streamRequestFrame } from "../echo-messages.js";
import { runH2load, type H2loadResult } from "../load/h2load.js";
import { runLoadWorker } from "../load/run-load-worker.js";
import { unaryRequest } from "../load/unary-wire.js";
import { benchDir } from "../paths.js";
import { startServer, type ServerProcess } from "../process/server-process.js";
import { summarizeRounds, type Spread } from "../report/summary.js";
import { round, type BenchContext } from "./bench-context.js";

export type ProxyArm = "direct" | "raw-proxy" | "proxy-route" | "function-upstream";

export interface ProxyRound {
  round: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU seconds per 1,000 calls: the gateway (0 for direct), the upstream, h2load. */
  gatewayCpuPer1k: number;
  upstreamCpuPer1k: number;
  clientCpuPer1k: number;
  /** At a fixed rate (plan.proxy.fixedRps): latency, and the added latency over direct in the same round. */
  fixedP50Ms: number;
  fixedP99Ms: number;
  addedP50Ms?: number;
  addedP99Ms?: number;
  /** Server streaming through the arm, messages/s (one call, and many calls on one connection). */
  streamOneMps: number;
  streamManyMps: number;
  /** TCP connections from the gateway to the upstream, at most, during the saturated run (0 for direct). */
  upstreamConnections: number;
  peakRssMb: number;
  /** Calls that did not succeed (h2load's failed and errored requests; streams cut short), across every run of the round. */
  failed: number;
  ratioToDirect?: number;
  streamOneRatio?: number;
  streamManyRatio?: number;
}

export interface ProxyResult {
  arm: ProxyArm;
  rounds: ProxyRound[];
  summary?: Record<Exclude<keyof ProxyRound, "round" | "peakRssMb" | "failed">, Spread> & { peakRssMb: number };
}

/**
 * A grpc-js upstream (the echo service) called directly, through a bare
 * node:http2 proxy (the limit: what Node's HTTP/2 server and client cost
 * for one proxied call), through a proxy route, and from a function with
 * ctx.upstream, each with the same h2load
 * (gRPC unary, saturated and at a fixed rate) and the same lean streaming
 * client. Pinning: the gateways on the servers' core, the upstream on the
 * load generators' core; two cores cannot give the load generator, the
 * upstream and the gateway one each, so each process's CPU per call is
 * reported, and the ratios are read with that in mind.
 */
export async function runProxy(ctx: BenchContext): Promise<ProxyResult[]> {
  const { plan } = ctx;
  const started: ServerProcess[] = [];
  try {
    const upstream = await startServer("grpc-js upstream", serverArgv["grpc-js"](), { pin: ctx.cores.load });
    started.push(upstream);
    const config = path.join(ctx.scratchDir, "proxy.config.json");
    writeFileSync(config, JSON.stringify({
      protoGenDir: path.join(benchDir, "gen"),
      upstreams: { echo: { url: upstream.url } },
      routes: { "bench.v1.EchoService": { upstream: "echo" } },
    }));
    const fnConfig = path.join(ctx.scratchDir, "function-upstream.config.json");
    writeFileSync(fnConfig, JSON.stringify({ upstreams: { echo: { url: upstream.url } } }));
    const empty = path.join(ctx.scratchDir, "no-functions");
    mkdirSync(empty, { recursive: true });
    const gateway = await startServer("sluice proxy route", [...sluiceArgv(empty), "--config", config], { pin: ctx.cores.server });
    started.push(gateway);
    const fnGateway = await startServer("sluice function → upstream", [...sluiceArgv(path.join(benchDir, "functions-via-upstream")), "--config", fnConfig], { pin: ctx.cores.server });
    started.push(fnGateway);
    const rawProxy = await startServer("node:http2 proxy", [compiled("arms/raw-http2-proxy.js"), upstream.url], { pin: ctx.cores.server });
    started.push(rawProxy);
    const targets: Record<ProxyArm, { url: string; gateway?: ServerProcess }> = {
      direct: { url: upstream.url },
      "raw-proxy": { url: rawProxy.url, gateway: rawProxy },
      "proxy-route": { url: gateway.url, gateway },
      "function-upstream": { url: fnGateway.url, gateway: fnGateway },
    };
    const req = unaryRequest("grpc", payloads.small);
    const body = path.join(ctx.scratchDir, "proxy.bin");
    writeFileSync(body, req.body);
    const h2 = (url: string, seconds: number, rpsPerClient?: number) => runH2load({
      h2load: ctx.h2load, url: `${url}${echoPath}`, bodyFile: body, headers: req.headers,
      clients: plan.unary.clients, streams: plan.unary.streams, durationSec: seconds,
      ...(rpsPerClient !== undefined ? { rpsPerClient } : {}),
      logFile: path.join(ctx.scratchDir, "proxy-log.tsv"), pin: ctx.cores.load,
    });
    const stream = (url: string, calls: number, count: number) => runLoadWorker(
      { kind: "stream", url, path: echoStreamPath, calls, countPerCall: count, request: streamRequestFrame(count).toString("base64") },
      ctx.cores.load,
      120_000,
    );
    const results: ProxyResult[] = (Object.keys(targets) as ProxyArm[]).map((arm) => ({ arm, rounds: [] }));
    for (const r of results) await h2(targets[r.arm].url, plan.unary.warmupSeconds || 0.5);
    const perClient = Math.max(1, Math.round(plan.proxy.fixedRps / plan.unary.clients));
    for (let n = 1; n <= plan.rounds; n++) {
      for (const r of results) {
        const t = targets[r.arm];
        const cpu = () => ({ gateway: t.gateway?.cpuSeconds() ?? 0, upstream: upstream.cpuSeconds() });
        const before = cpu();
        let connections = 0;
        let peak = 0;
        const sampler = setInterval(() => {
          if (t.gateway) connections = Math.max(connections, connectionsTo(t.gateway.pid, upstream.port));
          peak = Math.max(peak, (t.gateway ?? upstream).memory().rssBytes);
        }, 250);
        const saturated: H2loadResult = await h2(t.url, plan.proxy.seconds);
        clearInterval(sampler);
        const after = cpu();
        const fixed = await h2(t.url, plan.proxy.seconds, perClient);
        const one = await stream(t.url, 1, plan.proxy.streamMessages);
        const many = await stream(t.url, plan.serverStream.concurrentCalls, Math.max(1, Math.round(plan.proxy.streamMessages / plan.serverStream.concurrentCalls)));
        const per1k = (s: number) => round(saturated.succeeded > 0 ? (s / saturated.succeeded) * 1000 : NaN, 4);
        r.rounds.push({
          round: n,
          rps: round(saturated.rps, 1),
          p50Ms: round(saturated.latency?.p50 ?? NaN, 3),
          p99Ms: round(saturated.latency?.p99 ?? NaN, 3),
          gatewayCpuPer1k: per1k(after.gateway - before.gateway),
          upstreamCpuPer1k: per1k(after.upstream - before.upstream),
          clientCpuPer1k: per1k(saturated.clientCpuSeconds),
          fixedP50Ms: round(fixed.latency?.p50 ?? NaN, 3),
          fixedP99Ms: round(fixed.latency?.p99 ?? NaN, 3),
          streamOneMps: round(one.messagesPerSec, 0),
          streamManyMps: round(many.messagesPerSec, 0),
          upstreamConnections: connections,
          peakRssMb: round(peak / 2 ** 20, 1),
          failed: saturated.failed + saturated.errored + fixed.failed + fixed.errored + (one.problem ? 1 : 0) + (many.problem ? 1 : 0),
        });
        ctx.log(`proxy round ${n}/${plan.rounds} ${r.arm}: ${Math.round(saturated.rps)} req/s, at ${perClient * plan.unary.clients} req/s p50 ${fixed.latency?.p50.toFixed(2)} p99 ${fixed.latency?.p99.toFixed(2)} ms; streams ${Math.round(one.messagesPerSec)} / ${Math.round(many.messagesPerSec)} msg/s; upstream connections ${connections}`);
      }
    }
    const direct = results.find((r) => r.arm === "direct")!;
    for (const r of results) {
      for (const x of r.rounds) {
        const d = direct.rounds.find((y) => y.round === x.round)!;
        x.ratioToDirect = round(x.rps / d.rps, 3);
        x.streamOneRatio = round(x.streamOneMps / d.streamOneMps, 3);
        x.streamManyRatio = round(x.streamManyMps / d.streamManyMps, 3);
        x.addedP50Ms = round(x.fixedP50Ms - d.fixedP50Ms, 3);
        x.addedP99Ms = round(x.fixedP99Ms - d.fixedP99Ms, 3);
      }
      r.summary = summarizeRounds(r.rounds, [
        "rps", "p50Ms", "p99Ms", "gatewayCpuPer1k", "upstreamCpuPer1k", "clientCpuPer1k", "fixedP50Ms", "fixedP99Ms", "addedP50Ms", "addedP99Ms",
        "streamOneMps", "streamManyMps", "upstreamConnections", "ratioToDirect", "streamOneRatio", "streamManyRatio",
      ]);
    }
    return results;
  } finally {
    await Promise.all(started.map((s) => s.stop()));
  }
}

/**
 * Established TCP connections that process `pid` has open to `port`: its
 * socket inodes (/proc/<pid>/fd) matched against the kernel's TCP tables.
 */
function connectionsTo(pid: number, port: number): number {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return 0;
  }
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  let n = 0;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local, remote, state, ..., inode (column 9)
      if (cols.length > 9 && cols[2]!.endsWith(`:${hex}`) && cols[3] === "01" && inodes.has(cols[9]!)) n++;
    }
  }
  return n;
}
