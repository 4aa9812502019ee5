/**
 * Notebook `04`, questions 4 and 5: the one-hot fraction sweep (does the true
 * basis appear once the ℓ1 penalty prefers it, around the break-even fractions
 * p* ≈ 0.22 / 0.59?), and larger dictionaries / more hidden dimensions (latents
 * near true axes, near composed directions, dead; L0; loss). Figures
 * `toy_onehot_sweep_recovery`, `toy_dict_size_latents` and `toy_dict_size_heatmaps`.
 *
 * @example
 * ```ts
 * import { onehotSweepData } from "./scale_study.ts";
 * onehotSweepData(1, 0).feat_sets; // [4]: every sample one-hot (equivalent to p = 1)
 * ```
 *
 * @module
 */

import { Rng } from "../engine/rng.ts";
import {
  barTrace,
  DIVERGING_SCALE,
  figure,
  gridLayout,
  heatmapTrace,
  lineTrace,
  mergeLayout,
  save,
  vline,
} from "../plot/mod.ts";
import type { Figure, Shape, Trace } from "../plot/mod.ts";
import {
  type ComposedDataConfig,
  ComposedFeatureData,
  datasetConfig,
  type DatasetName,
  defaultComposedDataConfig,
  featureNames,
} from "./data.ts";
import { defaultToyTrainConfig } from "./model.ts";
import { dictionaryL1 } from "./analysis.ts";
import { breakEvenOnehot, expectedDictionaryL1 } from "./predictions.ts";
import {
  classifyInstance,
  defaultFollowupSaeConfig,
  type FollowupSaeConfig,
  type FollowupToy,
  type LatentCounts,
  latentCounts,
  trainFollowupToy,
  trainToySaes,
  wilson,
} from "./followup_train.ts";

/** Everything notebook `04` runs with. */
export interface ScaleStudyConfig {
  quick: boolean;
  seed: number;
  /** Toy-model steps and restarts for the study data sets (same seeds as notebooks 01/02). */
  toy_steps: number;
  toy_restarts: number;
  /** SAE recipe of questions 4 and 5. */
  sae: FollowupSaeConfig;
  /** Question 4: one-hot fractions and instances per (p, amplitude setting). */
  onehot: { ps: number[]; instances: number };
  /** Question 5a: dictionary sizes, data sets and instances per size. */
  dict: { sizes: number[]; datasets: DatasetName[]; instances: number };
  /** Question 5b: (feature sets, hidden dims) toy models, their toy steps, and the SAE recipe. */
  highdim: {
    cases: { feat_sets: [number, number]; n_hidden: number }[];
    toy_steps: number;
    instances: number;
    sae: FollowupSaeConfig;
  };
}

/**
 * The full or QUICK configuration of notebook `04` (questions 4–5; question 6 has its own, `archStudyConfig`).
 *
 * @example
 * ```ts
 * import { scaleStudyConfig } from "./scale_study.ts";
 * scaleStudyConfig(false).onehot.ps.length; // 9
 * ```
 */
export function scaleStudyConfig(quick: boolean, seed = 20240314): ScaleStudyConfig {
  const sae = defaultFollowupSaeConfig({
    lr: 1e-3,
    l1: 0.1,
    steps: quick ? 800 : 8_000,
    batch_size: quick ? 256 : 1024,
    seed,
    eval_samples: quick ? 4_000 : 10_000,
  });
  return {
    quick,
    seed,
    toy_steps: quick ? 2_500 : 10_000,
    toy_restarts: 4,
    sae,
    onehot: { ps: [0, 0.1, 0.2, 0.3, 0.5, 0.6, 0.75, 0.9, 1.0], instances: quick ? 4 : 16 },
    dict: { sizes: [4, 6, 8, 16, 64], datasets: ["D1", "D2", "D3u", "D3c"], instances: quick ? 2 : 3 },
    highdim: {
      cases: [
        { feat_sets: [4, 4], n_hidden: 2 },
        { feat_sets: [4, 4], n_hidden: 3 },
        { feat_sets: [4, 4], n_hidden: 4 },
        { feat_sets: [8, 8], n_hidden: 4 },
        { feat_sets: [8, 8], n_hidden: 6 },
        { feat_sets: [8, 8], n_hidden: 8 },
      ],
      toy_steps: quick ? 1_000 : 6_000,
      instances: quick ? 2 : 4,
      sae: { ...sae, lr: 1e-3, l1: 0.3 },
    },
  };
}

