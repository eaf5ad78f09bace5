// The reporter `npm test` uses: Node's spec output as it comes, then the
// tests that failed, each with its file and the first lines of its error (so
// the end of a long log says what broke), the tests that were skipped, each
// with its reason (for a missing tool, the command that installs it), and
// one closing line with the counts: "summary: 214 passed, 0 failed, 4 skipped".
import { spec as Spec } from "node:test/reporters";
import type { Transform } from "node:stream";

interface TestEventData {
  name: string;
  file?: string;
  skip?: string | boolean;
  todo?: string | boolean;
  details?: { type?: string; error?: { failureType?: string; message?: string; cause?: unknown } };
}

export default async function* summaryReporter(source: AsyncIterable<{ type: string; data: TestEventData }>): AsyncGenerator<string> {
  const spec = new Spec() as unknown as Transform;
  let pending = "";
  spec.on("data", (chunk: Buffer | string) => (pending += chunk.toString()));
  let passed = 0;
  const failures: string[] = [];
  const skipped: { name: string; reason: string }[] = [];
  for await (const event of source) {
    spec.write(event);
    const d = event.data;
    if ((event.type === "test:pass" || event.type === "test:fail") && d.details?.type !== "suite") {
      if (d.skip !== undefined && d.skip !== false) {
        skipped.push({ name: d.name, reason: d.skip === true ? "skipped" : d.skip });
      } else if (event.type === "test:fail") {
        failures.push(`  - ${d.file ?? "?"}: ${d.name}\n${indentedError(d.details?.error)}`);
      } else if (d.todo === undefined || d.todo === false) {
        passed++;
      }
    }
    if (pending) {
      yield pending;
      pending = "";
    }
  }
  await new Promise<void>((resolve) => spec.end(resolve));
  if (pending) yield pending;
  if (failures.length > 0) yield `\nFailed (${failures.length}):\n${failures.join("")}`;
  if (skipped.length > 0) {
    yield `\nSkipped (${skipped.length}); install what is missing and run npm test again:\n`;
    for (const s of skipped) yield `  - ${s.name}: ${s.reason}\n`;
  }
  yield `\nsummary: ${passed} passed, ${failures.length} failed, ${skipped.length} skipped\n`;
}

/** The first lines of a failure's error (a test's error is wrapped; its cause is the assertion). */
function indentedError(error: { message?: string; cause?: unknown } | undefined): string {
  const cause = error?.cause;
  const text = cause instanceof Error ? cause.message : typeof cause === "string" ? cause : (error?.message ?? "");
  return text
    .split("\n")
    .slice(0, 6)
    .map((line) => `      ${line}\n`)
    .join("");
}
