/**
 * Closed-form predictions of study A's follow-ups for the ideal toy embedding
 * (`W_x1 = −W_x2 = u`, `W_y1 = −W_y2 = v`, u ⟂ v unit; spec §9.5), as functions
 * of the one-hot fraction `p` and the amplitude correlation `f ∈ {0, 1}` (two
 * sets of two features, U[0,1) magnitudes, uniform frequencies). A one-hot sample
 * is `a·u` or `a·v`; a pair is `±a·u ± b·v` with `b = a` (f = 1) or independent (f = 0).
 *
 * Moments used: E a = 1/2, E a² = 1/3, E a⁴ = 1/5, E max(a, b) = 2/3 (independent).
 *
 * | quantity | true axes | composed diagonals |
 * | --- | --- | --- |
 * | ℓ1 at zero MSE (unit decoders) | (1 − p)·1 + p/2 | (1 − p)·D + p/√2, D = 2√2/3 (f = 0), 1/√2 (f = 1) |
 * | L0 at zero MSE | 2(1 − p) + p | (1 − p)·(2 (f = 0) or 1 (f = 1)) + 2p |
 * | E z⁴ of the projection z = h·w | 0.2·(1 − p/2) | p/20 + (1 − p)·(4/15 (f = 0) or 2/5 (f = 1)) |
 *
 * and `E z² = (1 − p/2)/3` in every direction (isotropic covariance).
 *
 * @example
 * ```ts
 * import { breakEvenOnehot, expectedDictionaryL1 } from "./predictions.ts";
 * expectedDictionaryL1(0, 1); // { axis: 1, diagonal: 0.7071 }
 * breakEvenOnehot(0); // ≈ 0.217
 * ```
 *
 * @module
 */

function checkPf(p: number, f: number, what: string): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${what}: one-hot fraction p must be in [0, 1], got ${p}`);
  if (f !== 0 && f !== 1) throw new RangeError(`${what}: amplitude correlation f must be 0 or 1, got ${f}`);
}

/**
 * Expected ℓ1 per sample at zero MSE of the axis and diagonal dictionaries.
 *
 * @example
 * ```ts
 * import { expectedDictionaryL1 } from "./predictions.ts";
 * expectedDictionaryL1(0.75, 0).diagonal; // ≈ 0.766
 * ```
 */
export function expectedDictionaryL1(p: number, f: number): { axis: number; diagonal: number } {
  checkPf(p, f, "expectedDictionaryL1");
  const pairDiag = f === 1 ? Math.SQRT1_2 : 2 * Math.SQRT2 / 3;
  return { axis: (1 - p) + p / 2, diagonal: (1 - p) * pairDiag + p * Math.SQRT1_2 };
}

/**
 * The one-hot fraction p* at which both dictionaries have the same zero-MSE ℓ1 (axes win above it).
 *
 * @example
 * ```ts
 * import { breakEvenOnehot } from "./predictions.ts";
 * breakEvenOnehot(1); // ≈ 0.586
 * ```
 */
export function breakEvenOnehot(f: number): number {
  checkPf(0, f, "breakEvenOnehot");
  const d = f === 1 ? Math.SQRT1_2 : 2 * Math.SQRT2 / 3;
  // 1 − p/2 = d(1 − p) + p/√2  ⇔  p = (1 − d) / (1/2 + 1/√2 − d)
  return (1 - d) / (0.5 + Math.SQRT1_2 - d);
}

/**
 * Expected L0 per sample at zero MSE of the axis and diagonal dictionaries (what an L0 penalty compares).
 *
 * @example
 * ```ts
 * import { expectedL0 } from "./predictions.ts";
 * expectedL0(0, 1); // { axis: 2, diagonal: 1 }
 * ```
 */
export function expectedL0(p: number, f: number): { axis: number; diagonal: number } {
  checkPf(p, f, "expectedL0");
  return { axis: 2 * (1 - p) + p, diagonal: (1 - p) * (f === 1 ? 1 : 2) + 2 * p };
}

/**
 * Second and fourth moments of the projection of h on a true axis and on a diagonal.
 *
 * @example
 * ```ts
 * import { expectedProjectionMoments } from "./predictions.ts";
 * expectedProjectionMoments(0, 1); // { m2: 1/3, m4_axis: 0.2, m4_diagonal: 0.4 }
 * ```
 */
export function expectedProjectionMoments(p: number, f: number): { m2: number; m4_axis: number; m4_diagonal: number } {
  checkPf(p, f, "expectedProjectionMoments");
  return {
    m2: (1 - p / 2) / 3,
    m4_axis: 0.2 * (1 - p / 2),
    m4_diagonal: p / 20 + (1 - p) * (f === 1 ? 0.4 : 4 / 15),
  };
}

/**
 * Mean ‖h‖-normalised squared error of reconstructing each sample from its single best latent (a TopK SAE with
 * k = 1 and the exact dictionary), for the axis and diagonal dictionaries, from data samples `x` ([n, 4]):
 * axes lose `min(α², β²)/(α² + β²)`, diagonals `(|α| − |β|)²/(2(α² + β²))`.
 *
 * @example
 * ```ts
 * import { topk1Mse } from "./predictions.ts";
 * topk1Mse(new Float64Array([0.5, 0, 0.5, 0]), 1); // { axis: 0.5, diagonal: 0 }
 * ```
 */
export function topk1Mse(x: ArrayLike<number>, n: number): { axis: number; diagonal: number } {
  if (x.length < n * 4) throw new RangeError(`topk1Mse: expected ${n} rows of 4 features, got ${x.length}`);
  let ax = 0, dg = 0;
  for (let r = 0; r < n; r++) {
    const a = Math.abs((x[r * 4] as number) - (x[r * 4 + 1] as number));
    const b = Math.abs((x[r * 4 + 2] as number) - (x[r * 4 + 3] as number));
    const nn = a * a + b * b;
    if (nn === 0) continue;
    ax += Math.min(a * a, b * b) / nn;
    dg += (a - b) * (a - b) / (2 * nn);
  }
  return { axis: ax / n, diagonal: dg / n };
}
