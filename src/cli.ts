#!/usr/bin/env node
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { artifactConfigSources } from "./artifact/artifact-config.js";
import { runningArtifact } from "./artifact/artifact-manifest.js";
import { parseArgs, usage } from "./cli/parse-args.js";
import { formatRoutesTable } from "./cli/routes-table.js";
import type { SluiceConfig } from "./config/config.js";
import { loadConfig } from "./config/load-config.js";
import { sluiceError, SluiceError } from "./errors.js";
import { findFunctionFiles } from "./functions/find-function-files.js";
import { Gateway } from "./host/gateway.js";
import { pino } from "pino";
import type { DevLoop } from "./cli/dev-loop.js";
import { LocalSource, type AdminSource } from "./observe/admin-source.js";
import type { AdminServer } from "./observe/admin-server.js";
import { seconds, step } from "./cli/progress.js";
import { exitWithSupervisor, prettyChildEnv } from "./cli/pretty-child.js";

// What only some commands or settings need is imported where it is needed
// (dev's watcher and type checker, build, node:cluster, the admin listener
// and prom-client, the pretty-log parent): a start that uses none of it
// does not pay for loading it.

// Stack traces of function code point at the function files, not the bundles.
process.setSourceMapsEnabled(true);

async function main(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv);
  if ("error" in parsed) return fail([parsed.error]);
  const { command, flags, configFile } = parsed.args;
  if (command === "help") {
    process.stdout.write(usage);
    return 0;
  }
  if (command === "version") {
    process.stdout.write(`${runningArtifact()?.manifest.sluice ?? readVersion()}\n`);
    return 0;
  }
  const artifact = runningArtifact();
  if (artifact && (command === "dev" || command === "build")) {
    return fail([sluiceError("SLUICE_CLI_USAGE", { reason: `this is a built artifact (${artifact.dir}): it runs start and check; ${command} needs the project's sources` })]);
  }
  const sources = artifact ? artifactConfigSources(artifact, process.env, flags, configFile) : { sources: { cwd: process.cwd(), env: process.env, flags, ...(configFile ? { configFile } : {}) } };
  if ("error" in sources) return fail([sources.error]);
  const loaded = await loadConfig(sources.sources);
  if ("errors" in loaded) return fail(loaded.errors);
  const { config } = loaded;
  const pretty = config.logFormat === "pretty" || (config.logFormat === "auto" && command === "dev");
  if (pretty && command !== "check" && process.env[prettyChildEnv] === undefined) {
    return (await import("./cli/run-with-pretty-logs.js")).runWithPrettyLogs(process.argv.slice(1));
  }
  const workers = config.workers === "auto" ? Math.max(1, os.availableParallelism()) : config.workers;
  if (workers > 1 && command === "dev") {
    return fail([sluiceError("SLUICE_CLI_USAGE", { reason: `dev serves from one process, so that every call sees a reload at once; --workers ${config.workers} is for start` })]);
  }
  // A worker runs this same command with the same config, so this holds in
  // the primary and in every worker. "auto" is supervised even when it comes
  // to one worker (one CPU): the systemd unit relies on SIGHUP's rolling
  // restart, which only a primary can do.
  const supervised = workers > 1 || config.workers === "auto";
  const cluster = supervised && command === "start" ? (await import("node:cluster")).default : undefined;
  if (cluster?.isPrimary) return supervise(config, workers);

  let gateway: Gateway;
  try {
    // check prints its verdict; info logs about starting and stopping are noise there.
    gateway = new Gateway(command === "check" || command === "build" ? { ...config, logLevel: "warn" } : config, {
      metrics: adminPort(config, command) !== undefined,
      ...(artifact ? { artifact } : {}),
    });
  } catch (e) {
    return fail([e]);
  }
  if (command === "check" || command === "build") {
    const checked = await check(gateway, config);
    if (command !== "build" || checked !== 0) return checked;
    return (await import("./cli/run-build.js")).runBuild(config, loaded.file, parsed.args.outDir, readVersion());
  }
  let dev: DevLoop | undefined;
  if (command === "dev") {
    const { DevLoop } = await import("./cli/dev-loop.js");
    dev = new DevLoop(gateway, config, loaded.file);
    const errors = await dev.start();
    if (errors.length > 0) {
      await dev.close();
      await gateway.shutdown();
      return fail(errors);
    }
  } else {
    const errors = await step(artifact ? "loading the built functions" : "bundling and loading function files", () => gateway.loadFunctions(), (e) => e.length === 0 ? `${gateway.registry.list().length} loaded` : `${e.length} error(s)`);
    if (errors.length > 0) {
      await gateway.shutdown();
      return fail(errors);
    }
  }
  return serve(gateway, config, dev, adminPort(config, command), cluster?.isWorker === true);
}

