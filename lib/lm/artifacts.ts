/**
 * Where study B's model, SAEs and data sets come from: the real artefacts a
 * user supplies through `SAE_ARTIFACTS`, else the project's embedded default
 * under `data/embedded/`. See `data/README.md` for the layout and what each
 * file must contain.
 *
 * `SAE_ARTIFACTS` is either a folder laid out as
 * ```
 * model/                 config.json + model.safetensors (Hugging Face gpt2)
 * saes/<hook_name>/      cfg.json + sae_weights.safetensors (one SAELens folder per hook)
 * openwebtext/           *.jsonl or *.parquet with a "text" column (optional)
 * lambada/               lambada_test.jsonl (optional)
 * cbt/                   cbtest_CN_test_2500ex.txt (optional)
 * ```
 * or a JSON file naming the paths (relative paths are resolved against the
 * JSON file's folder):
 * ```json
 * { "model": "gpt2", "saes": "gpt2-small-res-jb", "openwebtext": "owt/train-00000.parquet",
 *   "lambada": "lambada_test.jsonl", "cbt": "cbtest_CN_test_2500ex.txt" }
 * ```
 * where `saes` is a folder of SAE folders or an object `{hook_name: folder}`,
 * and an optional `"trained": false` marks random, untrained weights (see
 * {@link ArtifactPaths.trained}). SAE folders (and the model folder) may be
 * symlinks. Every JSON file is read with the strict reader (errors name the file).
 *
 * The embedded default is verified against `data/manifest.json` (sizes and
 * sha256 of every file) the first time a process resolves it.
 *
 * @example
 * ```ts
 * import { resolveArtifacts } from "./artifacts.ts";
 * const art = await resolveArtifacts();
 * console.log(art.description, art.model, Object.keys(art.saes));
 * ```
 *
 * @module
 */

import { dataDir } from "../env.ts";
import { type Manifest, ManifestError, verifyManifest } from "../io/manifest.ts";
import { readJsonFile } from "../io/weights_files.ts";
import { basename, dirname, join } from "../path.ts";

/** The environment variable that points study B at real artefacts. */
export const ARTIFACTS_ENV = "SAE_ARTIFACTS";

/** Resolved artefact paths. */
export interface ArtifactPaths {
  /** Where they came from. */
  source: "SAE_ARTIFACTS" | "embedded";
  /** One line for notebooks and logs. */
  description: string;
  /**
   * False when the artefacts JSON says `"trained": false` (random weights in the
   * real layouts, as the real-shape smoke test writes): checks that only hold
   * for a trained model are then reported as skipped (`lib/study_b/guards.ts`).
   * True for folders and for the embedded default; absent means true.
   */
  trained?: boolean;
  /** Folder holding `config.json` and `model.safetensors`. */
  model: string;
  /** SAELens folders by name (the folder name, normally the hook name), sorted. */
  saes: Record<string, string>;
  /** OpenWebText file or folder, or null when not supplied. */
  openwebtext: string | null;
  /** LAMBADA jsonl file, or null. */
  lambada: string | null;
  /** CBT-CN text file, or null. */
  cbt: string | null;
}

/** Options of {@link resolveArtifacts} (for tests; the defaults read the environment and `data/`). */
export interface ResolveOptions {
  /** Value to use instead of `$SAE_ARTIFACTS` (`""` = unset). */
  env?: string;
  /** Root of the embedded default (default `data/embedded`). */
  embeddedRoot?: string;
}

async function kind(path: string): Promise<"file" | "dir" | null> {
  try {
    const s = await Deno.stat(path);
    return s.isDirectory ? "dir" : "file";
  } catch {
    return null;
  }
}

function isAbsolute(p: string): boolean {
  return p.startsWith("/") || /^[A-Za-z]:[\\/]/.test(p);
}

async function requireFiles(folder: string, files: string[], what: string): Promise<void> {
  for (const f of files) {
    if ((await kind(join(folder, f))) !== "file") throw new Error(`${what}: ${join(folder, f)} not found`);
  }
}

async function listSaes(folder: string, what: string): Promise<Record<string, string>> {
  if ((await kind(folder)) !== "dir") throw new Error(`${what}: SAE folder ${folder} not found`);
  const names: string[] = [];
  for await (const e of Deno.readDir(folder)) {
    // a symlink to a folder counts as a folder (data/README.md: "copy or symlink them as they are")
    if (!e.isDirectory && !e.isSymlink) continue;
    const sub = join(folder, e.name);
    if (e.isSymlink && (await kind(sub)) === null) {
      throw new Error(`${what}: ${sub} is a broken symlink (its target does not exist)`);
    }
    if ((await kind(sub)) === "dir" && (await kind(join(sub, "cfg.json"))) === "file") names.push(e.name);
  }
  names.sort();
  const out: Record<string, string> = {};
  for (const n of names) {
    await requireFiles(join(folder, n), ["sae_weights.safetensors"], what);
    out[n] = join(folder, n);
  }
  return out;
}

async function optional(path: string): Promise<string | null> {
  return (await kind(path)) === null ? null : path;
}

async function fromFolder(root: string, source: ArtifactPaths["source"], what: string): Promise<ArtifactPaths> {
  const model = join(root, "model");
  await requireFiles(model, ["config.json", "model.safetensors"], what);
  const saes = (await kind(join(root, "saes"))) === "dir" ? await listSaes(join(root, "saes"), what) : {};
  return {
    source,
    description: `${what} (${root})`,
    trained: true,
    model,
    saes,
    openwebtext: await optional(join(root, "openwebtext")),
    lambada: await optional(join(root, "lambada", "lambada_test.jsonl")),
    cbt: await optional(join(root, "cbt", "cbtest_CN_test_2500ex.txt")),
  };
}

