import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { FlowService } from "../gen/flow/v1/flow_pb.js";
import { root, startGateway, type RunningGateway } from "./gateway.js";

/** The flow-limit tests' function (test/fixtures/flow-functions/flow.ts). */
export const flowFunctions = path.join(root, "test/fixtures/flow-functions");

export interface FlowGateway extends RunningGateway {
  /** A client of FlowService over each protocol under test, each on its own connection. */
  clients: Record<FlowProtocol, Client<typeof FlowService>>;
  /** A fresh client on a connection of its own (HTTP/2 for gRPC, HTTP/1.1 for gRPC-Web). */
  client(protocol: FlowProtocol): { flow: Client<typeof FlowService>; close(): void };
  /** Stops the gateway (SIGTERM) and returns its last "shut down" line's limit counters. */
  stopAndCount(): Promise<{ code: number | null; limits: Record<string, number> }>;
}

export type FlowProtocol = "grpc" | "grpc-web";
export const flowProtocols: FlowProtocol[] = ["grpc", "grpc-web"];

export interface FlowGatewayOptions {
  /** More `sluice start` arguments, e.g. `["--set", "admin.port=0"]`. */
  args?: string[];
  /** "none" serves no function files: FlowService then comes from a proxy route in the config (see flow-proxy.ts). */
  functions?: "flow" | "none";
  /** Node flags for the gateway process, e.g. productionNodeFlags. */
  nodeFlags?: readonly string[];
}

/**
 * Starts `sluice start` serving the flow function with a config file holding
 * `config` (written to a scratch folder), e.g. `{ limits: { ... } }`.
 */
export async function startFlowGateway(name: string, config: object, opts: FlowGatewayOptions = {}): Promise<FlowGateway> {
  const { args = [], functions = "flow", nodeFlags = [] } = opts;
  const dir = path.join(root, "test/.tmp", `${name}-${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, "sluice.config.json");
  // A failing test may leave a call open: the drain should not wait 30 s for it.
  writeFileSync(configFile, JSON.stringify({ drainTimeoutMs: 3000, ...config }));
  let functionsDir = flowFunctions;
  if (functions === "none") {
    functionsDir = path.join(dir, "functions");
    mkdirSync(functionsDir);
  }
  const gw = await startGateway({ functionsDir, args: ["--config", configFile, ...args], nodeFlags });
  const managers: Http2SessionManager[] = [];
  const transport = (protocol: FlowProtocol): Transport => {
    if (protocol === "grpc") {
      const sessionManager = new Http2SessionManager(gw.url);
      managers.push(sessionManager);
      return createGrpcTransport({ baseUrl: gw.url, sessionManager });
    }
    return createGrpcWebTransport({ baseUrl: gw.url, httpVersion: "1.1", nodeOptions: { agent: false } as never });
  };
  const clients = { grpc: createClient(FlowService, transport("grpc")), "grpc-web": createClient(FlowService, transport("grpc-web")) };
  const stop = gw.stop;
  return {
    ...gw,
    clients,
    client(protocol) {
      const before = managers.length;
      const flow = createClient(FlowService, transport(protocol));
      const own = managers.slice(before);
      return { flow, close: () => own.forEach((m) => m.abort()) };
    },
    async stop(signal) {
      for (const m of managers) m.abort();
      try {
        return await stop(signal);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    async stopAndCount() {
      // Calls in flight finish during the drain; connections close after.
      const code = await stop();
      for (const m of managers) m.abort();
      rmSync(dir, { recursive: true, force: true });
      return { code, limits: lastLimits(gw.output()) };
    },
  };
}

/** The `limits` counters of the gateway's "shut down" log line. */
function lastLimits(output: string): Record<string, number> {
  for (const line of output.split("\n").reverse()) {
    if (!line.includes('"shut down"')) continue;
    try {
      return (JSON.parse(line) as { limits?: Record<string, number> }).limits ?? {};
    } catch {
      // not JSON
    }
  }
  throw new Error(`no "shut down" line in the gateway's output:\n${output}`);
}

/** Resolves after `ms`. */
export const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 50 ms until it returns true (or throws after `ms`). */
export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const started = performance.now();
  for (;;) {
    if (await check()) return;
    if (performance.now() - started > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await pause(50);
  }
}

/** Chunk messages 1..count for Upload and Echo, `size` bytes of payload each, `gapMs` apart. */
export async function* chunks(count: number, size = 8, gapMs = 0): AsyncIterable<{ sequence: bigint; payload: Uint8Array }> {
  for (let i = 1; i <= count; i++) {
    if (gapMs > 0) await pause(gapMs);
    yield { sequence: BigInt(i), payload: new Uint8Array(size) };
  }
}
