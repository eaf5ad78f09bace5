// The message schemas the codecs' property tests run over: the tests',
// the benchmark's, the well-known types and the Connect conformance suite's.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { createFileRegistry, fromBinary, type DescMessage } from "@bufbuild/protobuf";
import * as wkt from "@bufbuild/protobuf/wkt";
import * as echo from "../../bench/gen/bench/v1/echo_pb.js";
import { conformanceModule, conformanceVersion } from "../conformance/generate.js";
import * as editions from "../gen/encoding/v1/editions_types_pb.js";
import * as jsonTypes from "../gen/encoding/v1/json_types_pb.js";
import * as proto2 from "../gen/encoding/v1/proto2_types_pb.js";
import * as proto3 from "../gen/encoding/v1/proto3_types_pb.js";
import * as status from "../gen/encoding/v1/status_pb.js";
import * as versions from "../gen/encoding/v1/versions_pb.js";
import * as probe from "../gen/probe/v1/probe_pb.js";
import * as shapesLegacy from "../gen/shapes/v1/legacy_pb.js";
import * as shapes from "../gen/shapes/v1/shapes_pb.js";
import { root } from "../support/gateway.js";

/** The message schemas a generated module exports (nested messages included). */
export function messagesOf(module: Record<string, unknown>): DescMessage[] {
  return Object.values(module).filter((v): v is DescMessage => typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "message");
}

/**
 * The conformance suite's protos, read from the Go module the runner ships
 * them in (as test/conformance/generate.ts finds them) and compiled by buf
 * into descriptors; none when Go or the module is not there.
 */
export function conformanceMessages(): { messages: DescMessage[]; missing?: string } {
  let image: Buffer;
  try {
    const download = execFileSync("go", ["mod", "download", "-json", `${conformanceModule}@${conformanceVersion}`], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 120_000 });
    const dir = (JSON.parse(download) as { Dir?: string }).Dir;
    const protoDir = dir && path.join(dir, "proto");
    if (!protoDir || !existsSync(protoDir)) return { messages: [], missing: `no proto/ folder in ${conformanceModule}` };
    image = execFileSync(path.join(root, "node_modules/.bin/buf"), ["build", protoDir, "-o", "-#format=binpb"], { cwd: root, maxBuffer: 64 << 20, timeout: 120_000 });
  } catch (e) {
    return { messages: [], missing: `the conformance protos (${conformanceModule}@${conformanceVersion}) are not available: ${(e as Error).message.split("\n")[0]}` };
  }
  const registry = createFileRegistry(fromBinary(wkt.FileDescriptorSetSchema, image));
  const messages: DescMessage[] = [];
  for (const type of registry) if (type.kind === "message" && type.typeName.startsWith("connectrpc.")) messages.push(type);
  return { messages };
}

/** This project's schemas (tests and benchmark) and the well-known types. */
export const projectSchemas: DescMessage[] = [
  ...messagesOf(echo),
  ...messagesOf(proto3),
  ...messagesOf(proto2),
  ...messagesOf(status),
  ...messagesOf(versions),
  ...messagesOf(editions),
  ...messagesOf(jsonTypes),
  ...messagesOf(probe),
  ...messagesOf(shapes),
  ...messagesOf(shapesLegacy),
  ...messagesOf(wkt),
];
