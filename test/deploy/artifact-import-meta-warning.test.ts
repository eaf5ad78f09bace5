// sluice build warns about function code that reads import.meta.url,
// .dirname, .filename or .resolve: in `start` and `dev` they name the source
// file, in the artifact the bundle, so a data file found through them beside
// the source is missing only once the artifact starts. The warning names the
// source file, line and property, the build still succeeds, and nothing of it
// goes into the artifact (same bytes, same content hash).
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { after, describe, test } from "node:test";
import { artifactNode, buildArtifact, readTree, scratchFolder } from "../support/artifact.js";
import { launchGateway, root } from "../support/gateway.js";
import { TempFunctions } from "../support/temp-functions.js";

const greetPb = path.join(root, "proto/gen/greet/v1/greet_pb.js");
const work = scratchFolder("sluice-import-meta-warning-");
const projects: TempFunctions[] = [];
after(() => {
  for (const p of projects) p.cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** A project in the checkout whose greet.ts imports ./_lib/words.ts, of which `helper` is the text. */
function project(name: string, helper: string): TempFunctions {
  const fns = new TempFunctions(name);
  projects.push(fns);
  fns.write("_lib/words.ts", helper);
  fns.write("greet.ts", `import { defineFunction } from "sluice";
import { GreetService } from ${JSON.stringify(greetPb)};
import { word } from "./_lib/words.js";

export default defineFunction({
  service: GreetService,
  implementation: { greet: () => ({ greeting: \`hello \${word}\` }) },
});
`);
  return fns;
}

function build(fns: TempFunctions, out: string): { stdout: string; stderr: string; warnings: string[] } {
  const r = buildArtifact(out, ["--functions", fns.dir, "--set", "typeCheck=off"]);
  assert.equal(r.code, 0, `sluice build failed:\n${r.stdout}${r.stderr}`);
  assert.ok(existsSync(path.join(out, "sluice-artifact.json")), "the artifact was written");
  return { ...r, warnings: r.stderr.split("\n").filter((l) => l.startsWith("sluice: warning:")) };
}


describe("sluice build's warning about import.meta in function code", () => {
  test("a helper that reads a data file beside it through import.meta.url is named with its line; the build succeeds", async () => {
    const fns = project("import-meta-warning", `import { readFileSync } from "node:fs";

export const word = readFileSync(new URL("../_data/word.txt", import.meta.url), "utf8").trim();
export const here = import.meta?.dirname;
`);
    fns.write("_data/word.txt", "beside\n");
    // The function file's own use, after the helper's in sorted order though found first.
    const greet = readFileSync(path.join(fns.dir, "greet.ts"), "utf8");
    fns.write("greet.ts", greet.replace("hello ${word}", "hello ${word} from ${import.meta.filename}"));
    const shown = path.relative(root, fns.dir);
    const out = path.join(work, "warned");

    const r = build(fns, out);
    assert.deepEqual(r.warnings, [
      `sluice: warning: ${shown}/_lib/words.ts:3:63: in the built artifact, import.meta.url names the module it is bundled into (functions/<name>.mjs or a chunk in app/), not this source file`,
      `sluice: warning: ${shown}/_lib/words.ts:4:21: in the built artifact, import.meta.dirname names the artifact's functions/ or app/ folder, not this source file's folder`,
      `sluice: warning: ${shown}/greet.ts:7:69: in the built artifact, import.meta.filename names the module it is bundled into (functions/<name>.mjs or a chunk in app/), not this source file`,
    ]);
    assert.match(r.stderr, /sluice build copies the code, the config and config\s+staticDir \(into static\/, served to anyone over GET\), and no other file/);
    assert.match(r.stderr, /import words from "\.\/words\.json" with \{ type: "json" \}/);
    assert.match(r.stdout, /built \S+: 1 function\(s\)/);

    // What the warning is about: the artifact cannot start.
    const start = await launchGateway(artifactNode, [path.join(out, "sluice.mjs"), "start"], { cwd: out, env: { PORT: "0" } }).then(
      () => assert.fail("the artifact started"),
      (e: Error) => e.message,
    );
    assert.match(start, /SLUICE_FUNCTION_IMPORT_FAILED: \S+greet\.ts: threw while being loaded: ENOENT/);
  });

  test("code without import.meta gets no warning; a line that names it gets one, and the artifact stays byte for byte the same", () => {
    const fns = project("import-meta-quiet", `export const word = "embedded";\n`);
    const quiet = build(fns, path.join(work, "quiet"));
    assert.deepEqual(quiet.warnings, []);
    assert.doesNotMatch(quiet.stderr, /warning|import\.meta/);

    // The scan reads text, so a comment that names import.meta.url warns
    // (a false positive src/cli/import-meta-warnings.ts accepts) while
    // esbuild drops it: the same code, with and without a warning.
    fns.write("_lib/words.ts", `export const word = "embedded"; // not from import.meta.url\n`);
    const warned = build(fns, path.join(work, "noted"));
    assert.deepEqual(warned.warnings, [
      `sluice: warning: ${path.relative(root, fns.dir)}/_lib/words.ts:1:45: in the built artifact, import.meta.url names the module it is bundled into (functions/<name>.mjs or a chunk in app/), not this source file`,
    ]);

    const a = readTree(path.join(work, "quiet"));
    const b = readTree(path.join(work, "noted"));
    assert.deepEqual([...b.keys()], [...a.keys()]);
    for (const [name, bytes] of a) assert.ok(bytes.equals(b.get(name)!), `${name} differs with the warning`);
    const hash = (out: string) => /content hash ([0-9a-f]{64})/.exec(out)?.[1];
    assert.equal(hash(warned.stdout), hash(quiet.stdout));
  });
});
