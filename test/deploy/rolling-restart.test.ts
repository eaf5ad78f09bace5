// A rolling update on one machine, as Kubernetes does it: two gateway
// processes (the built artifact) behind a TCP balancer; each in turn is
// replaced by a new process and then drained with SIGTERM, while a client
// keeps unary calls and a server stream going through the balancer. No call
// may fail with anything but UNAVAILABLE, which the client retries, and no
// stream message may be lost: each subscription's ticks arrive 1, 2, 3, ...
// until the draining server ends it with UNAVAILABLE, and the client
// subscribes again.
import assert from "node:assert/strict";
import path from "node:path";
import { rmSync, writeFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { GreetService } from "../../proto/gen/greet/v1/greet_pb.js";
import { TickerService } from "../../proto/gen/ticker/v1/ticker_pb.js";
import { buildArtifact, copyReadOnly, scratchFolder, startArtifact } from "../support/artifact.js";
import { client } from "../support/clients.js";
import type { RunningGateway } from "../support/gateway.js";
import { TcpBalancer } from "../support/tcp-balancer.js";

const work = scratchFolder("sluice-rolling-");
const artifact = path.join(work, "sluice");
const config = path.join(work, "sluice.config.json");
const running: RunningGateway[] = [];
let balancer: TcpBalancer | undefined;

before(() => {
  const out = path.join(work, "build");
  const r = buildArtifact(out, ["--set", "typeCheck=off"]);
  assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  copyReadOnly(out, artifact);
  writeFileSync(config, JSON.stringify({ host: "127.0.0.1", drainTimeoutMs: 10_000 }));
});

after(async () => {
  await balancer?.close();
  for (const gw of running) if (gw.child.exitCode === null) await gw.stop("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

/**
 * The call's status as gRPC defines it. A stream that a draining server
 * refused (RST_STREAM REFUSED_STREAM: it arrived after the server's GOAWAY,
 * so it was not processed) is UNAVAILABLE in gRPC's HTTP/2 mapping, and
 * connect-node maps it so when the stream closes; but Node reports the
 * stream's error first, and connect-node turns that one into INTERNAL.
 */
function grpcStatus(err: ConnectError): Code {
  const refused = (e: unknown): boolean =>
    e instanceof Error && ((e as NodeJS.ErrnoException).code === "ERR_HTTP2_STREAM_ERROR" && /NGHTTP2_REFUSED_STREAM/.test(e.message) || refused(e.cause));
  return err.code === Code.Internal && refused(err) ? Code.Unavailable : err.code;
}

async function startGatewayProcess(): Promise<RunningGateway> {
  const gw = await startArtifact(artifact, ["start", "--config", config], { PORT: "0" });
  running.push(gw);
  return gw;
}

test("rolling restart behind a balancer: unary calls and a server stream go on; only retried UNAVAILABLE, no tick lost", { timeout: 120_000 }, async (t) => {
  const first = [await startGatewayProcess(), await startGatewayProcess()];
  balancer = await TcpBalancer.start(first.map((g) => g.port));
  const transport = createGrpcTransport({ baseUrl: balancer.url });
  const greet = client(GreetService, transport);
  const ticker = client(TickerService, transport);

  let stop = false;
  const unary = { ok: 0, retriedUnavailable: 0, failures: [] as string[] };
  const unaryLoop = async (id: number) => {
    for (let i = 0; !stop; i++) {
      for (let attempt = 1; ; attempt++) {
        try {
          const res = await greet.greet({ name: `client${id}-${i}` });
          assert.equal(res.greeting, `Hello, client${id}-${i}!`);
          unary.ok++;
          break;
        } catch (e) {
          const err = ConnectError.from(e);
          if (grpcStatus(err) !== Code.Unavailable || attempt >= 5) {
            unary.failures.push(`${Code[err.code]}: ${err.message}`);
            break;
          }
          unary.retriedUnavailable++;
          await sleep(20 * attempt);
        }
      }
    }
  };

  const subscriptions: { ticks: bigint[]; end: string }[] = [];
  const streamLoop = async () => {
    while (!stop) {
      const sub = { ticks: [] as bigint[], end: "" };
      subscriptions.push(sub);
      const cancel = new AbortController();
      const stopper = setInterval(() => stop && cancel.abort(), 20);
      try {
        for await (const t of ticker.subscribe({ symbols: ["ACME"], intervalMs: 20 }, { signal: cancel.signal })) sub.ticks.push(t.sequence);
        sub.end = "ended without a status";
      } catch (e) {
        const err = ConnectError.from(e);
        sub.end = stop && err.code === Code.Canceled ? "cancelled by the test" : `${Code[grpcStatus(err)]}: ${err.rawMessage}`;
        if (grpcStatus(err) !== Code.Unavailable && !stop) await sleep(50);
      } finally {
        clearInterval(stopper);
      }
    }
  };

  const loops = [unaryLoop(1), unaryLoop(2), streamLoop()];
  const progress = async () => {
    const before = unary.ok;
    const ticksBefore = subscriptions.reduce((n, s) => n + s.ticks.length, 0);
    for (let i = 0; i < 200 && (unary.ok < before + 20 || subscriptions.reduce((n, s) => n + s.ticks.length, 0) < ticksBefore + 10); i++) await sleep(25);
  };
  await progress();

  // Replace each old process: the new one serves first, the balancer stops
  // sending new connections to the old one (an endpoint leaving a Service),
  // then the old one gets SIGTERM and drains.
  const current = [...first];
  const replacements: RunningGateway[] = [];
  for (const old of first) {
    const fresh = await startGatewayProcess();
    replacements.push(fresh);
    current[current.indexOf(old)] = fresh;
    balancer.setBackends(current.map((g) => g.port));
    old.child.kill("SIGTERM");
    assert.equal(await old.exited, 0, `the drained process exits 0:\n${old.output()}`);
    assert.match(old.output(), /"msg":"draining"/);
    await progress();
  }
  stop = true;
  await Promise.all(loops);

  assert.deepEqual(unary.failures, [], "no unary call failed with anything but a retried UNAVAILABLE");
  assert.ok(unary.ok >= 60, `unary calls went on (${unary.ok} succeeded)`);
  // Both old processes drained, so the stream was moved at least once.
  assert.ok(subscriptions.length >= 2, `the stream was subscribed again after a drain (${subscriptions.length} subscription(s))`);
  for (const [i, s] of subscriptions.entries()) {
    assert.deepEqual(s.ticks, s.ticks.map((_, n) => BigInt(n + 1)), `subscription ${i}: every tick, in order`);
    const last = i === subscriptions.length - 1;
    if (last) assert.equal(s.end, "cancelled by the test");
    // Ended by the function when its server began to drain, or refused by a
    // server already draining (SLUICE_RPC_DRAINING): both say "go elsewhere".
    else assert.match(s.end, /^Unavailable: (the server is restarting; subscribe again|SLUICE_RPC_DRAINING: |\[internal\] Stream closed with error code NGHTTP2_REFUSED_STREAM)/, `subscription ${i} ended by a drain`);
  }
  // One HTTP/2 client multiplexes every call on one connection, which moved
  // to a new process when the old ones drained.
  const toNew = replacements.reduce((n, g) => n + (balancer!.connections.get(g.port) ?? 0), 0);
  assert.ok(toNew > 0, "the client's connection moved to the new processes");
  t.diagnostic(`${unary.ok} unary calls, ${unary.retriedUnavailable} retried after UNAVAILABLE; ${subscriptions.length} subscriptions, ${subscriptions.reduce((n, s) => n + s.ticks.length, 0)} ticks`);
  for (const gw of replacements) assert.equal(await gw.stop(), 0);
});
