// `sluice dev` sees every edit, however it is saved, and reloads each
// changed function exactly once with the new content: in-place writes,
// write-temp-then-rename (atomic saves), delete-then-create, sed -i, a folder
// renamed or swapped as a whole, fifty files written at once and a git
// checkout of them; a touch without a change does nothing; and the hundredth
// edit of a long session is caught like the first.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, test } from "node:test";
import { createConnectTransport } from "@connectrpc/connect-node";
import { generateFunctions } from "../../bench/src/scenarios/generate-functions.js";
import { GreetService } from "../../proto/gen/greet/v1/greet_pb.js";
import { ProbeService } from "../gen/probe/v1/probe_pb.js";
import { client } from "../support/clients.js";
import { answerEventually } from "../support/eventually.js";
import { root, startGateway, type RunningGateway } from "../support/gateway.js";
import { TempFunctions } from "../support/temp-functions.js";

const probeSource = "test/fixtures/functions/probe.ts";
const withVersion = (v: string) => (s: string) => s.replace('const version = "v1";', `const version = "${v}";`);
const withGreeting = (g: string) => (s: string) => s.replace("en: (name) => `Hello, ${name}!`", `en: (name) => \`${g}, \${name}!\``);

/** Calls until the answer satisfies `ok`; a reload is asynchronous. */
function eventually<T>(gw: RunningGateway, call: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  return answerEventually(call, ok, what, { output: () => gw.output() });
}

/** How many times the log says `msg` for `file` (a path relative to the repository). */
function count(gw: RunningGateway, file: string, msg: string): number {
  const needle = `"file":"${file}"`;
  return gw.output().split("\n").filter((l) => l.includes(needle) && l.includes(`"msg":"${msg}"`)).length;
}

