import { ScalarType, type DescEnum, type DescField, type DescMessage, type DescOneof } from "@bufbuild/protobuf";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";
import { didYouMean } from "../nearest-name.js";
import { INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, UINT32_MAX, UINT64_MAX } from "../protocol/protobuf/integer-ranges.js";

/** What is wrong with a response, and where. */
export interface ResponseProblem {
  /** Field path from the response message, e.g. `items[2].labels["k"]`; "" for the message itself. */
  path: string;
  /** What was expected and what was found. */
  problem: string;
}

/**
 * Checks what a handler returned (a message, or an init object in
 * protobuf-es's MessageInitShape) against the method's output schema, before
 * it is serialized. Returns undefined when it is fine.
 *
 * Stricter than `create()`, on purpose: protobuf-es takes an init object as
 * it is, so a number in a string field is written as text and `{}` in a
 * string field fails deep inside serialization with its own words. Here a
 * value of the wrong type, `null`, a field the message does not have, a
 * message of another type or a malformed oneof, list or map is a problem
 * with a path. The one representation change accepted is a safe-integer
 * number for a 64-bit field, which is exact.
 *
 * The success path allocates nothing: it walks the value's own keys against
 * a per-schema lookup built once.
 */
export function checkResponse(schema: DescMessage, value: unknown): ResponseProblem | undefined {
  const failure = checkMessage(schema, value);
  if (failure === undefined) return undefined;
  return { path: failure.path.reverse().join("").replace(/^\./, ""), problem: failure.problem };
}

/** A problem with its path segments, innermost first (added while unwinding). */
interface Failure {
  path: string[];
  problem: string;
}

interface Shape {
  /** Field and oneof local names → member; fields inside a oneof are reached through it. */
  members: Map<string, DescField | DescOneof>;
  required: DescField[];
}

const shapes = new WeakMap<DescMessage, Shape>();
const LEGACY_REQUIRED = 3;

function shapeOf(desc: DescMessage): Shape {
  let shape = shapes.get(desc);
  if (shape === undefined) {
    const members = new Map<string, DescField | DescOneof>();
    for (const m of desc.members) members.set(m.localName, m);
    shape = { members, required: desc.fields.filter((f) => (f.presence as number) === LEGACY_REQUIRED) };
    shapes.set(desc, shape);
  }
  return shape;
}

function fail(problem: string, segment?: string): Failure {
  return { path: segment === undefined ? [] : [segment], problem };
}

function checkMessage(desc: DescMessage, value: unknown): Failure | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value) || ArrayBuffer.isView(value)) {
    return fail(`expected a ${desc.typeName} message (an object), got ${describe(value)}`);
  }
  const typeName = (value as { $typeName?: unknown }).$typeName;
  if (typeName !== undefined && typeName !== desc.typeName) {
    return fail(`expected a ${desc.typeName} message, got a ${String(typeName)} message`);
  }
  const shape = shapeOf(desc);
  const record = value as Record<string, unknown>;
  // for-in, not Object.keys: no array per message. It also sees the
  // prototype's field defaults of proto2 messages, which are valid.
  for (const key in record) {
    if (key === "$typeName") continue;
    const v = record[key];
    if (key === "$unknown") {
      if (v !== undefined && !Array.isArray(v)) return fail(`expected the unknown fields $unknown to be an array, got ${describe(v)}`);
      continue;
    }
    const member = shape.members.get(key);
    if (member === undefined) {
      if (v === undefined) continue;
      return fail(`${desc.typeName} has no field "${key}"${didYouMean(key, shape.members.keys())}`, `.${key}`);
    }
    const failure = member.kind === "oneof" ? checkOneof(member, v) : checkField(member, v);
    if (failure !== undefined) {
      failure.path.push(`.${key}`);
      return failure;
    }
  }
  for (const field of shape.required) {
    const v = record[field.localName];
    if (v === undefined) return fail(`required field ${field.localName} is not set`, `.${field.localName}`);
  }
  return undefined;
}

function checkOneof(oneof: DescOneof, value: unknown): Failure | undefined {
  if (value === undefined) return undefined;
  const cases = oneof.fields.map((f) => `"${f.localName}"`).join(", ");
  const shape = `{ case: ${cases} or undefined, value }`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail(`oneof ${oneof.localName} must be ${shape}, got ${describe(value)}`);
  }
  const record = value as Record<string, unknown>;
  const which = record.case;
  for (const key in record) {
    if (key !== "case" && key !== "value") return fail(`oneof ${oneof.localName} must be ${shape}; "${key}" is not part of it`);
  }
  if (which === undefined) {
    return record.value === undefined ? undefined : fail(`oneof ${oneof.localName} has a value but no case; set case to one of ${cases}`);
  }
  const field = typeof which === "string" ? oneof.fields.find((f) => f.localName === which) : undefined;
  if (field === undefined) return fail(`oneof ${oneof.localName} has case ${describe(which)}; expected one of ${cases} or undefined`);
  if (record.value === undefined) return fail(`oneof ${oneof.localName} has case "${which}" but no value`, `.${which}`);
  const failure = checkField(field, record.value);
  if (failure !== undefined) failure.path.push(`.${which}`);
  return failure;
}

