/**
 * What notebook 10 measures on the shipped embedded default, and its quality bars:
 *
 * - **context use** of the LM ({@link contextUse}): the validation loss per position,
 *   the mean over an early span (positions 1–32) and a late one (512–1023), and
 *   the paired per-row difference late − early with a 95% interval — the model
 *   uses its context when the late loss is clearly below the early one;
 * - **SAE quality** at the 128-token training context ({@link evaluateEmbeddedSaes}):
 *   L0, explained variance, CE-loss recovered and dead latents per hook on held-out
 *   web-like rows, checked against {@link SAE_QUALITY_BARS};
 * - the **figures** of both trainings (curves from the records, loss by position).
 *
 * @example
 * ```ts
 * // const { model, tokenMap } = await loadEmbedded();
 * // const rows = validationRows(docs.map((d) => tokenMap.encode(d)), 0, 1024);
 * // const use = contextUse(model, rows, { label: "validation" });
 * // checkContextUse(use);
 * ```
 *
 * @module
 */

import { check } from "../check.ts";
import { Rng } from "../engine/rng.ts";
import { progress } from "../progress.ts";
import { figure, lineTrace } from "../plot/mod.ts";
import type { Figure } from "../plot/types.ts";
import { loadSaeLens } from "../sae/saelens.ts";
import type { Gpt2 } from "../lm/gpt2.ts";
import { evaluateModelSae, type SaeQuality, saeRows, type SaeTrainingConfig } from "../splice/sae_training.ts";
import { lossByPosition, validationRows } from "../lm/train.ts";
import { meanInterval } from "../metrics/bootstrap.ts";
import type { TokenMap } from "../lm/token_map.ts";
import { BOS_TOKEN_ID, decodeTokens } from "../tokenizer/tokenizer.ts";
import type { LmRecord, SaeRecord } from "./embedded.ts";

/** Per-position loss and the early-vs-late comparison on some rows. */
export interface ContextUse {
  /** What the rows are (e.g. "validation, all corpora"). */
  label: string;
  /** Rows of n_ctx + 1 tokens evaluated. */
  rows: number;
  /** Mean loss per position 0 … n_ctx − 1 (position j predicts token j + 1). */
  by_position: number[];
  /** Positions [from, to) of the early span and its mean loss. */
  early_span: [number, number];
  early: number;
  /** Positions [from, to) of the late span and its mean loss (null when the rows are shorter). */
  late_span: [number, number];
  late: number | null;
  /** Mean over rows of (late − early) and its 95% normal interval (null without a late span). */
  diff: number | null;
  diff_ci95: [number, number] | null;
  /**
   * Half-octave position bins `[from, to)` (see {@link positionBins}), the mean
   * loss in each and its standard error across rows (each row's bin mean is one
   * sample). What the loss-by-position figure draws.
   */
  bins: { from: number; to: number; mean: number; se: number }[];
}

/**
 * Half-octave bins of positions 1 … T − 1: `[1, 2), [2, 3), [3, 4), [4, 6),
 * [6, 8), [8, 12), …`, the last one ending at T. Equal widths on a log axis, so
 * late bins average hundreds of positions and early ones a few.
 *
 * @example
 * ```ts
 * import { positionBins } from "./embedded_report.ts";
 * positionBins(8); // [[1, 2], [2, 3], [3, 4], [4, 6], [6, 8]]
 * ```
 */
export function positionBins(T: number): [number, number][] {
  const edges = [1, 2, 3];
  for (let p = 4; p < T; p *= 2) edges.push(p, (p * 3) / 2);
  const inside = edges.filter((e) => e < T);
  return inside.map((a, i) => [a, inside[i + 1] ?? T]);
}

