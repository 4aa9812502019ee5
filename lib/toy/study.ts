/**
 * Study A end to end for one data set, as the notebooks `01`/`02` run it:
 * generator statistics, the toy model (training, geometry, hidden covariance),
 * the SAE grid, and the three figures `figures/toy_model_{D}`,
 * `figures/toy_schematic_{D}` and `figures/toy_grid_{D}`. The notebooks keep
 * the prose, the tables and the checks; this module keeps the logic.
 *
 * @example
 * ```ts
 * import { generatorStats, toyStudyConfig } from "./study.ts";
 * const cfg = toyStudyConfig(true); // the QUICK=1 configuration
 * const stats = generatorStats("D3u", 100_000, cfg.seed);
 * stats.map((r) => r.z); // deviations in standard errors
 * ```
 *
 * @module
 */

import { checkClose } from "../check.ts";
import { Rng } from "../engine/rng.ts";
import { save } from "../plot/mod.ts";
import { ComposedFeatureData, datasetConfig, type DatasetName, eventFrequencies } from "./data.ts";
import {
  defaultToyTrainConfig,
  hiddenActivations,
  type ToyTrainConfig,
  type ToyTrainResult,
  trainToyModelRestarts,
} from "./model.ts";
import {
  type AntipodalCosines,
  antipodalCosines,
  type CovarianceSummary,
  DEFAULT_ROTATION,
  type DictionaryL1,
  dictionaryL1,
  EXPECTED_DICTIONARY_L1,
  hiddenCovariance,
  rotationFor,
} from "./analysis.ts";
import { defaultGridConfig, type GridConfig, type GridRun, runGrid } from "./grid.ts";
import { gridFigure, schematicFigure, toyModelFigure } from "./figures.ts";

/** Everything a study-A notebook runs with. */
export interface ToyStudyConfig {
  /** Reduced run (QUICK=1). */
  quick: boolean;
  /** Base seed: toy model, SAE init, batches and evaluation streams derive from it. */
  seed: number;
  /** Toy-model recipe (seed included: restart r uses seed + r). */
  toy: ToyTrainConfig;
  /** Toy models trained per data set; the one with the lowest final loss is used. */
  toy_restarts: number;
  /** SAE grid (seed included). */
  grid: GridConfig;
  /** Samples for the generator-frequency and dictionary-ℓ1 checks. */
  check_samples: number;
  /** Samples for the hidden covariance. */
  covariance_samples: number;
  /** The grid cell drawn in the schematic (the study's code defaults, the grid's centre). */
  schematic_cell: { lr: number; l1: number };
}

/**
 * The study's configuration (full) or the reduced one (`quick`): the quick run
 * keeps the toy model, the 5 × 5 grid and 5 instances but trains SAEs for 3,000
 * steps of 256 samples instead of 31,250 of 1,024.
 *
 * @example
 * ```ts
 * import { toyStudyConfig } from "./study.ts";
 * toyStudyConfig(false).grid.total_steps; // 31250
 * ```
 */
export function toyStudyConfig(quick: boolean, seed = 20240314): ToyStudyConfig {
  return {
    quick,
    seed,
    toy: defaultToyTrainConfig({ seed }),
    toy_restarts: 4,
    grid: defaultGridConfig({
      seed,
      total_steps: quick ? 3_000 : 31_250,
      batch_size: quick ? 256 : 1024,
      eval_samples: 10_000,
      heldout_samples: quick ? 20_000 : 100_000,
    }),
    check_samples: quick ? 100_000 : 400_000,
    covariance_samples: 100_000,
    schematic_cell: { lr: 3e-4, l1: 0.1 },
  };
}

/** One row of the generator-frequency table. */
export interface GeneratorRow {
  event: string;
  expected: number;
  observed: number;
  /** Standard error of the observed frequency at the expected probability. */
  se: number;
  /** (observed − expected) / se. */
  z: number;
}

