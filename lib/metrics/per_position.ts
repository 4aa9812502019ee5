/**
 * Streaming per-position statistics in float64, and the BOS / position-mask
 * policy that decides which tokens enter them.
 *
 * Every accumulator keeps, for each context position j, a count and running
 * moments (Welford's update; two accumulators merge exactly with Chan's
 * formula), so a run can be split over batches, processes or checkpoints and
 * merged afterwards with the same result as a single pass (up to float64
 * rounding). Means come with standard errors `std / √n` (std with n − 1).
 *
 * | accumulator | per position j | used for |
 * | --- | --- | --- |
 * | {@link PositionStats} | mean, std, SE of one per-token value | CE, ΔCE, KL, MSE variants, L0, L1, ‖x‖ |
 * | `RatioStats` (ratio_stats.ts) | ratio of means `E[a]/E[b]` of paired values, delta-method SE | CE-loss recovered |
 * | `ExplainedVarianceStats` (explained_variance.ts) | `1 − E‖x − x̂‖² / (E‖x‖² − ‖E x‖²)` | explained variance (SAELens-intended formula) |
 *
 * @module
 */

import { Comoments } from "./comoments.ts";

/**
 * Which positions enter the averages.
 *
 * - `"include"`: every position, BOS included (dictionary_learning; SAELens training-time evaluator).
 * - `"exclude-position-0"`: drop position 0 of every row (the Feb-2024 SAELens tutorial's `[:, 1:]`).
 * - `"exclude-bos-tokens"`: drop every position whose *input token* is the BOS/EOS id, wherever it
 *   occurs (SAELens `run_evals` default `exclude_special_tokens=True`).
 */
export type BosPolicy = "include" | "exclude-position-0" | "exclude-bos-tokens";

/** All BOS policies, for validation and documentation. */
export const BOS_POLICIES: readonly BosPolicy[] = ["include", "exclude-position-0", "exclude-bos-tokens"];

/**
 * A caption fragment stating a BOS policy, for figures and tables.
 *
 * @example
 * ```ts
 * import { describeBosPolicy } from "./per_position.ts";
 * describeBosPolicy("exclude-bos-tokens"); // "positions whose input token is BOS (id 50256) are excluded"
 * ```
 */
export function describeBosPolicy(policy: BosPolicy, bosId = 50256): string {
  switch (policy) {
    case "include":
      return "all positions included, BOS (position 0) too";
    case "exclude-position-0":
      return "position 0 (BOS) excluded from every average";
    case "exclude-bos-tokens":
      return `positions whose input token is BOS (id ${bosId}) are excluded`;
  }
}

/** Throws a clear error unless `policy` is a known {@link BosPolicy}. */
export function assertBosPolicy(policy: string): asserts policy is BosPolicy {
  if (!(BOS_POLICIES as readonly string[]).includes(policy)) {
    throw new RangeError(`bosPolicy must be one of ${BOS_POLICIES.join(", ")}; got "${policy}"`);
  }
}

/**
 * Builds a 0/1 mask of shape [batch, width] (row-major) from tokens of shape
 * [batch, pos]: 1 where the position enters the averages under `policy`.
 * `width` (≤ pos, default pos) selects the first `width` positions, e.g.
 * `pos − 1` for next-token CE, whose entry j is attributed to input position j.
 *
 * @example
 * ```ts
 * import { positionMask } from "./per_position.ts";
 * const m = positionMask([50256, 5, 50256, 7], 1, 4, "exclude-bos-tokens"); // [0, 1, 0, 1]
 * ```
 */
export function positionMask(
  tokens: ArrayLike<number>,
  batch: number,
  pos: number,
  policy: BosPolicy,
  opts: { width?: number; bosId?: number } = {},
): Uint8Array {
  assertBosPolicy(policy);
  const width = opts.width ?? pos;
  const bosId = opts.bosId ?? 50256;
  if (tokens.length !== batch * pos) {
    throw new RangeError(`positionMask: tokens has ${tokens.length} entries, expected batch*pos = ${batch}*${pos}`);
  }
  if (width > pos || width < 0) throw new RangeError(`positionMask: width ${width} must be in [0, pos=${pos}]`);
  const mask = new Uint8Array(batch * width);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < width; j++) {
      let keep = 1;
      if (policy === "exclude-position-0" && j === 0) keep = 0;
      if (policy === "exclude-bos-tokens" && tokens[b * pos + j] === bosId) keep = 0;
      mask[b * width + j] = keep;
    }
  }
  return mask;
}

