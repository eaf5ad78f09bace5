// The config's `limits` and the flow-limit function options are checked at
// start, with errors that name the key (and the nearest name for a typo).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { loadConfig } from "../../src/config/load-config.js";
import { defineFunction } from "../../src/functions/define-function.js";
import { validateDefinition } from "../../src/functions/validate-definition.js";
import { unmatchedLimitNames, validateLimits } from "../../src/limits/limits-config.js";
import { FlowService } from "../gen/flow/v1/flow_pb.js";

const messages = (r: ReturnType<typeof validateLimits>) => ("errors" in r ? r.errors.map((e) => e.message) : []);

describe("config limits", () => {
  test("a valid set of limits is taken as it is", () => {
    const limits = { "*": { maxConcurrent: 100 }, "a.v1.S": { rate: { perSecond: 5, key: { header: "x-api-key" } } }, "a.v1.S/M": { messagesPerSecond: { in: 10 }, slowConsumer: "drop-oldest" } };
    assert.deepEqual(validateLimits(limits, "sluice.config.json"), { limits });
  });

  test("each problem names the route, the key, the value and what is allowed", () => {
    const m = messages(validateLimits({
      "a.v1.S": { maxConcurrent: 0, slowConsumer: "wait", rate: { perSecond: -1 }, messagesPerSecond: { sideways: 3 } },
      "a.v1.S/M": { queue: 3 },
      "not a route": {},
    }, "sluice.config.json"));
    assert.ok(m.includes('SLUICE_CONFIG_INVALID: config limits["a.v1.S"].maxConcurrent = 0 (from sluice.config.json) is not allowed: expected an integer from 1 to 2147483647'), m.join("\n"));
    assert.ok(m.some((x) => x.startsWith('SLUICE_CONFIG_INVALID: config limits["a.v1.S"].slowConsumer = "wait" (from sluice.config.json) is not allowed: expected one of block, drop-oldest, cancel')));
    assert.ok(m.some((x) => x.startsWith('SLUICE_CONFIG_INVALID: config limits["a.v1.S"].rate.perSecond = -1')));
    assert.ok(m.some((x) => x.startsWith('SLUICE_CONFIG_INVALID: config limits["a.v1.S"].messagesPerSecond = {"sideways":3}')));
    assert.ok(m.some((x) => x.includes('limits["a.v1.S/M"].queue = 3') && x.includes("unless maxConcurrent is set")));
    assert.ok(m.some((x) => x.includes('limits["not a route"]') && x.includes("a route name")));
  });

  test("a misspelled limit gets the nearest name", () => {
    const m = messages(validateLimits({ "*": { maxConcurency: 5, rate: { perSecnd: 1 } } }, "sluice.config.ts"));
    assert.ok(m.includes('SLUICE_CONFIG_UNKNOWN_KEY: config key limits["*"].maxConcurency (from sluice.config.ts) is not a Sluice option; did you mean "limits["*"].maxConcurrent"?'), m.join("\n"));
    assert.ok(m.some((x) => x.includes('limits["*"].rate.perSecnd') && x.includes('did you mean "limits["*"].rate.perSecond"')), m.join("\n"));
  });

  test("names that match no route are found, with the nearest route", () => {
    const routes = ["greet.v1.GreetService/Greet", "ticker.v1.TickerService/Subscribe"];
    assert.deepEqual(unmatchedLimitNames({ "*": {}, "greet.v1.GreetService": {}, "greet.v1.GreetService/Gret": {}, "nothing.Here": {} }, routes), [
      { name: "greet.v1.GreetService/Gret", near: "greet.v1.GreetService/Greet" },
      { name: "nothing.Here", near: undefined },
    ]);
  });

  const dir = mkdtempSync(path.join(os.tmpdir(), "sluice-limits-config-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("loadConfig reads limits from the config file, and the gateway-wide protections from options", async () => {
    writeFileSync(path.join(dir, "sluice.config.json"), JSON.stringify({ limits: { "a.v1.S": { maxConcurrent: 3 } }, http2: { maxConcurrentStreams: 50 }, overload: { maxInFlight: 7 } }));
    const r = await loadConfig({ cwd: dir, env: { SLUICE_CONNECTIONS_MAX_PER_ADDRESS: "9" }, flags: {} });
    assert.ok("config" in r, JSON.stringify(r));
    assert.deepEqual(r.config.limits, { "a.v1.S": { maxConcurrent: 3 } });
    assert.equal(r.config.http2.maxConcurrentStreams, 50);
    assert.equal(r.config.overload.maxInFlight, 7);
    assert.equal(r.config.connections.maxPerAddress, 9);
    assert.equal(r.config.http2.initialWindowSize, 65_535);
    assert.equal(r.config.firstMessageTimeoutMs, 30_000);
  });

  test("loadConfig reports bad limits with the rest of the config's problems", async () => {
    writeFileSync(path.join(dir, "sluice.config.json"), JSON.stringify({ limits: { "a.v1.S": { maxConcurrent: "many" } }, prot: 1 }));
    const r = await loadConfig({ cwd: dir, env: {}, flags: {} });
    assert.ok("errors" in r);
    const m = r.errors.map((e) => e.message);
    assert.ok(m.some((x) => x.includes('config limits["a.v1.S"].maxConcurrent = "many"')));
    assert.ok(m.some((x) => x.includes('config key prot')));
  });
});

describe("function options", () => {
  const check = (options: object) => validateDefinition("functions/flow.ts", { default: defineFunction({ service: FlowService, implementation: {}, options: options as never }) });
  const error = (options: object) => {
    const r = check(options);
    return r.ok ? "" : r.error.message;
  };

  test("the flow limits are function options, for the file and per method", () => {
    const r = check({ maxConcurrent: 4, rate: { perSecond: 2 }, methods: { hold: { queue: 0 }, Feed: { messagesPerSecond: { out: 10 } } } });
    assert.ok(r.ok);
  });

  test("a misspelled option, limit or method gets the nearest name", () => {
    assert.match(error({ maxConcurency: 5 }), /option options\.maxConcurency = 5 is not allowed: expected a known option: "maxConcurency" is not one; did you mean "maxConcurrent"\?/);
    assert.match(error({ rate: { perSecnd: 5 } }), /option options\.rate\.perSecnd = 5 is not allowed: expected a known rate option: "perSecnd" is not one; did you mean "perSecond"\?/);
    assert.match(error({ methods: { hodl: { maxConcurrent: 1 } } }), /option options\.methods\.hodl = .* expected a method of flow\.v1\.FlowService: "hodl" is not one; did you mean "hold"\?/);
  });

  test("values out of range name the key", () => {
    assert.match(error({ slowConsumer: "never" }), /option options\.slowConsumer = "never" is not allowed: expected one of block, drop-oldest, cancel/);
    assert.match(error({ methods: { feed: { maxStreamMessages: { out: 0 } } } }), /option options\.methods\.feed\.maxStreamMessages = \{"out":0\}/);
    assert.match(error({ queue: 5 }), /options\.queue = 5 .* unless options\.maxConcurrent is set/);
  });
});