/** Port "auto": in dev, this one (Prometheus exporters' usual port), or a free one when it is taken. */
const devAdminPort = 9464;

/** The admin listener's port for `command`; undefined when it is off. */
function adminPort(config: SluiceConfig, command: string): { port: number; orFree: boolean } | undefined {
  if (command !== "start" && command !== "dev") return undefined;
  if (config.admin.port !== "auto") return { port: config.admin.port, orFree: false };
  return command === "dev" ? { port: devAdminPort, orFree: true } : undefined;
}

/** Starts the admin listener (metrics, status page, profiles); resolves with it and its URL. */
async function startAdmin(config: SluiceConfig, at: { port: number; orFree: boolean }, source: AdminSource): Promise<{ server: AdminServer; url: string }> {
  const { AdminServer } = await import("./observe/admin-server.js");
  const make = (port: number) => new AdminServer({ host: config.admin.host, port, token: config.admin.token, source });
  let server = make(at.port);
  try {
    return { server, url: await server.listen() };
  } catch (e) {
    if (!at.orFree) throw e;
    server = make(0);
    return { server, url: await server.listen() };
  }
}

/** sluice check: every function loads, and (unless typeCheck is off) type-checks. */
async function check(gateway: Gateway, config: SluiceConfig): Promise<number> {
  const errors: unknown[] = await gateway.loadFunctions();
  let typeChecked = "";
  // A built artifact carries no TypeScript; its functions were checked when it was built.
  if (config.typeCheck !== "off" && !runningArtifact()) {
    const started = performance.now();
    const result = await typeCheckFunctions(config);
    errors.push(...(config.typeCheck === "refuse" ? result.errors : []));
    if (config.typeCheck === "warn") for (const e of result.errors) process.stderr.write(`${e.message}\n`);
    typeChecked = result.errors.length === 0 || config.typeCheck === "warn"
      ? `, type-checked in ${seconds(performance.now() - started)}${result.errors.length ? ` (${result.errors.length} file(s) with type errors, reported above; typeCheck is "warn")` : ""}`
      : "";
  }
  await gateway.shutdown();
  if (errors.length > 0) return fail(errors);
  process.stdout.write(`${formatRoutesTable(gateway.table.list(), config.websocket.enabled)}\n\nconfig and ${gateway.registry.list().length} function file(s) OK${typeChecked}\n`);
  return 0;
}

async function typeCheckFunctions(config: SluiceConfig): Promise<{ errors: SluiceError[] }> {
  let ts: typeof import("typescript");
  try {
    ts = (await import("typescript")).default;
  } catch (e) {
    return { errors: [sluiceError("SLUICE_TYPECHECK_UNAVAILABLE", { reason: `the typescript package cannot be loaded (${e instanceof Error ? e.message.split("\n")[0] : String(e)})` })] };
  }
  const files = await findFunctionFiles(config.functionsDir).catch(() => []);
  const { formatTypeCheckError, FunctionTypeChecker } = await import("./functions/type-check-functions.js");
  const checker = new FunctionTypeChecker(ts, config.functionsDir);
  const verdicts = checker.check(files);
  const errors = verdicts.filter((v) => v.errors.length > 0).map((v) => sluiceError("SLUICE_FUNCTION_TYPE_ERRORS", {
    file: path.relative(process.cwd(), v.file) || v.file,
    errors: v.errors.map(formatTypeCheckError),
    held: config.typeCheck === "refuse" ? "Fix them: a file with type errors fails check and is not loaded by dev (typeCheck is \"refuse\")." : "",
  }));
  return { errors };
}

