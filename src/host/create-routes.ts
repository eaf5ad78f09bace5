import { createRegistry, type DescFile, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import type { SluiceConfig } from "../config/config.js";
import type { FunctionOptions } from "../functions/define-function.js";
import type { RouteAdmission } from "../limits/admission.js";
import type { AdmissionPolicy } from "../limits/route-policy.js";
import { configLayers, resolveRoutePolicy } from "../limits/route-policy.js";
import { compressions } from "../protocol/compression.js";
import { MethodCodec } from "../rpc/method-codec.js";
import type { FunctionRoute } from "./route-table.js";

/** What a route source (a function file or a built-in service) provides. */
export interface RouteSource {
  service: DescService;
  methods: DescMethod[];
  implementation: object;
  options: FunctionOptions;
  /** Shown in the routes table and logs. */
  source: string;
  /** Never shed by overload protection (health checks). */
  essential?: boolean;
}

/** The admission state for a route (Admission.forRoute), kept across reloads. */
export type AdmissionFor = (path: string, route: string, policy: AdmissionPolicy | undefined) => RouteAdmission | undefined;

/**
 * Builds the routes (one per implemented method, all three protocols) of a
 * source, with its options layered over the gateway config.
 */
export function createRoutes(src: RouteSource, config: SluiceConfig, admissionFor: AdmissionFor): FunctionRoute[] {
  const o = src.options;
  const compression = o.compression === false
    ? { encodings: [], minBytes: 0 }
    : { encodings: o.compression?.encodings ?? config.compression.encodings, minBytes: o.compression?.minBytes ?? config.compression.minBytes };
  const deadline = {
    maxMs: o.maxTimeoutMs ?? config.maxTimeoutMs,
    defaultMs: o.defaultTimeoutMs ?? config.defaultTimeoutMs,
  };
  // The function's readMaxBytes/writeMaxBytes are its maxMessageBytes when that is not given.
  const fileLayer = { ...o, maxMessageBytes: { in: o.readMaxBytes, out: o.writeMaxBytes, ...(typeof o.maxMessageBytes === "number" ? { in: o.maxMessageBytes, out: o.maxMessageBytes } : o.maxMessageBytes) } };
  // google.protobuf.Any fields in JSON need every type of the service's files.
  const registry = createRegistry(...filesOf(src.service.file));
  const impl = src.implementation as Record<string, FunctionRoute["impl"]>;
  const service = src.service.typeName;
  return src.methods.map((method) => {
    const name = `${service}/${method.name}`;
    const path = `/${name}`;
    // Lowest precedence first: "*" (the config's default for every route),
    // the function file, the file's entry for this method, then the config's
    // entries for the service and the method, which win over code.
    const [star, ofService, ofMethod] = configLayers(config.limits, service, method.name);
    const own = o.methods?.[method.localName] ?? o.methods?.[method.name];
    const policy = resolveRoutePolicy(name, [star, fileLayer, own, ofService, ofMethod], config);
    return {
      kind: "function",
      path,
      method,
      impl: impl[method.localName]!,
      codec: new MethodCodec(method, policy.writeMaxBytes, registry),
      readMaxBytes: policy.readMaxBytes,
      deadline,
      compression: compression.encodings.map((e) => compressions[e]),
      compressMinBytes: compression.minBytes,
      allowGet: method.methodKind === "unary" && method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS,
      source: src.source,
      name,
      admission: admissionFor(path, name, policy.admission),
      stream: policy.stream,
      essential: src.essential === true,
    };
  });
}

/** A file and everything it imports, transitively. */
function filesOf(file: DescFile, seen = new Set<DescFile>()): DescFile[] {
  if (seen.has(file)) return [];
  seen.add(file);
  for (const dep of file.dependencies) filesOf(dep, seen);
  return [...seen];
}
