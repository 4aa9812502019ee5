/**
 * Resumable training checkpoints that survive a crash at any moment.
 *
 * A save writes, each atomically (temp file, fsync, rename):
 * 1. `PREFIX-STEP.safetensors` — the tensors;
 * 2. `PREFIX-STEP.json` — the record: step, the tensors file's sha256 and size, and the JSON `state`;
 * 3. `PREFIX-latest.json` — the pointer naming the record.
 *
 * The pointer moves only after both files of the new checkpoint are complete
 * on disk, so a crash mid-save leaves the previous checkpoint as the latest.
 * Then all but the newest `keepLast` checkpoints up to this step are deleted,
 * along with leftover temp files and checkpoints from steps after this one
 * (an abandoned run that was resumed from an earlier step). `STEP` is
 * zero-padded to 10 digits. One writer per folder and prefix.
 *
 * @module
 */

import { removeTempFiles, toJsonText, writeFileAtomic } from "./atomic.ts";
import { sha256Bytes, sha256Chunks } from "./manifest.ts";
import {
  parseSafetensors,
  readFileBytes,
  type SafeTensor,
  SafetensorsError,
  serializeSafetensorsChunks,
  type TensorInput,
} from "./safetensors.ts";
import { dirname, join } from "../path.ts";

const FORMAT = "sae-notebooks/checkpoint@1";

/**
 * What a checkpoint holds.
 *
 * @example
 * ```ts
 * import { type CheckpointInput, saveCheckpoint } from "./checkpoint.ts";
 * const dir = await Deno.makeTempDir(); // a scratch folder
 * const ckpt: CheckpointInput<{ lr: number }> = {
 *   step: 10,
 *   tensors: { W_enc: { shape: [2, 2], data: new Float32Array(4) } },
 *   state: { lr: 4e-4 },
 * };
 * await saveCheckpoint(`${dir}/run`, ckpt);
 * ```
 */
export interface CheckpointInput<S> {
  /** Training step (a non-negative integer); names the files. */
  step: number;
  /** Tensors by name (parameters, optimiser moments, …). */
  tensors: Record<string, TensorInput> | Map<string, TensorInput>;
  /** Everything else needed to resume, as JSON (no NaN/Infinity). */
  state: S;
}

/**
 * A loaded checkpoint.
 *
 * @example
 * ```ts
 * import { type LoadedCheckpoint, loadLatestCheckpoint } from "./checkpoint.ts";
 * const dir = await Deno.makeTempDir(); // a scratch folder
 * const c: LoadedCheckpoint<{ lr: number }> | null = await loadLatestCheckpoint(`${dir}/run`);
 * console.log(c?.step, c?.tensors.get("W_enc")?.shape);
 * ```
 */
export interface LoadedCheckpoint<S> {
  /** Training step of the checkpoint. */
  step: number;
  /** Tensors by name. */
  tensors: Map<string, SafeTensor>;
  /** The JSON state saved with it. */
  state: S;
  /** Path of the tensors file. */
  tensorsPath: string;
  /** Path of the record (JSON) file. */
  recordPath: string;
}

/**
 * Where a save went.
 *
 * @example
 * ```ts
 * import { saveCheckpoint } from "./checkpoint.ts";
 * const dir = await Deno.makeTempDir(); // a scratch folder
 * const saved = await saveCheckpoint(`${dir}/run`, { step: 1, tensors: {}, state: {} });
 * console.log(saved.tensorsPath, saved.pruned);
 * ```
 */
export interface SavedCheckpoint {
  /** Training step of the checkpoint. */
  step: number;
  /** Path of the tensors file. */
  tensorsPath: string;
  /** Path of the record (JSON) file. */
  recordPath: string;
  /** Steps of checkpoints deleted by this save's pruning. */
  pruned: number[];
}