/** Options of {@link contextUse}. */
export interface ContextUseOptions {
  label?: string;
  /** Early span [from, to) (default [1, 33]: positions 1–32). */
  early?: [number, number];
  /** Late span [from, to) (default [512, 1024]: positions 512–1023). */
  late?: [number, number];
  /** Rows per forward pass (default 1). */
  chunkRows?: number;
  /** Show a progress bar (default true). */
  progress?: boolean;
}

/**
 * Loss by position on `rows` (`[n][n_ctx + 1]`) with the early/late comparison.
 *
 * @example
 * ```ts
 * // const use = contextUse(model, rows);
 * // use.late! < use.early; // the model uses its context
 * ```
 */
export function contextUse(model: Gpt2, rows: readonly Int32Array[], opts: ContextUseOptions = {}): ContextUse {
  const early = opts.early ?? [1, 33];
  const late = opts.late ?? [512, 1024];
  const label = opts.label ?? "rows";
  check(rows.length > 0, `contextUse(${label}): no rows`);
  const T = (rows[0] as Int32Array).length - 1;
  const hasLate = late[1] <= T;
  const diffs: number[] = [];
  const bins = positionBins(T);
  const binSum = new Float64Array(bins.length), binSq = new Float64Array(bins.length);
  const bar = (opts.progress ?? true) ? progress({ total: rows.length, label: `loss by position (${label})` }) : null;
  const spanMean = (l: Float32Array, [a, b]: [number, number]) => {
    let s = 0;
    for (let j = a; j < b; j++) s += l[j] as number;
    return s / (b - a);
  };
  const { sum, count } = lossByPosition(model, rows, opts.chunkRows ?? 1, (_, losses) => {
    if (hasLate) diffs.push(spanMean(losses, late) - spanMean(losses, early));
    bins.forEach((b, k) => {
      const m = spanMean(losses, b);
      binSum[k] = (binSum[k] as number) + m;
      binSq[k] = (binSq[k] as number) + m * m;
    });
    bar?.tick();
  });
  void bar?.done();
  const byPos = Array.from(sum, (v) => v / count);
  const meanOf = (a: number, b: number) => byPos.slice(a, b).reduce((s, v) => s + v, 0) / (b - a);
  let diff: number | null = null, ci: [number, number] | null = null;
  if (hasLate) {
    diff = diffs.reduce((s, v) => s + v, 0) / diffs.length;
    const sd = diffs.length > 1
      ? Math.sqrt(diffs.reduce((s, v) => s + (v - (diff as number)) ** 2, 0) / (diffs.length - 1))
      : Infinity;
    const half = 1.96 * sd / Math.sqrt(diffs.length);
    ci = [diff - half, diff + half];
  }
  return {
    label,
    rows: rows.length,
    by_position: byPos,
    early_span: early,
    early: meanOf(early[0], early[1]),
    late_span: late,
    late: hasLate ? meanOf(late[0], late[1]) : null,
    diff,
    diff_ci95: ci,
    bins: bins.map(([from, to], k) => {
      const n = rows.length, m = (binSum[k] as number) / n;
      const v = n > 1 ? Math.max(0, ((binSq[k] as number) - n * m * m) / (n - 1)) : NaN;
      return { from, to, mean: m, se: Math.sqrt(v / n) };
    }),
  };
}

/**
 * The id range of the pilot probe's random induction segments in a vocabulary
 * of `vocab` ids ranked by frequency: `[vocab/64, vocab/2)`, the middle of the
 * ranking (neither the commonest tokens nor ones rarely trained).
 *
 * @example
 * ```ts
 * import { pilotInductionIds } from "./embedded_report.ts";
 * pilotInductionIds(8192); // [128, 4096]
 * ```
 */
export function pilotInductionIds(vocab: number): [number, number] {
  return [Math.max(1, Math.floor(vocab / 64)), Math.floor(vocab / 2)];
}

