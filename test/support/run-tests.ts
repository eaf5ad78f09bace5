// `npm test`: runs every test file with Node's test runner (each file in its
// own process, as `node --test` does) and reports through
// summary-reporter.ts. A script rather than `node --test --test-reporter=…`
// because a reporter given on the command line is loaded before tsx can
// compile it.
import { readdirSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { run } from "node:test";
import summaryReporter from "./summary-reporter.js";

const testDir = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), "..");

/**
 * test/*.test.ts and test/<area>/*.test.ts, or the files and area folders
 * named on the command line (`npm test -- test/integration test/errors.test.ts`).
 */
function testFiles(): string[] {
  const named = process.argv.slice(2);
  if (named.length === 0) return areaFiles(testDir, true);
  return named.flatMap((f) => {
    const full = path.resolve(f);
    return statSync(full).isDirectory() ? areaFiles(full, false) : [full];
  });
}

function areaFiles(dir: string, withAreas: boolean): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isFile() && entry.name.endsWith(".test.ts")) files.push(full);
    if (withAreas && entry.isDirectory() && !entry.name.startsWith(".")) files.push(...areaFiles(full, false));
  }
  return files.sort();
}

// The runtime matters (engines covers Node 20 and 24, CI runs both): say which one this is.
process.stdout.write(`node ${process.version}\n`);

let failed = false;
// No forceExit: with it, Node's runner ended a file while its process was
// still reporting, and the file's remaining tests were never counted (of
// test/deploy/manifests.test.ts's 32, 22 or 31 were, with no failure). A
// file that never ends (a handle a timed-out test left open) is caught by
// the watchdog below instead.
const stream = run({ files: testFiles(), concurrency: Math.max(os.availableParallelism() - 1, 1) });
const watchdogMinutes = 30;
setTimeout(() => {
  process.stdout.write(`\nnpm test: still running after ${watchdogMinutes} minutes (a test file that never ends); stopping with a failure\n`);
  process.exit(1);
}, watchdogMinutes * 60_000).unref();
stream.on("test:fail", (data: { details?: { type?: string }; skip?: unknown }) => {
  if (data.details?.type !== "suite") failed = true;
});
(stream.compose(summaryReporter as never) as NodeJS.ReadableStream).pipe(process.stdout);
stream.on("end", () => {
  if (failed) process.exitCode = 1;
});
