// The JSON encoder must write exactly what @bufbuild/protobuf's toJsonString
// writes (after create() for an init object), for every kind of field, from
// init objects and from messages alike, and must refuse exactly what
// checkResponse refuses (what MethodCodec refused before toJsonString),
// naming the field.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, createRegistry, fromBinary, fromJsonString, toBinary, toJsonString, type DescField, type DescMessage } from "@bufbuild/protobuf";
import * as wkt from "@bufbuild/protobuf/wkt";
import * as echo from "../../bench/gen/bench/v1/echo_pb.js";
import { checkResponse } from "../../src/functions/check-response.js";
import { EncodeError } from "../../src/protocol/encode-error.js";
import { encodeJson, encodesJsonItself } from "../../src/protocol/json/json-encoder.js";
import * as editions from "../gen/encoding/v1/editions_types_pb.js";
import { LeafSchema, MappingsSchema, Shade, TreeSchema } from "../gen/encoding/v1/json_types_pb.js";
import { LegacySchema } from "../gen/encoding/v1/proto2_types_pb.js";
import { Color, MapsSchema, NodeSchema, OptionalsSchema, RepeatedSchema, ScalarsSchema, WellKnownSchema, WithStructSchema } from "../gen/encoding/v1/proto3_types_pb.js";
import * as shapes from "../gen/shapes/v1/shapes_pb.js";
import { encodeRefusal } from "../support/encode-refusal.js";
import { int, pick, randomInit, rng, type Rand } from "./random-message.js";
import { conformanceMessages, projectSchemas } from "./test-schemas.js";

const conformance = conformanceMessages();
const schemas: DescMessage[] = [...projectSchemas, ...conformance.messages];
const registry = createRegistry(...schemas);

/** What MethodCodec wrote before: create() for an init object, then toJsonString. */
function expectedJson(desc: DescMessage, value: unknown): string {
  return toJsonString(desc, create(desc, value as never), { registry });
}

const encoded = (desc: DescMessage, value: unknown, headroom = 0): string => encodeJson(desc, value, headroom, registry).subarray(headroom).toString("utf8");

const show = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? `${x}n` : x instanceof Uint8Array ? `bytes[${x.length}]` : typeof x === "number" && !Number.isFinite(x) ? String(x) : x));

test("the encoder writes the types it is meant for and hands the others to toJsonString", () => {
  for (const desc of [echo.EchoRequestSchema, echo.EchoResponseSchema, echo.StreamRequestSchema, ScalarsSchema, OptionalsSchema, RepeatedSchema, MappingsSchema, TreeSchema, LeafSchema, editions.LenientSchema, editions.WithPresenceSchema, editions.WithDelimitedSchema, editions.WithClosedEnumSchema, editions.HoldsPresenceSchema, shapes.InnerSchema, wkt.EmptySchema]) {
    assert.ok(encodesJsonItself(desc), `${desc.typeName} should be written here`);
  }
  for (const desc of [
    NodeSchema, // a google.protobuf.Int32Value in a oneof: written as the bare number
    MapsSchema, // Node values
    WellKnownSchema,
    WithStructSchema,
    shapes.EverythingSchema,
    LegacySchema, // extension ranges
    wkt.AnySchema,
    wkt.TimestampSchema,
    wkt.DurationSchema,
    wkt.FieldMaskSchema,
    wkt.StructSchema,
    wkt.ValueSchema,
    wkt.ListValueSchema,
    wkt.Int64ValueSchema,
    wkt.FileDescriptorProtoSchema, // holds FileOptions, which has extension ranges
  ]) {
    assert.ok(!encodesJsonItself(desc), `${desc.typeName} should be left to toJsonString`);
  }
});

test("the Connect conformance protos are part of the property test", (t) => {
  if (conformance.missing !== undefined) {
    t.skip(conformance.missing);
    return;
  }
  assert.ok(conformance.messages.some((m) => encodesJsonItself(m)), "some conformance messages have no well-known types");
  assert.ok(conformance.messages.some((m) => !encodesJsonItself(m)), "others hold google.protobuf.Any");
});

const seed = Number(process.env.JSON_ENCODER_SEED ?? 20241201);

