/**
 * Shared machinery of the study-A follow-up notebooks (`03`, `04`): the toy
 * models they reuse, many tiny SAEs trained from given (or random) initial
 * parameters with the fused kernel, and the per-instance / per-latent
 * classification "near a true axis / near a composed direction / dead".
 *
 * Training goes through the SAE core (`trainFusedSmall`, the study's recipe;
 * `createSae` for random initialisation; `geometricMedian` for `b_dec`) and
 * evaluation through `evaluateInstances` and `featureDensity`, so the follow-ups
 * measure exactly what notebooks `01`/`02` measure.
 *
 * Streams (all from `FollowupSaeConfig.seed`): "sae/init" (through `createSae`),
 * "sae/bdec", "sae/batches", "sae/eval".
 *
 * @example
 * ```ts
 * import { initBackend } from "../engine/backend.ts";
 * import { datasetConfig } from "./data.ts";
 * import { defaultFollowupSaeConfig, trainToySaes } from "./followup_train.ts";
 * const toy = { n_in: 4, n_hid: 2, W: new Float64Array([1, 0, -1, 0, 0, 1, 0, -1]), b: new Float64Array(4) };
 * await initBackend();
 * const run = await trainToySaes(datasetConfig("D1"), toy, [2, 2], 4, defaultFollowupSaeConfig({ steps: 200 }));
 * run.evals.map((e) => e.diag_cos); // per instance
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { Rng } from "../engine/rng.ts";
import { defaultSaeConfig, defaultSaeTrainConfig, type SaeTrainConfig } from "../sae/config.ts";
import { createSae } from "../sae/sae.ts";
import { geometricMedian } from "../sae/geometric_median.ts";
import { featureDensity } from "../sae/metrics.ts";
import { type FusedParams, fusedResultToSae, type FusedTrainResult, trainFusedSmall } from "./fused_small.ts";
import { type ComposedDataConfig, ComposedFeatureData, datasetConfig, type DatasetName } from "./data.ts";
import {
  defaultToyTrainConfig,
  hiddenActivations,
  type ToyModel,
  type ToyTrainConfig,
  trainToyModelRestarts,
} from "./model.ts";
import { type AntipodalCosines, antipodalCosines, evaluateInstances, type InstanceEval } from "./analysis.ts";

/** Recipe of one follow-up SAE run (the study's SAE recipe with a shorter schedule). */
export interface FollowupSaeConfig {
  /** Learning rate: one value, or one per instance. */
  lr: number | number[];
  /** ℓ1 coefficient: one value, or one per instance. */
  l1: number | number[];
  /** Optimiser steps. */
  steps: number;
  /** Samples per step. */
  batch_size: number;
  /** Base seed of the streams (see the module notes). */
  seed: number;
  /** Fresh samples for evaluation. */
  eval_samples: number;
  /** Web Workers (null = the default, 2 on a 2-core machine). */
  workers: number | null;
  /** Further recipe overrides (e.g. `adam_beta1`). */
  train_overrides: Partial<SaeTrainConfig>;
}

/**
 * The follow-ups' SAE recipe: the grid's centre cell (lr 3×10⁻⁴, λ 0.1), 10,000 steps of 1,024, overridden.
 *
 * @example
 * ```ts
 * import { defaultFollowupSaeConfig } from "./followup_train.ts";
 * defaultFollowupSaeConfig({ steps: 500 }).l1; // 0.1
 * ```
 */
export function defaultFollowupSaeConfig(overrides: Partial<FollowupSaeConfig> = {}): FollowupSaeConfig {
  return {
    lr: 3e-4,
    l1: 0.1,
    steps: 10_000,
    batch_size: 1024,
    seed: 0,
    eval_samples: 10_000,
    workers: null,
    train_overrides: {},
    ...overrides,
  };
}

