// SIGTERM drains: readiness and health go NOT_SERVING, calls in flight run
// to completion (a client stream keeps every message it sends), calls still
// running at the drain timeout end with UNAVAILABLE, and the process exits 0.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../proto/gen/grpc/health/v1/health_pb.js";
import { IngestService } from "../../proto/gen/ingest/v1/ingest_pb.js";
import { TickerService } from "../../proto/gen/ticker/v1/ticker_pb.js";
import { ProbeService } from "../gen/probe/v1/probe_pb.js";
import { client } from "../support/clients.js";
import { root, startGateway } from "../support/gateway.js";

const examples = `${root}/functions`;
const record = (i: number) => ({ time: timestampFromMs(1_700_000_000_000 + i), message: `line ${i}` });

/** A request stream the test feeds by hand. */
function feed<T>() {
  const queue: T[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  async function* iterate() {
    for (;;) {
      while (queue.length > 0) yield queue.shift()!;
      if (ended) return;
      await new Promise<void>((r) => (wake = r));
    }
  }
  return {
    send: (item: T) => {
      queue.push(item);
      wake?.();
    },
    end: () => {
      ended = true;
      wake?.();
    },
    iterable: iterate(),
  };
}

test("SIGTERM lets a client stream in flight finish with every message counted", async () => {
  const gw = await startGateway({ functionsDir: examples });
  const transport = createGrpcTransport({ baseUrl: gw.url });
  const records = feed<ReturnType<typeof record>>();
  const summary = client(IngestService, transport).ingest(records.iterable);
  for (let i = 0; i < 10; i++) records.send(record(i));
  // Opened after the ingest on the same connection, so its first answer also
  // proves the server has the ingest stream.
  const watch = client(Health, transport).watch({ service: "" })[Symbol.asyncIterator]();
  assert.equal((await watch.next()).value?.status, Status.SERVING);
  gw.child.kill("SIGTERM");
  await gw.waitForOutput('"msg":"draining"');

  // Health watchers hear NOT_SERVING, then their stream ends so it cannot hold the drain.
  assert.equal((await watch.next()).value?.status, Status.NOT_SERVING);
  assert.equal((await watch.next()).done, true);

  // The client keeps sending after the signal; nothing it sent is dropped.
  for (let i = 10; i < 25; i++) records.send(record(i));
  records.end();
  const result = await summary;
  assert.equal(result.count, 25n);
  assert.equal(await gw.exited, 0);
  assert.match(gw.output(), /"inFlight":2,.*"msg":"draining"/); // the ingest and the health watch
  assert.match(gw.output(), /"msg":"shut down"/);
});

test("calls still running at the drain timeout end with UNAVAILABLE; the process exits 0", async () => {
  // The probe's stream ignores every signal: only the drain timeout ends it.
  const gw = await startGateway({ args: ["--set", "drainTimeoutMs=300"] });
  const transport = createGrpcTransport({ baseUrl: gw.url });
  const probe = client(ProbeService, transport);
  const stream = probe.serverStream({ count: 0, sleepMs: 20, ignoreSignal: true })[Symbol.asyncIterator]();
  await stream.next();
  const requests = feed<{ text: string }>();
  const summary = probe.clientStream(requests.iterable).then(() => undefined, (e) => ConnectError.from(e));
  requests.send({ text: "one" });
  // Streams open in order on the one HTTP/2 connection: once a later call is
  // answered, the client stream is known to the server (not refused by GOAWAY).
  await probe.unary({});

  gw.child.kill("SIGTERM");
  const streamError = await (async () => {
    for (let r = await stream.next(); !r.done; r = await stream.next()) {
      // messages keep coming until the drain timeout
    }
  })().then(() => undefined, (e) => ConnectError.from(e));
  assert.equal(streamError?.code, Code.Unavailable, `${streamError}\n${gw.output()}`);
  assert.match(streamError!.rawMessage, /SLUICE_RPC_DRAIN_TIMEOUT/);

  // A client stream that never finished is failed, not reported as a success.
  const clientStreamError = await summary;
  assert.equal(clientStreamError?.code, Code.Unavailable, `${clientStreamError}\n${gw.output()}`);
  assert.equal(await gw.exited, 0);
  assert.match(gw.output(), /drain timeout: ending the remaining calls with UNAVAILABLE/);
});

test("long-lived example streams end with UNAVAILABLE as soon as the drain begins", async () => {
  const gw = await startGateway({ functionsDir: examples });
  const transport = createGrpcTransport({ baseUrl: gw.url });
  const ticks = client(TickerService, transport).subscribe({ symbols: ["ACME"], intervalMs: 60_000 })[Symbol.asyncIterator]();
  await ticks.next();
  gw.child.kill("SIGTERM");
  const err = await ticks.next().then(() => undefined, (e) => ConnectError.from(e));
  assert.equal(err?.code, Code.Unavailable);
  assert.equal(err?.rawMessage, "the server is restarting; subscribe again");
  assert.equal(await gw.exited, 0);
  assert.doesNotMatch(gw.output(), /drain timeout/);
});

test("SIGINT drains the same way, and new connections are refused once draining", async () => {
  const gw = await startGateway({ functionsDir: examples });
  gw.child.kill("SIGINT");
  assert.equal(await gw.exited, 0);
  const err = await client(Health, createGrpcTransport({ baseUrl: gw.url })).check({}).then(() => undefined, (e) => ConnectError.from(e));
  assert.equal(err?.code, Code.Unavailable);
});
