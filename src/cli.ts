#!/usr/bin/env node
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs, usage } from "./cli/parse-args.js";
import { formatRoutesTable } from "./cli/routes-table.js";
import type { SluiceConfig } from "./config/config.js";
import { loadConfig } from "./config/load-config.js";
import { SluiceError } from "./errors.js";
import { FunctionWatcher, foldersToWatch } from "./functions/watch-functions.js";
import { Gateway } from "./host/gateway.js";

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
    process.stdout.write(`${readVersion()}\n`);
    return 0;
  }
  const loaded = await loadConfig({ cwd: process.cwd(), env: process.env, flags, ...(configFile ? { configFile } : {}) });
  if ("errors" in loaded) return fail(loaded.errors);
  const { config } = loaded;

  let gateway: Gateway;
  try {
    // check prints its verdict; info logs about starting and stopping are noise there.
    gateway = new Gateway(command === "check" ? { ...config, logLevel: "warn" } : config);
  } catch (e) {
    return fail([e]);
  }
  const errors = await gateway.loadFunctions();
  if (errors.length > 0) {
    await gateway.shutdown();
    return fail(errors);
  }
  if (command === "check") {
    process.stdout.write(`${formatRoutesTable(gateway.table.list())}\n\nconfig and ${gateway.registry.list().length} function file(s) OK\n`);
    await gateway.shutdown();
    return 0;
  }
  return serve(gateway, config, command === "dev");
}

async function serve(gateway: Gateway, config: SluiceConfig, dev: boolean): Promise<number> {
  let url: string;
  try {
    url = await gateway.listen();
  } catch (e) {
    await gateway.shutdown();
    return fail([e]);
  }
  let watcher: FunctionWatcher | undefined;
  const exitCode = new Promise<number>((resolve) => {
    // A promise a function forgot to handle is its bug, not a reason to drop
    // every other call: log it and keep serving.
    process.on("unhandledRejection", (reason) => {
      gateway.log.error({ err: reason }, "unhandled promise rejection (a function forgot to await or catch a promise)");
    });
    // An exception nobody caught leaves the process in an unknown state:
    // drain what can be drained, then exit 1 so the supervisor restarts it.
    process.on("uncaughtException", (err) => {
      gateway.log.fatal({ err }, "uncaught exception; draining and exiting");
      watcher?.close();
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
      watcher?.close();
      gateway.shutdown().then(() => resolve(0), (e) => {
        gateway.log.error({ err: e }, "shutdown failed");
        resolve(1);
      });
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
  if (dev) watcher = watchFunctions(gateway, config);
  // Printed last: whoever waits for this line may signal us at once.
  const protocols = config.tls ? "TLS: h2 and HTTP/1.1 by ALPN" : "HTTP/1.1 and h2c";
  process.stdout.write(`\n${formatRoutesTable(gateway.table.list())}\n\nsluice listening on ${url} (${protocols})${dev ? ", watching for changes" : ""}\n`);
  return exitCode;
}

function watchFunctions(gateway: Gateway, config: SluiceConfig): FunctionWatcher {
  const project = process.cwd();
  const ignored = [config.cacheDir + path.sep, `${path.sep}node_modules${path.sep}`, `${path.sep}.git${path.sep}`];
  const inputs = () => gateway.registry.list().flatMap((fn) => fn.inputs);
  const watcher = new FunctionWatcher(async () => {
    const report = await gateway.reloadFunctions();
    for (const fn of report.added) gateway.log.info({ file: fn.displayPath }, "function added");
    for (const fn of report.updated) gateway.log.info({ file: fn.displayPath }, "function reloaded");
    for (const fn of report.removed) gateway.log.info({ file: fn.displayPath }, "function removed");
    for (const e of report.errors) {
      gateway.log.error({ code: (e as SluiceError).code }, e.message);
      process.stderr.write(`\n${e.message}\n(the previous version keeps serving)\n`);
    }
    watcher.watch(foldersToWatch(config.functionsDir, inputs(), project));
  }, (file) => ignored.some((part) => (file + path.sep).includes(part)));
  watcher.watch(foldersToWatch(config.functionsDir, inputs(), project));
  return watcher;
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