/**
 * Options for {@link saveCheckpoint} and {@link loadLatestCheckpoint}.
 *
 * @example
 * ```ts
 * import { type CheckpointOptions, saveCheckpoint } from "./checkpoint.ts";
 * const dir = await Deno.makeTempDir(); // a scratch folder
 * const options: Partial<CheckpointOptions> = { prefix: "sae-L3", keepLast: 3 };
 * await saveCheckpoint(`${dir}/saes`, { step: 1, tensors: {}, state: {} }, options);
 * ```
 */
export interface CheckpointOptions {
  /** File name prefix, so several runs can share a folder (letters, digits, `_`, `-`). Default `"ckpt"`. */
  prefix: string;
  /** How many checkpoints to keep, the one just saved included. Default 2. */
  keepLast: number;
}

/**
 * Default checkpoint options with overrides.
 *
 * @example
 * ```ts
 * import { defaultCheckpointOptions } from "./checkpoint.ts";
 * defaultCheckpointOptions({ keepLast: 3 }); // { prefix: "ckpt", keepLast: 3 }
 * ```
 */
export function defaultCheckpointOptions(overrides: Partial<CheckpointOptions> = {}): CheckpointOptions {
  const o = { prefix: "ckpt", keepLast: 2, ...overrides };
  if (!/^[A-Za-z0-9_-]+$/.test(o.prefix)) {
    throw new RangeError(`checkpoint prefix must be letters, digits, "_" or "-", got ${JSON.stringify(o.prefix)}`);
  }
  if (!Number.isSafeInteger(o.keepLast) || o.keepLast < 1) {
    throw new RangeError(`checkpoint keepLast must be an integer ≥ 1, got ${o.keepLast}`);
  }
  return o;
}

/**
 * The error a broken checkpoint folder throws; the message names the file.
 *
 * @example
 * ```ts
 * import { CheckpointError, loadLatestCheckpoint } from "./checkpoint.ts";
 * const dir = await Deno.makeTempDir(); // a scratch folder
 * try {
 *   await loadLatestCheckpoint(`${dir}/run`);
 * } catch (e) {
 *   if (e instanceof CheckpointError) console.log(e.file); // e.g. `${dir}/run/ckpt-0000000010.safetensors`
 * }
 * ```
 */
export class CheckpointError extends Error {
  /** The file the problem was found in. */
  readonly file: string;
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "CheckpointError";
    this.file = file;
  }
}

interface CheckpointRecord<S> {
  format: string;
  step: number;
  tensors_file: string;
  tensors_sha256: string;
  tensors_bytes: number;
  state: S;
}

function stem(prefix: string, step: number): string {
  return `${prefix}-${String(step).padStart(10, "0")}`;
}

function pointerName(prefix: string): string {
  return `${prefix}-latest.json`;
}

