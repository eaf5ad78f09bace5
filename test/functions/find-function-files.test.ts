import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { findFunctionFiles } from "../../src/functions/find-function-files.js";

test("function files: .ts/.mts/.js/.mjs, recursively, minus helpers, tests and declarations", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sluice-find-"));
  try {
    for (const f of ["a.ts", "b.mjs", "c.js", "d.mts", "nested/e.ts", "_helper.ts", "_lib/f.ts", ".hidden/g.ts", "h.d.ts", "i.test.ts", "j.spec.js", "readme.md", "node_modules/k.js"]) {
      mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      writeFileSync(path.join(dir, f), "");
    }
    const found = (await findFunctionFiles(dir)).map((f) => path.relative(dir, f));
    assert.deepEqual(found, ["a.ts", "b.mjs", "c.js", "d.mts", "nested/e.ts"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
