/**
 * Start-up progress on stderr ("sluice: bundling 4 function files… 0.4 s"),
 * so that the seconds before a server listens are never silent. stderr,
 * because stdout carries the JSON logs a machine may be reading.
 */
export async function step<T>(label: string, work: () => Promise<T>, outcome?: (result: T) => string): Promise<T> {
  process.stderr.write(`sluice: ${label}…\n`);
  const started = performance.now();
  const result = await work();
  const detail = outcome?.(result);
  process.stderr.write(`sluice: ${label}: ${seconds(performance.now() - started)}${detail ? `, ${detail}` : ""}\n`);
  return result;
}

export function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
