// The JSON decoder must give exactly what @bufbuild/protobuf's
// fromJsonString (with ignoreUnknownFields) gives: the same own keys in the
// same order, the same values of the same types, and for any text
// fromJsonString refuses, a refusal. Random messages of many schemas,
// written by toJsonString and then rewritten in the other forms a client
// may send (proto names, numbers as strings, unpadded or URL-safe base64,
// nulls, unknown keys, whitespace), then damaged texts, then hand-made ones.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createRegistry, fromJsonString, toJsonString, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import * as wkt from "@bufbuild/protobuf/wkt";
import * as echo from "../../bench/gen/bench/v1/echo_pb.js";
import { decodeJson, decodeJsonFast } from "../../src/protocol/json/json-decoder.js";
import * as editions from "../gen/encoding/v1/editions_types_pb.js";
import { LeafSchema, MappingsSchema, TreeSchema } from "../gen/encoding/v1/json_types_pb.js";
import { LegacySchema } from "../gen/encoding/v1/proto2_types_pb.js";
import { NodeSchema, OptionalsSchema, RepeatedSchema, ScalarsSchema, WellKnownSchema } from "../gen/encoding/v1/proto3_types_pb.js";
import { StatusSchema } from "../gen/encoding/v1/status_pb.js";
import { int, pick, randomMessage, rng, type Rand } from "./random-message.js";
import { conformanceMessages, projectSchemas } from "./test-schemas.js";

const conformance = conformanceMessages();
const schemas: DescMessage[] = [...projectSchemas, ...conformance.messages];
const registry = createRegistry(...schemas);

const reference = (desc: DescMessage, text: string): Message => fromJsonString(desc, text, { registry, ignoreUnknownFields: true });

/** Which decoder reads a schema: the fast path, or fromJsonString for every text. */
const fast = (desc: DescMessage): boolean => decodeJsonFast(desc, "{}") !== undefined;

test("the fast path reads the types it is meant for and leaves the others to fromJsonString", () => {
  for (const desc of [echo.EchoRequestSchema, echo.StreamRequestSchema, ScalarsSchema, OptionalsSchema, RepeatedSchema, MappingsSchema, TreeSchema, LeafSchema, editions.LenientSchema, editions.WithPresenceSchema, editions.HoldsPresenceSchema, wkt.EmptySchema]) {
    assert.ok(fast(desc), `${desc.typeName} should be read by the fast path`);
  }
  for (const desc of [NodeSchema, WellKnownSchema, LegacySchema, StatusSchema, wkt.AnySchema, wkt.TimestampSchema, wkt.StructSchema, wkt.ValueSchema, wkt.BoolValueSchema, wkt.FileDescriptorProtoSchema]) {
    assert.ok(!fast(desc), `${desc.typeName} should be left to fromJsonString`);
  }
});

test("the Connect conformance protos are part of the property test", (t) => {
  if (conformance.missing !== undefined) {
    t.skip(conformance.missing);
    return;
  }
  assert.ok(conformance.messages.some((m) => fast(m)));
});

/**
 * Asserts that `actual` is what `expected` is, down to key order,
 * prototypes, -0 and NaN; bytes by content (a Buffer where protobuf-es
 * makes a Uint8Array is the same value).
 */
function assertSame(actual: unknown, expected: unknown, at = "message"): void {
  if (typeof actual !== typeof expected) assert.fail(`${at}: ${typeof actual} instead of ${typeof expected}`);
  if (typeof expected !== "object" || expected === null || actual === null) {
    if (!Object.is(actual, expected)) assert.fail(`${at}: ${String(actual)} instead of ${String(expected)}`);
    return;
  }
  if (expected instanceof Uint8Array) {
    if (!(actual instanceof Uint8Array) || !Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected)) assert.fail(`${at}: bytes [${String(actual)}] instead of [${expected.join()}]`);
    return;
  }
  const a = actual as Record<string, unknown>;
  const e = expected as Record<string, unknown>;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(e)) assert.fail(`${at}: another prototype`);
  const keys = Reflect.ownKeys(a);
  const expectedKeys = Reflect.ownKeys(e);
  if (keys.length !== expectedKeys.length || keys.some((k, i) => k !== expectedKeys[i])) {
    assert.fail(`${at}: own keys ${keys.map(String).join()} instead of ${expectedKeys.map(String).join()} (in this order)`);
  }
  for (const key of keys) assertSame(a[key as string], e[key as string], `${at}.${String(key)}`);
}

