// Reading the admin listener of a gateway the tests started: its address
// from the banner, /metrics parsed into series, and /status.json.
import type { RunningGateway } from "./gateway.js";

/** The admin listener's URL, from the line the gateway prints before it serves. */
export function adminUrl(gw: RunningGateway): string {
  const m = /sluice admin listening on (\S+)/.exec(gw.output());
  if (!m) throw new Error(`the gateway printed no admin address:\n${gw.output()}`);
  return m[1]!;
}

/** One sample of a scrape: its name, labels and value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (and OpenMetrics), the samples only. */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    out.push({ name: m[1]!, labels, value: m[3] === "+Inf" ? Infinity : Number(m[3]) });
  }
  return out;
}

/**
 * The value of the one series `name` whose labels include `labels`; 0 when
 * no series matches (Prometheus counters start existing at their first
 * increment), an error when several do.
 */
export function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} series match ${name} ${JSON.stringify(labels)}: ${JSON.stringify(found.map((s) => s.labels))}`);
  return found[0]?.value ?? 0;
}

/** GET /metrics and parse it. */
export async function scrape(base: string, headers: Record<string, string> = {}): Promise<Sample[]> {
  const res = await fetch(`${base}/metrics`, { headers });
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status} ${await res.text()}`);
  return parseMetrics(await res.text());
}

/** Polls `check` until it returns true (a server notices a client's cancel a moment later), or fails after `ms`. */
export async function until(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
