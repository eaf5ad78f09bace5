import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from "node:http";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { Code } from "@connectrpc/connect";
import { rpcError, sluiceError, type SluiceError } from "../errors.js";
import { parseContentType } from "../protocol/content-type.js";
import { grpcWebWire } from "../protocol/grpc-web/grpc-web-wire.js";
import { grpcWebSocketProtocol, WebSocketRequestReader, type WebSocketRequestSink } from "../protocol/grpc-web/websocket-request.js";
import { headerValue } from "../protocol/metadata.js";
import { checkHandshake, isWebSocketUpgrade, offersSubprotocol, switchingProtocols } from "../protocol/websocket/handshake.js";
import type { CallEnv } from "../rpc/call-env.js";
import type { Exchange } from "../rpc/exchange.js";
import { WsExchange } from "../rpc/ws-exchange.js";
import type { Abortable } from "./in-flight.js";
import { WebSocketConnection } from "./websocket-connection.js";

/** Time a new WebSocket has to send its header block. */
const headerBlockTimeoutMs = 10_000;

/** Upgrade-request headers that describe the WebSocket hop, not the call. */
const hopHeaders = new Set(["connection", "upgrade", "content-length", "transfer-encoding", "keep-alive"]);

export interface WebSocketOptions {
  env: CallEnv;
  /** Bound on the header block, as on HTTP request headers. */
  maxHeaderBytes: number;
  /** Keepalive pings; 0: none. */
  pingIntervalMs: number;
  requestId: (headers: IncomingHttpHeaders) => string;
  /** Starts the call, as for an HTTP request (route, protocol checks, draining, admission); `started` gets it. */
  serve: (x: Exchange, rawPath: string, started: (call: Abortable) => void) => void;
}

/**
 * gRPC-Web over WebSocket, on the same port and paths as every RPC: an
 * HTTP/1.1 upgrade that offers the sub-protocol grpc-websockets becomes one
 * call (improbable-eng/grpc-web's websocket transport, whose client works
 * unchanged, and Sluice's own `sluice/web-transport`). Browsers can then do
 * client and bidi streaming, which fetch cannot.
 *
 *   upgrade → handshake checks, Origin against cors.origins → 101 →
 *   header block (first message) → WsExchange → the call, as for HTTP
 *
 * Refusals before the handshake are plain HTTP (400, 403, 426), which a
 * browser reports as a failed connection; everything after it is answered
 * in the protocol: a header frame, a trailer frame with the status, a close.
 */
export class WebSocketUpgrade {
  constructor(private readonly opts: WebSocketOptions) {}

  /** Takes an upgrade request; false when it is not a WebSocket (HTTP/1.1 then serves it as usual). */
  handle(req: IncomingMessage, socket: Socket, head: Buffer): boolean {
    if (!isWebSocketUpgrade(req.headers)) return false;
    socket.on("error", () => socket.destroy());
    const { env } = this.opts;
    const path = req.url ?? "/";
    const origin = headerValue(req.headers.origin);
    // The browser only sees that the connection failed: the reason goes to the log too.
    const refuse = (status: number, error: SluiceError, extraHeaders = "") => {
      env.log.warn({ code: error.code, path, origin }, error.message);
      refuseUpgrade(socket, status, error.message, extraHeaders);
      return true;
    };
    const handshake = checkHandshake(req.method, req.httpVersion, req.headers);
    if ("status" in handshake) {
      return refuse(handshake.status, sluiceError("SLUICE_WEBSOCKET_HANDSHAKE", { path, problem: handshake.reason }), handshake.status === 426 ? "Sec-WebSocket-Version: 13\r\n" : "");
    }
    if (!offersSubprotocol(req.headers, grpcWebSocketProtocol)) {
      return refuse(400, sluiceError("SLUICE_WEBSOCKET_HANDSHAKE", { path, problem: `only gRPC-Web calls are served over WebSocket: offer the sub-protocol ${grpcWebSocketProtocol}` }));
    }
    if (origin !== undefined && !env.cors.allowsOrigin(origin) && !sameOrigin(origin, req.headers.host)) {
      return refuse(403, sluiceError("SLUICE_WEBSOCKET_ORIGIN_REFUSED", { origin, path }));
    }
    socket.write(switchingProtocols(handshake.key, grpcWebSocketProtocol));
    new WebSocketCall(this.opts, req, socket, head);
    return true;
  }
}

/**
 * One upgraded connection: reads the header block, then starts the call
 * and feeds it the client's messages until the connection closes.
 */