/** Both decoders on one text: the same message, or both refuse it; where fromJsonString refuses, the fast path has given up. */
function assertAgree(desc: DescMessage, text: string, context: string): "read" | "refused" {
  let expected: Message | undefined;
  try {
    expected = reference(desc, text);
  } catch {
    assert.equal(decodeJsonFast(desc, text), undefined, `${context}: fromJsonString refuses ${text.slice(0, 300)}, the fast path read it`);
    assert.throws(() => decodeJson(desc, text, registry), `${context}: decodeJson read it`);
    return "refused";
  }
  assertSame(decodeJson(desc, text, registry), expected, `${context}: ${text.slice(0, 300)}`);
  return "read";
}

// --- Texts a client may send ------------------------------------------------

const fieldByJsonName = (desc: DescMessage, key: string): DescField | undefined => desc.fields.find((f) => f.jsonName === key);

function shuffle<T>(r: Rand, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = int(r, i + 1);
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** Another way of writing a scalar's JSON value that protobuf-es reads as the same value. */
function varyScalar(r: Rand, f: DescField, v: unknown): unknown {
  if (r() < 0.5) return v;
  if (f.enum !== undefined) {
    return typeof v === "string" ? (f.enum.values.find((x) => x.name === v)?.number ?? v) : v;
  }
  if (typeof v === "number") return String(v); // any number as its decimal text
  if (typeof v !== "string") return v;
  if (f.scalar === 12 /* BYTES */) return r() < 0.5 ? v.replace(/=+$/, "") : v.replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  if (/^-?\d+$/.test(v) && Number.isSafeInteger(Number(v))) return Number(v); // a 64-bit integer as a number
  return v;
}

function varyValue(r: Rand, f: DescField, v: unknown): unknown {
  // Well-known types have JSON of their own (fromJsonString reads them in any case).
  if (f.message !== undefined && wkt.hasCustomJsonRepresentation(f.message)) return v;
  if (v === null || typeof v !== "object") return varyScalar(r, f, v);
  if (Array.isArray(v)) return v.map((item) => (f.message !== undefined ? varyMessage(r, f.message, item as Record<string, unknown>) : varyScalar(r, f, item)));
  if (f.fieldKind === "map") {
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) setOwn(out, k, f.message !== undefined ? varyMessage(r, f.message, item as Record<string, unknown>) : varyScalar(r, f, item));
    return out;
  }
  return varyMessage(r, f.message!, v as Record<string, unknown>);
}

function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
}

function randomJson(r: Rand, depth: number): unknown {
  switch (int(r, depth > 2 ? 4 : 6)) {
    case 0:
      return null;
    case 1:
      return pick(r, [0, -1.5, 1e300]);
    case 2:
      return pick(r, ["", "x", "ü😀", "quote\"in"]);
    case 3:
      return r() < 0.5;
    case 4:
      return [randomJson(r, depth + 1), randomJson(r, depth + 1)];
    default:
      return { a: randomJson(r, depth + 1), "b:c": randomJson(r, depth + 1) };
  }
}

/**
 * The same message as other JSON: proto names for some keys, other forms
 * of values, null for unset fields, unknown keys, keys in another order.
 */
function varyMessage(r: Rand, desc: DescMessage, json: Record<string, unknown>): Record<string, unknown> {
  const entries: [string, unknown][] = [];
  for (const [key, v] of Object.entries(json)) {
    const f = fieldByJsonName(desc, key);
    if (f === undefined) {
      entries.push([key, v]);
      continue;
    }
    entries.push([r() < 0.3 ? f.name : key, varyValue(r, f, v)]);
  }
  for (const f of desc.fields) {
    // null: unset (a oneof's scalar member is skipped; others would set the oneof).
    if (json[f.jsonName] === undefined && r() < 0.1 && (f.oneof === undefined || f.fieldKind === "scalar")) entries.push([f.jsonName, null]);
  }
  if (r() < 0.2) entries.push([pick(r, ["unknownField", "not_a_field", "[ext.name]"]), randomJson(r, 0)]);
  const out: Record<string, unknown> = {};
  for (const [k, v] of shuffle(r, entries)) setOwn(out, k, v);
  return out;
}

