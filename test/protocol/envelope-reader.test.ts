// The envelope reader must find the same frames whatever the chunk
// boundaries, and must refuse an oversized frame from its header alone.
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeEnvelope, writeEnvelopeHeader } from "../../src/protocol/envelope.js";
import { EnvelopeReader } from "../../src/protocol/envelope-reader.js";

function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Feeds `body` in the given chunk sizes; returns the frames and any problem. */
function read(body: Buffer, chunkSizes: number[], limit = 1 << 20) {
  const reader = new EnvelopeReader(limit);
  const frames: { flags: number; data: Buffer }[] = [];
  const sink = { onEnvelope: (flags: number, data: Uint8Array) => frames.push({ flags, data: Buffer.from(data) }) };
  let at = 0;
  for (const size of chunkSizes) {
    // Copy each chunk, as the network would hand over fresh buffers.
    const problem = reader.push(Buffer.from(body.subarray(at, at + size)), sink);
    at += size;
    if (problem) return { frames, problem };
  }
  if (at < body.length) {
    const problem = reader.push(Buffer.from(body.subarray(at)), sink);
    if (problem) return { frames, problem };
  }
  return { frames, problem: reader.end() };
}

test("frames come out the same whatever the chunk boundaries", () => {
  const seed = Number(process.env.ENVELOPE_SEED ?? Date.now() % 1_000_000);
  const r = rng(seed);
  for (let round = 0; round < 500; round++) {
    const expected = Array.from({ length: Math.floor(r() * 6) }, () => {
      const data = Buffer.alloc(Math.floor(r() * (r() < 0.2 ? 70_000 : 40)));
      for (let i = 0; i < data.length; i++) data[i] = Math.floor(r() * 256);
      return { flags: r() < 0.3 ? 1 : 0, data };
    });
    const body = Buffer.concat(expected.map((f) => encodeEnvelope(f.flags, f.data)));
    const chunks: number[] = [];
    for (let left = body.length; left > 0; ) {
      const n = 1 + Math.floor(r() * (r() < 0.5 ? 7 : 5000));
      chunks.push(Math.min(n, left));
      left -= n;
    }
    const { frames, problem } = read(body, chunks);
    assert.equal(problem, undefined, `seed ${seed} round ${round}`);
    assert.deepEqual(frames, expected, `seed ${seed} round ${round}, chunks ${chunks.join(",")}`);
  }
});

test("a frame that arrives whole is handed out without a copy", () => {
  const chunk = encodeEnvelope(0, Buffer.from("hello"));
  let seen: Uint8Array | undefined;
  new EnvelopeReader(100).push(chunk, { onEnvelope: (_f, d) => (seen = d) });
  assert.equal(seen!.buffer, chunk.buffer);
});

test("an announced size over the limit is refused from the header, before anything is buffered", () => {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(4_000_000_000, 1);
  // Only the 5 header bytes arrive, one by one: no 4 GB buffer may be made.
  const { frames, problem } = read(header, [1, 1, 1, 1, 1], 4096);
  assert.deepEqual(frames, []);
  assert.deepEqual(problem, { kind: "too-large", size: 4_000_000_000, limit: 4096 });
});

test("a body that ends inside a header or a payload is truncated", () => {
  const frame = encodeEnvelope(0, Buffer.from("0123456789"));
  assert.deepEqual(read(frame.subarray(0, 3), [3]).problem, { kind: "truncated", have: 3, want: 5 });
  assert.deepEqual(read(frame.subarray(0, 9), [2, 7]).problem, { kind: "truncated", have: 4, want: 10 });
  assert.equal(read(Buffer.alloc(0), []).problem, undefined);
});

test("a frame of exactly the limit passes; one byte more does not", () => {
  assert.equal(read(encodeEnvelope(0, Buffer.alloc(64)), [69], 64).problem, undefined);
  assert.equal(read(encodeEnvelope(0, Buffer.alloc(65)), [70], 64).problem?.kind, "too-large");
});

test("writeEnvelopeHeader frames a payload written after 5 bytes of room", () => {
  const frame = Buffer.alloc(5 + 3);
  frame.write("abc", 5);
  writeEnvelopeHeader(frame, 1);
  assert.deepEqual(frame, encodeEnvelope(1, Buffer.from("abc")));
});
