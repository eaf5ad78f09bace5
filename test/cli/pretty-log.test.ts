// dev's readable logs: one pino JSON line becomes one line for people, a
// multi-line message and an error's stack go on the lines below, and
// anything that is not a log line passes unchanged.
import assert from "node:assert/strict";
import { test } from "node:test";
import { prettyLogLine } from "../../src/cli/pretty-log.js";

const at = new Date(2026, 0, 2, 3, 4, 5, 67).getTime();
const line = (o: Record<string, unknown>) => JSON.stringify({ level: 30, time: at, pid: 1, hostname: "h", ...o });

test("time, level, message, then the fields", () => {
  assert.equal(prettyLogLine(line({ file: "functions/greet.ts", ms: 12, msg: "function reloaded" }), false), "03:04:05.067 INFO  function reloaded  file=functions/greet.ts ms=12");
  assert.equal(prettyLogLine(line({ level: 50, reqId: "r-1", detail: "two words", msg: "x" }), false), '03:04:05.067 ERROR x  reqId=r-1 detail="two words"');
});

test("a multi-line message and an error's stack are indented below", () => {
  const out = prettyLogLine(line({ level: 50, msg: "first\n  second", err: { type: "Error", message: "boom", stack: "Error: boom\n    at f (a.ts:1:2)" } }), false);
  assert.equal(out, ["03:04:05.067 ERROR first", "      second", "    Error: boom", "        at f (a.ts:1:2)"].join("\n"));
});

test("colours only when asked", () => {
  assert.match(prettyLogLine(line({ level: 40, msg: "careful" }), true), /\u001b\[33mWARN /);
  assert.doesNotMatch(prettyLogLine(line({ level: 40, msg: "careful" }), false), /\u001b/);
});

test("lines that are not log lines pass unchanged", () => {
  for (const l of ["", "SERVICE  METHOD", "sluice listening on http://127.0.0.1:1", "{not json", '{"a":1}']) assert.equal(prettyLogLine(l, false), l);
});
