// The Node flags of production (src/host/node-flags.ts) are the same in every
// start command Sluice ships: npm start (which the benchmark harness runs),
// `npx sluice`, the container's ENTRYPOINT and the systemd unit. The workers
// of `--workers N` get them from their primary (test/integration/workers.test.ts).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { productionNodeFlags, withProductionNodeFlags } from "../../src/host/node-flags.js";

const root = path.resolve(import.meta.dirname, "../..");
const read = (file: string) => readFileSync(path.join(root, file), "utf8");

/** The words of `command` between the node binary (by its base name) and the first word that is not a flag. */
function flagsAfterNode(command: string[]): string[] {
  const at = command.findIndex((w) => path.basename(w) === "node");
  assert.ok(at >= 0, `no node in ${command.join(" ")}`);
  const rest = command.slice(at + 1);
  const end = rest.findIndex((w) => !w.startsWith("--"));
  return rest.slice(0, end === -1 ? rest.length : end).filter((w) => w !== "--import" && w !== "tsx");
}

describe("the production Node flags", () => {
  test("npm start (and so the benchmark harness) runs node with them", () => {
    const pkg = JSON.parse(read("package.json")) as { scripts: Record<string, string> };
    assert.deepEqual(flagsAfterNode(pkg.scripts.start!.split(" ")), productionNodeFlags);
  });

  test("npx sluice's #! line runs node with them", () => {
    const shebang = read("bin/sluice.ts").split("\n")[0]!;
    assert.deepEqual(flagsAfterNode(shebang.split(" ")), productionNodeFlags);
  });

  test("the container's ENTRYPOINT and the systemd unit's ExecStart run node with them", () => {
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(read("wrangler-free-deploy/container/Containerfile"))![1]!;
    assert.deepEqual(flagsAfterNode(JSON.parse(entrypoint) as string[]), productionNodeFlags);
    const execStart = /^ExecStart=(.*)$/m.exec(read("wrangler-free-deploy/host/sluice.service"))![1]!;
    assert.deepEqual(flagsAfterNode(execStart.split(" ")), productionNodeFlags);
  });

  test("workers get them unless their primary sets a young-generation size itself, in any spelling", () => {
    assert.deepEqual(withProductionNodeFlags(["--import", "tsx"]), ["--import", "tsx", ...productionNodeFlags]);
    assert.deepEqual(withProductionNodeFlags(["--max-semi-space-size=64"]), ["--max-semi-space-size=64"]);
    assert.deepEqual(withProductionNodeFlags(["--max_semi_space_size=64"]), ["--max_semi_space_size=64"]);
    assert.deepEqual(withProductionNodeFlags(["--min-semi-space-size", "4"]), ["--min-semi-space-size", "4"]);
    assert.deepEqual(withProductionNodeFlags([...productionNodeFlags]), [...productionNodeFlags]);
    assert.deepEqual(withProductionNodeFlags(["--max-old-space-size=512"]), ["--max-old-space-size=512", ...productionNodeFlags]);
  });
});