/**
 * The generator at one-hot fraction `p` with amplitude correlation `f` (0 = independent as D3u, 1 = equal as
 * D3c). The generator rejects p = 1 (every sample one-hot); that distribution is exactly one set of four
 * mutually exclusive features `[x1, x2, y1, y2]` with uniform frequencies, which is what p = 1 returns (the
 * column order is the same, so the toy model and the analysis are unchanged).
 *
 * @example
 * ```ts
 * import { onehotSweepData } from "./scale_study.ts";
 * onehotSweepData(0.5, 1).onehot_probability; // 0.5
 * ```
 */
export function onehotSweepData(p: number, f: number): ComposedDataConfig {
  if (p === 1) return defaultComposedDataConfig({ feat_sets: [4], set_magnitude_correlation: f });
  return defaultComposedDataConfig({ onehot_probability: p, set_magnitude_correlation: f });
}

/** One (amplitude setting, p) of question 4. */
export interface OnehotPoint {
  setting: "uncorrelated" | "correlated";
  p: number;
  n: number;
  /** Fraction of instances recovering the true axes (mean max |cos| > 0.95), with its Wilson interval. */
  axes: { p: number; lo: number; hi: number };
  /** Fraction ending at the composed diagonals. */
  composed: { p: number; lo: number; hi: number };
  /** Zero-MSE ℓ1 of the two dictionaries: closed form and measured on samples. */
  l1_expected: { axis: number; diagonal: number };
  l1_measured: { axis: number; diagonal: number };
  mean_axis_cos: number;
  mean_diag_cos: number;
}

/**
 * Question 4: SAEs at every one-hot fraction, on the D3u toy (uncorrelated) and the D3c toy (correlated) — one
 * fixed toy per amplitude setting, so only the data distribution changes along the sweep.
 *
 * @example
 * ```ts
 * import { runOnehotSweep } from "./scale_study.ts";
 * // const sweep = await runOnehotSweep(toys, cfg);
 * ```
 */
export async function runOnehotSweep(
  toys: Map<DatasetName, FollowupToy>,
  cfg: ScaleStudyConfig,
  onProgress?: (label: string, done: number, total: number) => void,
): Promise<OnehotPoint[]> {
  const out: OnehotPoint[] = [];
  let k = 0;
  for (const [setting, f, toyName] of [["uncorrelated", 0, "D3u"], ["correlated", 1, "D3c"]] as const) {
    const toy = toys.get(toyName);
    if (!toy) throw new Error(`runOnehotSweep: no toy model for ${toyName}`);
    for (const p of cfg.onehot.ps) {
      const data = onehotSweepData(p, f);
      const run = await trainToySaes(data, toy.model, [2, 2], cfg.onehot.instances, {
        ...cfg.sae,
        seed: cfg.seed + k++,
      }, {
        onProgress: (d, t) => onProgress?.(`${setting} p=${p}`, d, t),
      });
      const classes = run.evals.map((e) => classifyInstance(e));
      const n = classes.length;
      const ns = 50_000;
      const measured = dictionaryL1(
        new ComposedFeatureData(data).sample(ns, new Rng(cfg.seed, "check/dictionary")),
        ns,
      );
      out.push({
        setting,
        p,
        n,
        axes: wilson(classes.filter((c) => c === "axes").length, n),
        composed: wilson(classes.filter((c) => c === "composed").length, n),
        l1_expected: expectedDictionaryL1(p, f),
        l1_measured: { axis: measured.axis, diagonal: measured.diagonal },
        mean_axis_cos: run.evals.reduce((a, e) => a + e.axis_cos, 0) / n,
        mean_diag_cos: run.evals.reduce((a, e) => a + e.diag_cos, 0) / n,
      });
    }
  }
  return out;
}