/** Cases per schema: fewer for the many well-known and conformance types, fewer still where toJsonString does the work. */
function casesFor(desc: DescMessage, n: number): number {
  if (!encodesJsonItself(desc)) return n / 20;
  return desc.typeName.startsWith("google.") || desc.typeName.startsWith("connectrpc.") ? n / 5 : n;
}

/** toJsonString's text, or its error. */
function attempt(f: () => string): string | Error {
  try {
    return f();
  } catch (e) {
    return e as Error;
  }
}

test("random values of every field kind are written byte for byte like toJsonString, from init objects and from messages", () => {
  const r = rng(seed);
  let written = 0;
  for (const desc of schemas) {
    const cases = casesFor(desc, 600);
    for (let i = 0; i < cases; i++) {
      const init = randomInit(r, desc);
      const context = `seed ${seed}, ${desc.typeName} #${i}: ${show(init)}`;
      const problem = checkResponse(desc, init);
      if (!encodesJsonItself(desc)) {
        // Handed to toJsonString: the same text or the same error.
        if (problem !== undefined) continue;
        const expected = attempt(() => expectedJson(desc, init));
        const actual = attempt(() => encoded(desc, init));
        assert.equal(String(actual), String(expected), context);
        continue;
      }
      if (problem !== undefined) {
        // A closed enum's unknown value, mostly: refused by both.
        assert.throws(() => encodeJson(desc, init), EncodeError, `${context}: checkResponse refuses it (${problem.path}: ${problem.problem})`);
        continue;
      }
      const message = create(desc, init as never);
      const expected = toJsonString(desc, message, { registry });
      assert.equal(encoded(desc, init), expected, `init object, ${context}`);
      assert.equal(encoded(desc, message), expected, `message, ${context}`);
      // Messages as the decoders make them: from the wire and from JSON.
      const fromWire = fromBinary(desc, toBinary(desc, message));
      assert.equal(encoded(desc, fromWire), toJsonString(desc, fromWire, { registry }), `decoded binary, ${context}`);
      const fromJson = fromJsonString(desc, expected, { registry });
      assert.equal(encoded(desc, fromJson), toJsonString(desc, fromJson, { registry }), `decoded JSON, ${context}`);
      written++;
    }
  }
  assert.ok(written > 10_000, `only ${written} messages were written here`);
});

// --- Refusing what does not fit, as checkResponse does ------------------------

/** A value that does not fit a field of this kind, or one that does (undefined, a zero). */
function randomFault(r: Rand, f: DescField): unknown {
  const common = [null, undefined, "text", 1.5, -1, 2 ** 32, 2n ** 64n, true, {}, [], new Uint8Array(1), new Map(), "\ud800", { $typeName: "other.Type" }];
  switch (f.fieldKind) {
    case "list":
      return pick(r, [...common, [null], [undefined], ["x", 1], [{}], [1.5]]);
    case "map":
      return pick(r, [...common, { k: null }, { x: 1 }, { true: 1 }, { "1": "v" }, { "-5": 1n }]);
    default:
      return f.oneof ? pick(r, [...common, { case: "nope", value: 1 }, { case: f.localName }, { value: 1 }, { case: f.localName, value: null }, { case: f.localName, value: 1, extra: 2 }, { case: undefined }]) : pick(r, common);
  }
}

/** Sets `value` at a random field somewhere in `init` (nested messages included). */
function injectFault(r: Rand, desc: DescMessage, init: Record<string, unknown>): void {
  const nested = desc.fields.filter((f) => f.fieldKind === "message" && !f.oneof && init[f.localName] !== undefined && typeof init[f.localName] === "object" && encodesJsonItself(f.message));
  if (nested.length > 0 && r() < 0.3) {
    const f = pick(r, nested);
    injectFault(r, f.message!, init[f.localName] as Record<string, unknown>);
    return;
  }
  if (r() < 0.1) {
    init[pick(r, ["unknownKey", "$unknown", "__proto__x"])] = pick(r, [1, undefined, [], "x"]);
    return;
  }
  const f = pick(r, desc.fields);
  init[f.oneof ? f.oneof.localName : f.localName] = randomFault(r, f);
}

