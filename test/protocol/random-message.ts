// Random messages of any schema, with values at the edges of every type,
// for the codecs' property tests (binary-decoder.test.ts, json-*.test.ts).
import { create, ScalarType, type DescEnum, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";

export type Rand = () => number;

/** A small deterministic PRNG (mulberry32), so that a failure can be replayed from its seed. */
export function rng(seed: number): Rand {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
export const int = (r: Rand, below: number): number => Math.floor(r() * below);

/** Nested messages stop here, so that recursive types end. */
const maxDepth = 3;

const strings = [
  "",
  "a",
  "req-0000042",
  "x".repeat(31),
  "y".repeat(32),
  "z".repeat(33),
  "ünïcödé",
  "日本語のテキスト",
  "😀",
  "a😀b𝄞c",
  "\ufeffleading byte-order mark",
  "nul \u0000 inside",
  "\u007f\u0080\u07ff\u0800\uffff",
  "long ascii ".repeat(100),
  "mixed € 😀 ".repeat(40),
];

function randomBigint(r: Rand, bits: number): bigint {
  let v = 0n;
  for (let i = 0; i < bits; i += 16) v = (v << 16n) | BigInt(int(r, 0x10000));
  return BigInt.asUintN(bits, v);
}

export function randomScalar(r: Rand, type: ScalarType, longAsString = false): unknown {
  switch (type) {
    case ScalarType.DOUBLE:
      return pick(r, [0, -0, 1.5, -2.25, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MIN_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE, 2 ** 53, (r() - 0.5) * 1e6]);
    case ScalarType.FLOAT:
      return pick(r, [0, -0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Math.fround(3.4e38), Math.fround(1e-45), Math.fround((r() - 0.5) * 1000)]);
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return pick(r, [0, 1, -1, 127, 128, -128, 300, -300, 2147483647, -2147483648, int(r, 2 ** 32) - 2 ** 31]);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return pick(r, [0, 1, 127, 128, 16383, 16384, 4294967295, int(r, 2 ** 32)]);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64: {
      const v = pick(r, [0n, 1n, -1n, 2n ** 31n, -(2n ** 31n) - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n), BigInt.asIntN(64, randomBigint(r, 64))]);
      return longAsString ? v.toString() : v;
    }
    case ScalarType.UINT64:
    case ScalarType.FIXED64: {
      const v = pick(r, [0n, 1n, 127n, 2n ** 32n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 64n - 1n, randomBigint(r, 64)]);
      return longAsString ? v.toString() : v;
    }
    case ScalarType.BOOL:
      return r() < 0.5;
    case ScalarType.STRING:
      return pick(r, strings);
    case ScalarType.BYTES:
      switch (int(r, 5)) {
        case 0:
          return new Uint8Array(0);
        case 1:
          return new Uint8Array([0, 0x80, 0xff]);
        case 2:
          return new Uint8Array(1000).map((_, i) => i);
        default:
          return new Uint8Array(int(r, 40)).map(() => int(r, 256));
      }
  }
}

function randomEnum(r: Rand, e: DescEnum): number {
  // Open enums hold any int32; closed ones send unknown values to $unknown.
  if (r() < 0.15) return pick(r, [99, -5, 2147483647]);
  return pick(r, e.values).number;
}

function randomMapKey(r: Rand, type: ScalarType): string {
  switch (type) {
    case ScalarType.STRING:
      return pick(r, ["", "k", "key two", "ü", "7", "__proto__", "constructor"]);
    case ScalarType.BOOL:
      return pick(r, ["true", "false"]);
    default:
      return String(randomScalar(r, type));
  }
}

function randomJson(r: Rand, depth: number): unknown {
  switch (int(r, depth >= 2 ? 4 : 6)) {
    case 0:
      return null;
    case 1:
      return pick(r, [0, -1.5, 1e21]);
    case 2:
      return pick(r, strings);
    case 3:
      return r() < 0.5;
    case 4:
      return [randomJson(r, depth + 1), randomJson(r, depth + 1)];
    default:
      return randomJsonObject(r, depth + 1);
  }
}

function randomJsonObject(r: Rand, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = int(r, 3); i > 0; i--) out[pick(r, ["a", "b", "ü"])] = randomJson(r, depth + 1);
  return out;
}

/** Struct fields (except in google.protobuf.Value) are held as JSON objects. */
const heldAsJson = (f: DescField, m: DescMessage): boolean => m.typeName === "google.protobuf.Struct" && f.parent.typeName !== "google.protobuf.Value";

function randomMessageValue(r: Rand, f: DescField, m: DescMessage, depth: number): unknown {
  if (f.fieldKind === "message" && !f.oneof && isWrapperDesc(m)) return randomScalar(r, (m.fields[0] as DescField & { scalar: ScalarType }).scalar);
  if (heldAsJson(f, m)) return randomJsonObject(r, 0);
  return randomInit(r, m, depth + 1);
}

function listLength(r: Rand): number {
  const x = r();
  return x < 0.3 ? 0 : x < 0.95 ? 1 + int(r, 4) : 20 + int(r, 150);
}

function randomValue(r: Rand, f: DescField, depth: number): unknown {
  switch (f.fieldKind) {
    case "scalar":
      return randomScalar(r, f.scalar, f.longAsString);
    case "enum":
      return randomEnum(r, f.enum);
    case "message":
      return randomMessageValue(r, f, f.message, depth);
    case "list": {
      const items: unknown[] = [];
      const n = f.listKind === "message" ? (depth < maxDepth ? int(r, 3) : 0) : listLength(r);
      for (let i = 0; i < n; i++) {
        if (f.listKind === "scalar") items.push(randomScalar(r, f.scalar, f.longAsString));
        else if (f.listKind === "enum") items.push(randomEnum(r, f.enum));
        else items.push(randomMessageValue(r, f, f.message, depth));
      }
      return items;
    }
    case "map": {
      const rec: Record<string, unknown> = {};
      const n = f.mapKind === "message" && depth >= maxDepth ? 0 : int(r, 4);
      for (let i = 0; i < n; i++) {
        const key = randomMapKey(r, f.mapKey);
        const value = f.mapKind === "scalar" ? randomScalar(r, f.scalar) : f.mapKind === "enum" ? randomEnum(r, f.enum) : randomMessageValue(r, f, f.message, depth);
        Object.defineProperty(rec, key, { value, writable: true, enumerable: true, configurable: true });
      }
      return rec;
    }
  }
}

/** A random init object for `desc`: fields present or not, oneof cases, every kind of value. */
export function randomInit(r: Rand, desc: DescMessage, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const member of desc.members) {
    if (member.kind === "oneof") {
      if (r() < 0.3) continue;
      const f = pick(r, member.fields);
      if (f.fieldKind === "message" && depth >= maxDepth) continue;
      out[member.localName] = { case: f.localName, value: randomValue(r, f, depth) };
      continue;
    }
    const required = member.presence === 3;
    if (!required && r() < 0.4) continue;
    if (member.fieldKind === "message" && depth >= maxDepth && !required) continue;
    out[member.localName] = randomValue(r, member, depth);
  }
  return out;
}

/** A random message of `desc`, as create() makes it from a random init object. */
export function randomMessage(r: Rand, desc: DescMessage): Message {
  return create(desc, randomInit(r, desc, 0) as never);
}
