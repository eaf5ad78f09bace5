import { execFileSync } from "node:child_process";
import os from "node:os";

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  h2load: string;
  /** 1-minute load average when the run started and ended: a busy shared machine shows here. */
  loadAverage: { start: number; end?: number };
}

export function describeMachine(h2load: string | undefined): Machine {
  let h2loadVersion = "not installed";
  if (h2load) {
    try {
      h2loadVersion = execFileSync(h2load, ["--version"], { encoding: "utf8" }).trim().split("\n")[0] ?? "unknown";
    } catch {
      h2loadVersion = "unknown";
    }
  }
  return {
    cpuModel: os.cpus()[0]?.model.trim() ?? "unknown",
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    h2load: h2loadVersion,
    loadAverage: { start: os.loadavg()[0]! },
  };
}