/** Steps found in `dir` for `prefix`: those with a record and those with a tensors file. */
async function scan(dir: string, prefix: string): Promise<{ records: Set<number>; tensors: Set<number> }> {
  const records = new Set<number>();
  const tensors = new Set<number>();
  const re = new RegExp(`^${prefix}-(\\d{10,})\\.(json|safetensors)$`);
  try {
    for await (const e of Deno.readDir(dir)) {
      const m = e.isFile ? re.exec(e.name) : null;
      if (!m) continue;
      (m[2] === "json" ? records : tensors).add(Number(m[1]));
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return { records, tensors };
}

/**
 * Saves a checkpoint atomically (see the module notes for the file layout and
 * the crash guarantees), then prunes older ones. The state is validated as
 * JSON before anything is written.
 *
 * @throws {JsonValueError} if `state` holds NaN/Infinity (naming its path); nothing is written then
 *
 * @example
 * ```ts
 * import { saveCheckpoint } from "./checkpoint.ts";
 * const dir = await Deno.makeTempDir(); // a scratch folder
 * await saveCheckpoint(`${dir}/train_lm`, {
 *   step: 500,
 *   tensors: { "blocks.0.attn.W_Q": { shape: [2, 3], data: new Float32Array(6) } },
 *   state: { lr: 3e-4, tokens_seen: 1_024_000 },
 * });
 * ```
 */
export async function saveCheckpoint<S>(
  dir: string,
  checkpoint: CheckpointInput<S>,
  options: Partial<CheckpointOptions> = {},
): Promise<SavedCheckpoint> {
  const { prefix, keepLast } = defaultCheckpointOptions(options);
  const { step } = checkpoint;
  if (!Number.isSafeInteger(step) || step < 0) {
    throw new RangeError(`checkpoint step must be an integer ≥ 0, got ${step}`);
  }
  toJsonText(checkpoint.state); // throws JsonValueError naming a bad value before any file is touched

  const name = stem(prefix, step);
  // chunks are views of the caller's arrays: hashed and written without a full in-memory copy
  const chunks = serializeSafetensorsChunks(checkpoint.tensors, { format: FORMAT, step: String(step) });
  const record: CheckpointRecord<S> = {
    format: FORMAT,
    step,
    tensors_file: `${name}.safetensors`,
    tensors_sha256: sha256Chunks(chunks),
    tensors_bytes: chunks.reduce((sum, c) => sum + c.length, 0),
    state: checkpoint.state,
  };
  const tensorsPath = join(dir, record.tensors_file);
  const recordPath = join(dir, `${name}.json`);
  await writeFileAtomic(tensorsPath, chunks);
  await writeFileAtomic(recordPath, toJsonText(record));
  await writeFileAtomic(join(dir, pointerName(prefix)), toJsonText({ format: FORMAT, step, record: `${name}.json` }));

  // prune: keep this step and the newest keepLast − 1 complete checkpoints before it
  const { records, tensors } = await scan(dir, prefix);
  const keep = new Set([step, ...[...records].filter((s) => s < step).sort((a, b) => b - a).slice(0, keepLast - 1)]);
  const pruned = [...new Set([...records, ...tensors])].filter((s) => !keep.has(s)).sort((a, b) => a - b);
  for (const s of pruned) {
    // record first: a checkpoint without its record is never loaded, so a crash here is harmless
    await Deno.remove(join(dir, `${stem(prefix, s)}.json`)).catch(() => {});
    await Deno.remove(join(dir, `${stem(prefix, s)}.safetensors`)).catch(() => {});
  }
  const ours = new RegExp(`^${prefix}-(\\d{10,}\\.(json|safetensors)|latest\\.json)$`);
  await removeTempFiles(dir, (target) => ours.test(target));
  return { step, tensorsPath, recordPath, pruned };
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    if (e instanceof SyntaxError) throw new CheckpointError(path, `not valid JSON: ${e.message}`);
    throw e;
  }
}

/**
 * Loads one checkpoint by its record file, checking the tensors file's size
 * and sha256 against the record.
 *
 * @throws {CheckpointError} naming the file that is missing, altered or malformed
 *
 * @example
 * ```ts
 * import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * const dir = await Deno.makeTempDir(); // a scratch folder
 * const saved = await saveCheckpoint(dir, { step: 500, tensors: {}, state: { lr: 3e-4 } });
 * const ckpt = await loadCheckpoint<{ lr: number }>(saved.recordPath); // ckpt.state.lr === 3e-4
 * ```
 */
export async function loadCheckpoint<S>(recordPath: string): Promise<LoadedCheckpoint<S>> {
  let raw: unknown;
  try {
    raw = await readJson(recordPath);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new CheckpointError(recordPath, "checkpoint record is missing");
    throw e;
  }
  const r = raw as Partial<CheckpointRecord<S>> | null;
  if (typeof r !== "object" || r === null || r.format !== FORMAT) {
    throw new CheckpointError(recordPath, `not a checkpoint record (expected "format": "${FORMAT}")`);
  }
  if (
    typeof r.step !== "number" || typeof r.tensors_file !== "string" ||
    !/^[A-Za-z0-9_-]+\.safetensors$/.test(r.tensors_file) ||
    typeof r.tensors_sha256 !== "string" || typeof r.tensors_bytes !== "number" || !("state" in r)
  ) {
    throw new CheckpointError(
      recordPath,
      "checkpoint record lacks step, tensors_file, tensors_sha256, tensors_bytes or state",
    );
  }
  const tensorsPath = join(dirname(recordPath), r.tensors_file);
  let bytes: Uint8Array;
  try {
    bytes = await readFileBytes(tensorsPath);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new CheckpointError(tensorsPath, `missing (named by ${recordPath})`);
    throw e;
  }
  if (bytes.length !== r.tensors_bytes) {
    throw new CheckpointError(tensorsPath, `is ${bytes.length} bytes but ${recordPath} says ${r.tensors_bytes}`);
  }
  const sha = sha256Bytes(bytes);
  if (sha !== r.tensors_sha256) {
    throw new CheckpointError(tensorsPath, `sha256 is ${sha} but ${recordPath} says ${r.tensors_sha256}`);
  }
  let tensors: Map<string, SafeTensor>;
  try {
    tensors = parseSafetensors(bytes, tensorsPath).tensors;
  } catch (e) {
    if (e instanceof SafetensorsError) throw new CheckpointError(tensorsPath, e.problem);
    throw e;
  }
  return { step: r.step, tensors, state: r.state as S, tensorsPath, recordPath };
}

/**
 * Loads the latest checkpoint in `dir` for the prefix, or returns `null` when
 * there is none. The pointer file decides which is latest; without one (a
 * crash before the first pointer was written) the highest-step record is used.
 *
 * @throws {CheckpointError} when the checkpoint that should be loaded is broken (never silently skipped)
 *
 * @example
 * ```ts
 * import { loadLatestCheckpoint } from "./checkpoint.ts";
 * const dir = await Deno.makeTempDir(); // a scratch folder
 * const ckpt = await loadLatestCheckpoint<{ lr: number }>(`${dir}/train_lm`);
 * const startStep = ckpt ? ckpt.step + 1 : 0;
 * ```
 */
export async function loadLatestCheckpoint<S>(
  dir: string,
  options: Partial<Pick<CheckpointOptions, "prefix">> = {},
): Promise<LoadedCheckpoint<S> | null> {
  const { prefix } = defaultCheckpointOptions(options);
  const pointerPath = join(dir, pointerName(prefix));
  let pointer: unknown = null;
  try {
    pointer = await readJson(pointerPath);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (pointer !== null) {
    const p = pointer as { format?: unknown; record?: unknown };
    if (
      p.format !== FORMAT || typeof p.record !== "string" || !new RegExp(`^${prefix}-\\d{10,}\\.json$`).test(p.record)
    ) {
      throw new CheckpointError(pointerPath, `not a checkpoint pointer (expected "record": "${prefix}-<step>.json")`);
    }
    return await loadCheckpoint<S>(join(dir, p.record));
  }
  const { records } = await scan(dir, prefix);
  if (records.size === 0) return null;
  const newest = Math.max(...records);
  return await loadCheckpoint<S>(join(dir, `${stem(prefix, newest)}.json`));
}

/**
 * Steps of the complete checkpoints (those with a record) in `dir`, ascending.
 *
 * @example
 * ```ts
 * import { listCheckpoints } from "./checkpoint.ts";
 * const dir = await Deno.makeTempDir(); // a scratch folder
 * await listCheckpoints(`${dir}/train_lm`); // [400, 500]
 * ```
 */
export async function listCheckpoints(
  dir: string,
  options: Partial<Pick<CheckpointOptions, "prefix">> = {},
): Promise<number[]> {
  const { prefix } = defaultCheckpointOptions(options);
  const { records } = await scan(dir, prefix);
  return [...records].sort((a, b) => a - b);
}
