// A closed HTTP/2 stream must not reach the call it carried: Node can keep a
// closed stream alive until the next full GC, and V8's scavenges keep all it
// references (src/rpc/forget-listeners.ts). Both ends are checked: the
// gateway's server streams (H2Exchange) and its upstream streams
// (UpstreamConnection).
import assert from "node:assert/strict";
import http2 from "node:http2";
import { once } from "node:events";
import { after, before, test } from "node:test";
import { H2Exchange } from "../../src/rpc/h2-exchange.js";
import { eventually, startUpstream, upstreamRegistry, type UpstreamProcess } from "../support/upstream-process.js";
import type { UpstreamRegistry } from "../../src/upstream/upstream-registry.js";

let up: UpstreamProcess;
let reg: UpstreamRegistry;
before(async () => {
  up = await startUpstream();
  reg = upstreamRegistry({ probe: { url: up.url } });
});
after(async () => {
  await reg.close(500);
  await up.kill();
});

test("a server stream answered through H2Exchange keeps only an 'error' listener once closed; the client got the answer and the trailers", async () => {
  const server = http2.createServer();
  const left = new Promise<string[]>((resolve) => {
    server.on("stream", (stream, headers) => {
      const x = new H2Exchange(stream, headers, "http");
      // What a call hangs on its stream: body listeners that close over it.
      const call = { x, received: [] as Buffer[] };
      stream.on("data", (c: Buffer) => call.received.push(c));
      stream.on("end", () => {
        x.respond(200, { "content-type": "application/grpc" }, "trailers");
        x.end(Buffer.from([0, 0, 0, 0, 0]), { "grpc-status": "0" });
      });
      // Added after the exchange's own: runs after it, in the same emit.
      stream.on("close", () => {
        x.release();
        resolve(stream.eventNames().map(String));
      });
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const client = http2.connect(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
  try {
    const req = client.request({ ":method": "POST", ":path": "/p.S/M", "content-type": "application/grpc", te: "trailers" });
    req.end(Buffer.from([0, 0, 0, 0, 0]));
    const trailers = once(req, "trailers");
    const body: Buffer[] = [];
    req.on("data", (c: Buffer) => body.push(c));
    const [t] = (await trailers) as [http2.IncomingHttpHeaders];
    assert.equal(t["grpc-status"], "0");
    await once(req, "close");
    assert.deepEqual(Buffer.concat(body), Buffer.from([0, 0, 0, 0, 0]));
    assert.deepEqual(await left, ["error"]);
  } finally {
    client.close();
    server.close();
  }
});

test("an upstream stream keeps only an 'error' listener once closed, after every 'close' listener of the call has run", async () => {
  const stream = await reg.get("probe").openStream({ ":path": "/probe.v1.ProbeService/Unary", "content-type": "application/grpc" }, {});
  let closeSeen = false;
  stream.on("close", () => (closeSeen = true));
  stream.on("data", () => {});
  stream.end(Buffer.from([0, 0, 0, 0, 0]));
  await once(stream, "close");
  await eventually(() => closeSeen, 5_000, "the call's close listener ran");
  assert.deepEqual(stream.eventNames().map(String), ["error"]);
  // The slot went back to the pool (the pool's own 'close' listener ran first).
  await eventually(() => reg.get("probe").state().activeStreams === 0, 5_000, "the pool's stream count back to 0");
});
