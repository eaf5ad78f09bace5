import assert from "node:assert/strict";
import { test } from "node:test";
import { envName, options } from "../../src/config/options.js";
import { parseOptionValue } from "../../src/config/parse-option-value.js";

const spec = (key: string) => options.find((o) => o.key === key)!;

test("integers from strings and numbers, within bounds", () => {
  assert.deepEqual(parseOptionValue(spec("port"), "8080"), { value: 8080 });
  assert.deepEqual(parseOptionValue(spec("port"), 0), { value: 0 });
  assert.deepEqual(parseOptionValue(spec("port"), "8080.5"), { expected: "an integer from 0 to 65535" });
  assert.deepEqual(parseOptionValue(spec("port"), 65536), { expected: "an integer from 0 to 65535" });
});

test("lists from comma-separated strings and arrays, checked against their values", () => {
  assert.deepEqual(parseOptionValue(spec("compression.encodings"), "br, gzip"), { value: ["br", "gzip"] });
  assert.deepEqual(parseOptionValue(spec("compression.encodings"), ""), { value: [] });
  assert.deepEqual(parseOptionValue(spec("compression.encodings"), ["zstd"]), { expected: "a list of gzip, br" });
  assert.deepEqual(parseOptionValue(spec("cors.origins"), "https://a.example,https://a.example"), { value: ["https://a.example"] });
});

test("booleans and enums", () => {
  assert.deepEqual(parseOptionValue(spec("cors.credentials"), "true"), { value: true });
  assert.deepEqual(parseOptionValue(spec("cors.credentials"), "yes"), { expected: "true or false" });
  assert.deepEqual(parseOptionValue(spec("logLevel"), "debug"), { value: "debug" });
});

test("every option has finite, valid default (or none) and a doc line", () => {
  for (const o of options) {
    assert.ok(o.doc.length > 20, `${o.key} is documented`);
    if (o.default !== undefined) assert.ok("value" in parseOptionValue(o, o.default), `${o.key} default is valid`);
  }
  assert.equal(spec("readMaxBytes").default, 4 * 1024 * 1024);
  assert.equal(spec("writeMaxBytes").default, 4 * 1024 * 1024);
});

test("environment variable names", () => {
  assert.equal(envName("readMaxBytes"), "SLUICE_READ_MAX_BYTES");
  assert.equal(envName("cors.origins"), "SLUICE_CORS_ORIGINS");
  assert.equal(envName("http2.maxConcurrentStreams"), "SLUICE_HTTP2_MAX_CONCURRENT_STREAMS");
});

test("a token: visible ASCII only; a trailing line break is named as the cause", () => {
  assert.deepEqual(parseOptionValue(spec("admin.token"), "3f9a.b-c_d~e+f/g=="), { value: "3f9a.b-c_d~e+f/g==" });
  const plain = { expected: "a token of visible ASCII characters, without spaces or line breaks" };
  for (const bad of ["", " ", "two words", " padded", "tab\there", "naïve", 42]) assert.deepEqual(parseOptionValue(spec("admin.token"), bad), plain, JSON.stringify(bad));
  for (const bad of ["from-a-file\n", "from-windows\r\n"]) {
    const r = parseOptionValue(spec("admin.token"), bad);
    assert.ok("expected" in r && r.expected.includes("ends with a line break") && r.expected.includes("printf %s"), JSON.stringify(r));
  }
});