function checkField(field: DescField, value: unknown): Failure | undefined {
  if (value === undefined) return undefined;
  if (value === null) return fail(`null is not a value for ${describeField(field)}; leave the field out (undefined) for its default`);
  switch (field.fieldKind) {
    case "scalar":
      return checkScalar(field.scalar, field.longAsString, value);
    case "enum":
      return checkEnum(field.enum, value);
    case "message":
      return checkMessageField(field, value, !field.oneof);
    case "list": {
      if (!Array.isArray(value)) return fail(`expected a list (array) for ${describeField(field)}, got ${describe(value)}`);
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        const failure = item === undefined || item === null
          ? fail(`list items cannot be ${String(item)}`)
          : field.listKind === "scalar" ? checkScalar(field.scalar, field.longAsString, item)
          : field.listKind === "enum" ? checkEnum(field.enum, item)
          : checkMessageField(field, item, false);
        if (failure !== undefined) {
          failure.path.push(`[${i}]`);
          return failure;
        }
      }
      return undefined;
    }
    case "map": {
      if (typeof value !== "object" || Array.isArray(value) || value instanceof Map || ArrayBuffer.isView(value)) {
        return fail(`expected a map (a plain object keyed by ${scalarName(field.mapKey)}) for ${describeField(field)}, got ${describe(value)}`);
      }
      const record = value as Record<string, unknown>;
      for (const key in record) {
        const keyProblem = checkMapKey(field.mapKey, key);
        const item = record[key];
        const failure = keyProblem !== undefined ? fail(keyProblem)
          : item === undefined || item === null ? fail(`map values cannot be ${String(item)}`)
          : field.mapKind === "scalar" ? checkScalar(field.scalar, false, item)
          : field.mapKind === "enum" ? checkEnum(field.enum, item)
          : checkMessageField(field, item, false);
        if (failure !== undefined) {
          failure.path.push(`[${JSON.stringify(key)}]`);
          return failure;
        }
      }
      return undefined;
    }
  }
}

/**
 * A message-typed value. protobuf-es represents two kinds differently from
 * other messages: a singular wrapper field outside a oneof holds the bare
 * scalar (`string | undefined` for StringValue), and google.protobuf.Struct
 * (outside google.protobuf.Value) holds a JSON object.
 */
function checkMessageField(field: DescField & { message: DescMessage }, value: unknown, singular: boolean): Failure | undefined {
  const desc = field.message;
  if (singular && isWrapperDesc(desc)) {
    const inner = desc.fields[0]!;
    return inner.fieldKind === "scalar" ? checkScalar(inner.scalar, inner.longAsString, value) : undefined;
  }
  if (desc.typeName === "google.protobuf.Struct" && field.parent.typeName !== "google.protobuf.Value") {
    return checkJsonObject(value);
  }
  return checkMessage(desc, value);
}

function checkScalar(type: ScalarType, longAsString: boolean, value: unknown): Failure | undefined {
  switch (type) {
    case ScalarType.STRING:
      if (typeof value !== "string") return expected("a string", value);
      // A lone surrogate would silently become U+FFFD in UTF-8.
      return (value as string & { isWellFormed(): boolean }).isWellFormed() ? undefined : fail("the string is not valid Unicode (a lone surrogate); it cannot be sent as UTF-8");
    case ScalarType.BOOL:
      return typeof value === "boolean" ? undefined : expected("a boolean", value);
    case ScalarType.BYTES:
      return value instanceof Uint8Array ? undefined : expected("bytes (a Uint8Array)", value);
    case ScalarType.DOUBLE:
      return typeof value === "number" ? undefined : expected("a number (double)", value);
    case ScalarType.FLOAT:
      if (typeof value !== "number") return expected("a number (float)", value);
      // Too large for a float32 would silently become Infinity on the wire.
      return Number.isFinite(value) && !Number.isFinite(Math.fround(value)) ? fail(`${value} is out of range for a float`) : undefined;
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return checkInt32(value, INT32_MIN, INT32_MAX, "an int32");
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return checkInt32(value, 0, UINT32_MAX, "a uint32");
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return checkInt64(value, INT64_MIN, INT64_MAX, "int64", longAsString);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return checkInt64(value, 0n, UINT64_MAX, "uint64", longAsString);
  }
}

function checkInt32(value: unknown, min: number, max: number, what: string): Failure | undefined {
  if (typeof value !== "number" || !Number.isInteger(value)) return expected(`${what} (an integer number)`, value);
  return value < min || value > max ? fail(`${value} is out of range for ${what}`) : undefined;
}

