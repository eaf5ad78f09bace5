// `sluice dev` picks up added, edited, broken and removed function files
// without a restart; calls already running finish on the version they
// started on, and other functions' streams are untouched.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { GreetService } from "../../proto/gen/greet/v1/greet_pb.js";
import { TickerService } from "../../proto/gen/ticker/v1/ticker_pb.js";
import { ProbeService } from "../gen/probe/v1/probe_pb.js";
import { client } from "../support/clients.js";
import { answerEventually } from "../support/eventually.js";
import { startGateway } from "../support/gateway.js";
import { TempFunctions } from "../support/temp-functions.js";

const fns = new TempFunctions("hot-reload");
const probeSource = "test/fixtures/functions/probe.ts";
const withVersion = (v: string) => (s: string) => s.replace('const version = "v1";', `const version = "${v}";`);
fns.copy(probeSource, "probe.ts");
fns.copy("functions/ticker.ts", "ticker.ts");

const gw = await startGateway({ command: "dev", functionsDir: fns.dir, env: { SLUICE_LOG_FORMAT: "json" } });
const transport = createGrpcTransport({ baseUrl: gw.url });
const probe = client(ProbeService, transport);
after(async () => {
  assert.equal(await gw.stop(), 0);
  fns.cleanup();
});

/** Calls until the answer satisfies `ok`; a reload is asynchronous. */
function eventually<T>(call: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  return answerEventually(call, ok, what, { output: () => gw.output(), tries: 100 });
}

/** Reads a server stream in the background, collecting what arrives. */
function collect<T>(stream: AsyncIterable<T>) {
  const items: T[] = [];
  let error: unknown;
  const done = (async () => {
    try {
      for await (const item of stream) items.push(item);
    } catch (e) {
      error = e;
    }
  })();
  return { items, done, error: () => error };
}

test("add, edit, break, fix and remove function files while streams run", async (t) => {
  assert.equal((await probe.unary({ text: "a" })).version, "v1");

  // Long-running streams on the first versions of both functions.
  const cancel = new AbortController();
  t.after(() => cancel.abort());
  const probeStream = collect(probe.serverStream({ count: 0, sleepMs: 20 }, { signal: cancel.signal }));
  const tickStream = collect(client(TickerService, transport).subscribe({ symbols: ["ACME"], intervalMs: 20 }, { signal: cancel.signal }));
  await eventually(async () => probeStream.items.length + tickStream.items.length, (n) => n >= 4, "streams started");

  // Edit: new calls get v2 while the running stream stays on v1.
  fns.copy(probeSource, "probe.ts", withVersion("v2"));
  await eventually(() => probe.unary({}), (r) => r.version === "v2", "edit took effect");
  await gw.waitForOutput(/"msg":"function reloaded"/);

  // Break: the error is reported, naming the file, and v2 keeps serving.
  fns.copy(probeSource, "probe.ts", (s) => withVersion("v3")(s).replace("export default defineFunction({", "export default defineFunction({{"));
  // dev type-checks before it loads: the syntax error is reported with file:line:column, and nothing is imported.
  await gw.waitForOutput(/SLUICE_FUNCTION_TYPE_ERRORS: \S*probe\.ts: \d+ type errors?:\\n  \S*probe\.ts:\d+:\d+ error TS\d+: /);
  await gw.waitForOutput("(the previous version keeps serving)");
  assert.equal((await probe.unary({})).version, "v2");

  // Add: a new file is served without a restart.
  fns.copy("functions/greet.ts", "greet.ts");
  const hello = await eventually(() => client(GreetService, transport).greet({ name: "Lin" }), (r) => r.greeting === "Hello, Lin!", "greet added");
  assert.equal(hello.locale, "en");

  // Fix: the repaired file takes over.
  fns.copy(probeSource, "probe.ts", withVersion("v3"));
  await eventually(() => probe.unary({}), (r) => r.version === "v3", "fix took effect");

  // Remove: the method is gone.
  fns.remove("greet.ts");
  const gone = await eventually(
    () => client(GreetService, transport).greet({ name: "Lin" }).then(() => undefined, (e) => ConnectError.from(e)),
    (e) => e?.code === Code.Unimplemented,
    "greet removed",
  );
  assert.match(gone!.rawMessage, /SLUICE_RPC_UNIMPLEMENTED/);

  // The streams that started before all this are still running, unbroken,
  // and the probe stream answered from v1 throughout.
  const before = [probeStream.items.length, tickStream.items.length];
  await eventually(async () => [probeStream.items.length, tickStream.items.length], ([p, t]) => p! > before[0]! && t! > before[1]!, "streams kept flowing");
  cancel.abort();
  await Promise.all([probeStream.done, tickStream.done]);
  assert.deepEqual(new Set(probeStream.items.map((r) => r.version)), new Set(["v1"]));
  const seqs = tickStream.items.map((t) => Number(t.sequence));
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1), "the ticker stream never restarted");
  for (const s of [probeStream, tickStream]) assert.equal(ConnectError.from(s.error() ?? new Error("none")).code, Code.Canceled);
});