/** One configuration of the p = 1 controls. */
export interface OnehotControl {
  label: string;
  /** Optimiser steps. */
  steps: number;
  l1: number;
  /** Reconstruction term of the training loss. */
  mse_loss: "l2_normalized" | "sum";
}

/** The p = 1 controls: the sweep's recipe, a 4× longer schedule, no ‖h‖ normalisation, and with it a stronger ℓ1. */
export function onehotControls(cfg: ScaleStudyConfig): OnehotControl[] {
  const s = cfg.sae.steps;
  return [
    { label: "sweep recipe", steps: s, l1: 0.1, mse_loss: "l2_normalized" },
    { label: "4× longer schedule", steps: 4 * s, l1: 0.1, mse_loss: "l2_normalized" },
    { label: "no ‖h‖ normalisation", steps: s, l1: 0.1, mse_loss: "sum" },
    { label: "no ‖h‖ normalisation, λ = 0.5", steps: s, l1: 0.5, mse_loss: "sum" },
    { label: "no ‖h‖ normalisation, λ = 1", steps: s, l1: 1, mse_loss: "sum" },
  ];
}

/** Outcome of one p = 1 control. */
export interface OnehotControlRow {
  setting: "uncorrelated" | "correlated";
  label: string;
  steps: number;
  l1: number;
  mse_loss: string;
  n: number;
  /** Fraction of instances at the true axes (mean max |cos| > 0.95), Wilson interval. */
  axes: { p: number; lo: number; hi: number };
  /** Median over instances of Σ error / Σ‖h‖² (held-out). */
  median_mse_ratio: number;
  /** Instances with a decoder row within cos 0.99 of each of the four true features (signed). */
  exact_axes: number;
}

/**
 * Question 4's p = 1 controls (every sample one-hot: the data lie on the four rays ±W_x, ±W_y and the true-axis
 * dictionary is exact with L0 = 1): each control of {@link onehotControls} on the D3u / D3c toy, `instances` SAEs each.
 *
 * @example
 * ```ts
 * import { runOnehotControls } from "./scale_study.ts";
 * // const rows = await runOnehotControls(toys, cfg);
 * ```
 */
export async function runOnehotControls(
  toys: Map<DatasetName, FollowupToy>,
  cfg: ScaleStudyConfig,
  onProgress?: (label: string, done: number, total: number) => void,
): Promise<OnehotControlRow[]> {
  const out: OnehotControlRow[] = [];
  let k = 500;
  for (const [setting, f, toyName] of [["uncorrelated", 0, "D3u"], ["correlated", 1, "D3c"]] as const) {
    const toy = toys.get(toyName);
    if (!toy) throw new Error(`runOnehotControls: no toy model for ${toyName}`);
    for (const c of onehotControls(cfg)) {
      const run = await trainToySaes(onehotSweepData(1, f), toy.model, [2, 2], cfg.onehot.instances, {
        ...cfg.sae,
        l1: c.l1,
        steps: c.steps,
        seed: cfg.seed + k++,
        train_overrides: { ...cfg.sae.train_overrides, mse_loss: c.mse_loss },
      }, { onProgress: (d, t) => onProgress?.(`${setting} ${c.label}`, d, t) });
      const n = run.evals.length;
      // signed: x2 = −x1 in the hidden plane, so |cos| cannot tell them apart
      const W = toy.model.W;
      const exact = run.evals.filter((e) => {
        const hit = new Set<number>();
        for (let j = 0; j < e.W_dec.length / 2; j++) {
          const v0 = e.W_dec[2 * j]!, v1 = e.W_dec[2 * j + 1]!;
          for (let q = 0; q < 4; q++) {
            const c = (v0 * W[2 * q]! + v1 * W[2 * q + 1]!) /
              (Math.hypot(v0, v1) * Math.hypot(W[2 * q]!, W[2 * q + 1]!));
            if (c > 0.99) hit.add(q);
          }
        }
        return hit.size === 4;
      }).length;
      const ratios = run.evals.map((e) => e.mse_ratio).sort((a, b) => a - b);
      out.push({
        setting,
        label: c.label,
        steps: c.steps,
        l1: c.l1,
        mse_loss: c.mse_loss,
        n,
        axes: wilson(run.evals.filter((e) => classifyInstance(e) === "axes").length, n),
        median_mse_ratio: ratios[Math.floor(n / 2)]!,
        exact_axes: exact,
      });
    }
  }
  return out;
}

