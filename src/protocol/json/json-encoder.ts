import { create, isMessage, ScalarType, toJsonString, type DescMessage, type Registry } from "@bufbuild/protobuf";
import { describe, EncodeError } from "../encode-error.js";
import { INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, UINT32_MAX, UINT64_MAX } from "../protobuf/integer-ranges.js";
import { childOf, ENUM, IMPLICIT, jsonPlanOf, LEGACY_REQUIRED, LIST, SCALAR, SINGULAR, type JsonEnum, type JsonField, type JsonMessage } from "./json-plan.js";

/**
 * Proto3 JSON encoding of what a handler returns (a message, or an init
 * object of one), written as protobuf-es's toJsonString writes it, byte for
 * byte, into one Buffer.
 *
 * Why not toJsonString: it needs a message from create(), builds a JSON
 * object of the message, encodes bytes to base64 in JavaScript, then
 * JSON.stringify walks the object again; here one walk over the value
 * writes the text, and base64 is Node's. On the benchmark's echo reply it
 * takes 0.8–1.4 µs where checkResponse + create + toJsonString took
 * 1.4–2.2 µs, and 7–13 µs against 150 µs with a 10 KiB payload (Node 24,
 * medians on this project's shared 2-core machine: bench/src/scenarios/
 * json-cost.ts). test/protocol/json-encoder.test.ts compares the two on
 * random values of many schemas.
 *
 * Checking is part of encoding, with the same rules as checkResponse
 * (src/functions/check-response.ts), which MethodCodec used to run before
 * toJsonString: a value of the wrong type, null, a key the message does not
 * have, a malformed oneof, list or map is an EncodeError naming the field
 * path, never a silent coercion.
 *
 * Types json-plan.ts leaves to protobuf-es (well-known types with a JSON
 * form of their own, extensions) are written by create() + toJsonString,
 * unchecked: the caller checks them first (see encodesJsonItself);
 * `registry` resolves google.protobuf.Any for them.
 */
export function encodeJson(desc: DescMessage, value: unknown, headroom = 0, registry?: Registry): Buffer {
  const plan = jsonPlanOf(desc);
  let text: string;
  if (plan.handled) {
    ascii = true;
    text = messageJson(plan, value);
  } else {
    ascii = false;
    text = toJsonString(desc, isMessage(value, desc) ? value : create(desc, value as never), { registry });
  }
  if (ascii) {
    // Measuring and writing UTF-8 take a pass over the text each: on a 10 KiB
    // payload's JSON about 7 µs, where a byte-for-byte copy takes under 3.
    const buf = Buffer.allocUnsafe(headroom + text.length);
    (buf as Buffer & { latin1Write(s: string, offset: number, length: number): number }).latin1Write(text, headroom, text.length);
    return buf;
  }
  const length = Buffer.byteLength(text, "utf8");
  const buf = Buffer.allocUnsafe(headroom + length);
  (buf as Buffer & { utf8Write(s: string, offset: number, length: number): number }).utf8Write(text, headroom, length);
  return buf;
}

/** Whether encodeJson writes (and checks) values of `desc` itself, or hands them to toJsonString as they are. */
export function encodesJsonItself(desc: DescMessage): boolean {
  return jsonPlanOf(desc).handled;
}

/**
 * Whether the text written so far is ASCII (base64, numbers, names and
 * strings without other characters): then its length is its byte length.
 * Encoding is synchronous, so one flag serves all calls.
 */
let ascii = true;

function messageJson(plan: JsonMessage, value: unknown): string {
  const msg = checkMessage(plan, value);
  // A protobuf-es message of a type with a prototype chain (proto2, editions)
  // holds defaults there: only its own properties are set fields.
  const ownOnly = plan.zero.prototyped && msg.$typeName !== undefined;
  const fields = plan.fields;
  let out = "";
  for (let i = 0; i < fields.length; i++) {
    const p = fields[i]!;
    let text: string | undefined;
    try {
      text = p.oneof === undefined ? fieldJson(p, msg, ownOnly) : oneofMemberJson(plan, p, msg);
    } catch (e) {
      throw e instanceof EncodeError ? e.prefixed(p.oneof ?? p.localName) : e;
    }
    if (text === undefined) continue;
    if (!p.asciiKey) ascii = false;
    out += (out === "" ? "{" : ",") + p.key + text;
  }
  return out === "" ? "{}" : `${out}}`;
}

/** A message value is an object; one with $typeName must be of this type; an init object has only the message's keys. */
function checkMessage(plan: JsonMessage, value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value) || ArrayBuffer.isView(value)) {
    throw new EncodeError("", `expected a ${plan.typeName} message, got ${describe(value)}`);
  }
  const record = value as Record<string, unknown>;
  const typeName = record.$typeName;
  if (typeName !== undefined) {
    if (typeName !== plan.typeName) throw new EncodeError("", `expected a ${plan.typeName} message, got a ${String(typeName)} message`);
    return record;
  }
  for (const key in record) {
    const v = record[key];
    if (plan.members.has(key) || v === undefined) continue;
    if (key === "$unknown") {
      if (!Array.isArray(v)) throw new EncodeError(key, `expected the unknown fields to be an array, got ${describe(v)}`);
      continue;
    }
    throw new EncodeError(key, `${plan.typeName} has no field "${key}"`);
  }
  return record;
}

