// @grpc/grpc-js with @bufbuild/protobuf doing the encoding: the same server
// as grpc-js-proto-loader.ts with the codec swapped, so the difference
// between the two shows how much of grpc-js's cost is the codec.
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { EchoResponseSchema, EchoService, type EchoRequest, type EchoResponse, type StreamRequest } from "../../gen/bench/v1/echo_pb.js";
import { announce } from "./serve-arm.js";
import { waitUntilWritable } from "./wait-until-writable.js";

function serializer<D extends DescMessage>(schema: D): (m: MessageShape<D>) => Buffer {
  return (m) => {
    const bytes = toBinary(schema, m);
    // A view, not a copy.
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer<D extends DescMessage>(schema: D): (b: Buffer) => MessageShape<D> {
  return (b) => fromBinary(schema, b);
}

/** grpc-js's service definition for EchoService, built from the generated descriptor. */
const definition: grpc.ServiceDefinition = Object.fromEntries(
  EchoService.methods.map((m) => [
    m.name,
    {
      path: `/${EchoService.typeName}/${m.name}`,
      requestStream: m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming",
      responseStream: m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming",
      requestSerialize: serializer(m.input),
      requestDeserialize: deserializer(m.input),
      responseSerialize: serializer(m.output),
      responseDeserialize: deserializer(m.output),
      originalName: m.localName,
    },
  ]),
);

function echoOf(req: EchoRequest): EchoResponse {
  return create(EchoResponseSchema, { id: req.id, text: req.text, timestampMs: req.timestampMs, score: req.score, tags: req.tags, payload: req.payload });
}

const server = new grpc.Server();
server.addService(definition, {
  Echo(call: grpc.ServerUnaryCall<EchoRequest, EchoResponse>, callback: grpc.sendUnaryData<EchoResponse>) {
    callback(null, echoOf(call.request));
  },
  async EchoStream(call: grpc.ServerWritableStream<StreamRequest, EchoResponse>) {
    const reply = call.request.message ? echoOf(call.request.message) : create(EchoResponseSchema);
    for (let i = 0; i < call.request.count && !call.cancelled; i++) {
      if (!call.write(reply)) await waitUntilWritable(call);
    }
    if (!call.cancelled) call.end();
  },
  EchoBidi(call: grpc.ServerDuplexStream<EchoRequest, EchoResponse>) {
    call.on("data", (req: EchoRequest) => call.write(echoOf(req)));
    call.on("end", () => call.end());
  },
});
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  announce(port, () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
});
