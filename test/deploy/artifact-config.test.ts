// The project's config file travels in the artifact as JSON: its staticDir
// is copied in, relative paths resolve against the artifact's folder
// wherever the process starts, and values JSON cannot carry stop the build.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { buildArtifact, copyReadOnly, runArtifact, scratchFolder, startArtifact } from "../support/artifact.js";
import { root, type RunningGateway } from "../support/gateway.js";

// The project lives inside the checkout (test/.tmp) so that its function
// resolves the generated code and packages as a project's would.
const project = path.join(root, "test", ".tmp", `artifact-config-${process.pid}`);
const work = scratchFolder("sluice-artifact-config-");
after(() => {
  rmSync(project, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

function writeProject(config: string): void {
  rmSync(project, { recursive: true, force: true });
  mkdirSync(path.join(project, "functions"), { recursive: true });
  mkdirSync(path.join(project, "public", "docs"), { recursive: true });
  writeFileSync(path.join(project, "public", "index.html"), "<h1>served from the artifact</h1>\n");
  writeFileSync(path.join(project, "public", "docs", "a.txt"), "a\n");
  writeFileSync(path.join(project, "functions", "hello.ts"), [
    `import { defineFunction } from "sluice";`,
    `import { GreetService } from "../../../../proto/gen/greet/v1/greet_pb.js";`,
    `export default defineFunction({ service: GreetService, implementation: { greet: (req) => ({ greeting: \`hi \${req.name}\` }) } });`,
    ``,
  ].join("\n"));
  writeFileSync(path.join(project, "sluice.config.ts"), config);
}

describe("the config file in an artifact", () => {
  const out = path.join(work, "artifact");
  const deployed = path.join(work, "srv");
  let gw: RunningGateway;

  before(async () => {
    writeProject([
      `import { defineConfig } from "sluice";`,
      `export default defineConfig({ staticDir: "public", cors: { origins: ["https://app.example"] }, drainTimeoutMs: 1234, typeCheck: "off" });`,
      ``,
    ].join("\n"));
    const r = buildArtifact(out, [], project);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    copyReadOnly(out, deployed);
    // Started from "/": relative paths still resolve against the artifact.
    gw = await startArtifact(deployed, ["start"], { PORT: "0" }, { cwd: "/" });
  });

  after(async () => {
    await gw?.stop();
  });

  test("sluice.config.ts becomes sluice.config.json, with staticDir copied into static/", () => {
    const baked = JSON.parse(readFileSync(path.join(out, "sluice.config.json"), "utf8")) as Record<string, unknown>;
    assert.deepEqual(baked, { staticDir: "static", cors: { origins: ["https://app.example"] }, drainTimeoutMs: 1234, typeCheck: "off" });
    assert.equal(readFileSync(path.join(out, "static", "docs", "a.txt"), "utf8"), "a\n");
    const manifest = JSON.parse(readFileSync(path.join(out, "sluice-artifact.json"), "utf8")) as { config: string; functions: { source: string }[] };
    assert.equal(manifest.config, "sluice.config.json");
    assert.deepEqual(manifest.functions.map((f) => f.source), ["functions/hello.ts"]);
  });

  test("the artifact serves with that config: static files, CORS, and its function", async () => {
    const page = await fetch(`${gw.url}/`);
    assert.equal(page.status, 200);
    assert.equal(await page.text(), "<h1>served from the artifact</h1>\n");
    const preflight = await fetch(`${gw.url}/greet.v1.GreetService/Greet`, {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    assert.equal(preflight.headers.get("access-control-allow-origin"), "https://app.example");
    const res = await fetch(`${gw.url}/greet.v1.GreetService/Greet`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "Ada" }) });
    assert.deepEqual(await res.json(), { greeting: "hi Ada" });
    await gw.stop();
    assert.match(gw.output(), /"drainTimeoutMs":1234,"msg":"draining"/);
  });
});

describe("values the artifact's JSON config cannot carry", () => {
  test("a rate.key function fails the build cleanly, naming its key and what to do instead", () => {
    writeProject([
      `import { defineConfig } from "sluice";`,
      `export default defineConfig({`,
      `  typeCheck: "off",`,
      `  limits: { "greet.v1.GreetService/Greet": { rate: { perSecond: 5, key: (req) => String(req.headers["x-tenant"] ?? "anon") } } },`,
      `});`,
      ``,
    ].join("\n"));
    const out = path.join(work, "with-function");
    const r = buildArtifact(out, [], project);
    assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /SLUICE_BUILD_FAILED: sluice build could not write the artifact: config file sluice\.config\.ts: limits\["greet\.v1\.GreetService\/Greet"\]\.rate\.key is a function: a built artifact carries its config as JSON, so a function-valued key cannot be built; use a value JSON holds \(for rate\.key a header, \{ header: "x-tenant" \}, or "address"\/"route"\), or keep the project running with sluice start/);
    assert.doesNotMatch(r.stderr, /DataCloneError|\n\s+at /, "no stack trace");
    assert.equal(existsSync(out), false, "nothing written");
  });

  test("cacheDir stays behind: the artifact bundles nothing, and the build machine's folder would be outside it", () => {
    writeProject([
      `export default { typeCheck: "off", cacheDir: ${JSON.stringify(path.join(project, ".cache"))} };`,
      ``,
    ].join("\n"));
    const out = path.join(work, "with-cache-dir");
    const r = buildArtifact(out, [], project);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    assert.deepEqual(JSON.parse(readFileSync(path.join(out, "sluice.config.json"), "utf8")), { typeCheck: "off" });
    const checked = runArtifact(out, ["check"]);
    assert.equal(checked.code, 0, checked.stderr);
  });
});
