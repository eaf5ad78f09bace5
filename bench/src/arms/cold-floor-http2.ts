// Cold-start floor: the least a Node process can do before it answers the
// cold-start scenario's first call (a Connect JSON Greet over h2c). No
// framework, no protobuf: Node's own start-up, node:http2 and one answer.
import http2 from "node:http2";
import { announce, portOf } from "./serve-arm.js";

const answer = Buffer.from(JSON.stringify({ greeting: "Hello, bench!" }));
const server = http2.createServer();
server.on("stream", (stream, headers) => {
  stream.on("error", () => {});
  if (headers[":path"] !== "/greet.v1.GreetService/Greet") {
    stream.respond({ ":status": 404 }, { endStream: true });
    return;
  }
  stream.resume();
  stream.on("end", () => {
    stream.respond({ ":status": 200, "content-type": "application/json" });
    stream.end(answer);
  });
});
server.listen(0, "127.0.0.1", () => announce(portOf(server.address()), () => new Promise((resolve) => server.close(() => resolve()))));
