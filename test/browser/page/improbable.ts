// The page test/browser/browser.test.ts loads for improbable-eng's grpc-web
// client (@improbable-eng/grpc-web, the client of grpcwebproxy) with its own
// WebsocketTransport, unchanged: client streaming, bidi, server streaming
// closed by the client, and an error, against the examples. Its method
// definitions wrap protobuf-es messages in the serializeBinary /
// deserializeBinary shape it expects from google-protobuf classes. Each
// outcome is one line of text; `body[data-done]` says they are all there.
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { grpc } from "@improbable-eng/grpc-web";
import { ChatEvent_Kind, ChatEventSchema, ChatRequestSchema } from "../../../proto/gen/chat/v1/chat_pb.js";
import { GreetRequestSchema, GreetResponseSchema } from "../../../proto/gen/greet/v1/greet_pb.js";
import { IngestSummarySchema, Level, LogRecordSchema } from "../../../proto/gen/ingest/v1/ingest_pb.js";
import { SubscribeRequestSchema, TickSchema } from "../../../proto/gen/ticker/v1/ticker_pb.js";

const api = new URL(location.href).searchParams.get("api") ?? location.origin;
const list = document.getElementById("results")!;
const transport = grpc.WebsocketTransport();

function show(name: string, text: string): void {
  const item = document.createElement("li");
  item.dataset.check = name;
  item.textContent = `${name}: ${text}`;
  list.append(item);
}

/** A protobuf-es message in the shape of a google-protobuf class, as improbable's client uses them. */
function messageClass<D extends DescMessage>(schema: D) {
  return class Wrapped {
    constructor(readonly message: MessageShape<D> = create(schema)) {}
    static of(init: MessageInitShape<D>): Wrapped {
      return new Wrapped(create(schema, init));
    }
    static deserializeBinary(bytes: Uint8Array): Wrapped {
      return new Wrapped(fromBinary(schema, bytes));
    }
    serializeBinary(): Uint8Array {
      return toBinary(schema, this.message);
    }
    toObject(): object {
      return this.message;
    }
  };
}

const LogRecord = messageClass(LogRecordSchema);
const IngestSummary = messageClass(IngestSummarySchema);
const ChatRequest = messageClass(ChatRequestSchema);
const ChatEvent = messageClass(ChatEventSchema);
const GreetRequest = messageClass(GreetRequestSchema);
const GreetResponse = messageClass(GreetResponseSchema);
const SubscribeRequest = messageClass(SubscribeRequestSchema);
const Tick = messageClass(TickSchema);

function method<Req, Res>(service: string, name: string, requestStream: boolean, responseStream: boolean, requestType: Req, responseType: Res) {
  return { methodName: name, service: { serviceName: service }, requestStream, responseStream, requestType, responseType } as never;
}

/** Runs a call with improbable's client; resolves with its messages and how it ended. */
function call<Res>(def: never, requests: object[], opts: { finish?: boolean; closeAfter?: number } = {}): Promise<{ messages: Res[]; code: number; message: string }> {
  return new Promise((resolve) => {
    const client = grpc.client(def, { host: api, transport });
    const messages: Res[] = [];
    client.onMessage((m) => {
      messages.push(m as Res);
      if (messages.length === opts.closeAfter) {
        client.close();
        resolve({ messages, code: -1, message: "closed by the client" });
      }
    });
    client.onEnd((code, message) => resolve({ messages, code, message }));
    client.start(new grpc.Metadata());
    for (const r of requests) client.send(r as never);
    if (opts.finish ?? true) client.finishSend();
  });
}

const ingest = await call<InstanceType<typeof IngestSummary>>(method("ingest.v1.IngestService", "Ingest", true, false, LogRecord, IngestSummary), [
  LogRecord.of({ time: timestampFromMs(1_000), level: Level.INFO, message: "started" }),
  LogRecord.of({ time: timestampFromMs(2_000), level: Level.INFO, message: "working" }),
  LogRecord.of({ time: timestampFromMs(3_000), level: Level.ERROR, message: "failed" }),
]);
const summary = ingest.messages[0]?.message;
show("improbable client streaming", `${summary?.count} records, ${Object.entries(summary?.countByLevel ?? {}).sort().map(([k, v]) => `${k}=${v}`).join(" ")}, status ${ingest.code}`);

// Bidi: join a room, say something; the echo comes back; then close our side.
const room = `improbable-${Math.random().toString(36).slice(2)}`;
const chat = await new Promise<string>((resolve) => {
  const client = grpc.client(method("chat.v1.ChatService", "Chat", true, true, ChatRequest, ChatEvent), { host: api, transport });
  const seen: string[] = [];
  client.onMessage((m) => {
    const e = (m as InstanceType<typeof ChatEvent>).message;
    seen.push(e.kind === ChatEvent_Kind.JOINED ? `${e.from} joined` : `${e.from}: ${e.text}`);
    if (e.kind === ChatEvent_Kind.JOINED) client.send(ChatRequest.of({ action: { case: "say", value: { text: "hi over improbable's websocket" } } }) as never);
    else client.finishSend();
  });
  client.onEnd((code) => resolve(`${seen.join(", ")}, status ${code}`));
  client.start(new grpc.Metadata());
  client.send(ChatRequest.of({ action: { case: "join", value: { room, name: "imp" } } }) as never);
});
show("improbable bidi", chat);

const ticks = await call<InstanceType<typeof Tick>>(method("ticker.v1.TickerService", "Subscribe", false, true, SubscribeRequest, Tick), [SubscribeRequest.of({ symbols: ["ACME", "GLOBEX"], intervalMs: 10 })], { closeAfter: 4 });
show("improbable server streaming", `${ticks.messages.map((t) => `${t.message.symbol}#${t.message.sequence}`).join(" ")}, ${ticks.message}`);

const greet = await call<InstanceType<typeof GreetResponse>>(method("greet.v1.GreetService", "Greet", false, false, GreetRequest, GreetResponse), [GreetRequest.of({ name: "" })]);
show("improbable error", `code ${greet.code}: ${greet.message}`);

document.body.dataset.done = "true";
