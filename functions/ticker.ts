// Server streaming: a market ticker.
//
// Streams a price tick for each requested symbol every interval until the
// client cancels or the call's deadline passes. When the server starts to
// shut down, the stream ends with UNAVAILABLE so that the client subscribes
// again on another instance instead of holding up the drain. Prices are a
// random walk: this is a demo feed, but the shape (validate, then loop on
// ctx.signal) is the one a real feed has.
import { setTimeout as sleep } from "node:timers/promises";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, defineFunction, rpcContextKey } from "sluice";
import { TickerService } from "../proto/gen/ticker/v1/ticker_pb.js";

const symbolPattern = /^[A-Z]{1,8}$/;

export default defineFunction({
  service: TickerService,
  implementation: {
    async *subscribe(req, ctx) {
      if (req.symbols.length === 0 || req.symbols.length > 20) {
        throw new ConnectError("symbols: give 1 to 20 symbols", Code.InvalidArgument);
      }
      const bad = req.symbols.find((s) => !symbolPattern.test(s));
      if (bad !== undefined) {
        throw new ConnectError(`symbols: "${bad}" is not 1 to 8 upper-case letters`, Code.InvalidArgument);
      }
      const intervalMs = req.intervalMs === 0 ? 1000 : req.intervalMs;
      if (intervalMs < 10 || intervalMs > 60_000) {
        throw new ConnectError("interval_ms: must be 0 (1000 ms) or 10 to 60000", Code.InvalidArgument);
      }
      const prices = new Map(req.symbols.map((s) => [s, startingPrice(s)]));
      const draining = ctx.values.get(rpcContextKey)?.draining ?? new AbortController().signal;
      const wakeUp = AbortSignal.any([ctx.signal, draining]);
      let sequence = 0n;
      while (!ctx.signal.aborted) {
        if (draining.aborted) throw new ConnectError("the server is restarting; subscribe again", Code.Unavailable);
        for (const [symbol, price] of prices) {
          // A random walk of at most ±0.5% per tick, never below one cent.
          const next = BigInt(Math.max(10_000, Math.round(Number(price) * (1 + (Math.random() - 0.5) / 100))));
          prices.set(symbol, next);
          yield { symbol, priceMicros: next, sequence: ++sequence, time: timestampNow() };
        }
        try {
          await sleep(intervalMs, undefined, { signal: wakeUp });
        } catch {
          // Cancelled or past the deadline (the gateway reports which), or
          // draining (the loop reports it).
        }
      }
    },
  },
});

/** A stable starting price per symbol, between 10 and 500 units. */
function startingPrice(symbol: string): bigint {
  let h = 0;
  for (const c of symbol) h = (h * 31 + c.charCodeAt(0)) % 49_000;
  return BigInt((h + 1_000) * 10_000);
}
