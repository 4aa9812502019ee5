/**
 * Second- and fourth-moment structure of hidden activations (follow-up F3,
 * issue question 3): the projection `z = (h − mean)·w` on the unit direction
 * `w = cosφ·u + sinφ·v` of the toy's hidden frame, for a sweep of angles φ.
 * Covariance eigenvalues come from `hiddenCovariance` (analysis.ts); this module
 * adds the angle-resolved moments and kurtosis `E z⁴ / (E z²)²`.
 *
 * @example
 * ```ts
 * import { projectionMoments } from "./moments.ts";
 * const h = new Float64Array([1, 0, -1, 0, 0, 1, 0, -1]);
 * projectionMoments(h, 4, { u: [1, 0], v: [0, 1] }, [0, 45]).map((r) => r.m4); // [0.5, 0.25]
 * ```
 *
 * @module
 */

import type { HiddenFrame } from "./landscape.ts";

/** Moments of the projection at one angle. */
export interface ProjectionMoment {
  /** Angle from u, degrees. */
  angle_deg: number;
  /** E z². */
  m2: number;
  /** E z⁴. */
  m4: number;
  /** E z⁴ / (E z²)². */
  kurtosis: number;
}

/**
 * Moments of the centred projections of `n` rows of `h` ([n, 2]) on the directions at `anglesDeg`.
 *
 * @example
 * ```ts
 * import { projectionMoments } from "./moments.ts";
 * // projectionMoments(h, n, hiddenFrame(toy), [0, 5, 10, …, 180])
 * ```
 */
export function projectionMoments(
  h: ArrayLike<number>,
  n: number,
  frame: HiddenFrame,
  anglesDeg: readonly number[],
): ProjectionMoment[] {
  if (!(n > 1) || h.length < 2 * n) throw new RangeError(`projectionMoments: need ≥ 2 rows of 2, got ${h.length}`);
  let m0 = 0, m1 = 0;
  for (let r = 0; r < n; r++) {
    m0 += (h[r * 2] as number) / n;
    m1 += (h[r * 2 + 1] as number) / n;
  }
  return anglesDeg.map((deg) => {
    const phi = deg * Math.PI / 180;
    const w0 = Math.cos(phi) * frame.u[0] + Math.sin(phi) * frame.v[0];
    const w1 = Math.cos(phi) * frame.u[1] + Math.sin(phi) * frame.v[1];
    let s2 = 0, s4 = 0;
    for (let r = 0; r < n; r++) {
      const z = ((h[r * 2] as number) - m0) * w0 + ((h[r * 2 + 1] as number) - m1) * w1;
      const z2 = z * z;
      s2 += z2;
      s4 += z2 * z2;
    }
    const m2 = s2 / n, m4 = s4 / n;
    return { angle_deg: deg, m2, m4, kurtosis: m4 / (m2 * m2) };
  });
}

/**
 * The ideal-embedding hidden activations `h = αu + βv` (u = (1, 0), v = (0, 1)) of data samples `x` ([n, 4]).
 *
 * @example
 * ```ts
 * import { idealHidden } from "./moments.ts";
 * idealHidden(new Float64Array([0, 0.5, 0.25, 0]), 1); // [−0.5, 0.25]
 * ```
 */
export function idealHidden(x: ArrayLike<number>, n: number): Float64Array {
  const h = new Float64Array(2 * n);
  for (let r = 0; r < n; r++) {
    h[r * 2] = (x[r * 4] as number) - (x[r * 4 + 1] as number);
    h[r * 2 + 1] = (x[r * 4 + 2] as number) - (x[r * 4 + 3] as number);
  }
  return h;
}
