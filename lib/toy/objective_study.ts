/**
 * Notebook `03`, questions 1 and 2: the SAE objective along hand-built
 * dictionaries rotated from the true axes to the composed diagonals (with the
 * trained SAEs overlaid), and SAEs started at the hand-built optima, perturbed,
 * trained, and compared with ≥ 50 random initialisations (basin sizes).
 * Figures `toy_landscape_{objective,exact_l1}` and `toy_init_at_optimum_outcomes`.
 *
 * @example
 * ```ts
 * import { objectiveStudyConfig } from "./objective_study.ts";
 * objectiveStudyConfig(true).sae.steps; // the QUICK schedule
 * ```
 *
 * @module
 */

import { Rng } from "../engine/rng.ts";
import { barTrace, figure, gridLayout, hline, lineTrace, mergeLayout, save, scatterTrace } from "../plot/mod.ts";
import type { Figure, Shape, Trace } from "../plot/mod.ts";
import type { FusedParams } from "./fused_small.ts";
import { ComposedFeatureData, datasetConfig, type DatasetName } from "./data.ts";
import { hiddenActivations } from "./model.ts";
import { EXPECTED_DICTIONARY_L1 } from "./analysis.ts";
import {
  defaultHandBuiltOptimiserConfig,
  dictionaryAngle,
  type HandBuiltOptimiserConfig,
  hiddenFrame,
  landscape,
  type LandscapePoint,
} from "./landscape.ts";
import {
  classifyInstance,
  defaultFollowupSaeConfig,
  type DictionaryClass,
  type FollowupSaeConfig,
  type FollowupToy,
  randomSaeInit,
  trainToySaes,
  wilson,
} from "./followup_train.ts";

/** Everything notebook `03` runs with. */
export interface ObjectiveStudyConfig {
  quick: boolean;
  /** Base seed (toy models reuse notebook 01/02's seed, so they are the same models). */
  seed: number;
  /** Toy-model steps and restarts (the study's 10,000 × 1,000, best of 4). */
  toy_steps: number;
  toy_restarts: number;
  /** Data sets of questions 1–3. */
  datasets: DatasetName[];
  /** Question 1: angles (degrees), λ, samples and optimiser of the hand-built landscape. */
  landscape: { angles: number[]; lambda: number; samples: number; optimiser: HandBuiltOptimiserConfig };
  /** SAE recipe of questions 1, 2 and 7 (λ equals `landscape.lambda`). */
  sae: FollowupSaeConfig;
  /** Question 2: random initialisations per data set, perturbation sizes, perturbed copies per start and size. */
  basin: { random_inits: number; sigmas: number[]; per_start: number };
  /** Question 3: samples and angles (degrees). */
  moments: { samples: number; angles: number[] };
  /** Question 7: data sets and SAE instances per (data set, basis). */
  basis: { datasets: DatasetName[]; instances: number };
}

/**
 * The full configuration or the QUICK one (shorter toy training, fewer seeds, SAEs of 1,500 × 256 steps).
 *
 * @example
 * ```ts
 * import { objectiveStudyConfig } from "./objective_study.ts";
 * objectiveStudyConfig(false).basin.random_inits; // 64
 * ```
 */
export function objectiveStudyConfig(quick: boolean, seed = 20240314): ObjectiveStudyConfig {
  const angles = quick ? [0, 7.5, 15, 22.5, 30, 37.5, 45] : Array.from({ length: 10 }, (_, i) => i * 5);
  return {
    quick,
    seed,
    toy_steps: quick ? 2_500 : 10_000,
    toy_restarts: 4,
    datasets: ["D1", "D2", "D3u", "D3c"],
    landscape: {
      angles,
      lambda: 0.1,
      samples: quick ? 4_096 : 16_384,
      // the ratio form: no single near-zero sample of the fixed set decides the optimised curve
      optimiser: defaultHandBuiltOptimiserConfig({ iterations: quick ? 250 : 800, normalization: "ratio" }),
    },
    sae: defaultFollowupSaeConfig({
      lr: 1e-3,
      l1: 0.1,
      steps: quick ? 1_500 : 10_000,
      batch_size: quick ? 256 : 1024,
      seed,
      eval_samples: quick ? 4_000 : 10_000,
    }),
    basin: { random_inits: quick ? 16 : 64, sigmas: quick ? [0.05, 0.3] : [0.05, 0.2, 0.5], per_start: quick ? 4 : 8 },
    moments: { samples: quick ? 50_000 : 200_000, angles: Array.from({ length: 61 }, (_, i) => i * 3) },
    basis: { datasets: ["D1", "D2"], instances: quick ? 6 : 16 },
  };
}

