/**
 * F1/F2 (and the follow-ups' runs): the clean model and spliced models over N
 * prompts of T tokens, every per-position metric of study B §3 accumulated in
 * float64 for every splice at once.
 *
 * Per batch of rows: one clean forward pass caching every hook that a splice
 * reads; per hook (optionally) one zero-ablated pass; per splice one pass with
 * the activation at its hook replaced by the splice's reconstruction at every
 * position (BOS too, as the study did). The clean logits and activations are
 * reused by every splice of the batch, and the reconstruction computed for the
 * reconstruction metrics is the one spliced in (the activation at the hook of
 * the spliced run equals the clean one, since everything before it is
 * unchanged). Memory: only one batch's logits live at a time, KL is computed in
 * position chunks, and SAEs are loaded in groups that fit a byte budget (one
 * pass over the data per group; a res-jb SAE is ~151 MB).
 *
 * Metrics per splice (`SpliceMetrics` of lib/metrics): CE clean/spliced, ΔCE =
 * CE_spliced − CE_clean, KL(clean ‖ spliced), zero-ablated CE and CE recovered,
 * MSE (element mean, token sum, normalised by ‖x‖²), explained variance, L0, L1,
 * ‖x‖; optionally ΔCE against targets sampled from the clean model (whose mean
 * estimates KL, study B §3.4).
 *
 * @example
 * ```ts
 * import { defaultContextSweepConfig, runContextSweep } from "./context_sweep.ts";
 * // const result = await runContextSweep(setup, rows, defaultContextSweepConfig({ zeroAblationRows: Infinity }));
 * // result.layers[0].metrics.stats.delta_ce.mean(); // per-position ΔCE of the first SAE
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { Rng } from "../engine/rng.ts";
import type { LanguageModel } from "../lm/language_model.ts";
import { featureSparsity, logProbs, reconstructionTerms } from "../metrics/lm_metrics.ts";
import { type BosPolicy, describeBosPolicy, positionMask, PositionStats } from "../metrics/per_position.ts";
import { SpliceMetrics } from "../metrics/splice_metrics.ts";
import { positionBinEdges, RowBinStats } from "../metrics/row_bins.ts";
import { progress } from "../progress.ts";
import type { Sae } from "../sae/sae.ts";
import { saeSplice, type Splice, zeroSplice } from "../splice/splice.ts";
import { rowBatches, splicedPasses } from "../splice/spliced_loss.ts";
import { autoBatchRows, klChunked, sampleTargetBlock, takeHost, targetLogProbs } from "./batch_metrics.ts";
import { groupByBytes, loadStudySae, type StudySae, type StudySetup } from "./setup.ts";

/** Options of the sweeps. */
export interface ContextSweepConfig {
  /** Rows per forward pass; 0 = as many as fit `maxLogitElements`. */
  batchRows: number;
  /** Bound on one `[rows, T, d_vocab]` logits tensor (floats) when `batchRows` is 0. */
  maxLogitElements: number;
  /** Bound on the logits of one KL chunk (floats). */
  klChunkElements: number;
  /** Which positions enter the averages (the splice itself covers every position). */
  bosPolicy: BosPolicy;
  /**
   * Run the zero-ablation baseline at every hook (CE-loss recovered) on the first
   * this many rows, rounded up to whole batches (0 = never; `Infinity` = all rows); CE recovered then
   * averages over those rows only.
   */
  zeroAblationRows: number;
  /** Keep explained-variance sums. */
  explainedVariance: boolean;
  /** Also accumulate ΔCE against next tokens sampled from the clean model (its mean estimates KL). */
  sampledTargets: boolean;
  /** Seed of the sampled targets. */
  seed: number;
  /** SAE weights kept in memory at once (bytes); SAEs beyond it are run in further passes. */
  maxResidentSaeBytes: number;
  /** SAE layer labels to run; null = all. */
  layers: number[] | null;
  /** Show a progress bar. */
  progress: boolean;
  /**
   * Position-bin edges of the per-prompt sums (intervals over prompts); null = the study
   * default {@link studyBinEdges} where the SAE context is known (runContextSweep), none otherwise.
   */
  rowBinEdges: number[] | null;
}

