import { readFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Code } from "@connectrpc/connect";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { pino } from "pino";
import { describeArtifact, type RunningArtifact } from "../artifact/artifact-manifest.js";
import type { SluiceConfig } from "../config/config.js";
import { rpcError, sluiceError, SluiceError } from "../errors.js";
import { createBundleCacheDir } from "../functions/bundle-cache-dir.js";
import { FunctionRegistry, type ReloadReport } from "../functions/function-registry.js";
import type { LoadedFunction } from "../functions/load-function-file.js";
import { prebuiltFunctions } from "../functions/load-prebuilt-function.js";
import { DeadlineTimers } from "../limits/deadline-timers.js";
import { GatewayLimits } from "../limits/gateway-limits.js";
import { unmatchedLimitNames } from "../limits/limits-config.js";
import { healthRouteSource } from "../observe/health-service.js";
import { HealthStatus } from "../observe/health-status.js";
import { reflectionRouteSources, reflectionServiceNames } from "../observe/reflection-service.js";
import { Telemetry } from "../observe/telemetry.js";
import type { CallEnv } from "../rpc/call-env.js";
import { CorsPolicy } from "./cors-policy.js";
import { createRoutes } from "./create-routes.js";
import { registerHttpCompression } from "./http-compression.js";
import { noSchemaCompilers } from "./no-schema-compilers.js";
import { httpEndpointPaths, registerHttpEndpoints } from "./http-endpoints.js";
import { InFlight } from "./in-flight.js";
import { Listener } from "./listener.js";
import { RouteTable, type Route } from "./route-table.js";
import { RpcDispatch } from "./rpc-dispatch.js";
import { loadDescriptors, loadPrebuiltDescriptors } from "../upstream/load-descriptors.js";
import { createProxyRoutes } from "../upstream/proxy-routes.js";
import { UpstreamRegistry } from "../upstream/upstream-registry.js";
import { createRequestIdGenerator } from "./request-id.js";
import { registerStaticFiles } from "./static-files.js";

/**
 * How long calls ended by the drain timeout get to deliver their UNAVAILABLE,
 * and connections whose calls are over get to flush their last frames and
 * close by themselves, before the rest are cut.
 */
const afterDrainGraceMs = 2_000;

