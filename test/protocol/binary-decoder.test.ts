// The binary decoder must give exactly what @bufbuild/protobuf's fromBinary
// gives: the same own keys in the same order, the same values of the same
// types, the same $unknown entries, bytes as views of the input, and, on
// input fromBinary refuses, the same error. Random messages of many schemas
// (the tests', the benchmark's, the well-known types, the Connect
// conformance suite's), then hand-made wire data for what random messages
// do not produce.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import * as wkt from "@bufbuild/protobuf/wkt";
import * as echo from "../../bench/gen/bench/v1/echo_pb.js";
import { decodeBinary, decodeFast } from "../../src/protocol/protobuf/binary-decoder.js";
import * as editions from "../gen/encoding/v1/editions_types_pb.js";
import * as proto2 from "../gen/encoding/v1/proto2_types_pb.js";
import * as proto3 from "../gen/encoding/v1/proto3_types_pb.js";
import * as status from "../gen/encoding/v1/status_pb.js";
import * as versions from "../gen/encoding/v1/versions_pb.js";
import * as probe from "../gen/probe/v1/probe_pb.js";
import * as shapes from "../gen/shapes/v1/shapes_pb.js";
import { int, pick, randomMessage, rng, type Rand } from "./random-message.js";
import { conformanceMessages, projectSchemas } from "./test-schemas.js";

const conformance = conformanceMessages();

const schemas: DescMessage[] = [...projectSchemas, ...conformance.messages];

/** Which decoder reads a schema: the fast path, or fromBinary for every input. */
const fast = (desc: DescMessage): boolean => decodeFast(desc, new Uint8Array(0)) !== undefined;

test("the fast path reads the messages it is meant for and leaves the others to fromBinary", () => {
  for (const desc of [echo.EchoRequestSchema, echo.StreamRequestSchema, proto3.ScalarsSchema, proto3.OptionalsSchema, proto3.RepeatedSchema, proto3.MapsSchema, proto3.NodeSchema, status.StatusSchema, versions.PersonV1Schema, editions.LenientSchema, probe.ProbeRequestSchema, wkt.AnySchema, wkt.ValueSchema, wkt.StructSchema, wkt.TimestampSchema]) {
    assert.ok(fast(desc), `${desc.typeName} should be read by the fast path`);
  }
  for (const desc of [
    proto3.WellKnownSchema, // wrapper fields hold the bare value
    proto3.WithStructSchema, // a Struct field holds a JSON object
    proto2.LegacySchema, // proto2: a prototype chain, groups, closed enums
    editions.WithPresenceSchema, // explicit presence: a prototype chain
    editions.WithDelimitedSchema,
    editions.WithClosedEnumSchema,
    editions.HoldsPresenceSchema, // a field whose type is left to fromBinary
    shapes.EverythingSchema,
    wkt.FileDescriptorProtoSchema,
  ]) {
    assert.ok(!fast(desc), `${desc.typeName} should be left to fromBinary`);
  }
});

test("the Connect conformance protos are part of the property test", (t) => {
  if (conformance.missing !== undefined) {
    t.skip(conformance.missing);
    return;
  }
  assert.ok(conformance.messages.length > 20);
  assert.ok(conformance.messages.some((m) => m.typeName === "connectrpc.conformance.v1.UnaryRequest" && fast(m)));
});

/**
 * Asserts that `actual` is what `expected` is, down to key order, property
 * flags, prototypes, -0 and NaN, and for bytes, whether they are a view of
 * the input and where.
 */
