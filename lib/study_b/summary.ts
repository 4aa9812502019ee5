/**
 * Numbers the notebooks print: per-layer window means of a context sweep
 * (inside the SAE training context, positions 1 … ctx−1, and beyond it,
 * ctx … T−1), how long a metric "holds" past the training context (descriptive;
 * the verdicts follow the rules of rules*.ts), Spearman rank correlations and
 * tables.
 *
 * @example
 * ```ts
 * import { holdPosition, spearman } from "./summary.ts";
 * spearman([0, 1, 2, 3], [1, 3, 2, 4]); // 0.8
 * holdPosition(Float64Array.from({ length: 64 }, (_, j) => (j < 24 ? 1 : 3)), 16, { factor: 2 }); // 24
 * ```
 *
 * @module
 */

import type { PositionStats } from "../metrics/per_position.ts";
import type { ContextSweepResult } from "./context_sweep.ts";

/** Window means of one layer of a context sweep. */
export interface LayerWindowRow {
  layer: number;
  hook: string;
  /** `in` = positions 1 … ctx−1, `out` = ctx … T−1 (CE-based metrics end at T−2). */
  dce_in: number;
  dce_in_se: number;
  dce_out: number;
  dce_out_se: number;
  kl_in: number;
  kl_in_se: number;
  kl_out: number;
  kl_out_se: number;
  mse_in: number;
  mse_out: number;
  nmse_in: number;
  nmse_out: number;
  l0_in: number;
  l0_out: number;
  l1_in: number;
  l1_out: number;
  norm_in: number;
  norm_out: number;
  /** CE-loss recovered inside the context (null without zero ablation). */
  ce_recovered_in: number | null;
  ce_recovered_out: number | null;
  explained_variance_in: number | null;
}

/**
 * Per-layer window means of a context sweep.
 *
 * @example
 * ```ts
 * import { layerWindowRows } from "./summary.ts";
 * // pl.DataFrame(layerWindowRows(result));
 * ```
 */
export function layerWindowRows(res: ContextSweepResult): LayerWindowRow[] {
  const c = res.saeContext;
  const T = res.T;
  return res.layers.map((l) => {
    const s = l.metrics.stats;
    const w = (st: PositionStats, a: number, b: number) => st.pooled(a, b);
    const rec = l.metrics.ceRecovered;
    const hasRec = rec.pooled().count > 0;
    const ev = l.metrics.explainedVariance;
    return {
      layer: l.label,
      hook: l.hook,
      dce_in: w(s.delta_ce, 1, c).mean,
      dce_in_se: w(s.delta_ce, 1, c).se,
      dce_out: w(s.delta_ce, c, T).mean,
      dce_out_se: w(s.delta_ce, c, T).se,
      kl_in: w(s.kl, 1, c).mean,
      kl_in_se: w(s.kl, 1, c).se,
      kl_out: w(s.kl, c, T).mean,
      kl_out_se: w(s.kl, c, T).se,
      mse_in: w(s.mse_element_mean, 1, c).mean,
      mse_out: w(s.mse_element_mean, c, T).mean,
      nmse_in: w(s.mse_normalised, 1, c).mean,
      nmse_out: w(s.mse_normalised, c, T).mean,
      l0_in: w(s.l0, 1, c).mean,
      l0_out: w(s.l0, c, T).mean,
      l1_in: w(s.l1, 1, c).mean,
      l1_out: w(s.l1, c, T).mean,
      norm_in: w(s.act_norm, 1, c).mean,
      norm_out: w(s.act_norm, c, T).mean,
      ce_recovered_in: hasRec ? rec.pooled(1, c).ratio : null,
      ce_recovered_out: hasRec ? rec.pooled(c, T).ratio : null,
      explained_variance_in: ev && ev.pooled().count > 0 ? ev.pooled(1, c).explainedVariance : null,
    };
  });
}

/** Options of {@link holdPosition}. */
export interface HoldOptions {
  /** Degraded = the windowed mean exceeds `factor` × the baseline (default 2). */
  factor?: number;
  /** Window width (default max(1, round(ctx / 8))). */
  window?: number;
}

/**
 * The first position p ≥ ctx at which a per-position curve has degraded: the
 * mean over [p, p + w) exceeds `factor` × the baseline (the mean over the late
 * in-context positions [ctx/2, ctx)). Returns the curve length when it never
 * does (the metric holds to the end). NaN entries are skipped.
 */
export function holdPosition(values: ArrayLike<number>, ctx: number, opts: HoldOptions = {}): number {
  const factor = opts.factor ?? 2;
  const w = opts.window ?? Math.max(1, Math.round(ctx / 8));
  const avg = (a: number, b: number) => finiteMean(values, a, b);
  const base = avg(Math.max(1, Math.floor(ctx / 2)), ctx);
  for (let p = ctx; p + w <= values.length; p++) {
    const m = avg(p, p + w);
    if (Number.isFinite(m) && m > factor * base) return p;
  }
  return values.length;
}

/** True when the windowed curve at `p` exceeds `factor` × its in-context baseline (as {@link holdPosition}). */
export function degradedAt(values: ArrayLike<number>, ctx: number, p: number, opts: HoldOptions = {}): boolean {
  const w = opts.window ?? Math.max(1, Math.round(ctx / 8));
  const base = finiteMean(values, Math.max(1, Math.floor(ctx / 2)), ctx);
  const m = finiteMean(values, p, p + w);
  return Number.isFinite(m) && Number.isFinite(base) && m > (opts.factor ?? 2) * base;
}

/** Mean of the finite entries of `values[a … b)`; NaN when there are none. */
export function finiteMean(values: ArrayLike<number>, a: number, b: number): number {
  let s = 0;
  let n = 0;
  for (let j = Math.max(0, a); j < Math.min(b, values.length); j++) {
    if (Number.isFinite(values[j]!)) {
      s += values[j]!;
      n++;
    }
  }
  return n > 0 ? s / n : NaN;
}

function ranks(xs: readonly number[]): number[] {
  const idx = xs.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(xs.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1]![0] === idx[i]![0]) j++;
    for (let k = i; k <= j; k++) r[idx[k]![1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

/** Spearman rank correlation (ties get mean ranks); NaN for fewer than 2 points or constant input. */
export function spearman(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new RangeError(`spearman: ${x.length} x values vs ${y.length} y values`);
  if (x.length < 2) return NaN;
  const rx = ranks(x);
  const ry = ranks(y);
  const m = (rx.length + 1) / 2;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < rx.length; i++) {
    sxy += (rx[i]! - m) * (ry[i]! - m);
    sxx += (rx[i]! - m) ** 2;
    syy += (ry[i]! - m) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

/** Formats a number for claim text (3 significant digits, exponent when tiny or huge). */
export function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "n/a";
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(2) : Number(x.toPrecision(3)).toString();
}

/**
 * Column-wise table of row objects for `pl.DataFrame`, numbers rounded to
 * `digits` significant digits (display only; figure data keep full precision).
 *
 * @example
 * ```ts
 * import { tableColumns } from "./summary.ts";
 * tableColumns([{ a: 1.23456, b: "x" }], 3); // { a: [1.23], b: ["x"] }
 * ```
 */
export function tableColumns<T extends object>(rows: readonly T[], digits = 4): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  if (rows.length === 0) return out;
  for (const key of Object.keys(rows[0]!)) {
    out[key] = rows.map((r) => {
      const v = (r as Record<string, unknown>)[key];
      if (typeof v === "number") return Number.isFinite(v) ? Number(v.toPrecision(digits)) : null;
      return v ?? null;
    });
  }
  return out;
}
