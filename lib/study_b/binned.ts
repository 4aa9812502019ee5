/**
 * Per-layer curves in position bins with 95% intervals over prompts: each
 * prompt's mean in a bin is one observation, and the bin's interval is the
 * normal interval of their mean (prompts are the unit; tokens of one prompt are
 * correlated). The data behind binned figures and tables of notebook 11.
 *
 * @example
 * ```ts
 * import { binnedCurveRows } from "./binned.ts";
 * // binnedCurveRows(result, ["delta_ce", "mse_normalised"]).filter((r) => r.layer === 0);
 * ```
 *
 * @module
 */

import { meanInterval } from "../metrics/bootstrap.ts";
import type { RowBinStats } from "../metrics/row_bins.ts";
import type { SpliceMetricName } from "../metrics/splice_metrics.ts";
import type { LayerSweep } from "./context_sweep.ts";

/** One bin of one layer's curve. */
export interface BinnedCurveRow {
  layer: number;
  metric: string;
  /** First and last position of the bin (position 0 excluded from averages). */
  from: number;
  to: number;
  /** Mean over prompts of the per-prompt bin mean, with its 95% interval. */
  mean: number;
  lo: number;
  hi: number;
  prompts: number;
}

/** Binned curve of one per-prompt bin accumulator, merging `merge` consecutive bins. */
export function binnedCurve(st: RowBinStats, merge = 1): Omit<BinnedCurveRow, "layer" | "metric">[] {
  const out: Omit<BinnedCurveRow, "layer" | "metric">[] = [];
  const e = st.edges;
  for (let k = 0; k + 1 < e.length; k += merge) {
    const to = e[Math.min(e.length - 1, k + merge)]!;
    const w = st.window(e[k]!, to);
    const perPrompt: number[] = [];
    for (let r = 0; r < w.sum.length; r++) if (w.count[r]! > 0) perPrompt.push(w.sum[r]! / w.count[r]!);
    if (perPrompt.length === 0) continue;
    const iv = meanInterval(perPrompt);
    out.push({ from: Math.max(1, e[k]!), to: to - 1, mean: iv.estimate, lo: iv.lo, hi: iv.hi, prompts: iv.n });
  }
  return out;
}

/** Binned curves of `metrics` for every layer of a sweep (layers need per-prompt bins). */
export function binnedCurveRows(
  res: { layers: readonly LayerSweep[] },
  metrics: readonly SpliceMetricName[],
  merge = 1,
): BinnedCurveRow[] {
  const out: BinnedCurveRow[] = [];
  for (const l of res.layers) {
    const b = l.metrics.rowBins;
    if (!b) throw new Error(`layer ${l.label}: no per-prompt bins`);
    for (const m of metrics) {
      for (const r of binnedCurve(b[m], merge)) out.push({ layer: l.label, metric: m, ...r });
    }
  }
  return out;
}