function assertSame(actual: unknown, expected: unknown, input: Uint8Array, at = "message"): void {
  if (typeof actual !== typeof expected) assert.fail(`${at}: ${typeof actual} instead of ${typeof expected}`);
  if (typeof expected !== "object" || expected === null || actual === null) {
    if (!Object.is(actual, expected)) assert.fail(`${at}: ${String(actual)} instead of ${String(expected)}`);
    return;
  }
  const a = actual as object;
  const e = expected as object;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(e)) assert.fail(`${at}: a ${a.constructor?.name} instead of a ${e.constructor?.name}`);
  if (e instanceof Uint8Array) {
    const u = a as Uint8Array;
    if (u.byteLength !== e.byteLength || u.some((b, i) => b !== e[i])) assert.fail(`${at}: bytes [${u.join()}] instead of [${e.join()}]`);
    const view = (x: Uint8Array) => (x.buffer === input.buffer ? x.byteOffset : -1);
    if (view(u) !== view(e)) assert.fail(`${at}: a view of the input at ${view(u)} instead of ${view(e)} (-1: not a view)`);
    return;
  }
  const keys = Reflect.ownKeys(a);
  const expectedKeys = Reflect.ownKeys(e);
  if (keys.length !== expectedKeys.length || keys.some((k, i) => k !== expectedKeys[i])) {
    assert.fail(`${at}: own keys ${keys.map(String).join()} instead of ${expectedKeys.map(String).join()} (in this order)`);
  }
  for (const key of keys) {
    const da = Object.getOwnPropertyDescriptor(a, key)!;
    const de = Object.getOwnPropertyDescriptor(e, key)!;
    if (da.writable !== de.writable || da.enumerable !== de.enumerable || da.configurable !== de.configurable || "get" in da) {
      assert.fail(`${at}.${String(key)}: property flags differ`);
    }
    assertSame(da.value, de.value, input, `${at}.${String(key)}`);
  }
}

/** Both decoders on the same input: the same message, or the same error. */
function assertAgree(desc: DescMessage, bytes: Uint8Array, context: string): void {
  let expected: Message | undefined;
  let expectedError: unknown;
  try {
    expected = fromBinary(desc, bytes);
  } catch (e) {
    expectedError = e;
  }
  let actual: Message | undefined;
  try {
    actual = decodeBinary(desc, bytes);
  } catch (e) {
    if (expectedError === undefined) assert.fail(`${context}: decodeBinary threw ${String(e)}, fromBinary did not`);
    assert.equal(String(e), String(expectedError), context);
    return;
  }
  if (expectedError !== undefined) assert.fail(`${context}: fromBinary threw ${String(expectedError)}, decodeBinary did not`);
  assertSame(actual, expected, bytes, context);
}

/** The same bytes as a Uint8Array, as a Buffer, or at an offset inside a larger buffer. */
function placed(r: Rand, bytes: Uint8Array): Uint8Array {
  switch (int(r, 3)) {
    case 0:
      return bytes;
    case 1:
      return Buffer.from(bytes);
    default: {
      const big = new Uint8Array(bytes.length + 7);
      big.set(bytes, 3);
      return big.subarray(3, 3 + bytes.length);
    }
  }
}

