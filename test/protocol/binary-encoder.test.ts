// The binary encoder must write exactly what @bufbuild/protobuf's toBinary
// writes, for every kind of field, from plain init objects and from
// messages alike, and must refuse values that do not fit the schema,
// naming the field.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, ScalarType, toBinary, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { checkResponse } from "../../src/functions/check-response.js";
import { EncodeError } from "../../src/protocol/encode-error.js";
import { encodeBinary } from "../../src/protocol/protobuf/binary-encoder.js";
import { LegacySchema } from "../gen/encoding/v1/proto2_types_pb.js";
import { MapsSchema, NodeSchema, OptionalsSchema, RepeatedSchema, ScalarsSchema, WellKnownSchema, WithStructSchema } from "../gen/encoding/v1/proto3_types_pb.js";
import { encodeRefusal } from "../support/encode-refusal.js";

/** A small deterministic PRNG, so that a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

const strings = ["", "a", "hello world", "ünïcödé", "日本語のテキスト", "emoji 😀 pair", "x".repeat(15), "y".repeat(16), "x".repeat(63), "y".repeat(64), "z€".repeat(200)];

function randomScalar(r: Rand, type: ScalarType, longAsString = false): unknown {
  switch (type) {
    case ScalarType.DOUBLE:
      return pick(r, [0, -0, 1.5, -2.25, 1e300, Number.NaN, Number.POSITIVE_INFINITY, Number.MIN_VALUE, r() * 1000]);
    case ScalarType.FLOAT:
      return pick(r, [0, 1.5, -3.25, 3.4e38, Number.NEGATIVE_INFINITY, Number.NaN, Math.fround(r() * 10)]);
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return pick(r, [0, 1, -1, 127, 128, 300, -300, 2147483647, -2147483648, Math.floor(r() * 1e6) - 5e5]);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return pick(r, [0, 1, 127, 128, 16384, 4294967295, Math.floor(r() * 4e9)]);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64: {
      const v = pick(r, [0n, 1n, -1n, 127n, 128n, 9007199254740991n, 9007199254740993n, -9007199254740993n, 9223372036854775807n, -9223372036854775808n, BigInt(Math.floor(r() * 1e9))]);
      return longAsString ? v.toString() : v;
    }
    case ScalarType.UINT64:
    case ScalarType.FIXED64: {
      const v = pick(r, [0n, 1n, 127n, 4294967296n, 9007199254740993n, 18446744073709551615n, BigInt(Math.floor(r() * 1e9))]);
      return longAsString ? v.toString() : v;
    }
    case ScalarType.BOOL:
      return r() < 0.5;
    case ScalarType.STRING:
      return pick(r, strings);
    case ScalarType.BYTES:
      return pick(r, [new Uint8Array(), new Uint8Array([0, 1, 255]), new Uint8Array(200).fill(7)]);
  }
}

function randomMapKey(r: Rand, type: ScalarType): string {
  switch (type) {
    case ScalarType.STRING:
      return pick(r, ["", "k", "key two", "ü"]);
    case ScalarType.BOOL:
      return pick(r, ["true", "false"]);
    default:
      return String(randomScalar(r, type)).replace(/n$/, "");
  }
}

function randomEnum(r: Rand, field: DescField & { enum: { values: { number: number }[] } }): number {
  return pick(r, field.enum.values).number;
}

function randomJson(r: Rand, depth: number): unknown {
  const kind = Math.floor(r() * (depth > 2 ? 4 : 6));
  switch (kind) {
    case 0:
      return null;
    case 1:
      return r() * 100;
    case 2:
      return pick(r, strings);
    case 3:
      return r() < 0.5;
    case 4:
      return [randomJson(r, depth + 1), randomJson(r, depth + 1)];
    default:
      return { a: randomJson(r, depth + 1), b: randomJson(r, depth + 1) };
  }
}

/** A random init object for `desc`: fields present or not, every kind of value. */
function randomInit(r: Rand, desc: DescMessage, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const oneof of desc.oneofs) {
    if (r() < 0.3) continue;
    const field = pick(r, oneof.fields);
    out[oneof.localName] = { case: field.localName, value: randomValue(r, field, depth) };
  }
  for (const f of desc.fields) {
    if (f.oneof || r() < 0.35) continue;
    if (f.fieldKind === "message" && depth > 2) continue;
    out[f.localName] = randomValue(r, f, depth);
  }
  if (desc.typeName === "encoding.v1.Legacy" && out.id === undefined) out.id = "required";
  return out;
}

