import { statSync } from "node:fs";
import path from "node:path";
import type ts from "typescript";

/** One type error, where it is and what it says. */
export interface TypeCheckError {
  /** Path relative to the working directory. */
  file: string;
  line: number;
  column: number;
  /** TypeScript's code, e.g. 2551. */
  code: number;
  message: string;
}

/** The verdict for one function file: the errors in it and in the local files it imports. */
export interface FileVerdict {
  /** Absolute path of the function file. */
  file: string;
  errors: TypeCheckError[];
}

/** `functions/greet.ts:12:7 error TS2551: Property 'titel' does not exist ...` */
export function formatTypeCheckError(e: TypeCheckError): string {
  return `${e.file}:${e.line}:${e.column} error TS${e.code}: ${e.message}`;
}

/**
 * Type-checks function files against the code they import (generated
 * `_pb.ts` files, helpers, the "sluice" API), with TypeScript's language
 * service, which keeps everything it parsed and bound between checks: after
 * an edit only the files that changed are parsed again, and only function
 * files that import a changed file are checked again.
 *
 * Compiler options come from the nearest tsconfig.json above the functions
 * folder (its include list is not used: the function files are the roots),
 * so function files are checked the way the editor checks them.
 */
export class FunctionTypeChecker {
  readonly #ts: typeof ts;
  readonly #service: ts.LanguageService;
  readonly #options: ts.CompilerOptions;
  readonly #host: ts.LanguageServiceHost;
  readonly #cwd: string;
  #roots: string[] = [];
  /** File → version; bumped when the file's stat changes. */
  readonly #versions = new Map<string, { stamp: string; version: number }>();
  /** Function file → verdict, and the local files it was computed from. */
  readonly #verdicts = new Map<string, { verdict: FileVerdict; closure: Set<string> }>();

  constructor(typescript: typeof ts, functionsDir: string, cwd = process.cwd()) {
    this.#ts = typescript;
    this.#cwd = cwd;
    this.#options = readCompilerOptions(typescript, functionsDir);
    const sys = typescript.sys;
    this.#host = {
      getScriptFileNames: () => this.#roots,
      getScriptVersion: (f) => String(this.#version(f)),
      getScriptSnapshot: (f) => {
        const text = sys.readFile(f);
        return text === undefined ? undefined : typescript.ScriptSnapshot.fromString(text);
      },
      getCurrentDirectory: () => cwd,
      getCompilationSettings: () => this.#options,
      getDefaultLibFileName: (o) => typescript.getDefaultLibFilePath(o),
      fileExists: (f) => sys.fileExists(f),
      readFile: (f, enc) => sys.readFile(f, enc),
      readDirectory: (...a) => sys.readDirectory(...a),
      directoryExists: (d) => sys.directoryExists(d),
      getDirectories: (d) => sys.getDirectories(d),
      realpath: sys.realpath ? (p) => sys.realpath!(p) : undefined,
    };
    this.#service = typescript.createLanguageService(this.#host, typescript.createDocumentRegistry());
  }

