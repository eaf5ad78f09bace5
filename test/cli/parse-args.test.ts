import assert from "node:assert/strict";
import { test } from "node:test";
import { parseArgs } from "../../src/cli/parse-args.js";
import { typedFlags } from "../../src/config/load-config.js";

test("command, flags in both forms, --set and --config; each value's flag as typed, for errors to name", () => {
  const r = parseArgs(["dev", "--port", "9000", "--host=0.0.0.0", "--log-level", "warn", "--set", "cors.origins=https://a.example", "--config", "x.json"]);
  assert.deepEqual(r, {
    args: {
      command: "dev",
      flags: {
        port: "9000",
        host: "0.0.0.0",
        logLevel: "warn",
        "cors.origins": "https://a.example",
        [typedFlags]: { port: "--port", host: "--host", logLevel: "--log-level", "cors.origins": "--set cors.origins" },
      },
      configFile: "x.json",
    },
  });
});

test("the last flag for a key wins, and is the one named", () => {
  const r = parseArgs(["check", "--log-level", "warn", "--set", "logLevel=loud"]);
  assert.ok("args" in r);
  assert.equal(r.args.flags.logLevel, "loud");
  assert.equal(r.args.flags[typedFlags]?.logLevel, "--set logLevel");
});

test("no command means help", () => {
  assert.deepEqual(parseArgs([]), { args: { command: "help", flags: { [typedFlags]: {} } } });
});

test("mistakes are usage errors", () => {
  for (const argv of [["serve"], ["start", "--port"], ["start", "--nope", "1"], ["start", "check"], ["start", "--set", "novalue"]]) {
    const r = parseArgs(argv);
    assert.ok("error" in r, argv.join(" "));
    assert.equal(r.error.code, "SLUICE_CLI_USAGE");
  }
});

test("build takes --out; --out with another command is a usage error", () => {
  assert.deepEqual(parseArgs(["build", "--out", "dist/x", "--set", "typeCheck=off"]), { args: { command: "build", flags: { typeCheck: "off", [typedFlags]: { typeCheck: "--set typeCheck" } }, outDir: "dist/x" } });
  assert.deepEqual(parseArgs(["build"]), { args: { command: "build", flags: { [typedFlags]: {} } } });
  const r = parseArgs(["start", "--out", "x"]);
  assert.ok("error" in r);
  assert.match(r.error.message, /--out is for build/);
  const near = parseArgs(["biuld"]);
  assert.ok("error" in near);
  assert.match(near.error.message, /did you mean "build"/);
});
