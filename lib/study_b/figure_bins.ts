/**
 * Per-position curves of a sweep averaged in position bins, with 95% intervals,
 * for the study-B figures. Bins have width ctx/8 (16 positions for a 128-token
 * SAE context) with the SAE context as an edge, from position 0; whether
 * position 0 (BOS) counts follows the sweep's BOS policy (under the default,
 * "exclude-position-0", it has no values and the first bin is 1…15).
 *
 * The interval of a bin mean comes from one of two sources:
 * - **per-prompt bins** (`metrics.rowBins`, when the sweep kept them): each
 *   prompt's own mean over the bin, then mean ± 1.96 s.e. over prompts;
 * - otherwise the **per-position statistics**: the bin mean is the mean of the
 *   per-position means, and its half-width is 1.96 × the mean of the
 *   per-position standard errors. That is an upper bound on the s.e. of the
 *   bin mean whatever the correlation between positions of one prompt
 *   (sd(Σ a_j X_j) ≤ Σ |a_j| sd(X_j)), so the interval is conservative.
 *
 * A linear combination of metrics (e.g. CE_clean − ΔCE) is binned per prompt
 * when per-prompt bins exist, and bounded the same way otherwise.
 *
 * @example
 * ```ts
 * import { figurePositionBins } from "./figure_bins.ts";
 * figurePositionBins(1024, 128).slice(0, 3); // [0, 16, 32]
 * ```
 *
 * @module
 */

import { Z95 } from "../plot/traces.ts";
import type { SpliceMetricName } from "../metrics/splice_metrics.ts";
import type { PositionStats } from "../metrics/per_position.ts";
import type { ContextSweepResult } from "./context_sweep.ts";

/**
 * Bin edges 0, w, 2w, … with the SAE context `ctx` an edge, up to `to` (the last bin may be shorter); w = ctx/8.
 *
 * @throws {RangeError} for non-positive sizes
 */
export function figurePositionBins(to: number, ctx: number, width = Math.max(1, Math.round(ctx / 8))): number[] {
  if (!(to >= 2 && ctx >= 1 && Number.isInteger(width) && width >= 1)) {
    throw new RangeError(`figurePositionBins: need to ≥ 2, ctx ≥ 1, integer width ≥ 1; got ${to}, ${ctx}, ${width}`);
  }
  const edges = [0];
  const push = (e: number) => {
    if (e > edges.at(-1)! && e <= to) edges.push(e);
  };
  for (let e = width; e < Math.min(ctx, to); e += width) push(e);
  push(Math.min(ctx, to));
  for (let e = ctx + width; e < to; e += width) push(e);
  push(to);
  return edges;
}

/** A binned curve: bin centres, means and 95% interval ends. */
export interface BinnedCurve {
  /** Bin edges [e_0, e_1, …]; bin k covers positions e_k … e_{k+1} − 1. */
  edges: number[];
  /** Mean position of each bin. */
  x: number[];
  mean: number[];
  lo: number[];
  hi: number[];
  /** How the interval was computed. */
  interval: "prompts" | "positions (conservative)";
  /** Prompts behind each bin mean (per-prompt bins), or the smallest per-position count. */
  n: number[];
}

/** What the binning reads from per-prompt bins (the shape of `RowBinStats` in lib/metrics/row_bins.ts). */
interface RowBinsLike {
  readonly edges: readonly number[];
  edgeIndex(edge: number): number;
  window(from: number, to: number): { sum: Float64Array; count: Float64Array };
}

type Metrics = ContextSweepResult["layers"][number]["metrics"];

function rowBinsOf(metrics: Metrics, metric: string): RowBinsLike | null {
  const rb = (metrics as unknown as { rowBins?: Record<string, RowBinsLike> | null }).rowBins;
  return rb?.[metric] ?? null;
}