const seed = Number(process.env.JSON_DECODER_SEED ?? 20241202);

function casesFor(desc: DescMessage, n: number): number {
  if (!fast(desc)) return n / 20;
  return desc.typeName.startsWith("google.") || desc.typeName.startsWith("connectrpc.") ? n / 5 : n;
}

/** toJsonString's text for a random message, or undefined when it cannot write it (an Any of an unknown type, a closed enum's unknown value). */
function randomText(r: Rand, desc: DescMessage): string | undefined {
  try {
    const text = toJsonString(desc, randomMessage(r, desc), { registry });
    reference(desc, text);
    return text;
  } catch {
    return undefined;
  }
}

test("random messages of every schema, as toJsonString writes them and as clients may, decode exactly as fromJsonString decodes them; the fast path reads them all", () => {
  const r = rng(seed);
  let read = 0;
  for (const desc of schemas) {
    const isFast = fast(desc);
    for (let i = 0; i < casesFor(desc, 1000); i++) {
      const written = randomText(r, desc);
      if (written === undefined) continue;
      // (Types left to fromJsonString are only read as written: it reads them in any case.)
      const text = i % 2 === 0 || !isFast ? written : JSON.stringify(varyMessage(r, desc, JSON.parse(written) as Record<string, unknown>), null, i % 3 === 0 ? 2 : undefined);
      const context = `seed ${seed}, ${desc.typeName} #${i}: ${text.slice(0, 400)}`;
      const expected = reference(desc, text);
      if (isFast) {
        const actual = decodeJsonFast(desc, text);
        if (actual === undefined) assert.fail(`${context}: the fast path gave up on a text fromJsonString reads`);
        assertSame(actual, expected, context);
        read++;
      }
      assertSame(decodeJson(desc, text, registry), expected, context);
    }
  }
  assert.ok(read > 10_000, `only ${read} texts were read by the fast path`);
});

// --- Damaged texts -------------------------------------------------------------

/** A JSON value that is wrong for a field of this kind, or a right one in an odd form. */
function badValue(r: Rand, f: DescField): unknown {
  const any = [true, {}, [], "", "x", 1.5, -1, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 1e39, "1e39", "1e400", " 1", "1 ", "0x10", "1e2", "1.0", "-0", "+1", "007", "NaN", "Infinity", "\ud800", [null], { a: 1 }];
  switch (f.fieldKind) {
    case "list":
      return pick(r, [...any, [null], [1, "x"], [{}], ["NOT_A_VALUE"], [99], [1.5], ["!!"], [[]]]);
    case "map":
      return pick(r, [...any, { k: null }, { x: 1 }, { "01": 1, "1": 2 }, { "-0": 1, "0": 1 }, { " 1": 1 }, { "1.0": 1 }, { "1e2": 1 }, { "true": 1 }, { "2147483648": 1 }, { "18446744073709551616": 1 }, { "-1": 1 }, { k: "NOT_A_VALUE" }, { k: [] }]);
    default:
      if (f.scalar === 12 /* BYTES */) return pick(r, [...any, "!!!!", "Y", "YQ", "YQ=", "YQ==YQ==", "YQ=Q", "YQ@=", "Y Q = =", "YQ\n==", "-_8", "+/8=", "YR==", "YQ==="]);
      if (f.scalar === 3 || f.scalar === 4 /* INT64, UINT64 */) return pick(r, [...any, "9223372036854775808", "-9223372036854775809", "18446744073709551616", "-1", 2 ** 64, 9007199254740993, " 12", "0x1f"]);
      return pick(r, any);
  }
}