test("a value is refused exactly when checkResponse refuses it, and written like toJsonString otherwise", () => {
  const r = rng(seed + 1);
  let refused = 0;
  for (const desc of schemas) {
    if (!encodesJsonItself(desc) || desc.fields.length === 0) continue;
    for (let i = 0; i < casesFor(desc, 300); i++) {
      const init = randomInit(r, desc);
      injectFault(r, desc, init);
      const context = `seed ${seed + 1}, ${desc.typeName} #${i}: ${show(init)}`;
      const problem = checkResponse(desc, init);
      const actual = attempt(() => encoded(desc, init));
      if (problem !== undefined) {
        assert.ok(actual instanceof EncodeError, `${context}: checkResponse refuses it (${problem.path}: ${problem.problem}), the encoder wrote ${String(actual)}`);
        refused++;
      } else {
        assert.equal(actual, expectedJson(desc, init), context);
      }
    }
  }
  assert.ok(refused > 1000, `only ${refused} faults were refused`);
});

const problem = (desc: DescMessage, value: unknown): EncodeError => encodeRefusal(() => encodeJson(desc, value));

test("values that do not fit the schema are refused with the field path, never coerced", () => {
  const cases: [DescMessage, unknown, string][] = [
    [ScalarsSchema, { fString: 5 }, "fString: expected a string, got number 5"],
    [ScalarsSchema, { fString: null }, "fString: expected a string, got null"],
    [ScalarsSchema, { fInt32: 1.5 }, "fInt32: expected an int32, got number 1.5"],
    [ScalarsSchema, { fUint32: -1 }, "fUint32: expected a uint32, got number -1"],
    [ScalarsSchema, { fInt64: "12" }, "fInt64: expected a 64-bit integer (a bigint, or a safe integer number), got the string \"12\""],
    [ScalarsSchema, { fInt64: 2 ** 60 }, "fInt64: expected a 64-bit integer (a bigint, or a safe integer number), got number 1152921504606847000"],
    [ScalarsSchema, { fUint64: -1n }, "fUint64: -1 is out of range for an unsigned 64-bit integer"],
    [ScalarsSchema, { fInt64String: 12n }, "fInt64String: expected a 64-bit integer as a decimal string (jstype JS_STRING), got bigint 12"],
    [ScalarsSchema, { fFloat: 1e39 }, "fFloat: 1e+39 is out of range for a float"],
    [ScalarsSchema, { fBool: 1 }, "fBool: expected a boolean, got number 1"],
    [ScalarsSchema, { fBytes: [1, 2] }, "fBytes: expected bytes (a Uint8Array), got an array"],
    [ScalarsSchema, { fEnum: "COLOR_RED" }, "fEnum: expected a encoding.v1.Color value (a number), got the string \"COLOR_RED\""],
    [ScalarsSchema, { nope: 1 }, "nope: encoding.v1.Scalars has no field \"nope\""],
    [ScalarsSchema, { $unknown: "x" }, "$unknown: expected the unknown fields to be an array, got the string \"x\""],
    [TreeSchema, { left: { name: 7 } }, "left.name: expected a string, got number 7"],
    [TreeSchema, { children: [{}, { left: { children: [{ name: [] }] } }] }, "children[1].left.children[0].name: expected a string, got an array"],
    [TreeSchema, { left: create(ScalarsSchema) }, "left: expected a encoding.v1.Tree message, got a encoding.v1.Scalars message"],
    [TreeSchema, { choice: { case: "text", value: 3 } }, "choice: expected a string, got number 3"],
    [TreeSchema, { choice: { case: "nothing", value: 3 } }, "choice: oneof case the string \"nothing\" is not a field of choice"],
    [TreeSchema, { choice: { case: "text" } }, "choice.text: oneof case \"text\" has no value"],
    [TreeSchema, { choice: { value: "t" } }, "choice: the oneof has a value but no case"],
    [TreeSchema, { choice: { case: "text", value: "t", extra: 1 } }, "choice: a oneof object has only case and value; \"extra\" is not part of it"],
    [TreeSchema, { shadeValue: 7 }, "shadeValue: 7 is not a value of the closed enum encoding.v1.Shade"],
    [TreeSchema, { leaf: {} }, "leaf.requiredCount: required field is not set"],
    [TreeSchema, { shadeById: { x: Shade.DARK } }, "shadeById[\"x\"]: map key \"x\" is not an integer"],
    [RepeatedSchema, { rString: ["a", 1] }, "rString[1]: expected a string, got number 1"],
    [RepeatedSchema, { rString: ["a", null] }, "rString[1]: list items cannot be null"],
    [RepeatedSchema, { rInt32: "1,2" }, "rInt32: expected an array, got the string \"1,2\""],
    [MappingsSchema, { stringString: { a: 1 } }, "stringString[\"a\"]: expected a string, got number 1"],
    [MappingsSchema, { sint64Bool: { "1": null } }, "sint64Bool[\"1\"]: map values cannot be null"],
    [MappingsSchema, { stringString: new Map([["a", "b"]]) }, "stringString: expected a map (a plain object keyed by string), got an object"],
    [ScalarsSchema, { fString: "lone \ud800 surrogate" }, "fString: the string is not valid Unicode (a lone surrogate); it cannot be sent as UTF-8"],
  ];
  for (const [desc, value, message] of cases) {
    assert.equal(problem(desc, value).message, message);
    // ... and checkResponse, which words it for people, refuses it too.
    assert.notEqual(checkResponse(desc, value), undefined, `checkResponse accepted ${message}`);
  }
  assert.equal(problem(ScalarsSchema, "text").message, ": expected a encoding.v1.Scalars message, got the string \"text\"");
  assert.equal(problem(ScalarsSchema, create(TreeSchema)).path, "");
});

