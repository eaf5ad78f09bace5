// Save → type error on screen in `sluice dev`: how long after a one-file edit
// of the example functions (a misspelled field in greet.ts) the dev server
// prints the type error, measured from just before the write to the log
// line. Runs on its own:
//
//   npm run build && npm run bench:build && node bench/.build/src/scenarios/type-check-latency.js [--edits N]
//
// and from the harness (run.ts), which records the result.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildDir, exampleFunctions, gatewayCli, repoRoot } from "../paths.js";
import { spread, type Spread } from "../report/summary.js";
import { round } from "./bench-context.js";

export interface TypeCheckLatencyResult {
  edits: number;
  /** Write of the broken file → the SLUICE_FUNCTION_TYPE_ERRORS line, per edit. */
  runsMs: number[];
  summary?: Spread;
  ok: boolean;
  problem?: string;
}

const typo = (s: string) => s.replace("const name = req.name.trim();", "const name = req.nmae.trim();");

/** Starts `sluice dev` on a copy of the example functions and times `edits` broken saves. */
export async function runTypeCheckLatency(edits = 10, log: (line: string) => void = () => {}): Promise<TypeCheckLatencyResult> {
  const dir = path.join(buildDir, "tmp", `type-check-${process.pid}`, "functions");
  rmSync(path.dirname(dir), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // Relative imports of generated code point back at the repository's proto/gen/.
  for (const f of readdirSync(exampleFunctions).filter((n) => n.endsWith(".ts"))) {
    const source = readFileSync(path.join(exampleFunctions, f), "utf8").replace(/from "(\.\.?\/[^"]+)"/g, (_m, rel: string) => `from "${path.resolve(exampleFunctions, rel)}"`);
    writeFileSync(path.join(dir, f), source);
  }
  const greet = path.join(dir, "greet.ts");
  const good = readFileSync(greet, "utf8");
  const child = spawn(process.execPath, [gatewayCli, "dev", "--port", "0", "--functions", dir], {
    cwd: repoRoot,
    env: { ...process.env, SLUICE_LOG_FORMAT: "json", SLUICE_LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let waiter: { re: RegExp; from: number; resolve(at: number): void } | undefined;
  const onData = (c: Buffer) => {
    out += c.toString();
    if (waiter && waiter.re.test(out.slice(waiter.from))) {
      const w = waiter;
      waiter = undefined;
      w.resolve(performance.now());
    }
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const waitFor = (re: RegExp, ms = 30_000) => new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}:\n${out.slice(-2000)}`)), ms);
    waiter = { re, from: out.length, resolve: (at) => { clearTimeout(timer); resolve(at); } };
  });
  const result: TypeCheckLatencyResult = { edits, runsMs: [], ok: true };
  try {
    await waitFor(/sluice listening on/, 60_000).catch(async (e) => {
      if (/sluice listening on/.test(out)) return 0;
      throw e;
    });
    for (let i = 1; i <= edits; i++) {
      const seen = waitFor(/SLUICE_FUNCTION_TYPE_ERRORS/);
      const wrote = performance.now();
      writeFileSync(greet, typo(good));
      const shown = await seen;
      result.runsMs.push(round(shown - wrote, 1));
      log(`type-check latency ${i}/${edits}: ${Math.round(shown - wrote)} ms`);
      const restored = waitFor(/same code as the version served/);
      writeFileSync(greet, good);
      await restored;
    }
    result.summary = spread(result.runsMs);
  } catch (e) {
    result.ok = false;
    result.problem = e instanceof Error ? e.message : String(e);
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    rmSync(path.dirname(dir), { recursive: true, force: true });
  }
  return result;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf("--edits");
  const edits = i > 0 ? Number(process.argv[i + 1]) : 10;
  const r = await runTypeCheckLatency(edits, (l) => process.stderr.write(`${l}\n`));
  if (!r.ok) {
    process.stderr.write(`failed: ${r.problem}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ edits: r.edits, summary: r.summary, runsMs: r.runsMs })}\n`);
}