/** Question 1's result for one data set. */
export interface LandscapeRun {
  dataset: DatasetName;
  points: LandscapePoint[];
  /** §9.5 axis / diagonal / bound values. */
  expected: { axis: number; diagonal: number; bound: number };
}

/**
 * The hand-built landscape of every data set (samples from stream "landscape/samples").
 *
 * @example
 * ```ts
 * import { runLandscapes } from "./objective_study.ts";
 * // const runs = runLandscapes(toys, objectiveStudyConfig(true));
 * ```
 */
export function runLandscapes(toys: Map<DatasetName, FollowupToy>, cfg: ObjectiveStudyConfig): LandscapeRun[] {
  return cfg.datasets.map((name) => {
    const toy = toys.get(name);
    if (!toy) throw new Error(`runLandscapes: no toy model for ${name}`);
    const data = new ComposedFeatureData(datasetConfig(name));
    const n = cfg.landscape.samples;
    const x = data.sample(n, new Rng(cfg.seed, "landscape/samples"));
    const h = hiddenActivations(toy.model, x, n);
    const points = landscape(toy.model, x, h, n, cfg.landscape.angles, cfg.landscape.lambda, cfg.landscape.optimiser);
    return { dataset: name, points, expected: EXPECTED_DICTIONARY_L1[name]! };
  });
}

/** One trained instance of question 2. */
export interface BasinInstance {
  /** "axes σ=…", "composed σ=…" or "random". */
  start: string;
  /** Which optimum it started at (null for random). */
  start_class: "axes" | "composed" | null;
  sigma: number | null;
  /** Outcome. */
  final_class: DictionaryClass;
  /** Ended where it started (null for random). */
  stayed: boolean | null;
  axis_cos: number;
  diag_cos: number;
  /** Mean angle of the alive decoder rows from the nearest true axis (0–45°). */
  angle_deg: number;
  /** Σ error / Σ‖h‖² + λ·ℓ1 on the evaluation set (the landscape's measure). */
  loss: number;
  /** Mean per-sample normalised MSE (the study's). */
  normalized_mse: number;
  /** Σ error / Σ‖h‖². */
  mse_ratio: number;
  /** Worse than outputting zero. */
  broken: boolean;
  l1: number;
  l0: number;
  dead: number;
}

/** Question 2's result for one data set. */
export interface BasinRun {
  dataset: DatasetName;
  instances: BasinInstance[];
  /** Random initialisations: count and Wilson interval of ending at the axes / the composed diagonals. */
  random: { n: number; axes: { p: number; lo: number; hi: number }; composed: { p: number; lo: number; hi: number } };
  /** Training wall time (ms). */
  ms: number;
}

/** Initial parameters of a hand-built optimum (decoder rows, encoder = s·row, b_enc, b_dec), `copies` times. */
function optimumInit(p: LandscapePoint, copies: number): FusedParams {
  const W_dec = new Float32Array(copies * 8), W_enc = new Float32Array(copies * 8);
  const b_enc = new Float32Array(copies * 4), b_dec = new Float32Array(copies * 2);
  for (let c = 0; c < copies; c++) {
    for (let k = 0; k < 4; k++) {
      for (let d = 0; d < 2; d++) {
        W_dec[c * 8 + k * 2 + d] = p.W_dec[k * 2 + d]!;
        W_enc[c * 8 + d * 4 + k] = p.params.s[k]! * p.W_dec[k * 2 + d]!; // [d_in, d_sae]
      }
      b_enc[c * 4 + k] = p.params.b[k]!;
    }
    b_dec.set(p.params.b_dec, c * 2);
  }
  return { W_enc, b_enc, W_dec, b_dec };
}