// --- What random values rarely hit ---------------------------------------------

test("implicit presence: zero values are left out, -0 is written as 0, explicit zeros are written", () => {
  assert.equal(encoded(ScalarsSchema, { fString: "", fInt32: -0, fInt64: 0n, fUint64: 0, fBool: false, fBytes: new Uint8Array(0), fEnum: Color.UNSPECIFIED, fInt64String: "-00" }), "{}");
  assert.equal(encoded(ScalarsSchema, { fDouble: -0, fFloat: -0 }), expectedJson(ScalarsSchema, { fDouble: -0, fFloat: -0 }));
  assert.equal(encoded(ScalarsSchema, { fDouble: -0 }), '{"fDouble":0}');
  const zeros = { oDouble: 0, oInt64: 0n, oInt32: 0, oBool: false, oString: "", oBytes: new Uint8Array(0), oEnum: Color.UNSPECIFIED, oSint64: 0 };
  assert.equal(encoded(OptionalsSchema, zeros), expectedJson(OptionalsSchema, zeros));
  assert.equal(encoded(OptionalsSchema, zeros), '{"oDouble":0,"oInt64":"0","oInt32":0,"oBool":false,"oString":"","oBytes":"","oEnum":"COLOR_UNSPECIFIED","oSint64":"0"}');
});

test("explicit presence with defaults (editions): a message's defaults are not written, set fields are", () => {
  const tree = create(TreeSchema, { name: "t", leaf: { requiredCount: 0 } });
  assert.equal(tree.label, "none"); // the default, on the prototype
  assert.equal(encoded(TreeSchema, tree), '{"name":"t","leaf":{"requiredCount":0}}');
  tree.label = "none";
  tree.weight = 10n;
  assert.equal(encoded(TreeSchema, tree), toJsonString(TreeSchema, tree));
  assert.equal(encoded(TreeSchema, tree), '{"name":"t","label":"none","leaf":{"requiredCount":0},"weight":"10"}');
  // A message whose required field only has its default is not complete.
  assert.equal(problem(TreeSchema, create(TreeSchema, { leaf: create(LeafSchema) })).message, "leaf.requiredCount: required field is not set");
});

