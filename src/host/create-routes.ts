import { createRegistry, type DescFile, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import type { SluiceConfig } from "../config/config.js";
import type { FunctionOptions } from "../functions/define-function.js";
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
}

/**
 * Builds the routes (one per implemented method, all three protocols) of a
 * source, with its options layered over the gateway config.
 */
export function createRoutes(src: RouteSource, config: SluiceConfig): FunctionRoute[] {
  const o = src.options;
  const compression = o.compression === false
    ? { encodings: [], minBytes: 0 }
    : { encodings: o.compression?.encodings ?? config.compression.encodings, minBytes: o.compression?.minBytes ?? config.compression.minBytes };
  const deadline = {
    maxMs: o.maxTimeoutMs ?? config.maxTimeoutMs,
    defaultMs: o.defaultTimeoutMs ?? config.defaultTimeoutMs,
  };
  const readMaxBytes = o.readMaxBytes ?? config.readMaxBytes;
  const writeMaxBytes = o.writeMaxBytes ?? config.writeMaxBytes;
  // google.protobuf.Any fields in JSON need every type of the service's files.
  const registry = createRegistry(...filesOf(src.service.file));
  const impl = src.implementation as Record<string, FunctionRoute["impl"]>;
  return src.methods.map((method) => ({
    kind: "function",
    path: `/${src.service.typeName}/${method.name}`,
    method,
    impl: impl[method.localName]!,
    codec: new MethodCodec(method, writeMaxBytes, registry),
    readMaxBytes,
    deadline,
    compression: compression.encodings.map((e) => compressions[e]),
    compressMinBytes: compression.minBytes,
    allowGet: method.methodKind === "unary" && method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS,
    source: src.source,
  }));
}

/** A file and everything it imports, transitively. */
function filesOf(file: DescFile, seen = new Set<DescFile>()): DescFile[] {
  if (seen.has(file)) return [];
  seen.add(file);
  for (const dep of file.dependencies) filesOf(dep, seen);
  return [...seen];
}
