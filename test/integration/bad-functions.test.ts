// A bad function file fails `check` and `start` with one clear message that
// names the file, the method and the fix; nothing half-loads.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { root, runCli } from "../support/gateway.js";
import { TempFunctions } from "../support/temp-functions.js";

const gen = (p: string) => `${root}/proto/gen/${p}`;
const header = `import { defineFunction, ConnectError, Code } from "sluice";
import { GreetService } from "${gen("greet/v1/greet_pb.js")}";
import { TickerService } from "${gen("ticker/v1/ticker_pb.js")}";
import { ChatService } from "${gen("chat/v1/chat_pb.js")}";
import { IngestService } from "${gen("ingest/v1/ingest_pb.js")}";
void ConnectError; void Code; void GreetService; void TickerService; void ChatService; void IngestService;
`;
const goodGreet = `${header}export default defineFunction({ service: GreetService, implementation: { greet: (r) => ({ greeting: "hi " + r.name }) } });\n`;
/** A valid file beside the bad one: one bad file must fail the whole load. */
const goodIngest = `${header}export default defineFunction({ service: IngestService, implementation: { async ingest() { return {}; } } });\n`;

const folders: TempFunctions[] = [];
after(() => folders.forEach((f) => f.cleanup()));

/**
 * A functions folder holding `files`, checked with `sluice check`. The type
 * check is on only where the case is about types: a TypeScript program per
 * run costs seconds of CPU, and with the other suites beside it on two cores
 * a run could outlast runCli's limit.
 */
async function check(files: Record<string, string>, command: "check" | "start" = "check", typeCheck = false) {
  const fns = new TempFunctions("bad");
  folders.push(fns);
  for (const [name, content] of Object.entries(files)) fns.write(name, content);
  const args = command === "start" ? ["start", "--port", "0"] : ["check"];
  return runCli([...args, "--functions", fns.dir, ...(typeCheck ? [] : ["--set", "typeCheck=off"])]);
}

