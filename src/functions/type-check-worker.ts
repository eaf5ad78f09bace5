// The worker thread behind BackgroundTypeCheck: keeps one TypeScript
// language service alive for the whole dev session and answers check requests.
import { parentPort, workerData } from "node:worker_threads";
import type { FileVerdict } from "./type-check-functions.js";

export interface CheckRequest {
  id: number;
  files: string[];
}

export type CheckReply = { id: number; verdicts: FileVerdict[]; ms: number } | { id: number; error: string };

const { functionsDir, cwd } = workerData as { functionsDir: string; cwd: string };
const port = parentPort!;
// Loaded here, not at the top: a missing typescript package becomes a reply, not a crash.
const ready = (async () => {
  const [{ default: ts }, { FunctionTypeChecker }] = await Promise.all([import("typescript"), import("./type-check-functions.js")]);
  return new FunctionTypeChecker(ts, functionsDir, cwd);
})();

port.on("message", (req: CheckRequest) => {
  ready.then((checker) => {
    const started = performance.now();
    const verdicts = checker.check(req.files);
    port.postMessage({ id: req.id, verdicts, ms: performance.now() - started } satisfies CheckReply);
  }).catch((e: unknown) => {
    port.postMessage({ id: req.id, error: e instanceof Error ? e.message : String(e) } satisfies CheckReply);
  });
});
