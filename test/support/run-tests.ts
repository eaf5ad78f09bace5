// `npm test`: runs every test file with Node's test runner (each file in its
// own process, as `node --test` does) and reports through
// summary-reporter.ts. A script rather than `node --test --test-reporter=…`
// because a reporter given on the command line is loaded before tsx can
// compile it.
import { readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { run } from "node:test";
import summaryReporter from "./summary-reporter.js";

const testDir = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), "..");

/** test/*.test.ts and test/<area>/*.test.ts, or the files named on the command line. */
function testFiles(): string[] {
  const named = process.argv.slice(2);
  if (named.length > 0) return named.map((f) => path.resolve(f));
  const files: string[] = [];
  for (const entry of readdirSync(testDir, { withFileTypes: true })) {
    const full = path.join(testDir, entry.name);
    if (entry.isFile() && entry.name.endsWith(".test.ts")) files.push(full);
    if (entry.isDirectory() && !entry.name.startsWith(".")) {
      for (const f of readdirSync(full)) if (f.endsWith(".test.ts")) files.push(path.join(full, f));
    }
  }
  return files.sort();
}

let failed = false;
const stream = run({ files: testFiles(), concurrency: Math.max(os.availableParallelism() - 1, 1) });
stream.on("test:fail", (data: { details?: { type?: string }; skip?: unknown }) => {
  if (data.details?.type !== "suite") failed = true;
});
(stream.compose(summaryReporter as never) as NodeJS.ReadableStream).pipe(process.stdout);
stream.on("end", () => {
  if (failed) process.exitCode = 1;
});
