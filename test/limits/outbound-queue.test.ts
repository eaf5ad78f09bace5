// OutboundQueue against a transport that takes writes only when the test
// says so (as a client's flow-control window or socket would): what the
// producer is told, what is written, in which order, and the memory counted.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ConnectError } from "@connectrpc/connect";
import { LimitStats } from "../../src/limits/limit-stats.js";
import { endGraceMs, OutboundQueue, perMessageOverhead, type OutboundSink } from "../../src/limits/outbound-queue.js";
import { OverloadMonitor } from "../../src/limits/overload-monitor.js";
import { defaultStreamPolicy, type StreamPolicy } from "../../src/limits/route-policy.js";

/** A transport whose writes complete when take() is called. */
class Transport implements OutboundSink {
  readonly written: Buffer[] = [];
  cancelled = false;
  #pending: { bytes: number; cb: (error?: Error | null) => void }[] = [];
  get bufferedBytes(): number {
    return this.#pending.reduce((n, p) => n + p.bytes, 0);
  }
  write(chunk: Uint8Array, cb: (error?: Error | null) => void): boolean {
    this.written.push(Buffer.from(chunk));
    this.#pending.push({ bytes: chunk.byteLength, cb });
    return true;
  }
  /** Completes every pending write (the reader read). */
  take(): void {
    const done = this.#pending;
    this.#pending = [];
    for (const p of done) p.cb();
  }
  /** As a reset stream: what it held is dropped, and each write's callback runs with an error. */
  cancel(): void {
    this.cancelled = true;
    const dropped = this.#pending;
    this.#pending = [];
    for (const p of dropped) p.cb(new Error("cancelled"));
  }
  messages(): number[] {
    // Each message is one byte: its number.
    return this.written.flatMap((b) => [...b]);
  }
}

function setup(policy: Partial<StreamPolicy> = {}) {
  const transport = new Transport();
  const overload = new OverloadMonitor({ maxEventLoopDelayMs: 0, maxHeapPercent: 0, maxBufferedBytes: 1 << 30 });
  const stats = new LimitStats();
  const errors: ConnectError[] = [];
  const q = new OutboundQueue(transport, { ...defaultStreamPolicy, ...policy }, "a.S/M", overload, stats, (e) => errors.push(e));
  return { transport, overload, stats, errors, q };
}

const msg = (n: number) => Buffer.from([n]);

describe("block", () => {
  test("a reader that has not read yet gets the first budget (1 KiB); the producer waits; order is kept; the budget grows as it reads", () => {
    const { transport, q, overload, stats } = setup({ outboundBufferBytes: 8192 });
    let n = 0;
    while (q.push(msg(++n)));
    assert.ok(n <= 3, `${n} messages before the producer had to wait`);
    let ready = false;
    q.onReady(() => (ready = true));
    assert.equal(ready, false);
    assert.equal(stats.total.slowConsumerBlocked, 1);
    transport.take();
    assert.equal(ready, true, "woken once the reader took them");
    transport.take();
    assert.deepEqual(transport.messages(), Array.from({ length: n }, (_, i) => i + 1), "every message, in order");
    // Having read, the reader is trusted with more before the producer waits.
    let m = 0;
    while (q.push(msg(++n))) m++;
    assert.ok(m > 3, `${m} messages this time`);
    q.close();
    assert.equal(overload.bufferedBytes, q.queuedBytes, "what the transport still holds stays counted after the call");
    assert.ok(overload.bufferedBytes > 0);
    transport.take();
    assert.equal(overload.bufferedBytes, 0, "everything counted is given back once the transport took it");
    assert.equal(transport.cancelled, false, "a call that ended without an error is never cut");
  });

  test("flush() hands batched messages over before the end", () => {
    const { transport, q } = setup();
    q.push(msg(1));
    q.push(msg(2));
    q.push(msg(3));
    assert.deepEqual(transport.messages(), [1], "2 and 3 wait in a batch behind the write in flight");
    q.flush();
    assert.deepEqual(transport.messages(), [1, 2, 3]);
  });

  test("the memory counted is bytes plus an overhead per write", () => {
    const { q } = setup({ outboundBufferBytes: 65536 });
    q.push(Buffer.alloc(2000));
    assert.equal(q.queuedBytes, 2000 + perMessageOverhead);
  });
});

