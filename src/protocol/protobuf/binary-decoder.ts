import { fromBinary, protoInt64, ScalarType, type DescField, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";
import { newMessage, zeroMessageOf, type ZeroMessage } from "./new-message.js";

/**
 * Protobuf binary decoding of request messages, with exactly the result of
 * @bufbuild/protobuf's fromBinary: the same own keys in the same order, the
 * same values and types, the same `$unknown` entries.
 *
 * Why not fromBinary itself: per message it allocates a BinaryReader with a
 * DataView and a read context, and runs create() through its general loop;
 * per tag it allocates a [fieldNo, wireType] array, per short ASCII string
 * an array of char codes. Here a plan per message type (cached like the
 * encoder's) drives one loop over the bytes, the read position and the last
 * value read live in module variables, and a new message is a copy of one
 * create() made once per type. On the benchmark's echo request it takes
 * about 0.7 µs where fromBinary takes 1.4 µs, 0.85 µs against 1.7 µs with a
 * nested message (Node 24, medians on this project's shared 2-core machine:
 * bench/src/scenarios/decode-cost.ts). Most of what is left is making the
 * strings, which both do alike.
 *
 * The fast path reads only what it can read exactly: proto3 and editions
 * messages without a prototype chain, open enums, no groups, no wrapper or
 * Struct fields (protobuf-es holds those as a scalar and as JSON). Any other
 * message type is decoded with fromBinary. So is any input the fast path
 * finds unusual (truncated, a wire type that is not the field's, an overlong
 * varint, recursion deeper than protobuf-es allows, invalid UTF-8, a group):
 * the whole message is decoded again with fromBinary, so that errors, and
 * whatever protobuf-es makes of odd input, are protobuf-es's own.
 * test/protocol/binary-decoder.test.ts compares the two decoders.
 */
export function decodeBinary<Desc extends DescMessage>(desc: Desc, bytes: Uint8Array): MessageShape<Desc> {
  return decodeFast(desc, bytes) ?? fromBinary(desc, bytes);
}

/**
 * The fast path alone: the message, or undefined when its type or these
 * bytes are left to fromBinary. (Exported for the tests, which check that
 * it reads whatever toBinary writes.)
 */
export function decodeFast<Desc extends DescMessage>(desc: Desc, bytes: Uint8Array): MessageShape<Desc> | undefined {
  const plan = planOf(desc);
  if (!plan.fast) return undefined;
  const msg = newMessage(plan.zero);
  return readMessage(plan, msg, bytes, 0, bytes.length, 1) === FAIL ? undefined : (msg as MessageShape<Desc>);
}

/** A read that cannot go on: the caller decodes the whole message with fromBinary instead. */
const FAIL = -1;

/** protobuf-es's default recursionLimit: the top message is depth 1. */
const maxDepth = 100;

/** Added to a 64-bit scalar type held as a decimal string (jstype = JS_STRING). */
const AS_STRING = 0x100;

// Field kinds of the plan.
const SCALAR = 1;
const ONEOF_SCALAR = 2;
const MESSAGE = 3;
const ONEOF_MESSAGE = 4;
const LIST = 5;
const MESSAGE_LIST = 6;
const MAP = 7;

interface FieldPlan {
  kind: number;
  localName: string;
  /** The oneof's local name, for ONEOF_SCALAR and ONEOF_MESSAGE. */
  oneof: string;
  /** Scalar type of the value, list element or map value (INT32 for enums), maybe | AS_STRING. */
  scalar: number;
  /** Wire type the field is written with; lists of numbers are also read packed. */
  wireType: number;
  packable: boolean;
  /** Strings: invalid UTF-8 is an error (fromBinary throws), not U+FFFD. */
  validate: boolean;
  /** Messages, message lists, maps with message values. */
  childDesc: DescMessage | undefined;
  child: MessagePlan | undefined;
  mapKey: number;
  /** Map entries: the value's kind, MESSAGE or SCALAR. */
  mapValue: number;
  /** Maps of enums: an entry without a value holds the enum's first value. */
  enumZero: number;
}

interface MessagePlan {
  /** Every field and every field of every message it can hold can be read here. */
  fast: boolean;
  /** What a new message starts from. */
  zero: ZeroMessage;
  /** Fields by number (dense up to the highest small number). */
  byNumber: (FieldPlan | undefined)[];
  /** Fields numbered past what byNumber holds. */
  sparse: Map<number, FieldPlan> | undefined;
}

/** Field numbers up to this are looked up in an array; higher ones in a Map. */
const denseLimit = 1024;

const plans = new WeakMap<DescMessage, MessagePlan>();

function planOf(desc: DescMessage): MessagePlan {
  let plan = plans.get(desc);
  if (plan !== undefined) return plan;
  plan = { fast: false, zero: zeroMessageOf(desc), byNumber: [], sparse: undefined };
  // Registered before the fields, so that recursive types find it.
  plans.set(desc, plan);
  for (const f of desc.fields) {
    const p = planField(f);
    if (f.number < denseLimit) {
      while (plan.byNumber.length <= f.number) plan.byNumber.push(undefined);
      plan.byNumber[f.number] = p;
    } else {
      (plan.sparse ??= new Map()).set(f.number, p);
    }
  }
  plan.fast = protoInt64.supported && allReadable(desc, new Set());
  return plan;
}

/**
 * The fast path reads `desc` and every message type it can hold, or none of
 * them: a message read here never hands part of itself to fromBinary.
 */
function allReadable(desc: DescMessage, seen: Set<DescMessage>): boolean {
  if (seen.has(desc)) return true;
  seen.add(desc);
  // A prototype chain holds the defaults of explicit-presence scalars (proto2, some editions).
  if (planOf(desc).zero.prototyped) return false;
  for (const f of desc.fields) {
    if (f.fieldKind === "enum" && !f.enum.open) return false;
    if ((f.fieldKind === "list" || f.fieldKind === "map") && f.enum !== undefined && !f.enum.open) return false;
    const m = f.message;
    if (m === undefined) continue;
    if (f.delimitedEncoding) return false;
    if (m.typeName === "google.protobuf.Struct" && desc.typeName !== "google.protobuf.Value") return false;
    if (f.fieldKind === "message" && f.oneof === undefined && isWrapperDesc(m)) return false;
    if (!allReadable(m, seen)) return false;
  }
  return true;
}

function planField(f: DescField): FieldPlan {
  const p: FieldPlan = {
    kind: SCALAR,
    localName: f.localName,
    oneof: f.oneof?.localName ?? "",
    scalar: ScalarType.INT32,
    wireType: 0,
    packable: false,
    validate: f.utf8Validation,
    childDesc: undefined,
    child: undefined,
    mapKey: 0,
    mapValue: SCALAR,
    enumZero: 0,
  };
  switch (f.fieldKind) {
    case "scalar":
      p.kind = f.oneof ? ONEOF_SCALAR : SCALAR;
      p.scalar = f.scalar | (f.longAsString ? AS_STRING : 0);
      p.wireType = wireTypeOf(f.scalar);
      break;
    case "enum":
      p.kind = f.oneof ? ONEOF_SCALAR : SCALAR;
      break;
    case "message":
      p.kind = f.oneof ? ONEOF_MESSAGE : MESSAGE;
      p.wireType = 2;
      p.childDesc = f.message;
      break;
    case "list":
      if (f.listKind === "message") {
        p.kind = MESSAGE_LIST;
        p.wireType = 2;
        p.childDesc = f.message;
      } else {
        p.kind = LIST;
        const scalar = f.listKind === "enum" ? ScalarType.INT32 : f.scalar;
        p.scalar = scalar | (f.listKind === "scalar" && f.longAsString ? AS_STRING : 0);
        p.wireType = wireTypeOf(scalar);
        p.packable = scalar !== ScalarType.STRING && scalar !== ScalarType.BYTES;
      }
      break;
    case "map":
      p.kind = MAP;
      p.wireType = 2;
      p.mapKey = f.mapKey;
      if (f.mapKind === "message") {
        p.mapValue = MESSAGE;
        p.childDesc = f.message;
      } else if (f.mapKind === "enum") {
        p.scalar = ScalarType.INT32;
        p.enumZero = f.enum.values[0]!.number;
      } else {
        p.scalar = f.scalar;
      }
      break;
  }
  return p;
}

function childPlan(p: FieldPlan): MessagePlan {
  return (p.child ??= planOf(p.childDesc!));
}

function wireTypeOf(scalar: number): number {
  switch (scalar) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return 1;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return 5;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return 2;
    default:
      return 0;
  }
}

