import { existsSync } from "node:fs";
import path from "node:path";
import type { SluiceConfig } from "../config/config.js";
import { sluiceError, type SluiceError } from "../errors.js";
import { BackgroundTypeCheck } from "../functions/background-type-check.js";
import { findFunctionFiles } from "../functions/find-function-files.js";
import type { ReloadReport } from "../functions/function-registry.js";
import { formatTypeCheckError, type FileVerdict } from "../functions/type-check-functions.js";
import { FunctionWatcher, type FileChange } from "../functions/watch-functions.js";
import type { Gateway } from "../host/gateway.js";
import { findCodeGenerator, runCodeGenerator } from "./generate-code.js";
import { seconds, step } from "./progress.js";

const sourceFile = /\.(ts|mts|cts|tsx|js|mjs|cjs|jsx|json)$/;

/**
 * `sluice dev`: loads the functions, then watches them, the code they
 * import, proto/ and the config file, and for every burst of changes:
 * regenerates code when a .proto changed, type-checks the function files
 * (on a worker thread), reloads what changed (holding back files with type
 * errors unless typeCheck is "warn") and logs, for every change it saw, what
 * it did with it.
 */
export class DevLoop {
  readonly #gateway: Gateway;
  readonly #config: SluiceConfig;
  readonly #cwd: string;
  readonly #protoDir: string;
  readonly #configFile: string | undefined;
  readonly #typeCheck: BackgroundTypeCheck | undefined;
  readonly #watcher: FunctionWatcher;
  /** Function file → its type errors, from the last check. */
  #typeErrors = new Map<string, FileVerdict["errors"]>();

