// `sluice dev`: an exception thrown in a handler's timer, which nobody can
// catch, is logged with the function file (and line) it came from, and the
// session goes on: the gateway keeps serving, and keeps reloading edits.
// (`start` drains and exits 1 instead: test/integration/errors covers it.)
import assert from "node:assert/strict";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, test } from "node:test";
import { createConnectTransport } from "@connectrpc/connect-node";
import { GreetService } from "../../proto/gen/greet/v1/greet_pb.js";
import { client } from "../support/clients.js";
import { root, startGateway, type RunningGateway } from "../support/gateway.js";
import { TempFunctions } from "../support/temp-functions.js";

const greetPb = path.join(root, "proto/gen/greet/v1/greet_pb.js");
const fns = new TempFunctions("dev-uncaught");
const source = (answer: string) => `import { defineFunction } from "sluice";
import { GreetService } from ${JSON.stringify(greetPb)};

export default defineFunction({
  service: GreetService,
  implementation: {
    greet(req) {
      if (req.name === "boom") setTimeout(() => { throw new Error("thrown in a timer"); }, 1);
      return { greeting: ${JSON.stringify(answer)} };
    },
  },
});
`;
const file = fns.write("greet.ts", source("first"));
const shown = path.relative(root, file);
let gw: RunningGateway | undefined;

after(async () => {
  if (gw) assert.equal(await gw.stop(), 0);
  fns.cleanup();
});

test("an uncaught exception in a handler's timer is logged with its file, and dev keeps serving and reloading", async () => {
  gw = await startGateway({ command: "dev", functionsDir: fns.dir, args: ["--set", "typeCheck=off"], env: { SLUICE_LOG_FORMAT: "json" } });
  const greet = client(GreetService, createConnectTransport({ baseUrl: gw.url, httpVersion: "1.1" }));
  assert.equal((await greet.greet({ name: "boom" })).greeting, "first");
  await gw.waitForOutput("thrown in a timer");
  const line = gw.output().split("\n").find((l) => l.includes("thrown in a timer"))!;
  const logged = JSON.parse(line) as { level: number; file?: string; msg: string; err?: { stack?: string } };
  assert.equal(logged.level, 50, "logged as an error");
  assert.equal(logged.file, shown);
  assert.match(logged.msg, new RegExp(`^${shown.replaceAll(".", "\\.")}: uncaught exception at ${shown.replaceAll(".", "\\.")}:8:\\d+`));
  assert.match(logged.err?.stack ?? "", /thrown in a timer/);

  assert.equal((await greet.greet({ name: "again" })).greeting, "first", "still serving");
  fns.write("greet.ts", source("second"));
  for (let i = 0; i < 200 && (await greet.greet({ name: "x" })).greeting !== "second"; i++) await sleep(50);
  assert.equal((await greet.greet({ name: "x" })).greeting, "second", "still reloading");
  assert.equal(gw.child.exitCode, null);
});
