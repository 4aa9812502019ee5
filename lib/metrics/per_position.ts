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
 * | {@link RatioStats} | ratio of means `E[a]/E[b]` of paired values, delta-method SE | CE-loss recovered |
 * | {@link ExplainedVarianceStats} | `1 − E‖x − x̂‖² / (E‖x‖² − ‖E x‖²)` | explained variance (SAELens-intended formula) |
 *
 * @module
 */

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

function checkValues(name: string, values: ArrayLike<number>, batch: number, width: number, mask?: ArrayLike<number>) {
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
  readonly #mean: Float64Array;
  readonly #m2: Float64Array;

  constructor(name: string, nPos: number) {
    if (!Number.isInteger(nPos) || nPos <= 0) {
      throw new RangeError(`PositionStats(${name}): nPos must be > 0, got ${nPos}`);
    }
    this.name = name;
    this.nPos = nPos;
    this.count = new Float64Array(nPos);
    this.#mean = new Float64Array(nPos);
    this.#m2 = new Float64Array(nPos);
  }

  /** Adds one value at position `pos`. Throws on a non-finite value. */
  add(pos: number, value: number): void {
    if (!(pos >= 0 && pos < this.nPos)) throw new RangeError(`${this.name}: position ${pos} outside [0, ${this.nPos})`);
    if (!Number.isFinite(value)) throw new RangeError(`${this.name}: non-finite value ${value} at position ${pos}`);
    const n = ++this.count[pos]!;
    const delta = value - this.#mean[pos]!;
    this.#mean[pos]! += delta / n;
    this.#m2[pos]! += delta * (value - this.#mean[pos]!);
  }

  /**
   * Adds a [batch, width] row-major block whose column j is position
   * `offset + j`; entries with `mask` 0 are skipped.
   */
  addBatch(values: ArrayLike<number>, batch: number, width: number, mask?: ArrayLike<number>, offset = 0): void {
    checkValues(this.name, values, batch, width, mask);
    if (offset < 0 || offset + width > this.nPos) {
      throw new RangeError(`${this.name}: positions ${offset}…${offset + width - 1} exceed nPos ${this.nPos}`);
    }
    for (let b = 0; b < batch; b++) {
      for (let j = 0; j < width; j++) {
        const i = b * width + j;
        if (mask !== undefined && !mask[i]) continue;
        const v = values[i]!;
        if (!Number.isFinite(v)) {
          throw new RangeError(`${this.name}: non-finite value ${v} at batch row ${b}, position ${offset + j}`);
        }
        const p = offset + j;
        const n = ++this.count[p]!;
        const delta = v - this.#mean[p]!;
        this.#mean[p]! += delta / n;
        this.#m2[p]! += delta * (v - this.#mean[p]!);
      }
    }
  }

  /** Merges `other` into this accumulator (Chan's parallel formula). */
  merge(other: PositionStats): this {
    if (other.nPos !== this.nPos) {
      throw new RangeError(`${this.name}: cannot merge ${other.nPos} positions into ${this.nPos}`);
    }
    for (let p = 0; p < this.nPos; p++) {
      const nb = other.count[p]!;
      if (nb === 0) continue;
      const na = this.count[p]!;
      const n = na + nb;
      const delta = other.#mean[p]! - this.#mean[p]!;
      this.#mean[p]! += delta * nb / n;
      this.#m2[p]! += other.#m2[p]! + delta * delta * na * nb / n;
      this.count[p] = n;
    }
    return this;
  }

  /** Per-position mean; NaN where a position has no values. */
  mean(): Float64Array {
    const out = new Float64Array(this.nPos);
    for (let p = 0; p < this.nPos; p++) out[p] = this.count[p]! > 0 ? this.#mean[p]! : NaN;
    return out;
  }

  /** Per-position sum of the values. */
  sum(): Float64Array {
    const out = new Float64Array(this.nPos);
    for (let p = 0; p < this.nPos; p++) out[p] = this.#mean[p]! * this.count[p]!;
    return out;
  }

  /** Per-position sample standard deviation (n − 1); NaN where n < 2. */
  std(): Float64Array {
    const out = new Float64Array(this.nPos);
    for (let p = 0; p < this.nPos; p++) {
      const n = this.count[p]!;
      out[p] = n > 1 ? Math.sqrt(Math.max(0, this.#m2[p]!) / (n - 1)) : NaN;
    }
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
    let n = 0;
    let mean = 0;
    let m2 = 0;
    for (let p = Math.max(0, from); p < Math.min(to, this.nPos); p++) {
      const nb = this.count[p]!;
      if (nb === 0) continue;
      const tot = n + nb;
      const delta = this.#mean[p]! - mean;
      mean += delta * nb / tot;
      m2 += this.#m2[p]! + delta * delta * n * nb / tot;
      n = tot;
    }
    const std = n > 1 ? Math.sqrt(Math.max(0, m2) / (n - 1)) : NaN;
    return { count: n, mean: n > 0 ? mean : NaN, std, se: std / Math.sqrt(n) };
  }
}

/**
 * Ratio of per-position means `E[a] / E[b]` of paired per-token values, with a
 * delta-method standard error that uses the pairing:
 * `Var(r) ≈ (s²_a − 2 r s_ab + r² s²_b) / (n · E[b]²)`.
 *
 * @example
 * ```ts
 * import { RatioStats } from "./per_position.ts";
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
 * import { CeRecoveredStats } from "./per_position.ts";
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

/**
 * Explained variance per position with the SAELens-intended formula (PR #443,
 * fixed in #665): `1 − E‖x − x̂‖² / (E‖x‖² − ‖E x‖²)`, numerator and
 * denominator averaged separately over the prompts at that position.
 *
 * @example
 * ```ts
 * import { ExplainedVarianceStats } from "./per_position.ts";
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
