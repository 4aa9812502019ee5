/**
 * All per-position metrics of one spliced run (one SAE at one hook) in one
 * object: feed it per-token arrays batch by batch, read per-position means and
 * standard errors, merge partial runs. The BOS policy is fixed at construction
 * and reported with every output.
 *
 * Position convention (study B §3.1): CE, ΔCE and CE-recovered entries at
 * position j are the losses of predicting token j+1 from the stream at j, so
 * they exist for j = 0 … T−2; KL and the reconstruction metrics exist for
 * j = 0 … T−1. Masks are taken from the *input* token at position j.
 *
 * @module
 */

import { assertBosPolicy, type BosPolicy, describeBosPolicy, positionMask, PositionStats } from "./per_position.ts";
import { CeRecoveredStats } from "./ratio_stats.ts";
import { ExplainedVarianceStats } from "./explained_variance.ts";
import { RowBinStats } from "./row_bins.ts";
import { deltaCE, mseVariants } from "./lm_metrics.ts";

/** Options of {@link SpliceMetrics}. */
export interface SpliceMetricsConfig {
  /** Sequence length T of the prompts (positions 0 … T−1). */
  nPos: number;
  /** Width of the hook activation (d_in of the SAE). */
  dIn: number;
  /** Which positions enter the averages. */
  bosPolicy: BosPolicy;
  /** Token id treated as BOS by `"exclude-bos-tokens"`. */
  bosId: number;
  /** Keep explained-variance sums (needs the activations `x`, O(nPos·dIn) memory). */
  explainedVariance: boolean;
  /**
   * Position-bin edges for per-prompt sums of every metric (`rowBins`), the data of
   * intervals over prompts; null = none. The last edge must be ≥ nPos.
   */
  rowBinEdges: number[] | null;
}

/**
 * Default {@link SpliceMetricsConfig}: 1024 positions, d_in 768, SAELens's
 * default policy of excluding BOS tokens, explained variance on.
 *
 * @example
 * ```ts
 * import { defaultSpliceMetricsConfig } from "./splice_metrics.ts";
 * const cfg = defaultSpliceMetricsConfig({ nPos: 256, dIn: 64 });
 * ```
 */
export function defaultSpliceMetricsConfig(overrides: Partial<SpliceMetricsConfig> = {}): SpliceMetricsConfig {
  const cfg: SpliceMetricsConfig = {
    nPos: 1024,
    dIn: 768,
    bosPolicy: "exclude-bos-tokens",
    bosId: 50256,
    explainedVariance: true,
    rowBinEdges: null,
    ...overrides,
  };
  assertBosPolicy(cfg.bosPolicy);
  return cfg;
}

/** One batch of per-token values, row-major. `batch` rows of `pos` tokens. */
export interface SpliceBatch {
  /** Input tokens [batch, pos]. */
  tokens: ArrayLike<number>;
  batch: number;
  pos: number;
  /** Clean per-token CE [batch, pos − 1]. */
  ceClean?: ArrayLike<number>;
  /** Spliced per-token CE [batch, pos − 1]. */
  ceSpliced?: ArrayLike<number>;
  /** Zero-ablated per-token CE [batch, pos − 1] (for CE recovered). */
  ceZero?: ArrayLike<number>;
  /** KL(clean ‖ spliced) [batch, pos]. */
  kl?: ArrayLike<number>;
  /** ‖x̂ − x‖² [batch, pos]. */
  sse?: ArrayLike<number>;
  /** ‖x‖² [batch, pos] (needed with `sse`). */
  normSq?: ArrayLike<number>;
  /** L0 [batch, pos]. */
  l0?: ArrayLike<number>;
  /** L1 [batch, pos]. */
  l1?: ArrayLike<number>;
  /** Clean activations [batch, pos, dIn] (for explained variance). */
  x?: ArrayLike<number>;
}

/** Names of the scalar per-position metrics. */
export const SPLICE_METRICS = [
  "ce_clean",
  "ce_spliced",
  "delta_ce",
  "ce_zero",
  "kl",
  "mse_element_mean",
  "mse_token_sum",
  "mse_normalised",
  "l0",
  "l1",
  "act_norm",
] as const;
/** One of {@link SPLICE_METRICS}. */
export type SpliceMetricName = typeof SPLICE_METRICS[number];

