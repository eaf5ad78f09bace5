// The JSON decoder's base64: what it reads must be what protobuf-es reads,
// and it must read what encoders write (standard with or without padding,
// URL-safe without); anything else is left to protobuf-es.
import assert from "node:assert/strict";
import { test } from "node:test";
import { base64Decode, base64Encode } from "@bufbuild/protobuf/wire";
import { readBase64 } from "../../src/protocol/json/base64-bytes.js";
import { int, pick, rng } from "./random-message.js";

/** protobuf-es's bytes, or undefined where it refuses the text. */
function reference(text: string): Uint8Array | undefined {
  try {
    return base64Decode(text);
  } catch {
    return undefined;
  }
}

test("what encoders write is read, and read as protobuf-es reads it", () => {
  const r = rng(11);
  for (let i = 0; i < 1000; i++) {
    const bytes = new Uint8Array(i < 100 ? i : int(r, 20_000)).map(() => int(r, 256));
    for (const text of [base64Encode(bytes, "std"), base64Encode(bytes, "std_raw"), base64Encode(bytes, "url")]) {
      const read = readBase64(text);
      assert.ok(read !== undefined, `gave up on ${text.slice(0, 80)}`);
      assert.deepEqual(new Uint8Array(read), bytes);
    }
  }
});

test("random texts: read as protobuf-es reads them, or left to it; never read where it refuses", () => {
  const r = rng(12);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_";
  const odd = ["=", "==", " ", "\n", "\t", "\r", "!", "@", ".", "\u0000", "é", "😀", "\u00ff", "\f"];
  let read = 0;
  for (let i = 0; i < 50_000; i++) {
    let text = "";
    for (let n = int(r, 14); n > 0; n--) text += r() < 0.85 ? alphabet[int(r, alphabet.length)] : pick(r, odd);
    const expected = reference(text);
    const actual = readBase64(text);
    if (actual === undefined) continue;
    assert.ok(expected !== undefined, `read ${JSON.stringify(text)}, which protobuf-es refuses`);
    assert.deepEqual(new Uint8Array(actual), new Uint8Array(expected), JSON.stringify(text));
    read++;
  }
  assert.ok(read > 5000, `only ${read} texts read`);
});

test("non-canonical texts are left to protobuf-es: whitespace, inner padding, extra bits, mixed alphabets", () => {
  for (const text of ["YQ=", "YQ===", "YR==", "YQ==YQ==", "Y Q==", "YQ\n==", "-/8=", "+_8", "-_8=", "!!!!", "Y", "YQ@="]) {
    assert.equal(readBase64(text), undefined, text);
  }
  assert.deepEqual(readBase64(""), new Uint8Array(0));
});