function perturb(init: FusedParams, sigma: number, rng: Rng): FusedParams {
  const noisy = (a: ArrayLike<number>) => Float32Array.from(a, (v) => v + sigma * rng.normal());
  return { W_enc: noisy(init.W_enc), b_enc: noisy(init.b_enc), W_dec: noisy(init.W_dec), b_dec: init.b_dec };
}

function concatInits(parts: FusedParams[]): FusedParams {
  const cat = (key: keyof FusedParams) => {
    const total = parts.reduce((s, p) => s + p[key].length, 0);
    const out = new Float32Array(total);
    let o = 0;
    for (const p of parts) {
      out.set(Array.from(p[key]), o);
      o += p[key].length;
    }
    return out;
  };
  return { W_enc: cat("W_enc"), b_enc: cat("b_enc"), W_dec: cat("W_dec"), b_dec: cat("b_dec") };
}

/**
 * Question 2 for one data set: perturbed copies of the axis (0°) and diagonal (45°) optima of `land`, and
 * `random_inits` random initialisations, trained together with the follow-up recipe.
 *
 * @example
 * ```ts
 * import { runBasins } from "./objective_study.ts";
 * // const basin = await runBasins(toys.get("D1")!, landscapes[0]!, cfg, (d, t) => bar.set(d));
 * ```
 */
export async function runBasins(
  toy: FollowupToy,
  land: LandscapeRun,
  cfg: ObjectiveStudyConfig,
  onProgress?: (done: number, total: number) => void,
): Promise<BasinRun> {
  const axes = land.points.find((p) => p.angle_deg === 0);
  const diag = land.points.find((p) => p.angle_deg === 45);
  if (!axes || !diag) throw new Error("runBasins: the landscape needs the angles 0 and 45");
  const rng = new Rng(cfg.seed, `basin/perturb/${land.dataset}`);
  const parts: FusedParams[] = [];
  const labels: { start: string; start_class: "axes" | "composed" | null; sigma: number | null }[] = [];
  for (const [cls, point] of [["axes", axes], ["composed", diag]] as const) {
    for (const sigma of cfg.basin.sigmas) {
      parts.push(perturb(optimumInit(point, cfg.basin.per_start), sigma, rng));
      for (let q = 0; q < cfg.basin.per_start; q++) {
        labels.push({ start: `${cls} σ=${sigma}`, start_class: cls, sigma });
      }
    }
  }
  const R = cfg.basin.random_inits;
  parts.push(randomSaeInit(2, 4, R, cfg.seed + 1000));
  for (let q = 0; q < R; q++) labels.push({ start: "random", start_class: null, sigma: null });
  const run = await trainToySaes(toy.data, toy.model, [2, 2], labels.length, cfg.sae, {
    init: concatInits(parts),
    onProgress,
  });
  const frame = hiddenFrame(toy.model);
  const instances = run.evals.map((e, i): BasinInstance => {
    const alive = Array.from({ length: 4 }, (_, j) => run.density[i * 4 + j]! > 0);
    const final_class = classifyInstance(e);
    const l = labels[i]!;
    return {
      ...l,
      final_class,
      stayed: l.start_class === null ? null : final_class === l.start_class,
      axis_cos: e.axis_cos,
      diag_cos: e.diag_cos,
      angle_deg: dictionaryAngle(e.W_dec, frame, alive),
      loss: e.robust_loss,
      normalized_mse: e.normalized_mse,
      mse_ratio: e.mse_ratio,
      broken: e.broken,
      l1: e.l1,
      l0: e.l0,
      dead: alive.filter((a) => !a).length,
    };
  });
  const rnd = instances.filter((r) => r.start === "random");
  return {
    dataset: land.dataset,
    instances,
    random: {
      n: rnd.length,
      axes: wilson(rnd.filter((r) => r.final_class === "axes").length, rnd.length),
      composed: wilson(rnd.filter((r) => r.final_class === "composed").length, rnd.length),
    },
    ms: run.result.ms,
  };
}

