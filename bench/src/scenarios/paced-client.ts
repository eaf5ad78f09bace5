import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { echoBidiPath, sluiceArgv } from "../arms/arm-catalog.js";
import { payloads } from "../echo-messages.js";
import { connectLean, openGrpcCall } from "../load/grpc-call.js";
import { buildDir } from "../paths.js";
import { killAll, killChildrenOnExit } from "../process/children.js";
import { planCores, type CorePlan } from "../process/cpu-pinning.js";
import { startServer } from "../process/server-process.js";
import { lookupTools } from "../process/tools.js";
import { round } from "./bench-context.js";

/**
 * A client that sends faster than the route's messagesPerSecond: one
 * EchoBidi stream, `messages` requests written as fast as the stream takes
 * them, against a gateway whose config limits EchoBidi to `perSecond`
 * requests per second. It must be slowed down (HTTP/2 flow control holds
 * its writes back), not cut off, and lose nothing: every request echoed, in
 * order, status 0. The same client against a gateway without the limit
 * gives the pace it would have had.
 */
export interface PacedClientResult {
  perSecond: number;
  messages: number;
  /** Requests per second the client achieved (after the first second's burst). */
  achievedPerSecond: number;
  /** The same client against an unlimited gateway. */
  unlimitedPerSecond: number;
  /** Time the client's writes spent waiting for the stream to take more. */
  writeWaitMs: number;
  echoed: number;
  inOrder: boolean;
  status: string;
  problems: string[];
}

export async function runPacedClient(perSecond: number, messages: number, cores: CorePlan): Promise<PacedClientResult> {
  const dir = path.join(buildDir, "tmp", `paced-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const config = path.join(dir, "sluice.config.json");
  writeFileSync(config, JSON.stringify({ limits: { "bench.v1.EchoService/EchoBidi": { messagesPerSecond: { in: perSecond } } } }));
  const problems: string[] = [];
  try {
    const unlimited = await startServer("sluice (unlimited)", sluiceArgv(), { pin: cores.server });
    let free: Run;
    try {
      free = await sendAll(unlimited.url, messages);
    } finally {
      await unlimited.stop();
    }
    const limited = await startServer("sluice (messagesPerSecond)", [...sluiceArgv(), "--config", config], { pin: cores.server });
    let paced: Run;
    try {
      paced = await sendAll(limited.url, messages, Math.min(perSecond, messages));
    } finally {
      await limited.stop();
    }
    if (free.status !== "0" || free.echoed !== messages) problems.push(`the unlimited run did not complete (status ${free.status}, ${free.echoed} echoes)`);
    if (paced.status !== "0") problems.push(`the paced stream ended with grpc-status ${paced.status}`);
    if (paced.echoed !== messages) problems.push(`${messages - paced.echoed} of ${messages} requests were lost`);
    if (!paced.inOrder) problems.push("echoes came back out of order");
    // After the burst of one second's worth, the rest come at perSecond.
    const afterBurst = messages - Math.min(perSecond, messages);
    const achieved = afterBurst / Math.max(0.001, (paced.lastEchoMs - paced.burstMs) / 1000);
    return {
      perSecond,
      messages,
      achievedPerSecond: round(achieved, 1),
      unlimitedPerSecond: round(messages / (free.ms / 1000), 0),
      writeWaitMs: round(paced.writeWaitMs, 0),
      echoed: paced.echoed,
      inOrder: paced.inOrder,
      status: paced.status,
      problems,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Run {
  ms: number;
  /** When the echo of the last request of the first second's burst arrived, and of the last request. */
  burstMs: number;
  lastEchoMs: number;
  writeWaitMs: number;
  echoed: number;
  inOrder: boolean;
  status: string;
}

/** Writes `messages` requests as fast as the stream takes them; counts the echoes. */
async function sendAll(url: string, messages: number, burst = 0): Promise<Run> {
  const session = await connectLean(url);
  try {
    const { stream, status } = openGrpcCall(session, echoBidiPath);
    const frame = payloads.small.frame;
    let echoed = 0;
    let pending: Buffer = Buffer.alloc(0);
    let inOrder = true;
    let burstMs = 0;
    let lastEchoMs = 0;
    const started = performance.now();
    stream.on("data", (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
        const len = pending.readUInt32BE(1);
        // The echo is byte for byte the request: anything else is out of order or corrupt.
        if (len !== frame.length - 5) inOrder = false;
        pending = pending.subarray(5 + len);
        echoed++;
        lastEchoMs = performance.now() - started;
        if (echoed === burst) burstMs = lastEchoMs;
      }
    });
    let writeWaitMs = 0;
    for (let i = 0; i < messages; i++) {
      if (!stream.write(frame)) {
        const waitStart = performance.now();
        await new Promise<void>((resolve) => {
          stream.once("drain", resolve);
          stream.once("close", resolve);
        });
        writeWaitMs += performance.now() - waitStart;
        if (stream.closed) break;
      }
    }
    stream.end();
    const s = await status;
    const ms = performance.now() - started;
    return { ms, burstMs, lastEchoMs, writeWaitMs, echoed, inOrder, status: s };
  } finally {
    session.destroy();
  }
}

// Alone: node bench/.build/src/scenarios/paced-client.js [--per-second 200] [--messages 1000]
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name: string, fallback: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1]! : fallback;
  };
  killChildrenOnExit();
  try {
    const r = await runPacedClient(Number(arg("per-second", "200")), Number(arg("messages", "1000")), planCores(lookupTools().taskset));
    process.stdout.write(`${JSON.stringify(r)}\n`);
  } finally {
    killAll();
  }
}