/**
 * Event frequencies of `n` fresh samples of data set `name` (stream "check/generator")
 * against the table's probabilities.
 *
 * @example
 * ```ts
 * import { generatorStats } from "./study.ts";
 * generatorStats("D1", 10_000, 0).map((r) => r.observed); // ≈ 0.25 each
 * ```
 */
export function generatorStats(name: DatasetName, n: number, seed: number): GeneratorRow[] {
  const data = new ComposedFeatureData(datasetConfig(name));
  const freq = eventFrequencies(data, data.sample(n, new Rng(seed, "check/generator")), n);
  const rows = data.events.map((e) => {
    const observed = freq.get(e.label) ?? 0;
    const se = Math.sqrt(e.probability * (1 - e.probability) / n);
    return { event: e.label, expected: e.probability, observed, se, z: (observed - e.probability) / se };
  });
  const other = [...freq.keys()].filter((k) => !data.events.some((e) => e.label === k));
  for (const k of other) rows.push({ event: k || "(none)", expected: 0, observed: freq.get(k)!, se: 0, z: Infinity });
  return rows;
}

/**
 * The ℓ1 of hand-built dictionaries on fresh samples (stream "check/dictionary") and the §9.5 values.
 *
 * @example
 * ```ts
 * import { dictionaryStats } from "./study.ts";
 * dictionaryStats("D1", 10_000, 0).measured.diagonal; // ≈ 0.707
 * ```
 */
export function dictionaryStats(
  name: DatasetName,
  n: number,
  seed: number,
): { measured: DictionaryL1; expected: { axis: number; diagonal: number; bound: number } } {
  const data = new ComposedFeatureData(datasetConfig(name));
  return {
    measured: dictionaryL1(data.sample(n, new Rng(seed, "check/dictionary")), n),
    expected: EXPECTED_DICTIONARY_L1[name]!,
  };
}

/** One row of the hand-built dictionary table: measured and expected ℓ1 at zero reconstruction error. */
export interface DictionaryRow {
  dataset: DatasetName;
  axis_l1: number;
  diagonal_l1: number;
  bound: number;
  axis_expected: number;
  diagonal_expected: number;
  bound_expected: number;
  /** Relative ℓ1 saving of the diagonal dictionary over the axes (negative: the axes are cheaper). */
  diagonal_saving: number;
  /** Largest standard error of the three measured means. */
  se: number;
}

/**
 * The hand-built dictionary table for several data sets, measured on `n`
 * fresh samples each ({@link dictionaryStats}).
 *
 * @example
 * ```ts
 * import { checkDictionaryRows, dictionaryRows } from "./study.ts";
 * checkDictionaryRows(dictionaryRows(["D1"], 20_000, 0));
 * ```
 */
export function dictionaryRows(names: readonly DatasetName[], n: number, seed: number): DictionaryRow[] {
  return names.map((name) => {
    const d = dictionaryStats(name, n, seed);
    return {
      dataset: name,
      axis_l1: d.measured.axis,
      diagonal_l1: d.measured.diagonal,
      bound: d.measured.bound,
      axis_expected: d.expected.axis,
      diagonal_expected: d.expected.diagonal,
      bound_expected: d.expected.bound,
      diagonal_saving: 1 - d.measured.diagonal / d.measured.axis,
      se: Math.max(d.measured.se.axis, d.measured.se.diagonal, d.measured.se.bound),
    };
  });
}

/**
 * Checks each row against the derived table (spec §9.5) within five standard
 * errors; throws a `CheckError` naming the data set and quantity otherwise.
 */
export function checkDictionaryRows(rows: DictionaryRow[]): void {
  for (const r of rows) {
    checkClose(r.axis_l1, r.axis_expected, 5 * r.se, `${r.dataset} axis-dictionary ℓ1`);
    checkClose(r.diagonal_l1, r.diagonal_expected, 5 * r.se, `${r.dataset} diagonal-dictionary ℓ1`);
    checkClose(r.bound, r.bound_expected, 5 * r.se, `${r.dataset} ℓ1 bound E‖h‖`);
  }
}

