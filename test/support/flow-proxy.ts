import path from "node:path";
import { root } from "./gateway.js";
import { startFlowGateway, type FlowGateway } from "./flow-gateway.js";
import type { UpstreamProcess } from "./upstream-process.js";

/** The protocols a proxy route can speak to its upstream. */
export type UpstreamProtocol = "grpc" | "grpc-web" | "connect";

/**
 * Starts `sluice start` with no function files and one proxy route,
 * `flow.v1.FlowService` → `upstream` (test/support/upstream-server.ts with
 * impl "connect", which serves the flow function), spoken to in
 * `protocol`; `config` adds to it, e.g. `{ limits: { ... } }`. The
 * FlowGateway's clients call the gateway, so every call crosses the proxy.
 */
export function startFlowProxy(name: string, upstream: UpstreamProcess, config: object, protocol: UpstreamProtocol = "grpc"): Promise<FlowGateway> {
  return startFlowGateway(name, {
    protoGenDir: path.join(root, "test/gen"),
    upstreams: { flow: { url: upstream.url, protocol } },
    routes: { "flow.v1.FlowService": { upstream: "flow" } },
    ...config,
  }, { functions: "none" });
}
