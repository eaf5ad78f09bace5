import { Code, type ConnectError } from "@connectrpc/connect";
import { rpcError } from "../errors.js";
import type { LimitStats } from "./limit-stats.js";
import type { OverloadMonitor } from "./overload-monitor.js";
import type { StreamPolicy } from "./route-policy.js";

/** Where the queue writes: the call's exchange. */
export interface OutboundSink {
  /** Queues bytes; `cb` runs once they have been taken by the transport (or it failed). */
  write(chunk: Uint8Array, cb: (error?: Error | null) => void): boolean;
  /** Bytes written and not yet taken by the transport. */
  readonly bufferedBytes: number;
  /** Abandons the stream (HTTP/2 RST_STREAM CANCEL, HTTP/1.1 connection reset, WebSocket cut), dropping what it holds. */
  cancel(): void;
}

/**
 * What one waiting response costs besides its bytes: the Buffer object, the
 * stream's queue entry and its callback (measured: about 190 bytes of heap
 * each for small messages). Counting it is what keeps a stream of tiny
 * messages to a client that reads nothing from taking 40 times its byte count.
 */
export const perMessageOverhead = 192;

/**
 * While a write is on its way, messages up to this size are copied into one
 * batch that goes out as a single write when the transport is ready, so
 * that a burst of small messages costs its bytes and not a queue entry
 * each (and fewer, larger writes). Larger messages are written as they are.
 */
const coalesceMaxBytes = 1024;
const firstBatchBytes = 1024;

/**
 * What a stream may hold before its reader has shown that it reads: the
 * budget starts here and doubles each time the transport takes everything
 * the stream had written, up to outboundBufferBytes. A reader that never
 * reads (a zero window, a stopped socket) costs this, not the whole bound.
 */
const firstBudgetBytes = 1024;

/**
 * How long a response that ended with an error may take to leave the
 * transport before the stream is reset (see close()). Its status waits
 * behind responses the client has not read: a client that reads again
 * within this gets the status; one that does not would otherwise hold the
 * stream and its buffer for as long as its connection lives. Short, because
 * the call is over and whatever ended it (slowConsumerMs, a deadline) has
 * already waited; fixed, so that the memory a stopped reader can hold after
 * its call has a known bound in time whatever the route's limits.
 */
export const endGraceMs = 1_000;

/**
 * The responses of one stream on their way to a slow or fast reader,
 * bounded by the memory they take (`outboundBufferBytes`: bytes plus a
 * per-message overhead), whatever the engine behind it (a handler's
 * generator pulled by FunctionCall, or an upstream stream read by a proxy
 * call). The engine calls push(frame) for each framed message; false means
 * "wait for onReady() before the next one". Past the bound, the route's
 * slow-consumer policy applies:
 *
 * - block: push returns false until the reader has taken half the bytes
 *   back (the handler is not pulled, or the upstream not read, meanwhile);
 *   the bound starts small and grows as the reader proves it reads (see
 *   firstBudgetBytes);
 * - drop-oldest: messages not yet handed to the transport wait here and
 *   the oldest are dropped (counted) to make room for the newest; push
 *   returns false only to let the event loop turn once;
 * - cancel: as block, and when the buffer has stayed full for
 *   slowConsumerMs the call ends with RESOURCE_EXHAUSTED (through onLimit).
 *
 * The bytes held count towards the gateway-wide overload.maxBufferedBytes,
 * until the transport has taken them or dropped them: after the call, too,
 * for a response whose end waits behind them.
 * With block and cancel, small messages written while the transport is busy
 * are batched (see coalesceMaxBytes).
 */
export class OutboundQueue {
  readonly #sink: OutboundSink;
  readonly #policy: StreamPolicy;
  readonly #route: string;
  readonly #overload: OverloadMonitor;
  readonly #stats: LimitStats;
  readonly #onLimit: (error: ConnectError) => void;
  /** Writes handed to the transport whose callback has not run yet. */
  #pendingWrites = 0;
  /** block, cancel: small messages waiting for the transport, back to back. */
  #batch: Buffer | undefined;
  #batchBytes = 0;
  /** drop-oldest: messages held back, oldest first, and their bytes. */
  #held: Buffer[] | undefined;
  #heldHead = 0;
  #heldBytes = 0;
  /** What this queue has added to overload.bufferedBytes. */
  #accounted = 0;
  /** block, cancel: the bound now (grows towards outboundBufferBytes as the reader reads). */
  #budget: number;
  #ready: (() => void) | undefined;
  #blockedSince = -1;
  #everBlocked = false;
  #slowTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** After close(failed): armed while the end of the response waits behind unread bytes. */
  #graceTimer: NodeJS.Timeout | undefined;

  constructor(sink: OutboundSink, policy: StreamPolicy, route: string, overload: OverloadMonitor, stats: LimitStats, onLimit: (error: ConnectError) => void) {
    this.#sink = sink;
    this.#policy = policy;
    this.#route = route;
    this.#overload = overload;
    this.#stats = stats;
    this.#onLimit = onLimit;
    this.#budget = Math.min(firstBudgetBytes, policy.outboundBufferBytes);
  }

