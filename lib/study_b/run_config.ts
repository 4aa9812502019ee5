/**
 * The sizes each study-B notebook runs with, in one place (full and QUICK mode).
 *
 * Prompt length T: the model context (at most 1024) in full mode; in QUICK mode
 * 3 × the SAE training context (capped by the model context), still well past
 * twice the training context so the context effect is visible. Row and item
 * counts were chosen from timings on this 2-core machine (see the notebooks'
 * timing lines): a model of 4 layers, d_model 128, vocabulary 8192 and 5 SAEs
 * runs the F1/F2 sweep at ~8.6 s per 1024-token row (48 rows: ~7 minutes), F3 at ~3.4 s per row (96 rows:
 * ~5.5 minutes) and the 12 positional variants with sampled targets at ~25 s per row (16 rows: ~7 minutes).
 * The benchmarks cost ~1 s per 1000 prompt tokens per variant: 12 LAMBADA-style items per length bin and source
 * (144 items, ~4 minutes with 6 variants) and 5 CBT-style items per source (10 items × 10 options, ~5 minutes). Each notebook also asks for
 * a minimum number of in-context tokens N · (ctx − 1) (6144 for F1/F2 in full mode, 2048 in QUICK mode), so that
 * a model with a short SAE context gets enough rows for the in-context means (the bug guard) to be resolved.
 *
 * @example
 * ```ts
 * import { studyBRunConfig } from "./run_config.ts";
 * studyBRunConfig("context", { quick: true, saeContext: 128, modelContext: 1024 }).T; // 384
 * ```
 *
 * @module
 */

import type { BosPolicy } from "../metrics/per_position.ts";

/** Which notebook. */
export type StudyBNotebook = "context" | "propagation" | "benchmarks" | "positional";

/** Sizes and seeds of one notebook run. */
export interface StudyBRunConfig {
  notebook: StudyBNotebook;
  mode: "full" | "quick";
  /** Evaluation rows (N_owt) of the per-position runs. */
  nRows: number;
  /** Tokens per row, BOS included. */
  T: number;
  /** Seed of row sampling and sampled targets. */
  seed: number;
  /** Rows with the zero-ablation baseline (CE-loss recovered). */
  zeroAblationRows: number;
  /** Which positions enter averages. */
  bosPolicy: BosPolicy;
  /** LAMBADA-style items per length bin and per source (book / web). */
  lambadaItemsPerBin: number;
  /** CBT-style items per source (book / web). */
  cbtItemsPerSource: number;
}

/**
 * The run configuration of a notebook (see the module documentation for the rules).
 *
 * @throws {RangeError} when the model context is not larger than the SAE context
 */
export function studyBRunConfig(
  notebook: StudyBNotebook,
  facts: { quick: boolean; saeContext: number; modelContext: number },
  overrides: Partial<StudyBRunConfig> = {},
): StudyBRunConfig {
  const { quick, saeContext: ctx, modelContext: nCtx } = facts;
  if (!(nCtx > ctx)) {
    throw new RangeError(`the model context ${nCtx} must exceed the SAE training context ${ctx} for study B`);
  }
  const T = quick ? Math.min(nCtx, 3 * ctx) : Math.min(nCtx, 1024);
  // [rows, minimum in-context tokens N·(ctx − 1)] in full and quick mode
  const sizes: Record<StudyBNotebook, [number, number, number, number]> = {
    context: [48, 6144, 12, 2048],
    propagation: [96, 2048, 16, 512],
    benchmarks: [0, 0, 0, 0],
    positional: [16, 2048, 6, 768],
  };
  const [fullRows, fullTokens, quickRows, quickTokens] = sizes[notebook];
  const nRows = Math.max(quick ? quickRows : fullRows, Math.ceil((quick ? quickTokens : fullTokens) / (ctx - 1)));
  return {
    notebook,
    mode: quick ? "quick" : "full",
    nRows,
    T,
    seed: 0,
    zeroAblationRows: notebook === "context" ? (quick ? 4 : 16) : 0,
    bosPolicy: "exclude-position-0",
    lambadaItemsPerBin: quick ? 2 : 12,
    cbtItemsPerSource: quick ? 1 : 5,
    ...overrides,
  };
}
