import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { parseAllDocuments } from "yaml";
import { root } from "./gateway.js";

/** One Kubernetes object from a YAML file or a kustomize build. */
export interface Manifest {
  /** Where it came from, e.g. "kustomize build overlays/prod" or a file name. */
  source: string;
  value: Record<string, unknown>;
}

export function parseManifests(text: string, source: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Record<string, unknown> | null)
    .filter((v): v is Record<string, unknown> => v !== null)
    .map((value) => ({ source, value }));
}

/** The model (kubernetes-models, @kubernetes-models/knative, @kubernetes-models/prometheus-operator) of an apiVersion and kind. */
function modelOf(apiVersion: string, kind: string): { module: string; type: string } | undefined {
  if (apiVersion.endsWith(".knative.dev/v1")) return { module: `@kubernetes-models/knative/${apiVersion}/${kind}`, type: `I${kind}` };
  if (apiVersion === "monitoring.coreos.com/v1") return { module: `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`, type: `I${kind}` };
  const known = ["v1", "apps/v1", "autoscaling/v2", "policy/v1", "networking.k8s.io/v1", "batch/v1", "rbac.authorization.k8s.io/v1"];
  if (!known.includes(apiVersion)) return undefined;
  return { module: `kubernetes-models/${apiVersion}/${kind}`, type: `I${kind}` };
}

function describe(m: Manifest): string {
  const meta = m.value.metadata as { name?: string } | undefined;
  return `${String(m.value.kind)} ${meta?.name ?? "(no name)"} (${m.source})`;
}

/**
 * Checks every object against the Kubernetes API schemas in the
 * kubernetes-models packages (and Knative's and the Prometheus Operator's,
 * generated from their CRDs), two ways, and returns every problem found:
 *
 * - values: the package's validator (JSON Schema from the API's OpenAPI
 *   spec: types, required fields, formats);
 * - field names: the package's TypeScript types, by compiling each object
 *   as a literal of its kind's interface. The OpenAPI schemas do not forbid
 *   unknown fields (the API server drops them, or refuses them with
 *   --validate=strict), so a misspelled field would pass the first check;
 *   TypeScript's excess-property check refuses it, naming the field.
 */
export async function validateManifests(manifests: Manifest[]): Promise<string[]> {
  const problems: string[] = [];
  const chunks: string[] = [];
  let lineCount = 0;
  const owners: { line: number; manifest: Manifest }[] = [];
  for (const [i, m] of manifests.entries()) {
    const model = modelOf(String(m.value.apiVersion), String(m.value.kind));
    if (!model) {
      problems.push(`${describe(m)}: no API schema for ${String(m.value.apiVersion)} ${String(m.value.kind)}`);
      continue;
    }
    const mod = (await import(model.module)) as Record<string, new (data: unknown) => { validate(): void }>;
    const Model = mod[String(m.value.kind)];
    if (!Model) {
      problems.push(`${describe(m)}: ${model.module} has no ${String(m.value.kind)}`);
      continue;
    }
    try {
      new Model(m.value).validate();
    } catch (e) {
      problems.push(`${describe(m)}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const chunk = `export const m${i}: import(${JSON.stringify(model.module)}).${model.type} = ${JSON.stringify(m.value, null, 2)};`;
    owners.push({ line: lineCount, manifest: m });
    chunks.push(chunk);
    lineCount += chunk.split("\n").length;
  }
  const source = chunks.join("\n");
  for (const d of typeCheck(source)) {
    const line = d.line;
    const owner = [...owners].reverse().find((o) => o.line <= line) ?? owners[0];
    problems.push(`${owner ? describe(owner.manifest) : "(manifest)"}: ${d.message}\n    at: ${source.split("\n")[line]?.trim()}`);
  }
  return problems;
}

/** Compiles `source` against the installed type declarations; returns its errors with their line. */
function typeCheck(source: string): { line: number; message: string }[] {
  // A file inside the repository, so that its imports resolve from node_modules.
  const file = path.join(root, "test", "__manifests__.ts");
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, onError) => (path.resolve(name) === file ? ts.createSourceFile(name, source, lang) : read(name, lang, onError));
  host.fileExists = ((exists) => (name: string) => path.resolve(name) === file || exists(name))(host.fileExists.bind(host));
  const program = ts.createProgram([file], options, host);
  const sf = program.getSourceFile(file)!;
  return ts.getPreEmitDiagnostics(program, sf).map((d) => ({
    line: d.start !== undefined ? sf.getLineAndCharacterOfPosition(d.start).line : 0,
    message: ts.flattenDiagnosticMessageText(d.messageText, "\n    "),
  }));
}

/** Peak resident memory (MiB) the harness measured, per server, in one results file. */
export interface BenchResults {
  unary: { server: string; summary?: { peakRssMb: number } }[];
  serverStream: { server: string; summary?: { peakRssMb: number } }[];
  bidi: { server: string; summary?: { peakRssMb: number } }[];
}

/** The newest full benchmark run (bench/results/<date>.json). */
export function latestBenchResults(): { file: string; value: BenchResults } {
  const dir = path.join(root, "bench", "results");
  const file = readdirSync(dir).filter((f) => /^\d{4}-\d{2}-\d{2}\.json$/.test(f)).sort().at(-1)!;
  return { file: path.join(dir, file), value: JSON.parse(readFileSync(path.join(dir, file), "utf8")) as BenchResults };
}