test("keys: JSON names, array-index names first, map keys as held, escapes as JSON.stringify writes them", () => {
  const init = {
    renamed: 1,
    numbered: 2,
    name: "quote \" backslash \\ newline \n tab \t nul \u0000 \u001f del \u007f line sep \u2028 😀",
    named: { ["__proto__"]: { name: "p" }, "a\"b": {}, "2": {}, "1": {} },
    shadeById: { "-1": Shade.LIGHT, "7": Shade.DARK },
  };
  const text = encoded(TreeSchema, init);
  assert.equal(text, expectedJson(TreeSchema, init));
  assert.ok(text.startsWith('{"7":2,"name":'));
  assert.ok(text.includes('"named":{"1":{},"2":{},"__proto__":{"name":"p"},"a\\"b":{}}'));
  assert.ok(text.endsWith('"otherName":1}'));
});

test("numbers: NaN and the infinities as strings, float32 values as protobuf-es holds them, 64-bit integers as decimal strings", () => {
  const init = {
    fDouble: Number.NaN,
    fFloat: Math.fround(0.1),
    fInt64: -(2n ** 63n),
    fUint64: 2n ** 64n - 1n,
    fSint64: Number.MIN_SAFE_INTEGER,
    fFixed64: 2 ** 53 - 1,
    fInt64String: "007",
  };
  assert.equal(encoded(ScalarsSchema, init), expectedJson(ScalarsSchema, init));
  assert.equal(encoded(ScalarsSchema, init), '{"fDouble":"NaN","fFloat":0.10000000149011612,"fInt64":"-9223372036854775808","fUint64":"18446744073709551615","fFixed64":"9007199254740991","fSint64":"-9007199254740991","fInt64String":"007"}');
  const lists = { rDouble: [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e21, 5e-324, -0], rFloat: [0.1, 3.4e38] };
  assert.equal(encoded(RepeatedSchema, lists), expectedJson(RepeatedSchema, lists));
});

test("bytes: standard base64 with padding, from Uint8Arrays, Buffers and views into larger buffers", () => {
  const big = new Uint8Array(10 * 1024).map((_, i) => (i * 7) & 0xff);
  for (const bytes of [new Uint8Array([0xfb, 0xff]), Buffer.from([1, 2, 3, 4]), big.subarray(3, 4000), big]) {
    const init = { fBytes: bytes };
    assert.equal(encoded(ScalarsSchema, init), expectedJson(ScalarsSchema, init));
  }
  assert.equal(encoded(ScalarsSchema, { fBytes: new Uint8Array([0xfb, 0xff]) }), '{"fBytes":"+/8="}');
});

test("enums: names, or the number an open enum does not declare", () => {
  const init = { rEnum: [Color.RED, 99, -3, Color.UNSPECIFIED] };
  assert.equal(encoded(RepeatedSchema, init), expectedJson(RepeatedSchema, init));
  assert.equal(encoded(RepeatedSchema, init), '{"rEnum":["COLOR_RED",99,"COLOR_NEGATIVE","COLOR_UNSPECIFIED"]}');
});

test("headroom: the envelope header's bytes are left in front of the message", () => {
  const init = { id: "x", timestampMs: 5n };
  const out = encodeJson(echo.EchoRequestSchema, init, 5);
  assert.equal(out.byteLength, 5 + Buffer.byteLength(expectedJson(echo.EchoRequestSchema, init)));
  assert.equal(out.subarray(5).toString(), expectedJson(echo.EchoRequestSchema, init));
  // Also for a type left to toJsonString.
  assert.equal(encoded(NodeSchema, { choice: { case: "boxed", value: { value: 3 } } }, 5), '{"boxed":3}');
});

test("the benchmark's messages, small and with a 10 KiB payload", () => {
  const r = rng(seed + 2);
  for (const size of [0, 10 * 1024]) {
    const init = { id: "req-0000042", text: "hello from the sluice benchmark", timestampMs: 1_700_000_000_000n, score: 0.75, tags: ["alpha", "beta", "gamma"], payload: new Uint8Array(size).map(() => int(r, 256)) };
    assert.equal(encoded(echo.EchoResponseSchema, init), expectedJson(echo.EchoResponseSchema, init));
    assert.equal(encoded(echo.EchoRequestSchema, create(echo.EchoRequestSchema, init)), expectedJson(echo.EchoRequestSchema, init));
  }
});