const cases: [string, Record<string, string>, RegExp[]][] = [
  ["a syntax error", { "greet.ts": goodGreet.replace("greeting:", "greeting::") }, [
    /SLUICE_FUNCTION_BUILD_FAILED: \S+greet\.ts: does not compile/, /greet\.ts:\d+:\d+/, /nothing from this file was loaded/,
  ]],
  ["no default export", { "greet.ts": `${header}export const x = 1;\n` }, [
    /SLUICE_FUNCTION_NO_DEFAULT_EXPORT: \S+greet\.ts: has no default export/, /export default defineFunction/, /prefix the file name with "_"/,
  ]],
  ["a default export not made with defineFunction", { "greet.ts": `${header}export default { service: GreetService, implementation: {} };\n` }, [
    /SLUICE_FUNCTION_NOT_DEFINED: \S+greet\.ts: the default export is an object with keys service, implementation/,
  ]],
  ["an unknown service", { "greet.ts": `${header}export default defineFunction({ service: (GreetService as any).nope, implementation: {} } as any);\n` }, [
    /SLUICE_FUNCTION_UNKNOWN_SERVICE: \S+greet\.ts: "service" is undefined, not a service descriptor/, /npm run generate/,
  ]],
  ["a message descriptor instead of a service", { "greet.ts": `${header}import { GreetRequestSchema } from "${gen("greet/v1/greet_pb.js")}";\nexport default defineFunction({ service: GreetRequestSchema as any, implementation: {} } as any);\n` }, [
    /SLUICE_FUNCTION_UNKNOWN_SERVICE: .*a message descriptor \(greet\.v1\.GreetRequest\)/,
  ]],
  ["a method the service does not have", { "greet.ts": `${header}export default defineFunction({ service: GreetService, implementation: { greet: () => ({}), greetAll: () => ({}) } as any });\n` }, [
    /SLUICE_FUNCTION_UNKNOWN_METHOD: \S+greet\.ts: greet\.v1\.GreetService has no method "greetAll"; its methods are greet/,
  ]],
  ["a server-streaming method written as an async function", { "ticker.ts": `${header}export default defineFunction({ service: TickerService, implementation: { async subscribe() { return {} as any; } } as any });\n` }, [
    /SLUICE_FUNCTION_WRONG_STREAM_KIND: \S+ticker\.ts: ticker\.v1\.TickerService\.subscribe is server-streaming: write it as an async generator that yields responses: "async \*subscribe/,
  ]],
  ["a server-streaming method written as a plain (not async) generator", { "ticker.ts": `${header}export default defineFunction({ service: TickerService, implementation: { *subscribe() { yield {}; } } as any });\n` }, [
    /SLUICE_FUNCTION_WRONG_STREAM_KIND: \S+ticker\.ts: ticker\.v1\.TickerService\.subscribe is server-streaming: write it as an async generator/,
  ]],
  ["a misspelled key of the definition", { "greet.ts": `${header}export default defineFunction({ service: GreetService, implementation: { greet: () => ({}) }, option: { maxConcurrent: 1 } } as any);\n` }, [
    /SLUICE_FUNCTION_UNKNOWN_KEY: \S+greet\.ts: defineFunction\(\) has no key "option"; did you mean "options"\?/,
  ]],
  ["a unary method written as a generator", { "greet.ts": `${header}export default defineFunction({ service: GreetService, implementation: { async *greet() { yield {}; } } as any });\n` }, [
    /SLUICE_FUNCTION_WRONG_STREAM_KIND: \S+greet\.ts: greet\.v1\.GreetService\.greet is unary: return one response message instead of yielding/,
  ]],
  ["a bidi method written as an async function", { "chat.ts": `${header}export default defineFunction({ service: ChatService, implementation: { async chat() {} } as any });\n` }, [
    /SLUICE_FUNCTION_WRONG_STREAM_KIND: \S+chat\.ts: chat\.v1\.ChatService\.chat is bidi-streaming: write it as an async generator that reads requests and yields responses/,
  ]],
  ["a file that throws while loading", { "greet.ts": `${header}throw new Error("DATABASE_URL is not set");\n` }, [
    /SLUICE_FUNCTION_IMPORT_FAILED: \S+greet\.ts: threw while being loaded: DATABASE_URL is not set/,
  ]],
  ["a bad option", { "greet.ts": goodGreet.replace("implementation:", "options: { maxTimeoutMs: -1 }, implementation:") }, [
    /SLUICE_FUNCTION_BAD_OPTION: \S+greet\.ts: option options\.maxTimeoutMs = -1 is not allowed: expected an integer from 1 to 2147483647/,
  ]],
  ["a type error (a misspelled field)", { "greet.ts": goodGreet.replace("r.name", "r.nam") }, [
    /SLUICE_FUNCTION_TYPE_ERRORS: \S+greet\.ts: 1 type error:\n  \S+greet\.ts:7:\d+ error TS2551: Property 'nam' does not exist on type 'GreetRequest'\. Did you mean 'name'\?\nFix them: a file with type errors fails check and is not loaded by dev \(typeCheck is "refuse"\)\./,
  ]],
  ["a misspelled option", { "greet.ts": goodGreet.replace("implementation:", "options: { maxTimeoutMS: 10 } as any, implementation:") }, [
    /SLUICE_FUNCTION_BAD_OPTION: \S+greet\.ts: option options\.maxTimeoutMS = 10 is not allowed: expected a known option: "maxTimeoutMS" is not one; did you mean "maxTimeoutMs"\?/,
  ]],
  ["an import of generated code that was never generated", { "greet.ts": goodGreet.replace(`import { GreetService } from "${gen("greet/v1/greet_pb.js")}";`, `import { GreetService } from "${gen("greet/v9/greet_pb.js")}";`) }, [
    /SLUICE_FUNCTION_BUILD_FAILED: \S+greet\.ts: does not compile:\n.*Could not resolve/,
    /\S+greet\/v9\/greet_pb\.js is generated code that does not exist yet: run `npm run generate` \(buf generate writes proto\/gen\/ from proto\/\), then try again/,
  ]],
  ["a service in two files without split", { "a.ts": goodGreet, "b.ts": goodGreet }, [
    /SLUICE_FUNCTION_SPLIT_NOT_DECLARED: greet\.v1\.GreetService is defined in \S+a\.ts and \S+b\.ts; to split a service over several files, add "split: true"/,
  ]],
  ["the same method in two split files", { "a.ts": goodGreet.replace("service: GreetService,", "service: GreetService, split: true,"), "b.ts": goodGreet.replace("service: GreetService,", "service: GreetService, split: true,") }, [
    /SLUICE_FUNCTION_DUPLICATE_METHOD: greet\.v1\.GreetService\.Greet is implemented by both \S+a\.ts and \S+b\.ts/,
  ]],
  ["a function claiming the built-in health service", { "health.ts": `import { defineFunction } from "sluice";\nimport { Health } from "${gen("grpc/health/v1/health_pb.js")}";\nexport default defineFunction({ service: Health, split: true, implementation: {} });\n` }, [
    /SLUICE_FUNCTION_DUPLICATE_METHOD: grpc\.health\.v1\.Health is implemented by both Sluice's built-in service and \S+health\.ts/,
  ]],
];

