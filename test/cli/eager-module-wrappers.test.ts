import assert from "node:assert/strict";
import { test } from "node:test";
import vm from "node:vm";
import { eagerModuleWrappers } from "../../src/cli/eager-module-wrappers.js";

// The shape esbuild gives bundled CommonJS and lazily initialized ES modules.
const bundled = [
  `var require_a = __commonJS({`,
  `  "node_modules/a/index.js"(exports, module) {`,
  `    module.exports = function a() {`,
  `      return { inner: 1 };`,
  `    };`,
  `  }`,
  `});`,
  `var init_b = __esm({`,
  `  "src/b.ts"() {`,
  `    b = 2;`,
  `  }`,
  `});`,
  `var require_c = __commonJS({`,
  `  "node_modules/c/index.js"(exports) {`,
  `    exports.c = \`text`,
  `  }`,
  `\`;`,
  `  }`,
  `});`,
].join("\n");

test("each wrapper becomes a parenthesized function expression, on the same lines", () => {
  const { code, wrappers } = eagerModuleWrappers(bundled);
  assert.equal(wrappers, 3);
  assert.equal(code.split("\n").length, bundled.split("\n").length, "lines are kept, so source maps stay right");
  assert.match(code, /"node_modules\/a\/index\.js": \(function\(exports, module\) \{\n {4}module\.exports = function a\(\) \{/);
  assert.match(code, /"src\/b\.ts": \(function\(\) \{\n {4}b = 2;\n {2}\}\)\n\}\);/);
});

test("the rewritten code runs as the original does", () => {
  const run = (source: string) => {
    const out: Record<string, unknown> = {};
    vm.runInNewContext(`
      var __getOwnPropNames = Object.getOwnPropertyNames;
      var __commonJS = (cb, mod) => function() { return mod || (0, cb[__getOwnPropNames(cb)[0]])((mod = { exports: {} }).exports, mod), mod.exports; };
      var __esm = (fn, res) => function() { return fn && (res = (0, fn[__getOwnPropNames(fn)[0]])(fn = 0)), res; };
      var b;
      ${source}
      out.a = require_a()(); init_b(); out.b = b; out.c = require_c().c;`, { out });
    return JSON.parse(JSON.stringify(out)) as Record<string, unknown>;
  };
  const before = run(bundled);
  const after = run(eagerModuleWrappers(bundled).code);
  assert.deepEqual(after, before);
  assert.deepEqual(before.a, { inner: 1 });
  assert.equal(before.c, "text\n  }\n");
});

test("code without wrappers is left alone", () => {
  const plain = "export function f() {\n  return 1;\n}\n";
  assert.deepEqual(eagerModuleWrappers(plain), { code: plain, wrappers: 0 });
});
