/**
 * Notebook `04`, question 6: do other SAE architectures (TopK, BatchTopK,
 * JumpReLU — the core's `architectures.ts`, shared with the ReLU SAE) escape the
 * composed solution? Every architecture is trained with the core trainer
 * (`trainSae`, tfjs) on all four study data sets at once: one SAE whose
 * instances are (data set × seed), each instance fed its own data set's hidden
 * activations (`[n_inst, batch, d_in]` batches). The ReLU SAE runs through the
 * same trainer as the reference. Figures `toy_architectures_outcomes` and
 * `toy_architectures_dictionaries`.
 *
 * @example
 * ```ts
 * import { archStudyConfig } from "./arch_study.ts";
 * archStudyConfig(true).variants.map((v) => v.label);
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { Rng } from "../engine/rng.ts";
import { barTrace, figure, gridLayout, mergeLayout, save } from "../plot/mod.ts";
import type { Annotation, Figure, Trace } from "../plot/mod.ts";
import {
  defaultSaeConfig,
  defaultSaeTrainConfig,
  type SaeArchitecture,
  type SaeConfig,
  type SaeTrainConfig,
} from "../sae/config.ts";
import { createSae, type Sae, saeFromArrays } from "../sae/sae.ts";
import { disposeTrainState, trainSae } from "../sae/train.ts";
import { ComposedFeatureData, datasetConfig, type DatasetName } from "./data.ts";
import { hiddenActivations } from "./model.ts";
import { evaluateInstances, type InstanceEval, rotationFor } from "./analysis.ts";
import { decoderArrows, toyArrows } from "./figures.ts";
import { classifyInstance, type DictionaryClass, type FollowupToy } from "./followup_train.ts";
import { expectedL0, topk1Mse } from "./predictions.ts";

/** One architecture setting. */
export interface ArchVariant {
  /** Short label, e.g. "TopK k=1". */
  label: string;
  architecture: SaeArchitecture;
  /** k of TopK / BatchTopK (ignored otherwise). */
  k: number;
  /** ℓ1 coefficient (standard) or L0 coefficient (JumpReLU); ignored by the TopK family. */
  sparsity: number;
  /** Recipe overrides (ghost grads vs auxiliary-k loss). */
  overrides: Partial<SaeTrainConfig>;
  /** Training steps of this variant (default: the study config's `steps`). */
  steps?: number;
}

/** Everything question 6 runs with. */
export interface ArchStudyConfig {
  quick: boolean;
  seed: number;
  datasets: DatasetName[];
  /** Instances per (architecture, data set). */
  instances: number;
  steps: number;
  batch_size: number;
  lr: number;
  /** JumpReLU initial threshold and kernel bandwidth (toy activations are O(0.1–1)). */
  jumprelu: { init_threshold: number; bandwidth: number };
  variants: ArchVariant[];
  eval_samples: number;
}

/**
 * The full or QUICK configuration of question 6 (tfjs trainer: 2,000 steps of 512 in full, 300 of 256 in QUICK).
 *
 * @example
 * ```ts
 * import { archStudyConfig } from "./arch_study.ts";
 * archStudyConfig(false).steps; // 2000
 * ```
 */
export function archStudyConfig(quick: boolean, seed = 20240314): ArchStudyConfig {
  const topk: Partial<SaeTrainConfig> = { use_ghost_grads: false, aux_k_coefficient: 1 / 32 };
  return {
    quick,
    seed,
    datasets: ["D1", "D2", "D3u", "D3c"],
    instances: quick ? 3 : 5,
    steps: quick ? 300 : 2_000,
    batch_size: quick ? 256 : 512,
    lr: 3e-3,
    jumprelu: { init_threshold: 0.05, bandwidth: 0.05 },
    variants: [
      { label: "ReLU (ℓ1)", architecture: "standard", k: 1, sparsity: 0.1, overrides: {} },
      // the same ReLU SAE trained 8× longer: the reference that shows what the ReLU recipe reaches when trained
      {
        label: "ReLU (ℓ1), 8× steps",
        architecture: "standard",
        k: 1,
        sparsity: 0.1,
        overrides: {},
        steps: quick ? 1_200 : 16_000,
      },
      { label: "TopK k=1", architecture: "topk", k: 1, sparsity: 0, overrides: topk },
      { label: "TopK k=2", architecture: "topk", k: 2, sparsity: 0, overrides: topk },
      { label: "BatchTopK k=1", architecture: "batchtopk", k: 1, sparsity: 0, overrides: topk },
      { label: "JumpReLU (L0)", architecture: "jumprelu", k: 1, sparsity: 0.1, overrides: { use_ghost_grads: false } },
    ],
    eval_samples: quick ? 4_000 : 10_000,
  };
}