/** What {@link inductionScore} measures. */
export interface InductionScore {
  /** Rows, segment length and repeats of the test. */
  rows: number;
  segment: number;
  repeats: number;
  /** Mean loss over each repeat of the segment (its first 4 tokens left out), first repeat first. */
  loss_by_repeat: number[];
  /** Loss of the first repeat minus the mean of the later ones: ≈ 0 without copying, several nats with it. */
  gain: number;
}

/**
 * The induction test: rows of BOS then a segment of uniformly random token ids
 * repeated until the row is full (`positions` tokens, default the model's
 * n_ctx). The first repeat is unpredictable; later
 * repeats are predictable only by looking back one segment and copying what
 * followed the current token last time (induction heads). The gain is the
 * first repeat's loss minus the later repeats'.
 *
 * @example
 * ```ts
 * // const ind = inductionScore(model, { segment: 256, ids: [100, 4100] });
 * // ind.gain > 1; // the model copies
 * ```
 */
export function inductionScore(
  model: Gpt2,
  opts: InductionOptions = {},
): InductionScore {
  const { rows, T, L } = inductionTestRows(model, opts);
  const { sum, count } = lossByPosition(model, rows, 1);
  const loss_by_repeat = repeatMeans(Array.from(sum, (v) => v / count), T, L);
  return {
    rows: rows.length,
    segment: L,
    repeats: loss_by_repeat.length,
    loss_by_repeat,
    gain: firstMinusLater(loss_by_repeat),
  };
}

/** Options of the induction test: rows (default 4), segment length (default positions / 4), ids [lo, hi), seed, positions. */
export interface InductionOptions {
  rows?: number;
  segment?: number;
  ids?: [number, number];
  seed?: number;
  positions?: number;
}

/** The induction test's rows (BOS, then the segment repeated to `T` tokens), its positions `T` and segment `L`. */
function inductionTestRows(model: Gpt2, opts: InductionOptions): { rows: Int32Array[]; T: number; L: number } {
  const T = opts.positions ?? model.cfg.n_ctx, L = opts.segment ?? Math.floor(T / 4);
  check(
    Number.isSafeInteger(T) && T >= 16 && T <= model.cfg.n_ctx,
    `inductionScore: positions ${T} must be an integer in [16, n_ctx ${model.cfg.n_ctx}]`,
  );
  const [lo, hi] = opts.ids ?? [1, model.cfg.d_vocab];
  check(L >= 8 && 2 * L <= T, `inductionScore: segment ${L} must be ≥ 8 and at most n_ctx / 2 = ${T / 2}`);
  check(
    hi > lo && lo >= 1 && hi <= model.cfg.d_vocab,
    `inductionScore: ids [${lo}, ${hi}) outside [1, ${model.cfg.d_vocab})`,
  );
  const rng = new Rng(opts.seed ?? 0, "induction");
  const rows = Array.from({ length: opts.rows ?? 4 }, () => {
    const seg = Array.from({ length: L }, () => lo + rng.int(hi - lo));
    const row = new Int32Array(T + 1);
    for (let j = 1; j <= T; j++) row[j] = seg[(j - 1) % L] as number;
    return row;
  });
  return { rows, T, L };
}

/** Mean loss over each repeat of the segment (its first 4 tokens left out) from the loss at every position. */
function repeatMeans(lossAt: readonly number[], T: number, L: number): number[] {
  // position j predicts token j + 1, which is segment element j % L of repeat ⌊j / L⌋
  return Array.from({ length: Math.floor(T / L) }, (_, r) => {
    let t = 0, n = 0;
    for (let j = r * L + 4; j < (r + 1) * L; j++) (t += lossAt[j] as number, n++);
    return t / n;
  });
}

/** The first repeat's loss minus the mean of the later repeats'. */
function firstMinusLater(loss_by_repeat: readonly number[]): number {
  const later = loss_by_repeat.slice(1);
  return (loss_by_repeat[0] as number) - later.reduce((s, v) => s + v, 0) / later.length;
}

