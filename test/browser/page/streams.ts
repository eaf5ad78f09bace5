// The page test/browser/browser.test.ts loads for the WebSocket transport:
// generated Connect clients on sluice/web-transport (as an app imports it
// from the package), calling the examples with every stream kind. What it
// does depends on the query:
//
//   (none)                 unary, server and client streaming, errors, deadline
//   ?chat=<room>&name=<n>  joins the chat room, says hello once another
//                          member is there, and shows the other's hello
//   ?slow=<room>           joins the room, then stops reading until the
//                          "Resume reading" button is pressed
//
// Each outcome is one line of text; `body[data-done]` says they are all there.
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createWebSocketTransport } from "sluice/web-transport";
import { ChatEvent_Kind, type ChatRequest, ChatService } from "../../../proto/gen/chat/v1/chat_pb.js";
import { BadRequestSchema } from "../../../proto/gen/google/rpc/error_details_pb.js";
import { GreetService } from "../../../proto/gen/greet/v1/greet_pb.js";
import { IngestService, Level } from "../../../proto/gen/ingest/v1/ingest_pb.js";
import { TickerService } from "../../../proto/gen/ticker/v1/ticker_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ChatRequestSchema } from "../../../proto/gen/chat/v1/chat_pb.js";

const params = new URL(location.href).searchParams;
const api = params.get("api") ?? location.origin;
const list = document.getElementById("results")!;
const transport = createWebSocketTransport({ baseUrl: api });

function show(name: string, text: string): void {
  const item = document.createElement("li");
  item.dataset.check = name;
  item.textContent = `${name}: ${text}`;
  list.append(item);
}

function describeError(e: unknown): string {
  const err = ConnectError.from(e);
  const violations = err.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => `${v.field} ${v.reason}`));
  return `${Code[err.code]}: ${err.rawMessage}${violations.length > 0 ? ` | BadRequest: ${violations.join(", ")}` : ""}`;
}

async function attempt(name: string, call: () => Promise<string>): Promise<void> {
  let text: string;
  try {
    text = await call();
  } catch (e) {
    text = `unexpected ${describeError(e)}`;
  }
  show(name, text);
}

/** The chat messages a page sends, pushed by the page as it goes; ended by close(). */
class Outbox implements AsyncIterable<MessageInitShape<typeof ChatRequestSchema>> {
  #queue: MessageInitShape<typeof ChatRequestSchema>[] = [];
  #wake: (() => void) | undefined;
  #closed = false;

  push(m: MessageInitShape<typeof ChatRequestSchema>): void {
    this.#queue.push(m);
    this.#wake?.();
  }

  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChatRequest> {
    for (;;) {
      const next = this.#queue.shift();
      if (next !== undefined) {
        yield next as ChatRequest;
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((r) => (this.#wake = r));
      this.#wake = undefined;
    }
  }
}

async function basics(): Promise<void> {
  const greeter = createClient(GreetService, transport);
  const ticker = createClient(TickerService, transport);
  const ingest = createClient(IngestService, transport);

  await attempt("ws unary", async () => {
    const res = await greeter.greet({ name: "Ada", locale: "de" });
    return `${res.greeting} (${res.locale})`;
  });

  await attempt("ws server streaming", async () => {
    const seen: string[] = [];
    const abort = new AbortController();
    for await (const tick of ticker.subscribe({ symbols: ["ACME", "GLOBEX"], intervalMs: 10 }, { signal: abort.signal })) {
      seen.push(`${tick.symbol}#${tick.sequence}`);
      if (seen.length === 4) break;
    }
    abort.abort();
    return seen.join(" ");
  });

  await attempt("ws client streaming", async () => {
    async function* records() {
      yield { time: timestampFromMs(1_000), level: Level.INFO, message: "started" };
      yield { time: timestampFromMs(2_000), level: Level.INFO, message: "working" };
      yield { time: timestampFromMs(3_000), level: Level.ERROR, message: "failed", attributes: { code: "42" } };
    }
    const s = await ingest.ingest(records());
    const levels = Object.entries(s.countByLevel).sort().map(([k, v]) => `${k}=${v}`).join(" ");
    return `${s.count} records, ${levels}`;
  });

  await attempt("ws error", () => greeter.greet({ name: "" }).then(() => "no error", (e: unknown) => describeError(e)));

  await attempt("ws deadline", async () => {
    let ticks = 0;
    try {
      for await (const _ of ticker.subscribe({ symbols: ["ACME"], intervalMs: 10 }, { timeoutMs: 300 })) ticks++;
      return "no error";
    } catch (e) {
      const code = ConnectError.from(e).code;
      if (code !== Code.DeadlineExceeded) throw e;
      return `${Code[code]} after ${ticks > 0 ? "some" : "no"} ticks`;
    }
  });
}

async function chat(room: string, name: string): Promise<void> {
  const outbox = new Outbox();
  outbox.push({ action: { case: "join", value: { room, name } } });
  let said = false;
  let heard = false;
  let echoed = false;
  try {
    for await (const e of createClient(ChatService, transport).chat(outbox)) {
      // Say hello once someone else is in the room, so that they hear it.
      if (!said && e.members >= 2) {
        said = true;
        outbox.push({ action: { case: "say", value: { text: `hello from ${name}` } } });
      }
      if (e.kind === ChatEvent_Kind.MESSAGE && e.from !== name) {
        heard = true;
        show(`chat ${name}`, `heard ${e.from}: ${e.text}`);
      }
      if (e.kind === ChatEvent_Kind.MESSAGE && e.from === name) echoed = true;
      // Leave (close the request stream) once both hellos went round.
      if (heard && echoed) outbox.close();
    }
    show(`chat ${name} end`, "left the room");
  } catch (e) {
    show(`chat ${name} end`, `unexpected ${describeError(e)}`);
  }
}

async function slowMember(room: string): Promise<void> {
  const outbox = new Outbox();
  outbox.push({ action: { case: "join", value: { room, name: "slow" } } });
  const events = createClient(ChatService, transport).chat(outbox)[Symbol.asyncIterator]();
  const first = await events.next();
  show("slow joined", first.done ? "no event" : `${first.value.from} joined, ${first.value.members} member(s)`);
  // Stop reading: WebSocketStream stops taking messages from the socket,
  // and the gateway sees a consumer that does not keep up.
  const button = document.createElement("button");
  button.id = "resume";
  button.textContent = "Resume reading";
  document.body.append(button);
  await new Promise<void>((resolve) => button.addEventListener("click", () => resolve(), { once: true }));
  let count = 0;
  try {
    for (let r = await events.next(); !r.done; r = await events.next()) count++;
    show("slow outcome", `${count} more events, then the end of the stream`);
  } catch (e) {
    show("slow outcome", `${count > 256 ? "more than 256" : count} more events, then ${describeError(e)}`);
  }
}

const chatRoom = params.get("chat");
const slowRoom = params.get("slow");
if (chatRoom !== null) await chat(chatRoom, params.get("name") ?? "anonymous");
else if (slowRoom !== null) await slowMember(slowRoom);
else await basics();
document.body.dataset.done = "true";
