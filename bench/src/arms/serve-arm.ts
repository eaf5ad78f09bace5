/**
 * What every arm process shares with the harness: the line it waits for
 * (`listening on <url>`, the same shape the gateway prints) and a clean exit
 * on SIGTERM.
 */
export function announce(port: number, close: () => Promise<void> | void): void {
  process.stdout.write(`arm listening on http://127.0.0.1:${port}\n`);
  process.once("SIGTERM", () => {
    // Open streams (a stalled client) must not keep the process alive.
    setTimeout(() => process.exit(0), 2_000).unref();
    Promise.resolve(close()).finally(() => process.exit(0));
  });
}

/** The port a `listen(0)` picked. */
export function portOf(address: ReturnType<import("node:net").Server["address"]>): number {
  if (address === null || typeof address === "string") throw new Error(`not a TCP address: ${String(address)}`);
  return address.port;
}
