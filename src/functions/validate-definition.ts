import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { sluiceError, type SluiceError } from "../errors.js";
import { checkLimit, checkRouteLimits, limitOptionNames } from "../limits/limit-options.js";
import { nearestName } from "../nearest-name.js";
import { isFunctionDefinition, type FunctionOptions } from "./define-function.js";

/** A function file's definition after every check has passed. */
export interface ValidFunction {
  service: DescService;
  /** The methods this file implements, in proto order. */
  methods: DescMethod[];
  /** Method local name → implementation. */
  implementation: Record<string, (...args: never[]) => unknown>;
  split: boolean;
  options: FunctionOptions;
}

type Result = { ok: true; fn: ValidFunction } | { ok: false; error: SluiceError };

/**
 * Checks the default export of a function module: a definition from
 * defineFunction(), naming a real service descriptor, implementing only
 * methods the service has, each written for its stream kind, with valid
 * options. `file` is the path shown in messages.
 */
export function validateDefinition(file: string, moduleNamespace: Record<string, unknown>): Result {
  if (!("default" in moduleNamespace) || moduleNamespace.default === undefined) {
    return fail(sluiceError("SLUICE_FUNCTION_NO_DEFAULT_EXPORT", { file }));
  }
  const def = moduleNamespace.default;
  if (!isFunctionDefinition(def)) {
    return fail(sluiceError("SLUICE_FUNCTION_NOT_DEFINED", { file, got: describe(def) }));
  }
  // A misspelled key ("option") would otherwise be ignored, and with it what it meant to set.
  for (const key of Object.keys(def)) {
    if (!definitionKeys.includes(key)) return fail(sluiceError("SLUICE_FUNCTION_UNKNOWN_KEY", { file, key, near: nearestName(key, definitionKeys) }));
  }
  const service = def.service as unknown;
  if (!isServiceDescriptor(service)) {
    return fail(sluiceError("SLUICE_FUNCTION_UNKNOWN_SERVICE", { file, got: describe(service) }));
  }
  const impl = def.implementation as unknown;
  if (typeof impl !== "object" || impl === null) {
    return fail(sluiceError("SLUICE_FUNCTION_NOT_DEFINED", { file, got: `a definition whose "implementation" is ${describe(impl)}` }));
  }
  const byLocalName = new Map(service.methods.map((m) => [m.localName, m]));
  const implementation: ValidFunction["implementation"] = {};
  for (const key of methodKeys(impl)) {
    const method = byLocalName.get(key);
    if (!method) {
      return fail(sluiceError("SLUICE_FUNCTION_UNKNOWN_METHOD", {
        file, service: service.typeName, method: key, known: service.methods.map((m) => m.localName),
      }));
    }
    const value = (impl as Record<string, unknown>)[key];
    if (typeof value !== "function") {
      return fail(sluiceError("SLUICE_FUNCTION_NOT_A_FUNCTION", { file, service: service.typeName, method: key, got: describe(value) }));
    }
    const wrongKind = checkStreamKind(method, value);
    if (wrongKind) {
      return fail(sluiceError("SLUICE_FUNCTION_WRONG_STREAM_KIND", {
        file, service: service.typeName, method: key, kind: kindName(method), fix: wrongKind,
      }));
    }
    implementation[key] = value.bind(impl) as ValidFunction["implementation"][string];
  }
  const options = checkOptions(file, def.options, service);
  if ("error" in options) return fail(options.error);
  return {
    ok: true,
    fn: {
      service,
      methods: service.methods.filter((m) => m.localName in implementation),
      implementation,
      split: def.split === true,
      options: options.value,
    },
  };
}

/** The keys defineFunction() takes. */
const definitionKeys = ["service", "implementation", "options", "split"];

function fail(error: SluiceError): Result {
  return { ok: false, error };
}

function isServiceDescriptor(v: unknown): v is DescService {
  return typeof v === "object" && v !== null && (v as DescService).kind === "service"
    && typeof (v as DescService).typeName === "string" && Array.isArray((v as DescService).methods);
}

/** Own keys and keys of a class's prototype chain, so class instances work too. */
function methodKeys(impl: object): string[] {
  const keys = new Set<string>();
  for (let o: object | null = impl; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const k of Object.getOwnPropertyNames(o)) if (k !== "constructor") keys.add(k);
  }
  return [...keys];
}

function kindName(m: DescMethod): string {
  return m.methodKind.replace("_", "-");
}

/**
 * An `async function` can never stream and an `async function*` always does,
 * so those two shapes tell us when a method is written for the wrong kind; a
 * plain `function*` cannot stream either (its iterator is not async). A
 * plain function may return either, so it passes.
 */
function checkStreamKind(method: DescMethod, fn: Function): string | undefined {
  const shape = fn.constructor.name;
  const isGenerator = shape === "AsyncGeneratorFunction" || shape === "GeneratorFunction";
  const isAsync = shape === "AsyncFunction";
  const name = method.localName;
  switch (method.methodKind) {
    case "unary":
      return isGenerator ? `return one response message instead of yielding: "async ${name}(request, ctx) { return { ... }; }"` : undefined;
    case "client_streaming":
      return isGenerator ? `read the requests and return one response instead of yielding: "async ${name}(requests, ctx) { for await (const r of requests) { ... } return { ... }; }"` : undefined;
    // A plain function* is not an async generator: its responses would not be awaited.
    case "server_streaming":
      return isAsync || shape === "GeneratorFunction" ? `write it as an async generator that yields responses: "async *${name}(request, ctx) { yield { ... }; }"` : undefined;
    case "bidi_streaming":
      return isAsync || shape === "GeneratorFunction" ? `write it as an async generator that reads requests and yields responses: "async *${name}(requests, ctx) { for await (const r of requests) { yield { ... }; } }"` : undefined;
  }
}

