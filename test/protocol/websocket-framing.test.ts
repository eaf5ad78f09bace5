// WebSocket framing as the gateway reads it: the same messages and control
// frames must come out whatever the chunk boundaries, fragmentation and
// masks; broken framing is a problem with the close code to send. Then the
// grpc-websockets layer on top: header block, 0x00 data, 0x01 end of stream.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { FrameReader, opcode, type FrameSink } from "../../src/protocol/websocket/frame-reader.js";
import { closeFrame, encodeFrame, frameHeader, parseClose } from "../../src/protocol/websocket/frame-writer.js";
import { acceptKey, checkHandshake, offersSubprotocol } from "../../src/protocol/websocket/handshake.js";
import { parseHeaderBlock, WebSocketRequestReader, type WebSocketRequestSink } from "../../src/protocol/grpc-web/websocket-request.js";

function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A client frame: masked, as browsers send them. */
function clientFrame(code: number, payload: Uint8Array, opts: { fin?: boolean; mask?: Buffer; rsv?: number; unmasked?: boolean; len64?: boolean } = {}): Buffer {
  const fin = opts.fin ?? true;
  const len = payload.byteLength;
  const head: number[] = [(fin ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | code];
  const maskBit = opts.unmasked ? 0 : 0x80;
  if (len < 126 && !opts.len64) head.push(maskBit | len);
  else if (len < 0x10000 && !opts.len64) head.push(maskBit | 126, len >> 8, len & 0xff);
  else head.push(maskBit | 127, 0, 0, 0, 0, (len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  if (opts.unmasked) return Buffer.concat([Buffer.from(head), payload]);
  const mask = opts.mask ?? randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ mask[i & 3]!;
  return Buffer.concat([Buffer.from(head), mask, body]);
}

type Event = ["message", boolean, Buffer] | ["control", number, Buffer];

/** Feeds `bytes` in the given chunk sizes; returns the whole messages and control frames seen. */
function read(bytes: Buffer, sizes: number[]) {
  const reader = new FrameReader();
  const events: Event[] = [];
  let current: { binary: boolean; parts: Buffer[] } | undefined;
  const sink: FrameSink = {
    messageStart: (binary) => (current = { binary, parts: [] }),
    // Copied: the view is only valid during the call.
    messageData: (data) => current!.parts.push(Buffer.from(data)),
    messageEnd: () => events.push(["message", current!.binary, Buffer.concat(current!.parts)]),
    control: (code, payload) => events.push(["control", code, Buffer.from(payload)]),
  };
  let at = 0;
  for (const size of [...sizes, bytes.length]) {
    if (at >= bytes.length) break;
    const problem = reader.push(Buffer.from(bytes.subarray(at, at + size)), sink);
    at += size;
    if (problem) return { events, problem };
  }
  return { events };
}

test("messages and control frames come out the same whatever the chunks, fragments and masks", () => {
  const seed = Number(process.env.WS_SEED ?? Date.now() % 1_000_000);
  const r = rng(seed);
  for (let round = 0; round < 300; round++) {
    const expected: Event[] = [];
    const wire: Buffer[] = [];
    for (let m = Math.floor(r() * 6); m > 0; m--) {
      // Sizes around each length encoding: 7-bit, 16-bit and 64-bit.
      const size = [0, 1, 125, 126, 127, 65_535, 65_536, 70_000][Math.floor(r() * 8)]! - (r() < 0.5 ? 0 : Math.floor(r() * 3));
      const payload = randomBytes(Math.max(0, size));
      const binary = r() < 0.8;
      expected.push(["message", binary, payload]);
      // Fragmented at random points, with pings between the fragments.
      const cuts = [0, ...Array.from({ length: Math.floor(r() * 3) }, () => Math.floor(r() * payload.length)).sort((a, b) => a - b), payload.length];
      for (let f = 0; f + 1 < cuts.length; f++) {
        wire.push(clientFrame(f === 0 ? (binary ? opcode.binary : opcode.text) : opcode.continuation, payload.subarray(cuts[f]!, cuts[f + 1]!), { fin: f + 2 === cuts.length }));
        if (r() < 0.3 && f + 2 < cuts.length) {
          const ping = randomBytes(Math.floor(r() * 126));
          wire.push(clientFrame(opcode.ping, ping));
          expected.push(["control", opcode.ping, ping]);
        }
      }
      // Control frames of a message come out before the message itself ends.
      const last = expected.findLastIndex((e) => e[0] === "message");
      const controls = expected.splice(last + 1);
      expected.splice(last, 0, ...controls);
    }
    const bytes = Buffer.concat(wire);
    const sizes: number[] = [];
    for (let left = bytes.length; left > 0; ) {
      const n = 1 + Math.floor(r() * (r() < 0.5 ? 15 : 9000));
      sizes.push(n);
      left -= n;
    }
    const got = read(bytes, sizes);
    assert.equal(got.problem, undefined, `seed ${seed}, round ${round}`);
    assert.deepEqual(got.events, expected, `seed ${seed}, round ${round}, chunks ${sizes.join(",")}`);
  }
});

test("broken framing is a problem with the close code to send", () => {
  const p = (bytes: Buffer) => read(bytes, [1, 2, 3]).problem;
  assert.deepEqual(p(clientFrame(opcode.binary, Buffer.from("x"), { unmasked: true })), { closeCode: 1002, reason: "client frames must be masked" });
  assert.equal(p(clientFrame(opcode.binary, Buffer.from("x"), { rsv: 4 }))?.reason, "reserved bits set without a negotiated extension");
  assert.equal(p(clientFrame(0x3, Buffer.from("x")))?.reason, "unknown data opcode 0x3");
  assert.equal(p(clientFrame(0xb, Buffer.from("x")))?.reason, "unknown control opcode 0xb");
  assert.equal(p(clientFrame(opcode.ping, Buffer.alloc(126)))?.reason, "a control frame longer than 125 bytes");
  assert.equal(p(clientFrame(opcode.ping, Buffer.alloc(1), { fin: false }))?.reason, "a fragmented control frame");
  assert.equal(p(clientFrame(opcode.continuation, Buffer.from("x")))?.reason, "a continuation frame outside a message");
  assert.equal(p(Buffer.concat([clientFrame(opcode.binary, Buffer.from("a"), { fin: false }), clientFrame(opcode.binary, Buffer.from("b"))]))?.reason, "a new message before the last one's final frame");
  const huge = Buffer.from([0x82, 0xff, 0, 0x20, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
  assert.deepEqual(p(huge), { closeCode: 1009, reason: "frame too large" });
});

test("server frames: header sizes at each length encoding, close frames", () => {
  assert.deepEqual([...frameHeader(opcode.binary, 125)], [0x82, 125]);
  assert.deepEqual([...frameHeader(opcode.binary, 126)], [0x82, 126, 0, 126]);
  assert.deepEqual([...frameHeader(opcode.binary, 65_536)], [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
  assert.deepEqual([...encodeFrame(opcode.pong, Buffer.from("hi"))], [0x8a, 2, 0x68, 0x69]);
  const close = closeFrame(1001, "x".repeat(300));
  assert.equal(close[0], 0x88);
  assert.ok(close[1]! <= 125);
  assert.deepEqual(parseClose(close.subarray(2)), { code: 1001, reason: `${"x".repeat(120)}...` });
  assert.deepEqual(parseClose(Buffer.alloc(0)), { code: undefined, reason: "" });
  assert.deepEqual(parseClose(Buffer.from([0x03, 0xed])), { problem: "close code 1005 may not be sent" });
  assert.deepEqual(parseClose(Buffer.from([0x03, 0xe8, 0xff])), { problem: "a close reason that is not UTF-8" });
});

test("handshake: the accept key of RFC 6455's example, and what is refused", () => {
  assert.equal(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  const ok = { connection: "keep-alive, Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" };
  assert.deepEqual(checkHandshake("GET", "1.1", ok), { key: "dGhlIHNhbXBsZSBub25jZQ==" });
  assert.deepEqual(checkHandshake("GET", "1.1", { ...ok, "sec-websocket-version": "8" }), { status: 426, reason: "only WebSocket version 13 is supported" });
  assert.equal((checkHandshake("POST", "1.1", ok) as { status: number }).status, 400);
  assert.equal((checkHandshake("GET", "1.1", { ...ok, "sec-websocket-key": "short" }) as { status: number }).status, 400);
  assert.ok(offersSubprotocol({ "sec-websocket-protocol": "chat, GRPC-websockets" }, "grpc-websockets"));
  assert.ok(!offersSubprotocol({ "sec-websocket-protocol": "grpc-websockets-x" }, "grpc-websockets"));
});

/** Feeds whole messages (each given as its pieces) to a request reader. */
function request(messages: (Buffer[] | "text")[], maxHeaderBytes = 1024) {
  const reader = new WebSocketRequestReader(maxHeaderBytes);
  const seen: unknown[] = [];
  const body: Buffer[] = [];
  const sink: WebSocketRequestSink = {
    headers: (h) => seen.push(["headers", h]),
    data: (b) => body.push(Buffer.from(b)),
    end: () => seen.push(["end", Buffer.concat(body).toString("hex")]),
  };
  for (const m of messages) {
    const problem = reader.messageStart(m !== "text") ?? (m === "text" ? undefined : m.map((p) => reader.messageData(p, sink)).find((x) => x !== undefined)) ?? reader.messageEnd(sink);
    if (problem) return { seen, problem };
  }
  return { seen, body: Buffer.concat(body).toString("hex") };
}

test("grpc-websockets: header block, body bytes split any way across messages, end of stream", () => {
  const block = Buffer.from("Content-Type: application/grpc-web+proto\r\nx-grpc-web: 1\r\nX-Multi: a\r\nx-multi: b\r\n");
  const got = request([[block.subarray(0, 7), block.subarray(7)], [Buffer.from([0, 0xaa, 0xbb])], [Buffer.from([0]), Buffer.from([0xcc])], [Buffer.from([0])], [], [Buffer.from([1])]]);
  assert.deepEqual(got.seen, [["headers", { "content-type": "application/grpc-web+proto", "x-grpc-web": "1", "x-multi": "a, b" }], ["end", "aabbcc"]]);
  assert.deepEqual(parseHeaderBlock(Buffer.from("a: 1\nb:2")), { a: "1", b: "2" });
});

test("grpc-websockets: what breaks the protocol is a problem", () => {
  const h = [Buffer.from("content-type: application/grpc-web\r\n")];
  assert.match(request(["text"]).problem!, /^text messages are not part/);
  assert.match(request([h, [Buffer.from([2, 0])]]).problem!, /^a message starting with 0x02/);
  assert.match(request([h, [Buffer.from([1, 0])]]).problem!, /end-of-stream message \(0x01\) must be one byte/);
  assert.match(request([h, [Buffer.from([1])], [Buffer.from([0, 1])]]).problem!, /a message after the end of the client's stream/);
  assert.match(request([[Buffer.alloc(2000, 0x61)]]).problem!, /larger than maxHeaderBytes \(1024\)/);
  assert.match(request([[Buffer.from("no colon here\r\n")]]).problem!, /is not "name: value"/);
  assert.match(request([[Buffer.from("bad name: x\r\n")]]).problem!, /is not an HTTP token/);
});
