import { benchFunctions, compiled, gatewayCli } from "../paths.js";

/** The server processes. Sluice is one process serving four protocol arms. */
export type ServerId = "raw-http2" | "grpc-js" | "grpc-js-bufbuild" | "connect-node" | "connect-fastify" | "sluice";

export type UnaryProtocol = "grpc" | "grpc-web" | "connect-proto" | "connect-json";

export interface UnaryArm {
  id: string;
  label: string;
  server: ServerId;
  protocol: UnaryProtocol;
}

/** The gateway's production start command, serving bench/functions/echo.ts. */
export function sluiceArgv(functionsDir = benchFunctions): string[] {
  return [gatewayCli, "start", "--port", "0", "--host", "127.0.0.1", "--functions", functionsDir, "--log-level", "warn"];
}

/** `node` arguments that start each server. */
export const serverArgv: Record<ServerId, () => string[]> = {
  "raw-http2": () => [compiled("arms/raw-http2.js")],
  "grpc-js": () => [compiled("arms/grpc-js-proto-loader.js")],
  "grpc-js-bufbuild": () => [compiled("arms/grpc-js-bufbuild.js")],
  "connect-node": () => [compiled("arms/connect-node.js")],
  "connect-fastify": () => [compiled("arms/connect-fastify.js")],
  sluice: () => sluiceArgv(),
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
];

/** The streaming arms compare these two servers, with the same client. */
export const streamingServers: ServerId[] = ["sluice", "grpc-js"];

export const echoPath = "/bench.v1.EchoService/Echo";
export const echoStreamPath = "/bench.v1.EchoService/EchoStream";
export const echoBidiPath = "/bench.v1.EchoService/EchoBidi";
