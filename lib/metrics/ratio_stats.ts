/**
 * Ratios of per-position means of paired per-token values (float64,
 * streaming, mergeable), with delta-method standard errors; CE-loss recovered
 * is built on it.
 *
 * @module
 */

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
  readonly #ma: Float64Array;
  readonly #mb: Float64Array;
  readonly #caa: Float64Array;
  readonly #cbb: Float64Array;
  readonly #cab: Float64Array;

  constructor(name: string, nPos: number) {
    if (!Number.isInteger(nPos) || nPos <= 0) {
      throw new RangeError(`RatioStats(${name}): nPos must be > 0, got ${nPos}`);
    }
    this.name = name;
    this.nPos = nPos;
    this.count = new Float64Array(nPos);
    this.#ma = new Float64Array(nPos);
    this.#mb = new Float64Array(nPos);
    this.#caa = new Float64Array(nPos);
    this.#cbb = new Float64Array(nPos);
    this.#cab = new Float64Array(nPos);
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
    if (offset < 0 || offset + width > this.nPos) {
      throw new RangeError(`${this.name}: positions ${offset}…${offset + width - 1} exceed nPos ${this.nPos}`);
    }
    for (let r = 0; r < batch; r++) {
      for (let j = 0; j < width; j++) {
        const i = r * width + j;
        if (mask !== undefined && !mask[i]) continue;
        const va = a[i]!;
        const vb = b[i]!;
        if (!Number.isFinite(va) || !Number.isFinite(vb)) {
          throw new RangeError(
            `${this.name}: non-finite pair (${va}, ${vb}) at batch row ${r}, position ${offset + j}`,
          );
        }
        const p = offset + j;
        const n = ++this.count[p]!;
        const da = va - this.#ma[p]!;
        const db = vb - this.#mb[p]!;
        this.#ma[p]! += da / n;
        this.#mb[p]! += db / n;
        this.#caa[p]! += da * (va - this.#ma[p]!);
        this.#cbb[p]! += db * (vb - this.#mb[p]!);
        this.#cab[p]! += da * (vb - this.#mb[p]!);
      }
    }
  }

  /** Merges `other` into this accumulator. */
  merge(other: RatioStats): this {
    if (other.nPos !== this.nPos) {
      throw new RangeError(`${this.name}: cannot merge ${other.nPos} positions into ${this.nPos}`);
    }
    for (let p = 0; p < this.nPos; p++) {
      const nb = other.count[p]!;
      if (nb === 0) continue;
      const na = this.count[p]!;
      const n = na + nb;
      const da = other.#ma[p]! - this.#ma[p]!;
      const db = other.#mb[p]! - this.#mb[p]!;
      const w = na * nb / n;
      this.#ma[p]! += da * nb / n;
      this.#mb[p]! += db * nb / n;
      this.#caa[p]! += other.#caa[p]! + da * da * w;
      this.#cbb[p]! += other.#cbb[p]! + db * db * w;
      this.#cab[p]! += other.#cab[p]! + da * db * w;
      this.count[p] = n;
    }
    return this;
  }

  /** Per-position ratio of means; NaN where no values or the mean denominator is 0. */
  ratio(): Float64Array {
    const out = new Float64Array(this.nPos);
    for (let p = 0; p < this.nPos; p++) {
      out[p] = this.count[p]! > 0 && this.#mb[p] !== 0 ? this.#ma[p]! / this.#mb[p]! : NaN;
    }
    return out;
  }

  /** Per-position delta-method standard error of the ratio; NaN where n < 2. */
  se(): Float64Array {
    const out = new Float64Array(this.nPos);
    for (let p = 0; p < this.nPos; p++) {
      out[p] = ratioSe(this.count[p]!, this.#ma[p]!, this.#mb[p]!, this.#caa[p]!, this.#cbb[p]!, this.#cab[p]!);
    }
    return out;
  }

  /** Ratio of token-weighted means over positions `from` … `to − 1`, with its SE. */
  pooled(from = 0, to = this.nPos): { count: number; ratio: number; se: number } {
    let n = 0, ma = 0, mb = 0, caa = 0, cbb = 0, cab = 0;
    for (let p = Math.max(0, from); p < Math.min(to, this.nPos); p++) {
      const nb = this.count[p]!;
      if (nb === 0) continue;
      const tot = n + nb;
      const da = this.#ma[p]! - ma;
      const db = this.#mb[p]! - mb;
      const w = n * nb / tot;
      ma += da * nb / tot;
      mb += db * nb / tot;
      caa += this.#caa[p]! + da * da * w;
      cbb += this.#cbb[p]! + db * db * w;
      cab += this.#cab[p]! + da * db * w;
      n = tot;
    }
    return { count: n, ratio: n > 0 && mb !== 0 ? ma / mb : NaN, se: ratioSe(n, ma, mb, caa, cbb, cab) };
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
