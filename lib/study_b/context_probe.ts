/**
 * The curve points of LM training (recipe pilots and the embedded default's
 * own run): copying (the induction test) and use of context beyond the SAE
 * window, measured on held-out text. See `lib/study_b/pilots.ts` for the protocol.
 *
 * @module
 */

import {
  type ContextUse,
  contextUse,
  type InductionScore,
  inductionScore,
  pilotInductionIds,
} from "./embedded_report.ts";
import { APERIODIC_SEGMENTS, copyDistance } from "./copy_distance.ts";
import { type LmLogEntry, lmStage, type LmTrainConfig, loadAverage, validationRows } from "../lm/train.ts";
import type { Gpt2 } from "../lm/gpt2.ts";

/** One point of a pilot's curve. */
export interface PilotPoint {
  step: number;
  tokens: number;
  /** Wall seconds of training so far (evaluation excluded). */
  train_seconds: number;
  /** Mean training loss over the steps since the previous point. */
  train_loss: number;
  /** Mean validation loss over all positions of the context rows. */
  val_loss: number;
  induction_gain: number;
  /**
   * The smallest induction gain over the aperiodic segment lengths that fit
   * twice into the induction rows (50, 75, 100 tokens; see
   * `copy_distance.ts`): copying that a head looking a fixed multiple of 64
   * back cannot give. Null when none fits; absent from points measured before
   * it existed.
   */
  induction_gain_aperiodic?: number | null;
  induction_loss_by_repeat: number[];
  /** Positions of the induction rows. */
  induction_positions: number;
  /** Context spans [from, to) and means. */
  ctx_early_span: [number, number];
  ctx_late_span: [number, number];
  ctx_early: number;
  ctx_late: number;
  /** Mean over rows of late − early (negative: the model gains from context), and its 95% interval. */
  ctx_diff: number;
  ctx_diff_ci95: [number, number];
  ctx_rows: number;
  /** Load average (1 min) when the point was written: timing is unreliable on a shared machine. */
  load_average: number | null;
}

/** `ctx_rows` validation rows of `T + 1` tokens spread evenly over all of `docs` (in document order). */
export function spreadValidationRows(docs: readonly Int32Array[], bos: number, T: number, n: number): Int32Array[] {
  const all = validationRows(docs, bos, T);
  if (all.length < n) throw new RangeError(`pilot: validation text fills ${all.length} rows of ${T + 1}, need ${n}`);
  return Array.from({ length: n }, (_, i) => all[Math.floor(((i + 0.5) * all.length) / n)] as Int32Array);
}

/**
 * Measures one curve point (see the module notes). `trainedCtx` is the
 * longest row length trained so far (caps the induction rows).
 */
export function measurePilotPoint(
  model: Gpt2,
  rows: readonly Int32Array[],
  trainedCtx: number,
): { induction: InductionScore; aperiodic: number | null; use: ContextUse } {
  const V = model.cfg.d_vocab;
  const positions = Math.min(512, trainedCtx);
  const induction = inductionScore(model, {
    segment: Math.min(64, Math.floor(positions / 2)),
    positions,
    ids: pilotInductionIds(V),
    rows: 4,
  });
  const fits = APERIODIC_SEGMENTS.filter((L) => 2 * L <= positions);
  const aperiodic = fits.length === 0 ? null : Math.min(...copyDistance(model, fits, positions).map((r) => r.gain));
  const T = (rows[0] as Int32Array).length - 1;
  const use = contextUse(model, rows, { label: "pilot validation", ...contextTargetSpans(T), progress: false });
  return { induction, aperiodic, use };
}

/**
 * The context target's spans on rows of `T` positions, as `contextUse` takes them ([from, to)): positions
 * T/16 + 1 … T/8 (inside the SAE window) against T/2 + 1 … T − 1; at n_ctx 1024, 65–128 against 513–1023.
 *
 * @example
 * ```ts
 * import { contextTargetSpans } from "./context_probe.ts";
 * contextTargetSpans(1024); // { early: [65, 129], late: [513, 1024] }
 * ```
 */
export function contextTargetSpans(T: number): { early: [number, number]; late: [number, number] } {
  return { early: [T / 16 + 1, T / 8 + 1], late: [T / 2 + 1, T] };
}

/**
 * A curve point: {@link measurePilotPoint} on `rows` plus the training
 * bookkeeping (step, tokens, seconds, mean training loss since the last point).
 */
export function probePoint(
  model: Gpt2,
  rows: readonly Int32Array[],
  trainedCtx: number,
  at: { step: number; tokens: number; train_seconds: number; train_loss: number },
): PilotPoint {
  const { induction, aperiodic, use } = measurePilotPoint(model, rows, trainedCtx);
  return {
    ...at,
    val_loss: use.by_position.reduce((s, v) => s + v, 0) / use.by_position.length,
    induction_gain: induction.gain,
    induction_gain_aperiodic: aperiodic,
    induction_loss_by_repeat: induction.loss_by_repeat,
    induction_positions: induction.segment * induction.repeats,
    ctx_early_span: use.early_span,
    ctx_late_span: use.late_span,
    ctx_early: use.early,
    ctx_late: use.late as number,
    ctx_diff: use.diff as number,
    ctx_diff_ci95: use.diff_ci95 as [number, number],
    ctx_rows: use.rows,
    load_average: loadAverage(),
  };
}

/**
 * The curve point after training stopped at step `target` (see
 * {@link probePoint}): the row length trained at that step caps the induction
 * rows, tokens and seconds come from the last entry of `history` (the
 * trainer's, earlier runs included), the training loss is the mean over the
 * `every` steps up to `target`. Used by the pilot and switch-experiment scripts.
 */
export function pointAfterTraining(
  model: Gpt2,
  rows: readonly Int32Array[],
  cfg: LmTrainConfig,
  history: readonly LmLogEntry[],
  target: number,
  every: number,
): PilotPoint {
  const since = history.filter((h) => h.step > target - every && h.step <= target);
  const last = history.at(-1);
  return probePoint(model, rows, lmStage(cfg, target - 1).ctx, {
    step: target,
    tokens: last?.tokens ?? 0,
    train_seconds: last?.elapsed_s ?? 0,
    train_loss: since.reduce((s, h) => s + h.loss, 0) / since.length,
  });
}

/** The points of a `curve.jsonl` file (one JSON point per line), in file order; none when the file is missing. */
export async function readCurve(file: string): Promise<PilotPoint[]> {
  try {
    return (await Deno.readTextFile(file)).split("\n").filter((l) => l).map((l) => JSON.parse(l) as PilotPoint);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}
