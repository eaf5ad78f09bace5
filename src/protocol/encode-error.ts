/**
 * A value a handler returned that does not fit the schema, as the binary
 * and JSON encoders find it; `path` names the field, e.g. "note.tags[2]".
 * MethodCodec words it for people (with checkResponse) as a BadResponse.
 */
export class EncodeError extends Error {
  override name = "EncodeError";
  constructor(
    public path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }

  prefixed(segment: string): EncodeError {
    this.path = this.path === "" ? segment : this.path.startsWith("[") ? `${segment}${this.path}` : `${segment}.${this.path}`;
    this.message = `${this.path}: ${this.problem}`;
    return this;
  }
}

/** A short description of a value for an EncodeError: never its whole content. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (v instanceof Uint8Array) return `bytes (${v.byteLength})`;
  switch (typeof v) {
    case "string":
      return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
    case "number":
    case "bigint":
    case "boolean":
      return `${typeof v} ${String(v)}`;
    case "undefined":
      return "undefined";
    case "object": {
      const t = (v as { $typeName?: unknown }).$typeName;
      return t === undefined ? "an object" : `a ${String(t)} message`;
    }
    default:
      return typeof v;
  }
}