/** {@link inductionScore} row by row: every row's gain, their mean and its normal 95% interval over rows. */
export interface InductionRows extends InductionScore {
  /** Each row's first-repeat loss minus the mean of its later repeats' (row order of the test). */
  gain_by_row: number[];
  /** Normal 95% interval of the mean gain over rows (mean ± 1.96 · sd / √rows). */
  gain_ci95: [number, number];
}

/**
 * The induction test of {@link inductionScore} (same rows for the same
 * options) scored row by row, so the gain comes with an interval over rows.
 * `gain` is the mean of the rows' gains (equal to inductionScore's up to
 * float rounding: every row has the same positions).
 *
 * @example
 * ```ts
 * // const ind = inductionRows(model, { segment: 64, positions: 512, rows: 32 });
 * // ind.gain_ci95[0] >= 2; // copying, with the interval above the bar
 * ```
 */
export function inductionRows(model: Gpt2, opts: InductionOptions = {}): InductionRows {
  const { rows, T, L } = inductionTestRows(model, opts);
  const perRow = rows.map((row) => {
    const { sum, count } = lossByPosition(model, [row], 1);
    return repeatMeans(Array.from(sum, (v) => v / count), T, L);
  });
  const gain_by_row = perRow.map(firstMinusLater);
  const loss_by_repeat = (perRow[0] ?? []).map((_, r) =>
    perRow.reduce((s, q) => s + (q[r] as number), 0) / perRow.length
  );
  const ci = meanInterval(gain_by_row);
  return {
    rows: rows.length,
    segment: L,
    repeats: loss_by_repeat.length,
    loss_by_repeat,
    gain: ci.estimate,
    gain_by_row,
    gain_ci95: [ci.lo, ci.hi],
  };
}

/**
 * The context-use bar: the late span at least this many nats below the early
 * one, with the paired 95% interval below zero (checked by notebook 10 on the
 * pooled validation text and on the held-out book).
 */
export const CONTEXT_USE_MIN_GAIN = 0.05;

/**
 * Throws (a `CheckError` naming both means) unless the late span's loss is
 * below the early span's by at least `minGain` nats and the 95% interval of the
 * paired difference lies below zero.
 *
 * @example
 * ```ts
 * // checkContextUse(contextUse(model, rows));
 * ```
 */
export function checkContextUse(u: ContextUse, minGain = CONTEXT_USE_MIN_GAIN): void {
  check(u.late !== null && u.diff !== null && u.diff_ci95 !== null, `${u.label}: rows too short for the late span`);
  const what = `${u.label}: loss at positions ${u.late_span[0]}–${u.late_span[1] - 1} (${u.late.toFixed(4)}) vs ` +
    `${u.early_span[0]}–${u.early_span[1] - 1} (${u.early.toFixed(4)})`;
  check(u.early - u.late >= minGain, `${what}: expected the late loss ≥ ${minGain} nats lower`);
  check(u.diff_ci95[1] < 0, `${what}: the 95% interval of the paired difference [${u.diff_ci95}] is not below 0`);
}

/**
 * Held-out quality of one shipped SAE: {@link SaeQuality}'s scores (CE
 * recovered against zero ablation is the bar; `dead_fraction` is over all
 * `dead_tokens` held-out tokens) plus the silent fraction by sample size.
 */
export interface EmbeddedSaeQualityRow extends
  Pick<
    SaeQuality,
    | "l0"
    | "explained_variance"
    | "ce_clean"
    | "ce_spliced"
    | "ce_zero"
    | "ce_mean"
    | "ce_loss_recovered"
    | "ce_loss_recovered_mean"
    | "dead_fraction"
    | "tokens"
  > {
  hook: string;
  d_sae: number;
  dead_tokens: number;
  /** Silent fraction on growing held-out samples: the eval rows, the training's dead window, all rows. */
  silent_by_tokens: { tokens: number; silent_fraction: number }[];
}

