import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { validateUpstreams, type UpstreamConfigInput } from "../../src/upstream/upstream-config.js";
import { UpstreamRegistry, type UpstreamRegistryOptions } from "../../src/upstream/upstream-registry.js";
import { root } from "./gateway.js";

export interface UpstreamStats {
  /** TCP connections open now, counted by the upstream. */
  connections: number;
  totalConnections: number;
  activeCalls: number;
  cancelledCalls: number;
  totalCalls: number;
  /** Server-streaming messages the upstream has produced. */
  streamedMessages: number;
  /** Per request key (the request's text): when each attempt arrived (ms since epoch). */
  attempts: Record<string, number[]>;
}

export interface UpstreamOptions {
  /** grpc-js (gRPC only) or connect-node (gRPC, gRPC-Web and Connect). */
  impl?: "grpc-js" | "connect";
  host?: string;
  /** 0 (default) picks a free port; give the old port to restart "the same" upstream. */
  port?: number;
  maxConcurrentStreams?: number;
  /** TLS (grpc-js only): certificate and key files, and a CA for client certificates (mutual TLS). */
  cert?: string;
  key?: string;
  clientCa?: string;
  /** Answer every call with UNAVAILABLE. */
  unavailable?: boolean;
  /** (connect) Answer the first PING of a connection with GOAWAY ENHANCE_YOUR_CALM "too_many_pings". */
  policePings?: boolean;
}

export interface UpstreamProcess {
  port: number;
  /** http://host:port, or https:// with TLS. */
  url: string;
  child: ChildProcess;
  stats(): Promise<UpstreamStats>;
  /** Sends GOAWAY on every connection (in-flight calls may finish). */
  goaway(): Promise<UpstreamStats>;
  /** SIGSTOP: the kernel still accepts TCP, nothing answers, not even PING. */
  freeze(): void;
  thaw(): void;
  /** Kills the process (SIGKILL by default) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  output(): string;
}

const script = path.join(root, "test/support/upstream-server.ts");
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of running) c.kill("SIGKILL");
});

/** Starts a backend process for the upstream tests (test/support/upstream-server.ts). */
export async function startUpstream(opts: UpstreamOptions = {}): Promise<UpstreamProcess> {
  const host = opts.host ?? "127.0.0.1";
  const args = { impl: opts.impl ?? "grpc-js", host, port: opts.port ?? 0, ...opts };
  const child = fork(script, [JSON.stringify(args)], { execArgv: ["--import", "tsx"], stdio: ["ignore", "pipe", "pipe", "ipc"] });
  running.add(child);
  let out = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  const exited = once(child, "exit").then(() => running.delete(child));
  const pending = new Map<number, (s: UpstreamStats) => void>();
  let nextId = 1;
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`upstream did not start:\n${out}`));
    }, 30_000);
    child.on("message", (m: { ready?: number; id?: number; stats?: UpstreamStats }) => {
      if (m.ready !== undefined) {
        clearTimeout(timer);
        resolve(m.ready);
      } else if (m.id !== undefined) {
        pending.get(m.id)?.(m.stats!);
        pending.delete(m.id);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`upstream exited:\n${out}`));
    });
  });
  const ask = (cmd: string) =>
    new Promise<UpstreamStats>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, resolve);
      child.send({ id, cmd }, (e) => e && reject(e));
    });
  const scheme = opts.cert ? "https" : "http";
  return {
    port,
    url: `${scheme}://${host}:${port}`,
    child,
    stats: () => ask("stats"),
    goaway: () => ask("goaway"),
    freeze: () => void child.kill("SIGSTOP"),
    thaw: () => void child.kill("SIGCONT"),
    async kill(signal = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGCONT");
        child.kill(signal);
      }
      await exited;
    },
    output: () => out,
  };
}

/** Polls `check` until it returns true (or throws after `ms`): for states that settle asynchronously. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000, what = "condition"): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A registry of upstreams from config-file input, validated as `sluice start` would. */
export function upstreamRegistry(upstreams: Record<string, UpstreamConfigInput>, opts: UpstreamRegistryOptions = {}): UpstreamRegistry {
  const checked = validateUpstreams(upstreams, "test", root);
  if ("errors" in checked) throw new Error(checked.errors.map((e) => e.message).join("\n"));
  return new UpstreamRegistry(checked.upstreams, opts);
}
