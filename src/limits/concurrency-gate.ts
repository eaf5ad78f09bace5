import type { ConnectError } from "@connectrpc/connect";

/** A call waiting for a slot; told once, one way or the other. */
export interface GateWaiter {
  /** A slot is now the waiter's (release it like any other). */
  admitted(): void;
  /** The wait is over without a slot: the queue timed out, or shutdown began. */
  refused(error: ConnectError): void;
}

interface Entry {
  waiter: GateWaiter | undefined;
  at: number;
}

/**
 * maxConcurrent slots of one route, with an optional bounded FIFO of calls
 * waiting for one. A slot taken without waiting costs an increment; the
 * queue and its timer exist only while calls wait. Every entry waits the
 * same `timeoutMs`, so the queue is also in deadline order and one timer,
 * armed for its head, serves all of them.
 */
export class ConcurrencyGate {
  /** Slots in use. */
  active = 0;
  #queue: Entry[] = [];
  #head = 0;
  /** Live entries (withdrawn ones stay in the array until they reach the head). */
  #waiting = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly max: number,
    readonly queueSize: number,
    readonly timeoutMs: number,
    /** The error a waiter gets when its wait ends without a slot. */
    private readonly expiredError: (reason: "timeout" | "closed") => ConnectError,
  ) {}

  get waiting(): number {
    return this.#waiting;
  }

  /** Takes a slot if one is free. */
  tryAcquire(): boolean {
    if (this.active >= this.max || this.#waiting > 0) return false;
    this.active++;
    return true;
  }

  /** Joins the queue; false when it is full (or there is none). */
  enqueue(waiter: GateWaiter): boolean {
    if (this.#waiting >= this.queueSize) return false;
    this.#queue.push({ waiter, at: performance.now() });
    this.#waiting++;
    if (this.#timer === undefined) this.#arm(this.timeoutMs);
    return true;
  }

  /** A waiter that no longer wants its slot (its client went away). */
  withdraw(waiter: GateWaiter): void {
    for (let i = this.#head; i < this.#queue.length; i++) {
      const e = this.#queue[i]!;
      if (e.waiter !== waiter) continue;
      e.waiter = undefined;
      this.#waiting--;
      this.#compact();
      return;
    }
  }

  /** Gives a slot back: to the first waiter, or to the pool. */
  release(): void {
    for (;;) {
      const e = this.#shift();
      if (e === undefined) {
        this.active--;
        return;
      }
      if (e.waiter === undefined) continue;
      // The slot passes straight to the waiter: `active` does not change.
      e.waiter.admitted();
      return;
    }
  }

  /** Ends every wait (shutdown). */
  close(): void {
    for (let e = this.#shift(); e !== undefined; e = this.#shift()) e.waiter?.refused(this.expiredError("closed"));
  }

  #shift(): Entry | undefined {
    while (this.#head < this.#queue.length) {
      const e = this.#queue[this.#head++]!;
      if (e.waiter === undefined) continue;
      this.#waiting--;
      this.#compact();
      return e;
    }
    this.#compact();
    return undefined;
  }

  /** Drops the consumed front of the array once it is the bigger part. */
  #compact(): void {
    if (this.#waiting === 0) {
      this.#queue = [];
      this.#head = 0;
      clearTimeout(this.#timer);
      this.#timer = undefined;
    } else if (this.#head > 64 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#expire(), Math.max(1, Math.ceil(ms)));
    this.#timer.unref();
  }

  #expire(): void {
    this.#timer = undefined;
    const now = performance.now();
    for (;;) {
      while (this.#head < this.#queue.length && this.#queue[this.#head]!.waiter === undefined) this.#head++;
      const e = this.#queue[this.#head];
      if (e === undefined) break;
      // Timers may fire a little early relative to performance.now(); allow 1 ms.
      const left = e.at + this.timeoutMs - now;
      if (left > 1) {
        this.#arm(left);
        break;
      }
      this.#head++;
      this.#waiting--;
      e.waiter!.refused(this.expiredError("timeout"));
    }
    this.#compact();
  }
}
