// Response validation: every way a handler's return value can disagree with
// the method's output schema is found, with the field path, and valid values
// (init objects and messages) pass.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { checkResponse } from "../../src/functions/check-response.js";
import { LegacySchema, Level } from "../gen/shapes/v1/legacy_pb.js";
import { Color, EverythingSchema, InnerSchema, OtherSchema } from "../gen/shapes/v1/shapes_pb.js";

const check = (v: unknown) => checkResponse(EverythingSchema, v);

test("valid init objects and messages pass", () => {
  const valid: unknown[] = [
    {},
    { text: "a", flag: true, data: new Uint8Array([1]), ratio: 0.5, small: 1.5, i32: -3, u32: 3 },
    { i64: 5n, u64: 18446744073709551615n, i64String: "-9223372036854775808" },
    { i64: 42 }, // an exact integer number is accepted for 64-bit fields
    { color: Color.RED, inner: { name: "x" }, tags: ["a", "b"], inners: [{ name: "y" }, create(InnerSchema, { name: "z" })] },
    { counts: { a: 1 }, byId: { "7": { name: "s" }, "-1": {} }, byFlag: { true: "yes" } },
    { choice: { case: "word", value: "w" } },
    { choice: { case: "nested", value: { name: "n" } } },
    { choice: { case: undefined } },
    { maybeText: "boxed" },
    { attributes: { a: 1, b: [true, null, "x", { c: 2 }] } },
    { opt: undefined, text: undefined },
    { child: { child: { text: "deep" } } },
    create(EverythingSchema, { text: "message", inner: { name: "i" }, choice: { case: "word", value: "w" } }),
    { $typeName: "shapes.v1.Everything", text: "typed" },
    { color: 99 }, // open enum: unknown numbers are allowed
  ];
  for (const v of valid) assert.equal(check(v), undefined, `should pass: ${String(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x)))}`);
});

test("wrong scalar types, with the field and what was found", () => {
  assert.deepEqual(check({ text: 5 }), { path: "text", problem: "expected a string, got the number 5" });
  assert.deepEqual(check({ text: {} }), { path: "text", problem: "expected a string, got an empty object {}" });
  assert.deepEqual(check({ text: "a\ud800b" }), { path: "text", problem: "the string is not valid Unicode (a lone surrogate); it cannot be sent as UTF-8" });
  assert.deepEqual(check({ flag: "true" }), { path: "flag", problem: "expected a boolean, got the string \"true\"" });
  assert.deepEqual(check({ data: [1, 2] }), { path: "data", problem: "expected bytes (a Uint8Array), got an array (length 2)" });
  assert.deepEqual(check({ ratio: "1.5" }), { path: "ratio", problem: "expected a number (double), got the string \"1.5\"" });
  assert.deepEqual(check({ small: 1e40 }), { path: "small", problem: "1e+40 is out of range for a float" });
  assert.deepEqual(check({ i32: 1.5 }), { path: "i32", problem: "expected an int32 (an integer number), got the number 1.5" });
  assert.deepEqual(check({ i32: 2 ** 31 }), { path: "i32", problem: "2147483648 is out of range for an int32" });
  assert.deepEqual(check({ u32: -1 }), { path: "u32", problem: "-1 is out of range for a uint32" });
  assert.deepEqual(check({ i64: "5" }), { path: "i64", problem: "expected int64 (a bigint, or a safe integer number), got the string \"5\"" });
  assert.deepEqual(check({ i64: 2 ** 60 }), { path: "i64", problem: "1152921504606847000 is not a safe integer, so it may not be the number meant; use a bigint for int64" });
  assert.deepEqual(check({ u64: -1n }), { path: "u64", problem: "-1 is out of range for uint64" });
  assert.deepEqual(check({ i64: 2n ** 63n }), { path: "i64", problem: "9223372036854775808 is out of range for int64" });
  assert.deepEqual(check({ i64String: 5n }), { path: "i64String", problem: "expected int64 as a decimal string (jstype JS_STRING), got the bigint 5" });
  assert.deepEqual(check({ text: null }), { path: "text", problem: "null is not a value for field text; leave the field out (undefined) for its default" });
});

test("enums take numbers, never names", () => {
  assert.deepEqual(check({ color: "COLOR_RED" }), { path: "color", problem: "expected a shapes.v1.Color value (a number such as 0 for COLOR_UNSPECIFIED), got the string \"COLOR_RED\"" });
  assert.match(check({ color: 1.5 })!.problem, /expected a shapes\.v1\.Color value/);
  assert.deepEqual(checkResponse(LegacySchema, { id: "x", level: 7 }), { path: "level", problem: "7 is not a value of the closed enum shapes.v1.Level" });
  assert.equal(checkResponse(LegacySchema, { id: "x", level: Level.HIGH }), undefined);
});