/** True when every bin edge is an edge of the per-prompt bins (or lies at or beyond their last edge). */
function aligned(rb: RowBinsLike, edges: readonly number[]): boolean {
  const set = new Set(rb.edges);
  return edges.every((e) => set.has(e) || e >= rb.edges.at(-1)!);
}

/** One term of a linear combination: coefficient × metric (per-position statistics and optional per-prompt bins). */
export interface BinTerm {
  coef: number;
  stats: PositionStats;
  rowBins: RowBinsLike | null;
}

/**
 * The term for `metric` of a layer (its per-prompt bins when the sweep kept them).
 *
 * @example
 * ```ts
 * import { metricTerm } from "./figure_bins.ts";
 * // binCurve([metricTerm(layer.metrics, "delta_ce")], edges);
 * ```
 */
export function metricTerm(metrics: Metrics, metric: SpliceMetricName, coef = 1): BinTerm {
  return { coef, stats: metrics.stats[metric], rowBins: rowBinsOf(metrics, metric) };
}

/**
 * Σ coef × metric averaged in the bins `edges`, with a 95% interval over prompts when every term has per-prompt
 * bins aligned with `edges`, else the conservative per-position bound (see the module documentation).
 *
 * @throws {RangeError} for fewer than two edges or no terms
 */
export function binCurve(terms: readonly BinTerm[], edges: readonly number[]): BinnedCurve {
  if (terms.length === 0 || edges.length < 2) {
    throw new RangeError(`binCurve: need ≥ 1 term and ≥ 2 edges, got ${terms.length} and ${edges.length}`);
  }
  const x: number[] = [];
  for (let k = 0; k + 1 < edges.length; k++) x.push((edges[k]! + edges[k + 1]! - 1) / 2);
  const byPrompt = terms.every((t) => t.rowBins !== null && aligned(t.rowBins, edges));
  const mean: number[] = [];
  const lo: number[] = [];
  const hi: number[] = [];
  const n: number[] = [];
  for (let k = 0; k + 1 < edges.length; k++) {
    const a = edges[k]!;
    const b = edges[k + 1]!;
    let m: number;
    let half: number;
    let count: number;
    if (byPrompt) {
      const wins = terms.map((t) => t.rowBins!.window(a, b));
      const rows = wins[0]!.sum.length;
      const perRow: number[] = [];
      for (let r = 0; r < rows; r++) {
        let v = 0;
        let ok = true;
        terms.forEach((t, i) => {
          const c = wins[i]!.count[r] ?? 0;
          if (!(c > 0)) ok = false;
          else v += t.coef * wins[i]!.sum[r]! / c;
        });
        if (ok) perRow.push(v);
      }
      count = perRow.length;
      m = count > 0 ? perRow.reduce((s, v) => s + v, 0) / count : NaN;
      const sd = count > 1 ? Math.sqrt(perRow.reduce((s, v) => s + (v - m) ** 2, 0) / (count - 1)) : NaN;
      half = Z95 * sd / Math.sqrt(count);
    } else {
      m = 0;
      half = 0;
      count = Infinity;
      for (const t of terms) {
        const means = t.stats.mean();
        const ses = t.stats.se();
        const counts = t.stats.count;
        let sm = 0, ss = 0, used = 0;
        for (let j = a; j < b && j < means.length; j++) {
          if (!Number.isFinite(means[j]!) || !Number.isFinite(ses[j]!)) continue;
          sm += means[j]!;
          ss += ses[j]!;
          used++;
          count = Math.min(count, counts[j]!);
        }
        m += used > 0 ? t.coef * sm / used : NaN;
        half += used > 0 ? Math.abs(t.coef) * Z95 * ss / used : NaN;
      }
      if (!Number.isFinite(count)) count = 0;
    }
    mean.push(m);
    lo.push(Number.isFinite(half) ? m - half : NaN);
    hi.push(Number.isFinite(half) ? m + half : NaN);
    n.push(count);
  }
  return { edges: [...edges], x, mean, lo, hi, interval: byPrompt ? "prompts" : "positions (conservative)", n };
}