describe("every save pattern reloads exactly once, with the new content", () => {
  const fns = new TempFunctions("watch");
  const probeFile = fns.copy(probeSource, "probe.ts");
  const greetFile = fns.copy("functions/greet.ts", "greet.ts");
  const rel = (f: string) => path.relative(root, f);
  const probeSrc = readFileSync(probeFile, "utf8");
  const greetSrc = readFileSync(greetFile, "utf8");
  let gw: RunningGateway;
  let probe: ReturnType<typeof client<typeof ProbeService>>;
  let greet: ReturnType<typeof client<typeof GreetService>>;
  let flushes = 0;

  after(async () => {
    if (gw) assert.equal(await gw.stop(), 0);
    fns.cleanup();
  });

  /**
   * Proves everything before it has been handled: an edit of another file,
   * waited for. Scans and reloads run one at a time, in order, so once this
   * one is served, any second reload of an earlier change would be in the log.
   */
  async function flush(): Promise<void> {
    const g = `Flush${++flushes}`;
    writeFileSync(greetFile, withGreeting(g)(greetSrc));
    await eventually(gw, () => greet.greet({ name: "x" }), (r) => r.greeting === `${g}, x!`, `flush ${g}`);
    // The log arrives on another pipe than the answer: wait for its line too.
    await eventually(gw, async () => count(gw, rel(greetFile), "function reloaded"), (n) => n >= flushes, `flush ${g} logged`);
  }

  /** Applies `edit`, waits for version `v` to be served, and checks the file reloaded once. */
  async function reloadsOnce(v: string, edit: () => void): Promise<void> {
    const before = count(gw, rel(probeFile), "function reloaded");
    edit();
    await eventually(gw, () => probe.unary({}), (r) => r.version === v, `version ${v} served`);
    await flush();
    assert.equal(count(gw, rel(probeFile), "function reloaded") - before, 1, `one reload for ${v}\n${gw.output()}`);
  }

  test("dev starts", async () => {
    gw = await startGateway({ command: "dev", functionsDir: fns.dir, env: { SLUICE_LOG_FORMAT: "json" } });
    const transport = createConnectTransport({ baseUrl: gw.url, httpVersion: "1.1" });
    probe = client(ProbeService, transport);
    greet = client(GreetService, transport);
    assert.equal((await probe.unary({})).version, "v1");
  });

  test("an in-place write (same inode)", () => reloadsOnce("inplace", () => writeFileSync(probeFile, withVersion("inplace")(probeSrc))));

  test("write a temporary file, then rename it over the original (atomic save)", () => reloadsOnce("atomic", () => {
    const tmp = path.join(fns.dir, ".probe.ts.tmp-4913");
    writeFileSync(tmp, withVersion("atomic")(probeSrc));
    renameSync(tmp, probeFile);
  }));

  test("an in-place write after a rename-save is still seen (the fs.watch inode trap)", () => reloadsOnce("after-rename", () => writeFileSync(probeFile, withVersion("after-rename")(probeSrc))));

  test("delete, then create", () => reloadsOnce("recreated", () => {
    unlinkSync(probeFile);
    writeFileSync(probeFile, withVersion("recreated")(probeSrc));
  }));

  test("sed -i (writes a temporary file and renames it)", () => reloadsOnce("sed", () => {
    execFileSync("sed", ["-i", 's/const version = "recreated";/const version = "sed";/', probeFile]);
  }));

  test("vim-style: a backup rename, a fresh write, editor temp files", () => reloadsOnce("vim", () => {
    writeFileSync(path.join(fns.dir, ".probe.ts.swp"), "swap");
    writeFileSync(path.join(fns.dir, "4913"), "");
    unlinkSync(path.join(fns.dir, "4913"));
    renameSync(probeFile, `${probeFile}~`);
    writeFileSync(probeFile, withVersion("vim")(probeSrc));
    unlinkSync(`${probeFile}~`);
    unlinkSync(path.join(fns.dir, ".probe.ts.swp"));
  }));

  test("a touch, or rewriting the same content, does nothing", async () => {
    const reloads = count(gw, rel(probeFile), "function reloaded");
    const now = new Date();
    utimesSync(probeFile, now, now);
    writeFileSync(probeFile, readFileSync(probeFile));
    await gw.waitForOutput(`"file":"${rel(probeFile)}","msg":"${rel(probeFile)}: touched, content unchanged; nothing to do"`);
    await flush();
    assert.equal(count(gw, rel(probeFile), "function reloaded"), reloads);
    assert.equal((await probe.unary({})).version, "vim");
  });

  test("the whole functions folder swapped for a new one (rename away, rename in)", async () => {
    const next = `${fns.dir}.next`;
    mkdirSync(next);
    writeFileSync(path.join(next, "probe.ts"), withVersion("swapped")(probeSrc));
    writeFileSync(path.join(next, "greet.ts"), readFileSync(greetFile));
    await reloadsOnce("swapped", () => {
      renameSync(fns.dir, `${fns.dir}.old`);
      renameSync(next, fns.dir);
    });
    rmSync(`${fns.dir}.old`, { recursive: true, force: true });
    assert.equal(count(gw, rel(greetFile), "function removed"), 0, "greet.ts kept serving through the swap");
  });

  test("a folder inside functions/ renamed: its function moves in one reload, never served twice or not at all", async () => {
    const from = path.join(fns.dir, "inner");
    const to = path.join(fns.dir, "moved");
    mkdirSync(from);
    writeFileSync(path.join(from, "probe.ts"), withVersion("inner")(probeSrc).replaceAll("../../gen/", `${root}/test/gen/`));
    unlinkSync(probeFile);
    await eventually(gw, () => probe.unary({}), (r) => r.version === "inner", "probe served from inner/");
    renameSync(from, to);
    await gw.waitForOutput(`"file":"${rel(path.join(to, "probe.ts"))}"`);
    await flush();
    assert.equal(count(gw, rel(path.join(to, "probe.ts")), "function added"), 1);
    assert.equal(count(gw, rel(path.join(from, "probe.ts")), "function removed"), 1);
    assert.doesNotMatch(gw.output(), /SLUICE_FUNCTION_DUPLICATE_METHOD|SLUICE_FUNCTION_SPLIT_NOT_DECLARED/);
    assert.equal((await probe.unary({})).version, "inner");
    renameSync(path.join(to, "probe.ts"), probeFile);
    rmSync(to, { recursive: true });
    await eventually(gw, () => probe.unary({}), () => count(gw, rel(probeFile), "function added") === 1, "probe back at the top");
  });

  test("a long session: the hundredth edit is caught like the first, each reloaded once", async () => {
    const before = count(gw, rel(probeFile), "function reloaded");
    const saves = [
      (c: string) => writeFileSync(probeFile, c),
      (c: string) => {
        writeFileSync(`${probeFile}.tmp`, c);
        renameSync(`${probeFile}.tmp`, probeFile);
      },
      (c: string) => {
        unlinkSync(probeFile);
        writeFileSync(probeFile, c);
      },
    ];
    for (let i = 1; i <= 100; i++) {
      const v = `long-${i}`;
      saves[i % saves.length]!(withVersion(v)(probeSrc));
      await eventually(gw, () => probe.unary({}), (r) => r.version === v, `edit ${i} served`);
    }
    await flush();
    assert.equal(count(gw, rel(probeFile), "function reloaded") - before, 100, gw.output());
  });
});

