// The limit: a bare node:http2 stream-API server that answers every request
// with the bytes it received (a gRPC-framed EchoRequest is a valid
// EchoResponse: the fields are the same) and `grpc-status: 0` trailers. No
// routing, no decoding, no encoding: what Node's HTTP/2 costs on its own.
import http2 from "node:http2";
import { announce, portOf } from "./serve-arm.js";

const server = http2.createServer();
server.on("stream", (stream) => {
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  stream.on("end", () => {
    if (stream.destroyed) return;
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  });
  stream.on("error", () => {});
});
server.listen(0, "127.0.0.1", () => announce(portOf(server.address()), () => new Promise((resolve) => server.close(() => resolve()))));