const AXES_COLOR = "rgb(27,158,119)";
const COMPOSED_COLOR = "rgb(217,95,2)";
const MIXED_COLOR = "rgb(150,150,150)";

/**
 * Figures of question 1 (`toy_landscape_objective`: optimised objective vs angle with every trained SAE of
 * question 2 at its dictionary angle; `toy_landscape_exact_l1`: zero-MSE ℓ1 vs angle with the §9.5 values).
 *
 * @example
 * ```ts
 * import { landscapeFigures } from "./objective_study.ts";
 * // const figs = landscapeFigures(landscapes, basins); await save(figs.objective.fig, ...)
 * ```
 */
export function landscapeFigures(lands: LandscapeRun[], basins: BasinRun[]): {
  objective: { fig: Figure; data: unknown };
  exact: { fig: Figure; data: unknown };
} {
  const cols = lands.length;
  const g = gridLayout(1, cols, {
    width: 300 * cols,
    height: 360,
    panelTitles: lands.map((l) => l.dataset),
    xTitle: "dictionary angle from the true axes (°)",
    yTitle: "objective: normalised MSE + λ·ℓ1 (log)",
    xaxis: { range: [-2, 47], tickvals: [0, 15, 30, 45] },
    yaxis: { type: "log", exponentformat: "power" },
    title: "Q1 · objective along rotated hand-built dictionaries (line) and trained SAEs (points)",
  });
  const traces: Trace[] = [];
  lands.forEach((l, c) => {
    const axes = g.axes(0, c);
    traces.push(lineTrace(l.points.map((p) => p.angle_deg), l.points.map((p) => p.loss), {
      name: "hand-built optimum",
      color: "black",
      axes,
      showlegend: c === 0,
      legendgroup: "hb",
    }));
    const b = basins.find((x) => x.dataset === l.dataset);
    if (b) {
      for (
        const [cls, color] of [["axes", AXES_COLOR], ["composed", COMPOSED_COLOR], ["mixed", MIXED_COLOR]] as const
      ) {
        const pts = b.instances.filter((r) => r.final_class === cls);
        traces.push(scatterTrace(pts.map((r) => r.angle_deg), pts.map((r) => r.loss), {
          name: `trained SAE: ${cls}`,
          color,
          axes,
          markerSize: 6,
          opacity: 0.7,
          showlegend: c === 0,
          legendgroup: cls,
        }));
      }
    }
  });
  const objective = {
    fig: figure(traces, g.layout),
    data: {
      landscapes: lands.map((l) => ({ dataset: l.dataset, points: l.points })),
      trained: basins.map((b) => ({
        dataset: b.dataset,
        points: b.instances.map((r) => ({
          start: r.start,
          angle_deg: r.angle_deg,
          loss: r.loss,
          class: r.final_class,
        })),
      })),
    },
  };
  const g2 = gridLayout(1, cols, {
    width: 300 * cols,
    height: 340,
    panelTitles: lands.map((l) => l.dataset),
    xTitle: "dictionary angle from the true axes (°)",
    yTitle: "ℓ1 per sample at zero MSE",
    xaxis: { range: [-2, 47], tickvals: [0, 15, 30, 45] },
    title: "Q1 · zero-MSE ℓ1 of rotated dictionaries (ideal embedding: solid; trained toy: dashed; §9.5: markers)",
  });
  const t2: Trace[] = [];
  const shapes: Shape[] = [];
  lands.forEach((l, c) => {
    const axes = g2.axes(0, c);
    const xs = l.points.map((p) => p.angle_deg);
    t2.push(lineTrace(xs, l.points.map((p) => p.exact_l1_ideal), {
      name: "ideal embedding",
      color: "black",
      axes,
      showlegend: c === 0,
      legendgroup: "ideal",
    }));
    t2.push(lineTrace(xs, l.points.map((p) => p.exact_l1_toy), {
      name: "trained toy",
      color: "rgb(117,112,179)",
      dash: "dash",
      axes,
      showlegend: c === 0,
      legendgroup: "toy",
    }));
    t2.push(scatterTrace([0, 45], [l.expected.axis, l.expected.diagonal], {
      name: "§9.5 axis / diagonal",
      color: COMPOSED_COLOR,
      markerSize: 10,
      markerSymbol: "x",
      axes,
      showlegend: c === 0,
      legendgroup: "table",
    }));
    shapes.push(hline(l.expected.bound, { axes, dash: "dot" }));
  });
  const exact = {
    fig: figure(t2, mergeLayout(g2.layout, { shapes })),
    data: {
      landscapes: lands.map((l) => ({
        dataset: l.dataset,
        expected: l.expected,
        angle_deg: l.points.map((p) => p.angle_deg),
        exact_l1_ideal: l.points.map((p) => p.exact_l1_ideal),
        exact_l1_toy: l.points.map((p) => p.exact_l1_toy),
      })),
    },
  };
  return { objective, exact };
}

