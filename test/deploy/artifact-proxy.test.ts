// Proxy routes from a built artifact: the descriptors of the generated code
// travel in the artifact (app/descriptors.mjs), so a mounted config can route
// a service to an upstream with no esbuild and no generated sources at run time.
import assert from "node:assert/strict";
import { chmodSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { ProbeService } from "../gen/probe/v1/probe_pb.js";
import { buildArtifact, copyReadOnly, scratchFolder, startArtifact } from "../support/artifact.js";
import { client, transports } from "../support/clients.js";
import type { RunningGateway } from "../support/gateway.js";
import { startUpstream, type UpstreamProcess } from "../support/upstream-process.js";

const work = scratchFolder("sluice-artifact-proxy-");
let upstream: UpstreamProcess;
let gw: RunningGateway;

before(async () => {
  const out = path.join(work, "build");
  // The probe service's generated code is the tests' own (test/gen).
  const r = buildArtifact(out, ["--set", "protoGenDir=test/gen", "--set", "typeCheck=off"]);
  assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  const deployed = path.join(work, "srv");
  copyReadOnly(out, deployed);
  upstream = await startUpstream({ impl: "grpc-js" });
  const config = path.join(work, "sluice.config.json");
  writeFileSync(config, JSON.stringify({
    upstreams: { backend: { url: upstream.url, protocol: "grpc", retry: { maxAttempts: 1 } } },
    routes: { "probe.v1.ProbeService": { upstream: "backend" } },
  }));
  chmodSync(config, 0o444);
  gw = await startArtifact(deployed, ["start", "--config", config], { PORT: "0" });
});

after(async () => {
  await gw?.stop();
  await upstream?.kill();
  rmSync(work, { recursive: true, force: true });
});

test("the artifact carries the generated descriptors, and a proxy route from a mounted config serves through them", async () => {
  const manifest = JSON.parse(readFileSync(path.join(work, "build", "sluice-artifact.json"), "utf8")) as { descriptors?: string };
  assert.equal(manifest.descriptors, "app/descriptors.mjs");
  assert.match(gw.output(), /probe\.v1\.ProbeService\s+Unary\s+unary\s+.*upstream backend \(/);
  for (const [name, transport] of Object.entries(transports(gw.url))) {
    const probe = client(ProbeService, transport);
    const res = await probe.unary({ text: "through the artifact", responseBytes: 2 });
    assert.equal(res.text, "through the artifact", name);
    assert.equal(res.payload.byteLength, 2, name);
  }
});
