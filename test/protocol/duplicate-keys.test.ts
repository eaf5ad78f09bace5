// Counting members in JSON text (colons outside strings) and keys in parsed
// values: the two counts the JSON decoder compares to find duplicate keys.
import assert from "node:assert/strict";
import { test } from "node:test";
import { membersInText, membersInValue } from "../../src/protocol/json/duplicate-keys.js";
import { int, pick, rng, type Rand } from "./random-message.js";

test("members in text: colons in strings, escaped quotes and backslashes do not count", () => {
  const cases: [string, number][] = [
    ["{}", 0],
    ["[]", 0],
    ['"a:b"', 0],
    ['{"a":1}', 1],
    ['{"a:b":"c:d","e":[1,{"f":null}]}', 3],
    ['{"quote \\" : inside":":"}', 1],
    ['{"ends with a backslash \\\\":"x","b":2}', 2],
    ['{"three \\\\\\" ":1}', 1],
    ['{"\\\\":"\\\\\\\\","k":{"\\"":":"}}', 3],
    [' { "a" : { "b" : [ ] } } ', 2],
  ];
  for (const [text, n] of cases) {
    JSON.parse(text);
    assert.equal(membersInText(text), n, text);
  }
});

function randomValue(r: Rand, depth: number): unknown {
  switch (int(r, depth > 3 ? 3 : 5)) {
    case 0:
      return pick(r, [null, true, 1.5, -0]);
    case 1:
      return pick(r, ["", ":", '"', "\\", '\\"', 'a\\":"b', "ü😀", "\u0000\n"]);
    case 2:
      return "x".repeat(int(r, 3000));
    case 3:
      return Array.from({ length: int(r, 4) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = int(r, 4); i > 0; i--) o[pick(r, ["a", "b:", '"', "\\", "__proto__x", ""]) + String(i)] = randomValue(r, depth + 1);
      return o;
    }
  }
}

test("for any JSON.stringify output, the text and the parsed value have as many members", () => {
  const r = rng(7);
  for (let i = 0; i < 3000; i++) {
    const text = JSON.stringify(randomValue(r, 0), null, i % 2 === 0 ? 1 : undefined);
    assert.equal(membersInText(text), membersInValue(JSON.parse(text)), text);
  }
});

test("a duplicate key makes the counts differ, at any depth", () => {
  for (const text of ['{"a":1,"a":2}', '{"x":[{"k":{"a":1,"b":2,"a":3}}]}', '{"a":1,"\\u0061":2}']) {
    assert.equal(membersInText(text) - membersInValue(JSON.parse(text)), 1, text);
  }
});
