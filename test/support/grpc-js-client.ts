import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { root } from "./gateway.js";

/**
 * A @grpc/grpc-js client for a service in proto/, loaded the way grpc-js
 * users load it: from the .proto files with @grpc/proto-loader.
 */
export function grpcJsClient(protoFile: string, serviceName: string, address: string, credentials = grpc.credentials.createInsecure()): grpc.Client & Record<string, Function> {
  const def = protoLoader.loadSync(protoFile, {
    includeDirs: [`${root}/proto`, `${root}/test/proto`],
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def);
  const Ctor = serviceName.split(".").reduce<any>((o, part) => o[part], pkg) as typeof grpc.Client;
  return new Ctor(address, credentials) as grpc.Client & Record<string, Function>;
}

export { grpc };
