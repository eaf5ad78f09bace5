// Every error code and every config option has a documented meaning in the
// README, and the catalogue builds messages that carry their code.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { Code } from "@connectrpc/connect";
import { envName, options } from "../src/config/options.js";
import { errorCodes, rpcError, sluiceError } from "../src/errors.js";
import { root } from "./support/gateway.js";

const readme = readFileSync(`${root}/README.md`, "utf8");

test("every error code is documented in the README", () => {
  const missing = errorCodes.filter((code) => !readme.includes(`| \`${code}\` |`));
  assert.deepEqual(missing, []);
});

test("every config option is documented with its environment variable", () => {
  const missing = options.filter((o) => !readme.includes(`| \`${o.key}\` | \`${envName(o.key)}\` |`)).map((o) => o.key);
  assert.deepEqual(missing, []);
});

test("messages start with their code", () => {
  const e = sluiceError("SLUICE_FUNCTIONS_DIR_MISSING", { dir: "fns" });
  assert.equal(e.code, "SLUICE_FUNCTIONS_DIR_MISSING");
  assert.equal(e.message, "SLUICE_FUNCTIONS_DIR_MISSING: functions directory fns does not exist; create it or point --functions at the right folder");
  const r = rpcError("SLUICE_RPC_DRAINING", Code.Unavailable);
  assert.equal(r.code, Code.Unavailable);
  assert.match(r.rawMessage, /^SLUICE_RPC_DRAINING: /);
});
