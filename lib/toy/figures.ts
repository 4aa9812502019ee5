/**
 * Figures of study A (§7) as plotly JSON through `lib/plot`: the toy model's
 * geometry and loss curve, the 6-panel schematic (FIG-S) and the 5 × 5
 * learning-rate × ℓ1 grid (FIG-G). Conventions of the study's figure code:
 * vectors drawn as v·R after the rotation of `analysis.ts` (x1 horizontal),
 * toy features as arrows from the origin in Dark2 green (set x) and orange
 * (set y), width 3; SAE decoder rows black width 2 (lowest-loss instance) and
 * grey width 1 (most monosemantic instance, when different); limits ±1.1, thin
 * black zero lines, square panels.
 *
 * **Schematic instance choice.** The study's `plot_schematic` sorts instances by
 * loss but then draws instance k in panel k, so its large panel shows instance
 * 0. Here the large panel (B) shows the **lowest-loss** instance and panels C–F
 * the other four in increasing loss; {@link schematicFigure} reports the order.
 *
 * @example
 * ```ts
 * import { gridFigure, schematicFigure } from "./figures.ts";
 * import { save } from "../plot/mod.ts";
 * // with `run` from runGrid() and `toy` its toy model:
 * // const { fig, data } = gridFigure(run, toy); await save(fig, "toy_grid_D1", data);
 * // const s = schematicFigure(run, run.cells[12]!, toy); await save(s.fig, "toy_schematic_D1", s.data);
 * ```
 *
 * @module
 */

import {
  type Annotation,
  arrow,
  type Axis,
  type AxisPair,
  DARK2_GREEN,
  DARK2_ORANGE,
  type Figure,
  figure,
  gridLayout,
  label,
  lineTrace,
  mergeLayout,
  panelLayout,
  type Trace,
} from "../plot/mod.ts";
import { featureNames } from "./data.ts";
import type { ToyModel } from "./model.ts";
import { rotateVec, type Rotation, rotationFor } from "./analysis.ts";
import type { GridCell, GridRun } from "./grid.ts";

/**
 * Colour of each feature set (Dark2 green, orange, then grey).
 *
 * @example
 * ```ts
 * import { setColor } from "./figures.ts";
 * setColor(0); // "rgb(27,158,119)"
 * ```
 */
export function setColor(set: number): string {
  return set === 0 ? DARK2_GREEN : set === 1 ? DARK2_ORANGE : "rgb(117,112,179)";
}

/** Axis style of an arrow panel: ±1.1, thin black zero lines, no grid. */
function planeAxis(ticks: boolean): Axis {
  return {
    range: [-1.1, 1.1],
    showgrid: false,
    zeroline: true,
    zerolinecolor: "black",
    zerolinewidth: 0.5,
    showline: true,
    mirror: true,
    linecolor: "rgb(60,60,60)",
    ticks: ticks ? "outside" : "",
    showticklabels: ticks,
    tickvals: ticks ? [-1, 0, 1] : [],
    fixedrange: true,
  };
}

function setOf(featSets: readonly number[], i: number): number {
  let acc = 0;
  for (let s = 0; s < featSets.length; s++) {
    acc += featSets[s]!;
    if (i < acc) return s;
  }
  return featSets.length - 1;
}

/**
 * The toy model's feature arrows (rotated) in one panel.
 *
 * @example
 * ```ts
 * import { toyArrows } from "./figures.ts";
 * import { initToyModel } from "./model.ts";
 * import { rotationFor } from "./analysis.ts";
 * import { Rng } from "../engine/rng.ts";
 * const toy = initToyModel(4, 2, new Rng(0));
 * toyArrows(toy, [2, 2], rotationFor(toy), { xaxis: "x", yaxis: "y" }).length; // 4
 * ```
 */
export function toyArrows(toy: ToyModel, featSets: readonly number[], rot: Rotation, axes: AxisPair): Annotation[] {
  const out: Annotation[] = [];
  for (let i = 0; i < toy.n_in; i++) {
    const tip = rotateVec([toy.W[i * 2]!, toy.W[i * 2 + 1]!], rot);
    out.push(arrow([0, 0], tip, { axes, color: setColor(setOf(featSets, i)), width: 3, head: 2, headSize: 0.9 }));
  }
  return out;
}

