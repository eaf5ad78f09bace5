import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { cli, launchGateway, root, type RunningGateway } from "./gateway.js";

/** Where the machine keeps Node 24, the artifact's primary target. */
const node24 = "/opt/node24/package/bin/node";

/**
 * The node binary that builds and runs artifacts in the tests: Node 24 where
 * it is installed (or SLUICE_ARTIFACT_NODE), otherwise the one running the tests.
 */
export const artifactNode = process.env.SLUICE_ARTIFACT_NODE ?? (existsSync(node24) ? node24 : process.execPath);

export function nodeVersion(node: string): string {
  return spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim();
}

/**
 * `sluice build --out <out> ...` from the checkout (or `cwd`), with
 * artifactNode. Pass "--set", "typeCheck=off" where the type check (a few
 * seconds) is not what the test is about: it does not change the output.
 */
export function buildArtifact(out: string, args: string[] = [], cwd = root): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(artifactNode, [cli, "build", "--out", out, ...args], { cwd, encoding: "utf8", timeout: 120_000, env: withoutSluiceEnv() });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A folder outside the checkout that any user may enter (mkdtemp makes it 0700). */
export function scratchFolder(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/** Copies a folder and takes every write permission away (files 0444, folders 0555). */
export function copyReadOnly(from: string, to: string): void {
  cpSync(from, to, { recursive: true });
  const lock = (p: string) => {
    if (statSync(p).isDirectory()) {
      for (const name of readdirSync(p)) lock(path.join(p, name));
      chmodSync(p, 0o555);
    } else {
      chmodSync(p, 0o444);
    }
  };
  lock(to);
}

/** Every file of an artifact (or any folder), by relative path with forward slashes, in sorted order. */
export function readTree(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (p: string) => {
    for (const name of readdirSync(p).sort()) {
      const full = path.join(p, name);
      if (statSync(full).isDirectory()) walk(full);
      else files.set(path.relative(dir, full).split(path.sep).join("/"), readFileSync(full));
    }
  };
  walk(dir);
  return files;
}

/** Every file under `dir` with its size and modification time: what a write would change. */
export function snapshotTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const s = statSync(p);
    out.push(`${path.relative(dir, p)} ${s.isDirectory() ? "dir" : s.size} ${s.mtimeMs}`);
    if (s.isDirectory()) for (const name of readdirSync(p).sort()) walk(path.join(p, name));
  };
  walk(dir);
  return out;
}

/**
 * The user artifacts run as: "nobody" (65534) when the tests run as root,
 * as CI does; otherwise the current, already unprivileged, user.
 */
export function unprivilegedUser(): { uid?: number; gid?: number } {
  return process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
}

/** The effective uid of a running process. */
export function effectiveUid(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("Uid:"))!;
  return Number(line.split(/\s+/)[2]);
}

/** Starts `node <artifact>/sluice.mjs <args>` with exactly `env`, from the artifact's folder (or `cwd`). */
export function startArtifact(dir: string, args: string[], env: NodeJS.ProcessEnv, opts: { cwd?: string } = {}): Promise<RunningGateway> {
  return launchGateway(artifactNode, [path.join(dir, "sluice.mjs"), ...args], { cwd: opts.cwd ?? dir, env, ...unprivilegedUser() });
}

/** Runs `node <artifact>/sluice.mjs <args>` to completion. */
export function runArtifact(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(artifactNode, [path.join(dir, "sluice.mjs"), ...args], { cwd: dir, env, encoding: "utf8", timeout: 30_000, ...unprivilegedUser() });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function withoutSluiceEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SLUICE_")));
}
