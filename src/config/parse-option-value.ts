import type { OptionSpec } from "./options.js";

/**
 * Checks one option value against its spec. Values from the environment and
 * the command line arrive as strings and are parsed here; values from a
 * config file arrive typed. Returns the value or the "expected …" text of the
 * error.
 */
export function parseOptionValue(spec: OptionSpec, raw: unknown): { value: unknown } | { expected: string } {
  const t = spec.type;
  switch (t.kind) {
    case "string":
    case "path": {
      const expected = t.kind === "path" ? "a file or folder path" : "a non-empty string";
      if (typeof raw !== "string" || raw.trim() === "") return { expected };
      return { value: raw };
    }
    case "token": {
      // Sent as "Authorization: Bearer <token>": a header value holds no line
      // break and parsers strip the spaces around it, so such a token could
      // never match. The usual cause is a file or Secret written with echo.
      if (typeof raw === "string" && /^[\x21-\x7e]+$/.test(raw)) return { value: raw };
      const why = typeof raw === "string" && /[\r\n]$/.test(raw) ? " (this one ends with a line break: write the file or Secret without one, e.g. with printf %s)" : "";
      return { expected: `a token of visible ASCII characters, without spaces or line breaks${why}` };
    }
    case "int": {
      const expected = `an integer from ${t.min} to ${t.max}`;
      const n = typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
      if (typeof n !== "number" || !Number.isSafeInteger(n) || n < t.min || n > t.max) return { expected };
      return { value: n };
    }
    case "int-or-auto": {
      if (raw === "auto") return { value: "auto" };
      const expected = `an integer from ${t.min} to ${t.max}, or "auto"`;
      const n = typeof raw === "string" && /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
      if (typeof n !== "number" || !Number.isSafeInteger(n) || n < t.min || n > t.max) return { expected };
      return { value: n };
    }
    case "bool": {
      if (typeof raw === "boolean") return { value: raw };
      if (raw === "true" || raw === "1") return { value: true };
      if (raw === "false" || raw === "0") return { value: false };
      return { expected: "true or false" };
    }
    case "enum": {
      if (typeof raw === "string" && t.values.includes(raw)) return { value: raw };
      return { expected: `one of ${t.values.join(", ")}` };
    }
    case "list": {
      const expected = t.of ? `a list of ${t.of.join(", ")}` : "a list of strings";
      const list = typeof raw === "string" ? raw.split(",").map((s) => s.trim()).filter((s) => s !== "") : raw;
      if (!Array.isArray(list) || list.some((v) => typeof v !== "string" || v === "")) return { expected };
      if (t.of && list.some((v) => !t.of!.includes(v))) return { expected };
      return { value: [...new Set(list as string[])] };
    }
  }
}