function mutate(r: Rand, bytes: Uint8Array): Uint8Array {
  const b = Array.from(bytes);
  const at = int(r, b.length + 1);
  switch (int(r, 5)) {
    case 0:
      return new Uint8Array(b.slice(0, at));
    case 1:
      if (b.length > 0) b[Math.min(at, b.length - 1)] = int(r, 256);
      break;
    case 2:
      b.splice(at, 0, ...Array.from({ length: 1 + int(r, 3) }, () => pick(r, [0, 0x80, 0xff, 0x0a, 0x12, int(r, 256)])));
      break;
    case 3:
      b.splice(at, 1 + int(r, 3));
      break;
    default:
      if (b.length > 0) b[Math.min(at, b.length - 1)]! ^= 1 << int(r, 8);
  }
  return new Uint8Array(b);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Cases per schema: `n` for this project's protos; fewer for the many
 * conformance and well-known types, fewer still where decodeBinary is
 * fromBinary (descriptor.proto's large proto2 messages among them).
 */
function casesFor(desc: DescMessage, n: number): number {
  if (!fast(desc)) return n / 50;
  return desc.typeName.startsWith("google.") || desc.typeName.startsWith("connectrpc.") ? n / 5 : n;
}

const seed = Number(process.env.DECODER_SEED ?? 20240611);

test("random messages of every schema decode exactly as fromBinary decodes them, and the fast path reads them all", () => {
  const r = rng(seed);
  for (const desc of schemas) {
    const isFast = fast(desc);
    const cases = casesFor(desc, 2000);
    for (let i = 0; i < cases; i++) {
      const context = `seed ${seed}, ${desc.typeName} #${i}`;
      const message = randomMessage(r, desc);
      let bytes: Uint8Array = toBinary(desc, message);
      // Two messages one after the other are one message, merged: lists append, messages merge, the last scalar wins.
      if (i % 4 === 3) bytes = concat(bytes, toBinary(desc, randomMessage(r, desc)));
      bytes = placed(r, bytes);
      const expected = fromBinary(desc, bytes);
      if (isFast) {
        const read = decodeFast(desc, bytes);
        if (read === undefined) assert.fail(`${context}: the fast path gave up on bytes toBinary wrote`);
        assertSame(read, expected, bytes, context);
      }
      assertSame(decodeBinary(desc, bytes), expected, bytes, context);
    }
  }
});

test("damaged input: both decoders give the same message, or the same error", () => {
  const r = rng(seed + 1);
  for (const desc of schemas) {
    const cases = casesFor(desc, 600);
    for (let i = 0; i < cases; i++) {
      let bytes: Uint8Array = toBinary(desc, randomMessage(r, desc));
      for (let n = 1 + int(r, 3); n > 0; n--) bytes = mutate(r, bytes);
      assertAgree(desc, placed(r, bytes), `seed ${seed + 1}, ${desc.typeName} damaged #${i}`);
    }
  }
});

test("no two messages share a list, map or oneof object", () => {
  const bytes = toBinary(proto3.NodeSchema, create(proto3.NodeSchema, { name: "n", children: [{ name: "a" }] }));
  const a = decodeBinary(proto3.NodeSchema, bytes);
  const b = decodeBinary(proto3.NodeSchema, new Uint8Array(0));
  const c = decodeBinary(proto3.NodeSchema, new Uint8Array(0));
  assert.notEqual(b.children, c.children);
  assert.notEqual(b.choice, c.choice);
  a.children.push(create(proto3.NodeSchema));
  b.children.push(create(proto3.NodeSchema));
  assert.equal(c.children.length, 0);
  const m1 = decodeBinary(proto3.MapsSchema, new Uint8Array(0));
  const m2 = decodeBinary(proto3.MapsSchema, new Uint8Array(0));
  m1.stringString.k = "v";
  assert.deepEqual(m2.stringString, {});
  assert.deepEqual(create(proto3.MapsSchema).stringString, {});
});

// --- Hand-made wire data ------------------------------------------------------

function wire(write: (w: BinaryWriter) => void): Uint8Array {
  const w = new BinaryWriter();
  write(w);
  return w.finish();
}

test("fields a newer schema wrote are kept as unknown fields, in order, as views of the input", () => {
  const v2 = create(versions.PersonV2Schema, {
    name: "ada",
    id: -5n,
    stamp: 2n ** 64n - 1n,
    weight: 1.5,
    friend: { name: "bob", id: 7n, photo: new Uint8Array([1, 2, 3]) },
    friends: [{ name: "cy", scores: [1, -1, 300] }, { counts: { a: 1, b: -2 } }],
    photo: new Uint8Array(300).fill(9),
    scores: [-2147483648, 2147483647],
    counts: { x: 0, y: 5 },
    big: 2n ** 64n - 1n,
    last: "end",
  });
  const bytes = toBinary(versions.PersonV2Schema, v2);
  const v1 = decodeFast(versions.PersonV1Schema, bytes);
  assert.ok(v1 !== undefined);
  assertSame(v1, fromBinary(versions.PersonV1Schema, bytes), bytes);
  assert.deepEqual(
    v1.$unknown?.map((u) => [u.no, u.wireType]),
    [[2, 0], [3, 1], [4, 5], [7, 2], [8, 2], [9, 2], [9, 2], [2000, 0]],
  );
  assert.equal(v1.$unknown?.[3]?.data.buffer, bytes.buffer);
  assert.equal(v1.friend?.$unknown?.length, 2);
  // Written back, the unknown fields make the newer message again.
  assert.deepEqual(fromBinary(versions.PersonV2Schema, toBinary(versions.PersonV1Schema, v1)), v2);
  // Unknown groups are left to fromBinary, which keeps them too.
  const withGroup = wire((w) => {
    w.tag(1, WireType.LengthDelimited).string("g");
    w.tag(30, WireType.StartGroup).tag(1, WireType.Varint).int32(5).tag(30, WireType.EndGroup);
  });
  assert.equal(decodeFast(versions.PersonV1Schema, withGroup), undefined);
  assertAgree(versions.PersonV1Schema, withGroup, "unknown group");
});

test("lists of numbers are read packed and unpacked, mixed in one message", () => {
  const bytes = wire((w) => {
    w.tag(5, WireType.LengthDelimited).fork().int32(1).int32(-1).int32(300).join(); // r_int32, packed
    w.tag(5, WireType.Varint).int32(7); // and unpacked
    w.tag(1, WireType.Bit64).double(Number.NaN); // r_double unpacked
    w.tag(1, WireType.LengthDelimited).fork().double(-0).double(Number.POSITIVE_INFINITY).join();
    w.tag(18, WireType.LengthDelimited).fork().int32(4).int32(5).join(); // r_unpacked, sent packed
    w.tag(16, WireType.LengthDelimited).fork().int32(2).int32(99).join(); // r_enum
    w.tag(8, WireType.LengthDelimited).fork().bool(true).uint64(2n).join(); // r_bool: a bool as a longer varint
    w.tag(2, WireType.LengthDelimited).fork().join(); // r_float: an empty packed list
    w.tag(15, WireType.LengthDelimited).fork().sint64(-(2n ** 63n)).sint64(2n ** 63n - 1n).join();
  });
  const m = decodeFast(proto3.RepeatedSchema, bytes);
  assert.ok(m !== undefined);
  assert.deepEqual(m.rInt32, [1, -1, 300, 7]);
  assert.deepEqual(m.rUnpacked, [4, 5]);
  assert.deepEqual(m.rBool, [true, true]);
  assertSame(m, fromBinary(proto3.RepeatedSchema, bytes), bytes);
});

test("a repeated singular field: the last scalar wins, messages merge, oneofs switch or merge", () => {
  const bytes = wire((w) => {
    w.tag(1, WireType.LengthDelimited).string("first");
    w.tag(2, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string("child").tag(3, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string("c1").join().join();
    w.tag(4, WireType.Varint).int32(5); // choice = number
    w.tag(1, WireType.LengthDelimited).string("second");
    w.tag(2, WireType.LengthDelimited).fork().tag(3, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string("c2").join().join();
    w.tag(6, WireType.LengthDelimited).fork().tag(9, WireType.LengthDelimited).string("s").join(); // choice = scalars
    w.tag(6, WireType.LengthDelimited).fork().tag(5, WireType.Varint).int32(3).join(); // merges into it
    w.tag(9, WireType.LengthDelimited).fork().tag(1, WireType.Varint).int32(8).join(); // choice = boxed (a wrapper in a oneof: a message)
  });
  const m = decodeFast(proto3.NodeSchema, bytes);
  assert.ok(m !== undefined);
  assert.equal(m.name, "second");
  assert.deepEqual(m.child?.children.map((c) => c.name), ["c1", "c2"]);
  assert.equal(m.choice.case, "boxed");
  assertSame(m, fromBinary(proto3.NodeSchema, bytes), bytes);
  const merged = wire((w) => {
    w.tag(6, WireType.LengthDelimited).fork().tag(9, WireType.LengthDelimited).string("s").join();
    w.tag(6, WireType.LengthDelimited).fork().tag(5, WireType.Varint).int32(3).join();
  });
  const n = decodeFast(proto3.NodeSchema, merged);
  assert.ok(n?.choice.case === "scalars");
  assert.equal(n.choice.value.fString, "s");
  assert.equal(n.choice.value.fInt32, 3);
  assertSame(n, fromBinary(proto3.NodeSchema, merged), merged);
});

test("fields out of order: explicit-presence fields appear in the order they were read", () => {
  const bytes = wire((w) => {
    w.tag(8, WireType.Varint).sint64(-3n);
    w.tag(5, WireType.LengthDelimited).string("s");
    w.tag(1, WireType.Bit64).double(-0);
    w.tag(5, WireType.LengthDelimited).string("t");
  });
  const m = decodeFast(proto3.OptionalsSchema, bytes);
  assert.ok(m !== undefined);
  assert.deepEqual(Object.keys(m), ["$typeName", "oSint64", "oString", "oDouble"]);
  assertSame(m, fromBinary(proto3.OptionalsSchema, bytes), bytes);
});

test("map entries: missing keys and values are zero, a repeated key keeps the last value, message values merge within an entry", () => {
  const bytes = wire((w) => {
    w.tag(1, WireType.LengthDelimited).fork().tag(2, WireType.LengthDelimited).string("no key").join(); // string_string
    w.tag(1, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string("k").join(); // no value
    w.tag(1, WireType.LengthDelimited).fork().tag(2, WireType.LengthDelimited).string("v2").tag(1, WireType.LengthDelimited).string("k").join(); // value first
    w.tag(1, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string("__proto__").tag(2, WireType.LengthDelimited).string("p").join();
    w.tag(3, WireType.LengthDelimited).fork().tag(1, WireType.Varint).int64(-1n).tag(2, WireType.Varint).bool(true).tag(7, WireType.Bit32).fixed32(1).join(); // int64_bool, with an unknown entry field
    w.tag(4, WireType.LengthDelimited).fork().tag(1, WireType.Varint).uint32(1).join(); // uint32_bytes: no value
    w.tag(7, WireType.LengthDelimited).fork().tag(1, WireType.Varint).sint64(-2n).tag(2, WireType.LengthDelimited).fork().tag(9, WireType.LengthDelimited).string("a").join().tag(2, WireType.LengthDelimited).fork().tag(5, WireType.Varint).int32(4).join().join();
    w.tag(12, WireType.LengthDelimited).fork().join(); // bool_node: an empty entry
    w.tag(6, WireType.LengthDelimited).fork().tag(1, WireType.Varint).sint32(-9).join(); // sint32_enum: the first enum value
  });
  const m = decodeFast(proto3.MapsSchema, bytes);
  assert.ok(m !== undefined);
  assert.equal(m.stringString.k, "v2");
  assert.equal(m.stringString[""], "no key");
  assert.ok(Object.hasOwn(m.stringString, "__proto__"));
  assert.equal(m.sint64Message["-2"]?.fString, "a");
  assert.equal(m.sint64Message["-2"]?.fInt32, 4);
  assertSame(m, fromBinary(proto3.MapsSchema, bytes), bytes);
});

test("64-bit values as decimal strings (jstype = JS_STRING) and at the edges", () => {
  for (const v of [0n, -1n, 2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n]) {
    const bytes = toBinary(proto3.ScalarsSchema, create(proto3.ScalarsSchema, { fInt64String: v.toString(), fInt64: v, fSint64: v, fSfixed64: v, fUint64: BigInt.asUintN(64, v), fFixed64: BigInt.asUintN(64, v) }));
    const m = decodeFast(proto3.ScalarsSchema, bytes);
    assert.ok(m !== undefined);
    assert.equal(m.fInt64String, v.toString());
    assert.equal(m.fInt64, v);
    assertSame(m, fromBinary(proto3.ScalarsSchema, bytes), bytes);
  }
  // A negative int32 takes 10 bytes on the wire; an 11-byte varint is refused.
  const ten = wire((w) => w.tag(5, WireType.Varint).int32(-7));
  assert.equal(ten.length, 11);
  assert.equal(decodeFast(proto3.ScalarsSchema, ten)?.fInt32, -7);
  const eleven = new Uint8Array([0x28, 0xf9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00]);
  assertAgree(proto3.ScalarsSchema, eleven, "11-byte varint");
  assert.throws(() => decodeBinary(proto3.ScalarsSchema, eleven), /invalid varint/);
});

test("strings: ASCII, multi-byte and astral characters, a leading byte-order mark, invalid UTF-8 where validated and where not", () => {
  for (const s of ["", "x".repeat(32), "x".repeat(33), "\ufeffbom", "é", "😀".repeat(20), "\u0000"]) {
    const bytes = toBinary(proto3.ScalarsSchema, create(proto3.ScalarsSchema, { fString: s }));
    assert.equal(decodeFast(proto3.ScalarsSchema, bytes)?.fString, s);
  }
  const invalid = [[0xff], [0xc3], [0x61, 0xed, 0xa0, 0x80], [0xf0, 0x9f, 0x98], Array(40).fill(0x61).concat([0x80])];
  for (const raw of invalid) {
    const validated = wire((w) => w.tag(9, WireType.LengthDelimited).bytes(new Uint8Array(raw)));
    assert.equal(decodeFast(proto3.ScalarsSchema, validated), undefined);
    assert.throws(() => decodeBinary(proto3.ScalarsSchema, validated), (e) => String(e) === String((() => { try { fromBinary(proto3.ScalarsSchema, validated); } catch (x) { return x; } })()));
    // utf8_validation = NONE: U+FFFD, as TextDecoder makes it.
    const lenient = wire((w) => {
      w.tag(1, WireType.LengthDelimited).bytes(new Uint8Array(raw));
      w.tag(2, WireType.LengthDelimited).bytes(new Uint8Array(raw));
      w.tag(3, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).bytes(new Uint8Array(raw)).tag(2, WireType.LengthDelimited).bytes(new Uint8Array(raw)).join();
      w.tag(9, WireType.LengthDelimited).bytes(new Uint8Array(raw));
    });
    const m = decodeFast(editions.LenientSchema, lenient);
    assert.ok(m !== undefined && m.text.includes("\ufffd"));
    assertSame(m, fromBinary(editions.LenientSchema, lenient), lenient);
    // ... but not the field that keeps the default, validation.
    assertAgree(editions.LenientSchema, wire((w) => w.tag(4, WireType.LengthDelimited).bytes(new Uint8Array(raw))), "validated field of Lenient");
  }
});

test("nesting deeper than protobuf-es's limit of 100 is its error; 100 levels are read", () => {
  const nested = (levels: number): Uint8Array => {
    let bytes: Uint8Array = new Uint8Array(0);
    for (let i = 1; i < levels; i++) bytes = wire((w) => w.tag(2, WireType.LengthDelimited).bytes(bytes));
    return bytes;
  };
  const ok = nested(100);
  assert.ok(decodeFast(proto3.NodeSchema, ok) !== undefined);
  assertSame(decodeBinary(proto3.NodeSchema, ok), fromBinary(proto3.NodeSchema, ok), ok);
  const deep = nested(101);
  assert.equal(decodeFast(proto3.NodeSchema, deep), undefined);
  assert.throws(() => decodeBinary(proto3.NodeSchema, deep), /maximum recursion depth of 100 reached/);
  assertAgree(proto3.NodeSchema, deep, "101 levels");
});

test("odd tags and wire types: both decoders agree", () => {
  const cases: [string, number[]][] = [
    ["field number 0", [0x00, 0x01]],
    ["wire type 6", [0x0e, 0x01]],
    ["wire type 7", [0x0f]],
    ["end group at the top", [0x0c]],
    ["a 6-byte tag", [0x80, 0x80, 0x80, 0x80, 0x80, 0x01]],
    ["a tag past 32 bits", [0x80, 0x80, 0x80, 0x80, 0x10]],
    ["a non-minimal tag", [0x88, 0x80, 0x00, 0x05]],
    ["a string with a varint wire type", [0x4a & ~7, 0x05]],
    ["an int32 as length-delimited", [0x2a, 0x01, 0x05]],
    ["a length past the end", [0x4a, 0x05, 0x61]],
    ["a nested message past its end", [0x32, 0x02, 0x28, 0x96, 0x01]],
    ["truncated double", [0x09, 0x00, 0x00]],
    ["an overlong length", [0x4a, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x61]],
  ];
  for (const [name, bytes] of cases) {
    assertAgree(proto3.ScalarsSchema, new Uint8Array(bytes), name);
    assertAgree(proto3.NodeSchema, new Uint8Array(bytes), name);
  }
});
