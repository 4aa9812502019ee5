/**
 * Crash-safe file writes: write a temp file in the destination's folder, fsync
 * it, rename it over the destination, fsync the folder. A reader sees either
 * the old file or the complete new one, never a partial write. A crash may
 * leave a temp file behind; its name starts with `.` and contains `.tmp-`
 * (see {@link isTempFileName}), and {@link removeTempFiles} clears them.
 *
 * @module
 */

import { basename, dirname, join } from "../path.ts";

/**
 * What {@link writeFileAtomic} accepts: bytes, text, or byte chunks written in order.
 *
 * @example
 * ```ts
 * import { type FileContent, writeFileAtomic } from "./atomic.ts";
 * const dir = await Deno.makeTempDir(); // a scratch folder
 * const parts: FileContent = [new Uint8Array([1]), new Uint8Array([2, 3])];
 * await writeFileAtomic(`${dir}/blob.bin`, parts);
 * ```
 */
export type FileContent = Uint8Array | string | readonly Uint8Array[];

/**
 * The error {@link writeJsonAtomic} and {@link toJsonText} throw for values JSON cannot hold faithfully.
 *
 * @example
 * ```ts
 * import { JsonValueError, toJsonText } from "./atomic.ts";
 * try {
 *   toJsonText({ losses: [0.5, NaN] });
 * } catch (e) {
 *   if (e instanceof JsonValueError) console.log(e.path); // "$.losses[1]"
 * }
 * ```
 */
export class JsonValueError extends Error {
  /** JSON path of the offending value, e.g. `$.losses[3]`. */
  readonly path: string;
  /** The problem alone, without the path prefix. */
  readonly problem: string;
  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = "JsonValueError";
    this.path = path;
    this.problem = problem;
  }
}

let tempCounter = 0;

function tempPathFor(path: string): string {
  tempCounter = (tempCounter + 1) % 1e9;
  const rand = Math.floor(Math.random() * 0xffffffff).toString(16).padStart(8, "0");
  return join(dirname(path), `.${basename(path)}.tmp-${Deno.pid}-${tempCounter}-${rand}`);
}

/**
 * True for names of temp files that {@link writeFileAtomic} creates (and a
 * crash may leave behind).
 *
 * @example
 * ```ts
 * import { isTempFileName } from "./atomic.ts";
 * isTempFileName(".model.safetensors.tmp-123-1-0a1b2c3d"); // true
 * isTempFileName("model.safetensors"); // false
 * ```
 */
export function isTempFileName(name: string): boolean {
  return /^\..+\.tmp-\d+-\d+-[0-9a-f]{8}$/.test(name);
}

function toChunks(content: FileContent): readonly Uint8Array[] {
  if (typeof content === "string") return [new TextEncoder().encode(content)];
  if (content instanceof Uint8Array) return [content];
  return content;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await file.write(bytes.subarray(done));
}

