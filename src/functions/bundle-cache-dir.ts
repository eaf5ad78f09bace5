import { mkdirSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";

/**
 * Makes this process's own folder for bundles, `<cacheDir>/run-<pid>`, and
 * removes the folders of processes that are gone. Each process has its own
 * folder so that several gateways (tests, a dev server beside `start`) can
 * share one cacheDir without deleting each other's bundles.
 */
export function createBundleCacheDir(cacheDir: string): { dir: string; remove(): void } {
  mkdirSync(cacheDir, { recursive: true });
  for (const entry of readdirSync(cacheDir)) {
    const pid = /^run-(\d+)$/.exec(entry)?.[1];
    if (pid !== undefined && Number(pid) !== process.pid && !isAlive(Number(pid))) {
      rmSync(path.join(cacheDir, entry), { recursive: true, force: true });
    }
  }
  const dir = path.join(cacheDir, `run-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
