import type { MetricFamily } from "./metric-families.js";
import { Profiler, type ProfileKind } from "./profiler.js";
import { takeSnapshot, type StatusSnapshot } from "./status-board.js";
import type { Telemetry } from "./telemetry.js";

/**
 * What the admin listener reads: this process (LocalSource), or every
 * worker of `--workers N` over IPC (ClusterSource, cluster-admin.ts).
 */
export interface AdminSource {
  /** Processes reporting (the workers, or 1). */
  processes(): number;
  /** The metric families of each process. */
  families(): Promise<MetricFamily[][]>;
  /** Each process's status counters. */
  snapshots(): Promise<StatusSnapshot[]>;
  /**
   * Takes a profile of one process (`worker`: 1-based, workers only) and
   * writes its JSON. Throws SLUICE_ADMIN_PROFILE_BUSY while another runs,
   * SLUICE_ADMIN_WORKER_UNAVAILABLE for a worker that is not there.
   */
  profile(kind: ProfileKind, seconds: number, worker: number | undefined, write: (chunk: string) => void): Promise<void>;
}

/** The admin listener's view of the process it runs in. */
export class LocalSource implements AdminSource {
  readonly #telemetry: Telemetry;
  readonly profiler = new Profiler();

  constructor(telemetry: Telemetry) {
    this.#telemetry = telemetry;
  }

  processes(): number {
    return 1;
  }

  async families(): Promise<MetricFamily[][]> {
    return [await this.#telemetry.families()];
  }

  async snapshots(): Promise<StatusSnapshot[]> {
    return [this.snapshot()];
  }

  snapshot(): StatusSnapshot {
    const metrics = this.#telemetry.metrics;
    if (metrics === undefined) return { at: Date.now(), pid: process.pid, routes: [], upstreams: [] };
    return takeSnapshot(metrics, this.#telemetry.upstreams);
  }

  profile(kind: ProfileKind, seconds: number, _worker: number | undefined, write: (chunk: string) => void): Promise<void> {
    return this.profiler.take(kind, seconds, write);
  }
}