/**
 * The study's position bins: width ctx/8 (16 for a 128-token SAE context), with
 * the SAE context as an edge, up to T.
 *
 * @example
 * ```ts
 * import { studyBinEdges } from "./context_sweep.ts";
 * studyBinEdges(48, 16).length; // 25
 * ```
 */
export function studyBinEdges(T: number, ctx: number): number[] {
  return positionBinEdges(T, ctx, Math.max(1, Math.round(ctx / 8)));
}

/**
 * Default {@link ContextSweepConfig}: automatic batch (≤ 16 M logits), KL chunks of
 * ≤ 16 M logits, position 0 excluded from averages, no zero ablation, explained
 * variance on, no sampled targets, seed 0, 1 GiB of resident SAEs, all layers.
 *
 * @example
 * ```ts
 * import { defaultContextSweepConfig } from "./context_sweep.ts";
 * defaultContextSweepConfig({ zeroAblationRows: 16 }).bosPolicy; // "exclude-position-0"
 * ```
 */
export function defaultContextSweepConfig(overrides: Partial<ContextSweepConfig> = {}): ContextSweepConfig {
  return {
    batchRows: 0,
    maxLogitElements: 16 * 2 ** 20,
    klChunkElements: 16 * 2 ** 20,
    bosPolicy: "exclude-position-0",
    zeroAblationRows: 0,
    explainedVariance: true,
    sampledTargets: false,
    seed: 0,
    maxResidentSaeBytes: 2 ** 30,
    layers: null,
    progress: true,
    rowBinEdges: null,
    ...overrides,
  };
}

/** Accumulated metrics of one splice. */
export interface SpliceResult {
  key: string;
  hook: string;
  metrics: SpliceMetrics;
  /** ΔCE against clean-model-sampled targets (`sampledTargets`), positions 0 … T−2, else null. */
  sampledDeltaCe: PositionStats | null;
  /** Its per-prompt bins (with `sampledTargets` and `rowBinEdges`), else null. */
  sampledRowBins: RowBinStats | null;
}

/** Output of {@link runSpliceSweep}. */
export interface SweepOutput {
  /** Clean per-position CE, positions 0 … T−2 (BOS policy applied). */
  clean: PositionStats;
  splices: SpliceResult[];
  rows: number;
  T: number;
  batchRows: number;
  seconds: number;
}

/**
 * Runs the clean model and every splice of `specs` over `rows` (model ids, equal
 * lengths), accumulating per-position metrics (see the module documentation).
 * `label` names the progress bar; `bosId` is the model's BOS id (for the policy).
 */
