import { ConnectError, type Interceptor } from "@connectrpc/connect";

/**
 * Ends a call when its signal fires (deadline, client cancel, shutdown),
 * whether or not the handler watches `ctx.signal`. Connect only aborts the
 * signal; a handler that ignores it would otherwise keep a stream open past
 * its deadline. The handler's own promise or generator is left to finish on
 * its own; its outcome is ignored.
 */
export const enforceDeadline: Interceptor = (next) => async (req) => {
  const res = await raceSignal(next(req), req.signal);
  if (!res.stream) return res;
  return { ...res, message: iterateUntilAborted(res.message, req.signal) };
};

function abortError(signal: AbortSignal): ConnectError {
  return ConnectError.from(signal.reason);
}

function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(abortError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => {});
      reject(abortError(signal));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

async function* iterateUntilAborted<T>(iterable: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const it = iterable[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const r = await raceSignal(it.next(), signal);
      if (r.done) {
        finished = true;
        return;
      }
      yield r.value;
    }
  } finally {
    if (!finished) void it.return?.()?.catch(() => {});
  }
}
