import { readFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type * as esbuild from "esbuild";

/** The name each module's own import.meta values are bound to in a bundle. */
const binding = "__sluiceImportMeta";

/** esbuild `define`s that send import.meta.url, .dirname and .filename to each module's binding. */
export const importMetaDefines: Record<string, string> = {
  "import.meta.url": `${binding}.url`,
  "import.meta.dirname": `${binding}.dirname`,
  "import.meta.filename": `${binding}.filename`,
};

const loaders: Record<string, esbuild.Loader> = { ".ts": "ts", ".mts": "ts", ".cts": "ts", ".tsx": "tsx", ".js": "js", ".mjs": "js", ".cjs": "js", ".jsx": "jsx" };

/**
 * Makes `import.meta.url`, `import.meta.dirname` and `import.meta.filename`
 * in a bundled module name its source file, not the bundle in the cache
 * folder, so `new URL("./data.json", import.meta.url)` finds the file beside
 * it. Used with `importMetaDefines`.
 *
 * esbuild's `define` is one value per build, so each module that mentions
 * import.meta gets its own declaration of the binding, in front of its first
 * line (its line numbers, and so its source map, stay as they were); esbuild
 * renames the declarations apart when it puts modules in one file, and each
 * module's uses follow its own.
 */
export const sourceImportMeta: esbuild.Plugin = {
  name: "sluice-source-import-meta",
  setup(build) {
    build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
      if (args.namespace !== "file" || args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const loader = loaders[path.extname(args.path)];
      if (!loader) return undefined;
      const source = await readFile(args.path, "utf8");
      if (!source.includes("import.meta")) return { contents: source, loader };
      const meta = { url: pathToFileURL(args.path).href, dirname: path.dirname(args.path), filename: args.path };
      const declaration = `const ${binding} = ${JSON.stringify(meta)};`;
      // A shebang must stay first: it becomes a comment after the declaration.
      const contents = source.startsWith("#!") ? `${declaration}//${source.slice(2)}` : `${declaration}${source}`;
      return { contents, loader };
    });
  },
};