/**
 * Figure of question 4 (`toy_onehot_sweep_recovery`): fraction of instances at the true axes and at the composed
 * diagonals vs p, with the break-even fraction p* of the ℓ1 comparison.
 *
 * @example
 * ```ts
 * import { onehotFigure } from "./scale_study.ts";
 * // const { fig, data } = onehotFigure(sweep);
 * ```
 */
export function onehotFigure(points: OnehotPoint[]): { fig: Figure; data: unknown } {
  const settings = ["uncorrelated", "correlated"] as const;
  const g = gridLayout(1, 2, {
    width: 980,
    height: 420,
    panelTitles: settings.map((s) =>
      `${s} pair amplitudes (p* = ${breakEvenOnehot(s === "correlated" ? 1 : 0).toFixed(3)})`
    ),
    xTitle: "one-hot fraction p",
    yTitle: "fraction of SAE instances",
    yaxis: { range: [-0.02, 1.02] },
    title: "Q4 · SAEs recovering the true axes vs one-hot fraction (dotted: ℓ1 break-even p*)",
  });
  const traces: Trace[] = [];
  const shapes: Shape[] = [];
  settings.forEach((s, c) => {
    const axes = g.axes(0, c);
    const pts = points.filter((q) => q.setting === s);
    const ps = pts.map((q) => q.p);
    traces.push(lineTrace(ps, pts.map((q) => q.axes.p), {
      name: "true axes (mean |cos| > 0.95)",
      color: "rgb(27,158,119)",
      mode: "lines+markers",
      errorY: pts.map((q) => Math.max(q.axes.hi - q.axes.p, q.axes.p - q.axes.lo)),
      axes,
      showlegend: c === 0,
      legendgroup: "a",
    }));
    traces.push(lineTrace(ps, pts.map((q) => q.composed.p), {
      name: "composed diagonals",
      color: "rgb(217,95,2)",
      mode: "lines+markers",
      dash: "dash",
      axes,
      showlegend: c === 0,
      legendgroup: "d",
    }));
    shapes.push(vline(breakEvenOnehot(s === "correlated" ? 1 : 0), { axes, dash: "dot" }));
  });
  return {
    fig: figure(traces, mergeLayout(g.layout, { shapes })),
    data: { break_even: { uncorrelated: breakEvenOnehot(0), correlated: breakEvenOnehot(1) }, points },
  };
}

/** One (data set, dictionary size) of question 5a, averaged over instances. */
export interface DictSizeRow {
  dataset: string;
  d_sae: number;
  n: number;
  /** Mean latent counts per instance. */
  counts: LatentCounts;
  l0: number;
  /** Mean of the instances' robust loss (Σ error / Σ‖h‖² + λ·ℓ1). */
  loss: number;
  /** Mean per-sample normalised MSE (the study's; near-zero samples can decide it). */
  normalized_mse: number;
  /** Mean Σ error / Σ‖h‖². */
  mse_ratio: number;
  /** Mean median per-sample normalised MSE. */
  median_normalized_mse: number;
  /** Instances that reconstruct worse than zero. */
  broken: number;
  l1: number;
  /** E‖h‖ through the toy: the ℓ1 any unit-norm exact code must at least pay. */
  l1_bound: number;
}

