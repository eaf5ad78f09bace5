// SLUICE_LISTEN_FAILED is one code for both listeners, and its fix names
// the setting of the one that failed: --port changes the RPC port only, so
// it is no advice for a taken admin port.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, test } from "node:test";
import { probeFunctions, runCli } from "../support/gateway.js";

let taken: net.Server;
let port: number;
before(async () => {
  taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  port = (taken.address() as net.AddressInfo).port;
});
after(() => new Promise<void>((resolve) => taken.close(() => resolve())));

test("a taken admin port: the fix is admin.port (--set admin.port=… or SLUICE_ADMIN_PORT)", async () => {
  const r = await runCli(["start", "--port", "0", "--functions", probeFunctions, "--set", `admin.port=${port}`]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, new RegExp(`SLUICE_LISTEN_FAILED: cannot listen on 127\\.0\\.0\\.1:${port} \\(admin\\.port\\): .*EADDRINUSE.*; choose another admin port with --set admin\\.port=<port> or SLUICE_ADMIN_PORT`));
  assert.doesNotMatch(r.stderr, /--port or SLUICE_PORT/);
});

test("a taken RPC port: the fix is --port or SLUICE_PORT", async () => {
  const r = await runCli(["start", "--port", String(port), "--functions", probeFunctions]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, new RegExp(`SLUICE_LISTEN_FAILED: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE.*; choose another port with --port or SLUICE_PORT`));
  assert.doesNotMatch(r.stderr, /admin\.port/);
});