/**
 * Decoder-row arrows of one instance (`wDec` = [d_sae × 2], row-major), rotated.
 *
 * @example
 * ```ts
 * import { decoderArrows } from "./figures.ts";
 * const rot = { theta: 0, mode: "atan2" as const, R: [1, 0, 0, 1] as [number, number, number, number] };
 * decoderArrows([1, 0, 0, 1], rot, { xaxis: "x", yaxis: "y" }, "black", 2).length; // 2
 * ```
 */
export function decoderArrows(
  wDec: readonly number[],
  rot: Rotation,
  axes: AxisPair,
  color: string,
  width: number,
): Annotation[] {
  const out: Annotation[] = [];
  for (let j = 0; j < wDec.length / 2; j++) {
    const tip = rotateVec([wDec[j * 2]!, wDec[j * 2 + 1]!], rot);
    out.push(arrow([0, 0], tip, { axes, color, width, head: 2, headSize: width >= 2 ? 1 : 1.4 }));
  }
  return out;
}

/**
 * The toy model figure: learned feature directions (rotated, labelled) and the
 * training loss per step (log scale; steps with loss 0 are left out).
 *
 * @example
 * ```ts
 * import { toyModelFigure } from "./figures.ts";
 * import { ComposedFeatureData, datasetConfig } from "./data.ts";
 * import { defaultToyTrainConfig, trainToyModel } from "./model.ts";
 * const r = trainToyModel(new ComposedFeatureData(datasetConfig("D1")), defaultToyTrainConfig({ steps: 100 }));
 * const fig = toyModelFigure(r.model, r.losses, [2, 2], "D1: toy model");
 * ```
 */
export function toyModelFigure(
  toy: ToyModel,
  losses: Float64Array,
  featSets: readonly number[],
  title: string,
  rot: Rotation = rotationFor(toy),
): Figure {
  const p = panelLayout([
    {
      x: [0, 0.4],
      y: [0, 1],
      equalAspect: true,
      xaxis: planeAxis(true),
      yaxis: planeAxis(true),
      title: "hidden plane",
    },
    {
      x: [0.52, 1],
      y: [0, 1],
      xaxis: { title: { text: "step" } },
      yaxis: { type: "log", title: { text: "loss" }, exponentformat: "power" },
      title: "training loss",
    },
  ], { width: 900, height: 380, title, margin: { l: 50, r: 20, t: 60, b: 55 } });
  const names = featureNames(featSets);
  const annotations = toyArrows(toy, featSets, rot, p.axes(0));
  for (let i = 0; i < toy.n_in; i++) {
    const [x, y] = rotateVec([toy.W[i * 2]!, toy.W[i * 2 + 1]!], rot);
    const set = setOf(featSets, i);
    const pos = set === 0 ? [x, y + 0.12] : [x + 0.14, y];
    annotations.push(
      label(names[i]!, pos[0]!, pos[1]!, { xref: "x", yref: "y", font: { size: 13, color: setColor(set) } }),
    );
  }
  const stride = Math.max(1, Math.floor(losses.length / 1000));
  const xs: number[] = [];
  const ys: number[] = [];
  for (let s = 0; s < losses.length; s += stride) {
    if (losses[s]! > 0) {
      xs.push(s + 1);
      ys.push(losses[s]!);
    }
  }
  const traces: Trace[] = [lineTrace(xs, ys, { color: "rgb(40,40,40)", axes: p.axes(1), width: 1.5 })];
  return figure(traces, mergeLayout(p.layout, { annotations }));
}

/** Numbers behind a schematic. */
export interface SchematicData {
  dataset: string;
  lr: number;
  l1: number;
  /** Instance (position within the cell) drawn in panels B, C, D, E, F. */
  panel_instances: number[];
  /** Loss of each instance in panel order. */
  panel_losses: number[];
  /** "lowest-loss" (this project) — the study drew instance 0 in the large panel. */
  large_panel: "lowest-loss";
  /** Rotated toy feature tips and decoder tips per panel. */
  toy_tips: [number, number][];
  decoder_tips: [number, number][][];
}

/**
 * The 6-panel schematic of one grid cell (§7.3 panel boxes on a 6.5 × 2 in
 * canvas, 1300 × 400 px): A toy features, B the lowest-loss instance (with
 * latent labels f1…), C–F the other instances in increasing loss.
 *
 * @example
 * ```ts
 * import { schematicFigure } from "./figures.ts";
 * // const { fig, data } = schematicFigure(run, run.cells[12]!, toy); data.panel_instances; // lowest loss first
 * ```
 */
