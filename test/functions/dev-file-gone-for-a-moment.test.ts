// `sluice dev`: a function file that is gone for a moment (less than the
// watcher's half-second removal grace) while another file changes keeps
// serving, and is still served once it is back with the same content. A
// file that stays gone is removed only when the watcher reports it removed.
import assert from "node:assert/strict";
import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, test } from "node:test";
import { createConnectTransport } from "@connectrpc/connect-node";
import { GreetService } from "../../proto/gen/greet/v1/greet_pb.js";
import { ProbeService } from "../gen/probe/v1/probe_pb.js";
import { client } from "../support/clients.js";
import { answerEventually } from "../support/eventually.js";
import { root, startGateway, type RunningGateway } from "../support/gateway.js";
import { TempFunctions } from "../support/temp-functions.js";

const fns = new TempFunctions("gone-for-a-moment");
const probeFile = fns.copy("test/fixtures/functions/probe.ts", "probe.ts");
const greetFile = fns.copy("functions/greet.ts", "greet.ts");
const probeSrc = readFileSync(probeFile, "utf8");
const greetSrc = readFileSync(greetFile, "utf8");
const rel = (f: string) => path.relative(root, f);
const withGreeting = (g: string) => greetSrc.replace("en: (name) => `Hello, ${name}!`", `en: (name) => \`${g}, \${name}!\``);
let gw: RunningGateway | undefined;

after(async () => {
  if (gw) assert.equal(await gw.stop(), 0);
  fns.cleanup();
});

/** Calls until the answer satisfies `ok`; a reload is asynchronous. */
function eventually<T>(call: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  return answerEventually(call, ok, what, { output: () => gw?.output() ?? "" });
}

/** The log lines whose message is exactly `msg` about `file`. */
function lines(file: string, msg: string): number {
  return gw!.output().split("\n").filter((l) => l.includes(`"file":"${rel(file)}"`) && l.includes(`"msg":${JSON.stringify(msg)}`)).length;
}

test("a file deleted and written back with the same content while another file reloads keeps serving", async () => {
  gw = await startGateway({ command: "dev", functionsDir: fns.dir, args: ["--set", "typeCheck=off"], env: { SLUICE_LOG_FORMAT: "json" } });
  const transport = createConnectTransport({ baseUrl: gw.url, httpVersion: "1.1" });
  const probe = client(ProbeService, transport);
  const greet = client(GreetService, transport);
  assert.equal((await probe.unary({})).version, "v1");

  // The delete and the edit land in one scan: the reload greet.ts sets off runs while probe.ts is gone.
  unlinkSync(probeFile);
  writeFileSync(greetFile, withGreeting("Hi"));
  await eventually(() => greet.greet({ name: "a" }), (r) => r.greeting === "Hi, a!", "greet.ts reloaded");
  writeFileSync(probeFile, probeSrc);
  // "touched": the watcher still had it; "added": a busy machine stretched the moment past the grace.
  await gw.waitForOutput(new RegExp(`"msg":"${rel(probeFile)}(: touched, content unchanged; nothing to do| added: function added)"`));
  // Past the removal grace: the watcher has looked again, and nothing else changed.
  await sleep(1500);
  assert.equal((await probe.unary({})).version, "v1", `probe.ts is served after coming back\n${gw.output()}`);

  // Removed only where the watcher said so (a busy machine may stretch the moment past the grace).
  assert.equal(lines(probeFile, "function removed"), lines(probeFile, `${rel(probeFile)} removed: function removed`), gw.output());
});
