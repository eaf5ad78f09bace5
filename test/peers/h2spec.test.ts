// h2spec, the HTTP/2 conformance tester, against the h2c port and the TLS
// port. Every failure must be listed, with its reason, in
// h2spec-expectations.json: a new failure fails this suite, and so does a
// listed failure that starts passing (delete its entry then).
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { root, startGateway } from "../support/gateway.js";
import { createSelfSignedCert } from "../support/self-signed-cert.js";
import { describeWithTool, findTool } from "../support/tools.js";
import { runTool } from "./run-tool.js";

const h2spec = findTool("h2spec", "go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible");

type Target = "h2c" | "tls";

interface Expectations {
  tests: number;
  expectedFailures: Record<string, { test: string; fails: Target[]; mayFail: Target[]; node?: string[]; reason: string }>;
}

const allExpectations = JSON.parse(readFileSync(path.join(root, "test/peers/h2spec-expectations.json"), "utf8")) as Expectations;
/** The entries that hold on this Node (an entry with `node` holds on those major versions only). */
const nodeMajor = process.versions.node.split(".")[0]!;
const expectations: Expectations = {
  ...allExpectations,
  expectedFailures: Object.fromEntries(Object.entries(allExpectations.expectedFailures).filter(([, e]) => !e.node || e.node.includes(nodeMajor))),
};

interface CaseResult {
  /** `http2/5.1/8`: the section and the case's number in it, as h2spec prints them. */
  id: string;
  description: string;
  outcome: "passed" | "failed" | "skipped";
  /** What h2spec expected and what it saw, for failures. */
  detail: string;
}

/** Reads h2spec's JUnit report; cases are numbered in report order within their section. */
function parseJunit(xml: string): CaseResult[] {
  const results: CaseResult[] = [];
  const numbers = new Map<string, number>();
  for (const m of xml.matchAll(/<testcase package="([^"]+)" classname="([^"]*)"[^>]*>([\s\S]*?)<\/testcase>/g)) {
    const [, section, description, body] = m as unknown as [string, string, string, string];
    const n = (numbers.get(section) ?? 0) + 1;
    numbers.set(section, n);
    const outcome = /<(error|failure)\b/.test(body) ? "failed" : /<skipped\b/.test(body) ? "skipped" : "passed";
    results.push({ id: `${section}/${n}`, description: unescapeXml(description), outcome, detail: unescapeXml(body.replace(/<[^>]+>/g, "").trim()) });
  }
  return results;
}

const xmlEntities: Record<string, string> = { lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" };

function unescapeXml(s: string): string {
  return s.replace(/&(#\d+|\w+);/g, (whole, e: string) => (e.startsWith("#") ? String.fromCharCode(Number(e.slice(1))) : (xmlEntities[e] ?? whole)));
}

describeWithTool(h2spec, "h2spec", { concurrency: true }, () => {
  for (const target of ["h2c", "tls"] as const) {
    test(`${target} port`, async (t) => {
      const cert = target === "tls" ? createSelfSignedCert() : undefined;
      const report = path.join(root, "test/.tmp", `h2spec-${target}.xml`);
      mkdirSync(path.dirname(report), { recursive: true });
      rmSync(report, { force: true });
      let results: CaseResult[];
      try {
        const gw = await startGateway({
          functionsDir: path.join(root, "functions"),
          args: cert ? ["--set", `tls.cert=${cert.certPath}`, "--set", `tls.key=${cert.keyPath}`] : [],
        });
        try {
          // -o 2: seconds h2spec waits for an answer that does not come (each such failure costs that long).
          const run = await runTool(h2spec.path!, ["-h", "127.0.0.1", "-p", String(gw.port), ...(cert ? ["-t", "-k"] : []), "-o", "2", "-j", report], { timeoutMs: 120_000 });
          assert.notEqual(run.signal, "SIGKILL", "h2spec did not finish in time");
          assert.ok(existsSync(report), `h2spec wrote no report:\n${run.stdout}\n${run.stderr}`);
          results = parseJunit(readFileSync(report, "latin1")); // the report holds raw frame bytes
        } finally {
          assert.equal(await gw.stop(), 0, gw.output());
        }
      } finally {
        if (cert) rmSync(cert.dir, { recursive: true, force: true });
      }

      const failed = results.filter((r) => r.outcome === "failed");
      const passed = results.filter((r) => r.outcome === "passed");
      const skipped = results.filter((r) => r.outcome === "skipped");
      const summary = `h2spec ${target}: ${passed.length} of ${results.length} passed, ${failed.length} failed (${failed.map((r) => r.id).join(", ") || "none"}), ${skipped.length} skipped`;
      t.diagnostic(summary);

      assert.equal(results.length, expectations.tests, "h2spec ran a different number of cases: is it the pinned version?");
      for (const r of results) {
        const expected = expectations.expectedFailures[r.id];
        if (expected) assert.equal(r.description, expected.test, `${r.id} is a different case than the expectations file says`);
      }
      const unexpected = failed
        .filter((r) => {
          const e = expectations.expectedFailures[r.id];
          return !e || !(e.fails.includes(target) || e.mayFail.includes(target));
        })
        .map((r) => `${r.id} ${r.description}: ${r.detail}`);
      const nowPassing = Object.entries(expectations.expectedFailures)
        .filter(([id, e]) => e.fails.includes(target) && !failed.some((r) => r.id === id))
        .map(([id, e]) => `${id} ${e.test}`);
      assert.deepEqual(
        { unexpected, nowPassing },
        { unexpected: [], nowPassing: [] },
        "h2spec-expectations.json is out of date: fix or list each unexpected failure with its reason; delete the entries of cases that now pass",
      );
    });
  }
});
