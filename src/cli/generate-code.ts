import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

/** How this project turns proto/ into generated code, if it says. */
export interface CodeGenerator {
  /** Shown to people: `npm run generate` (buf generate) or `buf generate`. */
  description: string;
  command: string;
}

/**
 * The project's own generate script (package.json "generate", which is what
 * `npm run generate` runs), or `buf generate` when there is a buf.gen.yaml.
 */
export function findCodeGenerator(cwd: string): CodeGenerator | undefined {
  try {
    const pkg = JSON.parse(readFileSync(path.join(cwd, "package.json"), "utf8")) as { scripts?: Record<string, string> };
    const script = pkg.scripts?.generate;
    if (script) return { description: `npm run generate (${script})`, command: script };
  } catch {
    // no package.json: fall back to buf's own config
  }
  if (existsSync(path.join(cwd, "buf.gen.yaml"))) return { description: "buf generate", command: "buf generate" };
  return undefined;
}

/**
 * Runs the generator the way npm runs a script (a shell, with every
 * node_modules/.bin up the tree on PATH) without npm's own start-up time.
 */
export function runCodeGenerator(gen: CodeGenerator, cwd: string, timeoutMs = 120_000): Promise<{ ok: boolean; output: string }> {
  const bins: string[] = [];
  for (let d = cwd; ; d = path.dirname(d)) {
    bins.push(path.join(d, "node_modules", ".bin"));
    if (path.dirname(d) === d) break;
  }
  return new Promise((resolve) => {
    const child = spawn("sh", ["-c", gen.command], {
      cwd,
      env: { ...process.env, PATH: [...bins, process.env.PATH ?? ""].join(path.delimiter) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ ok: false, output: e.message });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ ok: code === 0, output: (output.trim() || (signal ? `killed by ${signal}` : `exit code ${code}`)).slice(0, 4000) });
    });
  });
}
