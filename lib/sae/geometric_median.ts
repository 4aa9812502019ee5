/**
 * Geometric median by Weiszfeld's algorithm, as the study's `b_dec`
 * initialisation calls it (the `geom_median` package, `per_component=False`):
 *
 * 1. start at the (weighted) mean;
 * 2. repeat at most `maxIter` times: weights `w_i / max(eps, ‖x_i − m‖)`, then
 *    `m ←` the weighted average of the points;
 * 3. stop early when the objective `Σ w_i ‖x_i − m‖` improves by no more than
 *    `ftol ·` its new value.
 *
 * Defaults are the study's: 100 iterations, `eps = 1e-6`, `ftol = 1e-20`. The
 * arithmetic is float64 (the package ran in float32 on the study's tensors), so
 * results agree to float32 precision, not bit for bit.
 *
 * @example
 * ```ts
 * import { geometricMedian } from "./geometric_median.ts";
 * const pts = new Float64Array([0, 0, 1, 0, 10, 0]); // three collinear points in 2-D
 * geometricMedian(pts, 2).median; // ≈ [1, 0], the middle point
 * ```
 *
 * @module
 */

/** Options of {@link geometricMedian}. */
export interface GeometricMedianOptions {
  /** Maximum Weiszfeld iterations (study: 100). */
  maxIter: number;
  /** Smallest distance used in a weight (study: 1e-6). */
  eps: number;
  /** Relative objective tolerance for early stopping (study: 1e-20). */
  ftol: number;
  /** Optional non-negative weight per point (default all 1). */
  weights?: ArrayLike<number>;
}

/** Result of {@link geometricMedian}. */
export interface GeometricMedianResult {
  /** The median, length `d`. */
  median: Float64Array;
  /** Weiszfeld iterations run. */
  iterations: number;
  /** True when the `ftol` test stopped the loop before `maxIter`. */
  converged: boolean;
  /** Objective `Σ w_i ‖x_i − median‖` at the result. */
  objective: number;
}

/**
 * Geometric median of `n = points.length / d` points stored row-major.
 *
 * @throws {RangeError} on an empty or ragged point set, non-finite values or bad weights
 *
 * @example
 * ```ts
 * import { geometricMedian } from "./geometric_median.ts";
 * const square = new Float64Array([1, 1, -1, 1, -1, -1, 1, -1]);
 * geometricMedian(square, 2).median; // [0, 0]
 * ```
 */
export function geometricMedian(
  points: ArrayLike<number>,
  d: number,
  options: Partial<GeometricMedianOptions> = {},
): GeometricMedianResult {
  const { maxIter = 100, eps = 1e-6, ftol = 1e-20, weights } = options;
  if (!Number.isSafeInteger(d) || d < 1) throw new RangeError(`geometric median: dimension must be ≥ 1, got ${d}`);
  if (points.length === 0 || points.length % d !== 0) {
    throw new RangeError(`geometric median: expected n·${d} values for n ≥ 1 points, got ${points.length}`);
  }
  const n = points.length / d;
  for (let i = 0; i < points.length; i++) {
    if (!Number.isFinite(points[i] as number)) {
      throw new RangeError(`geometric median: point ${Math.floor(i / d)} has a non-finite value ${points[i]}`);
    }
  }
  const w0 = new Float64Array(n);
  if (weights === undefined) w0.fill(1);
  else {
    if (weights.length !== n) throw new RangeError(`geometric median: expected ${n} weights, got ${weights.length}`);
    for (let i = 0; i < n; i++) {
      const w = weights[i] as number;
      if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`geometric median: weight ${i} is ${w}`);
      w0[i] = w;
    }
  }
  const median = weightedAverage(points, d, w0);
  let objective = objectiveValue(points, d, w0, median);
  const w = new Float64Array(n);
  let iterations = 0;
  let converged = false;
  for (; iterations < maxIter;) {
    iterations++;
    const prev = objective;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < d; k++) {
        const diff = (points[i * d + k] as number) - (median[k] as number);
        s += diff * diff;
      }
      w[i] = (w0[i] as number) / Math.max(eps, Math.sqrt(s));
    }
    median.set(weightedAverage(points, d, w));
    objective = objectiveValue(points, d, w0, median);
    if (Math.abs(prev - objective) <= ftol * objective) {
      converged = true;
      break;
    }
  }
  return { median, iterations, converged, objective };
}

function weightedAverage(points: ArrayLike<number>, d: number, w: Float64Array): Float64Array {
  const out = new Float64Array(d);
  let total = 0;
  for (let i = 0; i < w.length; i++) {
    const wi = w[i] as number;
    total += wi;
    for (let k = 0; k < d; k++) out[k] = (out[k] as number) + wi * (points[i * d + k] as number);
  }
  if (!(total > 0)) throw new RangeError("geometric median: the weights sum to 0");
  for (let k = 0; k < d; k++) out[k] = (out[k] as number) / total;
  return out;
}

function objectiveValue(points: ArrayLike<number>, d: number, w: Float64Array, m: Float64Array): number {
  let obj = 0;
  for (let i = 0; i < w.length; i++) {
    let s = 0;
    for (let k = 0; k < d; k++) {
      const diff = (points[i * d + k] as number) - (m[k] as number);
      s += diff * diff;
    }
    obj += (w[i] as number) * Math.sqrt(s);
  }
  return obj;
}
