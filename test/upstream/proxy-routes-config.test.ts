// The routes section of the config: what a proxy route may say, and the
// errors that name the route and the key.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { proxyRouteOptions, validateProxyRoutes } from "../../src/upstream/proxy-routes-config.js";
import { validateUpstreams, type UpstreamConfig } from "../../src/upstream/upstream-config.js";
import { root } from "../support/gateway.js";

const checked = validateUpstreams({ users: { url: "http://127.0.0.1:9000" }, billing: { url: "http://127.0.0.1:9001", protocol: "connect" } }, "sluice.config.json", root);
const upstreams = ("upstreams" in checked ? checked.upstreams : {}) as Record<string, UpstreamConfig>;

function errors(raw: unknown): string[] {
  const r = validateProxyRoutes(raw, upstreams, "sluice.config.json");
  return "errors" in r ? r.errors.map((e) => e.message) : [];
}

test("services and methods route to declared upstreams, with their options", () => {
  const r = validateProxyRoutes({
    "users.v1.UserService": { upstream: "users" },
    "billing.v1.Billing/GetInvoice": { upstream: "billing", forwardHeaders: ["Authorization"], setHeaders: { "X-Caller": "edge" }, maxTimeoutMs: 2000, retry: { maxAttempts: 3 }, compression: { encodings: ["gzip"] } },
  }, upstreams, "sluice.config.json");
  assert.ok("routes" in r);
  assert.deepEqual(r.routes[0], { name: "users.v1.UserService", upstream: "users", setHeaders: {}, retry: {} });
  assert.deepEqual(r.routes[1], {
    name: "billing.v1.Billing/GetInvoice", upstream: "billing", forwardHeaders: ["authorization"], setHeaders: { "x-caller": "edge" },
    retry: { maxAttempts: 3 }, maxTimeoutMs: 2000, compression: { encodings: ["gzip"] },
  });
});

test("every problem is reported, naming the route and the key", () => {
  const errs = errors({
    "users.v1.UserService": { upstream: "user" },
    "not a name": { upstream: "users" },
    "a.v1.B/C": { upstream: "users", maxTimeoutMs: 0, setHeaders: { "x-a": 1 }, retry: { maxAtempts: 2 } },
    "a.v1.D": {},
  });
  assert.match(errs[0]!, /^SLUICE_CONFIG_INVALID: config routes\.users\.v1\.UserService\.upstream = "user" .* expected the name of an upstream declared under upstreams: users, billing; did you mean "users"\?/);
  assert.match(errs[1]!, /config routes\.not a name = "not a name" .* a fully qualified service name/);
  assert.ok(errs.some((e) => /routes\.a\.v1\.B\/C\.setHeaders .* an object of header names to string values/.test(e)));
  assert.ok(errs.some((e) => /routes\.a\.v1\.B\/C\.maxTimeoutMs = 0 .* an integer from 1/.test(e)));
  assert.ok(errs.some((e) => /SLUICE_CONFIG_UNKNOWN_KEY: config key routes\.a\.v1\.B\/C\.retry\.maxAtempts .* did you mean "routes\.a\.v1\.B\/C\.retry\.maxAttempts"\?/.test(e)));
  assert.ok(errs.some((e) => /routes\.a\.v1\.D\.upstream = undefined .*\(routes need one\)/.test(e)));
});

test("routes must be an object", () => {
  assert.match(errors(["users.v1.UserService"])[0]!, /config routes = \["users\.v1\.UserService"\] .* an object mapping/);
});

test("the README documents every route option", () => {
  const readme = readFileSync(`${root}/README.md`, "utf8");
  const missing = proxyRouteOptions.filter((o) => !o.key.startsWith("retry.") && !readme.includes(`| \`${o.key}\` |`)).map((o) => o.key);
  assert.deepEqual(missing, []);
  assert.ok(readme.includes("| `retry.*` |"));
});
