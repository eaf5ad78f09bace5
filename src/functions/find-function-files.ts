import { readdir } from "node:fs/promises";
import path from "node:path";

const sourceFile = /\.(ts|mts|js|mjs)$/;
const notFunction = /(\.d\.[cm]?ts|\.test\.[cm]?[jt]s|\.spec\.[cm]?[jt]s)$/;

/**
 * Lists the function files under `dir`, recursively, sorted: every .ts, .mts,
 * .js and .mjs file except declaration files, tests, and files or folders
 * whose name starts with "_" or "." (helpers shared by functions live there,
 * e.g. functions/_lib/rooms.ts) and node_modules.
 */
export async function findFunctionFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  async function walk(folder: string): Promise<void> {
    const entries = await readdir(folder, { withFileTypes: true });
    for (const entry of entries) {
      if (isExcludedName(entry.name)) continue;
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && isFunctionFileName(entry.name)) found.push(full);
    }
  }
  await walk(dir);
  return found.sort();
}

/** Whether a file name (not a path) can be a function file. */
function isFunctionFileName(name: string): boolean {
  return sourceFile.test(name) && !notFunction.test(name) && !isExcludedName(name);
}

function isExcludedName(name: string): boolean {
  return name.startsWith("_") || name.startsWith(".") || name === "node_modules";
}
