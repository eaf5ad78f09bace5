/**
 * Rewrites esbuild's wrappers of bundled CommonJS modules so that V8
 * compiles them eagerly, and Node's compile cache can keep their code.
 *
 * esbuild wraps each CommonJS module (Fastify, pino, ...) in a method:
 *
 *     var require_x = __commonJS({
 *       "node_modules/x/index.js"(exports, module) {
 *         ...
 *       }
 *     });
 *
 * V8 compiles such a function lazily, when it is first called, and Node's
 * compile cache is made when a module is compiled, so the wrappers' code is
 * never in it: every start compiles them again. A parenthesized function
 * expression is one V8 compiles eagerly (its heuristic for functions called
 * at once), so
 *
 *       "node_modules/x/index.js": (function(exports, module) {
 *         ...
 *       })
 *
 * is compiled with the chunk and cached with it: about a tenth of a built
 * artifact's start-up on Node 24 (wrangler-free-deploy/README.md). Lines are
 * kept, so source maps stay right but for a few columns on those lines.
 *
 * The wrapper's end is found by esbuild's layout: the module's own code is
 * indented deeper, so the first line that is exactly "  }" followed by
 * "});" closes it. The caller parses the result and keeps the original if
 * that ever went wrong (a template literal holding such lines).
 */
export function eagerModuleWrappers(code: string): { code: string; wrappers: number } {
  let wrappers = 0;
  const rewritten = code.replace(
    /(= __(commonJS|esm)\(\{\n {2})("[^"\n]+")\(([a-z, ]*)\) \{\n([\s\S]*?)\n {2}\}\n\}\);/g,
    (_match, start: string, _kind: string, name: string, params: string, body: string) => {
      wrappers++;
      return `${start}${name}: (function(${params}) {\n${body}\n  })\n});`;
    },
  );
  return { code: rewritten, wrappers };
}
