/**
 * Intervals that resample prompts: a seeded percentile bootstrap over rows
 * (each replicate draws n rows with replacement and passes their
 * multiplicities to the statistic). Prompts, not tokens, are the unit: tokens
 * of one prompt are correlated.
 *
 * The statistic receives a weight per row (its multiplicity in the replicate;
 * all ones for the point estimate), so ratio-of-sums window means
 * (`weightedMean` of row_bins.ts) cost O(rows) per replicate.
 *
 * @example
 * ```ts
 * import { bootstrapRows } from "./bootstrap.ts";
 * const x = [1, 2, 3, 4, 5];
 * const iv = bootstrapRows(x.length, (w) => x.reduce((a, v, i) => a + w[i]! * v, 0) / 5, { seed: 0 });
 * iv.estimate; // 3
 * ```
 *
 * @module
 */

import { Rng } from "../engine/rng.ts";

/** A point estimate with a two-sided interval. */
export interface Interval {
  estimate: number;
  lo: number;
  hi: number;
  /** Coverage, e.g. 0.95. */
  level: number;
  /** Rows (prompts or items) the interval resamples. */
  n: number;
  /** How it was computed, e.g. `"bootstrap over 200 prompts, 2000 replicates"`. */
  method: string;
}

/** Options of {@link bootstrapRows}. */
export interface BootstrapConfig {
  /** Replicates (default 2000). */
  reps: number;
  /** Coverage (default 0.95). */
  level: number;
  seed: number;
  /** What a row is, for the method text (default "prompts"). */
  unit: string;
}

/**
 * Default {@link BootstrapConfig}: 2000 replicates, 95%, seed 0, unit "prompts".
 *
 * @example
 * ```ts
 * import { defaultBootstrapConfig } from "./bootstrap.ts";
 * defaultBootstrapConfig({ reps: 500 }).level; // 0.95
 * ```
 */
export function defaultBootstrapConfig(overrides: Partial<BootstrapConfig> = {}): BootstrapConfig {
  return { reps: 2000, level: 0.95, seed: 0, unit: "prompts", ...overrides };
}

/** Quantile `q` of sorted finite values (linear interpolation). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const a = Math.floor(h);
  const b = Math.min(n - 1, a + 1);
  return sorted[a]! + (h - a) * (sorted[b]! - sorted[a]!);
}

/**
 * Percentile bootstrap over `n` rows of a statistic `stat(weights)`. Replicates
 * whose statistic is not finite are dropped; when more than 10% are, the
 * interval is [−∞, ∞] (undecidable) rather than a biased one. The same seed
 * gives the same interval.
 *
 * @throws {RangeError} for n < 1 or a non-finite point estimate
 */
export function bootstrapRows(
  n: number,
  stat: (weights: Float64Array) => number,
  config: Partial<BootstrapConfig> = {},
): Interval {
  const cfg = defaultBootstrapConfig(config);
  if (!(n >= 1)) throw new RangeError(`bootstrapRows: need at least one ${cfg.unit}, got ${n}`);
  const ones = new Float64Array(n).fill(1);
  const estimate = stat(ones);
  const method = `${Math.round(cfg.level * 100)}% percentile bootstrap over ${n} ${cfg.unit}, ${cfg.reps} replicates`;
  if (!Number.isFinite(estimate)) {
    return { estimate, lo: -Infinity, hi: Infinity, level: cfg.level, n, method };
  }
  const rng = new Rng(cfg.seed, "metrics/bootstrap");
  const w = new Float64Array(n);
  const vals: number[] = [];
  for (let b = 0; b < cfg.reps; b++) {
    w.fill(0);
    for (let i = 0; i < n; i++) w[rng.int(n)]! += 1;
    const v = stat(w);
    if (Number.isFinite(v)) vals.push(v);
  }
  if (vals.length < 0.9 * cfg.reps) {
    return { estimate, lo: -Infinity, hi: Infinity, level: cfg.level, n, method: `${method} (too many undefined)` };
  }
  vals.sort((a, b) => a - b);
  const alpha = (1 - cfg.level) / 2;
  return {
    estimate,
    lo: quantileSorted(vals, alpha),
    hi: quantileSorted(vals, 1 - alpha),
    level: cfg.level,
    n,
    method,
  };
}

/**
 * A Student-free normal 95% interval of a per-row mean: mean ± z · sd/√n
 * (for binned curves in figures, where a bootstrap per bin is not needed).
 *
 * @example
 * ```ts
 * import { meanInterval } from "./bootstrap.ts";
 * meanInterval([1, 2, 3]).estimate; // 2
 * ```
 */
export function meanInterval(x: ArrayLike<number>, level = 0.95): Interval {
  const v = Array.from(x).filter((a) => Number.isFinite(a));
  const n = v.length;
  const m = n > 0 ? v.reduce((a, b) => a + b, 0) / n : NaN;
  const sd = n > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1)) : NaN;
  const z = level === 0.95 ? 1.959964 : normalQuantile(1 - (1 - level) / 2);
  const h = z * sd / Math.sqrt(n);
  return { estimate: m, lo: m - h, hi: m + h, level, n, method: `normal interval over ${n} rows` };
}

/** Standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p ${p} must be in (0, 1)`);
  const a = [
    -39.69683028665376,
    220.9460984245205,
    -275.9285104469687,
    138.357751867269,
    -30.66479806614716,
    2.506628277459239,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293,
    -0.3223964580411365,
    -2.400758277161838,
    -2.549732539343734,
    4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const pl = 0.02425;
  if (p < pl) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - pl) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}
