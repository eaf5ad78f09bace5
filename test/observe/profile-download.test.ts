// A profile is taken, and sent, one at a time: a heap snapshot whose
// client reads slowly (here: not at all) still counts as running, so a
// second profile gets 409 SLUICE_ADMIN_PROFILE_BUSY until the first has
// been sent or its client has gone; then profiles are taken again. The
// same through the primary of --workers 2, whose worker sends the snapshot
// over IPC no faster than the client takes it, and stops when it leaves.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { adminUrl, until } from "../support/admin.js";
import { startGateway, type RunningGateway } from "../support/gateway.js";

/** Starts a download and stops reading it once its head has come. */
function pausedDownload(url: string): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      res.pause();
      resolve(res);
    }).on("error", reject);
  });
}

/** Reads the rest of a paused download. */
async function readAll(res: http.IncomingMessage): Promise<string> {
  res.setEncoding("utf8");
  let text = "";
  for await (const chunk of res) text += chunk as string;
  return text;
}

/** A one-second CPU profile's status, and the error code when refused. */
async function cpuProfile(base: string, worker = ""): Promise<{ status: number; code?: string; message?: string }> {
  const res = await fetch(`${base}/debug/profile/cpu?seconds=1${worker}`);
  if (res.status === 200) {
    await res.arrayBuffer();
    return { status: 200 };
  }
  const body = (await res.json()) as { code: string; message: string };
  return { status: res.status, ...body };
}

describe("one process", () => {
  let gw: RunningGateway;
  let base: string;

  before(async () => {
    gw = await startGateway({ args: ["--set", "admin.port=0"] });
    base = adminUrl(gw);
  });
  after(async () => {
    await gw?.stop();
  });

  test("a heap snapshot not yet read keeps every other profile refused (409) until it has been sent", async () => {
    const res = await pausedDownload(`${base}/debug/profile/heap-snapshot`);
    assert.equal(res.statusCode, 200);
    // Long enough for the snapshot to fill every buffer on the way and wait for the client.
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 0; i < 3; i++) {
      const second = await cpuProfile(base);
      assert.equal(second.status, 409, "a profile while a heap snapshot waits for its reader");
      assert.equal(second.code, "SLUICE_ADMIN_PROFILE_BUSY");
      assert.match(second.message!, /heap snapshot/);
    }
    const snapshot = JSON.parse(await readAll(res)) as { snapshot: { node_count: number } };
    assert.ok(snapshot.snapshot.node_count > 1000);
    // Sent: profiles are taken again.
    await until(async () => (await cpuProfile(base)).status === 200, "a profile once the snapshot was sent");
  });

  test("a heap snapshot whose client went away no longer counts as running", async () => {
    const res = await pausedDownload(`${base}/debug/profile/heap-snapshot`);
    assert.equal((await cpuProfile(base)).status, 409);
    res.destroy();
    await until(async () => (await cpuProfile(base)).status === 200, "a profile once the snapshot's client left");
  });
});

describe("--workers 2", () => {
  let gw: RunningGateway;
  let base: string;

  before(async () => {
    gw = await startGateway({ args: ["--workers", "2", "--set", "admin.port=0", "--set", "drainTimeoutMs=2000"] });
    base = adminUrl(gw);
  });
  after(async () => {
    await gw?.stop();
  });

  test("a worker's heap snapshot not yet read keeps the other worker's profiles refused (409) until it has been sent, whole", async () => {
    const res = await pausedDownload(`${base}/debug/profile/heap-snapshot?worker=1`);
    assert.equal(res.statusCode, 200);
    await new Promise((r) => setTimeout(r, 500));
    const second = await cpuProfile(base, "&worker=2");
    assert.equal(second.status, 409);
    assert.equal(second.code, "SLUICE_ADMIN_PROFILE_BUSY");
    // Sent over IPC in pieces as the client took them: the JSON is whole.
    const snapshot = JSON.parse(await readAll(res)) as { snapshot: { node_count: number }; nodes: number[] };
    assert.ok(snapshot.snapshot.node_count > 1000);
    assert.equal(snapshot.nodes.length % snapshot.snapshot.node_count, 0);
    await until(async () => (await cpuProfile(base, "&worker=2")).status === 200, "a profile once the snapshot was sent");
  });

  test("a client that leaves mid-snapshot stops the worker's: the same worker takes the next one", async () => {
    const res = await pausedDownload(`${base}/debug/profile/heap-snapshot?worker=1`);
    await new Promise((r) => setTimeout(r, 500));
    res.destroy();
    // The worker was told to stop: its own profile is free again (a worker still sending would answer 409).
    await until(async () => (await cpuProfile(base, "&worker=1")).status === 200, "a profile of the same worker once the client left");
  });
});