/** A field outside a oneof: its JSON text, or undefined when it is not written. */
function fieldJson(p: JsonField, msg: Record<string, unknown>, ownOnly: boolean): string | undefined {
  const v = msg[p.localName];
  if (v === undefined || (ownOnly && p.kind === SINGULAR && p.presence !== IMPLICIT && !Object.prototype.hasOwnProperty.call(msg, p.localName))) {
    if (p.presence === LEGACY_REQUIRED && p.kind === SINGULAR) throw new EncodeError("", "required field is not set");
    return undefined;
  }
  switch (p.kind) {
    case SINGULAR:
      // Implicit presence: zero values are not written (explicit ones always are).
      return p.presence === IMPLICIT && isZero(p, v) ? undefined : valueJson(p, v);
    case LIST:
      return listJson(p, v);
    default:
      return mapJson(p, v);
  }
}

function oneofMemberJson(plan: JsonMessage, p: JsonField, msg: Record<string, unknown>): string | undefined {
  const o = msg[p.oneof!] as { case?: unknown; value?: unknown } | undefined;
  if (o === undefined) return undefined;
  if (p.firstInOneof) checkOneof(plan, p.oneof!, o);
  return o.case === p.localName ? valueJson(p, o.value) : undefined;
}

function checkOneof(plan: JsonMessage, oneof: string, o: unknown): void {
  if (typeof o !== "object" || o === null || Array.isArray(o)) throw new EncodeError("", `expected a oneof object { case, value }, got ${describe(o)}`);
  for (const k in o) if (k !== "case" && k !== "value") throw new EncodeError("", `a oneof object has only case and value; "${k}" is not part of it`);
  const { case: kase, value } = o as { case?: unknown; value?: unknown };
  if (kase === undefined) {
    if (value !== undefined) throw new EncodeError("", "the oneof has a value but no case");
    return;
  }
  if (!plan.fields.some((f) => f.oneof === oneof && f.localName === kase)) throw new EncodeError("", `oneof case ${describe(kase)} is not a field of ${oneof}`);
  if (value === undefined) throw new EncodeError(String(kase), `oneof case "${String(kase)}" has no value`);
}

/** A singular value, list item or map value. */
function valueJson(p: JsonField, v: unknown): string {
  switch (p.value) {
    case SCALAR:
      return scalarJson(p.scalar, p.longAsString, v);
    case ENUM:
      return enumJson(p.enumType!, v);
    default:
      return messageJson(childOf(p), v);
  }
}

function listJson(p: JsonField, v: unknown): string | undefined {
  if (!Array.isArray(v)) throw new EncodeError("", `expected an array, got ${describe(v)}`);
  if (v.length === 0) return undefined;
  let out = "[";
  for (let i = 0; i < v.length; i++) {
    const item: unknown = v[i];
    try {
      if (item === undefined || item === null) throw new EncodeError("", `list items cannot be ${String(item)}`);
      out += (i === 0 ? "" : ",") + valueJson(p, item);
    } catch (e) {
      throw e instanceof EncodeError ? e.prefixed(`[${i}]`) : e;
    }
  }
  return `${out}]`;
}

function mapJson(p: JsonField, v: unknown): string | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Map || ArrayBuffer.isView(v)) {
    throw new EncodeError("", `expected a map (a plain object keyed by string), got ${describe(v)}`);
  }
  const record = v as Record<string, unknown>;
  // Own keys, in the order protobuf-es writes them.
  const keys = Object.keys(record);
  if (keys.length === 0) return undefined;
  let out = "{";
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const item = record[key];
    try {
      if (item === undefined || item === null) throw new EncodeError("", `map values cannot be ${String(item)}`);
      out += (i === 0 ? "" : ",") + mapKeyJson(p.mapKey, key) + ":" + valueJson(p, item);
    } catch (e) {
      throw e instanceof EncodeError ? e.prefixed(`[${JSON.stringify(key)}]`) : e;
    }
  }
  return `${out}}`;
}

/** A map key is written as the object holds it, once it is one of the key type. */
function mapKeyJson(type: ScalarType, key: string): string {
  switch (type) {
    case ScalarType.STRING:
      if (ascii && !isAscii(key)) ascii = false;
      return JSON.stringify(key);
    case ScalarType.BOOL:
      if (key !== "true" && key !== "false") throw new EncodeError("", `map key ${JSON.stringify(key)} is not "true" or "false"`);
      return `"${key}"`;
    default:
      if (!/^-?\d+$/.test(key)) throw new EncodeError("", `map key ${JSON.stringify(key)} is not an integer`);
      return `"${key}"`;
  }
}

// --- Scalars and enums ----------------------------------------------------

