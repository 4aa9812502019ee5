/**
 * The streaming core shared by the per-position accumulators: for each context
 * position, the count, the means of k paired values and their centred
 * co-moment sums, updated one tuple at a time (Welford) and combined exactly
 * (Chan's parallel formula) — across accumulators (`merge`) or across
 * positions (`pooled`). `PositionStats` is the k = 1 case, `RatioStats` the
 * k = 2 case with the cross moment.
 *
 * @module
 */

/** Count, means and centred co-moment sums of one pooled set of k-tuples. */
export interface PooledMoments {
  count: number;
  /** Means of the k values. */
  mean: Float64Array;
  /** Centred co-moment sums Σ (x_i − x̄_i)(x_j − x̄_j), row-major [k, k] (upper triangle filled). */
  co: Float64Array;
}

/**
 * Per-position streaming moments of k paired values, float64.
 *
 * @example
 * ```ts
 * import { Comoments } from "./comoments.ts";
 * const m = new Comoments("demo", 1, 2);
 * for (const v of [1, 2, 3]) m.add(0, [[v]]); // one 1-tuple at position 0
 * m.mean(0, 0); // 2
 * m.co(0, 0, 0); // 2 (Σ (x − 2)²)
 * ```
 */
export class Comoments {
  /** Accumulator name, used in error messages. */
  readonly name: string;
  /** Values per tuple. */
  readonly k: number;
  /** Number of positions tracked (0 … nPos − 1). */
  readonly nPos: number;
  /** Number of tuples seen per position. */
  readonly count: Float64Array;
  readonly #mean: Float64Array; // [nPos, k]
  readonly #co: Float64Array; // [nPos, k, k], upper triangle
  readonly #delta: Float64Array; // scratch [k]

  constructor(name: string, k: number, nPos: number) {
    if (!Number.isInteger(nPos) || nPos <= 0) throw new RangeError(`${name}: nPos must be > 0, got ${nPos}`);
    this.name = name;
    this.k = k;
    this.nPos = nPos;
    this.count = new Float64Array(nPos);
    this.#mean = new Float64Array(nPos * k);
    this.#co = new Float64Array(nPos * k * k);
    this.#delta = new Float64Array(k);
  }

  /** Mean of value `i` at position `p` (0 where nothing was added). */
  mean(p: number, i: number): number {
    return this.#mean[p * this.k + i]!;
  }

  /** Centred co-moment sum of values `i` and `j` (i ≤ j) at position `p`. */
  co(p: number, i: number, j: number): number {
    return this.#co[(p * this.k + i) * this.k + j]!;
  }

  /** Throws unless `offset … offset + width − 1` are tracked positions; `name` leads the message. */
  checkRange(offset: number, width: number, name = this.name): void {
    if (offset < 0 || offset + width > this.nPos) {
      throw new RangeError(`${name}: positions ${offset}…${offset + width - 1} exceed nPos ${this.nPos}`);
    }
  }

  /** Adds one k-tuple (entry i of `values[i]` at index `at`) at position `p`; no validation. */
  add(p: number, values: readonly ArrayLike<number>[], at = 0): void {
    const k = this.k;
    const n = ++this.count[p]!;
    const m = p * k;
    const d = this.#delta;
    for (let i = 0; i < k; i++) {
      const v = values[i]![at]!;
      d[i] = v - this.#mean[m + i]!;
      this.#mean[m + i]! += d[i]! / n;
    }
    for (let i = 0; i < k; i++) {
      for (let j = i; j < k; j++) this.#co[(m + i) * k + j]! += d[i]! * (values[j]![at]! - this.#mean[m + j]!);
    }
  }

  /**
   * Adds the tuples of row-major [batch, width] blocks, one block per value
   * (`columns[i]` holds value i), column j at position `offset + j`; entries
   * with `mask` 0 are skipped. Throws `name: non-finite DESC at batch row b,
   * position p` for a non-finite entry, DESC from `describe(index)`.
   */
  addBlock(
    columns: readonly ArrayLike<number>[],
    batch: number,
    width: number,
    mask: ArrayLike<number> | undefined,
    offset: number,
    name: string,
    describe: (index: number) => string,
  ): void {
    this.checkRange(offset, width, name);
    for (let b = 0; b < batch; b++) {
      for (let j = 0; j < width; j++) {
        const i = b * width + j;
        if (mask !== undefined && !mask[i]) continue;
        for (const c of columns) {
          if (!Number.isFinite(c[i]!)) {
            throw new RangeError(`${name}: non-finite ${describe(i)} at batch row ${b}, position ${offset + j}`);
          }
        }
        this.add(offset + j, columns, i);
      }
    }
  }

  /** Merges `other` (same k and nPos) into this accumulator, position by position; `name` leads an error. */
  merge(other: Comoments, name = this.name): void {
    if (other.nPos !== this.nPos || other.k !== this.k) {
      throw new RangeError(`${name}: cannot merge ${other.nPos} positions into ${this.nPos}`);
    }
    for (let p = 0; p < this.nPos; p++) {
      combine(this.count, this.#mean, this.#co, p, other.count[p]!, other.#mean, other.#co, p, this.k, this.#delta);
    }
  }

  /** Count, means and co-moments of every tuple at positions `from` … `to − 1` pooled. */
  pooled(from = 0, to = this.nPos): PooledMoments {
    const k = this.k;
    const count = new Float64Array(1);
    const mean = new Float64Array(k);
    const co = new Float64Array(k * k);
    for (let p = Math.max(0, from); p < Math.min(to, this.nPos); p++) {
      combine(count, mean, co, 0, this.count[p]!, this.#mean, this.#co, p, k, this.#delta);
    }
    return { count: count[0]!, mean, co };
  }
}

/** Chan's update of slot `p` of (count, mean, co) with `nb` tuples of slot `q` of (meanB, coB). */
function combine(
  count: Float64Array,
  mean: Float64Array,
  co: Float64Array,
  p: number,
  nb: number,
  meanB: Float64Array,
  coB: Float64Array,
  q: number,
  k: number,
  d: Float64Array,
): void {
  if (nb === 0) return;
  const na = count[p]!;
  const n = na + nb;
  const w = na * nb / n;
  for (let i = 0; i < k; i++) {
    d[i] = meanB[q * k + i]! - mean[p * k + i]!;
    mean[p * k + i]! += d[i]! * nb / n;
  }
  for (let i = 0; i < k; i++) {
    for (let j = i; j < k; j++) co[(p * k + i) * k + j]! += coB[(q * k + i) * k + j]! + d[i]! * d[j]! * w;
  }
  count[p] = n;
}
