// The scan behind sluice build's import.meta warning: which text counts as a
// use, and where it is reported.
import assert from "node:assert/strict";
import { test } from "node:test";
import { findImportMetaUses, formatImportMetaWarnings } from "../../src/cli/import-meta-warnings.js";

test("each of url, dirname, filename and resolve is found with its 1-based line and column", () => {
  const source = [
    `const a = new URL("./a.txt", import.meta.url);`,
    `const b = path.join(import.meta.dirname, "b"), c = import.meta.filename;`,
    `const d = import.meta.resolve("./d.js");`,
  ].join("\r\n");
  assert.deepEqual(findImportMetaUses(source), [
    { line: 1, column: 30, property: "url" },
    { line: 2, column: 21, property: "dirname" },
    { line: 2, column: 52, property: "filename" },
    { line: 3, column: 11, property: "resolve" },
  ]);
});

test("optional chaining and a property on its own line count; other properties and other names do not", () => {
  const source = [
    `const a = import.meta?.url;`,
    `const b = import.meta`,
    `  .dirname;`,
    `const c = import.meta.env, d = import.meta.urlish, e = myimport.meta.url, f = import.metadata;`,
  ].join("\n");
  assert.deepEqual(findImportMetaUses(source), [
    { line: 1, column: 11, property: "url" },
    { line: 2, column: 11, property: "dirname" },
  ]);
});

test("no use, no warning text", () => {
  assert.deepEqual(findImportMetaUses(`export const word = "meta";\n`), []);
  assert.equal(formatImportMetaWarnings([]), "");
});
