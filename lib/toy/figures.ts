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
 * 0. Here the large panel (B) shows the **lowest-loss** instance (by the grid's
 * selection measure, robust by default: see `grid.ts`) and panels C–F the other
 * four in increasing loss; {@link schematicFigure} reports the order.
 *
 * **Broken instances** (reconstruction worse than outputting zero, `isBroken`)
 * are marked with a red "✕ nMSE>1" in their panel, in the grid and the schematic.
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

/** Colour of the broken-instance mark. */
export const BROKEN_RED = "rgb(200,30,30)";

/** The red "✕ nMSE>1" mark in the top-left corner of a panel. */
function brokenMark(axes: AxisPair, size: number): Annotation {
  return label("✕ nMSE>1", -1.05, 1.05, {
    xref: axes.xaxis,
    yref: axes.yaxis,
    xanchor: "left",
    yanchor: "top",
    font: { size, color: BROKEN_RED },
  });
}

/** The grid's selection score of instance k of a cell (lower is better). */
function selectionScore(run: GridRun, cell: GridCell, k: number): number {
  const e = cell.instances[k]!;
  return run.config.selection === "study" ? e.selection_study : e.selection_robust;
}

/**
 * Positions for latent labels f1… next to the decoder tips: radially outward at 1.12 (each coordinate
 * kept within ±1.08, inside the ±1.1 panel), then shifted sideways (perpendicular to the row, alternating
 * sides, in steps of 0.18) while closer than 0.2 to an earlier label, so labels do not overlap.
 *
 * @example
 * ```ts
 * import { labelPositions } from "./figures.ts";
 * labelPositions([[1, 0], [1, 0.01]]); // [[1.08, 0], [≈1.08, ≈0.19]]
 * ```
 */
export function labelPositions(tips: readonly (readonly [number, number])[]): [number, number][] {
  const out: [number, number][] = [];
  const clamp = (v: number) => Math.max(-1.08, Math.min(1.08, v));
  for (const [x, y] of tips) {
    const n = Math.hypot(x, y) || 1;
    const [ux, uy] = [x / n, y / n];
    let pos: [number, number] = [clamp(ux * 1.12), clamp(uy * 1.12)];
    for (let k = 1; k <= 8 && out.some(([a, b]) => Math.hypot(a - pos[0], b - pos[1]) < 0.2); k++) {
      const side = (k % 2 === 1 ? 1 : -1) * Math.ceil(k / 2) * 0.18;
      pos = [clamp(ux * 1.12 - uy * side), clamp(uy * 1.12 + ux * side)];
    }
    out.push(pos);
  }
  return out;
}

