import type { ConnectError } from "@connectrpc/connect";

/** A call in flight, as shutdown sees it. */
export interface Abortable {
  /** Ends the call now with `error`, whatever its handler is doing. */
  abort(error: ConnectError): void;
}

/**
 * The calls in flight: shutdown waits for them to finish, and ends the ones
 * still running when the drain timeout passes.
 */
export class InFlight {
  #calls = new Set<Abortable>();
  #waiters: (() => void)[] = [];

  get count(): number {
    return this.#calls.size;
  }

  begin(call: Abortable): void {
    this.#calls.add(call);
  }

  end(call: Abortable): void {
    if (!this.#calls.delete(call) || this.#calls.size > 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Ends every call in flight with `error`. */
  abortAll(error: ConnectError): void {
    for (const call of [...this.#calls]) call.abort(error);
  }

  /** Resolves true when no call is in flight, false if `ms` pass first. */
  idle(ms: number): Promise<boolean> {
    if (this.#calls.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== done);
        resolve(false);
      }, ms);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#waiters.push(done);
    });
  }
}