/** Mean, standard error and count of one pooled range of positions. */
export interface PooledStat {
  count: number;
  mean: number;
  std: number;
  se: number;
}

/** Throws unless `values` (and `mask`) hold batch × width entries. */
export function checkValues(
  name: string,
  values: ArrayLike<number>,
  batch: number,
  width: number,
  mask?: ArrayLike<number>,
) {
  if (values.length !== batch * width) {
    throw new RangeError(`${name}: got ${values.length} values, expected batch*width = ${batch}*${width}`);
  }
  if (mask !== undefined && mask.length !== batch * width) {
    throw new RangeError(`${name}: mask has ${mask.length} entries, expected ${batch * width}`);
  }
}

/**
 * Per-position count / mean / second moment of one per-token value, float64.
 *
 * @example
 * ```ts
 * import { PositionStats } from "./per_position.ts";
 * const ce = new PositionStats("ce", 4);
 * ce.addBatch(new Float32Array([1, 2, 3, 4, 3, 4, 5, 6]), 2, 4); // [batch=2, pos=4]
 * ce.mean(); // Float64Array [2, 3, 4, 5]
 * ce.se();   // Float64Array [1, 1, 1, 1]
 * ```
 */
export class PositionStats {
  /** Metric name, used in error messages and tables. */
  readonly name: string;
  /** Number of positions tracked (0 … nPos − 1). */
  readonly nPos: number;
  /** Number of values seen per position. */
  readonly count: Float64Array;
  readonly #m: Comoments;

  constructor(name: string, nPos: number) {
    this.#m = new Comoments(`PositionStats(${name})`, 1, nPos);
    this.name = name;
    this.nPos = nPos;
    this.count = this.#m.count;
  }

  /** Adds one value at position `pos`. Throws on a non-finite value. */
  add(pos: number, value: number): void {
    if (!(pos >= 0 && pos < this.nPos)) throw new RangeError(`${this.name}: position ${pos} outside [0, ${this.nPos})`);
    if (!Number.isFinite(value)) throw new RangeError(`${this.name}: non-finite value ${value} at position ${pos}`);
    this.#m.add(pos, [[value]]);
  }

  /**
   * Adds a [batch, width] row-major block whose column j is position
   * `offset + j`; entries with `mask` 0 are skipped.
   */
  addBatch(values: ArrayLike<number>, batch: number, width: number, mask?: ArrayLike<number>, offset = 0): void {
    checkValues(this.name, values, batch, width, mask);
    this.#m.addBlock([values], batch, width, mask, offset, this.name, (i) => `value ${values[i]}`);
  }

  /** Merges `other` into this accumulator (Chan's parallel formula). */
  merge(other: PositionStats): this {
    this.#m.merge(other.#m, this.name);
    return this;
  }

  /** Per-position mean; NaN where a position has no values. */
  mean(): Float64Array {
    const out = new Float64Array(this.nPos);
    for (let p = 0; p < this.nPos; p++) out[p] = this.count[p]! > 0 ? this.#m.mean(p, 0) : NaN;
    return out;
  }

  /** Per-position sum of the values. */
  sum(): Float64Array {
    const out = new Float64Array(this.nPos);
    for (let p = 0; p < this.nPos; p++) out[p] = this.#m.mean(p, 0) * this.count[p]!;
    return out;
  }

  /** Per-position sample standard deviation (n − 1); NaN where n < 2. */
  std(): Float64Array {
    const out = new Float64Array(this.nPos);
    for (let p = 0; p < this.nPos; p++) out[p] = sampleStd(this.count[p]!, this.#m.co(p, 0, 0));
    return out;
  }

  /** Per-position standard error of the mean, std / √n; NaN where n < 2. */
  se(): Float64Array {
    const sd = this.std();
    for (let p = 0; p < this.nPos; p++) sd[p] = sd[p]! / Math.sqrt(this.count[p]!);
    return sd;
  }

  /**
   * Token-weighted mean over positions `from` … `to − 1` (every value counts
   * once), with its std and SE.
   */
  pooled(from = 0, to = this.nPos): PooledStat {
    const { count: n, mean, co } = this.#m.pooled(from, to);
    const std = sampleStd(n, co[0]!);
    return { count: n, mean: n > 0 ? mean[0]! : NaN, std, se: std / Math.sqrt(n) };
  }
}

function sampleStd(n: number, m2: number): number {
  return n > 1 ? Math.sqrt(Math.max(0, m2) / (n - 1)) : NaN;
}
