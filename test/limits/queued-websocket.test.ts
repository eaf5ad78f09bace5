// A gRPC-Web call over WebSocket that breaks the grpc-websockets protocol
// while it waits in its route's queue (maxConcurrent with a queue), on a
// function route and on a proxy route: it leaves the queue and is answered
// at once, the call that holds the slot keeps it alone (maxConcurrent holds),
// the next queued call runs when that slot frees, and nothing is left
// running: the drain finds no call in flight.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { ChunkSchema, UploadSummarySchema } from "../gen/flow/v1/flow_pb.js";
import { pause, startFlowGateway, type FlowGateway } from "../support/flow-gateway.js";
import { startFlowProxy } from "../support/flow-proxy.js";
import { RawWsCall } from "../support/grpc-websocket.js";
import { envelope } from "../support/raw-http.js";
import { startUpstream, type UpstreamProcess } from "../support/upstream-process.js";

const uploadPath = "/flow.v1.FlowService/Upload";
const limits = { limits: { "flow.v1.FlowService/Upload": { maxConcurrent: 1, queue: 5, queueTimeoutMs: 20_000 } } };

function chunk(sequence: number): Buffer {
  return envelope(toBinary(ChunkSchema, create(ChunkSchema, { sequence: BigInt(sequence) })));
}

async function openUpload(gw: FlowGateway, requestId: string): Promise<RawWsCall> {
  const call = new RawWsCall(`${gw.url.replace(/^http/, "ws")}${uploadPath}`);
  await call.opened();
  call.headers({ "content-type": "application/grpc-web+proto", "x-request-id": requestId });
  return call;
}

/** The open-call count of the gateway's "draining" log line. */
function inFlightAtDrain(output: string): number | undefined {
  const line = output.split("\n").find((l) => l.includes('"msg":"draining"'));
  return line === undefined ? undefined : (JSON.parse(line) as { inFlight: number }).inFlight;
}

for (const route of ["function", "proxy"] as const) {
  describe(`a queued WebSocket call that breaks the protocol (${route} route)`, () => {
    let gw: FlowGateway;
    let upstream: UpstreamProcess | undefined;
    before(async () => {
      if (route === "proxy") upstream = await startUpstream({ impl: "connect" });
      gw = route === "proxy" ? await startFlowProxy(`ws-queue-${route}`, upstream!, limits) : await startFlowGateway(`ws-queue-${route}`, limits);
    });
    after(async () => {
      await gw?.stop();
      await upstream?.kill();
    });

    test("leaves the queue with INVALID_ARGUMENT at once; maxConcurrent holds; the next queued call runs when the slot frees; nothing is left in flight", async () => {
      // The slot's holder: a client stream left open.
      const holder = await openUpload(gw, `ws-q-${route}-holder`);
      holder.data(chunk(1));
      await pause(200);
      // Two calls wait in the queue; the second breaks the protocol (a text message).
      const waiting = await openUpload(gw, `ws-q-${route}-waiting`);
      waiting.data(chunk(7));
      waiting.end();
      const breaker = await openUpload(gw, `ws-q-${route}-breaker`);
      await pause(200);
      breaker.ws.send("not a binary message");
      const broken = await breaker.outcome();
      assert.equal(broken.trailer?.["grpc-status"], String(Code.InvalidArgument), JSON.stringify(broken));
      assert.equal(broken.closeCode, 1003);

      // The waiting call is still queued: it sent its whole request, and a
      // running call would have answered it by now.
      await pause(500);
      let answered = false;
      waiting.ws.once("message", () => (answered = true));
      await pause(100);
      assert.equal(answered, false, "the queued call ran beside the slot's holder: maxConcurrent 1 was exceeded");

      // The holder ends: its slot goes to the waiting call, which is answered.
      holder.data(chunk(2));
      holder.end();
      const held = await holder.outcome();
      assert.equal(held.trailer?.["grpc-status"], "0", JSON.stringify(held));
      assert.deepEqual(fromBinary(UploadSummarySchema, held.messages[0]!).sequences, [1n, 2n]);
      const ran = await waiting.outcome();
      assert.equal(ran.trailer?.["grpc-status"], "0", JSON.stringify(ran));
      assert.deepEqual(fromBinary(UploadSummarySchema, ran.messages[0]!).sequences, [7n]);

      // No call without a client is left running: the drain finds none.
      await pause(200);
      const { code } = await gw.stopAndCount();
      assert.equal(code, 0);
      assert.equal(inFlightAtDrain(gw.output()), 0, "calls in flight when the drain began");
      assert.doesNotMatch(gw.output(), /drain timeout/);
    });
  });
}
