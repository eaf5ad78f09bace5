import { setTimeout as sleep } from "node:timers/promises";
import { sluiceError } from "../errors.js";

/** The profiles the admin listener takes. */
export type ProfileKind = "cpu" | "heap-sampling" | "heap-snapshot";

/** Longest CPU or heap-sampling profile, seconds. */
export const maxProfileSeconds = 60;

/** File name suffix of each kind: what Chrome DevTools and speedscope open. */
export const profileFileSuffix: Record<ProfileKind, string> = {
  cpu: ".cpuprofile",
  "heap-sampling": ".heapprofile",
  "heap-snapshot": ".heapsnapshot",
};

/**
 * Profiles of this process, on demand, through node:inspector (no flag, no
 * restart): a CPU profile or a heap-sampling profile over N seconds, or a
 * heap snapshot. One at a time: a second request while one runs gets
 * SLUICE_ADMIN_PROFILE_BUSY. A heap snapshot stops the process while it is
 * written (and needs about as much memory again as the heap); take it from
 * an instance out of rotation.
 */
export class Profiler {
  #running: string | undefined;

  /** Starts a profile; throws SLUICE_ADMIN_PROFILE_BUSY when one is running. `write` gets its JSON text, in pieces. */
  async take(kind: ProfileKind, seconds: number, write: (chunk: string) => void): Promise<void> {
    this.claim(kind, seconds);
    try {
      await profileWith(kind, seconds, write);
    } finally {
      this.release();
    }
  }

  /** Marks a profile as running (the primary of --workers holds it while a worker profiles). */
  claim(kind: ProfileKind, seconds: number): void {
    if (this.#running !== undefined) throw sluiceError("SLUICE_ADMIN_PROFILE_BUSY", { running: this.#running });
    this.#running = kind === "heap-snapshot" ? "a heap snapshot" : `a ${kind} profile of ${seconds} s`;
  }

  release(): void {
    this.#running = undefined;
  }
}

async function profileWith(kind: ProfileKind, seconds: number, write: (chunk: string) => void): Promise<void> {
  // Imported on first use: every gateway has a profiler, few ever profile.
  const { Session } = await import("node:inspector/promises");
  const session = new Session();
  session.connect();
  try {
    if (kind === "cpu") {
      await session.post("Profiler.enable");
      await session.post("Profiler.start");
      await sleep(seconds * 1000);
      const { profile } = await session.post("Profiler.stop");
      write(JSON.stringify(profile));
    } else if (kind === "heap-sampling") {
      await session.post("HeapProfiler.enable");
      await session.post("HeapProfiler.startSampling");
      await sleep(seconds * 1000);
      const { profile } = await session.post("HeapProfiler.stopSampling");
      write(JSON.stringify(profile));
    } else {
      session.on("HeapProfiler.addHeapSnapshotChunk", (m) => write(m.params.chunk));
      await session.post("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
    }
  } finally {
    session.disconnect();
  }
}
