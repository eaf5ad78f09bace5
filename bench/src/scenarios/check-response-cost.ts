// What checking a handler's response against its schema costs per call
// (src/functions/check-response.ts), on the harness's small echo message:
// as an init object and as a message made with create(). Runs on its own:
//
//   npm run build && npm run bench:build && node bench/.build/src/scenarios/check-response-cost.js
//
// Prints ns per call (median of rounds) and bytes allocated per call.
import path from "node:path";
import { pathToFileURL } from "node:url";
import { create, type DescMessage } from "@bufbuild/protobuf";
import { EchoResponseSchema } from "../../gen/bench/v1/echo_pb.js";
import { repoRoot } from "../paths.js";

type Check = (schema: DescMessage, value: unknown) => unknown;

const rounds = 15;
const callsPerRound = 200_000;

function measure(check: Check, value: unknown): { nsPerCall: number; bytesPerCall: number } {
  const perRound: number[] = [];
  for (let i = 0; i < 20_000; i++) check(EchoResponseSchema, value); // warm up: let V8 optimise it
  let bytes = 0;
  for (let r = 0; r < rounds; r++) {
    const heapBefore = process.memoryUsage().heapUsed;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < callsPerRound; i++) if (check(EchoResponseSchema, value) !== undefined) throw new Error("the sample should be valid");
    const t1 = process.hrtime.bigint();
    // Rough: a GC in the round makes this an underestimate, never an overestimate of a leak.
    bytes = Math.max(bytes, (process.memoryUsage().heapUsed - heapBefore) / callsPerRound);
    perRound.push(Number(t1 - t0) / callsPerRound);
  }
  perRound.sort((a, b) => a - b);
  return { nsPerCall: Math.round(perRound[Math.floor(rounds / 2)]! * 10) / 10, bytesPerCall: Math.max(0, Math.round(bytes * 10) / 10) };
}

const { checkResponse } = (await import(pathToFileURL(path.join(repoRoot, "dist/src/functions/check-response.js")).href)) as { checkResponse: Check };
const init = { id: "req-1", text: "hello, sluice", timestampMs: 1_700_000_000_000n, score: 0.75, tags: ["a", "b", "c"], payload: new Uint8Array(16) };
const samples = { "init object": init, "message (create)": create(EchoResponseSchema, init) };
for (const [name, value] of Object.entries(samples)) {
  const r = measure(checkResponse, value);
  process.stdout.write(`checkResponse(EchoResponse, ${name}): ${r.nsPerCall} ns/call, ~${r.bytesPerCall} bytes allocated/call (Node ${process.versions.node})\n`);
}
