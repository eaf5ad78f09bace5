import { protoInt64, ScalarType, type DescEnum, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { hasCustomJsonRepresentation } from "@bufbuild/protobuf/wkt";
import { zeroMessageOf, type ZeroMessage } from "../protobuf/new-message.js";

/**
 * What Sluice's proto3 JSON codec (json-encoder.ts, json-decoder.ts) knows
 * about a message type, worked out once per type.
 *
 * The codec handles a type when it can read and write it exactly as
 * protobuf-es does, and leaves the whole message (every call of the type)
 * to protobuf-es's toJsonString / fromJsonString otherwise. Left to
 * protobuf-es, because their JSON is not the JSON of their fields:
 *   - the well-known types with a JSON form of their own, anywhere in the
 *     message: google.protobuf.Any (which needs the registry), Timestamp,
 *     Duration, FieldMask, Struct, Value, ListValue and the wrappers;
 *   - fields of the enum google.protobuf.NullValue (written as null);
 *   - messages that can be extended (extension ranges): extensions are
 *     written from the registry and read from "[name]" keys;
 *   - two fields sharing a JSON key (a json_name that is another field's
 *     name), which protobuf-es resolves by declaration order;
 *   - every message when protobuf-es runs without bigint
 *     (BUF_BIGINT_DISABLE=1), where 64-bit integers are strings.
 * google.protobuf.Empty and other messages of the google.protobuf package
 * whose JSON is plain are handled here.
 */
export interface JsonMessage {
  typeName: string;
  /** False: protobuf-es reads and writes this type (see above). */
  handled: boolean;
  /** In the order protobuf-es writes them (see writeOrder). */
  fields: JsonField[];
  /** Fields by proto name and JSON name: the keys a message is read from. */
  byKey: Map<string, JsonField>;
  /** Field and oneof local names: the keys an init object may have. */
  members: Set<string>;
  /** What a decoded message starts from. */
  zero: ZeroMessage;
}

export interface JsonField {
  kind: number;
  localName: string;
  name: string;
  jsonName: string;
  /** `"jsonName":`, as written. */
  key: string;
  asciiKey: boolean;
  /** The oneof's local name and index in the message, for members of one. */
  oneof: string | undefined;
  oneofIndex: number;
  /** The first field of its oneof: the one that checks the oneof object. */
  firstInOneof: boolean;
  /** IMPLICIT, EXPLICIT or LEGACY_REQUIRED. */
  presence: number;
  /** Singular fields, list items and map values: SCALAR, ENUM or MESSAGE. */
  value: number;
  /** Scalar type of the value, list item or map value. */
  scalar: ScalarType;
  /** A 64-bit integer held as a decimal string (jstype = JS_STRING). */
  longAsString: boolean;
  mapKey: ScalarType;
  enumType: JsonEnum | undefined;
  childDesc: DescMessage | undefined;
  child: JsonMessage | undefined;
}

export interface JsonEnum {
  typeName: string;
  open: boolean;
  /** The first value: the zero of an implicit-presence field. */
  zero: number;
  /** Each value's JSON name as written (quoted), by number. */
  written: Map<number, string>;
  /** All the names are ASCII. */
  ascii: boolean;
  /** Numbers by JSON name and proto name (the proto name wins, as in protobuf-es). */
  numbers: Map<string, number>;
}

// Field kinds.
export const SINGULAR = 1;
export const LIST = 2;
export const MAP = 3;

// Kinds of a value (singular, list item, map value).
export const SCALAR = 1;
export const ENUM = 2;
export const MESSAGE = 3;

export const IMPLICIT = 2;
export const LEGACY_REQUIRED = 3;

const plans = new WeakMap<DescMessage, JsonMessage>();
const enums = new WeakMap<DescEnum, JsonEnum>();

export function jsonPlanOf(desc: DescMessage): JsonMessage {
  let plan = plans.get(desc);
  if (plan !== undefined) return plan;
  plan = {
    typeName: desc.typeName,
    handled: false,
    fields: [],
    byKey: new Map(),
    members: new Set(desc.members.map((m) => m.localName)),
    zero: zeroMessageOf(desc),
  };
  const byField = new Map<DescField, JsonField>();
  let sharedKey = false;
  for (const f of desc.fields) {
    const p = planField(f);
    byField.set(f, p);
    // Keys as protobuf-es looks them up: proto name, then JSON name, in declaration order.
    for (const key of [f.name, f.jsonName]) {
      const other = plan.byKey.get(key);
      if (other !== undefined && other !== p) sharedKey = true;
      plan.byKey.set(key, p);
    }
  }
  plan.fields = writeOrder(desc.fields).map((f) => byField.get(f)!);
  plan.handled = !sharedKey && protoInt64.supported && allHandled(desc, new Set());
  plans.set(desc, plan);
  return plan;
}

/**
 * protobuf-es builds a JSON object with the fields in field-number order
 * and JSON.stringify writes its keys: those that are array indices ("7",
 * from a json_name) first, in numeric order, then the others as inserted.
 */
function writeOrder(fields: readonly DescField[]): DescField[] {
  const byNumber = fields.concat().sort((a, b) => a.number - b.number);
  const indices = byNumber.filter((f) => isArrayIndex(f.jsonName)).sort((a, b) => Number(a.jsonName) - Number(b.jsonName));
  return indices.concat(byNumber.filter((f) => !isArrayIndex(f.jsonName)));
}

function isAscii(s: string): boolean {
  return /^[\x00-\x7f]*$/.test(s);
}

function isArrayIndex(key: string): boolean {
  return /^(0|[1-9]\d*)$/.test(key) && Number(key) < 2 ** 32 - 1;
}

/** The codec handles `desc` and every message type it can hold, or none of them. */
function allHandled(desc: DescMessage, seen: Set<DescMessage>): boolean {
  if (seen.has(desc)) return true;
  seen.add(desc);
  if (hasCustomJsonRepresentation(desc)) return false;
  if (desc.proto.extensionRange.length > 0) return false;
  for (const f of desc.fields) {
    if (f.enum?.typeName === "google.protobuf.NullValue") return false;
    if (f.message !== undefined && !allHandled(f.message, seen)) return false;
  }
  return true;
}

function planField(f: DescField): JsonField {
  const p: JsonField = {
    kind: SINGULAR,
    localName: f.localName,
    name: f.name,
    jsonName: f.jsonName,
    key: `${JSON.stringify(f.jsonName)}:`,
    asciiKey: isAscii(f.jsonName),
    oneof: f.oneof?.localName,
    oneofIndex: f.oneof === undefined ? -1 : f.parent.oneofs.indexOf(f.oneof),
    firstInOneof: f.oneof !== undefined && f.oneof.fields[0] === f,
    presence: f.presence,
    value: SCALAR,
    scalar: ScalarType.INT32,
    longAsString: false,
    mapKey: ScalarType.STRING,
    enumType: undefined,
    childDesc: undefined,
    child: undefined,
  };
  switch (f.fieldKind) {
    case "list":
      p.kind = LIST;
      planValue(p, f, f.listKind);
      break;
    case "map":
      p.kind = MAP;
      p.mapKey = f.mapKey;
      planValue(p, f, f.mapKind);
      break;
    default:
      planValue(p, f, f.fieldKind);
  }
  return p;
}

/** The value of a singular field, a list item or a map value. */
function planValue(p: JsonField, f: DescField, kind: "scalar" | "enum" | "message"): void {
  switch (kind) {
    case "scalar":
      p.scalar = f.scalar!;
      // (Map values are never held as strings.)
      p.longAsString = f.fieldKind !== "map" && (f as { longAsString?: boolean }).longAsString === true;
      break;
    case "enum":
      p.value = ENUM;
      p.enumType = enumOf(f.enum!);
      break;
    case "message":
      p.value = MESSAGE;
      p.childDesc = f.message;
      break;
  }
}

function enumOf(desc: DescEnum): JsonEnum {
  let e = enums.get(desc);
  if (e !== undefined) return e;
  e = { typeName: desc.typeName, open: desc.open, zero: desc.values[0]!.number, written: new Map(), ascii: desc.values.every((v) => isAscii(v.jsonName)), numbers: new Map() };
  for (const v of desc.values) {
    // Of aliases (allow_alias), the first declared, as desc.value holds.
    e.written.set(v.number, JSON.stringify(desc.value[v.number]!.jsonName));
    e.numbers.set(v.jsonName, v.number);
  }
  for (const v of desc.values) e.numbers.set(v.name, v.number);
  enums.set(desc, e);
  return e;
}

/** The plan of a field's message type (its value, list items or map values). */
export function childOf(p: JsonField): JsonMessage {
  return (p.child ??= jsonPlanOf(p.childDesc!));
}
