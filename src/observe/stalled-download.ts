import type { ServerResponse } from "node:http";
import type { Readable } from "node:stream";

/**
 * Destroys `body` (which ends its response) once the client has taken no
 * byte for `ms` while the response waits for it. A profile counts as
 * running until it has been sent, so a reader that stopped reading would
 * otherwise keep every later profile refused, and its snapshot in memory,
 * for as long as its connection stays open. Time spent making the profile
 * (nothing written yet) does not count.
 */
export function cutWhenStalled(res: ServerResponse, body: Readable, ms: number): void {
  let since = Date.now();
  const moved = () => (since = Date.now());
  const timer = setInterval(() => {
    if (!res.writableNeedDrain) since = Date.now();
    else if (Date.now() - since >= ms) body.destroy(new Error(`the client took nothing for ${ms} ms`));
  }, Math.max(10, Math.min(ms / 4, 1_000)));
  timer.unref();
  res.on("drain", moved);
  body.once("close", () => {
    clearInterval(timer);
    res.off("drain", moved);
  });
}