test("messages: wrong type, not an object, unknown fields, required fields", () => {
  assert.deepEqual(check({ inner: create(OtherSchema, { name: "o" }) }), { path: "inner", problem: "expected a shapes.v1.Inner message, got a shapes.v1.Other message" });
  assert.deepEqual(check(create(InnerSchema)), { path: "", problem: "expected a shapes.v1.Everything message, got a shapes.v1.Inner message" });
  assert.deepEqual(check({ inner: "name" }), { path: "inner", problem: "expected a shapes.v1.Inner message (an object), got the string \"name\"" });
  assert.deepEqual(check(undefined), { path: "", problem: "expected a shapes.v1.Everything message (an object), got undefined" });
  assert.deepEqual(check([]), { path: "", problem: "expected a shapes.v1.Everything message (an object), got an array (length 0)" });
  assert.deepEqual(check({ txet: "a" }), { path: "txet", problem: "shapes.v1.Everything has no field \"txet\"; did you mean \"text\"?" });
  assert.deepEqual(check({ inner: { nmae: "a" } }), { path: "inner.nmae", problem: "shapes.v1.Inner has no field \"nmae\"; did you mean \"name\"?" });
  assert.deepEqual(check({ zzzzzz: 1 }), { path: "zzzzzz", problem: "shapes.v1.Everything has no field \"zzzzzz\"" });
  assert.equal(check({ zzzzzz: undefined }), undefined, "an unknown key that is undefined sends nothing");
  assert.deepEqual(checkResponse(LegacySchema, {}), { path: "id", problem: "required field id is not set" });
  assert.deepEqual(check({ child: { child: { inner: { name: 1 } } } }), { path: "child.child.inner.name", problem: "expected a string, got the number 1" });
});

test("oneofs: the { case, value } shape only", () => {
  assert.deepEqual(check({ choice: "w" }), { path: "choice", problem: "oneof choice must be { case: \"word\", \"nested\" or undefined, value }, got the string \"w\"" });
  assert.deepEqual(check({ word: "w" }), { path: "word", problem: "shapes.v1.Everything has no field \"word\"" });
  assert.deepEqual(check({ choice: { case: "wrd", value: "w" } }), { path: "choice", problem: "oneof choice has case the string \"wrd\"; expected one of \"word\", \"nested\" or undefined" });
  assert.deepEqual(check({ choice: { case: "word" } }), { path: "choice.word", problem: "oneof choice has case \"word\" but no value" });
  assert.deepEqual(check({ choice: { case: "word", value: 1 } }), { path: "choice.word", problem: "expected a string, got the number 1" });
  assert.deepEqual(check({ choice: { case: "nested", value: { name: 2 } } }), { path: "choice.nested.name", problem: "expected a string, got the number 2" });
  assert.deepEqual(check({ choice: { case: "word", value: "w", extra: 1 } }), { path: "choice", problem: "oneof choice must be { case: \"word\", \"nested\" or undefined, value }; \"extra\" is not part of it" });
  assert.deepEqual(check({ choice: { value: "w" } }), { path: "choice", problem: "oneof choice has a value but no case; set case to one of \"word\", \"nested\"" });
});

test("lists and maps: shape, items, keys and values", () => {
  assert.deepEqual(check({ tags: "a" }), { path: "tags", problem: "expected a list (array) for field tags, got the string \"a\"" });
  assert.deepEqual(check({ tags: ["a", 2] }), { path: "tags[1]", problem: "expected a string, got the number 2" });
  assert.deepEqual(check({ tags: ["a", null] }), { path: "tags[1]", problem: "list items cannot be null" });
  assert.deepEqual(check({ inners: [{ name: "a" }, { name: {} }] }), { path: "inners[1].name", problem: "expected a string, got an empty object {}" });
  assert.deepEqual(check({ counts: new Map([["a", 1]]) }), { path: "counts", problem: "expected a map (a plain object keyed by string) for field counts, got a Map" });
  assert.deepEqual(check({ counts: [1] }), { path: "counts", problem: "expected a map (a plain object keyed by string) for field counts, got an array (length 1)" });
  assert.deepEqual(check({ counts: { a: "1" } }), { path: "counts[\"a\"]", problem: "expected an int32 (an integer number), got the string \"1\"" });
  assert.deepEqual(check({ byId: { x: {} } }), { path: "byId[\"x\"]", problem: "map key \"x\" is not an integer (int32)" });
  assert.deepEqual(check({ byId: { "1": { name: 1 } } }), { path: "byId[\"1\"].name", problem: "expected a string, got the number 1" });
  assert.deepEqual(check({ byFlag: { yes: "y" } }), { path: "byFlag[\"yes\"]", problem: "map key \"yes\" is not \"true\" or \"false\"" });
});

test("well-known types as protobuf-es represents them", () => {
  assert.deepEqual(check({ maybeText: { value: "boxed" } }), { path: "maybeText", problem: "expected a string, got an object with keys value" });
  assert.deepEqual(check({ attributes: "x" }), { path: "attributes", problem: "expected a JSON object (google.protobuf.Struct), got the string \"x\"" });
  assert.deepEqual(check({ attributes: { a: { b: [1, Infinity] } } }), { path: "attributes[\"a\"][\"b\"][1]", problem: "Infinity is not a JSON number" });
  assert.deepEqual(check({ attributes: { d: new Date(0) } }), { path: "attributes[\"d\"]", problem: "expected a JSON value, got a Date" });
});
