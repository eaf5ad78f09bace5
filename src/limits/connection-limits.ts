import type { Server, Socket } from "node:net";
import type { LimitStats } from "./limit-stats.js";
import type { RefusalLog } from "./refusal-log.js";

export interface ConnectionLimitOptions {
  /** Open connections at most, in total. */
  max: number;
  /** Open connections at most from one client address. */
  maxPerAddress: number;
}

/**
 * Bounds the connections the listening socket accepts, so that one host
 * cannot take every file descriptor: past `max` in total (Node's own
 * server.maxConnections, which closes the socket before any work is done)
 * or past `maxPerAddress` from one address, a new connection is closed at
 * once, counted and logged (rate-limited). Existing connections are
 * untouched. Overload does not refuse connections: nothing is known yet of
 * what a connection will ask, and health probes (a new connection each, for
 * most probers) must keep being answered while new calls are shed.
 */
export class ConnectionLimits {
  readonly #perAddress = new Map<string, number>();
  #open = 0;

  constructor(
    private readonly options: ConnectionLimitOptions,
    private readonly stats: LimitStats,
    private readonly log: RefusalLog,
  ) {}

  /** Installs the total cap on the listening server. */
  install(server: Server): void {
    server.maxConnections = this.options.max;
    server.on("drop", () => {
      this.stats.count("connectionRefusedTotal");
      this.log.note(`connections.max (${this.options.max}) connections are open`);
    });
  }

  /** A connection was accepted; false when it was refused (and destroyed). */
  accept(socket: Socket): boolean {
    const address = socket.remoteAddress ?? "";
    const open = this.#perAddress.get(address) ?? 0;
    if (open >= this.options.maxPerAddress) {
      this.stats.count("connectionRefusedPerAddress");
      this.log.note(`connections.maxPerAddress (${this.options.maxPerAddress}) connections are open from one address`);
      socket.destroy();
      return false;
    }
    this.#perAddress.set(address, open + 1);
    this.#open++;
    socket.once("close", () => {
      this.#open--;
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left === 0) this.#perAddress.delete(address);
      else this.#perAddress.set(address, left);
    });
    return true;
  }

  /** Connections accepted and not yet closed. */
  get open(): number {
    return this.#open;
  }

  /** Client addresses with a connection open. */
  get addresses(): number {
    return this.#perAddress.size;
  }

  /** Open connections from `address` (for tests). */
  openFrom(address: string): number {
    return this.#perAddress.get(address) ?? 0;
  }
}
