// `npm run build`: generates code from proto/ and compiles the gateway into
// dist/, printing a line per step so that the seconds before `npm start`
// serves are never silent. tsc is incremental (dist/.tsbuildinfo): a build
// with nothing changed takes a moment, not the full compile.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** Written after a successful build; the launcher compares sources with it. */
export const buildStamp = path.join(projectRoot, "dist", ".build-stamp");

const steps: [label: string, command: string, args: string[]][] = [
  ["generating code from proto/ (buf generate)", "buf", ["generate"]],
  ["compiling the gateway (tsc -p tsconfig.build.json)", "tsc", ["-p", "tsconfig.build.json"]],
];

/** Runs every step; returns false (after printing the tool's output) when one fails. */
export function build(): boolean {
  const bin = path.join(projectRoot, "node_modules", ".bin");
  const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}` };
  for (const [label, command, args] of steps) {
    process.stderr.write(`sluice: ${label}…\n`);
    const started = performance.now();
    const r = spawnSync(command, args, { cwd: projectRoot, env, stdio: ["ignore", "inherit", "inherit"] });
    const took = ((performance.now() - started) / 1000).toFixed(1);
    if (r.status !== 0) {
      process.stderr.write(`sluice: ${label}: failed after ${took} s${r.error ? ` (${r.error.message})` : ""}\n`);
      return false;
    }
    process.stderr.write(`sluice: ${label}: ${took} s\n`);
  }
  mkdirSync(path.dirname(buildStamp), { recursive: true });
  writeFileSync(buildStamp, `${new Date().toISOString()}\n`);
  return true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = build() ? 0 : 1;
}
