/** Something with a deadline: a call. The links are the timer's own bookkeeping. */
export interface Deadlined {
  deadlineAt: number;
  deadlineList: DeadlineList | undefined;
  deadlinePrev: Deadlined | undefined;
  deadlineNext: Deadlined | undefined;
  onDeadline(): void;
}

/** The calls that share one timeout duration, in the order their deadlines come. */
interface DeadlineList {
  durationMs: number;
  head: Deadlined | undefined;
  tail: Deadlined | undefined;
  timer: NodeJS.Timeout | undefined;
}

/**
 * One timer structure for every call's deadline, instead of a timer object
 * per call. Calls with the same timeout duration (most calls share the
 * route's default) join one list, where their deadlines come in the order
 * they were added, so adding and removing are O(1) and allocate nothing:
 * the call itself is the list node. Each list keeps one Node timer armed
 * for its earliest deadline.
 */
export class DeadlineTimers {
  #lists = new Map<number, DeadlineList>();

  /** Number of lists with at least one call (for tests and stats). */
  get lists(): number {
    return this.#lists.size;
  }

  /** Calls `item.onDeadline()` once `ms` have passed, unless removed before. */
  add(item: Deadlined, ms: number): void {
    const durationMs = Math.max(0, Math.ceil(ms));
    item.deadlineAt = performance.now() + durationMs;
    let list = this.#lists.get(durationMs);
    if (list === undefined) {
      list = { durationMs, head: undefined, tail: undefined, timer: undefined };
      this.#lists.set(durationMs, list);
    }
    item.deadlineList = list;
    item.deadlinePrev = list.tail;
    item.deadlineNext = undefined;
    if (list.tail !== undefined) list.tail.deadlineNext = item;
    else {
      list.head = item;
      this.#arm(list, durationMs);
    }
    list.tail = item;
  }

  remove(item: Deadlined): void {
    const list = item.deadlineList;
    if (list === undefined) return;
    const { deadlinePrev: prev, deadlineNext: next } = item;
    if (prev !== undefined) prev.deadlineNext = next;
    else list.head = next;
    if (next !== undefined) next.deadlinePrev = prev;
    else list.tail = prev;
    item.deadlineList = item.deadlinePrev = item.deadlineNext = undefined;
    if (list.head === undefined) this.#drop(list);
    // When the head leaves, the armed timer may fire early; #expire re-arms.
  }

  #arm(list: DeadlineList, ms: number): void {
    list.timer = setTimeout(() => this.#expire(list), ms);
    list.timer.unref();
  }

  #drop(list: DeadlineList): void {
    clearTimeout(list.timer);
    list.timer = undefined;
    this.#lists.delete(list.durationMs);
  }

  #expire(list: DeadlineList): void {
    list.timer = undefined;
    const now = performance.now();
    // Timers may fire a little early relative to performance.now(); allow 1 ms.
    while (list.head !== undefined && list.head.deadlineAt <= now + 1) {
      const item = list.head;
      this.remove(item);
      item.onDeadline();
    }
    if (list.head !== undefined && this.#lists.get(list.durationMs) === list) {
      this.#arm(list, list.head.deadlineAt - now);
    }
  }
}
