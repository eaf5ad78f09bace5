import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { root } from "./gateway.js";

/**
 * A scratch functions folder inside the repository (test/.tmp/), so that
 * function files in it resolve "sluice" and node_modules like real ones.
 * Relative imports of generated code are rewritten to absolute paths.
 */
export class TempFunctions {
  readonly dir: string;

  constructor(name: string) {
    this.dir = path.join(root, "test/.tmp", `${name}-${process.pid}-${Date.now().toString(36)}`, "functions");
    mkdirSync(this.dir, { recursive: true });
  }

  /** Writes `file` (relative to the folder) with `content`. */
  write(file: string, content: string): string {
    const full = path.join(this.dir, file);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, content);
    return full;
  }

  /** Copies a function file from the repo, pointing its relative imports at the original folder. */
  copy(from: string, as = path.basename(from), edit: (source: string) => string = (s) => s): string {
    const source = readFileSync(path.join(root, from), "utf8").replace(
      /from "(\.\.?\/[^"]+)"/g,
      (_m, rel: string) => `from "${path.resolve(path.dirname(path.join(root, from)), rel)}"`,
    );
    return this.write(as, edit(source));
  }

  remove(file: string): void {
    rmSync(path.join(this.dir, file), { force: true });
  }

  cleanup(): void {
    rmSync(path.dirname(this.dir), { recursive: true, force: true });
  }
}