function meanCounts(all: LatentCounts[]): LatentCounts {
  const m = (k: keyof LatentCounts) => all.reduce((a, c) => a + c[k], 0) / all.length;
  return { near_axis: m("near_axis"), near_composed: m("near_composed"), dead: m("dead"), other: m("other") };
}

/**
 * Question 5a: SAEs with `d_sae` latents on each study toy (2-D hidden space).
 *
 * @example
 * ```ts
 * import { runDictSizes } from "./scale_study.ts";
 * // const rows = await runDictSizes(toys, cfg);
 * ```
 */
export async function runDictSizes(
  toys: Map<DatasetName, FollowupToy>,
  cfg: ScaleStudyConfig,
  onProgress?: (label: string, done: number, total: number) => void,
): Promise<DictSizeRow[]> {
  const out: DictSizeRow[] = [];
  let k = 100;
  for (const name of cfg.dict.datasets) {
    const toy = toys.get(name);
    if (!toy) throw new Error(`runDictSizes: no toy model for ${name}`);
    for (const dSae of cfg.dict.sizes) {
      const run = await trainToySaes(datasetConfig(name), toy.model, [2, 2], cfg.dict.instances, {
        ...cfg.sae,
        seed: cfg.seed + k++,
      }, { dSae, onProgress: (d, t) => onProgress?.(`${name} d_sae=${dSae}`, d, t) });
      const n = run.evals.length;
      const mean = (f: (e: (typeof run.evals)[number]) => number) => run.evals.reduce((a, e) => a + f(e), 0) / n;
      let bound = 0;
      for (let r = 0; r < run.hEval.length / 2; r++) bound += Math.hypot(run.hEval[r * 2]!, run.hEval[r * 2 + 1]!);
      out.push({
        dataset: name,
        d_sae: dSae,
        n,
        counts: meanCounts(run.evals.map((e) => latentCounts(e, run.density, dSae))),
        l0: mean((e) => e.l0),
        loss: mean((e) => e.robust_loss),
        normalized_mse: mean((e) => e.normalized_mse),
        mse_ratio: mean((e) => e.mse_ratio),
        median_normalized_mse: mean((e) => e.median_normalized_mse),
        broken: run.evals.filter((e) => e.broken).length,
        l1: mean((e) => e.l1),
        l1_bound: bound / (run.hEval.length / 2),
      });
    }
  }
  return out;
}

/** One higher-dimensional toy of question 5b. */
export interface HighDimRun {
  feat_sets: [number, number];
  n_hidden: number;
  toy_final_loss: number;
  /** Per instance. */
  instances: {
    counts: LatentCounts;
    l0: number;
    loss: number;
    monosemanticity: number;
    axis_cos: number;
    diag_cos: number;
  }[];
  /** Lowest-loss instance: latent response to each unit true feature [n_in][d_sae] and cos(feature, decoder row). */
  response: number[][];
  cosine: number[][];
  /** Latent order used in the heat maps (by the feature each latent responds to most). */
  latent_order: number[];
}

/**
 * Question 5b: toy models with more features per set and more hidden dimensions (independent amplitudes, as the
 * April notebook), SAEs with one latent per true feature.
 *
 * @example
 * ```ts
 * import { runHighDim } from "./scale_study.ts";
 * // const runs = await runHighDim(cfg);
 * ```
 */
