// gRPC-Web text bodies: the same bytes must come out of the decoder however
// the text is cut into chunks and however the client padded its pieces;
// anything that is not strict base64 is a problem, never silently dropped.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Base64Decoder } from "../../src/protocol/grpc-web/base64-decoder.js";
import { grpcWebTextMode } from "../../src/protocol/grpc-web/text-mode.js";

function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Decodes `text` fed in chunks of the given sizes (the rest in one last chunk). */
function decode(text: string, sizes: number[] = []) {
  const d = new Base64Decoder();
  const bytes = Buffer.from(text, "latin1");
  const out: Buffer[] = [];
  let at = 0;
  for (const size of [...sizes, bytes.length]) {
    if (at >= bytes.length) break;
    const r = d.push(Buffer.from(bytes.subarray(at, at + size)));
    at += size;
    if (!Buffer.isBuffer(r)) return { problem: r };
    out.push(r);
  }
  const problem = d.end();
  return problem ? { problem } : { bytes: Buffer.concat(out) };
}

test("pieces encoded separately decode to the concatenation, whatever the chunk boundaries", () => {
  const seed = Number(process.env.BASE64_SEED ?? Date.now() % 1_000_000);
  const r = rng(seed);
  for (let round = 0; round < 500; round++) {
    // Pieces of every length mod 3, so padding of 0, 1 and 2 characters falls mid-body.
    const pieces = Array.from({ length: 1 + Math.floor(r() * 6) }, () => {
      const b = Buffer.alloc(Math.floor(r() * (r() < 0.1 ? 5000 : 12)));
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
      return b;
    });
    const text = pieces.map((p) => p.toString("base64")).join("");
    const sizes: number[] = [];
    for (let left = text.length; left > 0; ) {
      const n = 1 + Math.floor(r() * (r() < 0.5 ? 5 : 700));
      sizes.push(n);
      left -= n;
    }
    const got = decode(text, sizes);
    assert.deepEqual(got, { bytes: Buffer.concat(pieces) }, `seed ${seed}, round ${round}, chunks ${sizes.join(",")}`);
  }
});

test("padding in the middle: each padded group ends a piece, the rest is not lost", () => {
  // Buffer.from(s, "base64") alone would stop at the first "=" and return only "a".
  assert.deepEqual(decode("YQ==YmM=ZGVm"), { bytes: Buffer.from("abcdef") });
  assert.deepEqual(decode("YQ==YmM=ZGVm", [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]), { bytes: Buffer.from("abcdef") });
  assert.deepEqual(decode("YQ", [2]).problem, { kind: "truncated", have: 2 });
  assert.deepEqual(decode(""), { bytes: Buffer.alloc(0) });
});

test("anything but strict base64 is a problem with its position", () => {
  assert.deepEqual(decode("YWJj\nZGVm").problem, { kind: "bad-character", at: 4 });
  assert.deepEqual(decode("YWJj ZGVm").problem, { kind: "bad-character", at: 4 });
  assert.deepEqual(decode("YW-j").problem, { kind: "bad-character", at: 2 }); // the URL-safe alphabet
  assert.deepEqual(decode("Y===").problem, { kind: "bad-character", at: 1 }); // three pad characters
  assert.deepEqual(decode("=AAA").problem, { kind: "bad-character", at: 0 });
  assert.deepEqual(decode("YQ=A").problem, { kind: "bad-character", at: 2 }); // a character after padding in its group
  assert.deepEqual(decode("YWJjYQ=AZGVm", [5]).problem, { kind: "bad-character", at: 6 });
  assert.deepEqual(decode("YWJjZ").problem, { kind: "truncated", have: 1 });
  assert.deepEqual(decode("YWJjZGV").problem, { kind: "truncated", have: 3 });
});

test("text mode: Accept chooses the response's format, Content-Type the request's", () => {
  assert.equal(grpcWebTextMode(false, undefined), undefined);
  assert.equal(grpcWebTextMode(false, "*/*"), undefined);
  assert.equal(grpcWebTextMode(false, "application/grpc-web+proto"), undefined);
  assert.deepEqual(grpcWebTextMode(true, "application/grpc-web-text"), { decodeRequest: true, encodeResponse: true });
  assert.deepEqual(grpcWebTextMode(true, undefined), { decodeRequest: true, encodeResponse: true });
  assert.deepEqual(grpcWebTextMode(true, "application/grpc-web"), { decodeRequest: true, encodeResponse: false });
  assert.deepEqual(grpcWebTextMode(false, "Application/GRPC-Web-Text"), { decodeRequest: false, encodeResponse: true });
});
