import type { Spread } from "./summary.js";
import type { BenchResults } from "./results-file.js";
import type { ColdStartResult } from "../scenarios/cold-start.js";
import type { ProfileResult } from "../scenarios/cpu-profile.js";

export type TableStyle = "plain" | "markdown";

/** Lays out rows under a header: padded columns (plain) or a GitHub table (markdown). */
export function formatTable(header: string[], rows: string[][], style: TableStyle): string {
  if (style === "markdown") {
    const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
    return [line(header), line(header.map((_, i) => (i === 0 ? "---" : "---:"))), ...rows.map(line)].join("\n");
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

function num(v: number, digits = 0): string {
  if (!Number.isFinite(v)) return "–";
  return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** "12,345 (11,900–12,800)": the median and the range of the rounds. */
function spread(s: Spread | undefined, digits = 0, suffix = ""): string {
  if (!s || !Number.isFinite(s.median)) return "–";
  if (s.min === s.max) return `${num(s.median, digits)}${suffix}`;
  return `${num(s.median, digits)}${suffix} (${num(s.min, digits)}–${num(s.max, digits)})`;
}

/** Every table of a run, as printed at the end and pasted into BENCHMARKS.md. */
export function formatResults(r: BenchResults, style: TableStyle): string {
  const h = style === "markdown" ? (t: string) => `#### ${t}` : (t: string) => `${t}\n${"=".repeat(t.length)}`;
  const parts: string[] = [];

  parts.push(h(`Unary (h2load -c ${r.plan.unary.clients} -m ${r.plan.unary.streams}; median (min–max) of ${r.plan.rounds} interleaved rounds)`));
  parts.push(formatTable(
    ["arm", "payload", "req/s", "p50 ms", "p99 ms", "server CPU s / 1k req", "peak RSS MB", "× grpc-js", "× node:http2", "h2load CPU %"],
    r.unary.map((u) => {
      const s = u.summary;
      if (!s) return [u.label, u.payload, `check failed: ${u.check.detail}`, "", "", "", "", "", "", ""];
      return [u.label, u.payload, spread(s.rps), spread(s.p50Ms, 2), spread(s.p99Ms, 2), spread(s.cpuSecondsPer1k, 3), num(s.peakRssMb), spread(s.ratioToGrpcJs, 2, "×"), spread(s.ratioToLimit, 2, "×"), spread(s.clientCpuPercent)];
    }),
    style,
  ));

  const observed = r.unary.filter((u) => u.baseline !== undefined && u.summary !== undefined);
  if (observed.length > 0) {
    parts.push(h("The cost of observing calls: the Sluice gRPC arm with metrics on, tracing off, and tracing on with an SDK (throughput over the plain arm's, same round)"));
    parts.push(formatTable(
      ["arm", "payload", "req/s", "server CPU s / 1k req", "× Sluice gRPC"],
      observed.map((u) => [u.label, u.payload, spread(u.summary!.rps), spread(u.summary!.cpuSecondsPer1k, 3), spread(u.summary!.ratioToBaseline, 3, "×")]),
      style,
    ));
  }

  if (r.heapAfterGc.length > 0) {
    parts.push(h("Heap after full GC during the unary rounds (node --trace-gc; the RSS above follows V8's heap sizing)"));
    parts.push(formatTable(
      ["server", "heap after Mark-Compact MB (median)", "max MB", "full GCs"],
      r.heapAfterGc.map((g) => [g.server, num(g.medianMb, 1), num(g.maxMb, 1), String(g.collections)]),
      style,
    ));
  }

  if (r.fixedRate.length > 0) {
    parts.push(h(`Latency at a fixed rate: ${num(r.fixedRate[0]!.targetRps)} req/s, half of grpc-js's saturation rate (gRPC, small message, h2load --rps)`));
    parts.push(formatTable(
      ["arm", "achieved req/s", "p50 ms", "p99 ms", "server CPU s / 1k req"],
      r.fixedRate.map((f) => [f.arm, spread(f.summary?.achievedRps), spread(f.summary?.p50Ms, 2), spread(f.summary?.p99Ms, 2), spread(f.summary?.cpuSecondsPer1k, 3)]),
      style,
    ));
  }

  if (r.workers.length > 0) {
    parts.push(h(`sluice start --workers (gRPC unary, h2load -c ${r.plan.workers.clients} -m ${r.plan.unary.streams} on core 0; gateway processes not pinned)`));
    parts.push(formatTable(
      ["workers", "req/s", "p99 ms", "CPU s / 1k req (all processes)", "peak RSS MB (all)", "× 1 worker", "h2load CPU %"],
      r.workers.map((w) => [String(w.workers), spread(w.summary?.rps), spread(w.summary?.p99Ms, 2), spread(w.summary?.cpuSecondsPer1k, 3), num(w.summary?.peakRssMb ?? NaN), spread(w.summary?.ratioToOne, 2, "×"), spread(w.summary?.clientCpuPercent)]),
      style,
    ));
  }

  if (r.proxy.length > 0) {
    parts.push(h(`Upstreams: a grpc-js upstream called directly, through a bare node:http2 proxy (the limit), through a proxy route, and from a function with ctx.upstream (gateways on core 1; upstream and load generators on core 0)`));
    parts.push(formatTable(
      ["arm", "req/s", "× direct", "p50 ms", "p99 ms", `p50 / p99 ms at ${num(r.plan.proxy.fixedRps)} req/s`, "added p50 / p99 ms", "gateway / upstream / h2load CPU s per 1k", "stream msg/s 1 call (× direct)", `stream msg/s ${r.plan.serverStream.concurrentCalls} calls (× direct)`, "gateway → upstream connections"],
      r.proxy.map((p) => {
        const s = p.summary;
        return [
          p.arm, spread(s?.rps), spread(s?.ratioToDirect, 2, "×"), spread(s?.p50Ms, 2), spread(s?.p99Ms, 2),
          `${spread(s?.fixedP50Ms, 2)} / ${spread(s?.fixedP99Ms, 2)}`,
          p.arm === "direct" ? "–" : `${spread(s?.addedP50Ms, 2)} / ${spread(s?.addedP99Ms, 2)}`,
          `${spread(s?.gatewayCpuPer1k, 3)} / ${spread(s?.upstreamCpuPer1k, 3)} / ${spread(s?.clientCpuPer1k, 3)}`,
          `${spread(s?.streamOneMps)} (${spread(s?.streamOneRatio, 2, "×")})`,
          `${spread(s?.streamManyMps)} (${spread(s?.streamManyRatio, 2, "×")})`,
          p.arm === "direct" ? "–" : spread(s?.upstreamConnections),
        ];
      }),
      style,
    ));
  }

  parts.push(h("Server streaming (lean node:http2 client, small message)"));
  parts.push(formatTable(
    ["server", "calls × messages", "messages/s", "call p50 ms", "call p99 ms", "server CPU s / 1k msg", "peak RSS MB", "× grpc-js", "client CPU %"],
    r.serverStream.map((s) => [s.server, `${s.calls} × ${num(s.messagesPerCall)}`, spread(s.summary?.messagesPerSec), spread(s.summary?.callP50Ms), spread(s.summary?.callP99Ms), spread(s.summary?.cpuSecondsPer1k, 4), num(s.summary?.peakRssMb ?? NaN), spread(s.summary?.ratioToGrpcJs, 2, "×"), spread(s.summary?.clientCpuPercent)]),
    style,
  ));

  parts.push(h(`Bidi echo ping-pong (${r.plan.bidi.seconds} s per run, small message)`));
  parts.push(formatTable(
    ["server", "streams", "round trips/s", "p50 ms", "p99 ms", "server CPU s / 1k", "peak RSS MB", "× grpc-js", "client CPU %"],
    r.bidi.map((b) => [b.server, String(b.streams), spread(b.summary?.roundTripsPerSec), spread(b.summary?.p50Ms, 2), spread(b.summary?.p99Ms, 2), spread(b.summary?.cpuSecondsPer1k, 4), num(b.summary?.peakRssMb ?? NaN), spread(b.summary?.ratioToGrpcJs, 2, "×"), spread(b.summary?.clientCpuPercent)]),
    style,
  ));

  const bt = r.browserTransports;
  if (bt) {
    parts.push(h("Sluice server streaming to a gRPC-Web client over HTTP/1.1: binary against text (base64, the official grpc-web client's mode), lean Node clients"));
    parts.push(formatTable(
      ["client", "calls × messages", "messages/s", "call p50 ms", "call p99 ms", "server CPU s / 1k msg", "peak RSS MB", "× binary", "client CPU %"],
      bt.serverStream.map((s) => [s.client, `${s.calls} × ${num(s.messagesPerCall)}`, spread(s.summary?.messagesPerSec), spread(s.summary?.callP50Ms), spread(s.summary?.callP99Ms), spread(s.summary?.cpuSecondsPer1k, 4), num(s.summary?.peakRssMb ?? NaN), spread(s.summary?.ratioToBinary, 2, "×"), spread(s.summary?.clientCpuPercent)]),
      style,
    ));
    parts.push(h(`Sluice bidi echo ping-pong: gRPC-Web over WebSocket (one per call) against gRPC over HTTP/2 (one connection), ${r.plan.bidi.seconds} s per run`));
    parts.push(formatTable(
      ["transport", "streams", "round trips/s", "p50 ms", "p99 ms", "server CPU s / 1k", "peak RSS MB", "× HTTP/2", "client CPU %"],
      bt.bidi.map((b) => [b.transport === "http2" ? "HTTP/2 (gRPC)" : "WebSocket (gRPC-Web)", String(b.streams), spread(b.summary?.roundTripsPerSec), spread(b.summary?.p50Ms, 2), spread(b.summary?.p99Ms, 2), spread(b.summary?.cpuSecondsPer1k, 4), num(b.summary?.peakRssMb ?? NaN), spread(b.summary?.ratioToHttp2, 2, "×"), spread(b.summary?.clientCpuPercent)]),
      style,
    ));
  }

  parts.push(h(`Stalled consumer (Sluice; the handler sends as fast as it is allowed; buffers get ${r.stalledConsumer[0]?.fillSeconds ?? "?"} s to fill)`));
  parts.push(formatTable(
    ["client stops", "streams", "stall s", "RSS idle → at stall → peak MB", "RSS growth MB (once full)", "msgs while filling", "msgs once full", "handler paused", "gateway CPU s once full", "msgs after cancel", "stopped on cancel"],
    r.stalledConsumer.map((s) => [
      s.mode === "socket" ? "reading its socket" : "consuming its streams",
      String(s.streams),
      String(s.stallSeconds),
      `${num(s.rssIdleMb)} → ${num(s.rssAtStallMb)} → ${num(s.rssPeakDuringStallMb)}`,
      `${num(s.rssGrowthMb, 1)} (${num(s.rssGrowthAfterFillingMb, 1)})`,
      s.producedWhileFilling === null ? "?" : num(s.producedWhileFilling),
      s.producedAfterFilling === null ? "?" : num(s.producedAfterFilling),
      s.handlerPaused ? "yes" : "NO",
      num(s.gatewayCpuSecondsAfterFilling, 2),
      s.producedAfterCancel === null ? "?" : num(s.producedAfterCancel),
      s.handlerStoppedAfterCancel === null ? "?" : s.handlerStoppedAfterCancel ? "yes" : "NO",
    ]),
    style,
  ));

  if (r.stalledLoad && r.stalledLoad.length > 0) {
    parts.push(h(`Stalled consumers beside a normal client (Sluice; ${r.stalledLoad[0]!.calls} sequential unary calls on their own connection, before the stall and once the stalled streams' buffers are full)`));
    parts.push(formatTable(
      ["client stops", "streams", "buffers full after s", "RSS idle → peak MB", "RSS growth MB (target)", "normal p50 ms unloaded → stalled", "normal p99 ms unloaded → stalled", "p99 ×", "streams still open"],
      r.stalledLoad.map((s) => [
        s.mode === "socket" ? "reading its socket (2 GiB windows)" : "consuming its streams (default windows)",
        num(s.streams),
        s.fillMs === undefined ? "–" : num(s.fillMs / 1000, 1),
        `${num(s.rssIdleMb)} → ${num(s.rssPeakMb)}`,
        `${num(s.rssGrowthMb, 1)} (< ${num(s.targetGrowthMb)})${s.rssGrowthMb < s.targetGrowthMb ? "" : " MISSED"}`,
        `${num(s.unloaded.p50Ms, 2)} → ${num(s.stalled.p50Ms, 2)}`,
        `${num(s.unloaded.p99Ms, 2)} → ${num(s.stalled.p99Ms, 2)}`,
        `${num(s.p99Ratio, 2)}×${s.p99Ratio <= 2 ? "" : " (target ≤ 2×)"}`,
        `${num(s.streamsOpen)} of ${num(s.streams)}`,
      ]),
      style,
    ));
  }

  if (r.pacedClient) {
    const p = r.pacedClient;
    parts.push(h("A client sending faster than messagesPerSecond (one EchoBidi stream, requests written as fast as the stream takes them)"));
    parts.push(formatTable(
      ["limit /s", "requests", "achieved /s (after the burst)", "unlimited /s", "client writes held back ms", "echoed", "in order", "status"],
      [[num(p.perSecond), num(p.messages), num(p.achievedPerSecond, 1), num(p.unlimitedPerSecond), num(p.writeWaitMs), `${num(p.echoed)} of ${num(p.messages)}`, p.inOrder ? "yes" : "NO", p.status === "0" ? "OK" : p.status]],
      style,
    ));
  }

  parts.push(formatColdStart(r.coldStart, style));

  if (r.profile) parts.push(formatProfile(r.profile, style));

  if (r.failures.length > 0) {
    parts.push(h(`${r.failures.length} failure(s)`));
    parts.push(r.failures.map((f) => `- ${f}`).join("\n"));
  }
  return parts.join("\n\n");
}

/** The cold-start table: every arm and function set, median (min–max) over the runs. */
export function formatColdStart(results: ColdStartResult[], style: TableStyle = "plain"): string {
  const h = (title: string) => (style === "markdown" ? `#### ${title}` : `${title}\n${"=".repeat(title.length)}`);
  return [
    h(`Cold start (exec of the start command → first successful RPC; Node ${results[0]?.node ?? "?"})`),
    formatTable(
      ["start", "functions", "listening ms", "first RPC ms", "RSS MB", "runs"],
      results.map((c) => [c.label, c.functions, spread(c.summary?.listeningMs), spread(c.summary?.firstRpcMs), spread(c.summary?.rssMb), c.ok ? String(c.runs.length) : `failed: ${c.problem}`]),
      style,
    ),
  ].join("\n\n");
}

/** The CPU profile's top frames and owners. */
export function formatProfile(p: ProfileResult, style: TableStyle = "plain"): string {
  const h = (title: string) => (style === "markdown" ? `#### ${title}` : `${title}\n${"=".repeat(title.length)}`);
  return [
    h(`CPU profile: ${p.arm}, ${p.seconds} s, ${num(p.requests)} requests (self time, % of busy samples)`),
    formatTable(["frame", "self %"], p.topFrames.map((f) => [f.frame, num(f.selfPercent, 1)]), style),
    formatTable(["by owner", "self %"], p.byOwner.map((f) => [f.frame, num(f.selfPercent, 1)]), style),
  ].join("\n\n");
}
