// The limit of a proxy in Node: a bare node:http2 server that forwards each
// gRPC call as one request on a single node:http2 client session to the
// upstream, and streams the upstream's body and grpc-status back. No
// pooling, retries, deadlines, header rules, flow limits or translation:
// what Node's HTTP/2 server and client cost on their own for a proxied call.
import http2 from "node:http2";
import { announce, portOf } from "./serve-arm.js";

const target = process.argv[2];
if (target === undefined) throw new Error("usage: raw-http2-proxy.js <upstream url>");
const upstream = http2.connect(target);
upstream.on("error", () => {});

const server = http2.createServer();
server.on("stream", (stream, headers) => {
  stream.on("error", () => {});
  const req = upstream.request({ ":method": "POST", ":path": headers[":path"], "content-type": "application/grpc", te: "trailers" });
  req.on("error", () => {});
  let status = "2"; // UNKNOWN, should the upstream send no trailers
  req.on("response", () => {
    if (!stream.destroyed) stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
  });
  req.on("data", (chunk: Buffer) => {
    if (!stream.destroyed && !stream.write(chunk)) {
      req.pause();
      stream.once("drain", () => req.resume());
    }
  });
  req.on("trailers", (t) => (status = String(t["grpc-status"] ?? status)));
  req.on("close", () => {
    if (stream.destroyed) return;
    stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": status }));
    stream.end();
  });
  stream.on("data", (chunk: Buffer) => req.write(chunk));
  stream.on("end", () => req.end());
  stream.on("close", () => {
    if (!req.closed) req.close(http2.constants.NGHTTP2_CANCEL);
  });
});
server.listen(0, "127.0.0.1", () => announce(portOf(server.address()), () => {
  upstream.close();
  return new Promise((resolve) => server.close(() => resolve()));
}));