describe("drop-oldest", () => {
  test("the producer is never held back for long; the oldest waiting messages make room for the newest; drops are counted", async () => {
    const { transport, q, stats } = setup({ slowConsumer: "drop-oldest", outboundBufferBytes: 1024 });
    const big = (n: number) => Buffer.alloc(300, n);
    for (let n = 1; n <= 20; n++) {
      if (!q.push(big(n))) await new Promise<void>((r) => q.onReady(r));
    }
    transport.take();
    transport.take();
    transport.take();
    const got = transport.written.map((b) => b[0]!);
    assert.equal(got.at(-1), 20, "the newest arrived");
    assert.ok(got.length < 20);
    for (let i = 1; i < got.length; i++) assert.ok(got[i]! > got[i - 1]!);
    assert.equal(stats.total.slowConsumerDropped, 20 - got.length);
  });
});

describe("cancel", () => {
  test("a buffer that stays full for slowConsumerMs ends the call through onLimit", async () => {
    const { q, errors, stats } = setup({ slowConsumer: "cancel", slowConsumerMs: 30, outboundBufferBytes: 1024 });
    while (q.push(Buffer.alloc(600)));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.rawMessage, /^SLUICE_LIMIT_SLOW_CONSUMER: a\.S\/M: the client is not reading its responses/);
    assert.equal(stats.total.slowConsumerCancelled, 1);
    q.close();
  });

  test("a reader that catches up in time is not cancelled", async () => {
    const { transport, q, errors } = setup({ slowConsumer: "cancel", slowConsumerMs: 200, outboundBufferBytes: 1024 });
    while (q.push(Buffer.alloc(600)));
    transport.take();
    transport.take();
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(errors.length, 0);
    q.close();
  });
});

describe("the end of a call whose client is not reading", () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  test("an error end still waiting in the transport after endGraceMs cancels the stream; the bytes are counted until then", async () => {
    const { transport, q, overload } = setup({ slowConsumer: "cancel", outboundBufferBytes: 4096 });
    while (q.push(Buffer.alloc(600)));
    // As the engine ends a stream: what waits here goes to the transport, then the end, then close.
    q.flush();
    const held = overload.bufferedBytes;
    assert.ok(held > 0);
    q.close(true);
    assert.equal(overload.bufferedBytes, held, "counted after the call ended");
    await sleep(endGraceMs / 2);
    assert.equal(transport.cancelled, false, "the status gets its chance first");
    assert.equal(overload.bufferedBytes, held);
    await sleep(endGraceMs / 2 + 100);
    assert.equal(transport.cancelled, true, "then the stream is cancelled");
    assert.equal(overload.bufferedBytes, 0, "and its bytes given back");
  });

  test("a client that reads within the grace gets its end: no cancel", async () => {
    const { transport, q, overload } = setup({ slowConsumer: "cancel", outboundBufferBytes: 4096 });
    while (q.push(Buffer.alloc(600)));
    q.flush();
    q.close(true);
    await sleep(endGraceMs / 2);
    transport.take();
    assert.equal(overload.bufferedBytes, 0);
    await sleep(endGraceMs / 2 + 100);
    assert.equal(transport.cancelled, false);
  });

  test("a stream the client reset meanwhile gives its bytes back at once", () => {
    const { transport, q, overload } = setup({ outboundBufferBytes: 4096 });
    while (q.push(Buffer.alloc(600)));
    q.close(true);
    assert.ok(overload.bufferedBytes > 0);
    transport.cancel();
    assert.equal(overload.bufferedBytes, 0);
  });
});
