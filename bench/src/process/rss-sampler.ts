import type { ServerProcess } from "./server-process.js";

/** Samples a server's RSS until stopped; returns the highest sample, in bytes. */
export function sampleRss(server: ServerProcess, everyMs = 200): { stop(): number } {
  let peak = server.memory().rssBytes;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, server.memory().rssBytes);
    } catch {
      // the process is gone; the caller finds out
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      try {
        peak = Math.max(peak, server.memory().rssBytes);
      } catch {
        // as above
      }
      return peak;
    },
  };
}