/** Implicit presence: the zero values protobuf-es leaves out (only valid values are zero). */
function isZero(p: JsonField, v: unknown): boolean {
  if (p.value === ENUM) return v === p.enumType!.zero;
  switch (p.scalar) {
    case ScalarType.STRING:
      return v === "";
    case ScalarType.BOOL:
      return v === false;
    case ScalarType.BYTES:
      return v instanceof Uint8Array && v.byteLength === 0;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      // -0 is written (as 0).
      return Object.is(v, 0);
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return p.longAsString ? typeof v === "string" && /^-?0+$/.test(v) : v === 0 || v === 0n;
    default:
      return v === 0;
  }
}

function scalarJson(type: ScalarType, longAsString: boolean, v: unknown): string {
  switch (type) {
    case ScalarType.STRING:
      if (typeof v !== "string") throw expected("a string", v);
      if (v.length <= 32 && isPlain(v)) return `"${v}"`;
      // A lone surrogate would silently become U+FFFD in UTF-8.
      if (!(v as string & { isWellFormed(): boolean }).isWellFormed()) throw new EncodeError("", "the string is not valid Unicode (a lone surrogate); it cannot be sent as UTF-8");
      if (ascii && !isAscii(v)) ascii = false;
      return JSON.stringify(v);
    case ScalarType.BOOL:
      if (typeof v !== "boolean") throw expected("a boolean", v);
      return v ? "true" : "false";
    case ScalarType.BYTES:
      if (!(v instanceof Uint8Array)) throw expected("bytes (a Uint8Array)", v);
      // Standard base64 with padding, as protobuf-es writes it; Node's encoder, not a JavaScript loop.
      return `"${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64")}"`;
    case ScalarType.DOUBLE:
      if (typeof v !== "number") throw expected("a number", v);
      return numberJson(v);
    case ScalarType.FLOAT:
      if (typeof v !== "number") throw expected("a number", v);
      // Too large for a float32 would be Infinity on the wire; the JSON value is not rounded.
      if (Number.isFinite(v) && !Number.isFinite(Math.fround(v))) throw new EncodeError("", `${v} is out of range for a float`);
      return numberJson(v);
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return String(integer(v, INT32_MIN, INT32_MAX, "an int32"));
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return String(integer(v, 0, UINT32_MAX, "a uint32"));
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return `"${int64Text(v, INT64_MIN, INT64_MAX, longAsString)}"`;
    default:
      return `"${int64Text(v, 0n, UINT64_MAX, longAsString)}"`;
  }
}

/** JSON.stringify's number, with protobuf-es's strings for NaN and the infinities. */
function numberJson(v: number): string {
  if (Number.isFinite(v)) return String(v);
  return v !== v ? '"NaN"' : v > 0 ? '"Infinity"' : '"-Infinity"';
}

/**
 * Printable ASCII without quotes or backslashes, as most ids and names are:
 * JSON writes it as it is, between quotes. One loop instead of the Unicode
 * check, the ASCII check and JSON.stringify, for short strings.
 */
function isPlain(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** A string's characters are all ASCII; long strings are measured natively. */
function isAscii(s: string): boolean {
  if (s.length > 32) return Buffer.byteLength(s, "utf8") === s.length;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function integer(v: unknown, min: number, max: number, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw expected(what, v);
  return v;
}

/**
 * A 64-bit integer as its decimal text: a bigint, or a safe-integer number
 * (exact); a decimal string where the field is held as one (jstype =
 * JS_STRING), written as it is.
 */
function int64Text(v: unknown, min: bigint, max: bigint, longAsString: boolean): string {
  let big: bigint;
  if (longAsString) {
    if (typeof v !== "string" || !/^-?\d+$/.test(v)) throw expected("a 64-bit integer as a decimal string (jstype JS_STRING)", v);
    big = BigInt(v);
  } else if (typeof v === "bigint") {
    big = v;
  } else if (typeof v === "number" && Number.isSafeInteger(v)) {
    if (v < 0 && min === 0n) throw new EncodeError("", `${v} is out of range for an unsigned 64-bit integer`);
    return String(v);
  } else {
    throw expected("a 64-bit integer (a bigint, or a safe integer number)", v);
  }
  if (big < min || big > max) throw new EncodeError("", `${String(v)} is out of range for a${min === 0n ? "n unsigned" : " signed"} 64-bit integer`);
  return longAsString ? (v as string) : big.toString();
}

/** An enum value: its JSON name, or the number when the enum (open) does not declare it. */
function enumJson(e: JsonEnum, v: unknown): string {
  const n = integer(v, INT32_MIN, INT32_MAX, `a ${e.typeName} value (a number)`);
  const name = e.written.get(n);
  if (name !== undefined) {
    if (!e.ascii) ascii = false;
    return name;
  }
  if (!e.open) throw new EncodeError("", `${n} is not a value of the closed enum ${e.typeName}`);
  return String(n);
}

function expected(what: string, v: unknown): EncodeError {
  return new EncodeError("", `expected ${what}, got ${describe(v)}`);
}