// --- Reading -----------------------------------------------------------------
//
// Readers take the position and the end of the enclosing message and return
// the position after what they read, or FAIL; the value read is left in
// `value` (or `u32`, `lo` and `hi`). Decoding is synchronous and calls no
// user code, so module state serves every call.

let value: unknown;
let u32 = 0;
let lo = 0;
let hi = 0;
/** Tags: the field number and wire type of the last tag read. */
let fieldNo = 0;
let wireType = 0;

/**
 * Reads the fields of one message from `pos` to `end` into `msg` (a new
 * message, or one read before that this occurrence merges into).
 */
function readMessage(plan: MessagePlan, msg: Record<string, unknown>, buf: Uint8Array, pos: number, end: number, depth: number): number {
  if (depth > maxDepth) return FAIL;
  let unknown = msg.$unknown as { no: number; wireType: number; data: Uint8Array }[] | undefined;
  const byNumber = plan.byNumber;
  while (pos < end) {
    pos = readTag(buf, pos, end);
    if (pos === FAIL) return FAIL;
    const no = fieldNo;
    const wt = wireType;
    const p = no < byNumber.length ? byNumber[no] : plan.sparse?.get(no);
    if (p === undefined) {
      const start = pos;
      pos = skipField(buf, pos, end, wt);
      if (pos === FAIL) return FAIL;
      (unknown ??= []).push({ no, wireType: wt, data: buf.subarray(start, pos) });
      continue;
    }
    if (wt !== p.wireType && !(wt === 2 && p.packable)) return FAIL;
    switch (p.kind) {
      case SCALAR:
        pos = readScalar(p.scalar, p.validate, buf, pos, end);
        if (pos === FAIL) return FAIL;
        msg[p.localName] = value;
        break;
      case ONEOF_SCALAR:
        pos = readScalar(p.scalar, p.validate, buf, pos, end);
        if (pos === FAIL) return FAIL;
        msg[p.oneof] = { case: p.localName, value };
        break;
      case MESSAGE: {
        const child = childPlan(p);
        const existing = msg[p.localName] as Record<string, unknown> | undefined;
        const m = existing ?? newMessage(child.zero);
        pos = readLength(buf, pos, end);
        if (pos === FAIL) return FAIL;
        pos = readMessage(child, m, buf, pos, pos + u32, depth + 1);
        if (pos === FAIL) return FAIL;
        msg[p.localName] = m;
        break;
      }
      case ONEOF_MESSAGE: {
        const child = childPlan(p);
        const oneof = msg[p.oneof] as { case: string | undefined; value?: Record<string, unknown> };
        const m = oneof.case === p.localName ? oneof.value! : newMessage(child.zero);
        pos = readLength(buf, pos, end);
        if (pos === FAIL) return FAIL;
        pos = readMessage(child, m, buf, pos, pos + u32, depth + 1);
        if (pos === FAIL) return FAIL;
        msg[p.oneof] = { case: p.localName, value: m };
        break;
      }
      case LIST: {
        const items = msg[p.localName] as unknown[];
        if (wt === 2 && p.packable) {
          pos = readLength(buf, pos, end);
          if (pos === FAIL) return FAIL;
          const listEnd = pos + u32;
          while (pos < listEnd) {
            pos = readScalar(p.scalar, false, buf, pos, listEnd);
            if (pos === FAIL) return FAIL;
            items.push(value);
          }
        } else {
          pos = readScalar(p.scalar, p.validate, buf, pos, end);
          if (pos === FAIL) return FAIL;
          items.push(value);
        }
        break;
      }
      case MESSAGE_LIST: {
        const child = childPlan(p);
        const m = newMessage(child.zero);
        pos = readLength(buf, pos, end);
        if (pos === FAIL) return FAIL;
        pos = readMessage(child, m, buf, pos, pos + u32, depth + 1);
        if (pos === FAIL) return FAIL;
        (msg[p.localName] as unknown[]).push(m);
        break;
      }
      case MAP:
        pos = readMapEntry(p, msg[p.localName] as Record<string, unknown>, buf, pos, end, depth);
        if (pos === FAIL) return FAIL;
        break;
    }
  }
  // Like fromBinary: $unknown is set after the fields read, and only when there are some.
  if (unknown !== undefined && unknown.length > 0) msg.$unknown = unknown;
  return pos;
}