/** Issue bars of the shipped SAEs at their training context. */
export const SAE_QUALITY_BARS = {
  explained_variance: 0.8,
  ce_loss_recovered: 0.8,
  max_dead_fraction: 0.1,
  l0: [10, 80] as [number, number],
} as const;

/**
 * Evaluates every SAE folder on held-out web-like rows cut exactly as the
 * training did (`saeRows` of the validation documents): L0, explained variance
 * and CE on the first `nRows`; dead latents — silent on every token — on all
 * the held-out rows, since a latent silent on a small sample may just be rare
 * (the silent fraction on the eval rows and on as many tokens as the training's
 * dead window, `dead_feature_window` × `batch_size`, is reported beside it);
 * `maxDeadRows` caps the rows of the dead-latent count (QUICK runs).
 *
 * @example
 * ```ts
 * // const rows = await evaluateEmbeddedSaes(model, saeDirs, validationDocs, 0, cfg.sae, 64);
 * ```
 */
export async function evaluateEmbeddedSaes(
  model: Gpt2,
  saeDirs: Record<string, string>,
  validation: readonly Int32Array[],
  bos: number,
  cfg: SaeTrainingConfig,
  nRows: number = cfg.eval_rows,
  maxDeadRows: number = Infinity,
): Promise<EmbeddedSaeQualityRow[]> {
  const all = saeRows(validation, bos, cfg.context_size, cfg.seed, 0).slice(0, Math.max(nRows, maxDeadRows));
  const rows = all.slice(0, nRows);
  check(rows.length > 0, `evaluateEmbeddedSaes: the validation documents do not fill a ${cfg.context_size}-token row`);
  // the training's dead window in tokens: a latent silent that long would have been revived
  const windowTokens = cfg.dead_feature_window * cfg.batch_size;
  const out: EmbeddedSaeQualityRow[] = [];
  const hooks = Object.keys(saeDirs);
  const bar = progress({ total: hooks.length, label: "SAE quality" });
  for (const hook of hooks) {
    const { sae } = await loadSaeLens(saeDirs[hook] as string);
    try {
      const [q] = evaluateModelSae(model, sae, rows, bos, cfg.harvest_rows);
      // one pass over all rows gives the dead fraction and the silent fraction at the window's token count
      const [full] = evaluateModelSae(model, sae, all, bos, cfg.harvest_rows, false, [windowTokens]);
      const { density: _density, silent_at: _silent, ...rest } = q!;
      out.push({
        hook,
        d_sae: sae.cfg.d_sae,
        ...rest,
        dead_fraction: full!.dead_fraction,
        dead_tokens: full!.tokens,
        silent_by_tokens: [
          { tokens: q!.tokens, silent_fraction: q!.dead_fraction },
          ...full!.silent_at,
          { tokens: full!.tokens, silent_fraction: full!.dead_fraction },
        ],
      });
    } finally {
      sae.dispose();
    }
    bar.tick();
  }
  await bar.done();
  return out;
}

/**
 * Throws (naming the hook, the metric, the bar and the value) unless every
 * SAE meets {@link SAE_QUALITY_BARS}; `checkDead: false` leaves out the
 * dead-latent bar (for counts over too few tokens to tell rare from dead).
 *
 * @example
 * ```ts
 * // checkSaeQuality(await evaluateEmbeddedSaes(model, saeDirs, docs, 0, cfg.sae));
 * ```
 */