export async function runHighDim(
  cfg: ScaleStudyConfig,
  onProgress?: (label: string, done: number, total: number) => void,
): Promise<HighDimRun[]> {
  const out: HighDimRun[] = [];
  let k = 200;
  for (const c of cfg.highdim.cases) {
    const data = defaultComposedDataConfig({ feat_sets: c.feat_sets, set_magnitude_correlation: 0 });
    const label = `(${c.feat_sets.join(",")}) in ${c.n_hidden}D`;
    const toy = trainFollowupToy(
      label,
      data,
      defaultToyTrainConfig({ seed: cfg.seed, steps: cfg.highdim.toy_steps, n_hidden: c.n_hidden }),
      1,
    );
    const run = await trainToySaes(data, toy.model, c.feat_sets, cfg.highdim.instances, {
      ...cfg.highdim.sae,
      seed: cfg.seed + k++,
    }, { onProgress: (d, t) => onProgress?.(label, d, t) });
    const dSae = toy.model.n_in;
    const best = run.evals.reduce((a, e) => (e.loss < a.loss ? e : a));
    const { response, cosine } = responseAndCosine(
      toy.model.W,
      toy.model.n_in,
      c.n_hidden,
      run.result.params,
      best.index,
      dSae,
    );
    const argmax = (j: number) => {
      let bi = 0;
      for (let i = 1; i < response.length; i++) if (response[i]![j]! > response[bi]![j]!) bi = i;
      return response[bi]![j]! > 0 ? bi : response.length;
    };
    const latent_order = Array.from({ length: dSae }, (_, j) => j).sort((a, b) => argmax(a) - argmax(b) || a - b);
    out.push({
      feat_sets: c.feat_sets,
      n_hidden: c.n_hidden,
      toy_final_loss: toy.final_loss,
      instances: run.evals.map((e) => ({
        counts: latentCounts(e, run.density, dSae),
        l0: e.l0,
        loss: e.loss,
        monosemanticity: e.monosemanticity,
        axis_cos: e.axis_cos,
        diag_cos: e.diag_cos,
      })),
      response: response.map((row) => latent_order.map((j) => row[j]!)),
      cosine: cosine.map((row) => latent_order.map((j) => row[j]!)),
      latent_order,
    });
  }
  return out;
}

/**
 * Latent response `ReLU(W·W_enc + b_enc)` to each unit true feature and `cos(W_i, W_dec_j)` for instance `inst`
 * of fused-kernel parameters (core layout).
 *
 * @example
 * ```ts
 * import { responseAndCosine } from "./scale_study.ts";
 * const p = { W_enc: new Float32Array([1, 0, 0, 1]), b_enc: new Float32Array(2), W_dec: new Float32Array([1, 0, 0, 1]), b_dec: new Float32Array(2) };
 * responseAndCosine(new Float64Array([1, 0, 0, 1]), 2, 2, p, 0, 2).cosine; // [[1, 0], [0, 1]]
 * ```
 */
export function responseAndCosine(
  W: ArrayLike<number>,
  nIn: number,
  d: number,
  params: { W_enc: ArrayLike<number>; b_enc: ArrayLike<number>; W_dec: ArrayLike<number> },
  inst: number,
  dSae: number,
): { response: number[][]; cosine: number[][] } {
  const response: number[][] = [];
  const cosine: number[][] = [];
  for (let i = 0; i < nIn; i++) {
    const rr: number[] = [], cr: number[] = [];
    let wn = 0;
    for (let q = 0; q < d; q++) wn += (W[i * d + q] as number) ** 2;
    for (let j = 0; j < dSae; j++) {
      let pre = params.b_enc[inst * dSae + j] as number;
      let dot = 0, dn = 0;
      for (let q = 0; q < d; q++) {
        const w = W[i * d + q] as number;
        pre += w * (params.W_enc[(inst * d + q) * dSae + j] as number);
        const dv = params.W_dec[(inst * dSae + j) * d + q] as number;
        dot += w * dv;
        dn += dv * dv;
      }
      rr.push(pre > 0 ? pre : 0);
      cr.push(dot / Math.sqrt(wn * dn || 1));
    }
    response.push(rr);
    cosine.push(cr);
  }
  return { response, cosine };
}

/**
 * Figures of question 5: `toy_dict_size_latents` (mean latents near axes / composed / dead / other per d_sae, and
 * L0) and `toy_dict_size_heatmaps` (response and cosine heat maps of the higher-dimensional toys).
 *
 * @example
 * ```ts
 * import { dictSizeFigures } from "./scale_study.ts";
 * // const f = dictSizeFigures(rows, highDim);
 * ```
 */