/** One map entry: key (field 1) and value (field 2), each defaulting to its zero value. */
function readMapEntry(p: FieldPlan, record: Record<string, unknown>, buf: Uint8Array, pos: number, end: number, depth: number): number {
  pos = readLength(buf, pos, end);
  if (pos === FAIL) return FAIL;
  const entryEnd = pos + u32;
  let key: unknown;
  let val: unknown;
  while (pos < entryEnd) {
    pos = readTag(buf, pos, entryEnd);
    if (pos === FAIL) return FAIL;
    if (fieldNo === 1) {
      if (wireType !== wireTypeOf(p.mapKey)) return FAIL;
      pos = readScalar(p.mapKey, p.validate, buf, pos, entryEnd);
      if (pos === FAIL) return FAIL;
      key = value;
    } else if (fieldNo === 2) {
      if (p.mapValue === MESSAGE) {
        if (wireType !== 2) return FAIL;
        const child = childPlan(p);
        // A second value in one entry merges into the first, as a singular message field does.
        const m = (val ?? newMessage(child.zero)) as Record<string, unknown>;
        pos = readLength(buf, pos, entryEnd);
        if (pos === FAIL) return FAIL;
        pos = readMessage(child, m, buf, pos, pos + u32, depth + 1);
        if (pos === FAIL) return FAIL;
        val = m;
      } else {
        if (wireType !== wireTypeOf(p.scalar)) return FAIL;
        pos = readScalar(p.scalar, p.validate, buf, pos, entryEnd);
        if (pos === FAIL) return FAIL;
        val = value;
      }
    } else {
      // Other fields of an entry are skipped and dropped.
      pos = skipField(buf, pos, entryEnd, wireType);
      if (pos === FAIL) return FAIL;
    }
  }
  if (key === undefined) key = zeroOf(p.mapKey);
  if (val === undefined) val = p.mapValue === MESSAGE ? newMessage(childPlan(p).zero) : p.enumZero !== 0 ? p.enumZero : zeroOf(p.scalar);
  // Keys are booleans, numbers, bigints or strings; the object key is their string form.
  if (key === "__proto__") {
    Object.defineProperty(record, key, { value: val, writable: true, enumerable: true, configurable: true });
  } else {
    record[key as string] = val;
  }
  return pos;
}

