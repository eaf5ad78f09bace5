// Connect-ES clients (connect-node) call the example functions over every
// protocol, codec and HTTP version Sluice serves, for all four stream kinds.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { ChatEvent_Kind, ChatRequestSchema, ChatService } from "../../proto/gen/chat/v1/chat_pb.js";
import { GreetService } from "../../proto/gen/greet/v1/greet_pb.js";
import { IngestService, Level } from "../../proto/gen/ingest/v1/ingest_pb.js";
import { TickerService } from "../../proto/gen/ticker/v1/ticker_pb.js";
import { client, from, transports } from "../support/clients.js";
import { root, startGateway } from "../support/gateway.js";

const gw = await startGateway({ functionsDir: `${root}/functions` });
after(async () => {
  // Every call has ended, so the drain is immediate and the exit clean.
  assert.equal(await gw.stop(), 0);
  assert.match(gw.output(), /"inFlight":0,.*"msg":"draining"/);
});

for (const [name, transport] of Object.entries(transports(gw.url))) {
  describe(name, () => {
    test("unary: greet", async () => {
      const res = await client(GreetService, transport).greet({ name: "Ada", locale: "de" });
      assert.equal(res.greeting, "Hallo, Ada!");
      assert.equal(res.locale, "de");
    });

    test("unary: validation error keeps code, message and BadRequest detail", async () => {
      const err = await client(GreetService, transport).greet({ name: "" }).then(() => undefined, (e) => ConnectError.from(e));
      assert.ok(err);
      assert.equal(err.code, Code.InvalidArgument);
      assert.match(err.rawMessage, /name is required/);
      assert.equal(err.details.length, 1);
      assert.equal((err.details[0] as { type: string }).type, "google.rpc.BadRequest");
    });

    test("server streaming: ticker streams until the client stops reading", async () => {
      const ticks = [];
      // Breaking out of the loop alone leaves the HTTP/2 stream open; the
      // signal resets it, so the server sees the cancel.
      const cancel = new AbortController();
      for await (const tick of client(TickerService, transport).subscribe({ symbols: ["ACME", "GLOBEX"], intervalMs: 10 }, { signal: cancel.signal })) {
        ticks.push(tick);
        if (ticks.length === 6) break;
      }
      cancel.abort();
      assert.deepEqual(ticks.map((t) => t.sequence), [1n, 2n, 3n, 4n, 5n, 6n]);
      assert.deepEqual(ticks.slice(0, 2).map((t) => t.symbol), ["ACME", "GLOBEX"]);
      assert.ok(ticks.every((t) => t.priceMicros > 0n && t.time !== undefined));
    });

    test("server streaming: the deadline ends the stream with DEADLINE_EXCEEDED", async () => {
      const got: bigint[] = [];
      const err = await (async () => {
        for await (const t of client(TickerService, transport).subscribe({ symbols: ["ACME"], intervalMs: 20 }, { timeoutMs: 300 })) got.push(t.sequence);
      })().then(() => undefined, (e) => ConnectError.from(e));
      assert.equal(err?.code, Code.DeadlineExceeded);
      assert.ok(got.length >= 2, `expected some ticks before the deadline, got ${got.length}`);
    });

    test("client streaming: ingest summarises every record", async () => {
      const records = [3000, 1000, 2000].map((ms, i) => ({
        time: timestampFromMs(ms),
        level: i === 0 ? Level.ERROR : Level.INFO,
        message: `record ${i}`,
        attributes: { host: "a" },
      }));
      const summary = await client(IngestService, transport).ingest(from(records));
      assert.equal(summary.count, 3n);
      assert.ok(summary.bytes > 0n);
      assert.equal(summary.firstTime?.seconds, 1n);
      assert.equal(summary.lastTime?.seconds, 3n);
      assert.deepEqual(summary.countByLevel, { LEVEL_ERROR: 1n, LEVEL_INFO: 2n });
    });

    if (name.endsWith("h2")) {
      test("bidi: chat fans a message out to every member of the room", async () => {
        const chat = client(ChatService, transport);
        const room = `room-${name}`;
        const aliceOut = queue<ReturnType<typeof create<typeof ChatRequestSchema>>>();
        const alice = chat.chat(aliceOut.iterable)[Symbol.asyncIterator]();
        aliceOut.push(create(ChatRequestSchema, { action: { case: "join", value: { room, name: "alice" } } }));
        assert.equal((await alice.next()).value?.kind, ChatEvent_Kind.JOINED);

        const bobOut = queue<ReturnType<typeof create<typeof ChatRequestSchema>>>();
        const bob = chat.chat(bobOut.iterable)[Symbol.asyncIterator]();
        bobOut.push(create(ChatRequestSchema, { action: { case: "join", value: { room, name: "bob" } } }));
        const bobJoined = (await bob.next()).value;
        assert.equal(bobJoined?.from, "bob");
        assert.equal(bobJoined?.members, 2);
        assert.equal((await alice.next()).value?.from, "bob");

        bobOut.push(create(ChatRequestSchema, { action: { case: "say", value: { text: "hi all" } } }));
        for (const member of [alice, bob]) {
          const ev = (await member.next()).value;
          assert.equal(ev?.kind, ChatEvent_Kind.MESSAGE);
          assert.equal(ev?.text, "hi all");
          assert.equal(ev?.from, "bob");
        }

        bobOut.end();
        assert.equal((await bob.next()).done, true);
        const left = (await alice.next()).value;
        assert.equal(left?.kind, ChatEvent_Kind.LEFT);
        assert.equal(left?.members, 1);
        aliceOut.end();
        assert.equal((await alice.next()).done, true);
      });
    } else {
      test("bidi over HTTP/1.1 fails with a clear error instead of hanging", async () => {
        const out = queue<ReturnType<typeof create<typeof ChatRequestSchema>>>();
        out.push(create(ChatRequestSchema, { action: { case: "join", value: { room: "h1", name: "x" } } }));
        out.end();
        const err = await (async () => {
          for await (const _ of client(ChatService, transport).chat(out.iterable, { timeoutMs: 5000 })) {
            // not reached
          }
        })().then(() => undefined, (e) => ConnectError.from(e));
        assert.ok(err, "expected an error");
        assert.notEqual(err.code, Code.DeadlineExceeded, "the call hung until its deadline");
      });
    }
  });
}

/** A hand-fed AsyncIterable for request streams. */
function queue<T>() {
  const items: T[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  return {
    push(item: T) {
      items.push(item);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    iterable: (async function* () {
      for (;;) {
        if (items.length > 0) {
          yield items.shift()!;
          continue;
        }
        if (ended) return;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    })(),
  };
}
