// @grpc/grpc-js as its users write it: the service loaded from the .proto at
// start-up with @grpc/proto-loader, plain-object messages, callbacks.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { benchProtoDir } from "../paths.js";
import { announce } from "./serve-arm.js";
import { waitUntilWritable } from "./wait-until-writable.js";

/** An EchoRequest/EchoResponse as proto-loader hands it over with these options. */
interface EchoMessage {
  id: string;
  text: string;
  timestamp_ms: string;
  score: number;
  tags: string[];
  payload: Buffer;
}

const definition = protoLoader.loadSync("bench/v1/echo.proto", {
  includeDirs: [benchProtoDir],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const bench = grpc.loadPackageDefinition(definition).bench as grpc.GrpcObject;
const EchoService = (bench.v1 as grpc.GrpcObject).EchoService as grpc.ServiceClientConstructor;

function echoOf(req: EchoMessage): EchoMessage {
  return { id: req.id, text: req.text, timestamp_ms: req.timestamp_ms, score: req.score, tags: req.tags, payload: req.payload };
}

const server = new grpc.Server();
server.addService(EchoService.service, {
  Echo(call: grpc.ServerUnaryCall<EchoMessage, EchoMessage>, callback: grpc.sendUnaryData<EchoMessage>) {
    callback(null, echoOf(call.request));
  },
  async EchoStream(call: grpc.ServerWritableStream<{ count: number; message: EchoMessage | null }, EchoMessage>) {
    const reply = call.request.message ? echoOf(call.request.message) : ({} as EchoMessage);
    for (let i = 0; i < call.request.count && !call.cancelled; i++) {
      if (!call.write(reply)) await waitUntilWritable(call);
    }
    if (!call.cancelled) call.end();
  },
  EchoBidi(call: grpc.ServerDuplexStream<EchoMessage, EchoMessage>) {
    call.on("data", (req: EchoMessage) => call.write(echoOf(req)));
    call.on("end", () => call.end());
  },
});
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  announce(port, () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
});