/** Zero value of a map key or value; bytes are a new array per entry, as in fromBinary. */
function zeroOf(scalar: number): unknown {
  switch (scalar) {
    case ScalarType.STRING:
      return "";
    case ScalarType.BOOL:
      return false;
    case ScalarType.BYTES:
      return new Uint8Array(0);
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return 0n;
    default:
      return 0;
  }
}

/**
 * A tag: a varint of at most 5 bytes fitting 32 bits, a field number above
 * zero and a wire type 0–5 (else fromBinary throws). Sets fieldNo and wireType.
 */
function readTag(buf: Uint8Array, pos: number, end: number): number {
  let b = buf[pos++]!;
  let tag = b;
  if (b >= 0x80) {
    tag &= 0x7f;
    let shift = 7;
    for (;;) {
      if (pos >= end) return FAIL;
      b = buf[pos++]!;
      if (shift === 28) {
        if (b > 0x0f) return FAIL;
        tag = (tag | (b << 28)) >>> 0;
        break;
      }
      tag |= (b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7;
    }
  }
  fieldNo = tag >>> 3;
  wireType = tag & 7;
  if (fieldNo === 0 || wireType > 5) return FAIL;
  return pos;
}

/**
 * A length prefix: at most 5 bytes, and what it measures must lie within
 * `end` (fromBinary reads a longer message past its end; so does nothing
 * here). Sets u32.
 */
function readLength(buf: Uint8Array, pos: number, end: number): number {
  pos = readVarint32(buf, pos, end);
  if (pos === FAIL || u32 > end - pos) return FAIL;
  return pos;
}

/**
 * A varint's low 32 bits, in u32 (unsigned), as protobuf-es reads int32,
 * uint32 and lengths: up to 10 bytes, the bits past 32 ignored.
 */
function readVarint32(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) return FAIL;
  let b = buf[pos++]!;
  if (b < 0x80) {
    u32 = b;
    return pos;
  }
  let v = b & 0x7f;
  for (let shift = 7; shift < 28; shift += 7) {
    if (pos >= end) return FAIL;
    b = buf[pos++]!;
    v |= (b & 0x7f) << shift;
    if (b < 0x80) {
      u32 = v;
      return pos;
    }
  }
  if (pos >= end) return FAIL;
  b = buf[pos++]!;
  v |= (b & 0x0f) << 28;
  for (let n = 5; b >= 0x80; n++) {
    if (n === 10 || pos >= end) return FAIL;
    b = buf[pos++]!;
  }
  u32 = v >>> 0;
  return pos;
}

