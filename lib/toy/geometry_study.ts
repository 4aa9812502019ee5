/**
 * Notebook `03`, questions 3 and 7: second and fourth moments of the hidden
 * activations (covariance eigenvalues, projection kurtosis vs angle), and the
 * basis (non-)identifiability test — the same generator written in a rotated
 * input basis, a toy model and SAEs retrained on it, the dictionaries compared
 * in both descriptions. Figures `toy_kurtosis_angles` and `toy_basis_dictionaries`.
 *
 * @example
 * ```ts
 * import { composedPairBasis } from "./geometry_study.ts";
 * composedPairBasis()[0]; // x1 ↦ (e_x1 + e_y1)/√2
 * ```
 *
 * @module
 */

import { Rng } from "../engine/rng.ts";
import { figure, gridLayout, lineTrace, mergeLayout, save, scatterTrace, vline } from "../plot/mod.ts";
import type { Annotation, Figure, Shape, Trace } from "../plot/mod.ts";
import { ComposedFeatureData, datasetConfig, type DatasetName } from "./data.ts";
import { hiddenActivations, type ToyModel } from "./model.ts";
import { type CovarianceSummary, hiddenCovariance, rotationFor } from "./analysis.ts";
import { hiddenFrame } from "./landscape.ts";
import { idealHidden, type ProjectionMoment, projectionMoments } from "./moments.ts";
import { expectedProjectionMoments } from "./predictions.ts";
import { decoderArrows, toyArrows } from "./figures.ts";
import {
  classifyInstance,
  type DictionaryClass,
  evaluateToySaes,
  type FollowupToy,
  trainFollowupToy,
  trainToySaes,
} from "./followup_train.ts";
import type { ObjectiveStudyConfig } from "./objective_study.ts";
import { defaultToyTrainConfig } from "./model.ts";

/** Question 3's result for one data set. */
export interface MomentsRun {
  dataset: DatasetName;
  /** Covariance of the toy's hidden activations. */
  covariance: CovarianceSummary;
  /** Through the trained toy model, angles from the toy's x axis (frame u). */
  measured: ProjectionMoment[];
  /** Through the ideal embedding. */
  ideal: ProjectionMoment[];
  /** Closed-form E z², E z⁴ on an axis and on a diagonal (ideal embedding). */
  expected: { m2: number; m4_axis: number; m4_diagonal: number };
  /** Where the expected fourth moment is largest. */
  predicted_max: "axes" | "diagonals";
  /** Measured kurtosis at the diagonals (mean of 45°, 135°) over the axes (mean of 0°, 90°, 180°). */
  measured_diag_over_axis: number;
  /** A thinned sample of hidden activations in the frame (u, v) coordinates, for the scatter. */
  points: [number, number][];
}

function meanAt(rows: ProjectionMoment[], angles: number[]): number {
  const vals = angles.map((a) => {
    const r = rows.find((q) => Math.abs(q.angle_deg - a) < 1e-9);
    if (!r) throw new Error(`moments: angle ${a}° is not in the sweep`);
    return r.kurtosis;
  });
  return vals.reduce((s, v) => s + v, 0) / vals.length;
}

/**
 * Question 3 for every data set (samples from stream "moments/samples").
 *
 * @example
 * ```ts
 * import { runMoments } from "./geometry_study.ts";
 * // const moments = runMoments(toys, cfg);
 * ```
 */
