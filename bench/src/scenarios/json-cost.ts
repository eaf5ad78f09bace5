// What the Connect JSON codec costs per call: Sluice's encodeJson and
// decodeJson (src/protocol/json/) against what MethodCodec did before with
// @bufbuild/protobuf (checkResponse + create + toJsonString into a Buffer;
// fromJsonString), on the harness's echo message, small and with a 10 KiB
// payload. Runs on its own:
//
//   npm run build && npm run bench:build && node bench/.build/src/scenarios/json-cost.js
//
// Each pair takes turns, round after round, so that a noisy machine slows
// both alike; prints µs per call (median of rounds).
import assert from "node:assert/strict";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { create, fromJsonString, isMessage, toJsonString, type DescMessage, type Message, type MessageShape } from "@bufbuild/protobuf";
import { EchoRequestSchema, EchoResponseSchema } from "../../gen/bench/v1/echo_pb.js";
import { payloads, type PayloadName } from "../echo-messages.js";
import { repoRoot } from "../paths.js";

const dist = (file: string): Promise<unknown> => import(pathToFileURL(path.join(repoRoot, "dist/src", file)).href);
const { encodeJson } = (await dist("protocol/json/json-encoder.js")) as { encodeJson: (desc: DescMessage, value: unknown, headroom: number) => Buffer };
const { decodeJson } = (await dist("protocol/json/json-decoder.js")) as { decodeJson: <Desc extends DescMessage>(desc: Desc, text: string) => MessageShape<Desc> };
const { checkResponse } = (await dist("functions/check-response.js")) as { checkResponse: (desc: DescMessage, value: unknown) => unknown };

const rounds = 15;
/** Calls per round: a round takes some tens of milliseconds either way. */
const callsPerRound: Record<PayloadName, number> = { small: 20_000, "10KiB": 1_000 };

/** MethodCodec's JSON encoding before src/protocol/json/: check, create, toJsonString, copy into the frame. */
function encodeWithProtobufEs(desc: DescMessage, value: unknown, headroom: number): Buffer {
  if (checkResponse(desc, value) !== undefined) throw new Error("bad response");
  const json = toJsonString(desc, isMessage(value, desc) ? value : create(desc, value as never));
  const length = Buffer.byteLength(json, "utf8");
  const out = Buffer.allocUnsafe(headroom + length);
  out.write(json, headroom, length, "utf8");
  return out;
}

const decodeWithProtobufEs = (desc: DescMessage, text: string): Message => fromJsonString(desc, text, { ignoreUnknownFields: true });

function time(calls: number, f: () => unknown): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) f();
  return Number(process.hrtime.bigint() - t0) / calls / 1000;
}

const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function compare(name: string, calls: number, theirs: () => unknown, ours: () => unknown): void {
  for (let i = 0; i < calls * 2; i++) {
    // Warm up: let V8 optimise both.
    theirs();
    ours();
  }
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    a.push(time(calls, theirs));
    b.push(time(calls, ours));
  }
  const t = median(a);
  const o = median(b);
  process.stdout.write(`${name}: protobuf-es ${t.toFixed(2)} µs, Sluice ${o.toFixed(2)} µs (${(t / o).toFixed(1)}x)\n`);
}

process.stdout.write(`Node ${process.versions.node}, ${rounds} rounds, alternating; µs per call (median)\n`);
for (const payload of [payloads.small, payloads["10KiB"]]) {
  const calls = callsPerRound[payload.name];
  const text = payload.json;
  // What the benchmark's echo handler returns: an init object of the request's fields.
  const req = fromJsonString(EchoRequestSchema, text);
  const reply = { id: req.id, text: req.text, timestampMs: req.timestampMs, score: req.score, tags: req.tags, payload: req.payload };
  assert.equal(encodeJson(EchoResponseSchema, reply, 5).subarray(5).toString(), toJsonString(EchoResponseSchema, create(EchoResponseSchema, reply)));
  assert.deepStrictEqual(toJsonString(EchoRequestSchema, decodeJson(EchoRequestSchema, text)), text);
  const bytes = `${Buffer.byteLength(text)} bytes of JSON`;
  compare(`encode EchoResponse (${payload.name}, ${bytes})`, calls, () => encodeWithProtobufEs(EchoResponseSchema, reply, 5), () => encodeJson(EchoResponseSchema, reply, 5));
  compare(`decode EchoRequest (${payload.name}, ${bytes})`, calls, () => decodeWithProtobufEs(EchoRequestSchema, text), () => decodeJson(EchoRequestSchema, text));
}
