import assert from "node:assert/strict";
import { test } from "node:test";
import { RequestReplay } from "../../src/upstream/request-replay.js";

const bytes = (...xs: number[]) => new Uint8Array(xs);

async function* source(chunks: Uint8Array[], counter: { pulled: number }) {
  for (const c of chunks) {
    counter.pulled++;
    yield c;
  }
}

async function readAll(it: AsyncIterable<Uint8Array>): Promise<number[][]> {
  const out: number[][] = [];
  for await (const c of it) out.push([...c]);
  return out;
}

test("a second reader replays from the first byte, and the source is read once", async () => {
  const counter = { pulled: 0 };
  const r = new RequestReplay(source([bytes(1), bytes(2), bytes(3)], counter), 100);
  const first = r.reader()[Symbol.asyncIterator]();
  assert.deepEqual([...(await first.next()).value], [1]);
  assert.deepEqual([...(await first.next()).value], [2]);
  const second = r.reader();
  assert.equal((await first.next()).done, true, "the earlier attempt's reader stops");
  assert.deepEqual(await readAll(second), [[1], [2], [3]]);
  assert.equal(counter.pulled, 3);
  assert.equal(r.replayable, true);
});

test("past maxBytes the request is no longer replayable, and nothing more is kept", async () => {
  const counter = { pulled: 0 };
  const r = new RequestReplay(source([bytes(1, 1), bytes(2, 2), bytes(3, 3)], counter), 3);
  const all = await readAll(r.reader());
  assert.deepEqual(all, [[1, 1], [2, 2], [3, 3]]);
  assert.equal(r.replayable, false);
});

test("commit stops keeping bytes; reading goes on", async () => {
  const r = new RequestReplay(source([bytes(1), bytes(2)], { pulled: 0 }), 100);
  const it = r.reader()[Symbol.asyncIterator]();
  await it.next();
  r.commit();
  assert.equal(r.replayable, false);
  assert.deepEqual([...(await it.next()).value], [2]);
  assert.equal((await it.next()).done, true);
});

test("reading is pulled: the source is not read ahead of the reader", async () => {
  const counter = { pulled: 0 };
  const r = new RequestReplay(source([bytes(1), bytes(2), bytes(3)], counter), 100);
  const it = r.reader()[Symbol.asyncIterator]();
  await it.next();
  assert.equal(counter.pulled, 1);
});

test("a failing source fails the reader, and is remembered", async () => {
  async function* broken() {
    yield bytes(1);
    throw new Error("client went away");
  }
  const r = new RequestReplay(broken(), 100);
  await assert.rejects(readAll(r.reader()), /client went away/);
  assert.match(String((r.sourceError?.error as Error).message), /client went away/);
});

test("no body: readers end at once", async () => {
  const r = new RequestReplay(undefined, 100);
  assert.deepEqual(await readAll(r.reader()), []);
  assert.deepEqual(await readAll(r.reader()), []);
});

test("close stops reading and returns the source", async () => {
  let returned = false;
  async function* endless() {
    try {
      for (;;) yield bytes(0);
    } finally {
      returned = true;
    }
  }
  const r = new RequestReplay(endless(), 100);
  const it = r.reader()[Symbol.asyncIterator]();
  await it.next();
  r.close();
  assert.equal((await it.next()).done, true);
  await new Promise((res) => setImmediate(res));
  assert.equal(returned, true);
});