type OptionCheck = (v: unknown) => string | undefined;

/** A flow limit, checked as the config's limits are. */
const limitCheck = (key: string): OptionCheck => (v) => checkLimit(key, v, "options")[0]?.allowed;

const limitChecks = Object.fromEntries(limitOptionNames.map((k) => [k, limitCheck(k)])) as Record<Exclude<keyof FunctionOptions, "maxTimeoutMs" | "defaultTimeoutMs" | "readMaxBytes" | "writeMaxBytes" | "compression" | "methods">, OptionCheck>;

const optionChecks: Record<keyof FunctionOptions, OptionCheck> = {
  ...limitChecks,
  // Checked with the service, in checkMethodLimits.
  methods: (v) => (typeof v === "object" && v !== null && !Array.isArray(v) ? undefined : "an object from method names to limits"),
  maxTimeoutMs: positiveInt,
  defaultTimeoutMs: positiveInt,
  readMaxBytes: positiveInt,
  writeMaxBytes: positiveInt,
  compression: (v) => {
    if (v === false) return undefined;
    const allowed = `false or { encodings?: ("gzip" | "br")[], minBytes?: integer >= 0 }`;
    if (typeof v !== "object" || v === null) return allowed;
    const { encodings, minBytes, ...rest } = v as Record<string, unknown>;
    if (Object.keys(rest).length > 0) return allowed;
    if (encodings !== undefined && (!Array.isArray(encodings) || encodings.some((e) => e !== "gzip" && e !== "br"))) return allowed;
    if (minBytes !== undefined && (!Number.isSafeInteger(minBytes) || (minBytes as number) < 0)) return allowed;
    return undefined;
  },
};

function positiveInt(v: unknown): string | undefined {
  return Number.isSafeInteger(v) && (v as number) > 0 && (v as number) <= 2_147_483_647
    ? undefined
    : "an integer from 1 to 2147483647";
}

function unknownOption(key: string): string {
  const near = nearestName(key, Object.keys(optionChecks));
  return `a known option: "${key}" is not one${near ? `; did you mean "${near}"?` : ` (the options are ${Object.keys(optionChecks).join(", ")})`}`;
}

function checkOptions(file: string, options: unknown, service: DescService): { value: FunctionOptions } | { error: SluiceError } {
  if (options === undefined) return { value: {} };
  if (typeof options !== "object" || options === null) {
    return { error: sluiceError("SLUICE_FUNCTION_BAD_OPTION", { file, key: "options", value: options, allowed: "an object" }) };
  }
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const check = optionChecks[key as keyof FunctionOptions];
    const expected = check ? check(value) : unknownOption(key);
    if (expected) {
      // A limit's problem may be in a field of it (options.rate.perSecond): name that field.
      const inner = key in limitChecks ? checkLimit(key, value, "options")[0] : undefined;
      return { error: sluiceError("SLUICE_FUNCTION_BAD_OPTION", { file, key: inner?.key ?? `options.${key}`, value: inner !== undefined ? inner.value : value, allowed: expected }) };
    }
  }
  const o = options as FunctionOptions;
  if (o.queue !== undefined && o.queue > 0 && o.maxConcurrent === undefined) {
    return { error: sluiceError("SLUICE_FUNCTION_BAD_OPTION", { file, key: "options.queue", value: o.queue, allowed: "0 unless options.maxConcurrent is set: calls queue for a maxConcurrent slot" }) };
  }
  const methodProblem = checkMethodLimits(file, o.methods, service);
  if (methodProblem) return { error: methodProblem };
  return { value: o };
}

/** options.methods: names of this service's methods, each with valid limits. */
function checkMethodLimits(file: string, methods: FunctionOptions["methods"], service: DescService): SluiceError | undefined {
  if (methods === undefined) return undefined;
  const names = service.methods.flatMap((m) => [m.localName, m.name]);
  for (const [name, limits] of Object.entries(methods)) {
    if (!names.includes(name)) {
      const near = nearestName(name, names);
      return sluiceError("SLUICE_FUNCTION_BAD_OPTION", { file, key: `options.methods.${name}`, value: limits, allowed: `a method of ${service.typeName}: "${name}" is not one${near ? `; did you mean "${near}"?` : ` (its methods are ${service.methods.map((m) => m.localName).join(", ")})`}` });
    }
    const problem = checkRouteLimits(limits, `options.methods.${name}`)[0];
    if (problem) return sluiceError("SLUICE_FUNCTION_BAD_OPTION", { file, key: problem.key, value: problem.value, allowed: problem.allowed });
  }
  return undefined;
}

function describe(v: unknown): string {
  if (v === undefined) return "undefined";
  if (v === null) return "null";
  if (typeof v === "function") return `a function (${v.name || "anonymous"})`;
  if (typeof v === "string") return `the string ${JSON.stringify(v)}`;
  if (typeof v !== "object") return `${typeof v} ${String(v)}`;
  const kind = (v as { kind?: unknown }).kind;
  if (typeof kind === "string") return `a ${kind} descriptor (${String((v as { typeName?: unknown }).typeName ?? "")})`;
  return `an object with keys ${Object.keys(v).slice(0, 5).join(", ") || "(none)"}`;
}
