import type http from "node:http";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { LimitStats } from "./limit-stats.js";

export interface H1TimeoutOptions {
  /** A request's headers must be complete this long after its first byte. */
  headersTimeoutMs: number;
  /** While a request body is being received, at most this long between bytes. */
  bodyTimeoutMs: number;
  /** A connection with no request for this long is closed. */
  keepAliveTimeoutMs: number;
}

/**
 * Makes the inner HTTP/1.1 server's timeouts fire. That server never
 * listens (the listener hands it sockets), and Node starts the checker of
 * `headersTimeout` on the server's own 'listening' event: without it a
 * slowloris client keeps its connection forever. Emitting 'listening'
 * starts Node's checker (it only sets up connection tracking; the server
 * still accepts no socket of its own). The checker runs every
 * connectionsCheckingInterval, so that is set to a fraction of the timeout.
 * keepAliveTimeout works on handed sockets as it is (Node arms it per
 * socket). The body timeout is Sluice's own: see watchRequestBody.
 */
export function enforceH1Timeouts(server: http.Server, options: H1TimeoutOptions, stats: LimitStats): void {
  server.headersTimeout = options.headersTimeoutMs;
  // Requests may legitimately stream for as long as their deadline allows;
  // deadlines are enforced per call, and bodies by watchRequestBody.
  server.requestTimeout = 0;
  server.keepAliveTimeout = options.keepAliveTimeoutMs;
  (server as { connectionsCheckingInterval?: number }).connectionsCheckingInterval = Math.max(100, Math.min(5_000, Math.floor(options.headersTimeoutMs / 4)));
  server.emit("listening");
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
    if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") stats.count("http1HeadersTimeout");
    // What Node answers when nobody listens for 'clientError': a status for
    // errors before any response, then the connection is closed.
    const answer = answerFor(error.code);
    const responding = (socket as { _httpMessage?: unknown })._httpMessage !== undefined && (socket as { _httpMessage?: unknown })._httpMessage !== null;
    if (answer !== undefined && socket.writable && !responding) socket.end(answer);
    else socket.destroy();
  });
}

function answerFor(code: string | undefined): string | undefined {
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n";
  if (code === "HPE_HEADER_OVERFLOW") return "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n";
  if (code === "HPE_CHUNK_EXTENSIONS_OVERFLOW") return "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n\r\n";
  if (code?.startsWith("HPE_")) return "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";
  return undefined;
}

/**
 * The body timeout of one HTTP/1.1 request: while its body is still being
 * received, the socket may be silent for at most `ms`; then it is closed.
 * A body the gateway itself paused (flow control) does not count as silent.
 * The socket's own inactivity timer does the timing, so this costs no timer
 * of its own; the listeners are shared functions, not closures.
 */
export function watchRequestBody(req: IncomingMessage, ms: number, stats: LimitStats): void {
  if (req.complete) return;
  watched.set(req, { ms, stats, receiving: true });
  req.socket.setTimeout(ms);
  req.on("pause", onBodyPause);
  req.on("resume", onBodyResume);
  req.once("end", onBodyEnd);
  req.once("close", onBodyEnd);
  // With a listener, Node's server leaves a socket timeout to us.
  req.on("timeout", onBodyTimeout);
}

interface Watch {
  ms: number;
  stats: LimitStats;
  /** The body is still arriving. */
  receiving: boolean;
}

const watched = new WeakMap<IncomingMessage, Watch>();

function onBodyPause(this: IncomingMessage): void {
  clearOwnTimeout(this);
}

function onBodyResume(this: IncomingMessage): void {
  const w = watched.get(this);
  if (w?.receiving === true && !this.complete) this.socket?.setTimeout(w.ms);
}

function onBodyEnd(this: IncomingMessage): void {
  const w = watched.get(this);
  if (w === undefined || !w.receiving) return;
  w.receiving = false;
  clearOwnTimeout(this);
}

/**
 * Clears the socket timeout if it is still the body's. Once the response
 * has finished, Node may have armed the keep-alive timeout on the same
 * socket (with its own duration), and that one must stay.
 */
function clearOwnTimeout(req: IncomingMessage): void {
  const w = watched.get(req);
  const socket = req.socket;
  if (w !== undefined && socket !== null && socket.timeout === w.ms) socket.setTimeout(0);
}

function onBodyTimeout(this: IncomingMessage, socket: Socket): void {
  const w = watched.get(this);
  if (w === undefined || !w.receiving) return;
  w.stats.count("http1BodyTimeout");
  socket.destroy();
}