  /** The memory the waiting responses take, as counted against the bound. */
  get queuedBytes(): number {
    return this.#sink.bufferedBytes + this.#pendingWrites * perMessageOverhead + (this.#batch?.byteLength ?? 0)
      + this.#heldBytes + this.#heldCount * perMessageOverhead;
  }

  /** Hands one framed message on. false: call onReady() and wait before the next. */
  push(frame: Buffer): boolean {
    if (this.#closed) return true;
    if (this.#policy.slowConsumer === "drop-oldest") return this.#pushDropping(frame, this.#policy.outboundBufferBytes);
    if (this.#pendingWrites > 0 && frame.byteLength <= coalesceMaxBytes) {
      this.#append(frame);
    } else {
      this.#flushBatch();
      this.#write(frame);
    }
    const queued = this.#account();
    if (queued < this.#budget) return true;
    this.#block();
    return false;
  }

  /**
   * Hands every message still waiting here (a batch, held messages) to the
   * transport, whatever the bound: the engine calls it before it ends the
   * response, so that the end does not overtake them.
   */
  flush(): void {
    if (this.#closed) return;
    this.#flushBatch();
    const held = this.#held;
    if (held !== undefined) {
      for (let i = this.#heldHead; i < held.length; i++) this.#write(held[i]!);
      this.#held = undefined;
      this.#heldHead = 0;
      this.#heldBytes = 0;
    }
    this.#account();
  }

  /** Calls `cb` once when the producer may go on (at once when it may already, or once closed). */
  onReady(cb: () => void): void {
    if (this.#closed || this.#blockedSince < 0) {
      cb();
      return;
    }
    this.#ready = cb;
  }

  /**
   * The call is over, its end written after the messages (or its client
   * gone): stops the timer and releases a waiting producer. What the
   * transport still holds stays counted until it has been taken or dropped
   * (a reset or a closed connection runs the write callbacks too).
   *
   * `failed` (the call ended with an error): if the transport still holds
   * responses endGraceMs from now, the client is not reading them and will
   * not see the status queued behind them; the stream is then cancelled,
   * which frees them.
   */
  close(failed = false): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#slowTimer);
    this.#held = undefined;
    this.#heldBytes = 0;
    this.#heldHead = 0;
    this.#batch = undefined;
    this.#batchBytes = 0;
    // Counted on while writes are pending; the end frame alone (written
    // after close) is not counted, though the grace below still covers it.
    if (this.#pendingWrites === 0) this.#release();
    else this.#account();
    // The sink's bytes too: the end itself (a gRPC-Web trailer frame, a
    // Connect end-of-stream message) is flow-controlled data that can be
    // the only thing left.
    if (failed && (this.#pendingWrites > 0 || this.#sink.bufferedBytes > 0)) {
      this.#graceTimer = setTimeout(onGraceOver, endGraceMs, this);
      this.#graceTimer.unref();
    }
    this.#wake();
  }

  /** endGraceMs after an error end: what the transport still holds is not being read. */
  graceOver(): void {
    this.#graceTimer = undefined;
    if (this.#pendingWrites === 0 && this.#sink.bufferedBytes === 0) return;
    this.#sink.cancel();
    // The transport has dropped the stream's bytes, whether or not it has run their callbacks yet.
    this.#release();
  }

  /** Gives back everything this queue has counted (once the call is over and the transport took or dropped it). */
  #release(): void {
    this.#overload.bufferedBytes -= this.#accounted;
    this.#accounted = 0;
  }

  get #heldCount(): number {
    return this.#held === undefined ? 0 : this.#held.length - this.#heldHead;
  }

  #write(frame: Buffer): void {
    this.#pendingWrites++;
    this.#sink.write(frame, this.#onWritten);
  }

  #append(frame: Buffer): void {
    let batch = this.#batch;
    const needed = this.#batchBytes + frame.byteLength;
    if (batch === undefined || batch.byteLength < needed) {
      // Its own memory, not a slice of Node's shared pool: a batch that waits
      // long (a reader that stopped) must not keep a pool slab alive.
      // Doubling, but never past the bound: the batch's size is what it costs.
      const grown = Buffer.allocUnsafeSlow(Math.max(needed, Math.min(this.#budget, Math.max(firstBatchBytes, needed * 2))));
      if (batch !== undefined) batch.copy(grown, 0, 0, this.#batchBytes);
      this.#batch = batch = grown;
    }
    frame.copy(batch, this.#batchBytes);
    this.#batchBytes = needed;
  }

  #flushBatch(): void {
    const batch = this.#batch;
    if (batch === undefined || this.#batchBytes === 0) return;
    const bytes = batch.subarray(0, this.#batchBytes);
    this.#batch = undefined;
    this.#batchBytes = 0;
    this.#write(bytes);
  }

  readonly #onWritten = (): void => {
    this.#pendingWrites--;
    if (this.#closed) {
      // The call is over; the transport is letting go of what it held.
      if (this.#pendingWrites > 0) {
        if (this.#accounted !== 0) this.#account();
        return;
      }
      this.#release();
      if (this.#graceTimer !== undefined && this.#sink.bufferedBytes === 0) {
        // Everything was read in time, the end included: nothing to cancel.
        clearTimeout(this.#graceTimer);
        this.#graceTimer = undefined;
      }
      return;
    }
    if (this.#pendingWrites === 0) {
      // The transport took everything: the reader reads, so it may be given more.
      if (this.#budget < this.#policy.outboundBufferBytes) this.#budget = Math.min(this.#policy.outboundBufferBytes, this.#budget * 2);
      this.#flushBatch();
    }
    if (this.#heldCount > 0) this.#flushHeld();
    const queued = this.#account();
    // Woken at half the bound, so that a fast reader does not wake the
    // producer for every message it takes.
    if (this.#blockedSince >= 0 && queued <= this.#budget / 2) this.#unblock();
  };

  #pushDropping(frame: Buffer, limit: number): boolean {
    if (this.#heldCount === 0 && this.#account() < limit) {
      this.#write(frame);
      this.#account();
      return true;
    }
    // The transport is behind: the newest message waits here, the oldest waiting ones make room.
    const held = (this.#held ??= []);
    held.push(frame);
    this.#heldBytes += frame.byteLength;
    let dropped = 0;
    while (this.#heldCount > 1 && this.#account() > limit) {
      const old = held[this.#heldHead]!;
      held[this.#heldHead++] = undefined as never;
      this.#heldBytes -= old.byteLength;
      dropped++;
    }
    if (this.#heldHead > 32 && this.#heldHead * 2 > held.length) {
      this.#held = held.slice(this.#heldHead);
      this.#heldHead = 0;
    }
    this.#account();
    if (!this.#everBlocked) {
      this.#everBlocked = true;
      this.#stats.count("slowConsumerBlocked", this.#route);
    }
    if (dropped > 0) this.#stats.count("slowConsumerDropped", this.#route, dropped);
    // A handler that yields without waiting would otherwise spin: one message per turn of the event loop.
    this.#blockedSince = performance.now();
    setImmediate(unblockSoon, this);
    return false;
  }

  /** drop-oldest: the turn of the event loop after a held message. */
  unblockSoon(): void {
    if (this.#blockedSince >= 0) this.#unblock();
  }

  /** drop-oldest: moves held messages to the transport while it has room. */
  #flushHeld(): void {
    const held = this.#held!;
    const limit = this.#policy.outboundBufferBytes;
    while (this.#heldCount > 0 && this.#sink.bufferedBytes + this.#pendingWrites * perMessageOverhead < limit) {
      const frame = held[this.#heldHead]!;
      held[this.#heldHead++] = undefined as never;
      this.#heldBytes -= frame.byteLength;
      this.#write(frame);
    }
    if (this.#heldCount === 0) {
      this.#held = undefined;
      this.#heldHead = 0;
    }
  }

  /** Brings overload.bufferedBytes up to date with this queue; returns the queued bytes. */
  #account(): number {
    const queued = this.queuedBytes;
    this.#overload.bufferedBytes += queued - this.#accounted;
    this.#accounted = queued;
    return queued;
  }

  #block(): void {
    if (this.#blockedSince >= 0) return;
    this.#blockedSince = performance.now();
    if (!this.#everBlocked) {
      this.#everBlocked = true;
      this.#stats.count("slowConsumerBlocked", this.#route);
    }
    if (this.#policy.slowConsumer === "cancel") this.#armSlowTimer(this.#policy.slowConsumerMs);
  }

  #unblock(): void {
    this.#blockedSince = -1;
    this.#wake();
  }

  #wake(): void {
    const ready = this.#ready;
    if (ready === undefined) return;
    this.#ready = undefined;
    ready();
  }

  #armSlowTimer(ms: number): void {
    clearTimeout(this.#slowTimer);
    this.#slowTimer = setTimeout(onSlowTimer, Math.max(1, Math.ceil(ms)), this);
    this.#slowTimer.unref();
  }

  /** cancel: the buffer may have stayed full for slowConsumerMs. */
  slowTimerFired(): void {
    if (this.#closed || this.#blockedSince < 0) return;
    const ms = this.#policy.slowConsumerMs;
    const blockedFor = performance.now() - this.#blockedSince;
    if (blockedFor + 1 < ms) {
      this.#armSlowTimer(ms - blockedFor);
      return;
    }
    const bytes = this.queuedBytes;
    this.#stats.count("slowConsumerCancelled", this.#route);
    this.#onLimit(rpcError("SLUICE_LIMIT_SLOW_CONSUMER", Code.ResourceExhausted, { route: this.#route, bytes, ms }));
  }
}

// Shared callbacks, not a closure per stream: the queue is passed along.
function unblockSoon(q: OutboundQueue): void {
  q.unblockSoon();
}

function onSlowTimer(q: OutboundQueue): void {
  q.slowTimerFired();
}

function onGraceOver(q: OutboundQueue): void {
  q.graceOver();
}