describe("sluice check rejects", () => {
  for (const [name, files, expected] of cases) {
    test(name, async () => {
      const { code, stderr, stdout } = await check({ "ingest.ts": goodIngest, ...files }, "check", /type error/.test(name));
      assert.equal(code, 1, `stdout:\n${stdout}\nstderr:\n${stderr}`);
      for (const re of expected) assert.match(stderr, re);
      assert.doesNotMatch(stdout, /config and \d+ function file\(s\) OK/);
    });
  }
});

test("sluice start refuses to serve when one file is bad, and says why", async () => {
  const { code, stdout, stderr } = await check({ "greet.ts": goodGreet, "ticker.ts": `${header}export default defineFunction({ service: TickerService, implementation: { async subscribe() { return {} as any; } } as any });\n` }, "start");
  assert.equal(code, 1);
  assert.doesNotMatch(stdout + stderr, /sluice listening on/);
  assert.match(stderr, /SLUICE_FUNCTION_WRONG_STREAM_KIND: \S+ticker\.ts/);
});

test("a missing functions folder is named", async () => {
  const { code, stderr } = await runCli(["check", "--functions", "no/such/folder"]);
  assert.equal(code, 1);
  assert.match(stderr, /SLUICE_FUNCTIONS_DIR_MISSING: functions directory no\/such\/folder does not exist/);
});

test("a service split over files that all say split: true is served from both", async () => {
  const splitGreet = goodGreet.replace("service: GreetService,", "service: GreetService, split: true,");
  const { code, stdout, stderr } = await check({
    "greet.ts": splitGreet,
    "_shared/helper.ts": "export const notAFunction = 1;\n",
    "types.d.ts": "export {};\n",
  });
  assert.equal(code, 0, stderr);
  assert.match(stdout, /greet\.v1\.GreetService\s+Greet\s+unary\s+connect\(\+GET\) grpc grpc-web\s+\S+greet\.ts/);
  assert.match(stdout, /config and 1 function file\(s\) OK/);
});

test("the example functions pass check", async () => {
  const { code, stdout, stderr } = await runCli(["check"]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /config and 4 function file\(s\) OK/);
  for (const rpc of ["GreetService\\s+Greet\\s+unary", "TickerService\\s+Subscribe\\s+server-streaming", "IngestService\\s+Ingest\\s+client-streaming", "ChatService\\s+Chat\\s+bidi-streaming"]) {
    assert.match(stdout, new RegExp(rpc));
  }
});

test("with typeCheck warn, a type error is reported but check passes", async () => {
  const fns = new TempFunctions("bad");
  folders.push(fns);
  fns.write("greet.ts", goodGreet.replace("r.name", "r.nam"));
  const { code, stdout, stderr } = await runCli(["check", "--functions", fns.dir, "--set", "typeCheck=warn"]);
  assert.equal(code, 0, stderr);
  assert.match(stderr, /SLUICE_FUNCTION_TYPE_ERRORS: \S+greet\.ts: 1 type error:\n  \S+greet\.ts:7:\d+ error TS2551/);
  assert.match(stdout, /config and 1 function file\(s\) OK, type-checked in [\d.]+ m?s \(1 file\(s\) with type errors, reported above; typeCheck is "warn"\)/);
});
