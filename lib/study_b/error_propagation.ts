/**
 * F3, SAE downstream error propagation (study B §4 F3, reconstruction): splice
 * the SAE of a source layer s at its hook and follow the error downstream. For
 * every later SAE hook d (label > s), per position j:
 *
 * - **relative deviation** `‖x_d^spliced − x_d^clean‖² / ‖x_d^clean‖²`;
 * - **downstream SAE error on its own input**: `‖SAE_d(x_d^spliced) − x_d^spliced‖²`,
 *   compared with the same on the clean stream, `‖SAE_d(x_d^clean) − x_d^clean‖²`
 *   (their ratio of means isolates compounding: the later SAE reconstructs the
 *   perturbed stream worse or better than the clean one);
 * - **downstream SAE error against the clean stream**: `‖SAE_d(x_d^spliced) − x_d^clean‖²`;
 * - **L0** of SAE_d on the spliced and on the clean stream.
 *
 * All SAEs are held in memory (each target needs its SAE); ~2 GB for the 13
 * gpt2-small-res-jb SAEs.
 *
 * @example
 * ```ts
 * import { runErrorPropagation } from "./error_propagation.ts";
 * // const prop = await runErrorPropagation(setup, rows.rows, { batchRows: 2 });
 * // prop.pairs.find((p) => p.source === 0 && p.target === 3)!.relDev.pooled(1, setup.saeContext).mean;
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { type BosPolicy, positionMask, PositionStats } from "../metrics/per_position.ts";
import { RowBinStats } from "../metrics/row_bins.ts";
import { mseVariants } from "../metrics/lm_metrics.ts";
import { progress } from "../progress.ts";
import type { Sae } from "../sae/sae.ts";
import { autoBatchRows, takeHost } from "./batch_metrics.ts";
import { studyBinEdges } from "./context_sweep.ts";
import { saeApply, saeSplice } from "../splice/splice.ts";
import { rowBatches, splicedPasses } from "../splice/spliced_loss.ts";
import { loadStudySae, type StudySetup } from "./setup.ts";

/** Options of {@link runErrorPropagation}. */
export interface ErrorPropagationConfig {
  /** Rows per forward pass; 0 = automatic (logits bound `maxLogitElements`). */
  batchRows: number;
  maxLogitElements: number;
  bosPolicy: BosPolicy;
  /** Source layer labels; null = every SAE but the last. */
  sources: number[] | null;
  progress: boolean;
}

/**
 * Default {@link ErrorPropagationConfig}: automatic batch, position 0 excluded, every source.
 *
 * @example
 * ```ts
 * import { defaultErrorPropagationConfig } from "./error_propagation.ts";
 * defaultErrorPropagationConfig({ sources: [0, 2] }).bosPolicy; // "exclude-position-0"
 * ```
 */
export function defaultErrorPropagationConfig(
  overrides: Partial<ErrorPropagationConfig> = {},
): ErrorPropagationConfig {
  return {
    batchRows: 0,
    maxLogitElements: 16 * 2 ** 20,
    bosPolicy: "exclude-position-0",
    sources: null,
    progress: true,
    ...overrides,
  };
}

/** Per-position statistics of one (source, target) pair. */
export interface PropagationPair {
  source: number;
  target: number;
  targetHook: string;
  /** ‖x_d^spliced − x_d^clean‖² / ‖x_d^clean‖². */
  relDev: PositionStats;
  /** ‖SAE_d(x_d^spliced) − x_d^spliced‖². */
  sseSpliced: PositionStats;
  /** ‖SAE_d(x_d^spliced) − x_d^clean‖². */
  sseVsClean: PositionStats;
  /** L0 of SAE_d on the spliced stream. */
  l0Spliced: PositionStats;
  /** Per-prompt position bins of relDev, sseSpliced and sseVsClean (intervals over prompts). */
  rows: { relDev: RowBinStats; sseSpliced: RowBinStats; sseVsClean: RowBinStats };
}

/** Per-position statistics of one target SAE on the clean stream. */
export interface CleanTarget {
  target: number;
  hook: string;
  /** ‖SAE_d(x_d^clean) − x_d^clean‖². */
  sse: PositionStats;
  l0: PositionStats;
  /** Per-prompt position bins of the clean SSE and of the normalised error SSE / ‖x‖². */
  rows: { sse: RowBinStats; nmse: RowBinStats };
}

