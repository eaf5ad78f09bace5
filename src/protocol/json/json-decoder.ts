import { fromJsonString, ScalarType, type DescMessage, type MessageShape, type Registry } from "@bufbuild/protobuf";
import { INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, UINT32_MAX, UINT64_MAX } from "../protobuf/integer-ranges.js";
import { newMessage } from "../protobuf/new-message.js";
import { readBase64 } from "./base64-bytes.js";
import { membersInText, membersInValue } from "./duplicate-keys.js";
import { childOf, ENUM, jsonPlanOf, LIST, SCALAR, SINGULAR, type JsonEnum, type JsonField, type JsonMessage } from "./json-plan.js";

/**
 * Proto3 JSON decoding of request messages, with exactly the result of
 * protobuf-es's fromJsonString(desc, text, { ignoreUnknownFields: true }):
 * the same message (same keys, values and types), and protobuf-es's own
 * error for any text it refuses.
 *
 * Why not fromJsonString itself: after JSON.parse it scans the whole text in
 * a JavaScript loop for duplicate keys, decodes base64 in JavaScript, and
 * runs create() for every message. Here the duplicate-key check is two
 * counts (duplicate-keys.ts), base64 is Node's (base64-bytes.ts) and a new
 * message is a copy of one made once per type. On the benchmark's echo
 * request it takes 1.4 µs where fromJsonString takes 2.6 µs, 11 µs against
 * 90 µs with a 10 KiB payload (Node 24, medians on this project's shared
 * 2-core machine: bench/src/scenarios/json-cost.ts); JSON.parse is half of
 * what is left.
 *
 * The fast path reads only what it can read exactly: the JSON that encoders
 * write (values of the right JSON type, numbers as numbers or plain decimal
 * strings, base64 as encoders write it, enum names or numbers, null for
 * "unset") of the types json-plan.ts handles. Anything else — an error,
 * and whatever odd forms protobuf-es also accepts ("1e2" for an int32,
 * base64 with whitespace, map keys like "01") — is decoded again, whole,
 * by fromJsonString, so that errors and odd input get protobuf-es's answer.
 * test/protocol/json-decoder.test.ts compares the two.
 *
 * `registry` resolves google.protobuf.Any for the types left to protobuf-es.
 */
export function decodeJson<Desc extends DescMessage>(desc: Desc, text: string, registry?: Registry): MessageShape<Desc> {
  return decodeJsonFast(desc, text) ?? fromJsonString(desc, text, { registry, ignoreUnknownFields: true });
}

/**
 * The fast path alone: the message, or undefined when its type or this
 * text is left to fromJsonString. (Exported for the tests, which check that
 * it reads whatever toJsonString writes.)
 */
export function decodeJsonFast<Desc extends DescMessage>(desc: Desc, text: string): MessageShape<Desc> | undefined {
  const plan = jsonPlanOf(desc);
  if (!plan.handled) return undefined;
  try {
    const json: unknown = JSON.parse(text);
    if (!isObject(json)) return undefined;
    members = 0;
    const msg = readMessage(plan, json, 1);
    return members === membersInText(text) ? (msg as MessageShape<Desc>) : undefined;
  } catch {
    // Unusual input, a JSON syntax error, or nesting too deep for this
    // walk's stack: all are fromJsonString's to answer.
    return undefined;
  }
}

/** Thrown (and caught in decodeJsonFast) where the fast path stops. */
const UNUSUAL = Symbol("unusual JSON");

function unusual(): never {
  throw UNUSUAL;
}

/** An enum name the enum does not have: protobuf-es ignores the value (ignoreUnknownFields). */
const IGNORED = Symbol("ignored enum value");

/** protobuf-es's default recursionLimit: the top message is depth 1. */
const maxDepth = 100;

/** Keys of the objects read so far; see duplicate-keys.ts. Decoding is synchronous: one counter serves all calls. */
let members = 0;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function readMessage(plan: JsonMessage, json: Record<string, unknown>, depth: number): Record<string, unknown> {
  if (depth > maxDepth) unusual();
  const msg = newMessage(plan.zero);
  const keys = Object.keys(json);
  members += keys.length;
  let oneofsSet: boolean[] | undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const v = json[key];
    const p = plan.byKey.get(key);
    if (p === undefined) {
      // An unknown field is ignored, but its objects count.
      members += membersInValue(v);
      continue;
    }
    // A field set by its proto name and its JSON name is an error.
    if (p.name !== p.jsonName && Object.prototype.hasOwnProperty.call(json, key === p.name ? p.jsonName : p.name)) unusual();
    if (p.oneof !== undefined) {
      // null for a scalar member is skipped; any other member sets the
      // oneof (null for an enum or message member clears it), at most once.
      if (v === null && p.value === SCALAR) continue;
      oneofsSet ??= [];
      if (oneofsSet[p.oneofIndex] === true) unusual();
      oneofsSet[p.oneofIndex] = true;
      if (v === null) continue;
      const value = readValue(p, v, depth);
      if (value !== IGNORED) msg[p.oneof] = { case: p.localName, value };
      continue;
    }
    // null resets a field, and a new message has none set.
    if (v === null) continue;
    switch (p.kind) {
      case SINGULAR: {
        const value = readValue(p, v, depth);
        if (value !== IGNORED) msg[p.localName] = value;
        break;
      }
      case LIST:
        readList(p, v, msg[p.localName] as unknown[], depth);
        break;
      default:
        readMap(p, v, msg[p.localName] as Record<string, unknown>, depth);
        break;
    }
  }
  return msg;
}