function randomValue(r: Rand, f: DescField, depth: number): unknown {
  switch (f.fieldKind) {
    case "scalar":
      return randomScalar(r, f.scalar, f.longAsString);
    case "enum":
      return randomEnum(r, f);
    case "message":
      return randomMessageValue(r, f, f.message, depth, !f.oneof);
    case "list": {
      const n = Math.floor(r() * 4);
      const items: unknown[] = [];
      for (let i = 0; i < n; i++) {
        if (f.listKind === "scalar") items.push(randomScalar(r, f.scalar, f.longAsString));
        else if (f.listKind === "enum") items.push(randomEnum(r, f));
        else if (depth < 3) items.push(randomMessageValue(r, f, f.message, depth, false));
      }
      return items;
    }
    case "map": {
      const n = Math.floor(r() * 3);
      const rec: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const key = randomMapKey(r, f.mapKey);
        if (f.mapKind === "scalar") rec[key] = randomScalar(r, f.scalar);
        else if (f.mapKind === "enum") rec[key] = randomEnum(r, f);
        else rec[key] = depth < 3 ? randomInit(r, f.message, depth + 1) : {};
      }
      return rec;
    }
  }
}

const wrapperScalar: Record<string, ScalarType> = {
  "google.protobuf.DoubleValue": ScalarType.DOUBLE,
  "google.protobuf.FloatValue": ScalarType.FLOAT,
  "google.protobuf.Int64Value": ScalarType.INT64,
  "google.protobuf.UInt64Value": ScalarType.UINT64,
  "google.protobuf.Int32Value": ScalarType.INT32,
  "google.protobuf.UInt32Value": ScalarType.UINT32,
  "google.protobuf.BoolValue": ScalarType.BOOL,
  "google.protobuf.StringValue": ScalarType.STRING,
  "google.protobuf.BytesValue": ScalarType.BYTES,
};

function randomMessageValue(r: Rand, f: DescField, m: DescMessage, depth: number, unboxWrapper: boolean): unknown {
  const wrapped = wrapperScalar[m.typeName];
  if (wrapped !== undefined && unboxWrapper && f.fieldKind === "message") return randomScalar(r, wrapped);
  if (m.typeName === "google.protobuf.Struct" && f.parent.typeName !== "google.protobuf.Value") return { x: randomJson(r, 0), y: randomJson(r, 0) };
  if (m.typeName === "google.protobuf.Any") return { typeUrl: "type.googleapis.com/encoding.v1.Scalars", value: new Uint8Array([8, 1]) };
  if (m.typeName === "google.protobuf.Value") return { kind: pick(r, [{ case: "numberValue", value: 1.5 }, { case: "stringValue", value: "s" }, { case: "boolValue", value: true }, { case: undefined }]) };
  if (m.typeName === "google.protobuf.ListValue") return { values: [{ kind: { case: "nullValue", value: 0 } }] };
  return randomInit(r, m, depth + 1);
}

const schemas: DescMessage[] = [ScalarsSchema, OptionalsSchema, RepeatedSchema, MapsSchema, NodeSchema, WellKnownSchema, WithStructSchema, LegacySchema];

test("random values of every field kind encode byte for byte like toBinary, from init objects and from messages", () => {
  const seed = Number(process.env.ENCODER_SEED ?? Date.now() % 1_000_000);
  const r = rng(seed);
  for (const desc of schemas) {
    for (let i = 0; i < 400; i++) {
      const init = randomInit(r, desc);
      const message = create(desc, init as never);
      const expected = Buffer.from(toBinary(desc, message));
      const context = `seed ${seed}, ${desc.typeName} #${i}: ${JSON.stringify(init, (_k, v) => (typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? [...v] : v))}`;
      assert.deepEqual(encodeBinary(desc, init), expected, `init object, ${context}`);
      assert.deepEqual(encodeBinary(desc, message), expected, `message, ${context}`);
      assert.deepEqual(encodeBinary(desc, fromBinary(desc, expected)), expected, `decoded message, ${context}`);
      // The checker that words errors for people must accept what the encoder accepts.
      assert.equal(checkResponse(desc, init), undefined, `checkResponse, ${context}`);
    }
  }
});

test("headroom: the envelope header's bytes are left in front of the message", () => {
  const init = { fString: "hi", fInt32: 3 };
  const out = encodeBinary(ScalarsSchema, init, 5);
  assert.deepEqual(out.subarray(5), Buffer.from(toBinary(ScalarsSchema, create(ScalarsSchema, init))));
});