class WebSocketCall implements WebSocketRequestSink {
  readonly #opts: WebSocketOptions;
  readonly #req: IncomingMessage;
  readonly #socket: Socket;
  readonly #conn: WebSocketConnection;
  readonly #reader: WebSocketRequestReader;
  #x: WsExchange | undefined;
  #call: Abortable | undefined;
  #broken = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: WebSocketOptions, req: IncomingMessage, socket: Socket, head: Buffer) {
    this.#opts = opts;
    this.#req = req;
    this.#socket = socket;
    this.#reader = new WebSocketRequestReader(opts.maxHeaderBytes);
    this.#timer = setTimeout(() => this.#fail(`no header block within ${headerBlockTimeoutMs / 1000} s of the handshake`, 1008), headerBlockTimeoutMs);
    this.#timer.unref();
    this.#conn = new WebSocketConnection(socket, head, {
      messageStart: (binary) => this.#check(this.#reader.messageStart(binary), binary ? 1002 : 1003),
      messageData: (data) => {
        if (!this.#broken) this.#check(this.#reader.messageData(data, this), 1002);
      },
      messageEnd: () => {
        if (!this.#broken) this.#check(this.#reader.messageEnd(this), 1002);
      },
      closed: () => {
        clearTimeout(this.#timer);
        this.#x?.clientWentAway();
      },
      protocolError: (problem) => {
        // The close frame is on its way: the client hears the code and reason, nothing more.
        this.#broken = true;
        this.#x?.clientWentAway();
        this.#opts.env.log.warn({ code: "SLUICE_WEBSOCKET_PROTOCOL_ERROR", closeCode: problem.closeCode, path: req.url }, problem.reason);
      },
    }, { pingIntervalMs: opts.pingIntervalMs });
  }

  // --- WebSocketRequestSink ------------------------------------------------

  headers(block: IncomingHttpHeaders): void {
    clearTimeout(this.#timer);
    const req = this.#req;
    const headers: IncomingHttpHeaders = {};
    // The upgrade request's own headers (cookies, origin, user agent) carry
    // over; the header block, which the page wrote, wins.
    for (const name in req.headers) {
      if (!hopHeaders.has(name) && !name.startsWith("sec-websocket-")) headers[name] = req.headers[name];
    }
    Object.assign(headers, block);
    const x = this.#exchange(headers);
    const type = parseContentType(headerValue(headers["content-type"]));
    if (type?.protocol !== "grpc-web" || type.text) {
      const given = headerValue(headers["content-type"]);
      this.#fail(`content type ${given === undefined ? "(none)" : JSON.stringify(given)} is not served over WebSocket; send application/grpc-web+proto (or +json) in the header block`, 1003);
      return;
    }
    this.#opts.serve(x, req.url ?? "/", (call) => (this.#call = call));
  }

  data(bytes: Uint8Array): void {
    const x = this.#x!;
    if (!x.ended && !x.clientGone) x.body.feed(bytes);
  }

  end(): void {
    const x = this.#x!;
    if (!x.ended && !x.clientGone) x.body.finish();
  }

  #exchange(headers: IncomingHttpHeaders): WsExchange {
    this.#x = new WsExchange(this.#conn, {
      url: this.#req.url ?? "/",
      headers,
      scheme: (this.#socket as { encrypted?: boolean }).encrypted ? "https" : "http",
      remoteAddress: this.#socket.remoteAddress,
      draining: this.#opts.env.draining,
    });
    return this.#x;
  }

  #check(problem: string | undefined, closeCode: number): void {
    if (problem !== undefined) this.#fail(problem, closeCode);
  }

  /**
   * The client broke the grpc-websockets protocol: the call (or, before
   * there is one, an early answer) ends with INVALID_ARGUMENT, then the
   * connection closes with `closeCode`.
   */
  #fail(problem: string, closeCode: number): void {
    if (this.#broken) return;
    this.#broken = true;
    clearTimeout(this.#timer);
    const { env } = this.#opts;
    const error = rpcError("SLUICE_WEBSOCKET_PROTOCOL_ERROR", Code.InvalidArgument, { problem });
    env.log.warn({ code: "SLUICE_WEBSOCKET_PROTOCOL_ERROR", closeCode, path: this.#req.url }, error.rawMessage);
    const x = this.#x ?? this.#exchange(this.#req.headers);
    if (x.ended || x.clientGone) return;
    x.closeCode = closeCode;
    if (this.#call !== undefined) {
      this.#call.abort(error);
      return;
    }
    // No call: the status in a header frame and a trailer frame, as a call would end.
    const out: OutgoingHttpHeaders = { "x-request-id": this.#opts.requestId(x.headers) };
    grpcWebWire.head(out, true, undefined);
    x.respond(200, out, "body");
    x.end(grpcWebWire.end(error, undefined, true).last);
  }
}

/** A page served by the gateway itself: its Origin names the host it connected to. */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

/** Answers an upgrade with a plain HTTP error and closes the connection. */
function refuseUpgrade(socket: Socket, status: number, message: string, extraHeaders = ""): void {
  const body = `${message}\n`;
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${extraHeaders}\r\n${body}`);
}
