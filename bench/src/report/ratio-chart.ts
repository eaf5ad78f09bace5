import type { BenchResults } from "./results-file.js";
import type { Spread } from "./summary.js";

interface Bar {
  label: string;
  value: Spread;
  /** Sluice's own arms stand out. */
  sluice: boolean;
}

const width = 920;
const labelWidth = 300;
const plotWidth = width - labelWidth - 90;
const rowHeight = 20;
const font = "font-family=\"system-ui, -apple-system, Segoe UI, sans-serif\"";

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A panel of horizontal bars (median) with min–max whiskers and a line at 1×. */
function panel(title: string, bars: Bar[], top: number): { svg: string; height: number } {
  const finite = bars.filter((b) => Number.isFinite(b.value.median));
  const highest = Math.max(1, ...finite.map((b) => b.value.max));
  const scaleMax = Math.ceil(highest * 4) / 4;
  const x = (v: number) => labelWidth + (v / scaleMax) * plotWidth;
  const out: string[] = [];
  out.push(`<text x="10" y="${top + 16}" ${font} font-size="14" font-weight="600">${escape(title)}</text>`);
  const plotTop = top + 28;
  const plotHeight = finite.length * rowHeight;
  for (let t = 0; t <= scaleMax + 1e-9; t += scaleMax > 2 ? 0.5 : 0.25) {
    out.push(`<line x1="${x(t)}" y1="${plotTop}" x2="${x(t)}" y2="${plotTop + plotHeight}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x(t)}" y="${plotTop + plotHeight + 14}" ${font} font-size="11" fill="#555" text-anchor="middle">${Number(t.toFixed(2))}×</text>`);
  }
  finite.forEach((b, i) => {
    const y = plotTop + i * rowHeight;
    const color = b.sluice ? "#2563eb" : "#9ca3af";
    out.push(`<text x="${labelWidth - 8}" y="${y + 14}" ${font} font-size="12" text-anchor="end">${escape(b.label)}</text>`);
    out.push(`<rect x="${labelWidth}" y="${y + 4}" width="${Math.max(0, x(b.value.median) - labelWidth)}" height="${rowHeight - 8}" fill="${color}"/>`);
    if (b.value.max > b.value.min) {
      const cy = y + rowHeight / 2;
      out.push(`<line x1="${x(b.value.min)}" y1="${cy}" x2="${x(b.value.max)}" y2="${cy}" stroke="#111" stroke-width="1.2"/>`);
      for (const v of [b.value.min, b.value.max]) out.push(`<line x1="${x(v)}" y1="${cy - 4}" x2="${x(v)}" y2="${cy + 4}" stroke="#111" stroke-width="1.2"/>`);
    }
    out.push(`<text x="${x(b.value.max) + 6}" y="${y + 14}" ${font} font-size="11" fill="#333">${b.value.median.toFixed(2)}×</text>`);
  });
  out.push(`<line x1="${x(1)}" y1="${plotTop - 4}" x2="${x(1)}" y2="${plotTop + plotHeight + 2}" stroke="#dc2626" stroke-dasharray="4 3"/>`);
  return { svg: out.join("\n"), height: 28 + plotHeight + 30 };
}

/**
 * The chart of a run: every arm's throughput as a ratio to grpc-js and to
 * raw node:http2 in the same round (median bar, min–max whisker), and the
 * streaming arms' ratio of Sluice to grpc-js.
 */
export function ratioChart(r: BenchResults): string {
  const unary = r.unary.filter((u) => u.summary);
  const label = (u: (typeof unary)[number]) => `${u.label} · ${u.payload}`;
  const panels = [
    panel("Unary throughput ÷ grpc-js (same round)", unary.map((u) => ({ label: label(u), value: u.summary!.ratioToGrpcJs, sluice: u.server === "sluice" })), 0),
  ];
  const next = () => panels.reduce((h, p) => h + p.height + 10, 0);
  panels.push(panel("Unary throughput ÷ raw node:http2 limit (same round)", unary.map((u) => ({ label: label(u), value: u.summary!.ratioToLimit, sluice: u.server === "sluice" })), next()));
  const streaming: Bar[] = [
    ...r.serverStream.filter((s) => s.server === "sluice" && s.summary).map((s) => ({ label: `server stream · ${s.calls} × ${s.messagesPerCall.toLocaleString("en-US")} msg/s`, value: s.summary!.ratioToGrpcJs, sluice: true })),
    ...r.bidi.filter((b) => b.server === "sluice" && b.summary).map((b) => ({ label: `bidi · ${b.streams} stream${b.streams === 1 ? "" : "s"} round trips/s`, value: b.summary!.ratioToGrpcJs, sluice: true })),
  ];
  if (streaming.length > 0) panels.push(panel("Streaming: Sluice ÷ grpc-js (same client, same round)", streaming, next()));
  const height = next() + 24;
  const caption = `${r.mode} run ${r.startedAt.slice(0, 10)} · ${r.machine.cores} cores ${r.machine.cpuModel} · Node ${r.machine.node} · blue: Sluice · bars: median of ${r.plan.rounds} rounds, whiskers: min–max`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<g transform="translate(0, 8)">`,
    panels.map((p) => p.svg).join("\n"),
    `</g>`,
    `<text x="10" y="${height - 8}" ${font} font-size="11" fill="#555">${escape(caption)}</text>`,
    `</svg>`,
    ``,
  ].join("\n");
}
