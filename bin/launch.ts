// What `npx sluice` runs: build when needed, then the compiled CLI (see sluice.ts).
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { build, buildStamp, projectRoot } from "./build.js";

const buildInput = /\.(ts|proto|json|yaml)$/;

/** Newest modification time of the files the build reads. */
function newestSource(): number {
  let newest = 0;
  const visit = (p: string) => {
    let s;
    try {
      s = statSync(p);
    } catch {
      return;
    }
    if (s.isDirectory()) {
      for (const name of readdirSync(p)) if (name !== "gen" && !name.startsWith(".")) visit(path.join(p, name));
    } else if (buildInput.test(p)) {
      newest = Math.max(newest, s.mtimeMs);
    }
  };
  for (const p of ["src", "proto", "buf.gen.yaml", "tsconfig.json", "tsconfig.build.json", "package.json"]) visit(path.join(projectRoot, p));
  return newest;
}

function builtAt(): number {
  try {
    return statSync(buildStamp).mtimeMs;
  } catch {
    return 0;
  }
}

/** Builds when dist/ is missing or older than its sources, then runs the CLI in this process. */
export async function launch(): Promise<void> {
  if (builtAt() < newestSource() && !build()) process.exit(1);
  // The CLI reads its arguments from process.argv, which already holds them.
  await import(pathToFileURL(path.join(projectRoot, "dist", "src", "cli.js")).href);
}
