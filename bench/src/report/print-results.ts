// Prints the tables of a results file again, plain or as Markdown (for
// BENCHMARKS.md): node bench/.build/src/report/print-results.js <file.json> [--markdown]
import { readFileSync } from "node:fs";
import type { BenchResults } from "./results-file.js";
import { formatResults } from "./table.js";

const file = process.argv[2];
if (!file) {
  process.stderr.write("usage: print-results.js <results.json> [--markdown]\n");
  process.exit(2);
}
const results = JSON.parse(readFileSync(file, "utf8")) as BenchResults;
process.stdout.write(`${formatResults(results, process.argv.includes("--markdown") ? "markdown" : "plain")}\n`);
