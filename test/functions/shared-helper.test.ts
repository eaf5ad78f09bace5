// A helper module that two function files import is one module, with one
// state, in `sluice start`, in `sluice dev` and in a built artifact alike.
// In dev, the state lives as long as the helper's code: editing a function
// file that imports it keeps it; editing the helper starts a fresh one that
// every importer shares again.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, test } from "node:test";
import { buildArtifact, scratchFolder, startArtifact } from "../support/artifact.js";
import { root, startGateway, type RunningGateway } from "../support/gateway.js";
import { TempFunctions } from "../support/temp-functions.js";

const greetPb = path.join(root, "proto/gen/greet/v1/greet_pb.js");
const probePb = path.join(root, "test/gen/probe/v1/probe_pb.js");

const counter = (start: number) => `let count = ${start};\nexport function next(): number {\n  return ++count;\n}\n`;
const greetFile = (tag: string) => `import { defineFunction } from "sluice";
import { GreetService } from ${JSON.stringify(greetPb)};
import { next } from "./_lib/counter.js";

export default defineFunction({
  service: GreetService,
  implementation: { greet: () => ({ greeting: "${tag} " + next() }) },
});
`;
const probeFile = `import { defineFunction } from "sluice";
import { ProbeService } from ${JSON.stringify(probePb)};
import { next } from "./_lib/counter.js";

export default defineFunction({
  service: ProbeService,
  implementation: { unary: () => ({ text: String(next()) }) },
});
`;

function project(name: string): TempFunctions {
  const fns = new TempFunctions(name);
  fns.write("_lib/counter.ts", counter(0));
  fns.write("greet.ts", greetFile("greet"));
  fns.write("probe.ts", probeFile);
  return fns;
}

async function post(gw: RunningGateway, route: string): Promise<Record<string, string>> {
  const res = await fetch(`${gw.url}/${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  const body = (await res.json()) as Record<string, string>;
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}
const greet = async (gw: RunningGateway) => (await post(gw, "greet.v1.GreetService/Greet")).greeting;
const probe = async (gw: RunningGateway) => (await post(gw, "probe.v1.ProbeService/Unary")).text;

/** Greet, probe, greet: one counter counts 1, 2, 3; a copy in each file would count 1, 1, 2. */
async function assertShared(gw: RunningGateway, tag = "greet"): Promise<void> {
  assert.deepEqual([await greet(gw), await probe(gw), await greet(gw)], [`${tag} 1`, "2", `${tag} 3`], gw.output());
}

describe("sluice start", () => {
  const fns = project("shared-start");
  let gw: RunningGateway | undefined;
  after(async () => {
    if (gw) assert.equal(await gw.stop(), 0);
    fns.cleanup();
  });

  test("two function files share one instance of the helper they import", async () => {
    gw = await startGateway({ functionsDir: fns.dir });
    await assertShared(gw);
  });
});

describe("a built artifact", () => {
  const fns = project("shared-artifact");
  const work = scratchFolder("sluice-shared-helper-");
  let gw: RunningGateway | undefined;
  after(async () => {
    if (gw) assert.equal(await gw.stop(), 0);
    fns.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  test("shares it the same way", async () => {
    const out = path.join(work, "deploy");
    const r = buildArtifact(out, ["--functions", fns.dir, "--set", "typeCheck=off"]);
    assert.equal(r.code, 0, r.stderr);
    gw = await startArtifact(out, ["start"], { PORT: "0" });
    await assertShared(gw);
  });
});

describe("sluice dev", () => {
  const fns = project("shared-dev");
  let gw: RunningGateway | undefined;
  after(async () => {
    if (gw) assert.equal(await gw.stop(), 0);
    fns.cleanup();
  });

  async function until(call: () => Promise<string>, ok: (answer: string) => boolean, what: string): Promise<void> {
    let last = "";
    for (let i = 0; i < 200; i++) {
      last = await call();
      if (ok(last)) return;
      await sleep(50);
    }
    assert.fail(`${what} never happened; last answer: ${last}\n${gw?.output()}`);
  }

  test("shares it, keeps its state when an importer changes, and starts it afresh, shared, when it changes", async () => {
    gw = await startGateway({ command: "dev", functionsDir: fns.dir, args: ["--set", "typeCheck=off"], env: { SLUICE_LOG_FORMAT: "json" } });
    await assertShared(gw);

    // An importer changes: it reloads onto the same helper instance, which keeps counting.
    fns.write("greet.ts", greetFile("edited"));
    await until(() => greet(gw!), (a) => a.startsWith("edited "), "greet.ts reloaded");
    const afterEdit = [await probe(gw), await greet(gw)];
    assert.ok(Number(afterEdit[0]) > 3, `the count went on: ${afterEdit.join(", ")}`);
    assert.equal(afterEdit[1], `edited ${Number(afterEdit[0]) + 1}`);

    // The helper changes: both importers reload onto one new instance.
    fns.write("_lib/counter.ts", counter(1_000_000));
    await until(() => probe(gw!), (a) => Number(a) > 1_000_000, "the new counter served");
    const logged = () => gw!.output().split("\n").filter((l) => l.includes("_lib/counter.ts changed: imported by"));
    await until(async () => String(logged().length), (n) => n === "1", "the helper's change logged");
    const line = logged()[0]!;
    assert.match(line, /greet\.ts \(function reloaded\)/);
    assert.match(line, /probe\.ts \(function reloaded\)/);
    const next = Number(await probe(gw));
    assert.equal(await greet(gw), `edited ${next + 1}`, "greet.ts and probe.ts count on one new instance");
  });
});
