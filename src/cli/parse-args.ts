import { typedFlags, type CliFlags } from "../config/load-config.js";
import { sluiceError, type SluiceError } from "../errors.js";
import { nearestName } from "../nearest-name.js";

export type Command = "dev" | "start" | "check" | "build" | "help" | "version";

export interface ParsedArgs {
  command: Command;
  /** Dotted config keys set by flags, with the flag typed for each. */
  flags: CliFlags;
  configFile?: string;
  /** build --out: the artifact's folder. */
  outDir?: string;
}

const commands = ["dev", "start", "check", "build"];

/** Flags and the config key each one sets. */
const flagKeys: Record<string, string> = {
  host: "host",
  port: "port",
  functions: "functionsDir",
  "log-level": "logLevel",
  "tls-cert": "tls.cert",
  "tls-key": "tls.key",
  workers: "workers",
};

export const usage = `Usage: sluice <command> [flags]

Commands:
  dev       serve functions/ and reload them when files change
  start     serve functions/ (production)
  check     validate the config and every function file, then exit
            (exit code 1 with the errors)
  build     check, then write one self-contained artifact that runs with
            only node: node <out>/sluice.mjs start (see wrangler-free-deploy/)

Flags:
  --host <address>      address to listen on (config host, SLUICE_HOST)
  --port <port>         port to listen on (config port, SLUICE_PORT)
  --functions <dir>     functions folder (config functionsDir, SLUICE_FUNCTIONS_DIR)
  --config <file>       config file (default: sluice.config.{ts,mts,js,mjs,json})
  --out <dir>           build: the artifact's folder (default: dist/deploy)
  --log-level <level>   fatal, error, warn, info, debug, trace or silent
  --tls-cert <file>     PEM certificate; with --tls-key serves TLS (h2 + http/1.1)
  --tls-key <file>      PEM private key
  --workers <n|auto>    start: serve from n processes (config workers, SLUICE_WORKERS);
                        SIGHUP then replaces them one at a time with fresh code
  --set <key>=<value>   any config key, e.g. --set cors.origins=https://a.example
  -h, --help            this help
  -v, --version         print the version
`;

/** Parses `sluice <command> [--flag value | --flag=value] ...`. */
export function parseArgs(argv: string[]): { args: ParsedArgs } | { error: SluiceError } {
  const fail = (reason: string) => ({ error: sluiceError("SLUICE_CLI_USAGE", { reason }) });
  const typed: Record<string, string> = {};
  const flags: CliFlags = { [typedFlags]: typed };
  let command: Command | undefined;
  let configFile: string | undefined;
  let outDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h" || arg === "--help") return { args: { command: "help", flags } };
    if (arg === "-v" || arg === "--version") return { args: { command: "version", flags } };
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      let value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined) return fail(`flag --${name} needs a value`);
      if (name === "config") {
        configFile = value;
      } else if (name === "out") {
        outDir = value;
      } else if (name === "set") {
        const kv = value.indexOf("=");
        if (kv <= 0) return fail(`--set needs key=value, got "${value}"`);
        const key = value.slice(0, kv);
        flags[key] = value.slice(kv + 1);
        typed[key] = `--set ${key}`;
      } else if (flagKeys[name]) {
        flags[flagKeys[name]] = value;
        typed[flagKeys[name]] = `--${name}`;
      } else {
        const near = nearestName(name, [...Object.keys(flagKeys), "config", "out", "set", "help", "version"]);
        return fail(`unknown flag --${name}${near ? `; did you mean --${near}?` : ""}`);
      }
      continue;
    }
    if (command !== undefined) return fail(`unexpected argument "${arg}"`);
    if (arg !== "dev" && arg !== "start" && arg !== "check" && arg !== "build") {
      const near = nearestName(arg, commands);
      return fail(`unknown command "${arg}"; ${near ? `did you mean "${near}"?` : "the commands are dev, start, check and build"}`);
    }
    command = arg;
  }
  if (command === undefined) return { args: { command: "help", flags } };
  if (outDir !== undefined && command !== "build") return fail(`--out is for build`);
  return { args: { command, flags, ...(configFile ? { configFile } : {}), ...(outDir ? { outDir } : {}) } };
}
