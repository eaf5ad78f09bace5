import { createRegistry, type DescFile, type DescMethod, type Registry } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import type { SluiceConfig } from "../config/config.js";
import { sluiceError, type SluiceError } from "../errors.js";
import type { ProxyRoute } from "../host/route-table.js";
import type { AdmissionFor } from "../host/create-routes.js";
import { configLayers, resolveRoutePolicy } from "../limits/route-policy.js";
import { nearestName } from "../nearest-name.js";
import { compressions } from "../protocol/compression.js";
import { MethodCodec } from "../rpc/method-codec.js";
import type { UpstreamRegistry } from "./upstream-registry.js";

/**
 * The routes of the `routes` config: one per method of each proxied service
 * (a method route wins over its service's route), with the route's options
 * over the gateway's. Services are looked up in the generated descriptors.
 */
export function createProxyRoutes(config: SluiceConfig, descriptors: Registry, upstreams: UpstreamRegistry, admissionFor: AdmissionFor): { routes: ProxyRoute[]; errors: SluiceError[] } {
  const errors: SluiceError[] = [];
  const byPath = new Map<string, ProxyRoute>();
  const services = [...descriptors].filter((t) => t.kind === "service").map((t) => t.typeName);
  // Service routes first, so that method routes replace their entries.
  const ordered = [...config.routes].sort((a, b) => Number(a.name.includes("/")) - Number(b.name.includes("/")));
  for (const r of ordered) {
    const [serviceName, methodName] = r.name.split("/") as [string, string | undefined];
    const service = descriptors.getService(serviceName);
    if (service === undefined) {
      errors.push(sluiceError("SLUICE_PROXY_UNKNOWN_SERVICE", { route: r.name, service: serviceName, near: nearestName(serviceName, services) }));
      continue;
    }
    let methods: DescMethod[] = service.methods;
    if (methodName !== undefined) {
      const m = service.methods.find((x) => x.name === methodName);
      if (m === undefined) {
        errors.push(sluiceError("SLUICE_PROXY_UNKNOWN_METHOD", { route: r.name, service: serviceName, method: methodName, known: service.methods.map((x) => x.name) }));
        continue;
      }
      methods = [m];
    }
    const upstream = upstreams.get(r.upstream);
    const encodings = r.compression?.encodings ?? config.compression.encodings;
    // The route's readMaxBytes/writeMaxBytes are its maxMessageBytes, between "*" and the service's and method's limits entries.
    const routeLayer = { maxMessageBytes: { in: r.readMaxBytes, out: r.writeMaxBytes } };
    // JSON clients need every type of the service's files (google.protobuf.Any).
    const json = createRegistry(...filesOf(service.file));
    for (const method of methods) {
      const name = `${service.typeName}/${method.name}`;
      const path = `/${name}`;
      const [star, ofService, ofMethod] = configLayers(config.limits, service.typeName, method.name);
      const policy = resolveRoutePolicy(name, [star, routeLayer, ofService, ofMethod], config);
      byPath.set(path, {
        kind: "proxy",
        path,
        method,
        upstream,
        upstreamUnary: method.methodKind === "unary" && upstream.config.protocol === "connect",
        codec: new MethodCodec(method, policy.writeMaxBytes, json),
        readMaxBytes: policy.readMaxBytes,
        writeMaxBytes: policy.writeMaxBytes,
        deadline: { maxMs: r.maxTimeoutMs ?? config.maxTimeoutMs, defaultMs: r.defaultTimeoutMs ?? config.defaultTimeoutMs },
        compression: encodings.map((e) => compressions[e]),
        compressMinBytes: r.compression?.minBytes ?? config.compression.minBytes,
        allowGet: method.methodKind === "unary" && method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS,
        source: `upstream ${upstream.name} (${upstream.config.protocol})`,
        forwardHeaders: r.forwardHeaders,
        setHeaders: r.setHeaders,
        retry: r.retry,
        retryPolicy: { ...upstream.config.retry, ...r.retry },
        name,
        admission: admissionFor(path, name, policy.admission),
        stream: policy.stream,
        essential: false,
      });
    }
  }
  return { routes: [...byPath.values()], errors };
}

/** A file and everything it imports, transitively. */
function filesOf(file: DescFile, seen = new Set<DescFile>()): DescFile[] {
  if (seen.has(file)) return [];
  seen.add(file);
  for (const dep of file.dependencies) filesOf(dep, seen);
  return [...seen];
}