export function checkSaeQuality(
  rows: readonly EmbeddedSaeQualityRow[],
  opts: { checkDead?: boolean } = {},
): void {
  const b = SAE_QUALITY_BARS;
  check(rows.length > 0, "checkSaeQuality: no SAEs");
  for (const r of rows) {
    check(
      r.explained_variance >= b.explained_variance,
      `${r.hook}: explained variance ${r.explained_variance} < ${b.explained_variance}`,
    );
    check(
      r.ce_loss_recovered >= b.ce_loss_recovered,
      `${r.hook}: CE loss recovered ${r.ce_loss_recovered} < ${b.ce_loss_recovered}`,
    );
    if (opts.checkDead ?? true) {
      check(
        r.dead_fraction < b.max_dead_fraction,
        `${r.hook}: dead fraction ${r.dead_fraction} ≥ ${b.max_dead_fraction}`,
      );
    }
    check(r.l0 >= b.l0[0] && r.l0 <= b.l0[1], `${r.hook}: L0 ${r.l0} outside [${b.l0[0]}, ${b.l0[1]}]`);
  }
}

/**
 * LM training curves (per-step train loss, periodic validation) from the record.
 *
 * @example
 * ```ts
 * // await save(lmTrainingFigure(record), "embedded-gpt2_lm_training", lmTrainingData(record));
 * ```
 */
export function lmTrainingFigure(r: LmRecord): Figure {
  return figure([
    lineTrace(r.history.map((e) => e.step), r.history.map((e) => e.loss), { name: "train (per step)" }),
    lineTrace(r.evals.map((e) => e.step), r.evals.map((e) => e.val_loss), {
      name: "validation",
      mode: "lines+markers",
    }),
  ], {
    title: { text: `${r.config.name}: LM training loss` },
    xaxis: { title: { text: "step" } },
    yaxis: { title: { text: "loss (nats)" } },
  });
}

/** The data file of {@link lmTrainingFigure}. */
export function lmTrainingData(r: LmRecord): Record<string, unknown> {
  return {
    step: r.history.map((e) => e.step),
    train_loss: r.history.map((e) => e.loss),
    lr: r.history.map((e) => e.lr),
    evals: r.evals,
  };
}

/**
 * Validation loss by position (log-x, position 0 left out), one line per
 * {@link ContextUse}, with the two spans' means in the legend.
 *
 * @example
 * ```ts
 * // await save(lossByPositionFigure("embedded-gpt2", [use]), "embedded-gpt2_lm_loss_by_position", uses);
 * ```
 */
export function lossByPositionFigure(name: string, uses: readonly ContextUse[]): Figure {
  return figure(
    uses.map((u) => {
      // a bin is drawn at its geometric centre; error bars are ± one standard error across rows
      const x = u.bins.map((b) => Math.sqrt(b.from * (b.to - 1 || 1)));
      const span = ([a, b]: [number, number]) => `${a}–${b - 1}`;
      const spans = u.late === null
        ? ""
        : `: ${span(u.early_span)} ${u.early.toFixed(3)}, ${span(u.late_span)} ${u.late.toFixed(3)}`;
      return lineTrace(x, u.bins.map((b) => b.mean), {
        name: `${u.label} (${u.rows} rows)${spans}`,
        mode: "lines+markers",
        errorY: u.bins.map((b) => b.se),
        markerSize: 5,
      });
    }),
    {
      title: { text: `${name}: validation loss by position (half-octave bins, ± s.e.)` },
      xaxis: { title: { text: "position j (predicting token j+1)" }, type: "log" },
      yaxis: { title: { text: "loss (nats)" } },
      height: 560,
      margin: { l: 70, r: 30, t: 60, b: 170 },
      legend: { orientation: "h", x: 0, y: -0.18, xanchor: "left", yanchor: "top" },
    },
  );
}

/**
 * SAE training loss per hook from the record (log-y).
 *
 * @example
 * ```ts
 * // await save(saeTrainingFigure(record), "embedded-gpt2_sae_training", saeTrainingData(record));
 * ```
 */
export function saeTrainingFigure(r: SaeRecord): Figure {
  return figure(
    r.hooks.map((h) => lineTrace(h.curve.map((c) => c.step), h.curve.map((c) => c.loss), { name: h.hook })),
    {
      title: { text: `${r.config.name}: SAE training loss (context ${r.config.sae.context_size})` },
      xaxis: { title: { text: "step" } },
      yaxis: { title: { text: "loss" }, type: "log" },
    },
  );
}

