import path from "node:path";
import { sluiceArgv } from "../arms/arm-catalog.js";
import { exchange } from "../load/http2-exchange.js";
import { exampleFunctions } from "../paths.js";
import { startServer } from "../process/server-process.js";
import { spread, type Spread } from "../report/summary.js";
import { round, type BenchContext } from "./bench-context.js";
import { generateFunctions } from "./generate-functions.js";

export interface ColdStartRun {
  /** exec of the start command → the "listening" line. */
  listeningMs: number;
  /** exec → first successful RPC (HTTP 200 with the expected answer). */
  firstRpcMs: number;
}

export interface ColdStartResult {
  functions: string;
  functionCount: number;
  rpc: string;
  runs: ColdStartRun[];
  ok: boolean;
  problem?: string;
  summary?: { listeningMs: Spread; firstRpcMs: Spread };
}

interface Target {
  functions: string;
  functionCount: number;
  dir: string;
  path: string;
  body: string;
  expect: (json: Record<string, unknown>) => boolean;
}

/**
 * Cold start: time from exec of the production start command to the first
 * successful RPC, with the example functions and with generated ones. The
 * first RPC is a Connect JSON call on a fresh h2c connection, sent as soon
 * as the gateway prints its address.
 */
export async function runColdStart(ctx: BenchContext): Promise<ColdStartResult[]> {
  const generated = generateFunctions(path.join(ctx.scratchDir, "cold-functions"), ctx.plan.coldStart.generatedFunctions);
  const targets: Target[] = [
    {
      functions: "examples (functions/)",
      functionCount: 4,
      dir: exampleFunctions,
      path: "/greet.v1.GreetService/Greet",
      body: JSON.stringify({ name: "bench" }),
      expect: (j) => j.greeting === "Hello, bench!",
    },
    {
      functions: `${ctx.plan.coldStart.generatedFunctions} generated`,
      functionCount: ctx.plan.coldStart.generatedFunctions,
      dir: generated.dir,
      path: `/${generated.lastService}/Echo`,
      body: JSON.stringify({ id: "cold", text: "start" }),
      expect: (j) => j.id === "cold" && j.text === "start",
    },
  ];
  const results: ColdStartResult[] = targets.map((t) => ({ functions: t.functions, functionCount: t.functionCount, rpc: t.path, runs: [], ok: true }));
  // Interleaved too: examples, generated, examples, generated ...
  for (let n = 1; n <= ctx.plan.coldStart.runs; n++) {
    for (const [i, t] of targets.entries()) {
      const r = results[i]!;
      try {
        r.runs.push(await coldStartOnce(t, ctx));
        ctx.log(`cold start ${n}/${ctx.plan.coldStart.runs} ${t.functions}: ${Math.round(r.runs.at(-1)!.firstRpcMs)} ms to first RPC`);
      } catch (e) {
        r.ok = false;
        r.problem = e instanceof Error ? e.message : String(e);
        ctx.log(`cold start ${t.functions} FAILED: ${r.problem}`);
      }
    }
  }
  for (const r of results) {
    if (r.runs.length === 0) continue;
    r.summary = { listeningMs: spread(r.runs.map((x) => x.listeningMs)), firstRpcMs: spread(r.runs.map((x) => x.firstRpcMs)) };
  }
  return results;
}

async function coldStartOnce(t: Target, ctx: BenchContext): Promise<ColdStartRun> {
  const gateway = await startServer(`sluice (cold start, ${t.functions})`, sluiceArgv(t.dir), { pin: ctx.cores.server, readyTimeoutMs: 60_000 });
  try {
    const headers = { "content-type": "application/json", "connect-protocol-version": "1" };
    const res = await exchange(gateway.url, t.path, { headers, body: Buffer.from(t.body) });
    const answeredAt = performance.now();
    if (res.status !== 200) throw new Error(`first RPC ${t.path}: HTTP ${res.status}: ${res.body.toString().slice(0, 200)}`);
    if (!t.expect(JSON.parse(res.body.toString()) as Record<string, unknown>)) throw new Error(`first RPC ${t.path}: unexpected answer ${res.body.toString().slice(0, 200)}`);
    return { listeningMs: round(gateway.listeningAt - gateway.spawnedAt, 1), firstRpcMs: round(answeredAt - gateway.spawnedAt, 1) };
  } finally {
    await gateway.stop();
  }
}