export function runMoments(toys: Map<DatasetName, FollowupToy>, cfg: ObjectiveStudyConfig): MomentsRun[] {
  return cfg.datasets.map((name) => {
    const toy = toys.get(name);
    if (!toy) throw new Error(`runMoments: no toy model for ${name}`);
    const dc = datasetConfig(name);
    const data = new ComposedFeatureData(dc);
    const n = cfg.moments.samples;
    const x = data.sample(n, new Rng(cfg.seed, "moments/samples"));
    const h = hiddenActivations(toy.model, x, n);
    const frame = hiddenFrame(toy.model);
    const measured = projectionMoments(h, n, frame, cfg.moments.angles);
    const ideal = projectionMoments(idealHidden(x, n), n, { u: [1, 0], v: [0, 1] }, cfg.moments.angles);
    const expected = expectedProjectionMoments(dc.onehot_probability, dc.set_magnitude_correlation);
    const points: [number, number][] = [];
    for (let r = 0; r < Math.min(n, 1500); r++) {
      const a = h[r * 2]!, b = h[r * 2 + 1]!;
      points.push([a * frame.u[0] + b * frame.u[1], a * frame.v[0] + b * frame.v[1]]);
    }
    return {
      dataset: name,
      covariance: hiddenCovariance(h, n, 2),
      measured,
      ideal,
      expected,
      predicted_max: expected.m4_diagonal > expected.m4_axis ? "diagonals" : "axes",
      measured_diag_over_axis: meanAt(measured, [45, 135]) / meanAt(measured, [0, 90, 180]),
      points,
    };
  });
}

/**
 * Figure of question 3 (`toy_kurtosis_angles`): hidden activations in the toy's frame (top) and the
 * projection kurtosis vs angle, measured and ideal, with the closed-form axis and diagonal values (bottom).
 *
 * @example
 * ```ts
 * import { momentsFigure } from "./geometry_study.ts";
 * // const { fig, data } = momentsFigure(moments);
 * ```
 */
export function momentsFigure(runs: MomentsRun[]): { fig: Figure; data: unknown } {
  const cols = runs.length;
  const g = gridLayout(2, cols, {
    width: 290 * cols,
    height: 640,
    panelTitles: [...runs.map((r) => `${r.dataset}: h in the (u, v) frame`), ...runs.map(() => "")],
    title: "Q3 · hidden activations and the kurtosis of their projections vs angle",
    gapY: 70,
  });
  const traces: Trace[] = [];
  const shapes: Shape[] = [];
  runs.forEach((r, c) => {
    const top = g.axes(0, c);
    traces.push(scatterTrace(r.points.map((p) => p[0]), r.points.map((p) => p[1]), {
      color: "rgba(40,40,40,0.35)",
      markerSize: 3,
      axes: top,
      showlegend: false,
    }));
    const bottom = g.axes(1, c);
    const xs = r.measured.map((m) => m.angle_deg);
    traces.push(lineTrace(xs, r.measured.map((m) => m.kurtosis), {
      name: "through the trained toy",
      color: "black",
      axes: bottom,
      showlegend: c === 0,
      legendgroup: "m",
    }));
    traces.push(lineTrace(xs, r.ideal.map((m) => m.kurtosis), {
      name: "ideal embedding",
      color: "rgb(117,112,179)",
      dash: "dash",
      axes: bottom,
      showlegend: c === 0,
      legendgroup: "i",
    }));
    const e = r.expected;
    traces.push(
      scatterTrace([0, 45, 90, 135, 180], [0, 1, 0, 1, 0].map((d) => (d ? e.m4_diagonal : e.m4_axis) / (e.m2 * e.m2)), {
        name: "closed form (axis / diagonal)",
        color: "rgb(217,95,2)",
        markerSymbol: "x",
        markerSize: 9,
        axes: bottom,
        showlegend: c === 0,
        legendgroup: "e",
      }),
    );
    for (const a of [45, 135]) shapes.push(vline(a, { axes: bottom, dash: "dot" }));
  });
  const layout = mergeLayout(g.layout, {
    ...Object.fromEntries(runs.map((_, c) => {
      const k = c + 1;
      return [`xaxis${k === 1 ? "" : k}`, { range: [-1.1, 1.1], scaleanchor: `y${k === 1 ? "" : k}` }];
    })),
    ...Object.fromEntries(runs.map((_, c) => {
      const k = cols + c + 1;
      return [`xaxis${k}`, { title: { text: "angle from u (°)" }, tickvals: [0, 45, 90, 135, 180] }];
    })),
    shapes,
  });
  return {
    fig: figure(traces, layout),
    data: runs.map((r) => ({
      dataset: r.dataset,
      covariance: r.covariance,
      expected: r.expected,
      predicted_max: r.predicted_max,
      measured_diag_over_axis: r.measured_diag_over_axis,
      measured: r.measured,
      ideal: r.ideal,
    })),
  };
}