/** The data file of {@link saeTrainingFigure}. */
export function saeTrainingData(r: SaeRecord): Record<string, unknown> {
  return { hooks: r.hooks.map((h) => ({ hook: h.hook, curve: h.curve, quality: h.quality })) };
}

/** What {@link bitsPerByte} measures. */
export interface BitsPerByte {
  /** Mean loss per predicted token, nats. */
  nats_per_token: number;
  /** Total loss in bits over the UTF-8 bytes of the predicted text: comparable across vocabularies. */
  bits_per_byte: number;
  /** Predicted tokens, their UTF-8 bytes (document ends count as tokens with 0 bytes), rows. */
  tokens: number;
  bytes: number;
  rows: number;
  /** Fraction of predicted tokens that are the unknown token (their loss is that of predicting "unknown"). */
  unk_rate: number;
}

/**
 * Validation bits per byte: documents (GPT-2 ids) joined with EOS and cut
 * into rows of n_ctx + 1 as in training (the last partial row left out), the
 * model's summed next-token loss over every position, divided by ln 2 and by
 * the UTF-8 byte length of the predicted text (each row's targets decoded
 * together; an EOS adds no bytes). Targets outside the compact vocabulary are
 * scored as the unknown token, so the number is comparable between models
 * that share a vocabulary; `unk_rate` says how much text that is.
 *
 * `opts.losses` reuses a {@link contextUse} already run on the same rows
 * (`validationRows(docs mapped by tokenMap, BOS, n_ctx, maxRows)`) instead of a
 * second pass of the model; its row count and length must match.
 *
 * @example
 * ```ts
 * // const bpb = bitsPerByte(model, tokenMap, validationDocs, 1024);
 * // or, after const use = contextUse(model, rows): bitsPerByte(model, tokenMap, validationDocs, 1024, { losses: use })
 * ```
 */
export function bitsPerByte(
  model: Gpt2,
  tokenMap: TokenMap,
  docs: readonly Int32Array[],
  n_ctx: number,
  opts: { maxRows?: number; progress?: boolean; losses?: ContextUse } = {},
): BitsPerByte {
  const gptRows = validationRows(docs, BOS_TOKEN_ID, n_ctx, opts.maxRows);
  check(gptRows.length > 0, `bitsPerByte: the documents do not fill one row of ${n_ctx + 1} tokens`);
  const rows = gptRows.map((r) => tokenMap.encode(r));
  const enc = new TextEncoder();
  let bytes = 0, unk = 0;
  for (const r of gptRows) {
    const text = Array.from(r.subarray(1)).filter((t) => t !== BOS_TOKEN_ID);
    bytes += enc.encode(decodeTokens(text)).length;
  }
  for (const r of rows) for (let j = 1; j < r.length; j++) if (r[j] === tokenMap.unkId) unk++;
  const tokens = rows.length * n_ctx;
  let nats: number;
  if (opts.losses) {
    const u = opts.losses;
    check(
      u.rows === rows.length && u.by_position.length === n_ctx,
      `bitsPerByte: losses of "${u.label}" cover ${u.rows} rows × ${u.by_position.length} positions, expected ` +
        `${rows.length} × ${n_ctx} (the same rows)`,
    );
    nats = u.by_position.reduce((a, b) => a + b, 0) * u.rows;
  } else {
    const bar = (opts.progress ?? true) ? progress({ total: rows.length, label: "bits per byte" }) : null;
    const { sum } = lossByPosition(model, rows, 1, () => bar?.tick());
    void bar?.done();
    nats = sum.reduce((a, b) => a + b, 0);
  }
  return {
    nats_per_token: nats / tokens,
    bits_per_byte: nats / Math.LN2 / bytes,
    tokens,
    bytes,
    rows: rows.length,
    unk_rate: unk / tokens,
  };
}