async function serve(gateway: Gateway, config: SluiceConfig, dev: DevLoop | undefined, admin: { port: number; orFree: boolean } | undefined, clusterWorker: boolean): Promise<number> {
  // In a worker: how it tells the primary that it listens, and that it leaves.
  const clusterLink = clusterWorker ? await import("./host/worker-pool.js") : undefined;
  let url: string;
  let adminLine = "";
  try {
    url = await gateway.listen();
    if (admin !== undefined && clusterWorker) {
      // The primary serves the admin listener and asks each worker over IPC.
      (await import("./observe/cluster-admin.js")).answerAdminRequests(new LocalSource(gateway.telemetry));
    } else if (admin !== undefined) {
      const started = await startAdmin(config, admin, new LocalSource(gateway.telemetry));
      adminLine = `sluice admin listening on ${started.url} (metrics at /metrics, status page at /, profiles at /debug/profile/)\n`;
    }
  } catch (e) {
    await dev?.close();
    await gateway.shutdown();
    return fail([e]);
  }
  const exitCode = new Promise<number>((resolve) => {
    // A promise a function forgot to handle is its bug, not a reason to drop
    // every other call: log it and keep serving.
    process.on("unhandledRejection", (reason) => {
      gateway.log.error({ err: reason }, "unhandled promise rejection (a function forgot to await or catch a promise)");
    });
    // An exception nobody caught leaves the process in an unknown state:
    // drain what can be drained, then exit 1 so the supervisor restarts it.
    process.on("uncaughtException", (err) => {
      // In dev, an author's mistake does not end the session (see DevLoop).
      if (dev) return dev.uncaughtException(err);
      gateway.log.fatal({ err }, "uncaught exception; draining and exiting");
      gateway.shutdown().finally(() => resolve(1));
    });
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signals > 1) {
        gateway.log.warn({ signal }, "second signal: exiting without waiting for calls in flight");
        resolve(1);
        return;
      }
      gateway.log.info({ signal }, "shutting down");
      void dev?.close();
      // A cluster worker drains at once: the primary keeps the delay for the
      // whole port (it told every worker to fail readiness first), and a
      // rolling restart replaces a worker that must not look unready.
      gateway.shutdown(dev || clusterLink ? 0 : config.shutdownDelayMs).then(() => resolve(0), (e) => {
        gateway.log.error({ err: e }, "shutdown failed");
        resolve(1);
      });
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    exitWithSupervisor(() => onSignal("SIGTERM"));
  });
  if (clusterLink) {
    const { announceListening, leaveCluster, onFailReadiness } = clusterLink;
    onFailReadiness(() => {
      gateway.failReadiness();
      gateway.log.info("readiness fails: the primary's shutdown delay has begun; serving new calls until the drain begins");
    });
    // The primary prints the banner once every worker listens, and owns the
    // terminal's signals: Ctrl-C reaches the whole process group, and the
    // primary's SIGTERM that follows must not count as a second signal.
    process.removeAllListeners("SIGINT");
    process.on("SIGINT", () => {});
    process.on("disconnect", () => process.emit("SIGTERM", "SIGTERM"));
    announceListening(url, formatRoutesTable(gateway.table.list(), config.websocket.enabled));
    return exitCode.then(async (code) => {
      await leaveCluster();
      return code;
    });
  }
  process.on("SIGHUP", () => gateway.log.warn("SIGHUP: replacing the functions without a restart needs --workers 2 or more (a rolling restart); ignored"));
  // Printed last: whoever waits for this line may signal us at once. On
  // stderr, with the progress lines: stdout carries only the JSON logs,
  // which log collectors parse line by line.
  process.stderr.write(`\n${formatRoutesTable(gateway.table.list(), config.websocket.enabled)}\n\n${adminLine}sluice listening on ${url} (${protocolsOf(config)})${dev ? ", watching for changes" : ""}\n`);
  return exitCode;
}

