// /metrics on the admin listener, scraped after real calls: every stream
// kind in every protocol (gRPC from @grpc/grpc-js, gRPC-Web and Connect
// from connect-node), with exact counter values and histogram counts; the
// deadline, cancellation, open streams and unknown paths; OpenMetrics by
// Accept; runtime metrics; and a proxy route with its upstream's metrics.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ProbeRequestSchema, ProbeService } from "../gen/probe/v1/probe_pb.js";
import { adminUrl, parseMetrics, scrape, until, value, type Sample } from "../support/admin.js";
import { client, from } from "../support/clients.js";
import { root, startGateway, type RunningGateway } from "../support/gateway.js";
import { grpcJsClient } from "../support/grpc-js-client.js";
import { envelope } from "../support/raw-http.js";
import { startUpstream, type UpstreamProcess } from "../support/upstream-process.js";

const service = "probe.v1.ProbeService";

/** Bytes of a request message as the gateway counts them (protobuf, uncompressed, no framing). */
function size(req: MessageInitShape<typeof ProbeRequestSchema>): number {
  return toBinary(ProbeRequestSchema, create(ProbeRequestSchema, req)).byteLength;
}

function labels(method: string, protocol: string, type: string): Record<string, string> {
  return { grpc_service: service, grpc_method: method, grpc_type: type, protocol };
}