/** One trained instance of question 6. */
export interface ArchInstance {
  variant: string;
  dataset: DatasetName;
  final_class: DictionaryClass;
  axis_cos: number;
  diag_cos: number;
  normalized_mse: number;
  /** Σ error / Σ‖h‖² on the evaluation samples. */
  mse_ratio: number;
  /** Worse than outputting zero. */
  broken: boolean;
  l0: number;
  /** Largest number of active latents on any evaluation sample. */
  max_active: number;
  /** Fraction of evaluation samples with exactly k active latents (TopK family). */
  exactly_k: number;
  W_dec: number[];
}

/** Question 6's result for one architecture. */
export interface ArchRun {
  variant: ArchVariant;
  instances: ArchInstance[];
  ms: number;
}

/**
 * Trains one architecture on all data sets (one SAE, instances = data set × seed) and evaluates each instance
 * against its own data set's toy model.
 *
 * @example
 * ```ts
 * import { runArchitecture } from "./arch_study.ts";
 * // const run = await runArchitecture(cfg.variants[1]!, toys, cfg);
 * ```
 */
export async function runArchitecture(
  variant: ArchVariant,
  toys: Map<DatasetName, FollowupToy>,
  cfg: ArchStudyConfig,
  onProgress?: (done: number, total: number) => void,
): Promise<ArchRun> {
  const n = cfg.datasets.length * cfg.instances, B = cfg.batch_size;
  const steps = variant.steps ?? cfg.steps;
  const sources = archSources(toys, cfg);
  const { saeCfg, train } = archConfigs(variant, cfg, n, steps);
  const batchOf = (count: number, rngFor: (q: number) => Rng) => {
    const buf = new Float32Array(n * count * 2);
    sources.forEach((s, q) => {
      const h = hiddenActivations(s.toy.model, s.data.sample(count, rngFor(q)), count);
      for (let i = 0; i < cfg.instances; i++) buf.set(h, (q * cfg.instances + i) * count * 2);
    });
    return tf.tensor3d(buf, [n, count, 2]);
  };
  const sae = createSae(saeCfg, cfg.seed);
  const t0 = performance.now();
  const result = await trainSae(sae, train, (step) => {
    if (onProgress && (step % 50 === 0)) onProgress(step, steps);
    return batchOf(B, (q) => sources[q]!.rng);
  }, {
    initBatch: () => batchOf(train.b_dec_init_samples, (q) => new Rng(cfg.seed + q, "arch/bdec")),
    logEvery: steps,
  });
  disposeTrainState(result.state);
  onProgress?.(steps, steps);
  const ms = performance.now() - t0;
  const arrays = sae.toArrays();
  sae.dispose();
  const instances = sources.flatMap((s, q) => evaluateArchDataset(variant, cfg, saeCfg, arrays, s, q));
  return { variant, instances, ms };
}

/** One data source per data set: its toy model, its data and its batch stream (seed + data-set index). */
interface ArchSource {
  name: DatasetName;
  toy: FollowupToy;
  data: ComposedFeatureData;
  rng: Rng;
}

function archSources(toys: Map<DatasetName, FollowupToy>, cfg: ArchStudyConfig): ArchSource[] {
  return cfg.datasets.map((name, q) => {
    const toy = toys.get(name);
    if (!toy) throw new Error(`runArchitecture: no toy model for ${name}`);
    return {
      name,
      toy,
      data: new ComposedFeatureData(datasetConfig(name)),
      rng: new Rng(cfg.seed + q, "arch/batches"),
    };
  });
}