/**
 * Streaming accumulators for every study-B metric of one spliced run.
 *
 * @example
 * ```ts
 * import { SpliceMetrics } from "./splice_metrics.ts";
 * const m = new SpliceMetrics({ nPos: 3, dIn: 2, bosPolicy: "exclude-position-0", explainedVariance: false });
 * m.addBatch({ tokens: [50256, 4, 5], batch: 1, pos: 3, ceClean: [2, 2], ceSpliced: [2.5, 3] });
 * m.stats.delta_ce.mean(); // [NaN, 1, NaN]: position 0 excluded, position 2 has no next token
 * ```
 */
export class SpliceMetrics {
  readonly config: SpliceMetricsConfig;
  readonly stats: Record<SpliceMetricName, PositionStats>;
  readonly ceRecovered: CeRecoveredStats;
  readonly explainedVariance: ExplainedVarianceStats | null;
  /** Per-prompt, per-position-bin sums of every metric (when `rowBinEdges` is set). */
  readonly rowBins: Record<SpliceMetricName, RowBinStats> | null;
  #rowsSeen = 0;

  constructor(config: Partial<SpliceMetricsConfig> = {}) {
    this.config = defaultSpliceMetricsConfig(config);
    const n = this.config.nPos;
    this.stats = Object.fromEntries(SPLICE_METRICS.map((k) => [k, new PositionStats(k, n)])) as Record<
      SpliceMetricName,
      PositionStats
    >;
    this.ceRecovered = new CeRecoveredStats(n);
    this.explainedVariance = this.config.explainedVariance ? new ExplainedVarianceStats(n, this.config.dIn) : null;
    const edges = this.config.rowBinEdges;
    if (edges && edges.at(-1)! < n) {
      throw new RangeError(`SpliceMetrics: rowBinEdges end at ${edges.at(-1)}, below nPos ${n}`);
    }
    this.rowBins = edges
      ? Object.fromEntries(SPLICE_METRICS.map((k) => [k, new RowBinStats(k, edges)])) as Record<
        SpliceMetricName,
        RowBinStats
      >
      : null;
  }

  /** Rows (prompts) fed so far. */
  get rowsSeen(): number {
    return this.#rowsSeen;
  }

  /** Caption fragment for the BOS policy in force. */
  get bosPolicyText(): string {
    return describeBosPolicy(this.config.bosPolicy, this.config.bosId);
  }