/** What {@link trainToySaes} returns. */
export interface ToySaeRun {
  /** The fused kernel's result (final parameters, firing fractions, log). */
  result: FusedTrainResult;
  /** The b_dec every instance started from. */
  b_dec_init: number[];
  /** Per-instance evaluation against the toy model's feature axes. */
  evals: InstanceEval[];
  /** Per-latent fraction of evaluation samples on which it fired, [n_inst · d_sae]. */
  density: Float64Array;
  /** Fresh evaluation activations [eval_samples, d_in] (float32, reusable for other evaluations). */
  hEval: Float32Array;
  /** ℓ1 coefficient of each instance. */
  lambdas: number[];
}

/**
 * Random initial parameters for `n` SAEs from `createSae` (the study's init), `b_dec = 0`.
 *
 * @example
 * ```ts
 * import { randomSaeInit } from "./followup_train.ts";
 * randomSaeInit(2, 4, 3, 0).W_dec.length; // 24
 * ```
 */
export function randomSaeInit(dIn: number, dSae: number, n: number, seed: number): FusedParams {
  const sae = createSae(defaultSaeConfig({ d_in: dIn, d_sae: dSae, n_inst: n }), seed);
  const a = sae.toArrays();
  sae.dispose();
  return { W_enc: a.W_enc!.data, b_enc: a.b_enc!.data, W_dec: a.W_dec!.data, b_dec: new Float32Array(n * dIn) };
}

/**
 * Trains `n` SAEs (d_in = the toy's hidden size, d_sae = `dSae` or the number of features) on the hidden
 * activations of `toy` for data `dataCfg`, from `init` (or a random `createSae` init), with `b_dec` set to the
 * geometric median of 5,000 fresh activations unless `keepInitBDec`; then evaluates every instance on fresh data.
 *
 * @param featSets feature sets used for the axis / composed-direction evaluation
 * @param onProgress (finished steps, total steps)
 * @throws {RangeError} when `init` has the wrong size or the toy model and data disagree
 *
 * @example
 * ```ts
 * import { datasetConfig } from "./data.ts";
 * import { defaultFollowupSaeConfig, trainToySaes } from "./followup_train.ts";
 * // const run = await trainToySaes(datasetConfig("D3u"), toy, [2, 2], 16, defaultFollowupSaeConfig());
 * ```
 */
export async function trainToySaes(
  dataCfg: ComposedDataConfig,
  toy: ToyModel,
  featSets: readonly number[],
  n: number,
  cfg: FollowupSaeConfig,
  options: {
    dSae?: number;
    init?: FusedParams;
    keepInitBDec?: boolean;
    onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<ToySaeRun> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`trainToySaes: n must be an integer ≥ 1, got ${n}`);
  const data = new ComposedFeatureData(dataCfg);
  if (data.nIn !== toy.n_in) {
    throw new RangeError(`trainToySaes: the data has ${data.nIn} features, the toy model ${toy.n_in}`);
  }
  const dIn = toy.n_hid;
  const dSae = options.dSae ?? toy.n_in;
  const saeCfg = defaultSaeConfig({ d_in: dIn, d_sae: dSae, n_inst: n, model_name: "toy" });
  const lambdas = typeof cfg.l1 === "number" ? new Array<number>(n).fill(cfg.l1) : [...cfg.l1];
  const train = defaultSaeTrainConfig({
    ...cfg.train_overrides,
    lr: cfg.lr,
    l1_coefficient: lambdas,
    total_steps: cfg.steps,
    batch_size: cfg.batch_size,
    loss_instance_divisor: 5, // the study's 5-instance configurations (see GridConfig.loss_instance_divisor)
    seed: cfg.seed,
  });
  const init = options.init ?? randomSaeInit(dIn, dSae, n, cfg.seed);
  let bDec: number[];
  if (options.keepInitBDec) bDec = Array.from(init.b_dec).slice(0, dIn);
  else {
    const nInit = train.b_dec_init_samples;
    const hInit = hiddenActivations(toy, data.sample(nInit, new Rng(cfg.seed, "sae/bdec")), nInit);
    bDec = Array.from(geometricMedian(hInit, dIn).median);
  }
  const b_dec = options.keepInitBDec ? Float32Array.from(init.b_dec) : new Float32Array(n * dIn);
  if (!options.keepInitBDec) { for (let i = 0; i < n; i++) b_dec.set(bDec, i * dIn); }
  const result = await trainFusedSmall(saeCfg, train, { ...init, b_dec }, {
    kind: "toy",
    data: dataCfg,
    toy,
    seed: cfg.seed,
    stream: "sae/batches",
  }, { workers: cfg.workers ?? undefined, onProgress: options.onProgress });
  const hEval = Float32Array.from(
    hiddenActivations(toy, data.sample(cfg.eval_samples, new Rng(cfg.seed, "sae/eval")), cfg.eval_samples),
  );
  const { evals, density } = evaluateToySaes(result, toy, featSets, hEval, lambdas);
  return { result, b_dec_init: bDec, evals, density, hEval, lambdas };
}

