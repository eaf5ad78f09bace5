// A bare node:http2 proxy: one client session to the upstream, each inbound stream forwarded as one request.
import http2 from "node:http2";
const upstream = http2.connect(process.argv[3]);
upstream.on("error", (e) => console.error(e));
const server = http2.createServer();
server.on("stream", (stream, headers) => {
  const chunks = [];
  stream.on("data", (c) => chunks.push(c));
  stream.on("end", () => {
    const req = upstream.request({ ":method": "POST", ":path": headers[":path"], "content-type": "application/grpc", te: "trailers" });
    const out = [];
    req.on("response", () => {});
    req.on("data", (c) => out.push(c));
    req.on("trailers", (t) => { req.trailers = t; });
    req.on("end", () => {
      if (stream.destroyed) return;
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": req.trailers?.["grpc-status"] ?? "0" }));
      stream.end(out.length === 1 ? out[0] : Buffer.concat(out));
    });
    req.on("error", () => stream.close());
    req.end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  });
  stream.on("error", () => {});
});
server.listen(Number(process.argv[2]), "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${server.address().port}`));
process.on("SIGTERM", () => process.exit(0));