/** One toy-model restart: its seed, final loss and geometry. */
export interface ToyRestartRow {
  seed: number;
  final_loss: number;
  cos_x1_x2: number;
  cos_y1_y2: number;
  max_abs_cos_x_y: number;
  selected: boolean;
}

/** The selected toy model with its geometry checks, and every restart. */
export interface ToyStage {
  result: ToyTrainResult;
  antipodal: AntipodalCosines;
  covariance: CovarianceSummary;
  restarts: ToyRestartRow[];
}

/**
 * Trains `cfg.toy_restarts` toy models of `name`, keeps the lowest-loss one and saves
 * `figures/toy_model_{name}` (geometry + loss curve).
 *
 * @example
 * ```ts
 * import { initBackend } from "../engine/backend.ts";
 * import { defaultToyTrainConfig } from "./model.ts";
 * import { runToyStage, toyStudyConfig } from "./study.ts";
 * Deno.env.set("SAE_OUT_DIR", await Deno.makeTempDir()); // figures go to a scratch folder
 * await initBackend();
 * const cfg = { ...toyStudyConfig(true), toy: defaultToyTrainConfig({ steps: 100 }), toy_restarts: 1 }; // tiny
 * const stage = await runToyStage("D1", cfg);
 * stage.antipodal.x; // ≈ −1 after the study's full training
 * ```
 */
export async function runToyStage(name: DatasetName, cfg: ToyStudyConfig): Promise<ToyStage> {
  const data = new ComposedFeatureData(datasetConfig(name));
  const runs = trainToyModelRestarts(data, cfg.toy, cfg.toy_restarts);
  const result = runs.best;
  const restarts = runs.restarts.map((r, i) => {
    const a = antipodalCosines(r.result.model);
    return {
      seed: r.seed,
      final_loss: r.final_loss,
      cos_x1_x2: a.x,
      cos_y1_y2: a.y,
      max_abs_cos_x_y: a.xyMaxAbs,
      selected: i === runs.bestIndex,
    };
  });
  const n = cfg.covariance_samples;
  const h = hiddenActivations(result.model, data.sample(n, new Rng(cfg.seed, "check/covariance")), n);
  const covariance = hiddenCovariance(h, n, result.model.n_hid);
  const antipodal = antipodalCosines(result.model);
  const rot = rotationFor(result.model, DEFAULT_ROTATION);
  const stride = Math.max(1, Math.floor(result.losses.length / 2000));
  await save(
    toyModelFigure(result.model, result.losses, data.config.feat_sets, `${name}: toy model`, rot),
    `toy_model_${name}`,
    {
      dataset: name,
      config: cfg.toy,
      W: Array.from(result.model.W),
      b: Array.from(result.model.b),
      rotation: { theta: rot.theta, mode: rot.mode },
      antipodal,
      covariance,
      loss_steps: Array.from({ length: Math.ceil(result.losses.length / stride) }, (_, i) => i * stride + 1),
      loss: Array.from({ length: Math.ceil(result.losses.length / stride) }, (_, i) => result.losses[i * stride]!),
      final_loss: result.losses[result.losses.length - 1]!,
    },
  );
  return { result, antipodal, covariance, restarts };
}

/**
 * Trains the SAE grid of `name` on the toy model and saves the grid and schematic figures.
 *
 * @example
 * ```ts
 * import { initBackend } from "../engine/backend.ts";
 * import { defaultGridConfig } from "./grid.ts";
 * import { defaultToyTrainConfig } from "./model.ts";
 * import { runGridStage, runToyStage, toyStudyConfig } from "./study.ts";
 * Deno.env.set("SAE_OUT_DIR", await Deno.makeTempDir()); // figures go to a scratch folder
 * await initBackend();
 * const grid1 = defaultGridConfig({ lrs: [3e-4], l1s: [0.1], instances: 1, total_steps: 50, batch_size: 64 });
 * const cfg = { // tiny: one cell, 50 steps
 *   ...toyStudyConfig(true),
 *   toy: defaultToyTrainConfig({ steps: 100 }),
 *   toy_restarts: 1,
 *   grid: { ...grid1, eval_samples: 1000, heldout_samples: 1000 },
 *   check_samples: 1000,
 * };
 * const grid = await runGridStage("D1", await runToyStage("D1", cfg), cfg);
 * ```
 */
