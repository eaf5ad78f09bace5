import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { Socket } from "node:net";
import type { SluiceConfig } from "../config/config.js";
import type { NodeRequest, NodeResponse } from "../protocol/write-rpc-error.js";

type Handler = (req: NodeRequest, res: NodeResponse) => void;

/** The first bytes of every HTTP/2 connection with prior knowledge (RFC 9113 §3.4). */
const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** Time a new connection has to send its first request bytes. */
const firstBytesTimeoutMs = 10_000;

/**
 * The one listening socket and the connections behind it.
 *
 * Cleartext: each connection's first bytes decide; the HTTP/2 preface goes
 * to an h2c server, anything else to an HTTP/1.1 server. With TLS: ALPN
 * decides between h2 and http/1.1 on the same port.
 *
 * It also keeps track of every HTTP/2 session and HTTP/1.1 socket, because
 * closing the listening socket (and Fastify's close()) leaves them open:
 * drain() sends GOAWAY to each session and closes each HTTP/1.1 connection
 * as soon as it has no request in flight.
 */
export class Listener {
  readonly server: net.Server;
  #sessions = new Set<http2.Http2Session>();
  #sockets = new Set<Socket>(); // every accepted connection, for destroyAll()
  #h1Sockets = new Map<Socket, number>(); // socket → requests in flight
  #draining = false;

  constructor(private readonly config: SluiceConfig, handler: Handler, tls?: { key: Buffer; cert: Buffer; ca?: Buffer }) {
    const tracked = this.#trackH1(handler);
    const h2Options: http2.ServerOptions = {
      settings: { maxConcurrentStreams: config.http2.maxConcurrentStreams, maxHeaderListSize: config.maxHeaderBytes },
      maxSessionInvalidFrames: 100,
    };
    if (tls) {
      const secure = http2.createSecureServer({
        ...h2Options,
        allowHTTP1: true,
        key: tls.key,
        cert: tls.cert,
        ...(tls.ca ? { ca: tls.ca } : {}),
        requestCert: config.tls?.requireClientCert ?? false,
        rejectUnauthorized: config.tls?.requireClientCert ?? false,
      }, tracked);
      this.#configureH1(secure as unknown as http.Server);
      secure.on("secureConnection", (socket: Socket & { alpnProtocol?: string | false }) => {
        if (socket.alpnProtocol !== "h2") this.#addH1Socket(socket);
      });
      this.#watchSessions(secure);
      secure.on("connection", (socket: Socket) => this.#addSocket(socket));
      this.server = secure;
    } else {
      const h1 = http.createServer({ maxHeaderSize: config.maxHeaderBytes }, tracked);
      this.#configureH1(h1);
      const h2c = http2.createServer(h2Options, tracked);
      this.#watchSessions(h2c);
      this.server = net.createServer((socket) => {
        this.#addSocket(socket);
        this.#sniff(socket, h1, h2c);
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
    // Read by Node's HTTP/1.1 parser for every connection, including those
    // the TLS server hands over after ALPN chose http/1.1.
    (server as { maxHeaderSize?: number }).maxHeaderSize = this.config.maxHeaderBytes;
    server.keepAliveTimeout = this.config.idleTimeoutMs;
    // Requests may legitimately stream for as long as their deadline allows;
    // deadlines are enforced per call. Only slow headers are cut off here.
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
  }

  #watchSessions(server: http2.Http2Server | http2.Http2SecureServer): void {
    server.on("session", (session: http2.ServerHttp2Session) => {
      this.#sessions.add(session);
      session.once("close", () => this.#sessions.delete(session));
      session.on("error", () => {});
      session.setTimeout(this.config.idleTimeoutMs, () => session.close());
      if (this.#draining) session.close();
    });
  }

  #trackH1(handler: Handler): Handler {
    return (req, res) => {
      if (req.httpVersionMajor >= 2) return handler(req, res);
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
