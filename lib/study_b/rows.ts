/**
 * The evaluation prompts of F1–F3 and the follow-ups: `N` rows of `T` tokens
 * built the TransformerLens way (`tokenize_and_concatenate`: documents joined
 * with EOS, rows of T − 1 tokens, BOS prepended), shuffled with a fixed seed,
 * the first N kept (study B §2.7, the recommended variant).
 *
 * Text source: the OpenWebText files of `SAE_ARTIFACTS` when given (every
 * `.jsonl`/`.parquet` file of the folder, sorted by name, all documents read),
 * else the held-out (`test`) split of the web-like npm corpora that the
 * embedded model and SAEs never trained on.
 *
 * @example
 * ```ts
 * import { loadEvalRows } from "./rows.ts";
 * // const rows = await loadEvalRows(setup, { nRows: 64, T: 1024, seed: 0 });
 * // rows.rows.length; // ≤ 64, each an Int32Array of 1024 model ids with BOS first
 * ```
 *
 * @module
 */

import { Rng } from "../engine/rng.ts";
import { loadTextRecords } from "../data/formats.ts";
import { loadSplitTokenDocs, WEB_CORPORA } from "../data/study_data.ts";
import type { SplitName } from "../data/splits.ts";
import { encodeText, tokenizeAndConcatenate } from "../tokenizer/tokenizer.ts";
import { join } from "../path.ts";
import { type StudySetup, toModelIds } from "./setup.ts";

/** Options of {@link loadEvalRows}. */
export interface EvalRowsConfig {
  /** Rows wanted (N_owt). */
  nRows: number;
  /** Tokens per row, BOS included (at most the model's n_ctx). */
  T: number;
  /** Seed of the row shuffle. */
  seed: number;
  /** Split of the npm corpora when no OpenWebText is supplied. */
  split: SplitName;
  /** Fail unless at least this many rows exist (default 1). */
  minRows: number;
}

/**
 * Default {@link EvalRowsConfig}: 64 rows of 1024 tokens, seed 0, the held-out test split.
 *
 * @example
 * ```ts
 * import { defaultEvalRowsConfig } from "./rows.ts";
 * defaultEvalRowsConfig({ nRows: 8 }).T; // 1024
 * ```
 */
export function defaultEvalRowsConfig(overrides: Partial<EvalRowsConfig> = {}): EvalRowsConfig {
  return { nRows: 64, T: 1024, seed: 0, split: "test", minRows: 1, ...overrides };
}

/** Rows and their provenance. */
export interface EvalRows {
  /** Model ids, each of length T, BOS at position 0. */
  rows: Int32Array[];
  T: number;
  /** Rows the source could give before taking the first N. */
  available: number;
  /** Where the text came from. */
  source: string;
  /** Documents read. */
  documents: number;
  /** How the rows were built, for captions and logs. */
  procedure: string;
}

async function owtFiles(path: string): Promise<string[]> {
  const s = await Deno.stat(path);
  if (!s.isDirectory) return [path];
  const files: string[] = [];
  for await (const e of Deno.readDir(path)) {
    if (e.isFile && (e.name.endsWith(".jsonl") || e.name.endsWith(".parquet"))) files.push(join(path, e.name));
  }
  files.sort();
  if (files.length === 0) throw new Error(`${path}: no .jsonl or .parquet files`);
  return files;
}

/**
 * Builds the evaluation rows (see the module documentation).
 *
 * @throws {Error} when T exceeds the model's context or fewer than `minRows` rows can be built
 */
export async function loadEvalRows(setup: StudySetup, config: Partial<EvalRowsConfig> = {}): Promise<EvalRows> {
  const cfg = defaultEvalRowsConfig(config);
  if (!Number.isInteger(cfg.T) || cfg.T < 2 || cfg.T > setup.modelContext) {
    throw new RangeError(`EvalRowsConfig.T must be an integer in [2, n_ctx = ${setup.modelContext}], got ${cfg.T}`);
  }
  if (!Number.isInteger(cfg.nRows) || cfg.nRows < 1) {
    throw new RangeError(`EvalRowsConfig.nRows must be a positive integer, got ${cfg.nRows}`);
  }
  let docs: Int32Array[];
  let source: string;
  if (setup.artifacts.openwebtext !== null) {
    docs = [];
    const files = await owtFiles(setup.artifacts.openwebtext);
    for (const f of files) for (const r of await loadTextRecords(f)) docs.push(encodeText(r.text));
    source = `OpenWebText-style text from ${setup.artifacts.openwebtext} (${files.length} file(s))`;
  } else {
    const split = await loadSplitTokenDocs(cfg.split, WEB_CORPORA);
    docs = split.docs;
    source = `${cfg.split} split of the npm corpora ${WEB_CORPORA.join(" + ")} (held out from model and SAE training)`;
  }
  const all = [...tokenizeAndConcatenate(docs, cfg.T)];
  if (all.length < cfg.minRows) {
    throw new Error(`${source}: only ${all.length} rows of ${cfg.T} tokens, need at least ${cfg.minRows}`);
  }
  new Rng(cfg.seed, "study_b/eval_rows").shuffle(all);
  const rows = all.slice(0, cfg.nRows).map((r) => toModelIds(setup, r));
  return {
    rows,
    T: cfg.T,
    available: all.length,
    source,
    documents: docs.length,
    procedure: `documents joined with <|endoftext|>, cut into rows of ${cfg.T - 1} tokens, BOS prepended ` +
      `(TransformerLens tokenize_and_concatenate), rows shuffled with seed ${cfg.seed}, first ${rows.length} of ` +
      `${all.length} kept`,
  };
}