export interface GatewayOptions {
  /** Count calls per route for /metrics and the status page (the admin listener is on). */
  metrics?: boolean;
  /** Serve the prebundled functions of this built artifact (sluice build). */
  artifact?: RunningArtifact;
}

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
  readonly #draining = new AbortController();
  readonly #routesOf = new WeakMap<LoadedFunction, Route[]>();
  readonly #builtInRoutes: Route[];
  #proxyRoutes: Route[] = [];
  /** The backends of `upstreams`: pooled connections for proxy routes and ctx.upstream. */
  readonly upstreams: UpstreamRegistry;
  /** Where function files are bundled; none when serving a built artifact. */
  readonly #bundleDir: { dir: string; remove(): void } | undefined;
  readonly #artifact: RunningArtifact | undefined;
  /** Metrics and tracing of the calls (src/observe/). */
  readonly telemetry: Telemetry;
  /** Flow limits, overload protection and their counters (limits.stats). */
  readonly limits: GatewayLimits;
  #listener: Listener | undefined;
  #closing: Promise<void> | undefined;

  constructor(readonly config: SluiceConfig, opts: GatewayOptions = {}) {
    const artifact = opts.artifact;
    const tls = config.tls ? readTls(config.tls) : undefined;
    const requestId = createRequestIdGenerator();
    const cors = new CorsPolicy(config.cors);
    this.upstreams = new UpstreamRegistry(config.upstreams, { maxPools: config.upstreamMaxPools });
    // The logger exists before Fastify so that the RPC path, which Fastify
    // never sees, logs through the same pino instance.
    const log = pino({ level: config.logLevel });
    this.limits = new GatewayLimits(config, this.#inFlight, log);
    this.telemetry = new Telemetry({ metrics: opts.metrics === true, tracing: config.tracing !== "off" }, this.upstreams, this.limits);
    const env: CallEnv = {
      deadlines: new DeadlineTimers(),
      inFlight: this.#inFlight,
      draining: this.#draining.signal,
      log,
      get logCalls() {
        return log.isLevelEnabled("info");
      },
      cors,
      upstreams: this.upstreams,
      telemetry: this.telemetry,
      limits: this.limits,
    };
    this.app = Fastify({
      loggerInstance: log as FastifyBaseLogger,
      // RPCs are logged by the call, one line each with status and duration.
      logController: new LogController({ disableRequestLogging: true }),
      genReqId: (req) => requestId(req.headers),
      return503OnClosing: false,
      schemaController: noSchemaCompilers,
      serverFactory: (handler) => {
        const websocket = config.websocket.enabled ? { pingIntervalMs: config.websocket.pingIntervalMs } : undefined;
        const dispatch = new RpcDispatch({ table: this.table, env, requestId, httpPaths: httpEndpointPaths, maxHeaderBytes: config.maxHeaderBytes, ...(websocket ? { websocket } : {}) });
        dispatch.fastify = handler as never;
        this.#listener = new Listener(config, dispatch, this.limits, log, tls);
        return this.#listener.server as never;
      },
    });
    this.#artifact = artifact;
    this.#bundleDir = artifact ? undefined : createBundleCacheDir(config.cacheDir);
    const reserved = new Map<string, "built-in" | "proxy">([["grpc.health.v1.Health", "built-in"]]);
    if (config.reflection) for (const name of reflectionServiceNames) reserved.set(name, "built-in");
    for (const r of config.routes) reserved.set(r.name.split("/")[0]!, "proxy");
    this.registry = new FunctionRegistry(config.functionsDir, this.#bundleDir?.dir ?? "", reserved, artifact && prebuiltFunctions(artifact));
    this.#builtInRoutes = createRoutes(healthRouteSource(this.health), config, this.#admissionFor);
    if (config.reflection) {
      for (const source of reflectionRouteSources(() => this.table.list())) this.#builtInRoutes.push(...createRoutes(source, config, this.#admissionFor));
    }
    // Every response carries the request id, RPC or not (RPCs set their own).
    this.app.addHook("onRequest", (req, reply, done) => {
      void reply.header("x-request-id", req.id);
      done();
    });
    cors.register(this.app);
    if (config.staticDir) void registerHttpCompression(this.app);
    const built = artifact && describeArtifact(artifact.manifest);
    registerHttpEndpoints(this.app, this.health, this.upstreams, built);
    if (built) {
      // Which build is running, for whoever reads the logs of a rollout.
      const sameMajor = built.builtForNode.split(".")[0] === process.version.split(".")[0];
      log[sameMajor ? "info" : "warn"]({ artifact: built.hash, sluice: built.sluice, builtForNode: built.builtForNode, node: process.version },
        sameMajor ? "serving a built artifact" : `serving a built artifact made for Node ${built.builtForNode} on Node ${process.version}; run it on the Node version it was built for`);
    }
    registerStaticFiles(this.app, config.staticDir);
  }

  get log(): FastifyInstance["log"] {
    return this.app.log;
  }

  /** Loads every function and proxy route (all or nothing) and starts serving them. */
  async loadFunctions(): Promise<SluiceError[]> {
    const proxyErrors = await this.#loadProxyRoutes();
    const { errors } = await this.registry.load();
    errors.unshift(...proxyErrors);
    if (errors.length === 0) this.#publish();
    return errors;
  }

  /** The routes of `routes`, resolved against the descriptors generated from proto/. */
  async #loadProxyRoutes(): Promise<SluiceError[]> {
    if (this.config.routes.length === 0) return [];
    let descriptors;
    // A built artifact carries them, bundled (see sluice build).
    const artifact = this.#artifact;
    const from = artifact ? path.join(artifact.dir, artifact.manifest.descriptors ?? "app/descriptors.mjs") : this.config.protoGenDir;
    try {
      if (artifact && artifact.manifest.descriptors === undefined) throw new Error("the artifact has none: sluice build found no generated code");
      descriptors = artifact ? await loadPrebuiltDescriptors(from) : await loadDescriptors(from, this.#bundleDir!.dir);
    } catch (e) {
      return [sluiceError("SLUICE_PROXY_DESCRIPTORS_UNAVAILABLE", { dir: path.relative(process.cwd(), from) || from, reason: e instanceof Error ? e.message : String(e) })];
    }
    const { routes, errors } = createProxyRoutes(this.config, descriptors, this.upstreams, this.#admissionFor);
    this.#proxyRoutes = routes;
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
      this.limits.start();
    } catch (e) {
      throw sluiceError("SLUICE_LISTEN_FAILED", { address: `${host}:${port}`, reason: e instanceof Error ? e.message : String(e) }, e);
    }
    const addr = this.app.server.address();
    const actualPort = typeof addr === "object" && addr ? addr.port : port;
    const shownHost = host.includes(":") ? `[${host}]` : host;
    return `${this.config.tls ? "https" : "http"}://${shownHost}:${actualPort}`;
  }

  /**
   * Graceful shutdown: readiness and health go NOT_SERVING; after
   * `delayMs` (config shutdownDelayMs, for a signal), in which new calls are
   * still served, the port stops accepting, every HTTP/2 session gets
   * GOAWAY, calls in flight run up to drainTimeoutMs; then the rest end with
   * UNAVAILABLE and every connection is closed. Safe to call more than once.
   */
  shutdown(delayMs = 0): Promise<void> {
    this.#closing ??= this.#drain(delayMs);
    return this.#closing;
  }

  /** Readiness and health go NOT_SERVING; calls are still served (the start of a shutdown delay). */
  failReadiness(): void {
    this.health.setDraining();
  }

  async #drain(delayMs: number): Promise<void> {
    const { drainTimeoutMs } = this.config;
    this.failReadiness();
    if (delayMs > 0) {
      // Load balancers that poll readiness stop sending new calls; until
      // they do, the calls they send are served as before.
      this.log.info({ shutdownDelayMs: delayMs }, "readiness fails; serving new calls until the drain begins");
      await sleep(delayMs);
    }
    this.#draining.abort();
    this.limits.stop();
    this.log.info({ inFlight: this.#inFlight.count, drainTimeoutMs }, "draining");
    // Stops accepting; resolves once every connection has closed.
    const closed = this.app.close();
    this.#listener?.drain();
    const drained = await this.#inFlight.idle(drainTimeoutMs);
    if (!drained) {
      this.log.warn({ inFlight: this.#inFlight.count }, "drain timeout: ending the remaining calls with UNAVAILABLE");
      this.#inFlight.abortAll(rpcError("SLUICE_RPC_DRAIN_TIMEOUT", Code.Unavailable, { ms: drainTimeoutMs }));
      await this.#inFlight.idle(afterDrainGraceMs);
    }
    // A call counts as over once its last frame is queued, not sent: let the
    // connections close on their own (HTTP/2 after GOAWAY, HTTP/1.1 when
    // idle) so nothing queued is lost, then cut whatever is still open.
    await Promise.race([closed, sleep(afterDrainGraceMs)]);
    this.#listener?.destroyAll();
    await closed;
    // Calls are over: the upstream connections can go (calls in flight there finished with ours).
    await this.upstreams.close(afterDrainGraceMs);
    this.#bundleDir?.remove();
    // What the limits did over the process's life, for whoever reads the last lines.
    this.log.info({ limits: this.limits.stats.nonZero() }, "shut down");
  }

  /** Swaps in the routes of the current functions; unchanged functions keep theirs. */
  #publish(): void {
    const routes = [...this.#builtInRoutes, ...this.#proxyRoutes];
    for (const fn of this.registry.list()) {
      let own = this.#routesOf.get(fn);
      if (!own) {
        own = createRoutes({ ...fn, source: fn.displayPath }, this.config, this.#admissionFor);
        this.#routesOf.set(fn, own);
      }
      routes.push(...own);
    }
    this.telemetry.publish(routes);
    this.table.replace(routes);
    this.health.setServices(new Set(routes.map((r) => r.method.parent.typeName)));
    for (const { name, near } of unmatchedLimitNames(this.config.limits, routes.map((r) => r.name))) {
      this.log.warn({ limits: name }, `config limits[${JSON.stringify(name)}] matches no route served${near ? `; did you mean "${near}"?` : ""}`);
    }
  }

  readonly #admissionFor = (path: string, route: string, policy: Parameters<GatewayLimits["admission"]["forRoute"]>[2]) => this.limits.admission.forRoute(path, route, policy);
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