describe("fifty files at once", () => {
  const fns = new TempFunctions("watch-many");
  generateFunctions(fns.dir, 50);
  const names = Array.from({ length: 50 }, (_, i) => String(i + 1).padStart(2, "0"));
  const fileOf = (n: string) => path.join(fns.dir, `fn-${n}.ts`);
  const rel = (f: string) => path.relative(root, f);
  const tagged = (tag: string) => (n: string) => readFileSync(fileOf(n), "utf8").replace(/text: [^,]+,/, `text: "${tag}",`);
  const git = (...args: string[]) => execFileSync("git", ["-c", "user.email=t@example.com", "-c", "user.name=t", ...args], { cwd: fns.dir, stdio: "pipe" });
  let gw: RunningGateway;
  after(async () => {
    if (gw) assert.equal(await gw.stop(), 0);
    fns.cleanup();
  });

  async function allServe(tag: string): Promise<void> {
    await Promise.all(names.map((n) => eventually(gw, async () => {
      const res = await fetch(`${gw.url}/cold.v1.Fn${n}Service/Echo`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      return (await res.json()) as { text?: string };
    }, (j) => j.text === tag, `fn-${n} answers ${tag}`)));
  }

  let flushes = 0;
  /** A new helper file: its log line means every earlier change has been handled (scans run in order). */
  async function flush(): Promise<void> {
    const file = path.join(fns.dir, `_flush${++flushes}.ts`);
    writeFileSync(file, "export {};\n");
    await gw.waitForOutput(`"msg":"${rel(file)} added: not imported by any function; nothing to reload"`);
  }

  function reloads(): number[] {
    return names.map((n) => count(gw, rel(fileOf(n)), "function reloaded"));
  }

  test("each of fifty files written in one burst reloads once; then a git checkout brings them all back, once each", async () => {
    for (const n of names) writeFileSync(fileOf(n), tagged("v1")(n));
    git("init", "-q");
    git("add", "-A");
    git("commit", "-q", "-m", "v1");
    gw = await startGateway({ command: "dev", functionsDir: fns.dir, env: { SLUICE_LOG_FORMAT: "json" } });
    await allServe("v1");

    const v2 = names.map(tagged("v2"));
    names.forEach((n, i) => writeFileSync(fileOf(n), v2[i]!));
    await allServe("v2");
    await flush();
    assert.deepEqual(reloads(), names.map(() => 1));

    git("checkout", "-q", "--", ".");
    await allServe("v1");
    await flush();
    assert.deepEqual(reloads(), names.map(() => 2));
    assert.doesNotMatch(gw.output(), /SLUICE_FUNCTION_\w+/);
  });
});
