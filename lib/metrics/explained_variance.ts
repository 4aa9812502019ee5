/**
 * Per-position explained variance of an SAE reconstruction (float64 sums,
 * streaming, mergeable).
 *
 * @module
 */

import { checkValues } from "./per_position.ts";

/**
 * Explained variance per position with the SAELens-intended formula (PR #443,
 * fixed in #665): `1 − E‖x − x̂‖² / (E‖x‖² − ‖E x‖²)`, numerator and
 * denominator averaged separately over the prompts at that position.
 *
 * @example
 * ```ts
 * import { ExplainedVarianceStats } from "./explained_variance.ts";
 * const ev = new ExplainedVarianceStats(1, 2);
 * // two tokens at position 0: x = (1, 0) and (−1, 0), each with SSE 0.2
 * ev.addBatch(new Float32Array([1, 0, -1, 0]), new Float32Array([0.2, 0.2]), 2, 1);
 * ev.explainedVariance()[0]; // 1 − 0.2 / 1 = 0.8
 * ```
 */
export class ExplainedVarianceStats {
  readonly nPos: number;
  readonly dIn: number;
  readonly count: Float64Array;
  readonly #sse: Float64Array;
  readonly #normSq: Float64Array;
  readonly #sumX: Float64Array; // [nPos, dIn]

  constructor(nPos: number, dIn: number) {
    if (!(nPos > 0 && dIn > 0)) {
      throw new RangeError(`ExplainedVarianceStats: nPos and dIn must be > 0, got ${nPos}, ${dIn}`);
    }
    this.nPos = nPos;
    this.dIn = dIn;
    this.count = new Float64Array(nPos);
    this.#sse = new Float64Array(nPos);
    this.#normSq = new Float64Array(nPos);
    this.#sumX = new Float64Array(nPos * dIn);
  }

  /**
   * Adds activations `x` [batch, pos, dIn] and their per-token SSE
   * `‖x − x̂‖²` [batch, pos]; `mask` [batch, pos] selects tokens.
   */
  addBatch(x: ArrayLike<number>, sse: ArrayLike<number>, batch: number, pos: number, mask?: ArrayLike<number>): void {
    const d = this.dIn;
    if (x.length !== batch * pos * d) {
      throw new RangeError(
        `explained variance: x has ${x.length} values, expected batch*pos*dIn = ${batch}*${pos}*${d}`,
      );
    }
    checkValues("explained variance (sse)", sse, batch, pos, mask);
    if (pos > this.nPos) throw new RangeError(`explained variance: pos ${pos} exceeds nPos ${this.nPos}`);
    for (let b = 0; b < batch; b++) {
      for (let j = 0; j < pos; j++) {
        const t = b * pos + j;
        if (mask !== undefined && !mask[t]) continue;
        const s = sse[t]!;
        if (!Number.isFinite(s)) {
          throw new RangeError(`explained variance: non-finite SSE ${s} at row ${b}, position ${j}`);
        }
        let nsq = 0;
        const base = t * d;
        const acc = j * d;
        for (let k = 0; k < d; k++) {
          const v = x[base + k]!;
          nsq += v * v;
          this.#sumX[acc + k]! += v;
        }
        if (!Number.isFinite(nsq)) {
          throw new RangeError(`explained variance: non-finite activation at row ${b}, position ${j}`);
        }
        this.#normSq[j]! += nsq;
        this.#sse[j]! += s;
        this.count[j]!++;
      }
    }
  }

  /** Merges `other` into this accumulator. */
  merge(other: ExplainedVarianceStats): this {
    if (other.nPos !== this.nPos || other.dIn !== this.dIn) {
      throw new RangeError(
        `explained variance: cannot merge [${other.nPos}, ${other.dIn}] into [${this.nPos}, ${this.dIn}]`,
      );
    }
    for (let p = 0; p < this.nPos; p++) {
      this.count[p]! += other.count[p]!;
      this.#sse[p]! += other.#sse[p]!;
      this.#normSq[p]! += other.#normSq[p]!;
    }
    for (let i = 0; i < this.#sumX.length; i++) this.#sumX[i]! += other.#sumX[i]!;
    return this;
  }

  /** Per-position explained variance; NaN where a position has fewer than 2 tokens. */
  explainedVariance(): Float64Array {
    const out = new Float64Array(this.nPos);
    for (let p = 0; p < this.nPos; p++) out[p] = this.pooled(p, p + 1).explainedVariance;
    return out;
  }

  /** Explained variance with all tokens at positions `from` … `to − 1` pooled. */
  pooled(from = 0, to = this.nPos): { count: number; explainedVariance: number } {
    const d = this.dIn;
    let n = 0, sse = 0, nsq = 0;
    const mean = new Float64Array(d);
    for (let p = Math.max(0, from); p < Math.min(to, this.nPos); p++) {
      n += this.count[p]!;
      sse += this.#sse[p]!;
      nsq += this.#normSq[p]!;
      for (let k = 0; k < d; k++) mean[k]! += this.#sumX[p * d + k]!;
    }
    if (n < 2) return { count: n, explainedVariance: NaN };
    let meanSq = 0;
    for (let k = 0; k < d; k++) {
      const m = mean[k]! / n;
      meanSq += m * m;
    }
    const variance = nsq / n - meanSq;
    return { count: n, explainedVariance: variance > 0 ? 1 - (sse / n) / variance : NaN };
  }
}
