import { createRegistry, toBinary, type DescFile, type Registry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { ServerReflection as ReflectionV1, type ServerReflectionRequest } from "../../proto/gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "../../proto/gen/grpc/reflection/v1alpha/reflection_pb.js";
import type { RouteSource } from "../host/create-routes.js";
import type { Route } from "../host/route-table.js";

/** The reflection services, as the routes table and reserved names know them. */
export const reflectionServiceNames = [ReflectionV1.typeName, ReflectionV1alpha.typeName];

/**
 * gRPC server reflection, v1 and v1alpha (same messages, two package names:
 * grpcurl and buf curl ask v1 first, older clients such as Postman only
 * v1alpha). It lists every service the gateway serves now (functions, proxy
 * routes, health, reflection itself) and answers each look-up with the
 * file's FileDescriptorProto and every file it imports, so that a client
 * needs no .proto files. The descriptors are the ones generated from
 * proto/ (protoc-gen-es embeds them without comments).
 *
 * `routes` is read at each stream's start, so a reload is seen by the next
 * look-up stream.
 */
export function reflectionRouteSources(routes: () => readonly Route[]): RouteSource[] {
  return [ReflectionV1, ReflectionV1alpha].map((service) => ({
    service,
    methods: service.methods,
    options: {},
    source: "(built-in)",
    implementation: {
      async *serverReflectionInfo(requests: AsyncIterable<ServerReflectionRequest>) {
        const index = new ReflectionIndex(routes());
        const sent = new Set<string>();
        for await (const req of requests) yield { validHost: req.host, originalRequest: req, messageResponse: index.answer(req, sent) };
      },
    },
  }));
}

type Answer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/** What the gateway serves, as reflection looks it up. */
class ReflectionIndex {
  readonly #services: string[];
  readonly #files = new Map<string, DescFile>();
  readonly #registry: Registry;

  constructor(routes: readonly Route[]) {
    const services = new Set<string>();
    for (const r of routes) {
      const service = r.method.parent;
      if (services.has(service.typeName)) continue;
      services.add(service.typeName);
      this.#addFile(service.file);
    }
    this.#services = [...services].sort();
    this.#registry = createRegistry(...this.#files.values());
  }

  #addFile(file: DescFile): void {
    if (this.#files.has(file.proto.name)) return;
    this.#files.set(file.proto.name, file);
    for (const dep of file.dependencies) this.#addFile(dep);
  }

  answer(req: ServerReflectionRequest, sent: Set<string>): Answer {
    const m = req.messageRequest;
    switch (m.case) {
      case "listServices":
        return { case: "listServicesResponse", value: { service: this.#services.map((name) => ({ name })) } };
      case "fileByFilename": {
        const file = this.#files.get(m.value);
        return file === undefined ? notFound(`file ${JSON.stringify(m.value)} is not among the files of the services served`) : this.#filesOf(file, sent);
      }
      case "fileContainingSymbol": {
        const file = this.#fileOfSymbol(m.value);
        return file === undefined ? notFound(`symbol ${JSON.stringify(m.value)} is not defined by the services served or the files they import`) : this.#filesOf(file, sent);
      }
      case "fileContainingExtension": {
        const message = this.#registry.getMessage(m.value.containingType);
        const ext = message === undefined ? undefined : this.#registry.getExtensionFor(message, m.value.extensionNumber);
        return ext === undefined ? notFound(`no extension ${m.value.extensionNumber} of ${JSON.stringify(m.value.containingType)} is known`) : this.#filesOf(ext.file, sent);
      }
      case "allExtensionNumbersOfType": {
        const message = this.#registry.getMessage(m.value);
        if (message === undefined) return notFound(`message type ${JSON.stringify(m.value)} is not known`);
        const numbers: number[] = [];
        for (const t of this.#registry) if (t.kind === "extension" && t.extendee.typeName === message.typeName) numbers.push(t.number);
        return { case: "allExtensionNumbersResponse", value: { baseTypeName: message.typeName, extensionNumber: numbers.sort((a, b) => a - b) } };
      }
      default:
        return { case: "errorResponse", value: { errorCode: Code.InvalidArgument, errorMessage: "the request names no look-up (message_request is empty)" } };
    }
  }

  /** A service, a method (pkg.Service.Method), a message (nested ones too), an enum or an extension. */
  #fileOfSymbol(symbol: string): DescFile | undefined {
    const name = symbol.startsWith(".") ? symbol.slice(1) : symbol;
    const found = this.#registry.get(name);
    if (found !== undefined) return found.file;
    const dot = name.lastIndexOf(".");
    if (dot === -1) return undefined;
    // A method, a field, an enum value or a oneof: the file of what it belongs to.
    const parent = this.#registry.get(name.slice(0, dot));
    if (parent !== undefined) return parent.file;
    // An enum value is named in its enum's scope, beside the enum.
    for (const t of this.#registry) {
      if (t.kind === "enum" && t.values.some((v) => `${t.typeName.slice(0, t.typeName.length - t.name.length)}${v.name}` === name)) return t.file;
    }
    return undefined;
  }

  /** The file and everything it imports, transitively, less what this stream has already sent. */
  #filesOf(file: DescFile, sent: Set<string>): Answer {
    const out: Uint8Array[] = [];
    const visit = (f: DescFile, first: boolean) => {
      if (!first && sent.has(f.proto.name)) return;
      sent.add(f.proto.name);
      out.push(toBinary(FileDescriptorProtoSchema, f.proto));
      for (const dep of f.dependencies) visit(dep, false);
    };
    visit(file, true);
    return { case: "fileDescriptorResponse", value: { fileDescriptorProto: out } };
  }
}

function notFound(message: string): Answer {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: message } };
}
