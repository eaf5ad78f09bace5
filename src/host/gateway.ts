import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { Code } from "@connectrpc/connect";
import Fastify, { LogController, type FastifyInstance } from "fastify";
import type { SluiceConfig } from "../config/config.js";
import { rpcError, sluiceError, SluiceError } from "../errors.js";
import { createBundleCacheDir } from "../functions/bundle-cache-dir.js";
import { FunctionRegistry, type ReloadReport } from "../functions/function-registry.js";
import type { LoadedFunction } from "../functions/load-function-file.js";
import { enforceDeadline } from "../limits/enforce-deadline.js";
import { healthRouteSource } from "../observe/health-service.js";
import { HealthStatus } from "../observe/health-status.js";
import { reportErrors } from "../observe/report-errors.js";
import { CorsPolicy } from "./cors-policy.js";
import { createRoutes, type RouteContext } from "./create-routes.js";
import { registerHttpCompression } from "./http-compression.js";
import { registerHttpEndpoints } from "./http-endpoints.js";
import { InFlight } from "./in-flight.js";
import { Listener } from "./listener.js";
import { RouteTable, type Route } from "./route-table.js";
import { registerRpcRoute } from "./rpc-route.js";
import { createRequestIdGenerator } from "./request-id.js";

/**
 * How long calls ended by the drain timeout get to deliver their UNAVAILABLE,
 * and connections whose calls are over get to flush their last frames and
 * close by themselves, before the rest are cut.
 */
const afterDrainGraceMs = 2_000;

/**
 * One Sluice gateway: the Fastify app, its listener, the functions it serves
 * and its lifecycle (load, listen, reload, drain).
 */
export class Gateway {
  readonly app: FastifyInstance;
  readonly table = new RouteTable();
  readonly health = new HealthStatus();
  readonly registry: FunctionRegistry;
  readonly #inFlight = new InFlight();
  readonly #shutdown = new AbortController();
  readonly #draining = new AbortController();
  readonly #routesOf = new WeakMap<LoadedFunction, Route[]>();
  readonly #builtInRoutes: Route[];
  readonly #routeContext: RouteContext;
  readonly #bundleDir: { dir: string; remove(): void };
  #listener: Listener | undefined;
  #closing: Promise<void> | undefined;

  constructor(readonly config: SluiceConfig) {
    const tls = config.tls ? readTls(config.tls) : undefined;
    this.app = Fastify({
      logger: { level: config.logLevel },
      // rpc-route.ts logs one line per call, with its status and duration.
      logController: new LogController({ disableRequestLogging: true }),
      genReqId: createRequestIdGenerator(),
      return503OnClosing: false,
      serverFactory: (handler) => {
        this.#listener = new Listener(config, handler as unknown as ConstructorParameters<typeof Listener>[1], tls);
        return this.#listener.server as never;
      },
    });
    this.#bundleDir = createBundleCacheDir(config.cacheDir);
    this.registry = new FunctionRegistry(config.functionsDir, this.#bundleDir.dir, new Set(["grpc.health.v1.Health"]));
    this.#routeContext = { config, interceptors: [reportErrors, enforceDeadline], shutdownSignal: this.#shutdown.signal };
    this.#builtInRoutes = createRoutes(healthRouteSource(this.health), this.#routeContext);
    const cors = new CorsPolicy(config.cors);
    cors.register(this.app);
    void registerHttpCompression(this.app);
    registerHttpEndpoints(this.app, this.health);
    registerRpcRoute(this.app, { ...(config.staticDir ? { staticDir: config.staticDir } : {}), table: this.table, inFlight: this.#inFlight, cors, draining: this.#draining.signal });
  }

  get log(): FastifyInstance["log"] {
    return this.app.log;
  }

  /** Loads every function (all or nothing) and starts serving them. */
  async loadFunctions(): Promise<SluiceError[]> {
    const { errors } = await this.registry.load();
    if (errors.length === 0) this.#publish();
    return errors;
  }

  /** Loads the functions again (dev mode); what fails keeps its previous version. */
  async reloadFunctions(): Promise<ReloadReport> {
    const report = await this.registry.reload();
    this.#publish();
    return report;
  }

  /** Listens on config.host:port; resolves with the URL. */
  async listen(): Promise<string> {
    const { host, port } = this.config;
    try {
      await this.app.listen({ host, port });
    } catch (e) {
      throw sluiceError("SLUICE_LISTEN_FAILED", { address: `${host}:${port}`, reason: e instanceof Error ? e.message : String(e) }, e);
    }
    const addr = this.app.server.address();
    const actualPort = typeof addr === "object" && addr ? addr.port : port;
    const shownHost = host.includes(":") ? `[${host}]` : host;
    return `${this.config.tls ? "https" : "http"}://${shownHost}:${actualPort}`;
  }

  /**
   * Graceful shutdown: readiness and health go NOT_SERVING, the port stops
   * accepting, every HTTP/2 session gets GOAWAY, calls in flight run up to
   * drainTimeoutMs; then the rest end with UNAVAILABLE and every connection
   * is closed. Safe to call more than once.
   */
  shutdown(): Promise<void> {
    this.#closing ??= this.#drain();
    return this.#closing;
  }

  async #drain(): Promise<void> {
    const { drainTimeoutMs } = this.config;
    this.health.setDraining();
    this.#draining.abort();
    this.log.info({ inFlight: this.#inFlight.count, drainTimeoutMs }, "draining");
    // Stops accepting; resolves once every connection has closed.
    const closed = this.app.close();
    this.#listener?.drain();
    const drained = await this.#inFlight.idle(drainTimeoutMs);
    if (!drained) {
      this.log.warn({ inFlight: this.#inFlight.count }, "drain timeout: ending the remaining calls with UNAVAILABLE");
      this.#shutdown.abort(rpcError("SLUICE_RPC_DRAIN_TIMEOUT", Code.Unavailable, { ms: drainTimeoutMs }));
      await this.#inFlight.idle(afterDrainGraceMs);
    }
    // A call counts as over once its last frame is queued, not sent: let the
    // connections close on their own (HTTP/2 after GOAWAY, HTTP/1.1 when
    // idle) so nothing queued is lost, then cut whatever is still open.
    await Promise.race([closed, sleep(afterDrainGraceMs)]);
    this.#listener?.destroyAll();
    await closed;
    this.#bundleDir.remove();
    this.log.info("shut down");
  }

  /** Swaps in the routes of the current functions; unchanged functions keep theirs. */
  #publish(): void {
    const routes = [...this.#builtInRoutes];
    for (const fn of this.registry.list()) {
      let own = this.#routesOf.get(fn);
      if (!own) {
        own = createRoutes({ ...fn, source: fn.displayPath }, this.#routeContext);
        this.#routesOf.set(fn, own);
      }
      routes.push(...own);
    }
    this.table.replace(routes);
    this.health.setServices(new Set(routes.map((r) => r.method.parent.typeName)));
  }
}

function readTls(tls: NonNullable<SluiceConfig["tls"]>): { key: Buffer; cert: Buffer; ca?: Buffer } {
  const read = (key: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw sluiceError("SLUICE_TLS_FILE_UNREADABLE", { key, file, reason: (e as NodeJS.ErrnoException).code ?? String(e) });
    }
  };
  return {
    cert: read("tls.cert", tls.cert),
    key: read("tls.key", tls.key),
    ...(tls.ca ? { ca: read("tls.ca", tls.ca) } : {}),
  };
}