function protocolsOf(config: SluiceConfig): string {
  return config.tls ? "TLS: h2 and HTTP/1.1 by ALPN" : "HTTP/1.1 and h2c";
}

/**
 * sluice start --workers N: this process only supervises N workers (this
 * same command, forked by node:cluster) that serve the port.
 */
async function supervise(config: SluiceConfig, count: number): Promise<number> {
  const log = pino({ level: config.logLevel });
  const { WorkerPool } = await import("./host/worker-pool.js");
  const { ClusterSource } = await import("./observe/cluster-admin.js");
  // A worker gets drainTimeoutMs for its calls and a little more to close its
  // connections (the shutdown delay runs in the primary, before it asks).
  const pool = new WorkerPool({ count, log, stopTimeoutMs: config.drainTimeoutMs + 10_000 });
  let first;
  try {
    first = await step(`starting ${count} worker${count === 1 ? "" : "s"}`, () => pool.start());
  } catch (e) {
    pool.kill();
    return fail([e]);
  }
  let adminLine = "";
  const at = adminPort(config, "start");
  if (at !== undefined) {
    try {
      const admin = await startAdmin(config, at, new ClusterSource(() => pool.serving()));
      adminLine = `sluice admin listening on ${admin.url} (metrics of every worker at /metrics, status page at /, profiles at /debug/profile/?worker=N)\n`;
    } catch (e) {
      pool.kill();
      return fail([e]);
    }
  }
  const exitCode = new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signals > 1) {
        log.warn({ signal }, "second signal: stopping the workers without waiting for calls in flight");
        pool.kill();
        resolve(1);
        return;
      }
      log.info({ signal, workers: pool.size }, "shutting down: every worker drains");
      pool.shutdown(config.shutdownDelayMs).then(() => resolve(0), (e: unknown) => {
        log.error({ err: e }, "shutdown failed");
        resolve(1);
      });
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    let restarting: Promise<void> | undefined;
    process.on("SIGHUP", () => {
      if (restarting) return log.warn("SIGHUP: a rolling restart is already under way");
      log.info({ workers: pool.size }, "SIGHUP: rolling restart, one worker at a time");
      restarting = pool.rollingRestart().then(
        () => log.info("rolling restart done"),
        (e: unknown) => log.error({ err: e }, "rolling restart failed; the workers that were not replaced keep serving"),
      ).finally(() => (restarting = undefined));
    });
  });
  process.stderr.write(`\n${first.routes}\n\n${adminLine}sluice listening on ${first.url} (${protocolsOf(config)}), ${count} worker${count === 1 ? "" : "s"}\n`);
  return exitCode;
}

function fail(errors: unknown[]): number {
  for (const e of errors) {
    const message = e instanceof SluiceError ? e.message : e instanceof Error ? e.stack ?? e.message : String(e);
    process.stderr.write(`${message}\n`);
  }
  if (errors.length > 1) process.stderr.write(`\n${errors.length} errors\n`);
  return 1;
}

function readVersion(): string {
  const here = path.dirname(new URL(import.meta.url).pathname);
  for (const candidate of ["../package.json", "../../package.json"]) {
    try {
      return (JSON.parse(readFileSync(path.join(here, candidate), "utf8")) as { version: string }).version;
    } catch {
      // try the next layout (src/ or dist/src/)
    }
  }
  return "unknown";
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
