import { timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import { sluiceError, SluiceError, type ErrorCode } from "../errors.js";
import { noSchemaCompilers } from "../host/no-schema-compilers.js";
import type { AdminSource } from "./admin-source.js";
import { openMetricsContentType, prometheusContentType, renderMetrics } from "./render-metrics.js";
import { maxProfileSeconds, profileFileSuffix, type ProfileKind } from "./profiler.js";
import { cutWhenStalled } from "./stalled-download.js";
import { StatusBoard, mergeSnapshots } from "./status-board.js";
import { statusPage } from "./status-page.js";

export interface AdminServerOptions {
  host: string;
  port: number;
  /** Required on every endpoint but the status page's HTML when set. */
  token: string | undefined;
  source: AdminSource;
}

/** HTTP status of each admin error. */
const statusOf: Partial<Record<ErrorCode, number>> = {
  SLUICE_ADMIN_UNAUTHORIZED: 401,
  SLUICE_ADMIN_PROFILE_BUSY: 409,
  SLUICE_ADMIN_BAD_REQUEST: 400,
  SLUICE_ADMIN_WORKER_UNAVAILABLE: 503,
};

/**
 * The admin listener (admin.port), apart from the RPC port:
 *
 *   GET /                       the status page (HTML; polls /status.json every second)
 *   GET /status.json            routes (calls/s, error rate, p50/p99, open streams, rejections) and upstream pools
 *   GET /metrics                Prometheus text, or OpenMetrics when the Accept header asks for it
 *   GET /debug/profile/cpu?seconds=N             a .cpuprofile (Chrome DevTools, speedscope)
 *   GET /debug/profile/heap-sampling?seconds=N   a .heapprofile
 *   GET /debug/profile/heap-snapshot             a .heapsnapshot
 *
 * Profiles take `worker=N` under --workers. With a token, every endpoint
 * but the page itself wants "Authorization: Bearer <token>".
 */
export class AdminServer {
  readonly app: FastifyInstance;
  readonly #opts: AdminServerOptions;
  readonly #board = new StatusBoard();

  constructor(opts: AdminServerOptions) {
    this.#opts = opts;
    const app = (this.app = Fastify({ logger: false, forceCloseConnections: true, schemaController: noSchemaCompilers }));
    const token = opts.token === undefined ? undefined : Buffer.from(opts.token);
    app.addHook("onRequest", async (req, reply) => {
      if (token === undefined || req.url === "/" || req.url.startsWith("/?")) return;
      const given = Buffer.from(/^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1] ?? "");
      if (given.length !== token.length || !timingSafeEqual(given, token)) return sendError(reply, sluiceError("SLUICE_ADMIN_UNAUTHORIZED"));
    });
    app.setErrorHandler((e, _req, reply) => sendError(reply, e instanceof SluiceError ? e : sluiceError("SLUICE_ADMIN_BAD_REQUEST", { reason: e instanceof Error ? e.message : String(e) })));
    app.get("/", async (_req, reply) => reply.type("text/html; charset=utf-8").header("cache-control", "no-store").send(statusPage));
    app.get("/status.json", async (_req, reply) => {
      const snapshots = await opts.source.snapshots();
      return reply.header("cache-control", "no-store").send(this.#board.view(mergeSnapshots(snapshots), opts.source.processes()));
    });
    app.get("/metrics", async (req, reply) => {
      const openMetrics = /application\/openmetrics-text/i.test(req.headers.accept ?? "");
      const text = await renderMetrics(await opts.source.families(), openMetrics);
      return reply.type(openMetrics ? openMetricsContentType : prometheusContentType).send(text);
    });
    app.get<{ Params: { kind: string }; Querystring: Record<string, string | undefined> }>("/debug/profile/:kind", async (req, reply) => {
      const kind = req.params.kind;
      if (kind !== "cpu" && kind !== "heap-sampling" && kind !== "heap-snapshot") {
        throw sluiceError("SLUICE_ADMIN_BAD_REQUEST", { reason: `no profile "${kind}": cpu, heap-sampling or heap-snapshot` });
      }
      const seconds = kind === "heap-snapshot" ? 0 : parseBounded("seconds", req.query.seconds ?? "10", 1, maxProfileSeconds);
      const worker = req.query.worker === undefined ? undefined : parseBounded("worker", req.query.worker, 1, 1024);
      return this.#profile(reply, kind, seconds, worker);
    });
  }

  /** Listens; resolves with the URL. */
  async listen(): Promise<string> {
    const { host, port } = this.#opts;
    try {
      await this.app.listen({ host, port });
    } catch (e) {
      throw sluiceError("SLUICE_LISTEN_FAILED", { address: `${host}:${port}`, reason: e instanceof Error ? e.message : String(e), key: "admin.port" }, e);
    }
    const addr = this.app.server.address();
    const actual = typeof addr === "object" && addr ? addr.port : port;
    return `http://${host.includes(":") ? `[${host}]` : host}:${actual}`;
  }

  close(): Promise<void> {
    return this.app.close();
  }

  /**
   * Sends the profile as its reader takes it (the stream is piped, so a
   * slow reader slows the sender instead of piling the profile up in
   * buffers); a refusal (busy, no such worker) that comes before the first
   * byte is answered as a JSON error, since the head goes out with that byte.
   */
  #profile(reply: FastifyReply, kind: ProfileKind, seconds: number, worker: number | undefined): FastifyReply {
    const body = this.#opts.source.profile(kind, seconds, worker);
    cutWhenStalled(reply.raw, body, stalledDownloadMs);
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    return reply
      .type("application/json")
      .header("content-disposition", `attachment; filename="sluice-${stamp}${profileFileSuffix[kind]}"`)
      .send(body);
  }
}

/** A profile download whose reader takes nothing for this long is cut. */
const stalledDownloadMs = 60_000;

function parseBounded(name: string, raw: string, min: number, max: number): number {
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw sluiceError("SLUICE_ADMIN_BAD_REQUEST", { reason: `${name}=${raw}: expected an integer from ${min} to ${max}` });
  return n;
}

function sendError(reply: FastifyReply, e: SluiceError): FastifyReply {
  return reply.code(statusOf[e.code] ?? 500).type("application/json").send({ code: e.code, message: e.message });
}
