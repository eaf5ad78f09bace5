import { readFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type * as esbuild from "esbuild";

/** The name each module's own import.meta values are bound to in a bundle. */
const binding = "__sluiceImportMeta";

/** esbuild `define`s that send import.meta.url, .dirname, .filename and .resolve to each module's binding. */
export const importMetaDefines: Record<string, string> = {
  "import.meta.url": `${binding}.url`,
  "import.meta.dirname": `${binding}.dirname`,
  "import.meta.filename": `${binding}.filename`,
  "import.meta.resolve": `${binding}.resolve`,
};

const loaders: Record<string, esbuild.Loader> = { ".ts": "ts", ".mts": "ts", ".cts": "ts", ".tsx": "tsx", ".js": "js", ".mjs": "js", ".cjs": "js", ".jsx": "jsx" };

/**
 * Makes `import.meta.url`, `import.meta.dirname` and `import.meta.filename`
 * in a bundled module name its source file, not the bundle in the cache
 * folder, so `new URL("./data.json", import.meta.url)` finds the file beside
 * it; `import.meta.resolve` resolves a relative or absolute path against the
 * source file too. Used with `importMetaDefines`.
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
      const url = pathToFileURL(args.path).href;
      const meta = JSON.stringify({ url, dirname: path.dirname(args.path), filename: args.path });
      // A package name (and "node:", "#imports", full URLs) goes to the
      // bundle's own import.meta.resolve, which finds the packages the bundle
      // imports. Reached through import.meta itself: the define above
      // rewrites import.meta.resolve, even as import.meta["resolve"], and the
      // binding would call itself.
      const resolve = `((meta) => (s) => /^\\.{0,2}\\//.test(s) ? new URL(s, ${JSON.stringify(url)}).href : meta.resolve(s))(import.meta)`;
      const declaration = `const ${binding} = { ...${meta}, resolve: ${resolve} };`;
      // A shebang must stay first: it becomes a comment after the declaration.
      const contents = source.startsWith("#!") ? `${declaration}//${source.slice(2)}` : `${declaration}${source}`;
      return { contents, loader };
    });
  },
};
