import { readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createRegistry, type DescFile, type Registry } from "@bufbuild/protobuf";
import { bundleModule } from "../functions/bundle-module.js";

const generated = /_pb\.(ts|mts|js|mjs)$/;

/**
 * The descriptors of every file generated from proto/ (protoc-gen-es's
 * `*_pb.ts` under `dir`), as one registry: proxy routes look their services
 * up by name here, and transcode JSON with it. The files are bundled
 * together, as function files are, and imported once.
 */
export async function loadDescriptors(dir: string, bundleDir: string): Promise<Registry> {
  const files = await findGeneratedFiles(dir);
  const entry = path.join(bundleDir, "descriptors-entry.mjs");
  await writeFile(entry, files.map((f, i) => `export * as m${i} from ${JSON.stringify(f)};\n`).join(""));
  const built = await bundleModule(entry, path.join(bundleDir, "descriptors"));
  if (!built.ok) throw new Error(`cannot load the generated code under ${dir}: ${built.message}`);
  return registryOf((await import(built.bundle.url)) as Record<string, Record<string, unknown>>);
}

/**
 * The same registry from a built artifact, whose descriptors module
 * (`sluice build` bundles it like `loadDescriptors` does, with the
 * functions) re-exports every generated file.
 */
export async function loadPrebuiltDescriptors(file: string): Promise<Registry> {
  return registryOf((await import(pathToFileURL(file).href)) as Record<string, Record<string, unknown>>);
}

/** Every `*_pb` file under `dir`, sorted. */
export async function findGeneratedFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  async function walk(folder: string): Promise<void> {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (generated.test(entry.name)) files.push(full);
    }
  }
  await walk(dir);
  return files.sort();
}

function registryOf(modules: Record<string, Record<string, unknown>>): Registry {
  const descFiles: DescFile[] = [];
  for (const m of Object.values(modules)) {
    for (const v of Object.values(m)) if (isDescFile(v)) descFiles.push(v);
  }
  return createRegistry(...descFiles);
}

function isDescFile(v: unknown): v is DescFile {
  return typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "file" && Array.isArray((v as DescFile).services);
}