/** A 64-bit varint, into lo and hi (unsigned words); more than 10 bytes is an error. */
function readVarint64(buf: Uint8Array, pos: number, end: number): number {
  let l = 0;
  let b = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) return FAIL;
    b = buf[pos++]!;
    l |= (b & 0x7f) << shift;
    if (b < 0x80) {
      lo = l >>> 0;
      hi = 0;
      return pos;
    }
  }
  if (pos >= end) return FAIL;
  b = buf[pos++]!;
  l |= (b & 0x0f) << 28;
  let h = (b & 0x70) >> 4;
  if (b >= 0x80) {
    for (let shift = 3; ; shift += 7) {
      if (shift > 31 || pos >= end) return FAIL;
      b = buf[pos++]!;
      h |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
  }
  lo = l >>> 0;
  hi = h >>> 0;
  return pos;
}

/** Skips one unknown field's value; groups are left to fromBinary. */
function skipField(buf: Uint8Array, pos: number, end: number, wt: number): number {
  switch (wt) {
    case 0:
      // Any number of bytes, as fromBinary accepts.
      while (pos < end) if (buf[pos++]! < 0x80) return pos;
      return FAIL;
    case 1:
      return pos + 8 <= end ? pos + 8 : FAIL;
    case 5:
      return pos + 4 <= end ? pos + 4 : FAIL;
    case 2:
      pos = readLength(buf, pos, end);
      return pos === FAIL ? FAIL : pos + u32;
    default:
      return FAIL;
  }
}

// Floats and doubles: their bits go through one scratch DataView, not a view per call.
const scratch = new DataView(new ArrayBuffer(8));

// 64-bit integers, too: the optimising compiler makes a bigint from a
// DataView in a few instructions, where BigInt(number) is a runtime call.
function uint64(l: number, h: number): bigint {
  scratch.setUint32(0, l, true);
  scratch.setUint32(4, h, true);
  return scratch.getBigUint64(0, true);
}

function int64(l: number, h: number): bigint {
  scratch.setUint32(0, l, true);
  scratch.setUint32(4, h, true);
  return scratch.getBigInt64(0, true);
}

function fixed32(buf: Uint8Array, pos: number): number {
  return (buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 24)) >>> 0;
}