export async function runGridStage(
  name: DatasetName,
  toy: ToyStage,
  cfg: ToyStudyConfig,
  onProgress?: (done: number, total: number) => void,
): Promise<GridRun> {
  const data = datasetConfig(name);
  const model = toy.result.model;
  const run = await runGrid(name, data, model, cfg.grid, onProgress);
  const rot = rotationFor(model, DEFAULT_ROTATION);
  const g = gridFigure(run, model, rot);
  await save(g.fig, `toy_grid_${name}`, g.data);
  const cell = run.cells.find((c) => c.lr === cfg.schematic_cell.lr && c.l1 === cfg.schematic_cell.l1);
  if (!cell) {
    throw new Error(
      `schematic cell lr=${cfg.schematic_cell.lr}, λ=${cfg.schematic_cell.l1} is not in the grid (${
        cfg.grid.lrs.join(", ")
      } × ${cfg.grid.l1s.join(", ")})`,
    );
  }
  const s = schematicFigure(run, cell, model, rot);
  await save(s.fig, `toy_schematic_${name}`, s.data);
  return run;
}

/** One row per cell for a table: the lowest-loss instance's numbers and the cell's alignment. */
export interface CellRow {
  lr: number;
  l1: number;
  /** The selection score of the drawn instance on the cell's fresh batch (robust by default). */
  loss: number;
  /** Σ error / Σ ‖h‖² on the held-out set. */
  mse_ratio: number;
  /** Median per-sample normalised MSE on the held-out set. */
  median_nmse: number;
  /** Mean per-sample normalised MSE on the held-out set (the study's; near-zero samples can decide it). */
  normalized_mse: number;
  /** ‖ĥ(0)‖. */
  offset_at_zero: number;
  /** Worse than outputting zero. */
  broken: boolean;
  /** Whether the study's measure picks a different instance. */
  study_pick_differs: boolean;
  l1_mean: number;
  l0: number;
  monosemanticity: number;
  max_monosemanticity: number;
  dead_true: number;
  axis_cos: number;
  diag_cos: number;
  composed: boolean;
}

/**
 * Per-cell summary rows of a grid (row-major).
 *
 * @example
 * ```ts
 * import { cellRows } from "./study.ts";
 * import type { GridRun } from "./grid.ts";
 * const rowsOf: (run: GridRun) => unknown[] = cellRows;
 * ```
 */
export function cellRows(run: GridRun): CellRow[] {
  return run.cells.map((c) => {
    const b = c.instances[c.lowest_loss]!;
    return {
      lr: c.lr,
      l1: c.l1,
      loss: run.config.selection === "study" ? b.selection_study : b.selection_robust,
      mse_ratio: b.mse_ratio,
      median_nmse: b.median_normalized_mse,
      normalized_mse: b.normalized_mse,
      offset_at_zero: b.offset_at_zero,
      broken: b.broken,
      study_pick_differs: c.lowest_loss_study !== c.lowest_loss,
      l1_mean: b.l1,
      l0: b.l0,
      monosemanticity: b.monosemanticity,
      max_monosemanticity: c.instances[c.most_monosemantic]!.monosemanticity,
      dead_true: b.dead_true,
      axis_cos: c.axis_cos,
      diag_cos: c.diag_cos,
      composed: c.composed,
    };
  });
}

/**
 * Columns of `rows` as arrays (for `pl.DataFrame`).
 *
 * @example
 * ```ts
 * import { columns } from "./study.ts";
 * columns([{ a: 1, b: "x" }, { a: 2, b: "y" }]); // { a: [1, 2], b: ["x", "y"] }
 * ```
 */
export function columns<T extends object>(rows: T[]): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  if (rows.length === 0) return out;
  for (const key of Object.keys(rows[0]!)) out[key] = rows.map((r) => (r as Record<string, unknown>)[key]);
  return out;
}
