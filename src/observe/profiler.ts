import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { getHeapSnapshot } from "node:v8";
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
 * Profiles of this process, on demand (no flag, no restart): a CPU profile
 * or a heap-sampling profile over N seconds, through node:inspector, or a
 * heap snapshot. One at a time: a second request while one runs, or while
 * the last one is still being sent, gets SLUICE_ADMIN_PROFILE_BUSY. A heap
 * snapshot stops the process while it is taken (and needs about as much
 * memory again as the heap); take it from an instance out of rotation.
 */
export class Profiler {
  #running: string | undefined;

  /**
   * Starts a profile; throws SLUICE_ADMIN_PROFILE_BUSY when one is running.
   * Its JSON is read from the stream, at the reader's pace. The profile
   * counts as running until the stream closes (read to its end, or
   * destroyed because its reader went away): a snapshot still waiting for
   * a slow reader holds its memory, and a second one would hold as much again.
   */
  take(kind: ProfileKind, seconds: number): Readable {
    this.claim(kind, seconds);
    let profile: Readable;
    try {
      profile = kind === "heap-snapshot" ? getHeapSnapshot() : sampled(kind, seconds);
    } catch (e) {
      this.release();
      throw e;
    }
    profile.once("close", () => this.release());
    return profile;
  }

  /** Marks a profile as running (the primary of --workers holds it while a worker's profile is sent). */
  claim(kind: ProfileKind, seconds: number): void {
    if (this.#running !== undefined) throw sluiceError("SLUICE_ADMIN_PROFILE_BUSY", { running: this.#running });
    this.#running = kind === "heap-snapshot" ? "a heap snapshot" : `a ${kind} profile of ${seconds} s`;
  }

  release(): void {
    this.#running = undefined;
  }
}

/** A CPU or heap-sampling profile over `seconds`: one JSON chunk at the end. Destroying the stream stops the profile at once. */
function sampled(kind: "cpu" | "heap-sampling", seconds: number): Readable {
  const stop = new AbortController();
  const out = new Readable({
    read() {},
    destroy(e, done) {
      stop.abort();
      done(e);
    },
  });
  sample(kind, seconds, stop.signal).then(
    (json) => {
      if (out.destroyed) return;
      out.push(json);
      out.push(null);
    },
    (e: unknown) => out.destroy(e instanceof Error ? e : new Error(String(e))),
  );
  return out;
}

async function sample(kind: "cpu" | "heap-sampling", seconds: number, signal: AbortSignal): Promise<string> {
  // Imported on first use: every gateway has a profiler, few ever profile.
  const { Session } = await import("node:inspector/promises");
  const session = new Session();
  session.connect();
  try {
    if (kind === "cpu") {
      await session.post("Profiler.enable");
      await session.post("Profiler.start");
      await sleep(seconds * 1000, undefined, { signal });
      const { profile } = await session.post("Profiler.stop");
      return JSON.stringify(profile);
    }
    await session.post("HeapProfiler.enable");
    await session.post("HeapProfiler.startSampling");
    await sleep(seconds * 1000, undefined, { signal });
    const { profile } = await session.post("HeapProfiler.stopSampling");
    return JSON.stringify(profile);
  } finally {
    // Disconnecting stops a profile still running (its reader went away).
    session.disconnect();
  }
}
