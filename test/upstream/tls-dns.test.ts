// Upstreams over TLS (CA, client certificate, server name) and upstreams
// found by DNS (every address an endpoint, re-resolved).
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { ProbeService } from "../gen/probe/v1/probe_pb.js";
import { createSelfSignedCert } from "../support/self-signed-cert.js";
import { eventually, startUpstream, upstreamRegistry, type UpstreamProcess } from "../support/upstream-process.js";
import type { UpstreamConfigInput } from "../../src/upstream/upstream-config.js";
import type { UpstreamRegistry, UpstreamRegistryOptions } from "../../src/upstream/upstream-registry.js";

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});
async function upstream(opts: Parameters<typeof startUpstream>[0] = {}): Promise<UpstreamProcess> {
  const u = await startUpstream(opts);
  cleanups.push(() => u.kill());
  return u;
}
function registry(upstreams: Record<string, UpstreamConfigInput>, opts?: UpstreamRegistryOptions): UpstreamRegistry {
  const r = upstreamRegistry(upstreams, opts);
  cleanups.push(() => r.close(500));
  return r;
}
async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  assert.ok(e instanceof ConnectError, `expected a ConnectError, got ${String(e)}`);
  return e;
}

describe("TLS", () => {
  const server = createSelfSignedCert("localhost");
  const client = createSelfSignedCert("sluice-client");
  const base = { connectTimeoutMs: 2_000, retry: { maxAttempts: 1 }, outlier: { consecutiveFailures: 100 } };

  test("h2 over TLS with the upstream's CA, a client certificate (mutual TLS) and a server name", async () => {
    const up = await upstream({ cert: server.certPath, key: server.keyPath, clientCa: client.certPath });
    const reg = registry({
      secure: { url: up.url, ...base, tls: { ca: server.certPath, cert: client.certPath, key: client.keyPath, serverName: "localhost" } },
      wrongName: { url: up.url, ...base, tls: { ca: server.certPath, cert: client.certPath, key: client.keyPath, serverName: "billing.example" } },
      noClientCert: { url: up.url, ...base, tls: { ca: server.certPath } },
    });
    assert.match(up.url, /^https:\/\/127\.0\.0\.1:/);
    assert.equal((await reg.client(ProbeService, "secure").unary({ text: "tls" })).text, "tls");

    const wrong = await failure(reg.client(ProbeService, "wrongName").unary({ text: "x" }));
    assert.equal(wrong.code, Code.Unavailable);
    assert.match(wrong.rawMessage, new RegExp(`^SLUICE_UPSTREAM_CONNECT_FAILED: upstream wrongName: cannot connect to ${up.url.replace(/\./g, "\\.")}: .*billing\\.example`));

    const anonymous = await failure(reg.client(ProbeService, "noClientCert").unary({ text: "x" }));
    assert.equal(anonymous.code, Code.Unavailable);
    assert.match(anonymous.rawMessage, /^SLUICE_UPSTREAM_(CONNECT_FAILED|CONNECTION_LOST): upstream noClientCert: /);
  });
});

describe("discovery dns", () => {
  test("every address of the name is an endpoint; an address that leaves DNS is drained", async () => {
    const a = await upstream({ host: "127.0.0.1" });
    const b = await upstream({ host: "127.0.0.2", port: a.port });
    let answer = ["127.0.0.1", "127.0.0.2"];
    const lookups: string[] = [];
    const reg = registry(
      { names: { url: `http://backend.test:${a.port}`, discovery: "dns", resolveIntervalMs: 100 } },
      { lookup: async (host) => (lookups.push(host), answer) },
    );
    const client = reg.client(ProbeService, "names");
    await eventually(async () => {
      await client.unary({ text: "spread" });
      return (await a.stats()).totalCalls > 0 && (await b.stats()).totalCalls > 0;
    }, 10_000, "calls on both addresses");
    assert.deepEqual(reg.get("names").state().endpoints.map((e) => e.address), [`http://127.0.0.1:${a.port}`, `http://127.0.0.2:${a.port}`]);
    assert.equal(lookups[0], "backend.test");

    answer = ["127.0.0.2"];
    await eventually(() => reg.get("names").state().endpoints.length === 1, 10_000, "the new DNS answer");
    await eventually(async () => (await a.stats()).connections === 0, 10_000, "the pool of the address that left to drain");
    const before = (await b.stats()).totalCalls;
    for (let i = 0; i < 5; i++) await client.unary({ text: `after${i}` });
    assert.equal((await b.stats()).totalCalls, before + 5);
  });

  test("a name that does not resolve: UNAVAILABLE with the resolver's reason", async () => {
    const reg = registry(
      { nowhere: { url: "http://nowhere.test:9", discovery: "dns" } },
      { lookup: async () => { throw new Error("getaddrinfo ENOTFOUND nowhere.test"); } },
    );
    const e = await failure(reg.client(ProbeService, "nowhere").unary({ text: "x" }));
    assert.equal(e.code, Code.Unavailable);
    assert.equal(e.rawMessage, "SLUICE_UPSTREAM_NO_ENDPOINTS: upstream nowhere has no endpoint to call: cannot resolve nowhere.test: getaddrinfo ENOTFOUND nowhere.test");
    assert.match(reg.get("nowhere").state().resolveError ?? "", /ENOTFOUND/);
  });
});
