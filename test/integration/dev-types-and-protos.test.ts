// `sluice dev` with types and protos in the loop: a type error is shown with
// file:line:column and the file is not reloaded (the previous version keeps
// answering) until it is fixed, or it is loaded anyway with typeCheck warn;
// a .proto edit regenerates the code and reloads the function that uses it;
// and dev's logs are lines for people, while the server still exits cleanly.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, test } from "node:test";
import { createConnectTransport } from "@connectrpc/connect-node";
import { GreetService } from "../../proto/gen/greet/v1/greet_pb.js";
import { client } from "../support/clients.js";
import { answerEventually } from "../support/eventually.js";
import { root, startGateway, type RunningGateway } from "../support/gateway.js";
import { TempFunctions } from "../support/temp-functions.js";

/** Calls until the answer satisfies `ok`; a reload is asynchronous. */
function eventually<T>(gw: RunningGateway, call: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  return answerEventually(call, ok, what, { output: () => gw.output() });
}

const typo = (s: string) => s.replace("const name = req.name.trim();", "const name = req.nmae.trim();");

describe("a type error in dev (pretty logs, typeCheck refuse)", () => {
  const fns = new TempFunctions("dev-types");
  const file = fns.copy("functions/greet.ts", "greet.ts");
  const shown = path.relative(root, file);
  const good = () => fns.copy("functions/greet.ts", "greet.ts");
  let gw: RunningGateway;
  after(async () => {
    if (gw) assert.equal(await gw.stop(), 0, "the supervisor passes SIGTERM on and exits with the server's status");
    fns.cleanup();
  });

  test("is reported with file:line:column, and the previous version keeps answering", async () => {
    gw = await startGateway({ command: "dev", functionsDir: fns.dir });
    const greet = client(GreetService, createConnectTransport({ baseUrl: gw.url, httpVersion: "1.1" }));
    assert.equal((await greet.greet({ name: "Ada" })).greeting, "Hello, Ada!");
    fns.copy("functions/greet.ts", "greet.ts", typo);
    await gw.waitForOutput(`INFO  ${shown} changed: not loaded (SLUICE_FUNCTION_TYPE_ERRORS)`);
    const out = gw.output();
    assert.match(out, /^    \(the previous version keeps serving\)$/m);
    // Pretty lines: time, level, message; the error's lines below it.
    assert.match(out, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} ERROR SLUICE_FUNCTION_TYPE_ERRORS: ${shown.replaceAll(".", "\\.")}: 1 type error:  code=SLUICE_FUNCTION_TYPE_ERRORS file=${shown.replaceAll(".", "\\.")}$`, "m"));
    assert.match(out, new RegExp(`^      ${shown.replaceAll(".", "\\.")}:27:24 error TS2339: Property 'nmae' does not exist on type 'GreetRequest'\\.$`, "m"));
    assert.match(out, /^    Not loaded: fix the errors \(or set typeCheck to "warn" to load files with type errors\)\.$/m);
    assert.match(out, new RegExp(`INFO  ${shown.replaceAll(".", "\\.")} changed: not loaded \\(SLUICE_FUNCTION_TYPE_ERRORS\\)`));
    assert.doesNotMatch(out, /^\{"level"/m, "no raw JSON in dev");
    assert.equal((await greet.greet({ name: "Ada" })).greeting, "Hello, Ada!");

    good();
    await gw.waitForOutput(`INFO  ${shown} changed: same code as the version served`);
    fns.copy("functions/greet.ts", "greet.ts", (s) => s.replace("Hello, ${name}!", "Hi, ${name}!"));
    await eventually(gw, () => greet.greet({ name: "Ada" }), (r) => r.greeting === "Hi, Ada!", "fixed file reloaded");
    // Logged once the new version is published, so it may trail the first answer a little.
    await gw.waitForOutput(new RegExp(`INFO  function reloaded  file=${shown.replaceAll(".", "\\.")} ms=\\d+`));
  });
});

describe("typeCheck warn: the error is reported and the file loads", () => {
  const fns = new TempFunctions("dev-types-warn");
  fns.copy("functions/greet.ts", "greet.ts");
  let gw: RunningGateway;
  after(async () => {
    if (gw) assert.equal(await gw.stop(), 0);
    fns.cleanup();
  });
  test("reloads with the type error", async () => {
    gw = await startGateway({ command: "dev", functionsDir: fns.dir, args: ["--set", "typeCheck=warn"], env: { SLUICE_LOG_FORMAT: "json" } });
    const greet = client(GreetService, createConnectTransport({ baseUrl: gw.url, httpVersion: "1.1" }));
    fns.copy("functions/greet.ts", "greet.ts", (s) => typo(s).replace("Hello, ${name}!", "Hi, ${name}!"));
    await gw.waitForOutput(/"code":"SLUICE_FUNCTION_TYPE_ERRORS".*error TS2339: Property 'nmae' does not exist on type 'GreetRequest'\..*Loaded anyway \(typeCheck is \\"warn\\"\)/);
    // It loaded: the typo reads undefined, so the call fails at run time, which is what warn allows.
    await eventually(gw, () => greet.greet({ name: "Ada" }).then(() => "ok", (e: Error) => e.message), (m) => m !== "ok", "the typo version answers");
    await gw.waitForOutput('"msg":"function reloaded"');
  });
});

describe("a .proto edit in dev", () => {
  const project = path.join(root, "test/.tmp", `dev-proto-${process.pid}-${Date.now().toString(36)}`);
  const protoFile = path.join(project, "proto/ping/v1/ping.proto");
  const functionsDir = path.join(project, "functions");
  const shownFunction = "functions/ping.ts";
  const proto = (fields: string) => `syntax = "proto3";\npackage ping.v1;\nmessage Ping {\n${fields}}\nservice PingService {\n  rpc Echo(Ping) returns (Ping);\n}\n`;
  let gw: RunningGateway;
  after(async () => {
    if (gw) assert.equal(await gw.stop(), 0);
    rmSync(project, { recursive: true, force: true });
  });

  const call = async () => {
    const res = await fetch(`${gw.url}/ping.v1.PingService/Echo`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    return ((await res.json()) as { text?: string }).text;
  };
  const reloads = () => gw.output().split("\n").filter((l) => l.includes(`"file":"${shownFunction}"`) && l.includes('"msg":"function reloaded"')).length;

  test("regenerates the code and reloads the function that imports it, once; a broken .proto keeps the old code", async () => {
    mkdirSync(path.dirname(protoFile), { recursive: true });
    mkdirSync(functionsDir);
    writeFileSync(protoFile, proto("  string text = 1;\n"));
    writeFileSync(path.join(project, "buf.gen.yaml"), "version: v2\ninputs:\n  - directory: proto\nplugins:\n  - local: protoc-gen-es\n    out: proto/gen\n    opt: [target=ts, import_extension=js]\nclean: true\n");
    writeFileSync(path.join(functionsDir, "ping.ts"), [
      `import { defineFunction } from "sluice";`,
      `import { PingSchema, PingService } from "../proto/gen/ping/v1/ping_pb.js";`,
      ``,
      `export default defineFunction({`,
      `  service: PingService,`,
      `  implementation: {`,
      `    echo() {`,
      `      return { text: PingSchema.fields.map((f) => f.name).join(",") };`,
      `    },`,
      `  },`,
      `});`,
      ``,
    ].join("\n"));
    const bin = path.join(root, "node_modules/.bin");
    const generated = spawnSync(path.join(bin, "buf"), ["generate"], { cwd: project, env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}` }, encoding: "utf8" });
    assert.equal(generated.status, 0, generated.stderr);

    gw = await startGateway({ command: "dev", cwd: project, functionsDir, env: { SLUICE_LOG_FORMAT: "json" } });
    assert.equal(await call(), "text");

    writeFileSync(protoFile, proto("  string text = 1;\n  string extra = 2;\n"));
    await gw.waitForOutput('"msg":"proto/ping/v1/ping.proto changed: regenerating code (buf generate)"');
    await eventually(gw, call, (t) => t === "text,extra", "the function sees the new field");
    await gw.waitForOutput('"msg":"proto/gen/ping/v1/ping_pb.ts changed: imported by functions/ping.ts (function reloaded)"');

    // A touch regenerates nothing.
    const now = new Date();
    utimesSync(protoFile, now, now);
    await gw.waitForOutput('"msg":"proto/ping/v1/ping.proto: touched, content unchanged; nothing to do"');

    writeFileSync(protoFile, proto("  string text = 1;\n  string extra = 2\n"));
    await gw.waitForOutput(/"code":"SLUICE_GENERATE_FAILED".*code generation failed \(buf generate\):.*ping\.proto.*Fix the \.proto file; the functions keep serving the code generated before/);
    assert.equal(await call(), "text,extra");
    assert.equal(reloads(), 1);
  });
});