function damage(r: Rand, desc: DescMessage, json: Record<string, unknown>): void {
  const nested = desc.fields.filter((f) => f.fieldKind === "message" && json[f.jsonName] !== null && typeof json[f.jsonName] === "object");
  if (nested.length > 0 && r() < 0.3) {
    const f = pick(r, nested);
    damage(r, f.message!, json[f.jsonName] as Record<string, unknown>);
    return;
  }
  if (desc.fields.length === 0) return;
  const f = pick(r, desc.fields);
  if (f.oneof !== undefined && r() < 0.3) {
    // Two members of one oneof (or one member and a null for another).
    for (const g of f.oneof.fields.slice(0, 2)) setOwn(json, g.jsonName, r() < 0.3 ? null : badValue(r, g));
    return;
  }
  setOwn(json, r() < 0.5 ? f.name : f.jsonName, badValue(r, f));
}

/** Damage to the text itself: a character added, removed or replaced, a key doubled. */
function damageText(r: Rand, text: string): string {
  const at = int(r, text.length + 1);
  switch (int(r, 4)) {
    case 0:
      return text.slice(0, at) + pick(r, ["{", "}", "[", "]", ",", ":", '"', "\\", "0", "-", "e", " ", "\\u0000", "\\ud800", "null"]) + text.slice(at);
    case 1:
      return text.slice(0, at) + text.slice(at + 1 + int(r, 3));
    case 2: {
      // A key written twice in one object.
      const m = /"([^"\\]+)":/.exec(text.slice(at));
      if (m === null) return text;
      const start = at + m.index;
      return `${text.slice(0, start)}"${m[1]}":null,${text.slice(start)}`;
    }
    default:
      return text.slice(0, at) + String.fromCharCode(int(r, 128)) + text.slice(at + 1);
  }
}

/**
 * Both decoders on random texts of every type the fast path reads, each
 * damaged by `damaged`; returns how many were read and refused.
 */
function agreeOnDamaged(seedOffset: number, perSchema: number, damaged: (r: Rand, desc: DescMessage, text: string) => string): { read: number; refused: number } {
  const r = rng(seed + seedOffset);
  const outcomes = { read: 0, refused: 0 };
  for (const desc of schemas) {
    if (!fast(desc)) continue;
    for (let i = 0; i < casesFor(desc, perSchema); i++) {
      const text = randomText(r, desc);
      if (text === undefined) continue;
      outcomes[assertAgree(desc, damaged(r, desc, text), `seed ${seed + seedOffset}, ${desc.typeName} damaged #${i}`)]++;
    }
  }
  return outcomes;
}

test("damaged values: both decoders give the same message, or both refuse the text", () => {
  const { read, refused } = agreeOnDamaged(1, 600, (r, desc, text) => {
    const json = JSON.parse(text) as Record<string, unknown>;
    damage(r, desc, json);
    return JSON.stringify(json);
  });
  assert.ok(refused > 2000 && read > 2000, `read ${read}, refused ${refused}`);
});

test("damaged texts: both decoders give the same message, or both refuse the text", () => {
  const { read, refused } = agreeOnDamaged(2, 400, (r, _desc, text) => {
    for (let n = 1 + int(r, 2); n > 0; n--) text = damageText(r, text);
    return text;
  });
  assert.ok(refused > 1000 && read > 300, `read ${read}, refused ${refused}`);
});

// --- Hand-made texts -----------------------------------------------------------