export function dictSizeFigures(rows: DictSizeRow[], high: HighDimRun[]): {
  latents: { fig: Figure; data: unknown };
  heatmaps: { fig: Figure; data: unknown };
} {
  const names = [...new Set(rows.map((r) => r.dataset))];
  const g = gridLayout(2, names.length, {
    width: 300 * names.length,
    height: 620,
    panelTitles: [...names, ...names.map(() => "")],
    title: "Q5 · latents of larger dictionaries (2-D hidden space): fraction near true axes / composed / dead, and L0",
    gapY: 70,
  });
  const traces: Trace[] = [];
  const kinds = [
    ["near_axis", "rgb(27,158,119)"],
    ["near_composed", "rgb(217,95,2)"],
    ["other", "rgb(117,112,179)"],
    ["dead", "rgb(170,170,170)"],
  ] as const;
  names.forEach((name, c) => {
    const rs = rows.filter((r) => r.dataset === name);
    const xs = rs.map((r) => String(r.d_sae));
    for (const [k, color] of kinds) {
      traces.push(barTrace(xs, rs.map((r) => r.counts[k] / r.d_sae), {
        name: k.replace("_", " "),
        color,
        axes: g.axes(0, c),
        showlegend: c === 0,
        legendgroup: k,
      }));
    }
    traces.push(lineTrace(xs, rs.map((r) => r.l0), {
      name: "L0",
      color: "black",
      mode: "lines+markers",
      axes: g.axes(1, c),
      showlegend: c === 0,
      legendgroup: "l0",
    }));
  });
  const layout = mergeLayout(g.layout, {
    barmode: "stack",
    ...Object.fromEntries(
      names.map((_, c) => [`xaxis${names.length + c + 1}`, { title: { text: "d_sae" }, type: "category" }]),
    ),
  });
  const latents = { fig: figure(traces, layout), data: rows };
  const hg = gridLayout(high.length, 2, {
    width: 900,
    height: 260 * Math.max(1, high.length),
    colLabels: ["latent response to each true feature", "cos(true feature, decoder row)"],
    rowLabels: high.map((h) => `(${h.feat_sets.join(",")}) in ${h.n_hidden}D`),
    gapX: 90,
    gapY: 45,
  });
  const ht: Trace[] = [];
  high.forEach((h, r) => {
    const feats = featureNames(h.feat_sets);
    const lat = h.latent_order.map((j) => `f${j + 1}`);
    const maxResp = Math.max(1e-9, ...h.response.flat());
    ht.push(heatmapTrace(h.response, {
      x: lat,
      y: feats,
      colorscale: "Hot",
      zmin: 0,
      zmax: maxResp,
      showscale: false,
      axes: hg.axes(r, 0),
    }));
    ht.push(heatmapTrace(h.cosine, {
      x: lat,
      y: feats,
      colorscale: DIVERGING_SCALE,
      zmin: -1,
      zmax: 1,
      zmid: 0,
      showscale: r === 0,
      colorbarTitle: "cos",
      axes: hg.axes(r, 1),
    }));
  });
  const heatmaps = {
    fig: figure(ht, hg.layout),
    data: high.map((h) => ({
      feat_sets: h.feat_sets,
      n_hidden: h.n_hidden,
      toy_final_loss: h.toy_final_loss,
      instances: h.instances,
      latent_order: h.latent_order,
      response: h.response,
      cosine: h.cosine,
    })),
  };
  return { latents, heatmaps };
}

/**
 * Saves the question 4 and 5 figures.
 *
 * @example
 * ```ts
 * import { saveScaleFigures } from "./scale_study.ts";
 * // await saveScaleFigures(sweep, rows, high);
 * ```
 */
export async function saveScaleFigures(sweep: OnehotPoint[], rows: DictSizeRow[], high: HighDimRun[]): Promise<void> {
  const o = onehotFigure(sweep);
  await save(o.fig, "toy_onehot_sweep_recovery", o.data);
  const d = dictSizeFigures(rows, high);
  await save(d.latents.fig, "toy_dict_size_latents", d.latents.data);
  await save(d.heatmaps.fig, "toy_dict_size_heatmaps", d.heatmaps.data);
}