/** Numbers behind a schematic. */
export interface SchematicData {
  dataset: string;
  lr: number;
  l1: number;
  /** Instance (position within the cell) drawn in panels B, C, D, E, F. */
  panel_instances: number[];
  /** Selection loss of each instance in panel order (the grid's measure on the cell's fresh batch). */
  panel_losses: number[];
  /** Whether each instance, in panel order, reconstructs worse than zero. */
  panel_broken: boolean[];
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
  const score = (k: number) => selectionScore(run, cell, k);
  const order = cell.instances.map((_, k) => k).sort((a, b) => score(a) - score(b) || a - b);
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
  order.slice(0, 5).forEach((inst, k) => {
    const axes = p.axes(k + 1);
    annotations.push(...toyArrows(toy, featSets, rot, axes));
    const w = cell.instances[inst]!.W_dec;
    annotations.push(...decoderArrows(w, rot, axes, "black", 2));
    const tips: [number, number][] = [];
    for (let j = 0; j < w.length / 2; j++) tips.push(rotateVec([w[j * 2]!, w[j * 2 + 1]!], rot));
    decoderTips.push(tips);
    if (cell.instances[inst]!.broken) annotations.push(brokenMark(axes, k === 0 ? 14 : 10));
    if (k === 0) {
      labelPositions(tips).forEach(([x, y], j) => {
        annotations.push(label(`f${j + 1}`, x, y, { xref: axes.xaxis, yref: axes.yaxis, font: { size: 14 } }));
      });
    }
  });
  // panel letters
  boxes.forEach(([l, b, , h], k) => {
    annotations.push(
      label("ABCDEF"[k]!, l + (k >= 2 ? 0.012 : 0.005), b + h - (k >= 2 ? 0.03 : 0.01), {
        xanchor: "left",
        yanchor: "top",
        font: { size: 15, color: "rgb(60,60,60)" },
      }),
    );
  });
  annotations.push(
    label(
      `${run.dataset}: lr=${sci(cell.lr)}, λ=${cell.l1}; A toy features, B lowest-loss SAE, C–F the others by loss`,
      0,
      1.06,
      { xanchor: "left", yanchor: "bottom", font: { size: 13 } },
    ),
    // colour key
    label(
      `<span style="color:${DARK2_GREEN}">━ x features</span>  <span style="color:${DARK2_ORANGE}">━ y features</span>` +
        `  ━ SAE decoder rows  <span style="color:${BROKEN_RED}">✕ nMSE>1</span>`,
      1,
      1.06,
      { xanchor: "right", yanchor: "bottom", font: { size: 12 } },
    ),
  );
  return {
    fig: figure([], mergeLayout(p.layout, { annotations })),
    data: {
      dataset: run.dataset,
      lr: cell.lr,
      l1: cell.l1,
      panel_instances: order.slice(0, 5),
      panel_losses: order.slice(0, 5).map(score),
      panel_broken: order.slice(0, 5).map((k) => cell.instances[k]!.broken),
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
    /** The study's pick (mean per-sample normalised MSE + λ·ℓ1) on the same fresh batch. */
    lowest_loss_study_instance: number;
    most_monosemantic_instance: number;
    /** The selected instance reconstructs worse than zero. */
    broken: boolean;
    axis_cos: number;
    diag_cos: number;
    composed: boolean;
    instances: {
      index: number;
      seed: number;
      loss: number;
      robust_loss: number;
      selection_robust: number;
      selection_study: number;
      normalized_mse: number;
      mse_ratio: number;
      median_normalized_mse: number;
      broken: boolean;
      offset_at_zero: number;
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
      b_enc: number[];
      b_dec: number[];
    }[];
  }[];
  composed_cells: number;
  /** Cells whose selected instance is broken. */
  broken_cells: number;
  /** Which measure selected the drawn instances. */
  selection: string;
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
    title: `${run.dataset}: SAE decoder directions (black: lowest loss, grey: most monosemantic, ` +
      `<span style="color:${BROKEN_RED}">✕</span>: reconstructs worse than zero)`,
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
    if (cell.broken) annotations.push(brokenMark(axes, 11));
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
      lowest_loss_study_instance: c.lowest_loss_study,
      most_monosemantic_instance: c.most_monosemantic,
      broken: c.broken,
      axis_cos: c.axis_cos,
      diag_cos: c.diag_cos,
      composed: c.composed,
      instances: c.instances.map((e) => ({
        index: e.index,
        seed: c.seed,
        loss: e.loss,
        robust_loss: e.robust_loss,
        selection_robust: e.selection_robust,
        selection_study: e.selection_study,
        normalized_mse: e.normalized_mse,
        mse_ratio: e.mse_ratio,
        median_normalized_mse: e.median_normalized_mse,
        broken: e.broken,
        offset_at_zero: e.offset_at_zero,
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
        b_enc: e.b_enc,
        b_dec: e.b_dec,
      })),
    })),
    composed_cells: run.cells.filter((c) => c.composed).length,
    broken_cells: run.cells.filter((c) => c.broken).length,
    selection: run.config.selection,
  };
  return { fig: figure([], mergeLayout(g.layout, { annotations })), data };
}
