// The "server under test" command that connectconformance runs once per
// server configuration. It reads one size-prefixed ServerCompatRequest from
// stdin, starts the real gateway (`node dist/src/cli.js start`, as users
// run it) serving test/conformance/functions/, and writes a size-prefixed
// ServerCompatResponse with the gateway's address to stdout. SIGTERM from the
// runner is passed on to the gateway, which drains and exits; the launcher
// exits with the gateway's code.
//
// One gateway port serves HTTP/1.1 and HTTP/2 side by side (h2c by prior
// knowledge, or ALPN with TLS), so the requested HTTP version needs no
// setting; HTTP/3 is not served and is refused.
//
// With CONFORMANCE_UPSTREAM_PROTOCOL=grpc|connect|grpc-web, the gateway
// serves no function: it proxies ConformanceService (a proxy route) to the
// conformance suite's own reference server, started here over h2c, in that
// protocol. The runner's clients then test the proxy end to end: whatever
// the client protocol, the upstream leg speaks the one chosen.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { HTTPVersion, Protocol } from "./gen/connectrpc/conformance/v1/config_pb.js";
import { findTool } from "../support/tools.js";
import { referenceInstall } from "./generate.js";
import { type ServerCompatRequest, ServerCompatRequestSchema, ServerCompatResponseSchema } from "./gen/connectrpc/conformance/v1/server_compat_pb.js";
import { cli, root } from "../support/gateway.js";

const functionsDir = path.join(root, "test/conformance/functions");

/** A functions folder with nothing in it: the proxy route serves the service. */
function emptyFunctionsDir(dir: string): string {
  const empty = path.join(dir, "functions");
  mkdirSync(empty, { recursive: true });
  return empty;
}
const host = "127.0.0.1";

/** Reads stdin to its end (the runner closes it after the request). */
async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The runner's framing: a 4-byte big-endian length, then the message. */
function unframe(data: Buffer): Uint8Array {
  if (data.length < 4) throw new Error(`expected a size-prefixed ServerCompatRequest on stdin, got ${data.length} bytes`);
  const size = data.readUInt32BE(0);
  if (data.length < 4 + size) throw new Error(`stdin ended after ${data.length - 4} of ${size} bytes`);
  return data.subarray(4, 4 + size);
}

function frame(message: Uint8Array): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(message.byteLength, 0);
  return Buffer.concat([head, message]);
}

/** Gateway flags for the request: the receive limit, and TLS files written to `dir`. */
function gatewayArgs(req: ServerCompatRequest, dir: string): string[] {
  const args = ["start", "--host", host, "--port", "0", "--functions", functionsDir, "--log-level", "warn"];
  if (req.messageReceiveLimit > 0) args.push("--set", `readMaxBytes=${req.messageReceiveLimit}`);
  if (req.useTls) {
    if (!req.serverCreds) throw new Error("use_tls is set but server_creds is missing");
    const file = (name: string, pem: Uint8Array) => {
      const p = path.join(dir, name);
      writeFileSync(p, pem, { mode: 0o600 });
      return p;
    };
    args.push("--tls-cert", file("cert.pem", req.serverCreds.cert), "--tls-key", file("key.pem", req.serverCreds.key));
    if (req.clientTlsCert.byteLength > 0) {
      args.push("--set", `tls.ca=${file("client-ca.pem", req.clientTlsCert)}`, "--set", "tls.requireClientCert=true");
    }
  }
  return args;
}

const upstreamProtocol = process.env.CONFORMANCE_UPSTREAM_PROTOCOL;
const referenceProtocol: Record<string, Protocol> = { grpc: Protocol.GRPC, connect: Protocol.CONNECT, "grpc-web": Protocol.GRPC_WEB };

/**
 * Starts the suite's reference server (connect-go) over h2c, as the
 * upstream of a proxy route, and writes the gateway config that routes
 * ConformanceService to it. Returns the config file.
 */
