// The flow limits on /metrics: a route's slots, its queue and every refusal
// by event and route, driven by real calls past maxConcurrent, its queue
// and a rate, then scraped from the admin listener; and the gateway-wide
// series (events without a route, overload, buffered bytes, connections).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { adminUrl, scrape, value, type Sample } from "../support/admin.js";
import { failure } from "../support/call-outcome.js";
import { startFlowGateway, until, type FlowGateway } from "../support/flow-gateway.js";

const hold = "flow.v1.FlowService/Hold";
const feed = "flow.v1.FlowService/Feed";

describe("metrics of the flow limits", () => {
  let gw: FlowGateway;
  let base: string;

  before(async () => {
    gw = await startFlowGateway(
      "limit-metrics",
      { limits: { [hold]: { maxConcurrent: 1, queue: 1, queueTimeoutMs: 30_000 }, [feed]: { rate: { perSecond: 0.1, burst: 1 } } } },
      { args: ["--set", "admin.port=0"] },
    );
    base = adminUrl(gw);
  });
  after(() => gw?.stop());

  test("slots in use, calls queued and refusals are counted per route and event", async () => {
    const flow = gw.clients.grpc;
    const first = flow.hold({ key: "m" });
    await until("the first call holding its slot", async () => (await gw.clients["grpc-web"].count({})).holdsStarted === 1n);
    // The rate of Feed allows one call per 10 s with a burst of 1: the
    // first takes it, so the next one is refused.
    for await (const _ of flow.feed({ count: 1 }));
    assert.equal((await failure((async () => {
      for await (const _ of flow.feed({ count: 1 }));
    })())).code, Code.ResourceExhausted);
    const second = flow.hold({ key: "m" });
    let samples: Sample[] = [];
    await until("the second call in the queue", async () => {
      samples = await scrape(base);
      return value(samples, "sluice_limit_route_queued", { route: hold }) === 1;
    });
    const third = await failure(flow.hold({ key: "m" }));
    assert.equal(third.code, Code.ResourceExhausted);
    samples = await scrape(base);

    assert.equal(value(samples, "sluice_limit_route_in_flight", { route: hold }), 1);
    assert.equal(value(samples, "sluice_limit_route_queued", { route: hold }), 1);
    assert.equal(value(samples, "sluice_limit_route_max_concurrent", { route: hold }), 1);
    assert.equal(value(samples, "sluice_limit_events_total", { event: "queued", route: hold }), 1);
    assert.equal(value(samples, "sluice_limit_events_total", { event: "queueFull", route: hold }), 1);
    assert.equal(value(samples, "sluice_limit_events_total", { event: "rate", route: feed }), 1);
    // The refusals are calls answered with RESOURCE_EXHAUSTED in the call metrics too.
    assert.equal(value(samples, "grpc_server_handled_total", { grpc_service: "flow.v1.FlowService", grpc_method: "Hold", protocol: "grpc", grpc_code: "ResourceExhausted" }), 1);
    assert.equal(value(samples, "sluice_rpc_rejected_total", { grpc_service: "flow.v1.FlowService", grpc_method: "Hold", protocol: "grpc" }), 1);

    await gw.clients["grpc-web"].release({ key: "m" });
    await first;
    await until("the queued call holding its slot", async () => (await gw.clients["grpc-web"].count({}).catch(() => ({ holdsStarted: 0n }))).holdsStarted === 2n);
    await gw.clients["grpc-web"].release({ key: "m" });
    await second;
    samples = await scrape(base);
    assert.equal(value(samples, "sluice_limit_route_in_flight", { route: hold }), 0);
    assert.equal(value(samples, "sluice_limit_route_queued", { route: hold }), 0);
  });

  test("a queued call its client cancels is counted as a call that ended CANCELLED", async () => {
    const flow = gw.clients.grpc;
    const labels = { grpc_service: "flow.v1.FlowService", grpc_method: "Hold", protocol: "grpc", grpc_code: "Canceled" };
    const before = value(await scrape(base), "grpc_server_handled_total", labels) || 0;
    const holding = flow.hold({ key: "c" });
    await until("a call holding the slot", async () => value(await scrape(base), "sluice_limit_route_in_flight", { route: hold }) === 1);
    const ac = new AbortController();
    const queued = flow.hold({ key: "c" }, { signal: ac.signal }).catch(() => undefined);
    await until("a call in the queue", async () => value(await scrape(base), "sluice_limit_route_queued", { route: hold }) === 1);
    ac.abort();
    await queued;
    await until("the cancelled call counted", async () => value(await scrape(base), "grpc_server_handled_total", labels) === before + 1);
    await gw.clients["grpc-web"].release({ key: "c" });
    await holding.catch(() => undefined);
  });

  test("gateway-wide: every event is listed under _gateway from the start; overload, buffered bytes and open connections", async () => {
    const samples = await scrape(base);
    for (const event of ["connectionRefusedTotal", "connectionRefusedPerAddress", "http1HeadersTimeout", "http2ResetFlood", "shedInFlight", "slowConsumerCancelled"]) {
      assert.ok(samples.some((s) => s.name === "sluice_limit_events_total" && s.labels.event === event && s.labels.route === "_gateway"), `${event} is listed`);
    }
    assert.equal(value(samples, "sluice_overloaded"), 0);
    assert.equal(value(samples, "sluice_buffered_response_bytes"), 0);
    // At least the gRPC client's HTTP/2 connection.
    assert.ok(value(samples, "sluice_connections_open") >= 1, `connections open: ${value(samples, "sluice_connections_open")}`);
  });
});
