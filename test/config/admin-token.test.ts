// admin.token as a deployment gives it: from the environment
// (SLUICE_ADMIN_TOKEN, which Kubernetes fills from a Secret). A token the
// admin listener could never match is refused at start, and the error,
// which goes to the logs, does not show it.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { loadConfig } from "../../src/config/load-config.js";

const cwd = mkdtempSync(path.join(os.tmpdir(), "sluice-admin-token-"));
after(() => rmSync(cwd, { recursive: true, force: true }));

const load = (env: NodeJS.ProcessEnv, flags: Record<string, string> = {}) => loadConfig({ cwd, env, flags });

test("SLUICE_ADMIN_TOKEN lets the admin listener bind a pod's address", async () => {
  const loaded = await load({ SLUICE_ADMIN_PORT: "9464", SLUICE_ADMIN_HOST: "0.0.0.0", SLUICE_ADMIN_TOKEN: "k8s-secret-value-0123456789abcdef" });
  assert.ok("config" in loaded, "errors" in loaded ? loaded.errors.map((e) => e.message).join("\n") : "");
  assert.deepEqual(loaded.config.admin, { port: 9464, host: "0.0.0.0", token: "k8s-secret-value-0123456789abcdef" });
});

test("without it, a non-loopback admin.host is refused", async () => {
  const loaded = await load({ SLUICE_ADMIN_PORT: "9464", SLUICE_ADMIN_HOST: "0.0.0.0" });
  assert.ok("errors" in loaded);
  assert.match(loaded.errors.map((e) => e.message).join("\n"), /admin\.token .* admin\.host 0\.0\.0\.0 is not a loopback address/);
});

test("a token with a trailing newline (a Secret made from a file written by echo) is refused, naming the source, without showing the token", async () => {
  const secret = "0123456789abcdef-not-for-logs";
  const loaded = await load({ SLUICE_ADMIN_HOST: "0.0.0.0", SLUICE_ADMIN_TOKEN: `${secret}\n` });
  assert.ok("errors" in loaded);
  const messages = loaded.errors.map((e) => e.message);
  assert.equal(messages.length, 1, messages.join("\n"));
  assert.match(messages[0]!, /^SLUICE_CONFIG_INVALID: config admin\.token = "<hidden, 30 characters>" \(from environment SLUICE_ADMIN_TOKEN\) is not allowed: expected a token of visible ASCII characters, without spaces or line breaks \(this one ends with a line break/);
  assert.ok(!messages[0]!.includes(secret.slice(0, 8)), "the token is not in the message");
});

test("from a flag and from a config file value of the wrong type, the value stays hidden too", async () => {
  const flag = await load({}, { "admin.token": "has space" });
  assert.ok("errors" in flag);
  assert.match(flag.errors[0]!.message, /config admin\.token = "<hidden, 9 characters>" \(from --set admin\.token\)/);
  assert.ok(!flag.errors[0]!.message.includes("has space"));
});
