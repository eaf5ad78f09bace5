// The reporter `npm test` uses: Node's spec output as it comes, then the
// tests that were skipped, each with its reason (for a missing tool, the
// command that installs it), and one closing line with the counts:
// "summary: 214 passed, 0 failed, 4 skipped".
import { spec as Spec } from "node:test/reporters";
import type { Transform } from "node:stream";

interface TestEventData {
  name: string;
  skip?: string | boolean;
  todo?: string | boolean;
  details?: { type?: string; error?: { failureType?: string } };
}

export default async function* summaryReporter(source: AsyncIterable<{ type: string; data: TestEventData }>): AsyncGenerator<string> {
  const spec = new Spec() as unknown as Transform;
  let pending = "";
  spec.on("data", (chunk: Buffer | string) => (pending += chunk.toString()));
  let passed = 0;
  let failed = 0;
  const skipped: { name: string; reason: string }[] = [];
  for await (const event of source) {
    spec.write(event);
    const d = event.data;
    if ((event.type === "test:pass" || event.type === "test:fail") && d.details?.type !== "suite") {
      if (d.skip !== undefined && d.skip !== false) {
        skipped.push({ name: d.name, reason: d.skip === true ? "skipped" : d.skip });
      } else if (event.type === "test:fail") {
        failed++;
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
  if (skipped.length > 0) {
    yield `\nSkipped (${skipped.length}); install what is missing and run npm test again:\n`;
    for (const s of skipped) yield `  - ${s.name}: ${s.reason}\n`;
  }
  yield `\nsummary: ${passed} passed, ${failed} failed, ${skipped.length} skipped\n`;
}