async function startReferenceUpstream(req: ServerCompatRequest, dir: string, cleanup: (() => void)[]): Promise<string> {
  const protocol = referenceProtocol[upstreamProtocol!];
  if (protocol === undefined) throw new Error(`CONFORMANCE_UPSTREAM_PROTOCOL=${upstreamProtocol}: expected grpc, connect or grpc-web`);
  const tool = findTool("referenceserver", referenceInstall).path!;
  const child = spawn(tool, [], { stdio: ["pipe", "pipe", "inherit"] });
  cleanup.push(() => child.kill("SIGTERM"));
  const upstreamReq = create(ServerCompatRequestSchema, { protocol, httpVersion: HTTPVersion.HTTP_VERSION_2, useTls: false, messageReceiveLimit: req.messageReceiveLimit });
  child.stdin!.end(frame(toBinary(ServerCompatRequestSchema, upstreamReq)));
  const chunks: Buffer[] = [];
  const res = await new Promise<{ host: string; port: number }>((resolve, reject) => {
    child.on("exit", (code) => reject(new Error(`referenceserver exited with ${code} before answering`)));
    child.stdout!.on("data", (c: Buffer) => {
      chunks.push(c);
      const data = Buffer.concat(chunks);
      if (data.length < 4 || data.length < 4 + data.readUInt32BE(0)) return;
      const r = fromBinary(ServerCompatResponseSchema, data.subarray(4, 4 + data.readUInt32BE(0)));
      resolve({ host: r.host || "127.0.0.1", port: r.port });
    });
  });
  const file = path.join(dir, "sluice.config.json");
  writeFileSync(file, JSON.stringify({
    protoGenDir: path.join(root, "test/conformance/gen"),
    upstreams: { reference: { url: `http://${res.host}:${res.port}`, protocol: upstreamProtocol, retry: { maxAttempts: 1 } } },
    routes: { "connectrpc.conformance.v1.ConformanceService": { upstream: "reference" } },
  }));
  return file;
}

async function main(): Promise<number> {
  const req = fromBinary(ServerCompatRequestSchema, unframe(await readStdin()));
  if (req.httpVersion === HTTPVersion.HTTP_VERSION_3) throw new Error("HTTP/3 is not served by Sluice");

  const dir = mkdtempSync(path.join(os.tmpdir(), "sluice-conformance-"));
  const cleanup: (() => void)[] = [];
  const args = gatewayArgs(req, dir);
  if (upstreamProtocol !== undefined) {
    const config = await startReferenceUpstream(req, dir, cleanup);
    args.push("--config", config, "--functions", emptyFunctionsDir(dir));
  }
  // Only the flags decide the gateway's config, not SLUICE_* variables around the test run.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SLUICE_")));
  const gateway = spawn(process.execPath, [cli, ...args], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number>((resolve) => gateway.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0))));
  const stop = () => gateway.kill("SIGTERM");
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);

  // stdout belongs to the runner's protocol. The gateway's start-up banner
  // (routes table, address, on its stderr) is read here; everything it
  // writes afterwards (logs at warn level and up) goes to stderr, which the
  // runner passes through.
  let banner = "";
  let listening = false;
  const onOutput = (chunk: Buffer) => {
    if (listening) {
      process.stderr.write(chunk);
      return;
    }
    banner += chunk.toString();
    const url = /sluice listening on (\S+)/.exec(banner)?.[1];
    if (!url) return;
    listening = true;
    const port = Number(new URL(url).port);
    const res = create(ServerCompatResponseSchema, { host, port, pemCert: req.useTls ? req.serverCreds!.cert : new Uint8Array() });
    process.stdout.write(frame(toBinary(ServerCompatResponseSchema, res)));
  };
  gateway.stdout!.on("data", onOutput);
  gateway.stderr!.on("data", onOutput);
  // If the runner dies without its SIGTERM (killed by a test timeout), this
  // process is handed to another parent: stop the gateway rather than leak it.
  const parent = process.ppid;
  const orphanCheck = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(orphanCheck);
    stop();
  }, 1000).unref();

  const code = await exited;
  for (const c of cleanup) c();
  rmSync(dir, { recursive: true, force: true });
  if (!listening) process.stderr.write(`${banner}\nthe gateway exited with code ${code} before it was listening\n`);
  return code;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`conformance server launcher: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