test("unknown fields and extensions a message carries are written back", () => {
  const withUnknown = fromBinary(ScalarsSchema, new Uint8Array([0x28, 0x05, 0xf8, 0x0f, 0x2a, 0x9a, 0x10, 0x02, 0x68, 0x69]));
  assert.deepEqual(encodeBinary(ScalarsSchema, withUnknown), Buffer.from(toBinary(ScalarsSchema, withUnknown)));
});

const problem = (desc: DescMessage, value: unknown): EncodeError => encodeRefusal(() => encodeBinary(desc, value));

test("values that do not fit the schema are refused with the field path, never coerced", () => {
  const cases: [DescMessage, unknown, string][] = [
    [ScalarsSchema, { fString: 5 }, "fString: expected a string, got number 5"],
    [ScalarsSchema, { fString: {} }, "fString: expected a string, got an object"],
    [ScalarsSchema, { fInt32: 1.5 }, "fInt32: expected an int32, got number 1.5"],
    [ScalarsSchema, { fInt32: 2 ** 31 }, "fInt32: expected an int32, got number 2147483648"],
    [ScalarsSchema, { fInt64: "12" }, "fInt64: expected a 64-bit integer (bigint), got the string \"12\""],
    [ScalarsSchema, { fUint64: -1n }, "fUint64: -1 is out of range for a unsigned 64-bit integer"],
    [ScalarsSchema, { fBool: 1 }, "fBool: expected a boolean, got number 1"],
    [ScalarsSchema, { fBytes: "abc" }, "fBytes: expected bytes (a Uint8Array), got the string \"abc\""],
    [ScalarsSchema, { fEnum: "COLOR_RED" }, "fEnum: expected an enum value (a number), got the string \"COLOR_RED\""],
    [ScalarsSchema, { nope: 1 }, "nope: encoding.v1.Scalars has no field \"nope\""],
    [NodeSchema, { child: { name: 7 } }, "child.name: expected a string, got number 7"],
    [NodeSchema, { children: [{}, { child: { children: [{ name: [] }] } }] }, "children[1].child.children[0].name: expected a string, got an array"],
    [NodeSchema, { child: create(ScalarsSchema) }, "child: expected a encoding.v1.Node message, got a encoding.v1.Scalars message"],
    [NodeSchema, { choice: { case: "text", value: 3 } }, "choice: expected a string, got number 3"],
    [NodeSchema, { choice: { case: "nothing", value: 3 } }, "choice: oneof case the string \"nothing\" is not a field of choice"],
    [RepeatedSchema, { rString: ["a", 1] }, "rString[1]: expected a string, got number 1"],
    [RepeatedSchema, { rInt32: "1,2" }, "rInt32: expected an array, got the string \"1,2\""],
    [MapsSchema, { stringString: { a: 1 } }, "stringString[\"a\"]: expected a string, got number 1"],
    [MapsSchema, { int32Int64: { x: 1n } }, "int32Int64[\"x\"]: map key \"x\" is not an integer"],
    [WellKnownSchema, { wString: { value: "boxed" } }, "wString: expected a string, got an object"],
    [LegacySchema, {}, "id: required field is not set"],
    [LegacySchema, { id: "x", level: 7 }, "level: 7 is not a value of the closed enum"],
    [ScalarsSchema, { fString: "lone \ud800 surrogate" }, "fString: the string is not valid Unicode (a lone surrogate); it cannot be sent as UTF-8"],
    [ScalarsSchema, { fString: `${"long ".repeat(10)}\udc00` }, "fString: the string is not valid Unicode (a lone surrogate); it cannot be sent as UTF-8"],
    [MapsSchema, { stringString: new Map([["a", "b"]]) }, "stringString: expected a map (a plain object keyed by string), got an object"],
    [NodeSchema, { choice: { case: "text", value: "t", extra: 1 } }, "choice: a oneof object has only case and value; \"extra\" is not part of it"],
  ];
  for (const [desc, value, message] of cases) {
    assert.equal(problem(desc, value).message, message);
    // ... and refuse what it refuses.
    assert.notEqual(checkResponse(desc, value), undefined, `checkResponse accepted ${message}`);
  }
});

test("an unknown key whose value is undefined sends nothing and is not an error", () => {
  assert.deepEqual(encodeBinary(ScalarsSchema, { fString: "a", later: undefined }), Buffer.from(toBinary(ScalarsSchema, create(ScalarsSchema, { fString: "a" }))));
});

test("a value that is not a message at all is refused at the top", () => {
  assert.equal(problem(ScalarsSchema, "text").message, ": expected a encoding.v1.Scalars message, got the string \"text\"");
  assert.equal(problem(ScalarsSchema, create(NodeSchema)).path, "");
});
