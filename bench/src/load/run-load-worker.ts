import { spawn } from "node:child_process";
import { once } from "node:events";
import { compiled } from "../paths.js";
import { killGroup, track } from "../process/children.js";
import type { BidiLoadResult, BidiLoadSpec } from "./bidi-load.js";
import type { WebStreamLoadSpec } from "./grpc-web-stream-load.js";
import type { StreamLoadResult, StreamLoadSpec } from "./stream-load.js";
import type { WsBidiLoadSpec } from "./websocket-bidi-load.js";

type Measured<T> = T & { clientCpuSeconds: number };

export function runLoadWorker(spec: StreamLoadSpec | WebStreamLoadSpec, pin: string[], timeoutMs: number): Promise<Measured<StreamLoadResult>>;
export function runLoadWorker(spec: BidiLoadSpec | WsBidiLoadSpec, pin: string[], timeoutMs: number): Promise<Measured<BidiLoadResult>>;
/**
 * Runs load-worker.js as its own (pinned) process and returns what it
 * measured. A worker still running after `timeoutMs` is killed: a server
 * that stops answering fails the arm instead of hanging the harness.
 */
export async function runLoadWorker(spec: StreamLoadSpec | BidiLoadSpec | WebStreamLoadSpec | WsBidiLoadSpec, pin: string[], timeoutMs: number): Promise<unknown> {
  const command = [...pin, process.execPath, compiled("load/load-worker.js"), JSON.stringify(spec)];
  const child = spawn(command[0]!, command.slice(1), { stdio: ["ignore", "pipe", "pipe"], detached: true });
  track(child);
  let out = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  const timer = setTimeout(() => killGroup(child, "SIGKILL"), timeoutMs);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  const line = out.trim().split("\n").pop() ?? "";
  if (code !== 0 || !line.startsWith("{")) throw new Error(`load worker (${spec.kind}) exited with ${code}:\n${out}`);
  return JSON.parse(line);
}
