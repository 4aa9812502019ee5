/**
 * Binomial proportions with Wilson score intervals, and accuracy binned by a
 * numeric key (e.g. prompt length in tokens) for the benchmark figures.
 *
 * @module
 */

/** A proportion k / n with its Wilson score interval. */
export interface WilsonInterval {
  k: number;
  n: number;
  p: number;
  lo: number;
  hi: number;
}

/**
 * Wilson score interval for k successes out of n at normal quantile `z`
 * (1.96 ≈ 95%). For n = 0 the proportion is NaN and the interval [0, 1].
 *
 * @example
 * ```ts
 * import { wilsonInterval } from "./wilson.ts";
 * const w = wilsonInterval(5, 10); // p 0.5, lo ≈ 0.2366, hi ≈ 0.7634
 * ```
 */
export function wilsonInterval(k: number, n: number, z = 1.959963984540054): WilsonInterval {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 0 || n < 0 || k > n) {
    throw new RangeError(`wilsonInterval needs integers 0 ≤ k ≤ n, got k=${k}, n=${n}`);
  }
  if (n === 0) return { k, n, p: NaN, lo: 0, hi: 1 };
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt(p * (1 - p) / n + z2 / (4 * n * n));
  // k = 0 and k = n give exact ends (the formula leaves float dust like 1e-17 there); the interval always holds p
  const lo = k === 0 ? 0 : Math.min(p, Math.max(0, centre - half));
  const hi = k === n ? 1 : Math.max(p, Math.min(1, centre + half));
  return { k, n, p, lo, hi };
}

/** One bin of {@link binnedAccuracy}. */
export interface AccuracyBin extends WilsonInterval {
  /** Inclusive lower edge. */
  from: number;
  /** Inclusive upper edge (Infinity for an open last bin). */
  to: number;
  /** Label such as "1–64" or "257+". */
  label: string;
}

/**
 * Accuracy per bin of `keys` with Wilson intervals. `edges` are the inclusive
 * lower edges of consecutive bins; the last bin is open-ended. Keys below the
 * first edge are an error (they would silently vanish otherwise).
 *
 * @example
 * ```ts
 * import { binnedAccuracy } from "./wilson.ts";
 * const bins = binnedAccuracy([10, 70, 300], [true, false, true], [1, 65, 129, 193, 257]);
 * // bins[0]: label "1–64", n 1, k 1; bins[4]: label "257+", n 1, k 1
 * ```
 */
export function binnedAccuracy(
  keys: ArrayLike<number>,
  correct: ArrayLike<boolean | number>,
  edges: readonly number[],
  z?: number,
): AccuracyBin[] {
  if (keys.length !== correct.length) {
    throw new RangeError(`binnedAccuracy: ${keys.length} keys but ${correct.length} outcomes`);
  }
  if (edges.length === 0) throw new RangeError("binnedAccuracy: need at least one bin edge");
  for (let i = 1; i < edges.length; i++) {
    if (!(edges[i]! > edges[i - 1]!)) {
      throw new RangeError(`binnedAccuracy: edges must increase, got ${edges.join(", ")}`);
    }
  }
  const n = new Array<number>(edges.length).fill(0);
  const k = new Array<number>(edges.length).fill(0);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (!(key >= edges[0]!)) {
      throw new RangeError(`binnedAccuracy: key ${key} (item ${i}) is below the first edge ${edges[0]}`);
    }
    let b = edges.length - 1;
    while (key < edges[b]!) b--;
    n[b]!++;
    if (correct[i]) k[b]!++;
  }
  return edges.map((from, b) => {
    const last = b === edges.length - 1;
    const to = last ? Infinity : edges[b + 1]! - 1;
    const label = last ? `${from}+` : `${from}–${to}`;
    return { ...wilsonInterval(k[b]!, n[b]!, z), from, to, label };
  });
}
