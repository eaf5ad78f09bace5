import type { Logger } from "pino";
import { sluiceError } from "../errors.js";

/** At most one line per this long, per kind of refusal. */
const intervalMs = 10_000;

/**
 * Logs refusals (connections refused, calls shed) without letting a flood
 * flood the log: the first refusal after a quiet spell is logged at once,
 * the ones that follow are counted and logged together 10 s later. Shed
 * calls get no line of their own: under overload, a log line per call is
 * more work for a process that is already short of it.
 */
export class RefusalLog {
  readonly #pending = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly code: "SLUICE_CONNECTIONS_REFUSED" | "SLUICE_CALLS_SHED",
  ) {}

  note(reason: string): void {
    if (this.#timer === undefined) {
      this.#write(reason, 1);
      this.#timer = setTimeout(() => this.#flush(), intervalMs);
      this.#timer.unref();
      return;
    }
    this.#pending.set(reason, (this.#pending.get(reason) ?? 0) + 1);
  }

  #flush(): void {
    this.#timer = undefined;
    if (this.#pending.size === 0) return;
    for (const [reason, count] of this.#pending) this.#write(reason, count);
    this.#pending.clear();
    this.#timer = setTimeout(() => this.#flush(), intervalMs);
    this.#timer.unref();
  }

  #write(reason: string, count: number): void {
    const e = sluiceError(this.code, { count, reason });
    this.log.warn({ code: e.code, count, reason }, e.message);
  }
}