export async function runSpliceSweep(
  model: LanguageModel,
  rows: readonly Int32Array[],
  specs: readonly Splice[],
  config: Partial<ContextSweepConfig> & { bosId: number },
  label = "splice sweep",
): Promise<SweepOutput> {
  const cfg = defaultContextSweepConfig(config);
  if (rows.length === 0) throw new RangeError("runSpliceSweep: no rows");
  const T = rows[0]!.length;
  rows.forEach((r, i) => {
    if (r.length !== T) throw new RangeError(`runSpliceSweep: row ${i} has ${r.length} tokens, row 0 has ${T}`);
  });
  const keys = new Set<string>();
  for (const s of specs) {
    if (keys.has(s.key)) throw new RangeError(`runSpliceSweep: duplicate splice key "${s.key}"`);
    keys.add(s.key);
  }
  const hooks = [...new Set(specs.map((s) => s.hook))];
  const V = model.cfg.d_vocab;
  const d = model.cfg.d_model;
  const batchRows = cfg.batchRows > 0 ? cfg.batchRows : autoBatchRows(T, V, cfg.maxLogitElements, rows.length);
  const clean = new PositionStats("ce_clean", T);
  const out: SpliceResult[] = specs.map((s) => ({
    key: s.key,
    hook: s.hook,
    metrics: new SpliceMetrics({
      nPos: T,
      dIn: d,
      bosPolicy: cfg.bosPolicy,
      bosId: config.bosId,
      explainedVariance: cfg.explainedVariance,
      rowBinEdges: cfg.rowBinEdges,
    }),
    sampledDeltaCe: cfg.sampledTargets ? new PositionStats("delta_ce_model_sampled", T) : null,
    sampledRowBins: cfg.sampledTargets && cfg.rowBinEdges
      ? new RowBinStats("delta_ce_model_sampled", cfg.rowBinEdges)
      : null,
  }));
  const rng = new Rng(cfg.seed, "study_b/sampled_targets");
  const nBatches = Math.ceil(rows.length / batchRows);
  const bar = cfg.progress ? progress({ total: nBatches * rows[0]!.length * batchRows, label }) : null;
  const t0 = performance.now();
  for (const { r0, B, host, tokens } of rowBatches(rows, batchRows)) {
    const maskNext = positionMask(host, B, T, cfg.bosPolicy, { width: T - 1, bosId: config.bosId });
    // the zero-ablated runs (one per hook) go first, so that their CE is there for every splice at the hook
    const zeros = r0 < cfg.zeroAblationRows ? hooks.map((h) => zeroSplice(`zero ${h}`, h)) : [];
    const ceZero = new Map<string, Float32Array>();
    let ceClean: Float32Array | null = null;
    let logPClean: tf.Tensor3D | null = null;
    let targetBlock: tf.Tensor2D | null = null;
    let lpCleanSampled: Float32Array | null = null;
    try {
      for (const pass of splicedPasses(model, tokens, [...zeros, ...specs])) {
        if (pass.kind === "clean") {
          const logits = pass.logits!; // [batch, pos, d_vocab]
          logPClean = logProbs(logits); // shared by every splice's KL
          ceClean = await takeHost(model.lossPerToken(logits, tokens));
          clean.addBatch(ceClean, B, T - 1, maskNext);
          if (cfg.sampledTargets) {
            targetBlock = await sampleTargetBlock(logits, rng);
            lpCleanSampled = await targetLogProbs(logits, targetBlock);
          }
          continue;
        }
        const spliced = pass.logits!; // [batch, pos, d_vocab]
        if (pass.index < zeros.length) {
          ceZero.set(pass.splice.hook, await takeHost(model.lossPerToken(spliced, tokens)));
          continue;
        }
        const res = out[pass.index - zeros.length]!;
        const { x, recon, acts } = pass; // x: [batch, pos, d_model], the clean activation at the hook
        const terms = reconstructionTerms(x, recon);
        const sse = await takeHost(terms.sse);
        const normSq = await takeHost(terms.normSq);
        terms.norm.dispose();
        let l0: Float32Array | undefined;
        let l1: Float32Array | undefined;
        if (acts) {
          const sp = featureSparsity(acts);
          l0 = await takeHost(sp.l0);
          l1 = await takeHost(sp.l1);
        }
        const ceSpliced = await takeHost(model.lossPerToken(spliced, tokens));
        const kl = await klChunked(logPClean!, spliced, cfg.klChunkElements, { cleanIsLogProbs: true });
        if (targetBlock && lpCleanSampled && res.sampledDeltaCe) {
          const lq = await targetLogProbs(spliced, targetBlock);
          const dce = new Float64Array(lq.length);
          for (let i = 0; i < dce.length; i++) dce[i] = lpCleanSampled[i]! - lq[i]!;
          res.sampledDeltaCe.addBatch(dce, B, T - 1, maskNext);
          res.sampledRowBins?.addBatch(dce, B, T - 1, maskNext, r0);
        }
        res.metrics.addBatch({
          tokens: host,
          batch: B,
          pos: T,
          ceClean: ceClean!,
          ceSpliced,
          ceZero: ceZero.get(pass.splice.hook),
          kl,
          sse,
          normSq,
          l0,
          l1,
          x: cfg.explainedVariance ? (await x.data()) as Float32Array : undefined, // async: WebGPU has no dataSync
        });
      }
    } finally {
      logPClean?.dispose();
      targetBlock?.dispose();
    }
    bar?.tick(B * T, { rows: Math.min(rows.length, r0 + B) });
  }
  await bar?.done();
  return { clean, splices: out, rows: rows.length, T, batchRows, seconds: (performance.now() - t0) / 1000 };
}