function checkInt64(value: unknown, min: bigint, max: bigint, what: string, longAsString: boolean): Failure | undefined {
  let n: bigint;
  if (longAsString) {
    // jstype = JS_STRING: the generated type is a decimal string.
    if (typeof value !== "string" || !/^-?\d+$/.test(value)) return expected(`${what} as a decimal string (jstype JS_STRING)`, value);
    n = BigInt(value);
  } else if (typeof value === "bigint") {
    n = value;
  } else if (typeof value === "number" && Number.isSafeInteger(value)) {
    return value < Number(min) || value > Number(max) ? fail(`${value} is out of range for ${what}`) : undefined;
  } else if (typeof value === "number" && Number.isInteger(value)) {
    return fail(`${value} is not a safe integer, so it may not be the number meant; use a bigint for ${what}`);
  } else {
    return expected(`${what} (a bigint, or a safe integer number)`, value);
  }
  return n < min || n > max ? fail(`${String(value)} is out of range for ${what}`) : undefined;
}

function checkEnum(desc: DescEnum, value: unknown): Failure | undefined {
  if (typeof value !== "number" || !Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
    return expected(`a ${desc.typeName} value (a number such as ${desc.values[0]?.number ?? 0} for ${desc.values[0]?.name ?? "the first value"})`, value);
  }
  // A closed (proto2) enum cannot carry a number it does not declare.
  if (!desc.open && desc.value[value] === undefined) return fail(`${value} is not a value of the closed enum ${desc.typeName}`);
  return undefined;
}

function checkMapKey(type: ScalarType, key: string): string | undefined {
  switch (type) {
    case ScalarType.STRING:
      return undefined;
    case ScalarType.BOOL:
      return key === "true" || key === "false" ? undefined : `map key ${JSON.stringify(key)} is not "true" or "false"`;
    default:
      return /^-?\d+$/.test(key) ? undefined : `map key ${JSON.stringify(key)} is not an integer (${scalarName(type)})`;
  }
}

function checkJsonObject(value: unknown): Failure | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) {
    return expected("a JSON object (google.protobuf.Struct)", value);
  }
  return checkJsonValue(value);
}

function checkJsonValue(value: unknown): Failure | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value) ? undefined : fail(`${value} is not a JSON number`);
    case "object": {
      if (value === null) return undefined;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const failure = checkJsonValue(value[i]);
          if (failure !== undefined) {
            failure.path.push(`[${i}]`);
            return failure;
          }
        }
        return undefined;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return expected("a JSON value", value);
      const record = value as Record<string, unknown>;
      for (const key in record) {
        const failure = checkJsonValue(record[key]);
        if (failure !== undefined) {
          failure.path.push(`[${JSON.stringify(key)}]`);
          return failure;
        }
      }
      return undefined;
    }
    default:
      return expected("a JSON value", value);
  }
}

function expected(what: string, value: unknown): Failure {
  return fail(`expected ${what}, got ${describe(value)}`);
}

function describeField(field: DescField): string {
  return `field ${field.localName}`;
}

const scalarNames: Record<ScalarType, string> = {
  [ScalarType.DOUBLE]: "double", [ScalarType.FLOAT]: "float", [ScalarType.INT64]: "int64", [ScalarType.UINT64]: "uint64",
  [ScalarType.INT32]: "int32", [ScalarType.FIXED64]: "fixed64", [ScalarType.FIXED32]: "fixed32", [ScalarType.BOOL]: "bool",
  [ScalarType.STRING]: "string", [ScalarType.BYTES]: "bytes", [ScalarType.UINT32]: "uint32", [ScalarType.SFIXED32]: "sfixed32",
  [ScalarType.SFIXED64]: "sfixed64", [ScalarType.SINT32]: "sint32", [ScalarType.SINT64]: "sint64",
};

function scalarName(type: ScalarType): string {
  return scalarNames[type];
}

/** A short, safe description of a value for a message: never its whole content. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
    case "number":
    case "bigint":
      return `the ${typeof value} ${String(value)}`;
    case "boolean":
      return `the boolean ${String(value)}`;
    case "undefined":
      return "undefined";
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
    default: {
      if (Array.isArray(value)) return `an array (length ${value.length})`;
      if (value instanceof Uint8Array) return `bytes (length ${value.length})`;
      if (value instanceof Map) return "a Map";
      if (value instanceof Date) return "a Date";
      const typeName = (value as { $typeName?: unknown }).$typeName;
      if (typeof typeName === "string") return `a ${typeName} message`;
      const keys = Object.keys(value);
      return keys.length === 0 ? "an empty object {}" : `an object with keys ${keys.slice(0, 4).join(", ")}${keys.length > 4 ? ", …" : ""}`;
    }
  }
}