  /**
   * Checks `files` (absolute paths of function files) as they are on disk
   * now. A function file whose own code and local imports did not change
   * since its last clean check keeps that verdict without being checked again.
   */
  check(files: string[]): FileVerdict[] {
    this.#roots = [...files].sort();
    const program = this.#service.getProgram();
    if (!program) return files.map((file) => ({ file, errors: [] }));
    const out: FileVerdict[] = [];
    const perFile = new Map<string, TypeCheckError[]>();
    for (const file of files) {
      const cached = this.#verdicts.get(file);
      // A verdict with errors is always checked again: the fix may be a file it could not find before.
      if (cached && cached.verdict.errors.length === 0) {
        out.push(cached.verdict);
        continue;
      }
      const closure = this.#localClosure(program, file);
      const errors: TypeCheckError[] = [];
      for (const f of closure) {
        let list = perFile.get(f);
        if (!list) {
          list = this.#diagnostics(f);
          perFile.set(f, list);
        }
        errors.push(...list);
      }
      const verdict = { file, errors };
      this.#verdicts.set(file, { verdict, closure });
      out.push(verdict);
    }
    for (const f of this.#verdicts.keys()) if (!files.includes(f)) this.#verdicts.delete(f);
    return out;
  }

  /** Stat-based versions: a file whose stat changed is read and parsed again. */
  #version(file: string): number {
    // Libraries and the compiler's own lib files do not change while we run.
    if (file.includes(`${path.sep}node_modules${path.sep}`)) return 0;
    let stamp: string;
    try {
      const s = statSync(file);
      stamp = `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      stamp = "missing";
    }
    const v = this.#versions.get(file);
    if (v && v.stamp === stamp) return v.version;
    const version = (v?.version ?? 0) + 1;
    this.#versions.set(file, { stamp, version });
    if (v) {
      // Any function file importing this one has to be checked again.
      for (const [fn, cached] of this.#verdicts) if (cached.closure.has(file)) this.#verdicts.delete(fn);
    }
    return version;
  }

  /** The file and every local file it imports, transitively (relative and absolute specifiers; packages stay out, as in the bundle). */
  #localClosure(program: ts.Program, file: string): Set<string> {
    const seen = new Set<string>();
    const visit = (f: string) => {
      if (seen.has(f)) return;
      seen.add(f);
      const sf = program.getSourceFile(f);
      if (!sf) return;
      for (const spec of importSpecifiers(this.#ts, sf)) {
        if (!spec.startsWith(".") && !path.isAbsolute(spec)) continue;
        const resolved = this.#ts.resolveModuleName(spec, f, this.#options, this.#host as ts.ModuleResolutionHost).resolvedModule;
        if (resolved && !resolved.isExternalLibraryImport && !resolved.resolvedFileName.endsWith(".d.ts")) visit(path.resolve(resolved.resolvedFileName));
      }
    };
    visit(path.resolve(file));
    return seen;
  }

  #diagnostics(file: string): TypeCheckError[] {
    const t = this.#ts;
    let diagnostics: readonly ts.Diagnostic[];
    try {
      diagnostics = [...this.#service.getSyntacticDiagnostics(file), ...this.#service.getSemanticDiagnostics(file)];
    } catch {
      return []; // a file that vanished during the check; the next change checks again
    }
    return diagnostics
      .filter((d) => d.category === t.DiagnosticCategory.Error)
      .map((d) => {
        const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : { line: 0, character: 0 };
        return {
          file: path.relative(this.#cwd, d.file?.fileName ?? file) || file,
          line: where.line + 1,
          column: where.character + 1,
          code: d.code,
          message: t.flattenDiagnosticMessageText(d.messageText, "\n"),
        };
      });
  }
}

function importSpecifiers(t: typeof ts, sf: ts.SourceFile): string[] {
  const out: string[] = [];
  for (const stmt of sf.statements) {
    if ((t.isImportDeclaration(stmt) || t.isExportDeclaration(stmt)) && stmt.moduleSpecifier && t.isStringLiteral(stmt.moduleSpecifier)) {
      out.push(stmt.moduleSpecifier.text);
    }
  }
  return out;
}

/** Options of the nearest tsconfig.json above `dir`, or strict NodeNext defaults. */
function readCompilerOptions(t: typeof ts, dir: string): ts.CompilerOptions {
  const defaults: ts.CompilerOptions = {
    target: t.ScriptTarget.ES2022,
    module: t.ModuleKind.NodeNext,
    moduleResolution: t.ModuleResolutionKind.NodeNext,
    strict: true,
    skipLibCheck: true,
    esModuleInterop: true,
  };
  const configFile = t.findConfigFile(dir, t.sys.fileExists, "tsconfig.json");
  let options = defaults;
  if (configFile) {
    const read = t.readConfigFile(configFile, t.sys.readFile);
    if (!read.error) {
      const parsed = t.parseJsonConfigFileContent(read.config, t.sys, path.dirname(configFile), undefined, configFile);
      options = parsed.options;
    }
  }
  // Checking only: never write anything, and never let a library's types fail a function.
  return { ...options, noEmit: true, skipLibCheck: true, incremental: false, composite: false, declaration: false, tsBuildInfoFile: undefined };
}
