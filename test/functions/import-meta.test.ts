// `import.meta.url`, `.dirname` and `.filename` in a function file, and in a
// helper it imports, name that source file in `sluice start` and `sluice
// dev` (and `import.meta.resolve` resolves paths against it), so `new URL("./_data/word.txt", import.meta.url)` reads the file
// beside it. A built artifact carries no data files: there the rule is to
// import the data (JSON is bundled into the artifact), and reading a file
// beside a function fails the start with SLUICE_FUNCTION_IMPORT_FAILED,
// naming the function file and the missing path, and saying what to do.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { after, describe, test } from "node:test";
import { artifactNode, buildArtifact, scratchFolder } from "../support/artifact.js";
import { launchGateway, root, startGateway, type RunningGateway } from "../support/gateway.js";
import { TempFunctions } from "../support/temp-functions.js";

const greetPb = path.join(root, "proto/gen/greet/v1/greet_pb.js");

/** A function that reads a data file beside it at load, and says where it and its helper think they are. */
function readsBeside(fns: TempFunctions): { file: string; helper: string } {
  fns.write("_data/word.txt", "beside\n");
  const helper = fns.write("_lib/where.ts", `export const helperUrl = import.meta.url;
// Called by the handler, not at load: a built artifact (below) has no node_modules to find the package in.
export const helperResolved = () => import.meta.resolve("../_data/word.txt");
export const packageResolved = () => import.meta.resolve("@bufbuild/protobuf");
`);
  const file = fns.write("greet.ts", `import { readFileSync } from "node:fs";
import { defineFunction } from "sluice";
import { GreetService } from ${JSON.stringify(greetPb)};
import { helperResolved, helperUrl, packageResolved } from "./_lib/where.js";

const word = readFileSync(new URL("./_data/word.txt", import.meta.url), "utf8").trim();

export default defineFunction({
  service: GreetService,
  implementation: {
    greet: () => ({ greeting: JSON.stringify({ word, url: import.meta.url, dirname: import.meta.dirname, filename: import.meta.filename, resolved: import.meta.resolve("./_data/word.txt"), helperUrl, helperResolved: helperResolved(), packageResolved: packageResolved() }) }),
  },
});
`);
  return { file, helper };
}

async function greeting(gw: RunningGateway): Promise<Record<string, string>> {
  const res = await fetch(`${gw.url}/greet.v1.GreetService/Greet`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  const body = (await res.json()) as { greeting: string };
  assert.equal(res.status, 200, JSON.stringify(body));
  return JSON.parse(body.greeting) as Record<string, string>;
}

for (const command of ["start", "dev"] as const) {
  describe(`sluice ${command}`, () => {
    const fns = new TempFunctions(`import-meta-${command}`);
    const { file, helper } = readsBeside(fns);
    let gw: RunningGateway | undefined;
    after(async () => {
      if (gw) assert.equal(await gw.stop(), 0);
      fns.cleanup();
    });

    test("import.meta names the source file, in the function file and in its helper; resolve finds paths beside it and packages", async () => {
      gw = await startGateway({ command, functionsDir: fns.dir, args: ["--set", "typeCheck=off"] });
      const { packageResolved, ...beside } = await greeting(gw);
      const word = pathToFileURL(path.join(path.dirname(file), "_data/word.txt")).href;
      assert.deepEqual(beside, {
        word: "beside",
        url: pathToFileURL(file).href,
        dirname: path.dirname(file),
        filename: file,
        resolved: word,
        helperUrl: pathToFileURL(helper).href,
        helperResolved: word,
      });
      // A package resolves as from the project: the same node_modules the gateway's bundles import from.
      assert.equal(packageResolved, import.meta.resolve("@bufbuild/protobuf"));
    });
  });
}

describe("a built artifact", () => {
  const work = scratchFolder("sluice-import-meta-");
  const projects: TempFunctions[] = [];
  let gw: RunningGateway | undefined;
  after(async () => {
    if (gw) assert.equal(await gw.stop(), 0);
    for (const p of projects) p.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  test("data imported as JSON is bundled into it", async () => {
    const fns = new TempFunctions("import-meta-json");
    projects.push(fns);
    fns.write("_data/words.json", `{ "word": "bundled" }\n`);
    fns.write("greet.ts", `import { defineFunction } from "sluice";
import { GreetService } from ${JSON.stringify(greetPb)};
import words from "./_data/words.json" with { type: "json" };

export default defineFunction({
  service: GreetService,
  implementation: { greet: () => ({ greeting: JSON.stringify({ word: words.word }) }) },
});
`);
    const out = path.join(work, "json");
    const r = buildArtifact(out, ["--functions", fns.dir, "--set", "typeCheck=off"]);
    assert.equal(r.code, 0, r.stderr);
    gw = await launchGateway(artifactNode, [path.join(out, "sluice.mjs"), "start"], { cwd: out, env: { PORT: "0" } });
    assert.equal((await greeting(gw)).word, "bundled");
  });

  test("a file read beside a function file is not in it: the start fails, naming the function file and the path, and the fix", async () => {
    const fns = new TempFunctions("import-meta-beside");
    projects.push(fns);
    const { file } = readsBeside(fns);
    const out = path.join(work, "beside");
    const r = buildArtifact(out, ["--functions", fns.dir, "--set", "typeCheck=off"]);
    assert.equal(r.code, 0, r.stderr);
    const start = await launchGateway(artifactNode, [path.join(out, "sluice.mjs"), "start"], { cwd: out, env: { PORT: "0" } }).then(
      () => assert.fail("the artifact started"),
      (e: Error) => e.message,
    );
    assert.ok(start.includes(`SLUICE_FUNCTION_IMPORT_FAILED: ${path.relative(root, file)}: threw while being loaded: ENOENT`), start);
    assert.ok(start.includes("functions/_data/word.txt is not in the built artifact: sluice build bundles code, and does not copy data files"), start);
  });
});