/** The SAE shape (n instances of `variant`'s architecture, 2 → 4) and its training recipe. */
function archConfigs(variant: ArchVariant, cfg: ArchStudyConfig, n: number, steps: number) {
  const saeCfg = defaultSaeConfig({
    d_in: 2,
    d_sae: 4,
    n_inst: n,
    architecture: variant.architecture,
    k: variant.k,
    jumprelu_init_threshold: cfg.jumprelu.init_threshold,
    jumprelu_bandwidth: cfg.jumprelu.bandwidth,
    model_name: "toy",
  });
  const train = defaultSaeTrainConfig({
    ...variant.overrides,
    lr: cfg.lr,
    l1_coefficient: variant.sparsity,
    total_steps: steps,
    batch_size: cfg.batch_size,
    loss_instance_divisor: 5,
    seed: cfg.seed,
  });
  return { saeCfg, train };
}

/**
 * The instances of data set `q` (its slice of the trained SAE) evaluated against its own toy model on fresh
 * samples: the final class, cosines, losses, L0, and how many latents fire (max, and the share with exactly k).
 */
function evaluateArchDataset(
  variant: ArchVariant,
  cfg: ArchStudyConfig,
  saeCfg: SaeConfig,
  arrays: ReturnType<Sae["toArrays"]>,
  s: ArchSource,
  q: number,
): ArchInstance[] {
  const m = cfg.instances, n = saeCfg.n_inst;
  const sub: Record<string, { data: Float32Array; shape: number[] }> = {};
  for (const [name, a] of Object.entries(arrays)) {
    const per = a.data.length / n;
    sub[name] = { data: a.data.slice(q * m * per, (q + 1) * m * per), shape: [m, ...a.shape.slice(1)] };
  }
  const part = saeFromArrays({ ...saeCfg, n_inst: m }, sub);
  const ne = cfg.eval_samples;
  const h = Float32Array.from(
    hiddenActivations(s.toy.model, s.data.sample(ne, new Rng(cfg.seed + q, "arch/eval")), ne),
  );
  let evals: InstanceEval[];
  let active: Float32Array;
  try {
    evals = evaluateInstances(part, s.toy.model, [2, 2], h, new Array<number>(m).fill(variant.sparsity));
    active = tf.tidy(() => {
      const acts = part.encode(tf.tensor3d(h, [1, ne, 2]));
      return tf.sum(tf.step(acts), -1);
    }).dataSync() as Float32Array;
  } finally {
    part.dispose();
  }
  return evals.map((e, i) => {
    let maxActive = 0, exact = 0;
    for (let r = 0; r < ne; r++) {
      const a = active[i * ne + r]!;
      if (a > maxActive) maxActive = a;
      if (a === variant.k) exact++;
    }
    return {
      variant: variant.label,
      dataset: s.name,
      final_class: classifyInstance(e),
      axis_cos: e.axis_cos,
      diag_cos: e.diag_cos,
      normalized_mse: e.normalized_mse,
      mse_ratio: e.mse_ratio,
      broken: e.broken,
      l0: e.l0,
      max_active: maxActive,
      exactly_k: exact / ne,
      W_dec: e.W_dec,
    };
  });
}

/** Derived predictions per data set: which dictionary TopK k=1 (lower single-latent MSE) and an L0 penalty prefer. */
export interface ArchPrediction {
  dataset: DatasetName;
  topk1_mse: { axis: number; diagonal: number };
  topk1_prefers: "axes" | "diagonals";
  l0: { axis: number; diagonal: number };
  l0_prefers: "axes" | "diagonals" | "tie";
}

/**
 * The derived predictions of question 6 (TopK k=1 from samples of stream "check/arch"; L0 in closed form).
 *
 * @example
 * ```ts
 * import { archPredictions } from "./arch_study.ts";
 * archPredictions(["D1"], 10_000, 0)[0]!.topk1_prefers; // "diagonals"
 * ```
 */
export function archPredictions(datasets: readonly DatasetName[], n: number, seed: number): ArchPrediction[] {
  return datasets.map((name) => {
    const dc = datasetConfig(name);
    const x = new ComposedFeatureData(dc).sample(n, new Rng(seed, "check/arch"));
    const t = topk1Mse(x, n);
    const l0 = expectedL0(dc.onehot_probability, dc.set_magnitude_correlation);
    return {
      dataset: name,
      topk1_mse: t,
      topk1_prefers: t.axis < t.diagonal ? "axes" : "diagonals",
      l0,
      l0_prefers: Math.abs(l0.axis - l0.diagonal) < 1e-12 ? "tie" : l0.axis < l0.diagonal ? "axes" : "diagonals",
    };
  });
}

