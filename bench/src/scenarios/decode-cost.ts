// What decoding a request message costs per call: @bufbuild/protobuf's
// fromBinary against Sluice's decodeBinary (src/protocol/protobuf/
// binary-decoder.ts), on the harness's small echo message, its 10 KiB
// variant and a StreamRequest holding the small one. Runs on its own:
//
//   npm run build && npm run bench:build && node bench/.build/src/scenarios/decode-cost.js
//
// The two decoders take turns, round after round, so that a noisy machine
// slows both alike; prints ns per call (median of rounds) for each.
import assert from "node:assert/strict";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { create, fromBinary, toBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import { EchoRequestSchema, StreamRequestSchema } from "../../gen/bench/v1/echo_pb.js";
import { payloads } from "../echo-messages.js";
import { repoRoot } from "../paths.js";

type Decode = (desc: DescMessage, bytes: Uint8Array) => Message;

const rounds = 21;
const callsPerRound = 100_000;

const { decodeBinary } = (await import(pathToFileURL(path.join(repoRoot, "dist/src/protocol/protobuf/binary-decoder.js")).href)) as { decodeBinary: Decode };

const samples: [name: string, desc: DescMessage, bytes: Uint8Array][] = [
  ["EchoRequest (small)", EchoRequestSchema, payloads.small.binary],
  ["EchoRequest (10KiB)", EchoRequestSchema, payloads["10KiB"].binary],
  ["StreamRequest (nested)", StreamRequestSchema, toBinary(StreamRequestSchema, create(StreamRequestSchema, { count: 3, message: payloads.small.message }))],
];

function round(decode: Decode, desc: DescMessage, bytes: Uint8Array): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < callsPerRound; i++) decode(desc, bytes);
  return Number(process.hrtime.bigint() - t0) / callsPerRound;
}

const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

process.stdout.write(`Node ${process.versions.node}, ${rounds} rounds of ${callsPerRound} calls each, alternating\n`);
for (const [name, desc, bytes] of samples) {
  assert.deepStrictEqual(decodeBinary(desc, bytes), fromBinary(desc, bytes));
  for (let i = 0; i < 20_000; i++) {
    // Warm up: let V8 optimise both.
    fromBinary(desc, bytes);
    decodeBinary(desc, bytes);
  }
  const theirs: number[] = [];
  const ours: number[] = [];
  for (let r = 0; r < rounds; r++) {
    theirs.push(round(fromBinary, desc, bytes));
    ours.push(round(decodeBinary, desc, bytes));
  }
  const a = median(theirs);
  const b = median(ours);
  process.stdout.write(`${name}, ${bytes.byteLength} bytes: fromBinary ${a.toFixed(0)} ns, decodeBinary ${b.toFixed(0)} ns (${(a / b).toFixed(2)}x)\n`);
}