  /** Adds one batch; any subset of the metric arrays may be given. */
  addBatch(b: SpliceBatch): void {
    const { batch, pos } = b;
    if (pos > this.config.nPos) throw new RangeError(`SpliceMetrics: pos ${pos} exceeds nPos ${this.config.nPos}`);
    const opts = { bosId: this.config.bosId };
    const maskFull = positionMask(b.tokens, batch, pos, this.config.bosPolicy, opts);
    const maskNext = positionMask(b.tokens, batch, pos, this.config.bosPolicy, { ...opts, width: pos - 1 });
    const rb = this.rowBins;
    const r0 = this.#rowsSeen;
    this.#rowsSeen += batch;
    const add = (key: SpliceMetricName, v: ArrayLike<number>, width: number, m: ArrayLike<number>) => {
      this.stats[key].addBatch(v, batch, width, m);
      rb?.[key].addBatch(v, batch, width, m, r0); // the same values, per prompt and position bin
    };
    const w = pos - 1;
    if (b.ceClean) add("ce_clean", b.ceClean, w, maskNext);
    if (b.ceSpliced) add("ce_spliced", b.ceSpliced, w, maskNext);
    if (b.ceClean && b.ceSpliced) add("delta_ce", deltaCE(b.ceClean, b.ceSpliced), w, maskNext);
    if (b.ceZero) {
      add("ce_zero", b.ceZero, w, maskNext);
      if (b.ceClean && b.ceSpliced) {
        this.ceRecovered.addBatch({ ceClean: b.ceClean, ceSpliced: b.ceSpliced, ceZero: b.ceZero }, batch, w, maskNext);
      }
    }
    if (b.kl) add("kl", b.kl, pos, maskFull);
    if (b.sse) {
      if (!b.normSq) throw new RangeError("SpliceMetrics: sse given without normSq (needed for normalised MSE)");
      const n = batch * pos;
      if (b.sse.length !== n || b.normSq.length !== n) {
        throw new RangeError(`SpliceMetrics: sse/normSq need ${n} values, got ${b.sse.length}/${b.normSq.length}`);
      }
      const mse = mseVariants(b.sse, b.normSq, this.config.dIn, { mask: maskFull, pos });
      const nrm = new Float64Array(n);
      for (let i = 0; i < n; i++) nrm[i] = Math.sqrt(b.normSq[i]!);
      add("mse_token_sum", mse.mseTokenSum, pos, maskFull);
      add("mse_element_mean", mse.mseElementMean, pos, maskFull);
      add("mse_normalised", mse.mseNormalised, pos, maskFull);
      add("act_norm", nrm, pos, maskFull);
      if (this.explainedVariance) {
        if (!b.x) throw new RangeError("SpliceMetrics: explained variance is on but the batch has no activations x");
        this.explainedVariance.addBatch(b.x, b.sse, batch, pos, maskFull);
      }
    } else if (b.normSq) {
      const nrm = new Float64Array(b.normSq.length);
      for (let i = 0; i < nrm.length; i++) nrm[i] = Math.sqrt(b.normSq[i]!);
      add("act_norm", nrm, pos, maskFull);
    }
    if (b.l0) add("l0", b.l0, pos, maskFull);
    if (b.l1) add("l1", b.l1, pos, maskFull);
  }

  /** Merges a partial run with the same configuration. */
  merge(other: SpliceMetrics): this {
    const a = this.config;
    const b = other.config;
    if (a.nPos !== b.nPos || a.dIn !== b.dIn || a.bosPolicy !== b.bosPolicy || a.bosId !== b.bosId) {
      throw new RangeError(
        `SpliceMetrics: cannot merge runs with different configs (${JSON.stringify(a)} vs ${JSON.stringify(b)})`,
      );
    }
    if (this.rowBins || other.rowBins) {
      throw new RangeError("SpliceMetrics: runs with per-prompt row bins cannot be merged (row indices would collide)");
    }
    for (const k of SPLICE_METRICS) this.stats[k].merge(other.stats[k]);
    this.ceRecovered.merge(other.ceRecovered);
    if (this.explainedVariance && other.explainedVariance) this.explainedVariance.merge(other.explainedVariance);
    return this;
  }

  /**
   * Per-position rows (position, then `<metric>_mean`, `<metric>_se`, `<metric>_n`
   * for every metric that has data, plus `ce_recovered` and `explained_variance`),
   * ready for `pl.DataFrame(rows)` or a figure's data file. NaN becomes null.
   */
  rows(): Record<string, number | null | string>[] {
    const n = this.config.nPos;
    const cols: Record<string, Float64Array> = {};
    for (const k of SPLICE_METRICS) {
      const st = this.stats[k];
      if (st.pooled().count === 0) continue;
      cols[`${k}_mean`] = st.mean();
      cols[`${k}_se`] = st.se();
      cols[`${k}_n`] = st.count;
    }
    if (this.ceRecovered.pooled().count > 0) {
      cols.ce_recovered = this.ceRecovered.ratio();
      cols.ce_recovered_se = this.ceRecovered.se();
    }
    if (this.explainedVariance && this.explainedVariance.pooled().count > 0) {
      cols.explained_variance = this.explainedVariance.explainedVariance();
    }
    const out: Record<string, number | null | string>[] = [];
    for (let p = 0; p < n; p++) {
      const row: Record<string, number | null | string> = { position: p, bos_policy: this.config.bosPolicy };
      for (const [k, v] of Object.entries(cols)) row[k] = Number.isFinite(v[p]!) ? v[p]! : null;
      out.push(row);
    }
    return out;
  }
}