/**
 * Figure of question 2 (`toy_init_at_optimum_outcomes`): for every data set and start condition, the
 * fraction of instances ending at the true axes, at the composed diagonals, or neither.
 *
 * @example
 * ```ts
 * import { basinFigure } from "./objective_study.ts";
 * // const { fig, data } = basinFigure(basins);
 * ```
 */
export function basinFigure(basins: BasinRun[]): { fig: Figure; data: unknown } {
  const cols = basins.length;
  const g = gridLayout(1, cols, {
    width: 320 * cols,
    height: 420,
    panelTitles: basins.map((b) => b.dataset),
    yTitle: "fraction of instances",
    yaxis: { range: [0, 1.02] },
    gapX: 40,
    margin: { b: 120 },
    title: "Q2 · where SAEs end: started at a perturbed optimum, or at a random initialisation",
  });
  const traces: Trace[] = [];
  const summary = basins.map((b) => {
    const starts = [...new Set(b.instances.map((r) => r.start))];
    const rows = starts.map((s) => {
      const rs = b.instances.filter((r) => r.start === s);
      const frac = (c: DictionaryClass) => rs.filter((r) => r.final_class === c).length / rs.length;
      return { start: s, n: rs.length, axes: frac("axes"), composed: frac("composed"), mixed: frac("mixed") };
    });
    return { dataset: b.dataset, rows, random: b.random };
  });
  summary.forEach((s, c) => {
    const axes = g.axes(0, c);
    for (const [cls, color] of [["axes", AXES_COLOR], ["composed", COMPOSED_COLOR], ["mixed", MIXED_COLOR]] as const) {
      traces.push(barTrace(s.rows.map((r) => r.start), s.rows.map((r) => r[cls]), {
        name: `ends at: ${cls}`,
        color,
        axes,
        showlegend: c === 0,
        legendgroup: cls,
      }));
    }
  });
  const layout = mergeLayout(g.layout, { barmode: "stack" });
  return {
    fig: figure(traces, layout),
    data: { summary, instances: basins.map((b) => ({ dataset: b.dataset, instances: b.instances })) },
  };
}

/**
 * Saves the question 1–2 figures.
 *
 * @example
 * ```ts
 * import { saveObjectiveFigures } from "./objective_study.ts";
 * // await saveObjectiveFigures(landscapes, basins);
 * ```
 */
export async function saveObjectiveFigures(lands: LandscapeRun[], basins: BasinRun[]): Promise<void> {
  const l = landscapeFigures(lands, basins);
  await save(l.objective.fig, "toy_landscape_objective", l.objective.data);
  await save(l.exact.fig, "toy_landscape_exact_l1", l.exact.data);
  const b = basinFigure(basins);
  await save(b.fig, "toy_init_at_optimum_outcomes", b.data);
}