test("texts protobuf-es refuses are refused: not JSON, not an object, wrong types, out of range, bad base64, two oneof members, duplicate keys", () => {
  const cases: [DescMessage, string][] = [
    [ScalarsSchema, ""],
    [ScalarsSchema, "{"],
    [ScalarsSchema, "null"],
    [ScalarsSchema, "[]"],
    [ScalarsSchema, "1"],
    [ScalarsSchema, '"text"'],
    [ScalarsSchema, '{"fString":1}'],
    [ScalarsSchema, '{"fString":"\\ud800"}'],
    [ScalarsSchema, '{"fBool":"true"}'],
    [ScalarsSchema, '{"fInt32":2147483648}'],
    [ScalarsSchema, '{"fInt32":"-2147483649"}'],
    [ScalarsSchema, '{"fInt32":1.5}'],
    [ScalarsSchema, '{"fUint32":-1}'],
    [ScalarsSchema, '{"fInt64":"9223372036854775808"}'],
    [ScalarsSchema, '{"fUint64":"-1"}'],
    [ScalarsSchema, '{"fInt64":1.5}'],
    [ScalarsSchema, '{"fFloat":1e39}'],
    [ScalarsSchema, '{"fDouble":1e400}'],
    [ScalarsSchema, '{"fDouble":"one"}'],
    [ScalarsSchema, '{"fBytes":"!!!!"}'],
    [ScalarsSchema, '{"fBytes":"Y"}'],
    [ScalarsSchema, '{"fBytes":"YQ=Q"}'],
    [ScalarsSchema, '{"fBytes":"YQ@="}'],
    [ScalarsSchema, '{"fBytes":"YWJj\\u0000"}'],
    [ScalarsSchema, '{"fBytes":1}'],
    [ScalarsSchema, '{"fEnum":1.5}'],
    [ScalarsSchema, '{"fEnum":2147483648}'],
    [ScalarsSchema, '{"fString":"a","f_string":"b"}'],
    [ScalarsSchema, '{"fString":"a","fString":"b"}'],
    [ScalarsSchema, '{"fString":"a","f\\u0053tring":"b"}'],
    [ScalarsSchema, '{"unknown":{"a":1,"a":2}}'],
    [ScalarsSchema, '{"unknown":[{"x":[{"k":1,"k":1}]}]}'],
    [TreeSchema, '{"number":1,"text":"t"}'],
    [TreeSchema, '{"number":1,"color":null}'],
    [TreeSchema, '{"subtree":null,"text":"t"}'],
    [TreeSchema, '{"shadeValue":7}'],
    [TreeSchema, '{"shades":[1,7]}'],
    [TreeSchema, '{"children":[null]}'],
    [TreeSchema, '{"children":{}}'],
    [TreeSchema, '{"left":[]}'],
    [TreeSchema, '{"left":{"left":{"name":"a","name":"b"}}}'],
    [TreeSchema, '{"renamed":1,"otherName":2}'],
    [TreeSchema, '{"shadeById":{"1":null}}'],
    [TreeSchema, '{"shadeById":{"x":1}}'],
    [TreeSchema, '{"shadeById":{"2147483648":1}}'],
    [TreeSchema, '{"shadeById":{"01":1,"1":2}}'],
    [MappingsSchema, '{"stringString":{"a":"x","a":"y"}}'],
    [MappingsSchema, '{"sint64Bool":{"1":true,"01":false}}'],
    [MappingsSchema, '{"boolTree":{"yes":{}}}'],
    [MappingsSchema, '{"uint64String":{"-1":"x"}}'],
    [RepeatedSchema, '{"rInt32":[1,null]}'],
    [RepeatedSchema, '{"rInt32":1}'],
  ];
  for (const [desc, text] of cases) {
    assert.throws(() => reference(desc, text), `the case ${text}: protobuf-es reads it`);
    assert.equal(decodeJsonFast(desc, text), undefined, text);
    assert.throws(() => decodeJson(desc, text, registry), text);
  }
});

