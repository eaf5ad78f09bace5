import { benchFunctions, compiled, gatewayCli, gatewayNodeFlags } from "../paths.js";

/** The server processes. Sluice is one process serving four protocol arms. */
export type ServerId = "raw-http2" | "grpc-js" | "grpc-js-bufbuild" | "connect-node" | "connect-fastify" | "sluice"
  /** The cost of observing calls: the same gateway with metrics on, tracing off, and tracing with an SDK. */
  | "sluice-metrics" | "sluice-tracing-off" | "sluice-traced";

export type UnaryProtocol = "grpc" | "grpc-web" | "connect-proto" | "connect-json";

export interface UnaryArm {
  id: string;
  label: string;
  server: ServerId;
  protocol: UnaryProtocol;
  /** The arm whose throughput in the same round this one is compared with (the observability arms). */
  baseline?: string;
}

/** The gateway's production start command (`npm start`'s, with its Node flags), serving bench/functions/echo.ts. */
export function sluiceArgv(functionsDir = benchFunctions): string[] {
  return [...gatewayNodeFlags, gatewayCli, "start", "--port", "0", "--host", "127.0.0.1", "--functions", functionsDir, "--log-level", "warn"];
}

/** `node` arguments that start each server. */
export const serverArgv: Record<ServerId, () => string[]> = {
  "raw-http2": () => [compiled("arms/raw-http2.js")],
  "grpc-js": () => [compiled("arms/grpc-js-proto-loader.js")],
  "grpc-js-bufbuild": () => [compiled("arms/grpc-js-bufbuild.js")],
  "connect-node": () => [compiled("arms/connect-node.js")],
  "connect-fastify": () => [compiled("arms/connect-fastify.js")],
  sluice: () => sluiceArgv(),
  // Metrics are counted while the admin listener is on (a free port here; nothing scrapes it during the run).
  "sluice-metrics": () => [...sluiceArgv(), "--set", "admin.port=0"],
  // tracing=off skips the one check per call for a registered SDK: the gateway as if tracing were compiled out.
  "sluice-tracing-off": () => [...sluiceArgv(), "--set", "tracing=off"],
  "sluice-traced": () => ["--import", compiled("arms/otel-noop-sdk.js"), ...sluiceArgv()],
};

/** The arm every ratio is taken against, besides the limit. */
export const referenceArm = "grpc-js";
export const limitArm = "raw-http2";

export const unaryArms: UnaryArm[] = [
  { id: "raw-http2", label: "node:http2 raw (limit)", server: "raw-http2", protocol: "grpc" },
  { id: "grpc-js", label: "grpc-js + proto-loader", server: "grpc-js", protocol: "grpc" },
  { id: "grpc-js-bufbuild", label: "grpc-js + @bufbuild/protobuf", server: "grpc-js-bufbuild", protocol: "grpc" },
  { id: "connect-node", label: "connect-node (gRPC)", server: "connect-node", protocol: "grpc" },
  { id: "connect-fastify", label: "connect-fastify (gRPC)", server: "connect-fastify", protocol: "grpc" },
  { id: "sluice-grpc", label: "Sluice gRPC", server: "sluice", protocol: "grpc" },
  { id: "sluice-grpc-web", label: "Sluice gRPC-Web", server: "sluice", protocol: "grpc-web" },
  { id: "sluice-connect-proto", label: "Sluice Connect proto", server: "sluice", protocol: "connect-proto" },
  { id: "sluice-connect-json", label: "Sluice Connect JSON", server: "sluice", protocol: "connect-json" },
  { id: "sluice-grpc-metrics", label: "Sluice gRPC, metrics on", server: "sluice-metrics", protocol: "grpc", baseline: "sluice-grpc" },
  { id: "sluice-grpc-tracing-off", label: "Sluice gRPC, tracing off", server: "sluice-tracing-off", protocol: "grpc", baseline: "sluice-grpc" },
  { id: "sluice-grpc-traced", label: "Sluice gRPC, tracing on (SDK, no-op exporter)", server: "sluice-traced", protocol: "grpc", baseline: "sluice-grpc" },
];

/** The streaming arms compare these two servers, with the same client. */
export const streamingServers: ServerId[] = ["sluice", "grpc-js"];

export const echoPath = "/bench.v1.EchoService/Echo";
export const echoStreamPath = "/bench.v1.EchoService/EchoStream";
export const echoBidiPath = "/bench.v1.EchoService/EchoBidi";
