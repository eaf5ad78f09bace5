import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  return clockTicks;
}

/** User + system CPU seconds a process has used so far, all its threads included. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which may itself contain spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
}

export interface Memory {
  /** Resident set size now. */
  rssBytes: number;
  /** Highest resident set size since the process started (VmHWM). */
  peakRssBytes: number;
}

export function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rssBytes: kb("VmRSS"), peakRssBytes: kb("VmHWM") };
}

/**
 * CPU seconds of a process and every process under it (the workers of
 * `sluice start --workers N`), from /proc.
 */
export function treeCpuSeconds(pid: number): number {
  let total = 0;
  for (const p of descendantsAndSelf(pid)) {
    try {
      total += cpuSeconds(p);
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/** Resident memory of a process and every process under it. */
export function treeRssBytes(pid: number): number {
  let total = 0;
  for (const p of descendantsAndSelf(pid)) {
    try {
      total += memory(p).rssBytes;
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

function descendantsAndSelf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const visit = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return out;
}
