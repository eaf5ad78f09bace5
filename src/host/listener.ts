import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { Socket } from "node:net";
import tls from "node:tls";
import type { SluiceConfig } from "../config/config.js";
import type { RpcDispatch } from "./rpc-dispatch.js";

/** The first bytes of every HTTP/2 connection with prior knowledge (RFC 9113 §3.4). */
const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** Time a new connection has to send its first request bytes. */
const firstBytesTimeoutMs = 10_000;

/**
 * The one listening socket and the connections behind it.
 *
 * Behind the port are two servers that never listen themselves: an
 * HTTP/1.1 server and an HTTP/2 server, each handed the connections that
 * speak its version. Cleartext: each connection's first bytes decide (the
 * HTTP/2 preface goes to HTTP/2, anything else to HTTP/1.1). With TLS:
 * ALPN decides, h2 or http/1.1.
 *
 * HTTP/2 streams go to RpcDispatch.onStream directly (no compatibility
 * request objects are made for RPCs), HTTP/1.1 requests to onRequest, and
 * HTTP/1.1 upgrades (WebSockets) to onUpgrade.
 *
 * It also keeps track of every HTTP/2 session and HTTP/1.1 socket, because
 * closing the listening socket leaves them open: drain() sends GOAWAY to
 * each session and closes each HTTP/1.1 connection as soon as it has no
 * request in flight.
 */
export class Listener {
  readonly server: net.Server;
  #sessions = new Set<http2.Http2Session>();
  #sockets = new Set<Socket>(); // every accepted connection, for destroyAll()
  #h1Sockets = new Map<Socket, number>(); // socket → requests in flight
  #draining = false;

  constructor(private readonly config: SluiceConfig, dispatch: RpcDispatch, tlsFiles?: { key: Buffer; cert: Buffer; ca?: Buffer }) {
    const h1 = http.createServer({ maxHeaderSize: config.maxHeaderBytes }, this.#trackH1(dispatch.onRequest));
    this.#configureH1(h1);
    h1.on("upgrade", (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
      // A WebSocket is one call that lives as long as it does: the drain
      // waits for the call instead of closing the connection when idle.
      if (dispatch.onUpgrade(req, socket, head)) this.#h1Sockets.delete(socket);
      else serveWithoutUpgrade(h1, req, socket, head);
    });
    const h2 = http2.createServer({
      settings: { maxConcurrentStreams: config.http2.maxConcurrentStreams, maxHeaderListSize: config.maxHeaderBytes },
      maxSessionInvalidFrames: 100,
    });
    h2.on("stream", dispatch.onStream);
    this.#watchSessions(h2);
    if (tlsFiles) {
      const requireClientCert = config.tls?.requireClientCert ?? false;
      this.server = tls.createServer({
        key: tlsFiles.key,
        cert: tlsFiles.cert,
        ...(tlsFiles.ca ? { ca: tlsFiles.ca } : {}),
        requestCert: requireClientCert,
        rejectUnauthorized: requireClientCert,
        ALPNProtocols: ["h2", "http/1.1"],
      }, (socket) => {
        if (socket.alpnProtocol === "h2") {
          h2.emit("connection", socket);
        } else {
          this.#addH1Socket(socket);
          h1.emit("connection", socket);
        }
      });
      this.server.on("connection", (socket: Socket) => this.#addSocket(socket));
      this.server.on("tlsClientError", (_e, socket) => socket.destroy());
    } else {
      this.server = net.createServer((socket) => {
        this.#addSocket(socket);
        this.#sniff(socket, h1, h2);
      });
    }
  }

  /**
   * Stops new calls on existing connections: GOAWAY to every HTTP/2 session
   * (its open streams finish), and HTTP/1.1 connections close once idle.
   */
  drain(): void {
    this.#draining = true;
    for (const session of this.#sessions) if (!session.closed) session.close();
    for (const [socket, active] of this.#h1Sockets) if (active === 0) socket.end();
  }

  /** Closes every connection now, calls in flight or not. */
  destroyAll(): void {
    for (const session of this.#sessions) session.destroy();
    // A session that already sent GOAWAY may wait for its peer before it
    // lets go of the socket; the drain is over, so close the sockets too.
    for (const socket of this.#sockets) socket.destroy();
  }

  #addSocket(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
  }

  #configureH1(server: http.Server): void {
    server.keepAliveTimeout = this.config.idleTimeoutMs;
    // Requests may legitimately stream for as long as their deadline allows;
    // deadlines are enforced per call. Only slow headers are cut off here.
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
  }

  #watchSessions(server: http2.Http2Server): void {
    server.on("session", (session: http2.ServerHttp2Session) => {
      this.#sessions.add(session);
      session.once("close", () => this.#sessions.delete(session));
      session.on("error", () => {});
      session.setTimeout(this.config.idleTimeoutMs, () => session.close());
      if (this.#draining) session.close();
    });
  }

  #trackH1(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): (req: http.IncomingMessage, res: http.ServerResponse) => void {
    return (req, res) => {
      const socket = req.socket;
      this.#h1Sockets.set(socket, (this.#h1Sockets.get(socket) ?? 0) + 1);
      if (this.#draining) res.setHeader("connection", "close");
      res.once("close", () => {
        const active = this.#h1Sockets.get(socket);
        if (active === undefined) return; // the socket is gone already
        const left = active - 1;
        this.#h1Sockets.set(socket, left);
        if (this.#draining && left === 0) socket.end();
      });
      handler(req, res);
    };
  }

  #addH1Socket(socket: Socket): void {
    if (!this.#h1Sockets.has(socket)) this.#h1Sockets.set(socket, 0);
    socket.once("close", () => this.#h1Sockets.delete(socket));
  }

  /** Reads until the bytes seen so far either are or cannot be the h2 preface. */
  #sniff(socket: Socket, h1: http.Server, h2c: http2.Http2Server): void {
    let seen: Buffer = Buffer.alloc(0);
    const onError = () => socket.destroy();
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, preface.length);
      const isH2 = seen.subarray(0, n).equals(preface.subarray(0, n));
      if (isH2 && seen.length < preface.length) return;
      socket.off("data", onData);
      socket.off("error", onError);
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(seen);
      if (isH2) {
        // The h2 session reads what is buffered on the next tick; resuming
        // here would hand those bytes to a 'data' listener instead.
        h2c.emit("connection", socket);
      } else {
        this.#addH1Socket(socket);
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("error", onError);
    socket.setTimeout(firstBytesTimeoutMs, () => socket.destroy());
  }
}

/**
 * An upgrade the gateway does not take (e.g. curl's Upgrade: h2c on a
 * cleartext HTTP/1.1 request) is served as plain HTTP/1.1, as it would be
 * without an upgrade listener: Node has already consumed the request head,
 * so it is written back without the upgrade and the socket starts over.
 */
function serveWithoutUpgrade(h1: http.Server, req: http.IncomingMessage, socket: Socket, head: Buffer): void {
  const dropped = new Set(["upgrade", "http2-settings"]);
  let text = `${req.method ?? "GET"} ${req.url ?? "/"} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (dropped.has(lower)) continue;
    let value = raw[i + 1]!;
    if (lower === "connection") {
      value = value.split(",").map((t) => t.trim()).filter((t) => !dropped.has(t.toLowerCase())).join(", ");
      if (value === "") continue;
    }
    text += `${name}: ${value}\r\n`;
  }
  socket.unshift(Buffer.concat([Buffer.from(`${text}\r\n`, "latin1"), head]));
  h1.emit("connection", socket);
}
