import { createRegistry, type DescFile, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { createConnectRouter, type Interceptor } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import type { SluiceConfig } from "../config/config.js";
import type { FunctionOptions } from "../functions/define-function.js";
import type { Route } from "./route-table.js";

/** What a route source (a function file or a built-in service) provides. */
export interface RouteSource {
  service: DescService;
  methods: DescMethod[];
  implementation: object;
  options: FunctionOptions;
  /** Shown in the routes table and logs. */
  source: string;
}

/** What all routes share: the gateway's config, interceptors and shutdown signal. */
export interface RouteContext {
  config: SluiceConfig;
  interceptors: Interceptor[];
  shutdownSignal: AbortSignal;
}

const compressions = { gzip: compressionGzip, br: compressionBrotli } as const;

/**
 * Builds the Connect handlers (all three protocols) for the methods a source
 * implements, with its options layered over the gateway config.
 */
export function createRoutes(src: RouteSource, ctx: RouteContext): Route[] {
  const { config } = ctx;
  const o = src.options;
  const compression = o.compression === false
    ? { encodings: [], minBytes: 0 }
    : { encodings: o.compression?.encodings ?? config.compression.encodings, minBytes: o.compression?.minBytes ?? config.compression.minBytes };
  const router = createConnectRouter({
    acceptCompression: compression.encodings.map((e) => compressions[e]),
    compressMinBytes: compression.minBytes,
    readMaxBytes: o.readMaxBytes ?? config.readMaxBytes,
    writeMaxBytes: o.writeMaxBytes ?? config.writeMaxBytes,
    shutdownSignal: ctx.shutdownSignal,
    interceptors: ctx.interceptors,
    // google.protobuf.Any fields in JSON need every type of the service's files.
    jsonOptions: { registry: createRegistry(...filesOf(src.service.file)) },
  });
  router.service(src.service, src.implementation);
  const implemented = new Set(src.methods);
  const deadline = {
    maxMs: o.maxTimeoutMs ?? config.maxTimeoutMs,
    defaultMs: o.defaultTimeoutMs ?? config.defaultTimeoutMs,
  };
  return router.handlers
    .filter((h) => implemented.has(h.method))
    .map((handler) => ({ path: handler.requestPath, method: handler.method, handler, deadline, source: src.source }));
}

/** A file and everything it imports, transitively. */
function filesOf(file: DescFile, seen = new Set<DescFile>()): DescFile[] {
  if (seen.has(file)) return [];
  seen.add(file);
  for (const dep of file.dependencies) filesOf(dep, seen);
  return [...seen];
}