export function schematicFigure(
  run: GridRun,
  cell: GridCell,
  toy: ToyModel,
  rot: Rotation = rotationFor(toy),
): { fig: Figure; data: SchematicData } {
  const featSets = run.data.feat_sets;
  const boxes: [number, number, number, number][] = [
    [0, 0, 0.3, 1],
    [0.35, 0, 0.3, 1],
    [0.7, 0.5, 0.15, 0.5],
    [0.85, 0.5, 0.15, 0.5],
    [0.7, 0, 0.15, 0.5],
    [0.85, 0, 0.15, 0.5],
  ];
  const p = panelLayout(
    boxes.map(([l, b, w, h], k) => ({
      x: [l + (k >= 2 ? 0.008 : 0), l + w - (k >= 2 ? 0.008 : 0)] as [number, number],
      y: [b + (k >= 2 ? 0.02 : 0), b + h - (k >= 2 ? 0.02 : 0)] as [number, number],
      equalAspect: true,
      xaxis: planeAxis(k < 2),
      yaxis: planeAxis(k < 2),
    })),
    { width: 1300, height: 420, margin: { l: 40, r: 10, t: 40, b: 30 } },
  );
  const order = cell.instances.map((_, k) => k).sort((a, b) =>
    cell.instances[a]!.loss - cell.instances[b]!.loss || a - b
  );
  const names = featureNames(featSets);
  const annotations: Annotation[] = [...toyArrows(toy, featSets, rot, p.axes(0))];
  const toyTips: [number, number][] = [];
  for (let i = 0; i < toy.n_in; i++) {
    const [x, y] = rotateVec([toy.W[i * 2]!, toy.W[i * 2 + 1]!], rot);
    toyTips.push([x, y]);
    const set = setOf(featSets, i);
    const pos = set === 0 ? [x, y + 0.1] : [x + 0.1, y];
    annotations.push(label(names[i]!, pos[0]!, pos[1]!, { xref: "x", yref: "y", font: { size: 14 } }));
  }
  const decoderTips: [number, number][][] = [];
  const xOff = [0, -0.125, 0, -0.1];
  const yOff = [0, -0.1, -0.15, 0];
  order.slice(0, 5).forEach((inst, k) => {
    const axes = p.axes(k + 1);
    annotations.push(...toyArrows(toy, featSets, rot, axes));
    const w = cell.instances[inst]!.W_dec;
    annotations.push(...decoderArrows(w, rot, axes, "black", 2));
    const tips: [number, number][] = [];
    for (let j = 0; j < w.length / 2; j++) tips.push(rotateVec([w[j * 2]!, w[j * 2 + 1]!], rot));
    decoderTips.push(tips);
    if (k === 0) {
      tips.forEach(([x, y], j) => {
        annotations.push(
          label(`f${j + 1}`, x + (xOff[j] ?? 0), y + (yOff[j] ?? 0), {
            xref: axes.xaxis,
            yref: axes.yaxis,
            xanchor: "left",
            yanchor: "bottom",
            font: { size: 14 },
          }),
        );
      });
    }
  });
  annotations.push(
    label(
      `${run.dataset}: lr=${sci(cell.lr)}, λ=${cell.l1}; B = lowest-loss instance, C–F = the others by loss`,
      0,
      1.06,
      { xanchor: "left", yanchor: "bottom", font: { size: 13 } },
    ),
  );
  return {
    fig: figure([], mergeLayout(p.layout, { annotations })),
    data: {
      dataset: run.dataset,
      lr: cell.lr,
      l1: cell.l1,
      panel_instances: order.slice(0, 5),
      panel_losses: order.slice(0, 5).map((k) => cell.instances[k]!.loss),
      large_panel: "lowest-loss",
      toy_tips: toyTips,
      decoder_tips: decoderTips,
    },
  };
}

/**
 * "3×10⁻⁵" for 3e-5 (the study's `to_scientific`, 0 decimals).
 *
 * @example
 * ```ts
 * import { sci } from "./figures.ts";
 * sci(3e-5); // "3×10⁻⁵"
 * ```
 */
