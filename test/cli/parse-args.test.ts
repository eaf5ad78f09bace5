import assert from "node:assert/strict";
import { test } from "node:test";
import { parseArgs } from "../../src/cli/parse-args.js";

test("command, flags in both forms, --set and --config", () => {
  const r = parseArgs(["dev", "--port", "9000", "--host=0.0.0.0", "--set", "cors.origins=https://a.example", "--config", "x.json"]);
  assert.deepEqual(r, { args: { command: "dev", flags: { port: "9000", host: "0.0.0.0", "cors.origins": "https://a.example" }, configFile: "x.json" } });
});

test("no command means help", () => {
  assert.deepEqual(parseArgs([]), { args: { command: "help", flags: {} } });
});

test("mistakes are usage errors", () => {
  for (const argv of [["serve"], ["start", "--port"], ["start", "--nope", "1"], ["start", "check"], ["start", "--set", "novalue"]]) {
    const r = parseArgs(argv);
    assert.ok("error" in r, argv.join(" "));
    assert.equal(r.error.code, "SLUICE_CLI_USAGE");
  }
});