/** One SAE layer's results in a {@link ContextSweepResult}. */
export interface LayerSweep {
  /** Layer label (L of `blocks.{L}.hook_resid_pre`; n_layer for the final `hook_resid_post`). */
  label: number;
  hook: string;
  metrics: SpliceMetrics;
  sampledDeltaCe: PositionStats | null;
  sampledRowBins?: RowBinStats | null;
}

/** Everything F1/F2 need: per-layer metrics plus the run's facts for captions. */
export interface ContextSweepResult {
  config: ContextSweepConfig;
  layers: LayerSweep[];
  /** Clean CE per position (positions 0 … T−2). */
  clean: PositionStats;
  nRows: number;
  T: number;
  saeContext: number;
  modelContext: number;
  bosPolicy: BosPolicy;
  /** Caption fragment for the BOS policy. */
  bosPolicyText: string;
  seconds: number;
  batchRows: number;
}

/**
 * The F1/F2 sweep: every SAE of `setup` (or `config.layers`) spliced in turn over
 * `rows`, SAEs loaded in groups of at most `maxResidentSaeBytes`.
 */
export async function runContextSweep(
  setup: StudySetup,
  rows: readonly Int32Array[],
  config: Partial<ContextSweepConfig> = {},
): Promise<ContextSweepResult> {
  const cfg = defaultContextSweepConfig(config);
  if (cfg.rowBinEdges === null && rows.length > 0) cfg.rowBinEdges = studyBinEdges(rows[0]!.length, setup.saeContext);
  const entries = selectLayers(setup.saes, cfg.layers);
  const layers: LayerSweep[] = [];
  let clean: PositionStats | null = null;
  let seconds = 0;
  let batchRows = 0;
  const groups = groupByBytes(entries, cfg.maxResidentSaeBytes);
  for (const [g, group] of groups.entries()) {
    const saes: Sae[] = [];
    try {
      for (const e of group) saes.push(await loadStudySae(e));
      const specs = group.map((e, i) => saeSplice(`L${e.label}`, saes[i]!));
      const label = `layers ${group.map((e) => e.label).join(",")}` + (groups.length > 1 ? ` (pass ${g + 1})` : "");
      const out = await runSpliceSweep(setup.model, rows, specs, { ...cfg, bosId: setup.bosId }, label);
      clean ??= out.clean;
      seconds += out.seconds;
      batchRows = out.batchRows;
      out.splices.forEach((s, i) =>
        layers.push({
          label: group[i]!.label,
          hook: s.hook,
          metrics: s.metrics,
          sampledDeltaCe: s.sampledDeltaCe,
          sampledRowBins: s.sampledRowBins,
        })
      );
    } finally {
      for (const s of saes) s.dispose();
    }
  }
  return {
    config: cfg,
    layers,
    clean: clean!,
    nRows: rows.length,
    T: rows[0]!.length,
    saeContext: setup.saeContext,
    modelContext: setup.modelContext,
    bosPolicy: cfg.bosPolicy,
    bosPolicyText: describeBosPolicy(cfg.bosPolicy, setup.bosId),
    seconds,
    batchRows,
  };
}

/** The SAEs whose labels are in `layers` (all when null); throws naming an unknown label. */
export function selectLayers(saes: readonly StudySae[], layers: readonly number[] | null): StudySae[] {
  if (layers === null) return [...saes];
  return layers.map((l) => {
    const e = saes.find((s) => s.label === l);
    if (!e) throw new RangeError(`no SAE with layer label ${l}; available: ${saes.map((s) => s.label).join(", ")}`);
    return e;
  });
}
