// What `sluice start` writes where: stdout carries only the JSON log lines
// (log collectors parse it line by line), stderr the human-facing progress
// lines, routes table and "listening" banner.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { cli, probeFunctions, root } from "../support/gateway.js";
import { h1Request } from "../support/raw-http.js";

test("start: every line on stdout is a JSON log line; the routes table and the banner are on stderr", { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, [cli, "start", "--port", "0", "--functions", probeFunctions], { cwd: root, env: { ...process.env, SLUICE_LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  const listening = new Promise<string>((resolve, reject) => {
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
      const url = /sluice listening on (\S+)/.exec(stderr)?.[1];
      if (url) resolve(url);
    });
    child.once("exit", (code) => reject(new Error(`exited with ${code} before listening:\n${stdout}\n${stderr}`)));
  });
  try {
    const url = await listening;
    // One call, so that its "rpc" log line is on stdout too.
    const res = await h1Request(Number(new URL(url).port), { path: "/probe.v1.ProbeService/Unary", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(res.status, 200, res.body.toString());
  } finally {
    child.kill("SIGTERM");
    await once(child, "exit");
  }
  assert.match(stderr, /SERVICE\s+METHOD\s+KIND/);
  const lines = stdout.split("\n").filter((l) => l.trim() !== "");
  for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `not a JSON line on stdout: ${line}`);
  assert.ok(lines.some((l) => (JSON.parse(l) as { msg?: string }).msg === "rpc"), `the call's log line is on stdout:\n${stdout}`);
  assert.ok(lines.some((l) => (JSON.parse(l) as { msg?: string }).msg === "shut down"), stdout);
});
