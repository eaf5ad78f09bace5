// MethodCodec's JSON path: requests read by the JSON decoder with
// protobuf-es's errors as INVALID_ARGUMENT, responses written by the JSON
// encoder with misfits as BadResponse (worded by checkResponse), for types
// the codec writes itself and for those it leaves to protobuf-es alike.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, createRegistry, toJsonString, type DescMessage, type DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { EchoRequestSchema, EchoResponseSchema } from "../../bench/gen/bench/v1/echo_pb.js";
import { BadResponse, MethodCodec } from "../../src/rpc/method-codec.js";
import { TreeSchema } from "../gen/encoding/v1/json_types_pb.js";
import { WellKnownSchema } from "../gen/encoding/v1/proto3_types_pb.js";

const registry = createRegistry(EchoRequestSchema, EchoResponseSchema, TreeSchema, WellKnownSchema);

/** A codec for a method with these input and output types (all MethodCodec reads of a method). */
const codecFor = (input: DescMessage, output: DescMessage, writeMaxBytes = 1 << 20): MethodCodec => new MethodCodec({ input, output } as DescMethod, writeMaxBytes, registry);

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

test("a JSON request is read; a malformed one is INVALID_ARGUMENT with protobuf-es's words", () => {
  const codec = codecFor(EchoRequestSchema, EchoResponseSchema);
  const req = codec.parse(utf8('{"id":"a","timestampMs":"5","payload":"AQI="}'), false);
  assert.equal(toJsonString(EchoRequestSchema, req as never), '{"id":"a","timestampMs":"5","payload":"AQI="}');
  for (const [text, words] of [
    ['{"payload":"!!"}', /cannot decode field bench\.v1\.EchoRequest\.payload from JSON: invalid base64 string/],
    ['{"id":"a","id":"b"}', /duplicate object key "id"/],
    ["[1]", /cannot decode message bench\.v1\.EchoRequest from JSON: Array\(1\)/],
    ["{", /cannot decode message bench\.v1\.EchoRequest from JSON/],
  ] as const) {
    assert.throws(() => codec.parse(utf8(text), false), (e: unknown) => e instanceof ConnectError && e.code === Code.InvalidArgument && words.test(e.rawMessage), text);
  }
  // Types left to protobuf-es too.
  const wkt = codecFor(WellKnownSchema, WellKnownSchema);
  assert.throws(() => wkt.parse(utf8('{"time":"yesterday"}'), false), (e: unknown) => e instanceof ConnectError && e.code === Code.InvalidArgument && /invalid RFC 3339 string/.test(e.rawMessage));
  assert.equal((wkt.parse(utf8('{"wInt32":5}'), false) as { wInt32?: number }).wInt32, 5);
});

test("a response is written after `headroom` bytes, as toJsonString writes it", () => {
  const init = { id: "x", tags: ["a"], payload: new Uint8Array([1, 2]) };
  const out = codecFor(EchoRequestSchema, EchoResponseSchema).encode(init, false, 5);
  assert.equal(out.subarray(5).toString(), toJsonString(EchoResponseSchema, create(EchoResponseSchema, init)));
  const wkt = { wString: "s", time: { seconds: 1n } };
  assert.equal(codecFor(WellKnownSchema, WellKnownSchema).encode(wkt, false, 5).subarray(5).toString(), toJsonString(WellKnownSchema, create(WellKnownSchema, wkt)));
});

test("a response that does not fit is a BadResponse with checkResponse's path and words, for either encoder", () => {
  const cases: [DescMessage, unknown, string, RegExp][] = [
    [EchoResponseSchema, { id: 5 }, "id", /expected a string, got the number 5/],
    [EchoResponseSchema, { idd: "x" }, "idd", /has no field "idd"; did you mean "id"\?/],
    [TreeSchema, { left: { children: [{ name: null }] } }, "left.children[0].name", /null is not a value/],
    [TreeSchema, { choice: { case: "text", value: 1 } }, "choice.text", /expected a string/],
    [WellKnownSchema, { wString: 5 }, "wString", /expected a string/],
    [WellKnownSchema, "text", "", /expected a encoding\.v1\.WellKnown message/],
  ];
  for (const [desc, value, path, problem] of cases) {
    assert.throws(
      () => codecFor(desc, desc).encode(value, false, 0),
      (e: unknown) => e instanceof BadResponse && e.path === path && problem.test(e.problem),
      `${desc.typeName}: ${JSON.stringify(value)}`,
    );
  }
});

test("a response past writeMaxBytes is RESOURCE_EXHAUSTED", () => {
  const codec = codecFor(EchoRequestSchema, EchoResponseSchema, 100);
  assert.equal(codec.encode({ text: "x".repeat(80) }, false, 5).byteLength, 5 + 91);
  assert.throws(() => codec.encode({ text: "x".repeat(100) }, false, 5), (e: unknown) => e instanceof ConnectError && e.code === Code.ResourceExhausted && /message size 111 is larger than configured writeMaxBytes 100/.test(e.rawMessage));
});
