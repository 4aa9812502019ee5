/**
 * Study-B data: the npm corpora (cleaned, split, tokenised and cached),
 * LAMBADA- and CBT-style benchmark builders, prompt building and scoring, and
 * loaders of the real formats (LAMBADA jsonl, CBT text, OpenWebText-style
 * jsonl/parquet).
 *
 * @example
 * ```ts
 * import { loadTokenizedCorpus, splitTokenized, splitTokenDocs } from "./mod.ts";
 * const { tokenized } = await loadTokenizedCorpus("sotu");
 * const trainDocs = splitTokenDocs(tokenized, splitTokenized(tokenized), "train");
 * ```
 *
 * @module
 */

export * from "./text_clean.ts";
export * from "./email_clean.ts";
export * from "./corpora.ts";
export * from "./splits.ts";
export * from "./token_cache.ts";
export * from "./corpus_tables.ts";
export * from "./text_units.ts";
export * from "./benchmarks.ts";
export * from "./bench_prompts.ts";
export * from "./formats.ts";
export * from "./study_data.ts";
