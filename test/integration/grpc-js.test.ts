// @grpc/grpc-js, the gRPC client Node backends use, calls every example
// over h2c, for all four stream kinds, plus the health service.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { grpc, grpcJsClient } from "../support/grpc-js-client.js";
import { root, startGateway } from "../support/gateway.js";

const gw = await startGateway({ functionsDir: `${root}/functions` });
const address = `127.0.0.1:${gw.port}`;
const greet = grpcJsClient("greet/v1/greet.proto", "greet.v1.GreetService", address);
const ticker = grpcJsClient("ticker/v1/ticker.proto", "ticker.v1.TickerService", address);
const ingest = grpcJsClient("ingest/v1/ingest.proto", "ingest.v1.IngestService", address);
const chat = grpcJsClient("chat/v1/chat.proto", "chat.v1.ChatService", address);
const health = grpcJsClient("grpc/health/v1/health.proto", "grpc.health.v1.Health", address);
after(async () => {
  for (const c of [greet, ticker, ingest, chat, health]) c.close();
  assert.equal(await gw.stop(), 0);
});

function unary<T>(c: Record<string, Function>, method: string, req: object, metadata = new grpc.Metadata()): Promise<T> {
  return new Promise((resolve, reject) => c[method]!(req, metadata, (err: Error | null, res: T) => (err ? reject(err) : resolve(res))));
}

test("unary", async () => {
  const res = await unary<{ greeting: string }>(greet, "Greet", { name: "Grace", locale: "fr" });
  assert.equal(res.greeting, "Bonjour, Grace !");
});

test("unary error: INVALID_ARGUMENT with grpc-status-details-bin", async () => {
  const err = await unary(greet, "Greet", { name: "" }).catch((e: grpc.ServiceError) => e);
  assert.ok(err instanceof Error);
  const e = err as grpc.ServiceError;
  assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
  assert.match(e.details, /name is required/);
  assert.ok(e.metadata.get("grpc-status-details-bin").length === 1, "the BadRequest detail travels in grpc-status-details-bin");
});

test("server streaming until the client cancels", async () => {
  const call = ticker.Subscribe!({ symbols: ["ACME"], intervalMs: 10 }) as grpc.ClientReadableStream<{ sequence: string; symbol: string }>;
  const seen: string[] = [];
  const status = await new Promise<grpc.StatusObject | grpc.ServiceError>((resolve) => {
    call.on("data", (tick) => {
      seen.push(tick.sequence);
      if (seen.length === 5) call.cancel();
    });
    call.on("error", resolve);
    call.on("status", resolve);
  });
  assert.equal(status.code, grpc.status.CANCELLED);
  assert.deepEqual(seen.slice(0, 5), ["1", "2", "3", "4", "5"]);
});

test("server streaming ends with DEADLINE_EXCEEDED at the deadline", async () => {
  const call = ticker.Subscribe!({ symbols: ["ACME"], intervalMs: 20 }, new grpc.Metadata(), { deadline: Date.now() + 250 }) as grpc.ClientReadableStream<unknown>;
  let ticks = 0;
  const err = await new Promise<grpc.ServiceError>((resolve) => {
    call.on("data", () => ticks++);
    call.on("error", resolve);
  });
  assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
  assert.ok(ticks > 0);
});

test("client streaming", async () => {
  const summary = await new Promise<{ count: string; bytes: string }>((resolve, reject) => {
    const call = ingest.Ingest!((err: Error | null, res: { count: string; bytes: string }) => (err ? reject(err) : resolve(res)));
    for (let i = 0; i < 50; i++) call.write({ time: { seconds: 1700000000 + i }, level: "LEVEL_INFO", message: `line ${i}` });
    call.end();
  });
  assert.equal(summary.count, "50");
  assert.ok(Number(summary.bytes) > 50 * 10);
});

test("client streaming error names the bad record", async () => {
  const err = await new Promise<grpc.ServiceError>((resolve, reject) => {
    const call = ingest.Ingest!((e: grpc.ServiceError | null) => (e ? resolve(e) : reject(new Error("expected an error"))));
    call.write({ time: { seconds: 1 }, message: "ok" });
    call.write({ message: "no time" });
    call.end();
  });
  assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
  assert.match(err.details, /record 2: time is required/);
});

test("bidi: two members of a room see each other's messages", async () => {
  type Event = { kind: string; from: string; text: string };
  const open = (name: string) => {
    const call = chat.Chat!() as grpc.ClientDuplexStream<object, Event>;
    const events: Event[] = [];
    const waiters: (() => void)[] = [];
    call.on("data", (e: Event) => {
      events.push(e);
      waiters.splice(0).forEach((w) => w());
    });
    call.on("error", () => {});
    const next = async (): Promise<Event> => {
      while (events.length === 0) await new Promise<void>((r) => waiters.push(r));
      return events.shift()!;
    };
    call.write({ join: { room: "grpc-js", name } });
    return { call, next };
  };
  const a = open("ann");
  assert.equal((await a.next()).kind, "KIND_JOINED");
  const b = open("ben");
  assert.equal((await b.next()).from, "ben");
  assert.equal((await a.next()).from, "ben");
  a.call.write({ say: { text: "hello ben" } });
  for (const m of [a, b]) {
    const e = await m.next();
    assert.deepEqual([e.kind, e.from, e.text], ["KIND_MESSAGE", "ann", "hello ben"]);
  }
  a.call.end();
  const left = await b.next();
  assert.deepEqual([left.kind, left.from], ["KIND_LEFT", "ann"]);
  b.call.end();
});

test("health: overall and per service SERVING, unknown service NOT_FOUND", async () => {
  assert.equal((await unary<{ status: string }>(health, "Check", { service: "" })).status, "SERVING");
  assert.equal((await unary<{ status: string }>(health, "Check", { service: "chat.v1.ChatService" })).status, "SERVING");
  const err = await unary(health, "Check", { service: "nope.v1.Nope" }).catch((e: grpc.ServiceError) => e);
  assert.equal((err as grpc.ServiceError).code, grpc.status.NOT_FOUND);
});

test("unknown method: UNIMPLEMENTED", async () => {
  const err = await new Promise<grpc.ServiceError>((resolve) => {
    greet.makeUnaryRequest("/greet.v1.GreetService/Nope", (x: Buffer) => x, (x: Buffer) => x, Buffer.alloc(0), (e) => resolve(e as grpc.ServiceError));
  });
  assert.equal(err.code, grpc.status.UNIMPLEMENTED);
  assert.match(err.details, /SLUICE_RPC_UNIMPLEMENTED/);
});
