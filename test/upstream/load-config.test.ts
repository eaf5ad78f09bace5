// The upstreams section through the real config loader: a config file's
// upstreams are validated with the rest, and `sluice check` reports their
// errors with the upstream and key.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { loadConfig } from "../../src/config/load-config.js";
import { runCli } from "../support/gateway.js";
import { TempFunctions } from "../support/temp-functions.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "sluice-upstreams-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("a config file's upstreams, with defaults, beside the fixed options", async () => {
  writeFileSync(path.join(dir, "sluice.config.json"), JSON.stringify({
    port: 9001,
    upstreamMaxPools: 64,
    upstreams: { users: { url: "http://127.0.0.1:9000", retry: { maxAttempts: 3 } } },
  }));
  const r = await loadConfig({ cwd: dir, env: {}, flags: {} });
  assert.ok("config" in r, JSON.stringify(r));
  assert.equal(r.config.port, 9001);
  assert.equal(r.config.upstreamMaxPools, 64);
  assert.equal(r.config.upstreams.users!.retry.maxAttempts, 3);
  assert.deepEqual(r.config.upstreams.users!.retry.retryableCodes, [Code.Unavailable]);
});

test("no upstreams: an empty map", async () => {
  writeFileSync(path.join(dir, "sluice.config.json"), JSON.stringify({ port: 9002 }));
  const r = await loadConfig({ cwd: dir, env: {}, flags: {} });
  assert.ok("config" in r);
  assert.deepEqual(r.config.upstreams, {});
  assert.equal(r.config.upstreamMaxPools, 1024);
});

test("sluice check reports upstream errors with the others", async () => {
  const scratch = new TempFunctions("upstream-config");
  try {
    scratch.copy("functions/greet.ts", "greet.ts");
    const project = path.dirname(scratch.dir);
    writeFileSync(path.join(project, "bad.json"), JSON.stringify({
      logLevel: "loud",
      upstreams: { users: { url: "http://u:1", pingTimeoutMs: -5 }, billing: { endpoints: [] } },
    }));
    const r = await runCli(["check", "--config", "bad.json", "--functions", scratch.dir], { cwd: project });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /config upstreams\.users\.pingTimeoutMs = -5 \(from bad\.json\) is not allowed: expected an integer from 10 to 600000/);
    assert.match(r.stderr, /config upstreams\.billing\.endpoints = \[\] \(from bad\.json\) is not allowed: expected a non-empty list of http:\/\/ or https:\/\/ URLs/);
    assert.match(r.stderr, /config logLevel = "loud"/);
  } finally {
    scratch.cleanup();
  }
});