/**
 * The rotated input basis of question 7 (the comment thread's `[1,0,1,0] / [1,0,−1,0]`, normalised): generator
 * feature x1 ↦ (e_x1 + e_y1)/√2, x2 ↦ (e_x2 + e_y2)/√2, y1 ↦ (e_x1 − e_y1)/√2, y2 ↦ (e_x2 − e_y2)/√2
 * (rows; orthonormal). A D1 pair (x1, y1) with amplitude a becomes √2·a·e_x1, a standard one-hot vector.
 *
 * @example
 * ```ts
 * import { composedPairBasis } from "./geometry_study.ts";
 * composedPairBasis()[2]; // [1/√2, 0, −1/√2, 0]
 * ```
 */
export function composedPairBasis(): number[][] {
  const r = Math.SQRT1_2;
  return [[r, 0, r, 0], [0, r, 0, r], [r, 0, -r, 0], [0, r, 0, -r]];
}

/**
 * The toy model seen from the generator: hidden directions of the generator features, rows of B·W
 * (`basis` null = the toy itself).
 *
 * @example
 * ```ts
 * import { composedPairBasis, generatorToy } from "./geometry_study.ts";
 * const toy = { n_in: 4, n_hid: 2, W: new Float64Array([1, 0, -1, 0, 0, 1, 0, -1]), b: new Float64Array(4) };
 * generatorToy(toy, composedPairBasis()).W.slice(0, 2); // (W_x1 + W_y1)/√2
 * ```
 */
export function generatorToy(toy: ToyModel, basis: number[][] | null): ToyModel {
  if (basis === null) return toy;
  const { n_in: nIn, n_hid: d } = toy;
  const W = new Float64Array(nIn * d);
  for (let i = 0; i < nIn; i++) {
    for (let k = 0; k < d; k++) {
      let s = 0;
      for (let j = 0; j < nIn; j++) s += basis[i]![j]! * toy.W[j * d + k]!;
      W[i * d + k] = s;
    }
  }
  return { n_in: nIn, n_hid: d, W, b: toy.b };
}

/** Question 7's result for one (data set, basis). */
export interface BasisRun {
  dataset: DatasetName;
  basis: "standard" | "rotated";
  /** The toy model (its W rows: hidden directions of the standard-basis inputs). */
  toy: FollowupToy;
  /** Hidden directions of the generator features (B·W). */
  generator_W: number[];
  /** Per instance: class against the generator features and against the standard-basis inputs. */
  instances: {
    loss: number;
    class_generator: DictionaryClass;
    axis_cos_generator: number;
    diag_cos_generator: number;
    class_standard: DictionaryClass;
    axis_cos_standard: number;
    diag_cos_standard: number;
    W_dec: number[];
  }[];
}

/**
 * Question 7: for each data set, the standard-basis toy (`toys`) and a toy retrained in the rotated basis,
 * SAEs on both, every dictionary classified in both descriptions.
 *
 * @example
 * ```ts
 * import { runBasis } from "./geometry_study.ts";
 * // const basis = await runBasis(toys, cfg);
 * ```
 */
export async function runBasis(
  toys: Map<DatasetName, FollowupToy>,
  cfg: ObjectiveStudyConfig,
  onProgress?: (label: string, done: number, total: number) => void,
): Promise<BasisRun[]> {
  const out: BasisRun[] = [];
  for (const name of cfg.basis.datasets) {
    for (const which of ["standard", "rotated"] as const) {
      const basis = which === "rotated" ? composedPairBasis() : null;
      const data = { ...datasetConfig(name), input_basis: basis };
      let toy = toys.get(name);
      if (which === "rotated" || !toy) {
        toy = trainFollowupToy(
          `${name} (${which})`,
          data,
          defaultToyTrainConfig({ seed: cfg.seed, steps: cfg.toy_steps }),
          cfg.toy_restarts,
        );
      }
      const gen = generatorToy(toy.model, basis);
      const run = await trainToySaes(data, toy.model, [2, 2], cfg.basis.instances, cfg.sae, {
        onProgress: (d, t) => onProgress?.(`${name} ${which}`, d, t),
      });
      const byGen = evaluateToySaes(run.result, gen, [2, 2], run.hEval, run.lambdas).evals;
      out.push({
        dataset: name,
        basis: which,
        toy,
        generator_W: Array.from(gen.W),
        instances: byGen.map((e, i) => {
          const s = run.evals[i]!;
          return {
            loss: e.robust_loss,
            class_generator: classifyInstance(e),
            axis_cos_generator: e.axis_cos,
            diag_cos_generator: e.diag_cos,
            class_standard: classifyInstance(s),
            axis_cos_standard: s.axis_cos,
            diag_cos_standard: s.diag_cos,
            W_dec: e.W_dec,
          };
        }),
      });
    }
  }
  return out;
}