describe("metrics of calls, per route, protocol and code", () => {
  let gw: RunningGateway;
  let base: string;
  let samples: Sample[];
  const sent = { grpc: 0, "grpc-web": 0, connect: 0 } as Record<string, number>;

  before(async () => {
    gw = await startGateway({ args: ["--set", "admin.port=0"] });
    base = adminUrl(gw);
    const address = `127.0.0.1:${gw.port}`;

    // gRPC, from @grpc/grpc-js.
    const probe = grpcJsClient("probe/v1/probe.proto", service, address);
    const unary = (req: Record<string, unknown>) => new Promise<unknown>((resolve, reject) => probe.Unary(req, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r))));
    for (const text of ["a", "bb", "ccc"]) {
      await unary({ text });
      sent.grpc += size({ text });
    }
    await assert.rejects(unary({ text: "no", fail: { code: Code.InvalidArgument, message: "bad" } }));
    sent.grpc += size({ text: "no", fail: { code: Code.InvalidArgument, message: "bad" } });
    await new Promise<void>((resolve, reject) => {
      const call = probe.ServerStream({ text: "s", count: 4 });
      call.on("data", () => {});
      call.on("error", reject);
      call.on("end", resolve);
    });
    sent.grpc += size({ text: "s", count: 4 });
    await new Promise<void>((resolve, reject) => {
      const call = probe.ClientStream((e: Error | null) => (e ? reject(e) : resolve()));
      for (const text of ["x", "yy", "zzz"]) {
        call.write({ text });
        sent.grpc += size({ text });
      }
      call.end();
    });
    await new Promise<void>((resolve, reject) => {
      const call = probe.Bidi();
      call.on("data", () => {});
      call.on("error", reject);
      call.on("end", resolve);
      for (const text of ["p", "q"]) {
        call.write({ text });
        sent.grpc += size({ text });
      }
      call.end();
    });
    probe.close();

    // gRPC-Web and Connect, from connect-node (HTTP/2, so that bidi works too).
    for (const [protocol, transport] of [
      ["grpc-web", createGrpcWebTransport({ baseUrl: gw.url, httpVersion: "2" })],
      ["connect", createConnectTransport({ baseUrl: gw.url, httpVersion: "2" })],
    ] as const) {
      const c = client(ProbeService, transport);
      for (const text of ["one", "two"]) {
        await c.unary({ text });
        sent[protocol]! += size({ text });
      }
      for await (const _ of c.serverStream({ text: "t", count: 3 })) { /* read all */ }
      sent[protocol]! += size({ text: "t", count: 3 });
      await c.clientStream(from([{ text: "m" }, { text: "nn" }]));
      sent[protocol]! += size({ text: "m" }) + size({ text: "nn" });
      for await (const _ of c.bidi(from([{ text: "b1" }]))) { /* one echo */ }
      sent[protocol]! += size({ text: "b1" });
    }
    samples = await scrape(base);
  });

  after(async () => {
    await gw?.stop();
  });

  test("gRPC: started, handled by code, messages, bytes and the handling histogram of each stream kind", () => {
    const unary = labels("Unary", "grpc", "unary");
    assert.equal(value(samples, "grpc_server_started_total", unary), 4);
    assert.equal(value(samples, "grpc_server_handled_total", { ...unary, grpc_code: "OK" }), 3);
    assert.equal(value(samples, "grpc_server_handled_total", { ...unary, grpc_code: "InvalidArgument" }), 1);
    assert.equal(value(samples, "grpc_server_msg_received_total", unary), 4);
    assert.equal(value(samples, "grpc_server_msg_sent_total", unary), 3);
    assert.equal(value(samples, "grpc_server_handling_seconds_count", unary), 4);
    assert.equal(value(samples, "grpc_server_handling_seconds_bucket", { ...unary, le: "+Inf" }), 4);

    const serverStream = labels("ServerStream", "grpc", "server_stream");
    assert.equal(value(samples, "grpc_server_handled_total", { ...serverStream, grpc_code: "OK" }), 1);
    assert.equal(value(samples, "grpc_server_msg_received_total", serverStream), 1);
    assert.equal(value(samples, "grpc_server_msg_sent_total", serverStream), 4);
    assert.equal(value(samples, "sluice_rpc_stream_duration_seconds_count", serverStream), 1);

    const clientStream = labels("ClientStream", "grpc", "client_stream");
    assert.equal(value(samples, "grpc_server_handled_total", { ...clientStream, grpc_code: "OK" }), 1);
    assert.equal(value(samples, "grpc_server_msg_received_total", clientStream), 3);
    assert.equal(value(samples, "grpc_server_msg_sent_total", clientStream), 1);

    const bidi = labels("Bidi", "grpc", "bidi_stream");
    assert.equal(value(samples, "grpc_server_handled_total", { ...bidi, grpc_code: "OK" }), 1);
    assert.equal(value(samples, "grpc_server_msg_received_total", bidi), 2);
    assert.equal(value(samples, "grpc_server_msg_sent_total", bidi), 2);
    assert.equal(value(samples, "sluice_rpc_open_calls", bidi), 0);

    // Request bytes, protobuf without framing, summed over every gRPC route.
    const bytesIn = samples.filter((s) => s.name === "sluice_rpc_received_bytes_total" && s.labels.protocol === "grpc" && s.labels.grpc_service === service);
    assert.equal(bytesIn.reduce((n, s) => n + s.value, 0), sent.grpc);
    assert.ok(value(samples, "sluice_rpc_sent_bytes_total", unary) > 0);
  });

  for (const protocol of ["grpc-web", "connect"]) {
    test(`${protocol}: every stream kind, counted under its own protocol label`, () => {
      const expect: [string, string, number, number][] = [
        ["Unary", "unary", 2, 2],
        ["ServerStream", "server_stream", 1, 3],
        ["ClientStream", "client_stream", 2, 1],
        ["Bidi", "bidi_stream", 1, 1],
      ];
      for (const [method, type, received, sentMessages] of expect) {
        const l = labels(method, protocol, type);
        const calls = method === "Unary" ? 2 : 1;
        assert.equal(value(samples, "grpc_server_started_total", l), calls, `${method} started`);
        assert.equal(value(samples, "grpc_server_handled_total", { ...l, grpc_code: "OK" }), calls, `${method} handled`);
        assert.equal(value(samples, "grpc_server_msg_received_total", l), received, `${method} received`);
        assert.equal(value(samples, "grpc_server_msg_sent_total", l), sentMessages, `${method} sent`);
        assert.equal(value(samples, "grpc_server_handling_seconds_count", l), calls, `${method} histogram count`);
      }
      const bytesIn = samples.filter((s) => s.name === "sluice_rpc_received_bytes_total" && s.labels.protocol === protocol && s.labels.grpc_service === service);
      assert.equal(bytesIn.reduce((n, s) => n + s.value, 0), sent[protocol]);
    });
  }

  test("histogram buckets are cumulative, in gRPC's layout from 0.5 ms to 10 s", () => {
    const l = labels("Unary", "grpc", "unary");
    const buckets = samples.filter((s) => s.name === "grpc_server_handling_seconds_bucket" && Object.entries(l).every(([k, v]) => s.labels[k] === v));
    assert.deepEqual(buckets.map((b) => b.labels.le), ["0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value);
  });

  test("the routes served are listed with their kind and source", () => {
    assert.equal(value(samples, "sluice_route_info", { grpc_service: service, grpc_method: "Unary", kind: "function" }), 1);
    assert.equal(value(samples, "sluice_route_info", { grpc_service: "grpc.health.v1.Health", grpc_method: "Check", source: "(built-in)" }), 1);
  });

  test("runtime metrics: event-loop delay, heap, GC, handles", async () => {
    for (const name of ["nodejs_eventloop_lag_p99_seconds", "nodejs_heap_size_used_bytes", "nodejs_active_handles_total", "process_cpu_seconds_total"]) {
      assert.ok(samples.some((s) => s.name === name), `${name} is missing`);
    }
    assert.match(await (await fetch(`${base}/metrics`)).text(), /^# TYPE nodejs_gc_duration_seconds histogram$/m);
  });

  test("a deadline the gateway enforces counts as DEADLINE_EXCEEDED", async () => {
    // The client waits longer than the deadline it sends: the gateway, not the client, ends the call.
    const res = await fetch(`${gw.url}/${service}/Unary`, {
      method: "POST",
      headers: { "content-type": "application/json", "connect-protocol-version": "1", "connect-timeout-ms": "100" },
      body: JSON.stringify({ text: "slow", sleepMs: 5_000 }),
    });
    assert.equal(((await res.json()) as { code: string }).code, "deadline_exceeded");
    const l = labels("Unary", "connect", "unary");
    const s = await scrape(base);
    assert.equal(value(s, "sluice_rpc_deadline_exceeded_total", l), 1);
    assert.equal(value(s, "grpc_server_handled_total", { ...l, grpc_code: "DeadlineExceeded" }), 1);
  });

  test("an open stream is counted while it is open; a client that goes away is CANCELLED", async () => {
    const session = http2.connect(gw.url);
    session.on("error", () => {});
    const stream = session.request({ ":method": "POST", ":path": `/${service}/ServerStream`, "content-type": "application/grpc" });
    stream.on("error", () => {});
    stream.end(envelope(toBinary(ProbeRequestSchema, create(ProbeRequestSchema, { text: "forever", count: 0, sleepMs: 20 }))));
    await new Promise((r) => stream.once("data", r));
    const l = labels("ServerStream", "grpc", "server_stream");
    assert.equal(value(await scrape(base), "sluice_rpc_open_calls", l), 1);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    session.close();
    await until(async () => value(await scrape(base), "sluice_rpc_cancelled_total", l) === 1, "the cancel to be counted");
    const after = await scrape(base);
    assert.equal(value(after, "sluice_rpc_open_calls", l), 0);
    assert.equal(value(after, "grpc_server_handled_total", { ...l, grpc_code: "Canceled" }), 1);
  });

  test("paths no route serves share one label value (_OTHER), whatever the path", async () => {
    for (const p of ["/nope.v1.A/B", "/nope.v1.C/D", "/x.Y/Z"]) {
      const res = await fetch(`${gw.url}${p}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      assert.equal(res.status, 404);
    }
    const s = await scrape(base);
    assert.equal(value(s, "grpc_server_handled_total", { grpc_service: "_OTHER", grpc_method: "_OTHER", protocol: "connect", grpc_code: "Unimplemented" }), 3);
    assert.ok(!s.some((x) => x.labels.grpc_service?.startsWith("nope")));
  });

  test("unknown paths are rejected under grpc_type=\"unknown\", a value README lists; the raw path is never a label", async () => {
    const odd = "/zz.v9.Made_Up/Name_" + "x".repeat(40);
    const other = { grpc_service: "_OTHER", grpc_method: "_OTHER", grpc_type: "unknown" };
    const before = await scrape(base);
    const rejected = (samples: Sample[], protocol: string) => value(samples, "sluice_rpc_rejected_total", { ...other, protocol });
    // A method the served service does not have, and services not served, over gRPC and Connect.
    for (const p of [`/${service}/NoSuchMethod`, odd]) {
      const session = http2.connect(gw.url);
      await new Promise<void>((resolve, reject) => {
        const stream = session.request({ ":method": "POST", ":path": p, "content-type": "application/grpc", te: "trailers" });
        stream.on("response", (h) => assert.equal(h["grpc-status"], String(Code.Unimplemented)));
        stream.on("error", reject);
        stream.on("close", resolve);
        stream.resume();
        stream.end(envelope(new Uint8Array(0)));
      });
      session.close();
    }
    assert.equal((await fetch(`${gw.url}${odd}2`, { method: "POST", headers: { "content-type": "application/proto" }, body: new Uint8Array(0) })).status, 404);
    const s = await scrape(base);
    assert.equal(rejected(s, "grpc") - rejected(before, "grpc"), 2);
    assert.equal(rejected(s, "connect") - rejected(before, "connect"), 1);
    assert.ok(!s.some((x) => Object.values(x.labels).some((v) => v.includes("Made_Up") || v.includes("NoSuchMethod"))), "no label holds a raw path");
    // Every grpc_type the scrape has is one README's Labels paragraph lists.
    const readme = readFileSync(path.join(root, "README.md"), "utf8");
    const listed = /`grpc_type` \(([^)]*)\)/.exec(readme)?.[1] ?? "";
    const types = new Set(s.filter((x) => x.labels.grpc_type !== undefined).map((x) => x.labels.grpc_type!));
    assert.ok(types.has("unknown"));
    for (const t of types) assert.ok(listed.includes(`\`${t}\``), `README's grpc_type list (${listed}) names ${t}`);
  });

  test("OpenMetrics when the Accept header asks for it", async () => {
    const res = await fetch(`${base}/metrics`, { headers: { accept: "application/openmetrics-text; version=1.0.0" } });
    assert.match(res.headers.get("content-type") ?? "", /^application\/openmetrics-text; version=1\.0\.0/);
    const text = await res.text();
    assert.ok(text.endsWith("# EOF\n"));
    assert.match(text, /^# TYPE grpc_server_started counter$/m);
    assert.match(text, /^grpc_server_started_total\{grpc_service="probe\.v1\.ProbeService",grpc_method="Unary",grpc_type="unary",protocol="grpc"\} 4$/m);
    assert.doesNotMatch(text, /_total_total/);
    const plain = await (await fetch(`${base}/metrics`)).text();
    assert.match(plain, /^# TYPE grpc_server_started_total counter$/m);
    assert.equal(parseMetrics(text).length > 0, true);
  });
});

describe("metrics of a proxy route and its upstream", () => {
  let upstream: UpstreamProcess;
  let gw: RunningGateway;

  before(async () => {
    upstream = await startUpstream({ impl: "grpc-js" });
    const dir = mkdtempSync(path.join(os.tmpdir(), "sluice-metrics-"));
    const config = path.join(dir, "sluice.config.json");
    writeFileSync(config, JSON.stringify({
      protoGenDir: path.join(root, "test/gen"),
      upstreams: { backend: { url: upstream.url, retry: { maxAttempts: 1 } } },
      routes: { [service]: { upstream: "backend" } },
    }));
    gw = await startGateway({ functionsDir: path.join(root, "functions"), args: ["--config", config, "--set", "admin.port=0"] });
  });

  after(async () => {
    await gw?.stop();
    await upstream?.kill();
  });

  test("the route counts its calls, the upstream its calls, outcomes, latency and connections", async () => {
    const c = client(ProbeService, createGrpcWebTransport({ baseUrl: gw.url, httpVersion: "1.1" }));
    await c.unary({ text: "a" });
    await c.unary({ text: "b" });
    const err = await c.unary({ fail: { code: Code.NotFound, message: "none" } }).then(() => assert.fail("expected NOT_FOUND"), (x) => ConnectError.from(x));
    assert.equal(err.code, Code.NotFound);
    let n = 0;
    for await (const _ of c.serverStream({ count: 3 })) n++;
    assert.equal(n, 3);

    const s = await scrape(adminUrl(gw));
    const unary = labels("Unary", "grpc-web", "unary");
    assert.equal(value(s, "grpc_server_handled_total", { ...unary, grpc_code: "OK" }), 2);
    assert.equal(value(s, "grpc_server_handled_total", { ...unary, grpc_code: "NotFound" }), 1);
    assert.equal(value(s, "grpc_server_msg_sent_total", labels("ServerStream", "grpc-web", "server_stream")), 3);
    assert.equal(value(s, "sluice_route_info", { grpc_service: service, grpc_method: "Unary", kind: "proxy", source: "upstream backend (grpc)" }), 1);

    const backend = { upstream: "backend" };
    assert.equal(value(s, "sluice_upstream_calls_total", backend), 4);
    assert.equal(value(s, "sluice_upstream_handled_total", { ...backend, grpc_code: "OK" }), 3);
    assert.equal(value(s, "sluice_upstream_handled_total", { ...backend, grpc_code: "NotFound" }), 1);
    assert.equal(value(s, "sluice_upstream_call_seconds_count", backend), 4);
    assert.equal(value(s, "sluice_upstream_connections", { ...backend, endpoint: upstream.url }), 1);
    assert.equal(value(s, "sluice_upstream_endpoint_healthy", { ...backend, endpoint: upstream.url }), 1);
    assert.equal(value(s, "sluice_upstream_retries_total", backend), 0);
  });
});
