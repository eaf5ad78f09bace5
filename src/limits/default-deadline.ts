import { Code, ConnectError } from "@connectrpc/connect";

/**
 * The deadline of a call whose client sent none (config defaultTimeoutMs).
 * The returned signal replaces the request's own signal: it fires when that
 * one does (the client went away) or, with DEADLINE_EXCEEDED, after `ms`.
 * Connect links it into `ctx.signal`, so the call ends exactly as at a client
 * deadline, while `ctx.timeoutMs()` stays undefined: the handler is not told
 * of a deadline the client never set, and does not pass one on upstream.
 * `clear()` stops the timer once the call is over.
 */
export function defaultDeadline(requestSignal: AbortSignal, ms: number): { signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  const onAbort = () => controller.abort(requestSignal.reason);
  if (requestSignal.aborted) onAbort();
  else requestSignal.addEventListener("abort", onAbort, { once: true });
  // The message Connect uses for a client deadline, so clients see one error for both.
  const timer = setTimeout(() => controller.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)), ms);
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer);
      requestSignal.removeEventListener("abort", onAbort);
    },
  };
}