/** A singular value, list item or map value (not null: the callers decide what null means). */
function readValue(p: JsonField, v: unknown, depth: number): unknown {
  switch (p.value) {
    case SCALAR:
      return readScalar(p.scalar, p.longAsString, v);
    case ENUM:
      return readEnum(p.enumType!, v);
    default:
      if (!isObject(v)) unusual();
      return readMessage(childOf(p), v, depth + 1);
  }
}

function readList(p: JsonField, v: unknown, items: unknown[], depth: number): void {
  if (!Array.isArray(v)) unusual();
  for (let i = 0; i < v.length; i++) {
    const item: unknown = v[i];
    if (item === null) unusual();
    const value = readValue(p, item, depth);
    if (value !== IGNORED) items.push(value);
  }
}

function readMap(p: JsonField, v: unknown, record: Record<string, unknown>, depth: number): void {
  if (!isObject(v)) unusual();
  const keys = Object.keys(v);
  members += keys.length;
  for (let i = 0; i < keys.length; i++) {
    const key = mapKey(p.mapKey, keys[i]!);
    const item = v[key];
    if (item === null) unusual();
    const value = readValue(p, item, depth);
    if (value === IGNORED) continue;
    if (key === "__proto__") {
      Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
    } else {
      record[key] = value;
    }
  }
}

// Map keys in their canonical form only: protobuf-es makes "01" and "1" (or
// "-0" and "0") one key, and refuses the map when both are there.
const int32Key = /^(?:0|-?[1-9]\d{0,9})$/;
const uint32Key = /^(?:0|[1-9]\d{0,9})$/;
const int64Key = /^(?:0|-?[1-9]\d{0,18})$/;
const uint64Key = /^(?:0|[1-9]\d{0,19})$/;

/** A JSON map key as the message holds it: the same string, once it is a key of the type. */
function mapKey(type: ScalarType, key: string): string {
  switch (type) {
    case ScalarType.STRING:
      return key;
    case ScalarType.BOOL:
      if (key !== "true" && key !== "false") unusual();
      return key;
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      if (!int32Key.test(key)) unusual();
      int32(Number(key), INT32_MIN, INT32_MAX);
      return key;
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      if (!uint32Key.test(key)) unusual();
      int32(Number(key), 0, UINT32_MAX);
      return key;
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      if (!uint64Key.test(key)) unusual();
      int64(BigInt(key), 0n, UINT64_MAX);
      return key;
    default:
      if (!int64Key.test(key)) unusual();
      int64(BigInt(key), INT64_MIN, INT64_MAX);
      return key;
  }
}

// --- Scalars and enums ----------------------------------------------------

/** A number as a string that Number() reads as protobuf-es does (no whitespace, hex or "Infinity"). */
const decimal = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const decimalInteger = /^-?\d+$/;

function readScalar(type: ScalarType, longAsString: boolean, v: unknown): unknown {
  switch (type) {
    case ScalarType.STRING:
      // JSON escapes can make a lone surrogate, which protobuf-es refuses.
      if (typeof v !== "string" || !(v as string & { isWellFormed(): boolean }).isWellFormed()) unusual();
      return v;
    case ScalarType.BOOL:
      if (typeof v !== "boolean") unusual();
      return v;
    case ScalarType.BYTES: {
      const bytes = typeof v === "string" ? readBase64(v) : undefined;
      if (bytes === undefined) unusual();
      return bytes;
    }
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT: {
      let n: number;
      if (typeof v === "number") n = v;
      else if (v === "NaN") return Number.NaN;
      else if (v === "Infinity") return Number.POSITIVE_INFINITY;
      else if (v === "-Infinity") return Number.NEGATIVE_INFINITY;
      else if (typeof v === "string" && decimal.test(v)) n = Number(v);
      else unusual();
      // Past the range of a double (1e400), or of a float: an error.
      if (!Number.isFinite(n) || (type === ScalarType.FLOAT && !Number.isFinite(Math.fround(n)))) unusual();
      // Not rounded to a float32, as protobuf-es holds it.
      return n;
    }
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return int32(numberOf(v), INT32_MIN, INT32_MAX);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return int32(numberOf(v), 0, UINT32_MAX);
    case ScalarType.UINT64:
    case ScalarType.FIXED64: {
      const big = int64(bigintOf(v), 0n, UINT64_MAX);
      return longAsString ? String(v) : big;
    }
    default: {
      const big = int64(bigintOf(v), INT64_MIN, INT64_MAX);
      // protobuf-es keeps the JSON value's own text for jstype = JS_STRING.
      return longAsString ? String(v) : big;
    }
  }
}

function numberOf(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "string" && decimalInteger.test(v)) return Number(v);
  unusual();
}

function bigintOf(v: unknown): bigint {
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (typeof v === "string" && decimalInteger.test(v)) return BigInt(v);
  unusual();
}

function int32(n: number, min: number, max: number): number {
  if (!Number.isInteger(n) || n < min || n > max) unusual();
  return n;
}

function int64(n: bigint, min: bigint, max: bigint): bigint {
  if (n < min || n > max) unusual();
  return n;
}

/** An enum value by name (either of its names) or number; a closed enum takes only its values. */
function readEnum(e: JsonEnum, v: unknown): unknown {
  if (typeof v === "string") return e.numbers.get(v) ?? IGNORED;
  if (typeof v !== "number") unusual();
  if (e.open ? !Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX : !e.written.has(v)) unusual();
  return v;
}