/**
 * Figure of question 7 (`toy_basis_dictionaries`): rows = basis, columns = data set; generator features
 * (green/orange arrows), standard-basis inputs (thin grey, rotated basis only) and the lowest-loss SAE (black).
 *
 * @example
 * ```ts
 * import { basisFigure } from "./geometry_study.ts";
 * // const { fig, data } = basisFigure(basisRuns);
 * ```
 */
export function basisFigure(runs: BasisRun[]): { fig: Figure; data: unknown } {
  const names = [...new Set(runs.map((r) => r.dataset))];
  const g = gridLayout(2, names.length, {
    width: 330 * names.length + 60,
    height: 700,
    square: true,
    equalAspect: true,
    rowLabels: ["standard basis", "rotated basis"],
    colLabels: names,
    xaxis: { range: [-1.6, 1.6], showticklabels: false, zeroline: true },
    yaxis: { range: [-1.6, 1.6], showticklabels: false, zeroline: true },
    title: "Q7 · generator features (colour), standard inputs (grey) and the lowest-loss SAE (black)",
  });
  const annotations: Annotation[] = [];
  const traces: Trace[] = [];
  runs.forEach((r) => {
    const row = r.basis === "standard" ? 0 : 1;
    const col = names.indexOf(r.dataset);
    const axes = g.axes(row, col);
    const gen: ToyModel = { ...r.toy.model, W: Float64Array.from(r.generator_W) };
    const rot = rotationFor(gen, "atan2");
    if (r.basis === "rotated") {
      annotations.push(...decoderArrows(Array.from(r.toy.model.W), rot, axes, "rgb(160,160,160)", 1));
    }
    annotations.push(...toyArrows(gen, [2, 2], rot, axes));
    const best = r.instances.reduce((a, b) => (b.loss < a.loss ? b : a));
    annotations.push(...decoderArrows(best.W_dec, rot, axes, "black", 2));
    traces.push(scatterTrace([0], [0], { axes, showlegend: false, color: "black", markerSize: 2 }));
  });
  return {
    fig: figure(traces, mergeLayout(g.layout, { annotations })),
    data: runs.map((r) => ({
      dataset: r.dataset,
      basis: r.basis,
      toy_W: Array.from(r.toy.model.W),
      toy_final_loss: r.toy.final_loss,
      generator_W: r.generator_W,
      instances: r.instances,
    })),
  };
}

/**
 * Saves the question 3 figure (`toy_kurtosis_angles`).
 *
 * @example
 * ```ts
 * import { saveMomentsFigure } from "./geometry_study.ts";
 * // await saveMomentsFigure(moments);
 * ```
 */
export async function saveMomentsFigure(moments: MomentsRun[]): Promise<void> {
  const m = momentsFigure(moments);
  await save(m.fig, "toy_kurtosis_angles", m.data);
}

/**
 * Saves the question 7 figure (`toy_basis_dictionaries`).
 *
 * @example
 * ```ts
 * import { saveBasisFigure } from "./geometry_study.ts";
 * // await saveBasisFigure(basisRuns);
 * ```
 */
export async function saveBasisFigure(runs: BasisRun[]): Promise<void> {
  const b = basisFigure(runs);
  await save(b.fig, "toy_basis_dictionaries", b.data);
}