  constructor(gateway: Gateway, config: SluiceConfig, configFile: string | undefined, cwd = process.cwd()) {
    this.#gateway = gateway;
    this.#config = config;
    this.#cwd = cwd;
    this.#protoDir = path.join(cwd, "proto");
    this.#configFile = configFile;
    this.#typeCheck = config.typeCheck === "off" ? undefined : new BackgroundTypeCheck(config.functionsDir, cwd);
    const functionsDir = config.functionsDir;
    const protoDir = this.#protoDir;
    this.#watcher = new FunctionWatcher({
      roots: () => [functionsDir, protoDir],
      tracks: (file) => file.startsWith(functionsDir + path.sep) ? sourceFile.test(file) : file.endsWith(".proto") && !file.startsWith(path.join(protoDir, "gen") + path.sep),
      files: () => {
        const inputs = gateway.registry.list().flatMap((fn) => fn.inputs).filter((f) => !f.startsWith(functionsDir + path.sep) && !f.includes(`${path.sep}node_modules${path.sep}`));
        return configFile ? [...inputs, configFile] : inputs;
      },
      onChanges: (changes) => this.#onChanges(changes),
      onTouched: (files) => {
        for (const file of files) this.#log.info({ file: this.#show(file) }, `${this.#show(file)}: touched, content unchanged; nothing to do`);
      },
    });
    gateway.registry.hold = (file) => this.#hold(file);
    gateway.registry.stillPresent = (file) => this.#watcher.present(file);
  }

  get #log(): Gateway["log"] {
    return this.#gateway.log;
  }

  /** The first load: type-check, then load what passes. Fails only if the functions folder is missing. */
  async start(): Promise<SluiceError[]> {
    if (!existsSync(this.#config.functionsDir)) {
      return [sluiceError("SLUICE_FUNCTIONS_DIR_MISSING", { dir: path.relative(this.#cwd, this.#config.functionsDir) || this.#config.functionsDir })];
    }
    // The first snapshot comes before the first load, so an edit made while loading is seen.
    await this.#watcher.start();
    await this.#checkTypes(true);
    const report = await step("bundling and loading function files", () => this.#gateway.reloadFunctions(), (r) => `${r.added.length} loaded${r.failed.length ? `, ${r.failed.length} not loaded` : ""}`);
    this.#printFailures(report);
    this.#watcher.rescan();
    return [];
  }

  /**
   * An exception nobody caught (a handler's timer or callback threw): logs
   * it with the function file it came from, and keeps serving.
   *
   * `start` drains and exits so that its supervisor restarts it; dev has no
   * such supervisor (the pretty-log parent is there only for pretty logs,
   * and JSON logs run without it), and restarting would drop every open
   * stream, the port for a moment, and the warm type checker, for what is
   * almost always a mistake in one function's code: the state in doubt is
   * that function's, and the next save of the file replaces it. So dev keeps
   * the process and the functions as they are, and says where it came from.
   */
  uncaughtException(err: unknown): void {
    const where = this.#thrownIn(err);
    const fix = "sluice dev keeps serving (start would drain and exit 1): fix the code, and the next save reloads it";
    if (where) {
      this.#log.error({ err, file: where.file }, `${where.file}: uncaught exception ${where.at}; ${fix}`);
    } else {
      this.#log.error({ err }, `uncaught exception, not thrown by a function file; ${fix}, or restart sluice dev if the gateway misbehaves`);
    }
  }

  /** The first function file, or helper one imports, that an error's stack passes through, and where. */
  #thrownIn(err: unknown): { file: string; at: string } | undefined {
    const stack = err instanceof Error && typeof err.stack === "string" ? err.stack : "";
    const served = this.#gateway.registry.list();
    for (const line of stack.split("\n")) {
      const frame = /^\s+at (?:.*\()?(?:file:\/\/)?(\/[^():]+|[A-Za-z]:\\[^():]+):(\d+):(\d+)\)?$/.exec(line);
      if (!frame) continue;
      const file = path.resolve(frame[1]!);
      const at = `${this.#show(file)}:${frame[2]}:${frame[3]}`;
      const own = served.find((fn) => fn.file === file);
      if (own) return { file: own.displayPath, at: `at ${at}` };
      if (file.includes(`${path.sep}node_modules${path.sep}`)) continue;
      const importers = served.filter((fn) => fn.inputs.includes(file));
      if (importers.length > 0) return { file: this.#show(file), at: `at ${at} (imported by ${importers.map((fn) => fn.displayPath).join(", ")})` };
    }
    return undefined;
  }

  async close(): Promise<void> {
    this.#watcher.close();
    await this.#typeCheck?.close();
  }

  async #onChanges(changes: FileChange[]): Promise<void> {
    const started = performance.now();
    // What each change led to is logged once it is known (below); this line is for tracing the watcher itself.
    for (const c of changes) this.#log.debug({ file: this.#show(c.file), change: c.kind }, `${this.#show(c.file)} ${c.kind}`);
    const protos = changes.filter((c) => c.file.endsWith(".proto") && c.file.startsWith(this.#protoDir + path.sep));
    const config = changes.filter((c) => c.file === this.#configFile);
    const code = changes.filter((c) => !protos.includes(c) && !config.includes(c));
    if (config.length > 0) {
      this.#log.warn({ file: this.#show(config[0]!.file) }, `${this.#show(config[0]!.file)} changed: restart sluice dev to apply it (the config is read once, at start: the port, TLS and limits belong to the running listener)`);
    }
    if (protos.length > 0) await this.#regenerate(protos);
    if (code.length === 0) return;
    await this.#checkTypes(false);
    const report = await this.#gateway.reloadFunctions();
    this.#printFailures(report);
    this.#logOutcomes(code, report, performance.now() - started);
  }

  /** A .proto changed: regenerate; the functions that import the generated code reload on the next scan. */
  async #regenerate(protos: FileChange[]): Promise<void> {
    const names = protos.map((c) => this.#show(c.file)).join(", ");
    const gen = findCodeGenerator(this.#cwd);
    if (!gen) {
      this.#log.warn({ files: names }, `${names} changed, and this project has no "generate" script or buf.gen.yaml: run your code generator; the functions that import the generated code reload when it changes`);
      return;
    }
    this.#log.info({ files: names, command: gen.description }, `${names} changed: regenerating code (${gen.description})`);
    const started = performance.now();
    const result = await runCodeGenerator(gen, this.#cwd);
    if (!result.ok) {
      const e = sluiceError("SLUICE_GENERATE_FAILED", { command: gen.description, output: result.output });
      this.#log.error({ code: e.code }, e.message);
      return;
    }
    this.#log.info({ ms: Math.round(performance.now() - started) }, `code regenerated in ${seconds(performance.now() - started)}; the functions that import changed generated code reload next`);
    this.#watcher.rescan();
  }

  async #checkTypes(first: boolean): Promise<void> {
    if (!this.#typeCheck) return;
    const files = existsSync(this.#config.functionsDir) ? await findFunctionFiles(this.#config.functionsDir) : [];
    try {
      const run = () => this.#typeCheck!.check(files);
      const { verdicts, ms } = first
        ? await step(`type-checking ${files.length} function file(s)`, run, (r) => `${r.verdicts.filter((v) => v.errors.length > 0).length} with type errors`)
        : await run();
      this.#typeErrors = new Map(verdicts.filter((v) => v.errors.length > 0).map((v) => [v.file, v.errors]));
      if (!first) this.#log.debug({ ms: Math.round(ms), files: files.length }, "type check done");
    } catch (e) {
      const err = sluiceError("SLUICE_TYPECHECK_UNAVAILABLE", { reason: e instanceof Error ? e.message : String(e) });
      this.#log.error({ code: err.code }, err.message);
      this.#typeErrors.clear();
    }
  }

  #hold(file: string): SluiceError | undefined {
    const errors = this.#typeErrors.get(file);
    if (!errors || this.#config.typeCheck !== "refuse") return undefined;
    return sluiceError("SLUICE_FUNCTION_TYPE_ERRORS", {
      file: this.#show(file),
      errors: errors.map(formatTypeCheckError),
      held: "Not loaded: fix the errors (or set typeCheck to \"warn\" to load files with type errors).",
    });
  }

  #printFailures(report: ReloadReport): void {
    const current = new Set(this.#gateway.registry.list().map((fn) => fn.file));
    // One log line per problem, never a separate stderr write: the message
    // stays whole, and the pretty dev log prints it as the lines it has.
    for (const { file, error } of report.failed) {
      const after = current.has(file) ? "(the previous version keeps serving)" : "(it is not served until it is fixed)";
      this.#log.error({ code: error.code, file: this.#show(file) }, `${error.message}\n${after}`);
    }
    for (const e of report.errors) {
      if (report.failed.some((f) => f.error === e)) continue;
      this.#log.error({ code: e.code }, e.message);
    }
    if (this.#config.typeCheck === "warn") {
      for (const [file, errors] of this.#typeErrors) {
        const e = sluiceError("SLUICE_FUNCTION_TYPE_ERRORS", { file: this.#show(file), errors: errors.map(formatTypeCheckError), held: "Loaded anyway (typeCheck is \"warn\")." });
        this.#log.warn({ code: e.code, file: this.#show(file) }, e.message);
      }
    }
  }

  /** One line per changed file: what the reload did with it. */
  #logOutcomes(changes: FileChange[], report: ReloadReport, ms: number): void {
    const served = this.#gateway.registry.list();
    const outcomeOf = (file: string): string => {
      if (report.added.some((f) => f.file === file)) return "function added";
      if (report.updated.some((f) => f.file === file)) return "function reloaded";
      if (report.removed.some((f) => f.file === file)) return "function removed";
      const failed = report.failed.find((f) => f.file === file);
      if (failed) return `not loaded (${failed.error.code})`;
      if (served.some((f) => f.file === file)) return "same code as the version served (a comment, formatting, or an undone edit); nothing to reload";
      return "";
    };
    for (const c of changes) {
      let outcome = outcomeOf(c.file);
      if (outcome === "") {
        const users = served.filter((fn) => fn.inputs.includes(c.file) && fn.file !== c.file);
        const failedUsers = report.failed.filter((f) => !users.some((u) => u.file === f.file));
        outcome = users.length > 0
          ? `imported by ${users.map((u) => `${u.displayPath} (${outcomeOf(u.file) || "unchanged"})`).join(", ")}`
          : failedUsers.length > 0 ? "see the errors above" : "not imported by any function; nothing to reload";
      }
      const file = this.#show(c.file);
      this.#log.info({ file, change: c.kind }, `${file} ${c.kind}: ${outcome}`);
    }
    for (const [list, what] of [[report.added, "function added"], [report.updated, "function reloaded"], [report.removed, "function removed"]] as const) {
      for (const fn of list) this.#log.info({ file: fn.displayPath, ms: Math.round(ms) }, what);
    }
  }

  #show(file: string): string {
    return path.relative(this.#cwd, file) || file;
  }
}
