/**
 * Per-prompt, per-position-bin sums of one per-token value: the data behind
 * intervals that resample **prompts** (rows), not tokens. Tokens of one prompt
 * are correlated, so a standard error over tokens is too small; a bootstrap or
 * permutation test over prompts needs each prompt's own sums.
 *
 * Bins are half-open position ranges `[edges[k], edges[k+1])`. A window of
 * positions `[from, to)` whose ends are bin edges is a union of bins, so any
 * window mean per prompt is exact. Rows are identified by their index in the
 * run (the caller passes the index of the batch's first row), so a metric fed
 * for only some rows (e.g. the zero-ablated CE on the first rows) keeps its rows
 * aligned with the others; rows never fed have count 0.
 *
 * @example
 * ```ts
 * import { RowBinStats, positionBinEdges } from "./row_bins.ts";
 * const edges = positionBinEdges(8, 4, 2); // [0, 2, 4, 6, 8]
 * const s = new RowBinStats("kl", edges);
 * s.addBatch([1, 1, 2, 2, 3, 3, 4, 4], 1, 8, undefined, 0); // one row of 8 positions
 * s.window(4, 8).sum; // Float64Array [14]
 * ```
 *
 * @module
 */

/**
 * Bin edges of width `width` that contain `ctx` as an edge: 0, w, 2w, … up to
 * ctx, then ctx + w, ctx + 2w, … up to `T` (the last bin may be shorter).
 *
 * @example
 * ```ts
 * import { positionBinEdges } from "./row_bins.ts";
 * positionBinEdges(10, 4, 3); // [0, 3, 4, 7, 10]
 * ```
 */
export function positionBinEdges(T: number, ctx: number, width: number): number[] {
  if (!(Number.isInteger(width) && width >= 1)) throw new RangeError(`positionBinEdges: width ${width} must be ≥ 1`);
  if (!(T >= 1)) throw new RangeError(`positionBinEdges: T ${T} must be ≥ 1`);
  const edges = [0];
  const push = (e: number) => {
    if (e > edges.at(-1)! && e <= T) edges.push(e);
  };
  for (let e = width; e < Math.min(ctx, T); e += width) push(e);
  push(Math.min(ctx, T));
  for (let e = ctx + width; e < T; e += width) push(e);
  push(T);
  return edges;
}

/** Per-row sums and counts of one window. */
export interface RowWindow {
  /** Sum of the values of each row inside the window. */
  sum: Float64Array;
  /** Number of values of each row inside the window. */
  count: Float64Array;
}

/**
 * Per-row, per-bin sums and counts of one per-token value (float64).
 */
export class RowBinStats {
  readonly name: string;
  readonly edges: readonly number[];
  readonly nBins: number;
  /** Per row: [sum_0, count_0, sum_1, count_1, …]. */
  #rows: Float64Array[] = [];
  /** Bin of each position. */
  readonly #binOf: Int32Array;

  constructor(name: string, edges: readonly number[]) {
    if (edges.length < 2 || edges[0] !== 0) {
      throw new RangeError(`RowBinStats(${name}): edges must start at 0 and have ≥ 2 entries, got [${edges}]`);
    }
    for (let k = 1; k < edges.length; k++) {
      if (!(edges[k]! > edges[k - 1]!)) throw new RangeError(`RowBinStats(${name}): edges not increasing: [${edges}]`);
    }
    this.name = name;
    this.edges = [...edges];
    this.nBins = edges.length - 1;
    this.#binOf = new Int32Array(edges.at(-1)!);
    for (let k = 0; k < this.nBins; k++) this.#binOf.fill(k, edges[k]!, edges[k + 1]!);
  }

  /** Rows seen so far (the largest row index fed + 1). */
  get nRows(): number {
    return this.#rows.length;
  }

  /**
   * Adds a `[batch, width]` row-major block; row b is run row `rowStart + b`,
   * column j is position `offset + j`; entries with `mask` 0 are skipped.
   * Throws on a non-finite kept value.
   */
  addBatch(
    values: ArrayLike<number>,
    batch: number,
    width: number,
    mask: ArrayLike<number> | undefined,
    rowStart: number,
    offset = 0,
  ): void {
    if (values.length !== batch * width) {
      throw new RangeError(`RowBinStats(${this.name}): ${values.length} values, expected ${batch}×${width}`);
    }
    if (offset + width > this.#binOf.length) {
      throw new RangeError(
        `RowBinStats(${this.name}): positions up to ${offset + width} exceed the last edge ${this.#binOf.length}`,
      );
    }
    for (let b = 0; b < batch; b++) {
      const r = rowStart + b;
      while (this.#rows.length <= r) this.#rows.push(new Float64Array(2 * this.nBins));
      const acc = this.#rows[r]!;
      for (let j = 0; j < width; j++) {
        const i = b * width + j;
        if (mask && !mask[i]) continue;
        const v = values[i]!;
        if (!Number.isFinite(v)) {
          throw new RangeError(`RowBinStats(${this.name}): non-finite value ${v} at row ${r}, position ${offset + j}`);
        }
        const k = this.#binOf[offset + j]!;
        acc[2 * k]! += v;
        acc[2 * k + 1]! += 1;
      }
    }
  }

  /** Index of the bin starting at `edge`; throws when `edge` is not a bin edge. */
  edgeIndex(edge: number): number {
    const k = this.edges.indexOf(edge);
    if (k < 0) throw new RangeError(`RowBinStats(${this.name}): ${edge} is not a bin edge (edges [${this.edges}])`);
    return k;
  }

  /** Per-row sums and counts over positions `[from, to)`; both must be bin edges (`to` is clipped to the last edge). */
  window(from: number, to: number): RowWindow {
    const a = this.edgeIndex(from);
    const b = this.edgeIndex(Math.min(to, this.edges.at(-1)!));
    const n = this.#rows.length;
    const sum = new Float64Array(n);
    const count = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      const acc = this.#rows[r]!;
      for (let k = a; k < b; k++) {
        sum[r]! += acc[2 * k]!;
        count[r]! += acc[2 * k + 1]!;
      }
    }
    return { sum, count };
  }

  /** Per-row sums and counts of bin `k`. */
  bin(k: number): RowWindow {
    if (!(k >= 0 && k < this.nBins)) throw new RangeError(`RowBinStats(${this.name}): bin ${k} of ${this.nBins}`);
    return this.window(this.edges[k]!, this.edges[k + 1]!);
  }
}

/**
 * Weighted ratio of sums `Σ w_r s_r / Σ w_r c_r` over rows (the pooled mean of
 * a window when `w` are bootstrap multiplicities; all ones gives the plain
 * pooled mean). NaN when no weighted values.
 *
 * @example
 * ```ts
 * import { weightedMean } from "./row_bins.ts";
 * weightedMean({ sum: Float64Array.of(2, 6), count: Float64Array.of(1, 2) }); // 8 / 3
 * ```
 */
export function weightedMean(win: RowWindow, w?: ArrayLike<number>): number {
  let s = 0;
  let c = 0;
  for (let r = 0; r < win.sum.length; r++) {
    const k = w ? w[r]! : 1;
    if (k === 0) continue;
    s += k * win.sum[r]!;
    c += k * win.count[r]!;
  }
  return c > 0 ? s / c : NaN;
}
