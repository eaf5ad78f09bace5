import type { Readable } from "node:stream";
import type { MetricFamily } from "./metric-families.js";
import { Profiler, type ProfileKind } from "./profiler.js";
import { takeSnapshot, type StatusSnapshot } from "./status-board.js";
import type { Telemetry } from "./telemetry.js";

/**
 * What the admin listener reads: this process (LocalSource), or every
 * worker of `--workers N` over IPC (ClusterSource, cluster-admin.ts).
 */
export interface AdminSource {
  /** Processes reporting (the workers serving, or 1). */
  processes(): number;
  /**
   * The metric families to sum: one list per process (under --workers, the
   * counters and histograms come summed already, with what workers that
   * have exited counted, so that the sums never go down).
   */
  families(): Promise<MetricFamily[][]>;
  /** The status counters to sum: one per process (and, under --workers, the exited workers'). */
  snapshots(): Promise<StatusSnapshot[]>;
  /**
   * Starts a profile of one process (`worker`: 1-based, workers only): its
   * JSON, read from the stream at the reader's pace; it counts as running
   * until the stream closes. Throws SLUICE_ADMIN_PROFILE_BUSY while another
   * runs, SLUICE_ADMIN_WORKER_UNAVAILABLE for a worker that is not there;
   * the stream fails with them when the worker answers so.
   */
  profile(kind: ProfileKind, seconds: number, worker: number | undefined): Readable;
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

  profile(kind: ProfileKind, seconds: number): Readable {
    return this.profiler.take(kind, seconds);
  }
}
