import http2 from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
const { EchoRequestSchema, EchoResponseSchema } = await import("/work/main/bench/.build/gen/bench/v1/echo_pb.js");
const { encodeBinary } = await import("/work/main/dist/src/protocol/protobuf/binary-encoder.js");
const mode = process.argv[2];
if (process.env.BALLAST) { globalThis.ballast = []; for (let i = 0; i < 200000; i++) globalThis.ballast.push({ i, s: "x" + i, a: [i, i + 1] }); }
const server = http2.createServer();
server.on("stream", (stream) => {
  const chunks = [];
  stream.on("data", (chunk) => chunks.push(chunk));
  stream.on("end", () => {
    if (stream.destroyed) return;
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    if (mode === "codec") {
      const req = fromBinary(EchoRequestSchema, body.subarray(5));
      const out = encodeBinary(EchoResponseSchema, { id: req.id, text: req.text, timestampMs: req.timestampMs, score: req.score, tags: req.tags, payload: req.payload }, 5);
      out[0] = 0; out.writeUInt32BE(out.length - 5, 1);
      stream.end(out);
    } else stream.end(body);
  });
  stream.on("error", () => {});
});
server.listen(Number(process.argv[3]), "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${server.address().port}`));
process.on("SIGTERM", () => process.exit(0));