async function syncDir(dir: string): Promise<void> {
  // fsync the folder so the rename itself survives a power cut; not every platform allows opening a folder
  let handle: Deno.FsFile | undefined;
  try {
    handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch {
    // best effort
  } finally {
    handle?.close();
  }
}

/**
 * Writes `content` to `path` atomically: temp file in the same folder, fsync,
 * rename over `path`. Parent folders are created. On failure the temp file is
 * removed and the previous `path` (if any) is untouched.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 * const dir = await Deno.makeTempDir(); // a scratch folder
 * await writeFileAtomic(`${dir}/run/notes.txt`, "step 10 done\n");
 * await writeFileAtomic(`${dir}/run/blob.bin`, [new Uint8Array([1, 2]), new Uint8Array([3])]);
 * ```
 */
export async function writeFileAtomic(path: string, content: FileContent): Promise<void> {
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = tempPathFor(path);
  const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
  let closed = false;
  try {
    for (const chunk of toChunks(content)) await writeAll(file, chunk);
    await file.sync();
    file.close();
    closed = true;
    await Deno.rename(tmp, path);
  } catch (e) {
    if (!closed) file.close();
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  await syncDir(dir);
}

/**
 * Synchronous twin of {@link writeFileAtomic}, for exit handlers and other
 * places that cannot await.
 *
 * @example
 * ```ts
 * import { writeFileAtomicSync } from "./atomic.ts";
 * const dir = await Deno.makeTempDir(); // a scratch folder
 * writeFileAtomicSync(`${dir}/run/status.txt`, "interrupted\n");
 * ```
 */
export function writeFileAtomicSync(path: string, content: FileContent): void {
  const dir = dirname(path);
  Deno.mkdirSync(dir, { recursive: true });
  const tmp = tempPathFor(path);
  const file = Deno.openSync(tmp, { write: true, createNew: true, mode: 0o644 });
  let closed = false;
  try {
    for (const chunk of toChunks(content)) {
      let done = 0;
      while (done < chunk.length) done += file.writeSync(chunk.subarray(done));
    }
    file.syncSync();
    file.close();
    closed = true;
    Deno.renameSync(tmp, path);
  } catch (e) {
    if (!closed) file.close();
    try {
      Deno.removeSync(tmp);
    } catch {
      // already gone
    }
    throw e;
  }
}

function keyPath(parent: string, key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

/** Walks a value the way JSON.stringify would and throws on what JSON cannot represent faithfully. */
function assertJsonSafe(value: unknown, path: string, seen: Set<object>): void {
  if (value !== null && typeof value === "object" && typeof (value as { toJSON?: unknown }).toJSON === "function") {
    value = (value as { toJSON: (key: string) => unknown }).toJSON("");
  }
  switch (typeof value) {
    case "number":
      if (!Number.isFinite(value)) throw new JsonValueError(path, `${value} cannot be written as JSON`);
      return;
    case "bigint":
      throw new JsonValueError(path, `bigint ${value} cannot be written as JSON (convert it to a number or string)`);
    case "object": {
      if (value === null) return;
      if (seen.has(value)) throw new JsonValueError(path, "circular reference");
      seen.add(value);
      if (Array.isArray(value)) {
        value.forEach((v, i) => assertJsonSafe(v, `${path}[${i}]`, seen));
      } else if (ArrayBuffer.isView(value)) {
        throw new JsonValueError(path, `a ${value.constructor.name} would be written as an object; use Array.from()`);
      } else {
        for (const [k, v] of Object.entries(value)) assertJsonSafe(v, keyPath(path, k), seen);
      }
      seen.delete(value);
      return;
    }
    default:
      return; // strings, booleans; undefined and functions are skipped by JSON.stringify as usual
  }
}

/**
 * JSON text for `value` (2-space indent, trailing newline), after checking
 * that it holds no NaN, ±Infinity, bigint, typed array or cycle.
 *
 * @throws {JsonValueError} naming the JSON path of the first bad value
 *
 * @example
 * ```ts
 * import { toJsonText } from "./atomic.ts";
 * toJsonText({ step: 3, loss: 0.5 }); // '{\n  "step": 3,\n  "loss": 0.5\n}\n'
 * try {
 *   toJsonText({ losses: [1, NaN] });
 * } catch (e) {
 *   console.log((e as Error).message); // "$.losses[1]: NaN cannot be written as JSON"
 * }
 * ```
 */
export function toJsonText(value: unknown, indent = 2): string {
  assertJsonSafe(value, "$", new Set());
  return JSON.stringify(value, null, indent) + "\n";
}

/**
 * Writes `value` as JSON atomically (see {@link writeFileAtomic}); rejects NaN,
 * ±Infinity and other values JSON would silently mangle, naming their path.
 *
 * @throws {JsonValueError} before anything is written, if `value` holds a bad value
 *
 * @example
 * ```ts
 * import { writeJsonAtomic } from "./atomic.ts";
 * const dir = await Deno.makeTempDir(); // a scratch folder
 * await writeJsonAtomic(`${dir}/run/state.json`, { step: 100, lr: 4e-4 });
 * ```
 */
export async function writeJsonAtomic(path: string, value: unknown, indent = 2): Promise<void> {
  let text: string;
  try {
    text = toJsonText(value, indent);
  } catch (e) {
    if (e instanceof JsonValueError) throw new JsonValueError(e.path, `${e.problem} (writing ${path})`);
    throw e;
  }
  await writeFileAtomic(path, text);
}

/**
 * Removes temp files left in `dir` by interrupted atomic writes; returns their
 * names. Only names matching {@link isTempFileName} are touched, and only
 * those whose target name passes `filter` when one is given.
 *
 * @example
 * ```ts
 * import { removeTempFiles } from "./atomic.ts";
 * const dir = await Deno.makeTempDir(); // a scratch folder
 * const removed = await removeTempFiles(`${dir}/checkpoints`);
 * ```
 */
export async function removeTempFiles(dir: string, filter?: (targetName: string) => boolean): Promise<string[]> {
  const removed: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !isTempFileName(entry.name)) continue;
      const target = entry.name.slice(1).replace(/\.tmp-\d+-\d+-[0-9a-f]{8}$/, "");
      if (filter && !filter(target)) continue;
      await Deno.remove(join(dir, entry.name)).catch(() => {});
      removed.push(entry.name);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return removed.sort();
}
