/**
 * The sizes each study-B notebook runs with, in one place (full and QUICK mode).
 *
 * Prompt length T: the model context (at most 1024) in full mode; in QUICK mode
 * 3 × the SAE training context (capped by the model context), still well past
 * twice the training context so the context effect is visible.
 *
 * Full-mode sizes are set by what the verdicts need, within a 15-minute budget
 * per notebook on the embedded default (4 layers, d_model 128, vocabulary 8192,
 * 5 SAEs, 2-core machine; the notebooks print their timings): 200 prompts of
 * 1024 tokens for F1/F2 (intervals over prompts in position bins; the
 * previous 48 ran in ~2 minutes), 96 for F3, 48 for the positional variants,
 * ≥ 500 LAMBADA-style and ≥ 200 CBT-style items. QUICK mode stays small for CI.
 * Each notebook also asks for a minimum number of in-context tokens N · (ctx − 1)
 * (6144 for F1/F2 in full mode, 2048 in QUICK mode), so that a model with a short
 * SAE context gets enough rows for the in-context means to be resolved.
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
  /** LAMBADA-style items to select (balanced over the length bins), all of them when the text yields fewer. */
  lambadaItems: number;
  /** CBT-style items to select (every usable one when fewer). */
  cbtItems: number;
  /** Bootstrap resamples of every interval. */
  bootstrapReps: number;
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
    context: [200, 6144, 12, 2048],
    propagation: [96, 2048, 16, 512],
    benchmarks: [0, 0, 0, 0],
    positional: [48, 2048, 6, 768],
  };
  const [fullRows, fullTokens, quickRows, quickTokens] = sizes[notebook];
  const nRows = Math.max(quick ? quickRows : fullRows, Math.ceil((quick ? quickTokens : fullTokens) / (ctx - 1)));
  return {
    notebook,
    mode: quick ? "quick" : "full",
    nRows,
    T,
    seed: 0,
    zeroAblationRows: notebook === "context" ? (quick ? 4 : 32) : 0,
    bosPolicy: "exclude-position-0",
    lambadaItems: quick ? 24 : 540,
    cbtItems: quick ? 10 : 200,
    bootstrapReps: quick ? 400 : 2000,
    ...overrides,
  };
}