export function sci(v: number): string {
  const e = Math.floor(Math.log10(v));
  const m = Math.round(v / 10 ** e);
  const sup: Record<string, string> = {
    "-": "⁻",
    "0": "⁰",
    "1": "¹",
    "2": "²",
    "3": "³",
    "4": "⁴",
    "5": "⁵",
    "6": "⁶",
    "7": "⁷",
    "8": "⁸",
    "9": "⁹",
  };
  return `${m}×10${String(e).split("").map((c) => sup[c] ?? c).join("")}`;
}

/** Per-cell numbers of a grid figure (the figure's data JSON). */
export interface GridFigureData {
  dataset: string;
  rotation: { theta: number; mode: string };
  lrs: number[];
  l1s: number[];
  toy_W: number[];
  cells: {
    row: number;
    col: number;
    lr: number;
    l1: number;
    seed: number;
    lowest_loss_instance: number;
    most_monosemantic_instance: number;
    axis_cos: number;
    diag_cos: number;
    composed: boolean;
    instances: {
      index: number;
      seed: number;
      loss: number;
      normalized_mse: number;
      l1: number;
      l0: number;
      monosemanticity: number;
      dead_true: number;
      dead_eval: number;
      dead_train: number;
      dead_ghost_end: number;
      axis_cos: number;
      diag_cos: number;
      W_dec: number[];
    }[];
  }[];
  composed_cells: number;
}

/**
 * The lr × ℓ1 grid figure (FIG-G): one square panel per cell with the toy
 * features, the lowest-loss instance (black, width 2) and the most
 * monosemantic one (grey, width 1) when different. Rows: lr top to bottom;
 * columns: λ left to right.
 *
 * @example
 * ```ts
 * import { gridFigure } from "./figures.ts";
 * // const { fig, data } = gridFigure(run, toy); data.composed_cells
 * ```
 */
export function gridFigure(run: GridRun, toy: ToyModel, rot: Rotation = rotationFor(toy)): {
  fig: Figure;
  data: GridFigureData;
} {
  const { lrs, l1s } = run.config;
  const g = gridLayout(lrs.length, l1s.length, {
    square: true,
    equalAspect: true,
    width: 900,
    gapX: 10,
    gapY: 10,
    rowLabels: lrs.map((v) => `lr=${sci(v)}`),
    colLabels: l1s.map((v) => `λ=${v}`),
    xaxis: planeAxis(false),
    yaxis: planeAxis(false),
    title: `${run.dataset}: SAE decoder directions (black: lowest loss, grey: most monosemantic)`,
  });
  const annotations: Annotation[] = [];
  for (const cell of run.cells) {
    const axes = g.axes(cell.row, cell.col);
    annotations.push(...toyArrows(toy, run.data.feat_sets, rot, axes));
    if (cell.most_monosemantic !== cell.lowest_loss) {
      annotations.push(
        ...decoderArrows(cell.instances[cell.most_monosemantic]!.W_dec, rot, axes, "rgb(128,128,128)", 1),
      );
    }
    annotations.push(...decoderArrows(cell.instances[cell.lowest_loss]!.W_dec, rot, axes, "black", 2));
  }
  const data: GridFigureData = {
    dataset: run.dataset,
    rotation: { theta: rot.theta, mode: rot.mode },
    lrs: [...lrs],
    l1s: [...l1s],
    toy_W: Array.from(toy.W),
    cells: run.cells.map((c) => ({
      row: c.row,
      col: c.col,
      lr: c.lr,
      l1: c.l1,
      seed: c.seed,
      lowest_loss_instance: c.lowest_loss,
      most_monosemantic_instance: c.most_monosemantic,
      axis_cos: c.axis_cos,
      diag_cos: c.diag_cos,
      composed: c.composed,
      instances: c.instances.map((e) => ({
        index: e.index,
        seed: c.seed,
        loss: e.loss,
        normalized_mse: e.normalized_mse,
        l1: e.l1,
        l0: e.l0,
        monosemanticity: e.monosemanticity,
        dead_true: e.dead_true,
        dead_eval: e.dead_eval,
        dead_train: e.dead_train,
        dead_ghost_end: e.dead_ghost_end,
        axis_cos: e.axis_cos,
        diag_cos: e.diag_cos,
        W_dec: e.W_dec,
      })),
    })),
    composed_cells: run.cells.filter((c) => c.composed).length,
  };
  return { fig: figure([], mergeLayout(g.layout, { annotations })), data };
}