test("odd forms protobuf-es reads are read as it reads them", () => {
  const cases: [DescMessage, string][] = [
    [ScalarsSchema, ' \n{ "fInt32" : "1e2", "fUint32": "0x10", "fInt64": " 12 ", "fUint64": "0x1f", "fFloat": "-0", "fDouble": ".5" }\t'],
    [ScalarsSchema, '{"fBytes":"YQ==YQ=="}'],
    [ScalarsSchema, '{"fBytes":"Y Q\\n= ="}'],
    [ScalarsSchema, '{"fBytes":"YR=="}'],
    [ScalarsSchema, '{"fBytes":"Y="}'],
    [ScalarsSchema, '{"fBytes":"-_8="}'],
    [ScalarsSchema, '{"fInt32":-0,"fSint32":"-0","fInt64String":1e3,"fSint64":"-0"}'],
    [ScalarsSchema, '{"fEnum":"NOT_A_VALUE","fString":null,"fInt64":null}'],
    [ScalarsSchema, '{"f\\u0053tring":"escaped key"}'],
    [TreeSchema, '{"number":null,"text":"t","flag":null,"shade":"NOPE"}'],
    [TreeSchema, '{"shades":["SHADE_DARK","NOPE",2],"shadeById":{"1":"NOPE","x":"NOPE","2":"SHADE_LIGHT"}}'],
    [TreeSchema, '{"shadeById":{"-0":1,"1e1":2}}'],
    [TreeSchema, '{"count":null,"label":null,"leaf":null,"left":{"label":"x"},"7":3,"other_name":4}'],
    [MappingsSchema, '{"sint64Bool":{"007":true," 5":false},"sfixed32Uint64":{"1":1e3}}'],
    [MappingsSchema, '{"stringString":{"__proto__":"p","constructor":"c"}}'],
  ];
  for (const [desc, text] of cases) {
    const expected = reference(desc, text);
    assertSame(decodeJson(desc, text, registry), expected, text);
    const read = decodeJsonFast(desc, text);
    if (read !== undefined) assertSame(read, expected, `fast path: ${text}`);
  }
  // What clients send most: read by the fast path.
  for (const [desc, text] of [
    [ScalarsSchema, '{"fBytes":"YWI","fInt64":12,"f_int32":"-7","fDouble":"NaN","fFloat":"-Infinity"}'],
    [ScalarsSchema, '{"fBytes":"-_8"}'],
    [TreeSchema, '{"number":null,"text":"t","shade":"NOPE","shades":["SHADE_DARK","NOPE",2]}'],
    [MappingsSchema, '{"stringString":{"__proto__":"p"},"sint32Sint64":{"-5":"6"},"boolTree":{"true":{}}}'],
  ] as const) {
    const read = decodeJsonFast(desc, text);
    if (read === undefined) assert.fail(`the fast path gave up on ${text}`);
    assertSame(read, reference(desc, text), text);
  }
});

test("nesting deeper than protobuf-es's limit of 100 is refused; 100 levels are read", () => {
  const nested = (levels: number): string => '{"left":'.repeat(levels - 1) + "{}" + "}".repeat(levels - 1);
  const ok = nested(100);
  assert.ok(decodeJsonFast(TreeSchema, ok) !== undefined);
  assertSame(decodeJson(TreeSchema, ok, registry), reference(TreeSchema, ok));
  const deep = nested(101);
  assert.equal(decodeJsonFast(TreeSchema, deep), undefined);
  assert.throws(() => decodeJson(TreeSchema, deep, registry), /maximum recursion depth of 100 reached/);
  // Deep unknown values are not messages: no limit but JSON.parse's.
  const deepUnknown = `{"unknown":${"[".repeat(500)}${"]".repeat(500)}}`;
  assertSame(decodeJsonFast(TreeSchema, deepUnknown), reference(TreeSchema, deepUnknown));
});

test("no two messages share a list, map or oneof object; a new message's bytes are its own", () => {
  const a = decodeJsonFast(TreeSchema, "{}")!;
  const b = decodeJsonFast(TreeSchema, '{"children":[{}]}')!;
  assert.notEqual(a.children, b.children);
  assert.notEqual(a.choice, b.choice);
  a.children.push(b);
  assert.equal(decodeJsonFast(TreeSchema, "{}")!.children.length, 0);
  const m = decodeJsonFast(MappingsSchema, "{}")!;
  m.stringString.k = "v";
  assert.deepEqual(decodeJsonFast(MappingsSchema, "{}")!.stringString, {});
});

test("the benchmark's messages, small and with a 10 KiB payload, and errors in MethodCodec's words", () => {
  const r = rng(seed + 3);
  for (const size of [0, 10 * 1024]) {
    const text = toJsonString(echo.EchoRequestSchema, { $typeName: "bench.v1.EchoRequest", id: "req-0000042", text: "hello", timestampMs: 1_700_000_000_000n, score: 0.75, tags: ["alpha"], payload: new Uint8Array(size).map(() => int(r, 256)) });
    const read = decodeJsonFast(echo.EchoRequestSchema, text);
    if (read === undefined) assert.fail("the fast path gave up on the benchmark's message");
    assertSame(read, reference(echo.EchoRequestSchema, text));
  }
  // An error is protobuf-es's own.
  assert.throws(() => decodeJson(echo.EchoRequestSchema, '{"payload":"!!"}', registry), /cannot decode field bench\.v1\.EchoRequest\.payload from JSON: invalid base64 string/);
  assert.throws(() => decodeJson(echo.EchoRequestSchema, '{"id":"a","id":"b"}', registry), /duplicate object key "id"/);
});
