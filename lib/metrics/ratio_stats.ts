/**
 * Ratios of per-position means of paired per-token values (float64,
 * streaming, mergeable), with delta-method standard errors; CE-loss recovered
 * is built on it.
 *
 * @module
 */

import { Comoments } from "./comoments.ts";
import { checkValues } from "./per_position.ts";

/**
 * Ratio of per-position means `E[a] / E[b]` of paired per-token values, with a
 * delta-method standard error that uses the pairing:
 * `Var(r) ≈ (s²_a − 2 r s_ab + r² s²_b) / (n · E[b]²)`.
 *
 * @example
 * ```ts
 * import { RatioStats } from "./ratio_stats.ts";
 * const r = new RatioStats("score", 1);
 * r.addBatch([2, 4], [4, 8], 2, 1);
 * r.ratio(); // Float64Array [0.5]
 * ```
 */
export class RatioStats {
  readonly name: string;
  readonly nPos: number;
  readonly count: Float64Array;
  readonly #m: Comoments;

  constructor(name: string, nPos: number) {
    this.#m = new Comoments(`RatioStats(${name})`, 2, nPos);
    this.name = name;
    this.nPos = nPos;
    this.count = this.#m.count;
  }

  /** Adds paired [batch, width] blocks of numerator and denominator values. */
  addBatch(
    a: ArrayLike<number>,
    b: ArrayLike<number>,
    batch: number,
    width: number,
    mask?: ArrayLike<number>,
    offset = 0,
  ): void {
    checkValues(`${this.name} (numerator)`, a, batch, width, mask);
    checkValues(`${this.name} (denominator)`, b, batch, width, mask);
    this.#m.addBlock([a, b], batch, width, mask, offset, this.name, (i) => `pair (${a[i]}, ${b[i]})`);
  }

  /** Merges `other` into this accumulator. */
  merge(other: RatioStats): this {
    this.#m.merge(other.#m, this.name);
    return this;
  }

  /** Per-position ratio of means; NaN where no values or the mean denominator is 0. */
  ratio(): Float64Array {
    const out = new Float64Array(this.nPos);
    for (let p = 0; p < this.nPos; p++) {
      const mb = this.#m.mean(p, 1);
      out[p] = this.count[p]! > 0 && mb !== 0 ? this.#m.mean(p, 0) / mb : NaN;
    }
    return out;
  }

  /** Per-position delta-method standard error of the ratio; NaN where n < 2. */
  se(): Float64Array {
    const out = new Float64Array(this.nPos);
    const m = this.#m;
    for (let p = 0; p < this.nPos; p++) {
      out[p] = ratioSe(this.count[p]!, m.mean(p, 0), m.mean(p, 1), m.co(p, 0, 0), m.co(p, 1, 1), m.co(p, 0, 1));
    }
    return out;
  }

  /** Ratio of token-weighted means over positions `from` … `to − 1`, with its SE. */
  pooled(from = 0, to = this.nPos): { count: number; ratio: number; se: number } {
    const { count: n, mean, co } = this.#m.pooled(from, to);
    const [ma, mb] = [mean[0]!, mean[1]!];
    return { count: n, ratio: n > 0 && mb !== 0 ? ma / mb : NaN, se: ratioSe(n, ma, mb, co[0]!, co[3]!, co[1]!) };
  }
}

function ratioSe(n: number, ma: number, mb: number, caa: number, cbb: number, cab: number): number {
  if (n < 2 || mb === 0) return NaN;
  const r = ma / mb;
  const v = (caa - 2 * r * cab + r * r * cbb) / (n - 1);
  return Math.sqrt(Math.max(0, v) / n) / Math.abs(mb);
}

/**
 * CE-loss recovered per position, `(CE_zero − CE_sae) / (CE_zero − CE_clean)`,
 * as a ratio of per-position means (SAELens HEAD convention, applied per
 * position): 1 = no degradation, 0 = as bad as zero-ablating the hook.
 *
 * @example
 * ```ts
 * import { CeRecoveredStats } from "./ratio_stats.ts";
 * const s = new CeRecoveredStats(1);
 * s.addBatch({ ceClean: [2], ceSpliced: [3], ceZero: [6] }, 1, 1);
 * s.ratio(); // Float64Array [0.75]
 * ```
 */
export class CeRecoveredStats {
  /** The paired (CE_zero − CE_sae, CE_zero − CE_clean) accumulator underneath. */
  readonly stats: RatioStats;

  constructor(nPos: number) {
    this.stats = new RatioStats("ce_recovered", nPos);
  }

  /** Number of positions tracked. */
  get nPos(): number {
    return this.stats.nPos;
  }

  /** Adds [batch, width] per-token CE values of the clean, spliced and zero-ablated runs. */
  addBatch(
    ce: { ceClean: ArrayLike<number>; ceSpliced: ArrayLike<number>; ceZero: ArrayLike<number> },
    batch: number,
    width: number,
    mask?: ArrayLike<number>,
    offset = 0,
  ): void {
    const n = batch * width;
    for (const [label, arr] of [["ceClean", ce.ceClean], ["ceSpliced", ce.ceSpliced], ["ceZero", ce.ceZero]] as const) {
      if (arr.length !== n) throw new RangeError(`ce_recovered: ${label} has ${arr.length} values, expected ${n}`);
    }
    const a = new Float64Array(n);
    const b = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      a[i] = ce.ceZero[i]! - ce.ceSpliced[i]!;
      b[i] = ce.ceZero[i]! - ce.ceClean[i]!;
    }
    this.stats.addBatch(a, b, batch, width, mask, offset);
  }

  /** Merges `other` into this accumulator. */
  merge(other: CeRecoveredStats): this {
    this.stats.merge(other.stats);
    return this;
  }

  /** Per-position score (ratio of per-position means). */
  ratio(): Float64Array {
    return this.stats.ratio();
  }

  /** Per-position delta-method SE of the score. */
  se(): Float64Array {
    return this.stats.se();
  }

  /** Score over positions `from` … `to − 1` as a ratio of token means (SAELens HEAD style). */
  pooled(from?: number, to?: number): { count: number; ratio: number; se: number } {
    return this.stats.pooled(from, to);
  }
}