/**
 * Evaluates trained SAEs against the feature directions of `toy` (its rows of W; pass a toy whose W rows are
 * other directions to measure alignment with those) and measures each latent's firing density on `hEval`.
 *
 * @example
 * ```ts
 * import { evaluateToySaes } from "./followup_train.ts";
 * // const { evals, density } = evaluateToySaes(run.result, toy, [2, 2], run.hEval, run.lambdas);
 * ```
 */
export function evaluateToySaes(
  result: FusedTrainResult,
  toy: ToyModel,
  featSets: readonly number[],
  hEval: Float32Array,
  lambdas: readonly number[],
): { evals: InstanceEval[]; density: Float64Array } {
  const sae = fusedResultToSae(result);
  try {
    const evals = evaluateInstances(sae, toy, featSets, hEval, lambdas);
    const d = sae.cfg.d_in;
    const x = tf.tensor3d(hEval, [1, hEval.length / d, d]);
    const acts = sae.encode(x) as tf.Tensor3D;
    const density = featureDensity(acts);
    tf.dispose([x, acts]);
    return { evals, density };
  } finally {
    sae.dispose();
  }
}

/** How an instance's dictionary lines up (threshold on the mean max |cos| of its decoder rows). */
export type DictionaryClass = "axes" | "composed" | "mixed";

/** |cos| above which a decoder row (or a whole dictionary, on average) counts as aligned (the 0.95). */
export const ALIGNED_COS = 0.95;

/**
 * "axes" when the mean |cos| of the decoder rows to their nearest true axis exceeds `threshold`, "composed"
 * when the mean |cos| to the nearest composed direction does, "mixed" otherwise.
 *
 * @example
 * ```ts
 * import { classifyInstance } from "./followup_train.ts";
 * classifyInstance({ axis_cos: 0.99, diag_cos: 0.7 }); // "axes"
 * ```
 */
export function classifyInstance(
  e: Pick<InstanceEval, "axis_cos" | "diag_cos">,
  threshold = ALIGNED_COS,
): DictionaryClass {
  if (e.axis_cos > threshold && e.axis_cos >= e.diag_cos) return "axes";
  if (e.diag_cos > threshold) return "composed";
  return "mixed";
}

/** Latent counts of one instance. */
export interface LatentCounts {
  /** Alive latents with |cos| > threshold to a true feature direction. */
  near_axis: number;
  /** Alive latents with |cos| > threshold to a composed direction (and not nearer an axis). */
  near_composed: number;
  /** Latents that never fired on the evaluation samples. */
  dead: number;
  /** Alive latents near neither. */
  other: number;
}

/**
 * Classifies every latent of instance `e` (density from {@link evaluateToySaes}, `dSae` latents per instance).
 *
 * @example
 * ```ts
 * import { latentCounts } from "./followup_train.ts";
 * const rows = [{ axisCos: 1, axisLabel: "x1", diagCos: 0.7, diagLabel: "x1+y1" }];
 * latentCounts({ index: 0, rows }, new Float64Array([0.3]), 1); // { near_axis: 1, near_composed: 0, dead: 0, other: 0 }
 * ```
 */
