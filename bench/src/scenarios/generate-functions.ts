import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";

/** The RPC that proves a generated functions folder is served: the last function's Echo. */
export interface GeneratedFunctions {
  dir: string;
  lastService: string;
}

/**
 * Writes `count` function files, each serving its own service
 * (cold.v1.FnNNService with an Echo method and its own messages), for the
 * cold-start arm. Each file imports its descriptor from a `_gen/` module of
 * the shape protoc-gen-es emits (an embedded FileDescriptorProto), so the
 * gateway bundles and loads them exactly like hand-written functions. The
 * folder must be inside the repository: bundles resolve "sluice" from it.
 */
export function generateFunctions(dir: string, count: number): GeneratedFunctions {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, "_gen"), { recursive: true });
  let lastService = "";
  for (let i = 1; i <= count; i++) {
    const n = String(i).padStart(2, "0");
    const service = `Fn${n}Service`;
    writeFileSync(path.join(dir, "_gen", `fn${n}_pb.ts`), descriptorModule(n));
    writeFileSync(
      path.join(dir, `fn-${n}.ts`),
      [
        `// Generated for the cold-start benchmark (bench/src/scenarios/generate-functions.ts).`,
        `import { defineFunction } from "sluice";`,
        `import { ${service} } from "./_gen/fn${n}_pb.js";`,
        ``,
        `export default defineFunction({`,
        `  service: ${service},`,
        `  implementation: {`,
        `    echo(req) {`,
        `      return { id: req.id, text: req.text, count: req.count, tags: req.tags };`,
        `    },`,
        `  },`,
        `});`,
        ``,
      ].join("\n"),
    );
    lastService = `cold.v1.${service}`;
  }
  return { dir, lastService };
}

function descriptorModule(n: string): string {
  const field = (name: string, number: number, type: FieldDescriptorProto_Type, repeated = false) => ({
    name,
    number,
    type,
    label: repeated ? FieldDescriptorProto_Label.REPEATED : FieldDescriptorProto_Label.OPTIONAL,
  });
  const fields = [
    field("id", 1, FieldDescriptorProto_Type.STRING),
    field("text", 2, FieldDescriptorProto_Type.STRING),
    field("count", 3, FieldDescriptorProto_Type.INT64),
    field("tags", 4, FieldDescriptorProto_Type.STRING, true),
  ];
  const file = create(FileDescriptorProtoSchema, {
    name: `cold/v1/fn${n}.proto`,
    package: "cold.v1",
    syntax: "proto3",
    messageType: [
      { name: `Fn${n}Request`, field: fields },
      { name: `Fn${n}Response`, field: fields },
    ],
    service: [{ name: `Fn${n}Service`, method: [{ name: "Echo", inputType: `.cold.v1.Fn${n}Request`, outputType: `.cold.v1.Fn${n}Response` }] }],
  });
  const b64 = base64Encode(toBinary(FileDescriptorProtoSchema, file), "std_raw");
  return [
    `// Generated for the cold-start benchmark, in the shape protoc-gen-es emits.`,
    `import type { GenFile, GenMessage, GenService } from "@bufbuild/protobuf/codegenv2";`,
    `import { fileDesc, serviceDesc } from "@bufbuild/protobuf/codegenv2";`,
    `import type { Message } from "@bufbuild/protobuf";`,
    ``,
    `export const file_cold_v1_fn${n}: GenFile = /*@__PURE__*/ fileDesc("${b64}");`,
    ``,
    `type Fields = { id: string; text: string; count: bigint; tags: string[] };`,
    `export type Fn${n}Request = Message<"cold.v1.Fn${n}Request"> & Fields;`,
    `export type Fn${n}Response = Message<"cold.v1.Fn${n}Response"> & Fields;`,
    ``,
    `export const Fn${n}Service: GenService<{`,
    `  echo: { methodKind: "unary"; input: GenMessage<Fn${n}Request>; output: GenMessage<Fn${n}Response> };`,
    `}> = /*@__PURE__*/ serviceDesc(file_cold_v1_fn${n}, 0);`,
    ``,
  ].join("\n");
}
