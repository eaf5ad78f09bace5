/**
 * Turns one pino JSON log line into a line for people:
 * `12:03:04.512 INFO  function reloaded  file=functions/greet.ts ms=212`,
 * with a multi-line message and an error's stack on the lines below it.
 * Anything that is not a JSON log line (the routes table) passes unchanged.
 */
export function prettyLogLine(line: string, color: boolean): string {
  if (!line.startsWith("{")) return line;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof entry.level !== "number" || typeof entry.time !== "number") return line;
  const { level, time, msg, err, pid: _pid, hostname: _hostname, ...fields } = entry;
  const name = levelNames[level as number] ?? `L${String(level)}`;
  const paint = (code: string, text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const clock = new Date(time as number).toTimeString().slice(0, 8) + `.${String((time as number) % 1000).padStart(3, "0")}`;
  const [first = "", ...rest] = String(msg ?? "").split("\n");
  const extras = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`)
    .join(" ");
  const out = [`${paint("2", clock)} ${paint(levelColors[name] ?? "0", name.padEnd(5))} ${first}${extras ? `  ${paint("2", extras)}` : ""}`];
  for (const l of rest) out.push(`    ${l}`);
  if (err && typeof err === "object") {
    const stack = (err as { stack?: unknown }).stack;
    const text = typeof stack === "string" ? stack : JSON.stringify(err);
    for (const l of text.split("\n")) out.push(`    ${paint("2", l)}`);
  }
  return out.join("\n");
}

const levelNames: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
const levelColors: Record<string, string> = { TRACE: "2", DEBUG: "36", INFO: "32", WARN: "33", ERROR: "31", FATAL: "41" };
