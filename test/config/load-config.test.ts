// loadConfig as the CLI drives it: an error names the flag the operator
// typed, and settings that would be accepted and then do nothing, or fail
// later under another name, are refused at start with the reason.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { runCli } from "../support/gateway.js";
import { createSelfSignedCert } from "../support/self-signed-cert.js";
import { TempFunctions } from "../support/temp-functions.js";

const scratch = new TempFunctions("load-config");
const project = path.dirname(scratch.dir);
scratch.copy("functions/greet.ts", "greet.ts");
const cert = createSelfSignedCert();
after(() => {
  scratch.cleanup();
  rmSync(cert.dir, { recursive: true, force: true });
});

/** `sluice check` in the project; the type check is not what these tests are about. */
const check = (args: string[], env: Record<string, string> = {}) => runCli(["check", "--set", "typeCheck=off", ...args], { cwd: project, env });

describe("a bad flag value names the flag as typed", () => {
  test("--log-level, --functions and --set, not the config key", async () => {
    const [logLevel, logLevelEq, functions, set] = await Promise.all([
      check(["--log-level", "loud"]),
      check(["--log-level=loud"]),
      check(["--functions", " "]),
      check(["--set", "http1.headersTimeoutMs=100000000"]),
    ]);
    for (const r of [logLevel, logLevelEq, functions, set]) assert.equal(r.code, 1, r.stderr);
    assert.match(logLevel.stderr, /SLUICE_CONFIG_INVALID: config logLevel = "loud" \(from --log-level\) is not allowed/);
    assert.match(logLevelEq.stderr, /config logLevel = "loud" \(from --log-level\)/);
    assert.match(functions.stderr, /config functionsDir = " " \(from --functions\)/);
    assert.match(set.stderr, /config http1\.headersTimeoutMs = "100000000" \(from --set http1\.headersTimeoutMs\)/);
    for (const r of [logLevel, functions, set]) assert.doesNotMatch(r.stderr, /from --(logLevel|functionsDir|http1\.)/);
  });
});

describe("tls.ca needs tls.requireClientCert", () => {
  const tls = ["--tls-cert", cert.certPath, "--tls-key", cert.keyPath, "--set", `tls.ca=${cert.certPath}`];

  test("alone it is refused: the listener would never ask for a client certificate", async () => {
    const [flag, env] = await Promise.all([check(tls), check(tls.slice(0, 4), { SLUICE_TLS_CA: cert.certPath })]);
    assert.equal(flag.code, 1, flag.stdout);
    assert.match(flag.stderr, /SLUICE_CONFIG_INVALID: config tls\.ca = "[^"]+cert\.pem" \(from --set tls\.ca\) is not allowed: expected unset unless tls\.requireClientCert is true: tls\.ca is the CA that verifies client certificates/);
    assert.equal(env.code, 1, env.stdout);
    assert.match(env.stderr, /config tls\.ca = "[^"]+" \(from environment SLUICE_TLS_CA\) is not allowed/);
  });

  test("with tls.requireClientCert: true it is accepted", async () => {
    const r = await check([...tls, "--set", "tls.requireClientCert=true"]);
    assert.equal(r.code, 0, r.stderr);
  });
});

describe("cacheDir must be inside the project", () => {
  const outside = path.join(os.tmpdir(), `sluice-outside-cache-${process.pid}`);
  after(() => rmSync(outside, { recursive: true, force: true }));

  test("outside it is refused at start with the reason, instead of every function failing to import", async () => {
    const [flag, env] = await Promise.all([
      check(["--set", `cacheDir=${outside}`]),
      check([], { SLUICE_CACHE_DIR: "../elsewhere" }),
    ]);
    assert.equal(flag.code, 1, flag.stdout);
    assert.ok(flag.stderr.includes(`SLUICE_CONFIG_INVALID: config cacheDir = "${outside}" (from --set cacheDir) is not allowed: expected a folder inside the project (${project}): function files are bundled there, and a bundle outside the project cannot import the project's node_modules`), flag.stderr);
    assert.doesNotMatch(flag.stderr, /SLUICE_FUNCTION_IMPORT_FAILED/);
    assert.equal(env.code, 1, env.stdout);
    assert.match(env.stderr, /config cacheDir = "\.\.\/elsewhere" \(from environment SLUICE_CACHE_DIR\) is not allowed/);
  });

  test("a folder inside it works", async () => {
    const r = await check(["--set", "cacheDir=build/cache"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /config and 1 function file\(s\) OK/);
  });
});
