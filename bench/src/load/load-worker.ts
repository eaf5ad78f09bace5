// A lean load generator process: runs one stream or bidi load described by
// the JSON in argv[2] and prints the result, with its own CPU time, as JSON.
// The harness starts it pinned to the load core, away from the server.
import { runBidiLoad, type BidiLoadSpec } from "./bidi-load.js";
import { runWebStreamLoad, type WebStreamLoadSpec } from "./grpc-web-stream-load.js";
import { runStreamLoad, type StreamLoadSpec } from "./stream-load.js";
import { runWsBidiLoad, type WsBidiLoadSpec } from "./websocket-bidi-load.js";

const spec = JSON.parse(process.argv[2] ?? "{}") as StreamLoadSpec | BidiLoadSpec | WebStreamLoadSpec | WsBidiLoadSpec;
const cpuBefore = process.cpuUsage();
const result =
  spec.kind === "stream" ? await runStreamLoad(spec)
  : spec.kind === "web-stream" ? await runWebStreamLoad(spec)
  : spec.kind === "ws-bidi" ? await runWsBidiLoad(spec)
  : await runBidiLoad(spec);
const cpu = process.cpuUsage(cpuBefore);
process.stdout.write(`${JSON.stringify({ ...result, clientCpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`);