/** Reads one scalar value of `type` (a ScalarType, maybe | AS_STRING) into `value`. */
function readScalar(type: number, validate: boolean, buf: Uint8Array, pos: number, end: number): number {
  switch (type) {
    case ScalarType.STRING:
      return readString(validate, buf, pos, end);
    case ScalarType.BYTES:
      pos = readLength(buf, pos, end);
      if (pos === FAIL) return FAIL;
      // A view of the input, as fromBinary returns (a Buffer when the input is one).
      value = buf.subarray(pos, pos + u32);
      return pos + u32;
    case ScalarType.INT32:
      pos = readVarint32(buf, pos, end);
      value = u32 | 0;
      return pos;
    case ScalarType.UINT32:
      pos = readVarint32(buf, pos, end);
      value = u32;
      return pos;
    case ScalarType.SINT32:
      pos = readVarint32(buf, pos, end);
      value = (u32 >>> 1) ^ -(u32 & 1);
      return pos;
    case ScalarType.BOOL: {
      if (pos >= end) return FAIL;
      const b = buf[pos]!;
      if (b < 0x80) {
        value = b !== 0;
        return pos + 1;
      }
      pos = readVarint64(buf, pos, end);
      value = lo !== 0 || hi !== 0;
      return pos;
    }
    case ScalarType.DOUBLE:
      if (pos + 8 > end) return FAIL;
      scratch.setUint32(0, fixed32(buf, pos), true);
      scratch.setUint32(4, fixed32(buf, pos + 4), true);
      value = scratch.getFloat64(0, true);
      return pos + 8;
    case ScalarType.FLOAT:
      if (pos + 4 > end) return FAIL;
      scratch.setUint32(0, fixed32(buf, pos), true);
      value = scratch.getFloat32(0, true);
      return pos + 4;
    case ScalarType.FIXED32:
      if (pos + 4 > end) return FAIL;
      value = fixed32(buf, pos);
      return pos + 4;
    case ScalarType.SFIXED32:
      if (pos + 4 > end) return FAIL;
      value = fixed32(buf, pos) | 0;
      return pos + 4;
    case ScalarType.FIXED64:
    case ScalarType.FIXED64 | AS_STRING:
      if (pos + 8 > end) return FAIL;
      value = uint64(fixed32(buf, pos), fixed32(buf, pos + 4));
      if (type & AS_STRING) value = String(value);
      return pos + 8;
    case ScalarType.SFIXED64:
    case ScalarType.SFIXED64 | AS_STRING:
      if (pos + 8 > end) return FAIL;
      value = int64(fixed32(buf, pos), fixed32(buf, pos + 4));
      if (type & AS_STRING) value = String(value);
      return pos + 8;
    case ScalarType.INT64:
    case ScalarType.INT64 | AS_STRING:
      pos = readVarint64(buf, pos, end);
      value = int64(lo, hi);
      if (type & AS_STRING) value = String(value);
      return pos;
    case ScalarType.UINT64:
    case ScalarType.UINT64 | AS_STRING:
      pos = readVarint64(buf, pos, end);
      value = uint64(lo, hi);
      if (type & AS_STRING) value = String(value);
      return pos;
    case ScalarType.SINT64:
    case ScalarType.SINT64 | AS_STRING: {
      pos = readVarint64(buf, pos, end);
      const sign = -(lo & 1);
      value = int64((((lo >>> 1) | ((hi & 1) << 31)) ^ sign) >>> 0, ((hi >>> 1) ^ sign) >>> 0);
      if (type & AS_STRING) value = String(value);
      return pos;
    }
  }
  return FAIL;
}

/**
 * Strings up to this many bytes are checked for ASCII here, as protobuf-es
 * does (so longer ones go to TextDecoder in both decoders).
 */
const shortString = 32;

// Configured as protobuf-es configures its decoders: a leading U+FEFF is
// text, not a byte-order mark; `fatal` throws on invalid UTF-8.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenientUtf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Char codes of short ASCII strings, one reused array per length: the
 * string is made by String.fromCharCode without an array per string.
 */
const codesByLength: number[][] = [];
for (let n = 0; n <= shortString; n++) codesByLength.push(new Array<number>(n).fill(0));

function readString(validate: boolean, buf: Uint8Array, pos: number, end: number): number {
  pos = readLength(buf, pos, end);
  if (pos === FAIL) return FAIL;
  const stop = pos + u32;
  if (u32 === 0) {
    value = "";
    return stop;
  }
  if (u32 <= shortString) {
    const codes = codesByLength[u32]!;
    let i = pos;
    for (; i < stop; i++) {
      const b = buf[i]!;
      if (b >= 0x80) break;
      codes[i - pos] = b;
    }
    if (i === stop) {
      value = String.fromCharCode.apply(String, codes);
      return stop;
    }
  }
  if (!validate) {
    value = lenientUtf8.decode(buf.subarray(pos, stop));
    return stop;
  }
  return decodeStrict(buf, pos, stop);
}

/** Invalid UTF-8 where it is validated: fromBinary throws, so it is left to fromBinary. */
function decodeStrict(buf: Uint8Array, pos: number, stop: number): number {
  try {
    value = strictUtf8.decode(buf.subarray(pos, stop));
    return stop;
  } catch {
    return FAIL;
  }
}