/**
 * Figures of question 6: `toy_architectures_outcomes` (fraction of instances at the axes / diagonals / mixed, per
 * architecture and data set) and `toy_architectures_dictionaries` (decoder rows of every instance, lowest MSE black).
 *
 * @example
 * ```ts
 * import { archFigures } from "./arch_study.ts";
 * // const f = archFigures(runs, toys);
 * ```
 */
export function archFigures(runs: ArchRun[], toys: Map<DatasetName, FollowupToy>, datasets: DatasetName[]): {
  outcomes: { fig: Figure; data: unknown };
  dictionaries: { fig: Figure; data: unknown };
} {
  const g = gridLayout(1, datasets.length, {
    width: 300 * datasets.length,
    height: 430,
    panelTitles: datasets,
    yTitle: "fraction of instances",
    yaxis: { range: [0, 1.02] },
    margin: { b: 120 },
    title: "Q6 · where each architecture ends: true axes, composed diagonals, or mixed",
  });
  const traces: Trace[] = [];
  const summary = datasets.map((d) => ({
    dataset: d,
    rows: runs.map((r) => {
      const rs = r.instances.filter((i) => i.dataset === d);
      const f = (c: DictionaryClass) => rs.filter((i) => i.final_class === c).length / rs.length;
      return { variant: r.variant.label, n: rs.length, axes: f("axes"), composed: f("composed"), mixed: f("mixed") };
    }),
  }));
  summary.forEach((s, c) => {
    for (
      const [cls, color] of [["axes", "rgb(27,158,119)"], ["composed", "rgb(217,95,2)"], [
        "mixed",
        "rgb(150,150,150)",
      ]] as const
    ) {
      traces.push(barTrace(s.rows.map((r) => r.variant), s.rows.map((r) => r[cls]), {
        name: `ends at: ${cls}`,
        color,
        axes: g.axes(0, c),
        showlegend: c === 0,
        legendgroup: cls,
      }));
    }
  });
  const outcomes = { fig: figure(traces, mergeLayout(g.layout, { barmode: "stack" })), data: summary };
  const dg = gridLayout(runs.length, datasets.length, {
    width: 170 * datasets.length + 160,
    height: 170 * runs.length + 80,
    square: true,
    equalAspect: true,
    rowLabels: runs.map((r) => r.variant.label),
    colLabels: datasets,
    gapX: 12,
    gapY: 12,
    xaxis: { range: [-1.1, 1.1], showticklabels: false },
    yaxis: { range: [-1.1, 1.1], showticklabels: false },
  });
  const ann: Annotation[] = [];
  const dt: Trace[] = [];
  runs.forEach((r, row) => {
    datasets.forEach((d, col) => {
      const axes = dg.axes(row, col);
      const toy = toys.get(d)!.model;
      const rot = rotationFor(toy);
      ann.push(...toyArrows(toy, [2, 2], rot, axes));
      const rs = r.instances.filter((i) => i.dataset === d);
      const best = rs.reduce((a, b) => (b.normalized_mse < a.normalized_mse ? b : a));
      for (const i of rs) if (i !== best) ann.push(...decoderArrows(i.W_dec, rot, axes, "rgb(170,170,170)", 1));
      ann.push(...decoderArrows(best.W_dec, rot, axes, "black", 2));
      dt.push({
        type: "scatter",
        x: [0],
        y: [0],
        mode: "markers",
        marker: { size: 1, color: "black" },
        xaxis: axes.xaxis,
        yaxis: axes.yaxis,
        showlegend: false,
      });
    });
  });
  const dictionaries = {
    fig: figure(dt, mergeLayout(dg.layout, { annotations: ann })),
    data: runs.map((r) => ({ variant: r.variant, instances: r.instances })),
  };
  return { outcomes, dictionaries };
}

/**
 * Saves the question 6 figures.
 *
 * @example
 * ```ts
 * import { saveArchFigures } from "./arch_study.ts";
 * // await saveArchFigures(runs, toys, cfg.datasets);
 * ```
 */
export async function saveArchFigures(
  runs: ArchRun[],
  toys: Map<DatasetName, FollowupToy>,
  datasets: DatasetName[],
): Promise<void> {
  const f = archFigures(runs, toys, datasets);
  await save(f.outcomes.fig, "toy_architectures_outcomes", f.outcomes.data);
  await save(f.dictionaries.fig, "toy_architectures_dictionaries", f.dictionaries.data);
}