async function fromJson(file: string, what: string): Promise<ArtifactPaths> {
  let o: Record<string, unknown>;
  try {
    const v = await readJsonFile(file);
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`${file}: expected a JSON object`);
    o = v as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${what}: ${err instanceof Error ? err.message : err}`);
  }
  const trained = o.trained ?? true;
  if (typeof trained !== "boolean") {
    throw new Error(`${what}: "trained" in ${file} must be true or false, got ${JSON.stringify(o.trained)}`);
  }
  const base = dirname(file);
  const abs = (key: string): string | null => {
    const v = o[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== "string") throw new Error(`${what}: "${key}" in ${file} must be a path string`);
    return isAbsolute(v) ? v : join(base, v);
  };
  const model = abs("model");
  if (model === null) throw new Error(`${what}: ${file} has no "model" path`);
  await requireFiles(model, ["config.json", "model.safetensors"], what);
  let saes: Record<string, string> = {};
  if (typeof o.saes === "object" && o.saes !== null && !Array.isArray(o.saes)) {
    for (const [name, p] of Object.entries(o.saes as Record<string, unknown>)) {
      if (typeof p !== "string") throw new Error(`${what}: saes["${name}"] in ${file} must be a path string`);
      const folder = isAbsolute(p) ? p : join(base, p);
      await requireFiles(folder, ["cfg.json", "sae_weights.safetensors"], what);
      saes[name] = folder;
    }
  } else {
    const folder = abs("saes");
    if (folder !== null) saes = await listSaes(folder, what);
  }
  const check = async (key: string) => {
    const p = abs(key);
    if (p !== null && (await kind(p)) === null) throw new Error(`${what}: "${key}" path ${p} (from ${file}) not found`);
    return p;
  };
  return {
    source: "SAE_ARTIFACTS",
    description: `${what} (${file})`,
    trained,
    model,
    saes,
    openwebtext: await check("openwebtext"),
    lambada: await check("lambada"),
    cbt: await check("cbt"),
  };
}

function envValue(): string {
  try {
    return Deno.env.get(ARTIFACTS_ENV) ?? "";
  } catch {
    return "";
  }
}

/**
 * The artefacts study B runs on: `$SAE_ARTIFACTS` (folder or JSON file) when
 * set, else the embedded default under `data/embedded/`.
 *
 * @throws {Error} naming the missing path when `SAE_ARTIFACTS` is set but
 * incomplete, or when it is unset and the embedded default is not there
 */
export async function resolveArtifacts(opts: ResolveOptions = {}): Promise<ArtifactPaths> {
  const env = opts.env ?? envValue();
  if (env !== "") {
    const what = `${ARTIFACTS_ENV}=${env}`;
    const k = await kind(env);
    if (k === null) throw new Error(`${what}: no such file or folder`);
    return k === "dir" ? await fromFolder(env, "SAE_ARTIFACTS", what) : await fromJson(env, what);
  }
  const root = opts.embeddedRoot ?? join(dataDir(), "embedded");
  if ((await kind(join(root, "model", "config.json"))) === null) {
    throw new Error(
      `no study-B artefacts: ${ARTIFACTS_ENV} is not set and the embedded default ${root}/model/ is missing; ` +
        `set ${ARTIFACTS_ENV} to a folder or JSON file as described in data/README.md, or train the embedded model`,
    );
  }
  const art = await fromFolder(root, "embedded", "embedded default");
  await verifyEmbedded(root, art);
  return art;
}

const verified = new Map<string, Promise<Manifest>>();

/**
 * The embedded default's manifest: `<root>/../manifest.json`, whose paths
 * start with the root folder's name (`embedded/model/model.safetensors`).
 */
export function embeddedManifestPath(root: string): string {
  return join(dirname(root), "manifest.json");
}

/**
 * Verifies every file of the embedded default against its manifest (sizes,
 * then sha256), once per process and manifest (the result, or the failure, is
 * cached), and checks that every model and SAE file the study will read is
 * listed.
 *
 * @throws {Error} naming the file that is missing, unlisted, or has changed
 */
export async function verifyEmbedded(root: string, art: ArtifactPaths): Promise<Manifest> {
  const manifestPath = embeddedManifestPath(root);
  let pending = verified.get(manifestPath);
  if (pending === undefined) {
    pending = verifyManifest(manifestPath);
    verified.set(manifestPath, pending);
  }
  let manifest: Manifest;
  try {
    manifest = await pending;
  } catch (err) {
    const why = err instanceof ManifestError ? err.message : String(err instanceof Error ? err.message : err);
    throw new Error(
      `embedded default (${root}): verification against ${manifestPath} failed: ${why}; ` +
        `restore data/ from git (git checkout -- data/) or retrain it (deno task train-lm, deno task train-saes)`,
    );
  }
  const prefix = basename(root);
  const used = [join(art.model, "config.json"), join(art.model, "model.safetensors")];
  if ((await kind(join(art.model, "vocab_map.json"))) === "file") used.push(join(art.model, "vocab_map.json"));
  for (const folder of Object.values(art.saes)) {
    used.push(join(folder, "cfg.json"), join(folder, "sae_weights.safetensors"));
  }
  for (const path of used) {
    const key = `${prefix}/${path.slice(root.length + 1)}`;
    if (!path.startsWith(`${root}/`) || manifest.files[key] === undefined) {
      throw new Error(`embedded default: ${path} is not listed in ${manifestPath}, so it cannot be verified`);
    }
  }
  return manifest;
}
