import { setTimeout as sleep } from "node:timers/promises";

/**
 * Calls `call` until its answer satisfies `ok` (a reload, a restart: the
 * change is asynchronous), 50 ms apart, at most `tries` times; then fails
 * with the last answer and the gateway's output, if one is given.
 */
export async function answerEventually<T>(call: () => Promise<T>, ok: (v: T) => boolean, what: string, opts: { output?: () => string; tries?: number } = {}): Promise<T> {
  let last: unknown;
  for (let i = 0; i < (opts.tries ?? 200); i++) {
    try {
      const v = await call();
      if (ok(v)) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    await sleep(50);
  }
  const shown = last instanceof Error ? String(last) : JSON.stringify(last) ?? String(last);
  throw new Error(`${what} never happened; last answer: ${shown}\n${opts.output?.() ?? ""}`);
}
