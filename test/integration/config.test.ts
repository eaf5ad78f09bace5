// Configuration comes from sluice.config.ts/.json, SLUICE_* environment
// variables and flags (each later one wins); a bad value is refused at start
// with its key, its value, where it came from and what is allowed.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { runCli, startGateway } from "../support/gateway.js";
import { TempFunctions } from "../support/temp-functions.js";

const scratch = new TempFunctions("config");
const project = scratch.dir.replace(/\/functions$/, "");
scratch.copy("functions/greet.ts", "greet.ts");
after(() => scratch.cleanup());

describe("bad values are refused with key, value, source and what is allowed", () => {
  test("a flag", async () => {
    const r = await runCli(["start", "--port", "70000", "--functions", scratch.dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /SLUICE_CONFIG_INVALID: config port = "70000" \(from --port\) is not allowed: expected an integer from 0 to 65535/);
  });
  test("an environment variable", async () => {
    const r = await runCli(["check", "--functions", scratch.dir], { env: { SLUICE_READ_MAX_BYTES: "lots" } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /config readMaxBytes = "lots" \(from environment SLUICE_READ_MAX_BYTES\) is not allowed: expected an integer from 1 to 1073741824/);
  });
  test("a config file value, an unknown key, and every problem at once", async () => {
    scratch.write("../bad.json", JSON.stringify({ logLevel: "loud", compression: { encodings: ["gzip", "zstd"] }, prot: 8080 }));
    const r = await runCli(["check", "--config", "bad.json", "--functions", scratch.dir], { cwd: project });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /config logLevel = "loud" \(from bad\.json\) is not allowed: expected one of fatal, error, warn, info, debug, trace, silent/);
    assert.match(r.stderr, /config compression\.encodings = \["gzip","zstd"\] \(from bad\.json\) is not allowed: expected a list of gzip, br/);
    assert.match(r.stderr, /SLUICE_CONFIG_UNKNOWN_KEY: config key prot \(from bad\.json\) is not a Sluice option; did you mean "port"\?/);
    assert.match(r.stderr, /3 errors/);
  });
  test("options that only make sense together", async () => {
    const cert = await runCli(["check", "--tls-cert", "cert.pem", "--functions", scratch.dir]);
    assert.match(cert.stderr, /config tls\.key = undefined .* expected a PEM file path: tls\.cert and tls\.key go together/);
    const cors = await runCli(["check", "--set", "cors.origins=*", "--set", "cors.credentials=true", "--functions", scratch.dir]);
    assert.match(cors.stderr, /config cors\.credentials = true .* not allowed: expected false when cors\.origins contains "\*"/);
  });
  test("an unreadable TLS file", async () => {
    const r = await runCli(["check", "--tls-cert", "missing.pem", "--tls-key", "missing.pem", "--functions", scratch.dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /SLUICE_TLS_FILE_UNREADABLE: config tls\.cert: cannot read \S+missing\.pem \(ENOENT\)/);
  });
  test("an unknown flag or command", async () => {
    assert.match((await runCli(["serve"])).stderr, /SLUICE_CLI_USAGE: unknown command "serve"; the commands are dev, start, check and build/);
    assert.match((await runCli(["strat"])).stderr, /SLUICE_CLI_USAGE: unknown command "strat"; did you mean "start"\?/);
    assert.match((await runCli(["start", "--prot", "1"])).stderr, /SLUICE_CLI_USAGE: unknown flag --prot; did you mean --port\?/);
    assert.match((await runCli(["check", "--set", "cors.orgins=x"])).stderr, /SLUICE_CONFIG_UNKNOWN_KEY: config key cors\.orgins \(from command line\) is not a Sluice option; did you mean "cors\.origins"\?/);
    assert.match((await runCli(["check", "--set", "zzzzzzzz=x"])).stderr, /SLUICE_CONFIG_UNKNOWN_KEY: config key zzzzzzzz \(from command line\) is not a Sluice option; every key is in the Configuration table of README\.md/);
  });
  test("a port in use", async () => {
    const gw = await startGateway({ functionsDir: scratch.dir });
    const r = await runCli(["start", "--port", String(gw.port), "--functions", scratch.dir]);
    await gw.stop();
    assert.equal(r.code, 1);
    assert.match(r.stderr, /SLUICE_LISTEN_FAILED: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
  });
});

describe("sources and precedence", () => {
  test("sluice.config.ts with defineConfig is found in the working directory", async () => {
    scratch.write("../sluice.config.ts", `import { defineConfig } from "sluice";\nexport default defineConfig({ functionsDir: "functions", cors: { origins: ["https://app.example"] } });\n`);
    const r = await runCli(["check"], { cwd: project });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /greet\.v1\.GreetService/);
  });
  test("environment beats the file, flags beat the environment", async () => {
    scratch.write("../sluice.config.ts", `export default { functionsDir: "nowhere-from-file" };\n`);
    const envWins = await runCli(["check"], { cwd: project, env: { SLUICE_FUNCTIONS_DIR: "functions" } });
    assert.equal(envWins.code, 0, envWins.stderr);
    const flagWins = await runCli(["check", "--functions", "functions"], { cwd: project, env: { SLUICE_FUNCTIONS_DIR: "nowhere-from-env" } });
    assert.equal(flagWins.code, 0, flagWins.stderr);
    const fileAlone = await runCli(["check"], { cwd: project });
    assert.match(fileAlone.stderr, /functions directory nowhere-from-file does not exist/);
  });
  test("a config file that fails to compile is named", async () => {
    scratch.write("../sluice.config.ts", `export default { port: 8080 ;\n`);
    const r = await runCli(["check"], { cwd: project });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /SLUICE_CONFIG_LOAD_FAILED: could not load config file sluice\.config\.ts:/);
  });
  test("--help prints usage; --version the version", async () => {
    assert.match((await runCli(["--help"])).stdout, /Usage: sluice <command>/);
    assert.match((await runCli(["--version"])).stdout, /^\d+\.\d+\.\d+\n$/);
  });
});