export function latentCounts(
  e: Pick<InstanceEval, "index" | "rows">,
  density: ArrayLike<number>,
  dSae: number,
  threshold = ALIGNED_COS,
): LatentCounts {
  const out: LatentCounts = { near_axis: 0, near_composed: 0, dead: 0, other: 0 };
  e.rows.forEach((r, j) => {
    if ((density[e.index * dSae + j] as number) === 0) out.dead++;
    else if (r.axisCos > threshold && r.axisCos >= r.diagCos) out.near_axis++;
    else if (r.diagCos > threshold) out.near_composed++;
    else out.other++;
  });
  return out;
}

/**
 * A binomial proportion with its Wilson 95% interval.
 *
 * @example
 * ```ts
 * import { wilson } from "./followup_train.ts";
 * wilson(5, 50); // { p: 0.1, lo: ≈0.043, hi: ≈0.21 }
 * ```
 */
export function wilson(k: number, n: number, z = 1.96): { p: number; lo: number; hi: number } {
  if (!(n > 0) || k < 0 || k > n) throw new RangeError(`wilson: need 0 ≤ k ≤ n, n > 0; got k=${k}, n=${n}`);
  const p = k / n;
  const d = 1 + z * z / n;
  const c = (p + z * z / (2 * n)) / d;
  const h = z * Math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d;
  return { p, lo: Math.max(0, c - h), hi: Math.min(1, c + h) };
}

/** A toy model trained for the follow-ups, with its geometry. */
export interface FollowupToy {
  /** Data set name. */
  name: string;
  /** The data it was trained on. */
  data: ComposedDataConfig;
  /** The kept toy model (lowest final loss of the restarts). */
  model: ToyModel;
  /** Seed of the kept restart. */
  seed: number;
  /** Mean training loss over its last 100 steps. */
  final_loss: number;
  /** Antipodal-cross cosines (feature sets (2, 2) only). */
  antipodal: AntipodalCosines | null;
}

/**
 * Trains `restarts` toy models on `data` (seeds `toyCfg.seed + r`) and keeps the lowest-loss one — the
 * procedure of notebooks `01`/`02`, so the same seeds give the same toy models.
 *
 * @example
 * ```ts
 * import { datasetConfig } from "./data.ts";
 * import { defaultToyTrainConfig } from "./model.ts";
 * import { trainFollowupToy } from "./followup_train.ts";
 * const t = trainFollowupToy("D1", datasetConfig("D1"), defaultToyTrainConfig({ steps: 300 }), 2);
 * t.antipodal?.x; // ≈ −1 once trained long enough
 * ```
 */
export function trainFollowupToy(
  name: string,
  data: ComposedDataConfig,
  toyCfg: ToyTrainConfig,
  restarts: number,
): FollowupToy {
  const runs = trainToyModelRestarts(new ComposedFeatureData(data), toyCfg, restarts);
  const model = runs.best.model;
  const two = data.feat_sets.length === 2 && data.feat_sets[0] === 2 && data.feat_sets[1] === 2;
  return {
    name,
    data,
    model,
    seed: runs.restarts[runs.bestIndex]!.seed,
    final_loss: runs.restarts[runs.bestIndex]!.final_loss,
    antipodal: two ? antipodalCosines(model) : null,
  };
}

/**
 * The four study data sets' toy models with the recipe of notebooks `01`/`02` (`steps` may be shortened).
 *
 * @example
 * ```ts
 * import { studyToys } from "./followup_train.ts";
 * const toys = studyToys(20240314, 4, 500); // Map D1, D2, D3u, D3c → FollowupToy
 * ```
 */
export function studyToys(
  seed: number,
  restarts: number,
  steps: number,
  names: readonly DatasetName[] = ["D1", "D2", "D3u", "D3c"],
): Map<DatasetName, FollowupToy> {
  const out = new Map<DatasetName, FollowupToy>();
  for (const name of names) {
    out.set(name, trainFollowupToy(name, datasetConfig(name), defaultToyTrainConfig({ seed, steps }), restarts));
  }
  return out;
}
