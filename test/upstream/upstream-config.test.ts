import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { Code } from "@connectrpc/connect";
import { upstreamOptions, validateUpstreams } from "../../src/upstream/upstream-config.js";
import { root } from "../support/gateway.js";

const check = (raw: unknown) => validateUpstreams(raw, "sluice.config.json", root);
const messages = (raw: unknown) => {
  const r = check(raw);
  assert.ok("errors" in r, "expected errors");
  return r.errors.map((e) => e.message);
};

test("one URL, with every default filled in, finite", () => {
  const r = check({ users: { url: "http://127.0.0.1:9000" } });
  assert.ok("upstreams" in r);
  const u = r.upstreams.users!;
  assert.deepEqual(u.endpoints, ["http://127.0.0.1:9000"]);
  assert.equal(u.protocol, "grpc");
  assert.equal(u.discovery, "static");
  assert.equal(u.pingIntervalMs, 30_000);
  assert.equal(u.pingTimeoutMs, 10_000);
  assert.equal(u.connections, 1);
  assert.deepEqual(u.retry.retryableCodes, [Code.Unavailable]);
  assert.equal(u.tls, undefined);
  for (const o of upstreamOptions) {
    if (o.default === undefined || Array.isArray(o.default) || typeof o.default === "string") continue;
    assert.ok(Number.isFinite(o.default), `${o.key} has a finite default`);
  }
});

test("a list of endpoints, https with TLS, retry codes by name", () => {
  const r = check({
    billing: {
      endpoints: ["https://a.internal:443", "https://b.internal:8443", "https://a.internal"],
      protocol: "connect",
      tls: { ca: "package.json", cert: "package.json", key: "package.json", serverName: "billing.internal" },
      retry: { maxAttempts: 3, retryableCodes: ["UNAVAILABLE", "resource_exhausted", "cancelled"], backoffMultiplier: 1.5 },
      forwardHeaders: ["Authorization"],
    },
  });
  assert.ok("upstreams" in r);
  const u = r.upstreams.billing!;
  assert.deepEqual(u.endpoints, ["https://a.internal", "https://b.internal:8443"]);
  assert.equal(u.tls?.serverName, "billing.internal");
  assert.equal(u.tls?.ca, `${root}/package.json`);
  assert.deepEqual(u.retry.retryableCodes, [Code.Unavailable, Code.ResourceExhausted, Code.Canceled]);
  assert.equal(u.retry.backoffMultiplier, 1.5);
  assert.deepEqual(u.forwardHeaders, ["authorization"]);
});

test("every error names the upstream and the key, and all are reported at once", () => {
  const errs = messages({
    users: { url: "ftp://x", pingIntervalMs: 0, retry: { retryableCodes: ["sometimes"] }, prot: "grpc" },
    "bad name": { url: "http://x:1" },
  });
  assert.equal(errs.length, 5);
  assert.match(errs[0]!, /^SLUICE_CONFIG_INVALID: config upstreams\.users\.url = "ftp:\/\/x" \(from sluice\.config\.json\) is not allowed: expected an http:\/\/ or https:\/\/ URL/);
  assert.match(errs[1]!, /config upstreams\.users\.pingIntervalMs = 0 .* expected an integer from 10 to 86400000/);
  assert.match(errs[2]!, /config upstreams\.users\.retry\.retryableCodes = \["sometimes"\] .* expected a list of status codes: canceled, unknown/);
  assert.match(errs[3]!, /^SLUICE_CONFIG_UNKNOWN_KEY: config key upstreams\.users\.prot .* did you mean "upstreams\.users\.protocol"\?/);
  assert.match(errs[4]!, /config upstreams\.bad name = "bad name" .* expected a name of letters/);
});

test("options that only make sense together", () => {
  assert.match(messages({ a: {} })[0]!, /upstreams\.a\.url = undefined .* expected the upstream's address/);
  assert.match(messages({ a: { url: "http://x:1", endpoints: ["http://y:1"] } })[0]!, /upstreams\.a\.endpoints .* either url or endpoints, not both/);
  assert.match(messages({ a: { url: "http://x:1", tls: { ca: "package.json" } } })[0]!, /upstreams\.a\.tls .* no tls options for an upstream without https:\/\/ endpoints/);
  assert.match(messages({ a: { url: "https://x:1", tls: { cert: "package.json" } } })[0]!, /upstreams\.a\.tls\.key = undefined .* tls\.cert and tls\.key go together/);
  assert.match(messages({ a: { url: "https://x:1", tls: { ca: "nope.pem" } } })[0]!, /^SLUICE_TLS_FILE_UNREADABLE: config upstreams\.a\.tls\.ca: cannot read nope\.pem/);
  assert.match(messages({ a: { url: "http://x:1", connections: 4, maxConnections: 2 } })[0]!, /upstreams\.a\.maxConnections = 2 .* at least connections \(4\)/);
  assert.match(messages({ a: { url: "http://10.0.0.1:1", discovery: "dns" } })[0]!, /upstreams\.a\.discovery = "dns" .* needs a host name/);
  assert.match(messages({ a: { endpoints: ["http://x:1"], discovery: "dns" } })[0]!, /upstreams\.a\.discovery .* static when endpoints is a list/);
  assert.match(messages({ a: { url: "http://x:1/api" } })[0]!, /no path, query or credentials/);
  assert.match(messages({ a: { url: "http://x:1", retry: { initialBackoffMs: 500, maxBackoffMs: 100 } } })[0]!, /retry\.maxBackoffMs = 100 .* at least retry\.initialBackoffMs \(500\)/);
  assert.match(messages([1])[0]!, /config upstreams = \[1\] .* an object mapping upstream names/);
});

test("no upstreams section: no upstreams", () => {
  assert.deepEqual(check(undefined), { upstreams: {} });
});

test("the README documents every upstream option", () => {
  const readme = readFileSync(`${root}/README.md`, "utf8");
  const missing = upstreamOptions.filter((o) => !readme.includes(`| \`${o.key}\` |`)).map((o) => o.key);
  assert.deepEqual(missing, []);
});