/** Output of {@link runErrorPropagation}. */
export interface ErrorPropagationResult {
  config: ErrorPropagationConfig;
  sources: number[];
  /** Every SAE label (targets are those above a source). */
  labels: number[];
  pairs: PropagationPair[];
  clean: CleanTarget[];
  nRows: number;
  T: number;
  saeContext: number;
  modelContext: number;
  seconds: number;
}

async function sseAndL0(
  sae: Sae,
  input: tf.Tensor3D,
  reference: tf.Tensor3D,
): Promise<{ sse: Float32Array; l0: Float32Array }> {
  const { recon, acts } = saeApply(sae, input);
  const [sse, l0] = tf.tidy(() => [
    tf.sum(tf.square(tf.sub(recon, reference)), -1), // [batch, pos]
    tf.sum(tf.cast(tf.greater(acts!, 0), "float32"), -1), // [batch, pos]
  ]);
  recon.dispose();
  acts!.dispose();
  return { sse: await takeHost(sse!), l0: await takeHost(l0!) };
}

/**
 * Runs F3 over `rows` (model ids of equal length; see the module documentation).
 */
export async function runErrorPropagation(
  setup: StudySetup,
  rows: readonly Int32Array[],
  config: Partial<ErrorPropagationConfig> = {},
): Promise<ErrorPropagationResult> {
  const cfg = defaultErrorPropagationConfig(config);
  if (rows.length === 0) throw new RangeError("runErrorPropagation: no rows");
  const T = rows[0]!.length;
  const labels = setup.saes.map((s) => s.label);
  const sources = cfg.sources ?? labels.slice(0, -1);
  for (const s of sources) {
    if (!labels.includes(s)) throw new RangeError(`source layer ${s} has no SAE; available: ${labels.join(", ")}`);
    if (s === labels[labels.length - 1]) throw new RangeError(`source layer ${s} is the last SAE: nothing downstream`);
  }
  const saes = new Map<number, Sae>();
  const t0 = performance.now();
  try {
    for (const e of setup.saes) saes.set(e.label, await loadStudySae(e));
    const hookOf = new Map(setup.saes.map((e) => [e.label, e.hook]));
    const edges = studyBinEdges(T, setup.saeContext);
    const pairs: PropagationPair[] = [];
    for (const s of sources) {
      for (const d of labels.filter((l) => l > s)) {
        const stat = (n: string) => new PositionStats(`${n} ${s}→${d}`, T);
        const bins = (n: string) => new RowBinStats(`${n} ${s}→${d}`, edges);
        pairs.push({
          source: s,
          target: d,
          targetHook: hookOf.get(d)!,
          relDev: stat("relative deviation"),
          sseSpliced: stat("SSE spliced"),
          sseVsClean: stat("SSE vs clean"),
          l0Spliced: stat("L0 spliced"),
          rows: {
            relDev: bins("relative deviation"),
            sseSpliced: bins("SSE spliced"),
            sseVsClean: bins("SSE vs clean"),
          },
        });
      }
    }
    const clean: CleanTarget[] = labels.map((d) => ({
      target: d,
      hook: hookOf.get(d)!,
      sse: new PositionStats(`SSE clean ${d}`, T),
      l0: new PositionStats(`L0 clean ${d}`, T),
      rows: { sse: new RowBinStats(`SSE clean ${d}`, edges), nmse: new RowBinStats(`NMSE clean ${d}`, edges) },
    }));
    const batchRows = cfg.batchRows > 0
      ? cfg.batchRows
      : autoBatchRows(T, setup.model.cfg.d_vocab, cfg.maxLogitElements, rows.length);
    const bar = cfg.progress ? progress({ total: rows.length, label: "error propagation" }) : null;
    const allHooks = labels.map((l) => hookOf.get(l)!);
    // one SAE splice per source; each spliced pass starts at the source hook and caches the targets' hooks
    const splices = sources.map((s) => saeSplice(`L${s}`, saes.get(s)!));
    const targetsOf = (i: number) => pairs.filter((p) => p.source === sources[i]);
    for (const { r0, B, host, tokens } of rowBatches(rows, batchRows)) {
      const mask = positionMask(host, B, T, cfg.bosPolicy, { bosId: setup.bosId });
      let cleanCache = new Map<string, tf.Tensor3D>();
      const passes = splicedPasses(setup.model, tokens, splices, {
        cleanCache: allHooks,
        cleanLogits: false,
        splicedCache: (sp) => targetsOf(splices.indexOf(sp)).map((p) => p.targetHook),
        splicedLogits: false,
      });
      for (const pass of passes) {
        if (pass.kind === "clean") {
          cleanCache = pass.cache;
          for (const c of clean) {
            const x = cleanCache.get(c.hook)!;
            const { sse, l0 } = await sseAndL0(saes.get(c.target)!, x, x);
            c.sse.addBatch(sse, B, T, mask);
            c.l0.addBatch(l0, B, T, mask);
            const normSq = await takeHost(tf.tidy(() => tf.sum(tf.square(x), -1))); // [batch, pos]
            c.rows.sse.addBatch(sse, B, T, mask, r0);
            // normalised error SSE / ‖x‖², rounded to float32 as this figure's data always was
            const nmse = Float32Array.from(mseVariants(sse, normSq, x.shape[2], { mask, pos: T }).mseNormalised);
            c.rows.nmse.addBatch(nmse, B, T, mask, r0);
          }
          continue;
        }
        for (const p of targetsOf(pass.index)) {
          const xs = pass.cache.get(p.targetHook)!; // [batch, pos, d_model]
          const xc = cleanCache.get(p.targetHook)!; // [batch, pos, d_model]
          const rel = tf.tidy(() => tf.div(tf.sum(tf.square(tf.sub(xs, xc)), -1), tf.sum(tf.square(xc), -1)));
          const relHost = await takeHost(rel);
          p.relDev.addBatch(relHost, B, T, mask);
          const own = await sseAndL0(saes.get(p.target)!, xs, xs);
          p.sseSpliced.addBatch(own.sse, B, T, mask);
          p.l0Spliced.addBatch(own.l0, B, T, mask);
          const vsClean = (await sseAndL0(saes.get(p.target)!, xs, xc)).sse;
          p.sseVsClean.addBatch(vsClean, B, T, mask);
          p.rows.relDev.addBatch(relHost, B, T, mask, r0);
          p.rows.sseSpliced.addBatch(own.sse, B, T, mask, r0);
          p.rows.sseVsClean.addBatch(vsClean, B, T, mask, r0);
        }
      }
      bar?.tick(B);
    }
    await bar?.done();
    return {
      config: cfg,
      sources,
      labels,
      pairs,
      clean,
      nRows: rows.length,
      T,
      saeContext: setup.saeContext,
      modelContext: setup.modelContext,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    for (const s of saes.values()) s.dispose();
  }
}

/** Pooled summaries of one pair over a window of positions [from, to). */
export interface PropagationSummary {
  source: number;
  target: number;
  /** Mean relative deviation of the target activation. */
  relDev: number;
  relDevSe: number;
  /** mean SSE of SAE_d on the spliced stream / mean SSE on the clean stream. */
  sseRatio: number;
  /** mean ‖SAE_d(x^spliced) − x^clean‖² / mean SSE on the clean stream. */
  sseVsCleanRatio: number;
  /** mean L0 on the spliced stream / mean L0 on the clean stream. */
  l0Ratio: number;
}

/**
 * Window summaries of every pair (e.g. positions 1 … ctx−1 and ctx … T−1).
 *
 * @example
 * ```ts
 * import { summarisePropagation } from "./error_propagation.ts";
 * // const inside = summarisePropagation(prop, 1, prop.saeContext);
 * ```
 */
export function summarisePropagation(res: ErrorPropagationResult, from: number, to: number): PropagationSummary[] {
  return res.pairs.map((p) => {
    const c = res.clean.find((x) => x.target === p.target)!;
    const sseC = c.sse.pooled(from, to).mean;
    const rd = p.relDev.pooled(from, to);
    return {
      source: p.source,
      target: p.target,
      relDev: rd.mean,
      relDevSe: rd.se,
      sseRatio: p.sseSpliced.pooled(from, to).mean / sseC,
      sseVsCleanRatio: p.sseVsClean.pooled(from, to).mean / sseC,
      l0Ratio: p.l0Spliced.pooled(from, to).mean / c.l0.pooled(from, to).mean,
    };
  });
}
