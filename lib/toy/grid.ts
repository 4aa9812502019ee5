/**
 * One data set's SAE sweep (study A §6.8): a learning-rate × ℓ1 grid
 * (5 × 5 in the study) with several instances per cell, all trained at once by
 * the fused kernel (`lib/toy/fused_small.ts`) on the frozen toy model's hidden
 * activations, then evaluated with the SAE core's metrics.
 *
 * Seeds and streams (all derived from `GridConfig.seed`):
 * - SAE init: cell c (row-major, lr outer, λ inner — the study's `saes[i*5 + j]`)
 *   uses `createSae(…, seed + c)`, i.e. stream "sae/init" of seed + c, one draw for its instances;
 * - `b_dec` init: geometric median of 5,000 samples of stream "sae/bdec";
 * - training batches: by default one stream per cell, "sae/batches/group{c}", shared by the cell's
 *   instances (the study trained one config at a time on its own draws); with `stream_per_cell: false`,
 *   one stream "sae/batches" shared by every instance of the grid;
 * - selection: a fresh batch of `eval_samples` per cell, stream "sae/select/{c}" (the study's `plot_grid`
 *   drew a fresh 10,000-sample batch per cell);
 * - held-out evaluation: `heldout_samples` samples of stream "sae/eval", the same for every instance.
 *
 * **Selection.** The "lowest-loss" instance of a cell is the one with the lowest robust loss on the
 * cell's fresh batch: Σ‖ĥ − h‖² / Σ‖h‖² + λ·ℓ1 (`selection: "robust"`, the default). The study's
 * measure, mean per-sample ‖ĥ − h‖²/‖h‖² + λ·ℓ1, can be decided by one sample with ‖h‖ near zero;
 * its pick is kept as `lowest_loss_study` (and used when `selection: "study"`).
 *
 * @example
 * ```ts
 * import { ComposedFeatureData, datasetConfig } from "./data.ts";
 * import { defaultToyTrainConfig, trainToyModel } from "./model.ts";
 * import { defaultGridConfig, runGrid } from "./grid.ts";
 * import { initBackend } from "../engine/backend.ts";
 * await initBackend();
 * const data = new ComposedFeatureData(datasetConfig("D1"));
 * const { model } = trainToyModel(data, defaultToyTrainConfig({ seed: 0, steps: 200 }));
 * const grid = await runGrid("D1", data.config, model, defaultGridConfig({ total_steps: 50, instances: 2 }));
 * grid.cells.length; // 25
 * ```
 *
 * @module
 */

import { Rng } from "../engine/rng.ts";
import { defaultSaeConfig, defaultSaeTrainConfig, type SaeConfig, type SaeTrainConfig } from "../sae/config.ts";
import { createSae } from "../sae/sae.ts";
import { geometricMedian } from "../sae/geometric_median.ts";
import { fusedResultToSae, type FusedTrainResult, trainFusedSmall } from "./fused_small.ts";
import { type ComposedDataConfig, ComposedFeatureData } from "./data.ts";
import { hiddenActivations, type ToyModel } from "./model.ts";
import { evaluateInstances, type InstanceEval, reconstructionStats, selectInstances } from "./analysis.ts";

/** A grid sweep's configuration. Defaults: the study's grid, 32M samples per SAE (31,250 steps of 1,024). */
export interface GridConfig {
  /** Learning rates, one per grid row (top to bottom). */
  lrs: number[];
  /** ℓ1 coefficients, one per grid column (left to right). */
  l1s: number[];
  /** SAE instances per cell (study: 5). */
  instances: number;
  /** Optimiser steps per SAE. */
  total_steps: number;
  /** Samples per step. */
  batch_size: number;
  /** Base seed (see the module notes). */
  seed: number;
  /** Fresh samples per cell for the selection (the study's 10,000). */
  eval_samples: number;
  /** Held-out samples (one set for all instances) for the reported reconstruction measures. */
  heldout_samples: number;
  /** Which measure picks the "lowest-loss" instance: robust (Σ error / Σ‖h‖² + λ·ℓ1) or the study's. */
  selection: "robust" | "study";
  /** One training stream per cell (true, the study's design) or one for the whole grid. */
  stream_per_cell: boolean;
  /** Web Workers for training (0 = in this thread); null = the default (2 on a 2-core machine). */
  workers: number | null;
  /**
   * Each instance's loss is divided by batch · this: the study trained 5 instances per config with the loss
   * averaged over (instances × batch), so 5 keeps every gradient at the study's scale.
   */
  loss_instance_divisor: number;
  /** Further recipe overrides (defaults: the study's, `defaultSaeTrainConfig()`). */
  train_overrides: Partial<SaeTrainConfig>;
}

/** The study's learning rates (grid rows). */
export const STUDY_LRS: readonly number[] = [3e-5, 1e-4, 3e-4, 1e-3, 3e-3];
/** The study's ℓ1 coefficients (grid columns). */
export const STUDY_L1S: readonly number[] = [0.01, 0.03, 0.1, 0.3, 1.0];

/**
 * The study's grid configuration, overridden by `overrides`.
 *
 * @example
 * ```ts
 * import { defaultGridConfig } from "./grid.ts";
 * defaultGridConfig({ total_steps: 500 }).lrs; // [3e-5, 1e-4, 3e-4, 1e-3, 3e-3]
 * ```
 */
export function defaultGridConfig(overrides: Partial<GridConfig> = {}): GridConfig {
  return {
    lrs: [...STUDY_LRS],
    l1s: [...STUDY_L1S],
    instances: 5,
    total_steps: 31_250,
    batch_size: 1024,
    seed: 0,
    eval_samples: 10_000,
    heldout_samples: 100_000,
    selection: "robust",
    stream_per_cell: true,
    workers: null,
    loss_instance_divisor: 5,
    train_overrides: {},
    ...overrides,
  };
}

/** One grid cell: its hyperparameters, its instances and the two the figure shows. */
export interface GridCell {
  /** Row (learning rate index), 0 = top. */
  row: number;
  /** Column (ℓ1 index), 0 = left. */
  col: number;
  lr: number;
  l1: number;
  /** `createSae` seed of this cell's instances. */
  seed: number;
  /**
   * Per-instance evaluation on the held-out set (index = position in the grid SAE), with training dead
   * counts and the two selection scores on the cell's fresh batch.
   */
  instances: (InstanceEval & {
    dead_ghost_end: number;
    dead_train: number;
    selection_robust: number;
    selection_study: number;
  })[];
  /** Position within `instances` of the lowest-loss instance (black in the figure), by `GridConfig.selection`. */
  lowest_loss: number;
  /** … by the study's measure (mean per-sample normalised MSE + λ·ℓ1) on the same fresh batch. */
  lowest_loss_study: number;
  /** The selected instance reconstructs worse than outputting zero (held-out set; `isBroken`). */
  broken: boolean;
  /** Position within `instances` of the most monosemantic instance (grey when different). */
  most_monosemantic: number;
  /** Mean |cos| of the lowest-loss instance's decoder rows to the nearest true axis. */
  axis_cos: number;
  /** … to the nearest composed (diagonal) direction. */
  diag_cos: number;
  /** True when the lowest-loss instance is closer to the composed directions than to the axes. */
  composed: boolean;
}

/** A finished grid sweep. */
export interface GridRun {
  /** Data set name (D1, D2, D3u, D3c). */
  dataset: string;
  /** The data generator's configuration. */
  data: ComposedDataConfig;
  /** The sweep configuration. */
  config: GridConfig;
  /** The SAE shape (all cells × instances). */
  sae: SaeConfig;
  /** The training recipe (lr / ℓ1 per instance). */
  train: SaeTrainConfig;
  /** Shared `b_dec` initialisation (geometric median). */
  b_dec_init: number[];
  /** Cells, row-major. */
  cells: GridCell[];
  /** Training wall time and speed. */
  timing: { ms: number; ms_per_step: number; workers: number };
}

/**
 * Trains and evaluates one data set's grid on the frozen toy model `toy`.
 *
 * @param onProgress (finished steps, total steps) during training
 *
 * @example
 * ```ts
 * import { defaultGridConfig, runGrid } from "./grid.ts";
 * import { datasetConfig } from "./data.ts";
 * import { initToyModel } from "./model.ts";
 * import { Rng } from "../engine/rng.ts";
 * const toy = initToyModel(4, 2, new Rng(0));
 * const cfg = defaultGridConfig({ lrs: [1e-3], l1s: [0.1, 0.3], total_steps: 50, instances: 1, batch_size: 64 });
 * const run = await runGrid("D1", datasetConfig("D1"), toy, { ...cfg, eval_samples: 1000, heldout_samples: 1000 });
 * ```
 */
export async function runGrid(
  dataset: string,
  dataCfg: ComposedDataConfig,
  toy: ToyModel,
  cfg: GridConfig,
  onProgress?: (done: number, total: number) => void,
): Promise<GridRun> {
  validateGridConfig(cfg);
  const data = new ComposedFeatureData(dataCfg);
  const k = cfg.instances;
  const n = cfg.lrs.length * cfg.l1s.length * k;
  const dIn = toy.n_hid;
  const dSae = toy.n_in;
  const saeCfg = defaultSaeConfig({ d_in: dIn, d_sae: dSae, n_inst: n, model_name: "toy", dataset_path: dataset });
  const train = gridTrainConfig(cfg);
  const init = initialGridParams(cfg, dIn, dSae);
  const bDec = bDecInit(toy, data, train, cfg.seed);
  for (let i = 0; i < n; i++) init.b_dec.set(bDec, i * dIn);

  const result = await trainFusedSmall(saeCfg, train, init, {
    kind: "toy",
    data: dataCfg,
    toy,
    seed: cfg.seed,
    stream: "sae/batches",
    group_size: cfg.stream_per_cell ? k : 0,
  }, { workers: cfg.workers ?? undefined, onProgress });

  const scored = scoreGrid(result, toy, data, dataCfg, cfg, train.l1_coefficient as number[]);
  return {
    dataset,
    data: dataCfg,
    config: cfg,
    sae: saeCfg,
    train,
    b_dec_init: bDec,
    cells: gridCells(cfg, scored, result, dSae, train.dead_feature_threshold),
    timing: { ms: result.ms, ms_per_step: result.msPerStep, workers: result.workers },
  };
}

/** Throws a RangeError naming the first field of `cfg` {@link runGrid} cannot use. */
function validateGridConfig(cfg: GridConfig): void {
  if (cfg.lrs.length < 1 || cfg.l1s.length < 1) {
    throw new RangeError(`GridConfig: lrs and l1s need ≥ 1 value, got ${cfg.lrs.length} and ${cfg.l1s.length}`);
  }
  if (!Number.isInteger(cfg.instances) || cfg.instances < 1) {
    throw new RangeError(`GridConfig.instances: expected an integer ≥ 1, got ${cfg.instances}`);
  }
  for (const f of ["eval_samples", "heldout_samples"] as const) {
    if (!Number.isInteger(cfg[f]) || cfg[f] < 1) {
      throw new RangeError(`GridConfig.${f}: expected an integer ≥ 1, got ${cfg[f]}`);
    }
  }
  if (cfg.selection !== "robust" && cfg.selection !== "study") {
    throw new RangeError(`GridConfig.selection: expected "robust" or "study", got ${JSON.stringify(cfg.selection)}`);
  }
}

/** The training recipe of the grid: per-instance lr and ℓ1 (cell-major: lr, then ℓ1, then instance). */
function gridTrainConfig(cfg: GridConfig): SaeTrainConfig {
  const lr: number[] = [];
  const l1: number[] = [];
  for (const a of cfg.lrs) {
    for (const b of cfg.l1s) {
      for (let q = 0; q < cfg.instances; q++) {
        lr.push(a);
        l1.push(b);
      }
    }
  }
  return defaultSaeTrainConfig({
    ...cfg.train_overrides,
    lr,
    l1_coefficient: l1,
    total_steps: cfg.total_steps,
    batch_size: cfg.batch_size,
    loss_instance_divisor: cfg.loss_instance_divisor,
    seed: cfg.seed,
  });
}

/** Initial parameters: one createSae draw per cell (seed + cell); biases zero (b_dec is set by the caller). */
function initialGridParams(cfg: GridConfig, dIn: number, dSae: number) {
  const k = cfg.instances;
  const cells = cfg.lrs.length * cfg.l1s.length;
  const n = cells * k;
  const init = {
    W_enc: new Float32Array(n * dIn * dSae),
    b_enc: new Float32Array(n * dSae),
    W_dec: new Float32Array(n * dSae * dIn),
    b_dec: new Float32Array(n * dIn),
  };
  for (let c = 0; c < cells; c++) {
    const s = createSae(defaultSaeConfig({ d_in: dIn, d_sae: dSae, n_inst: k }), cfg.seed + c);
    const a = s.toArrays();
    s.dispose();
    init.W_enc.set(a.W_enc!.data, c * k * dIn * dSae);
    init.W_dec.set(a.W_dec!.data, c * k * dSae * dIn);
  }
  return init;
}

/** b_dec for every instance: by `train.b_dec_init_method` over fresh hidden activations (`[d_in]`). */
function bDecInit(toy: ToyModel, data: ComposedFeatureData, train: SaeTrainConfig, seed: number): number[] {
  const dIn = toy.n_hid;
  const nInit = train.b_dec_init_samples;
  const hInit = hiddenActivations(toy, data.sample(nInit, new Rng(seed, "sae/bdec")), nInit);
  if (train.b_dec_init_method === "geometric_median") return Array.from(geometricMedian(hInit, dIn).median);
  const bDec = new Array<number>(dIn).fill(0);
  if (train.b_dec_init_method === "mean") {
    for (let r = 0; r < nInit; r++) for (let q = 0; q < dIn; q++) bDec[q]! += hInit[r * dIn + q]! / nInit;
  }
  return bDec;
}

/** Held-out evaluation (one set for all instances) and both selection losses on fresh per-cell batches. */
function scoreGrid(
  result: FusedTrainResult,
  toy: ToyModel,
  data: ComposedFeatureData,
  dataCfg: ComposedDataConfig,
  cfg: GridConfig,
  l1: number[],
): { evals: InstanceEval[]; selRobust: Float64Array; selStudy: Float64Array } {
  const k = cfg.instances;
  const cells = cfg.lrs.length * cfg.l1s.length;
  const sae = fusedResultToSae(result);
  const hidden = (n: number, stream: string) =>
    Float32Array.from(hiddenActivations(toy, data.sample(n, new Rng(cfg.seed, stream)), n));
  const selRobust = new Float64Array(cells * k);
  const selStudy = new Float64Array(cells * k);
  try {
    const evals = evaluateInstances(sae, toy, dataCfg.feat_sets, hidden(cfg.heldout_samples, "sae/eval"), l1);
    for (let c = 0; c < cells; c++) {
      const st = reconstructionStats(sae, hidden(cfg.eval_samples, `sae/select/${c}`));
      for (let i = c * k; i < (c + 1) * k; i++) {
        selRobust[i] = st.summaries[i]!.mse_ratio + l1[i]! * st.l1[i]!;
        selStudy[i] = st.summaries[i]!.normalized_mse + l1[i]! * st.l1[i]!;
      }
    }
    return { evals, selRobust, selStudy };
  } finally {
    sae.dispose();
  }
}

/** One {@link GridCell} per (lr, ℓ1), row-major, with its instances and the selected one. */
function gridCells(
  cfg: GridConfig,
  scored: { evals: InstanceEval[]; selRobust: Float64Array; selStudy: Float64Array },
  result: FusedTrainResult,
  dSae: number,
  deadThreshold: number,
): GridCell[] {
  const k = cfg.instances;
  const cells = cfg.lrs.length * cfg.l1s.length;
  const out: GridCell[] = [];
  for (let c = 0; c < cells; c++) {
    const row = Math.floor(c / cfg.l1s.length);
    const col = c % cfg.l1s.length;
    const inst = scored.evals.slice(c * k, (c + 1) * k).map((e) => {
      let deadTrain = 0;
      for (let j = 0; j < dSae; j++) {
        if (result.fireFraction[e.index * dSae + j]! < deadThreshold) deadTrain++;
      }
      return {
        ...e,
        dead_ghost_end: result.deadAtEnd[e.index]!,
        dead_train: deadTrain,
        selection_robust: scored.selRobust[e.index]!,
        selection_study: scored.selStudy[e.index]!,
      };
    });
    const monos = inst.map((e) => e.monosemanticity);
    const robust = selectInstances(inst.map((e) => e.selection_robust), monos);
    const study = selectInstances(inst.map((e) => e.selection_study), monos);
    const chosen = cfg.selection === "robust" ? robust.lowestLoss : study.lowestLoss;
    const best = inst[chosen]!;
    out.push({
      row,
      col,
      lr: cfg.lrs[row]!,
      l1: cfg.l1s[col]!,
      seed: cfg.seed + c,
      instances: inst,
      lowest_loss: chosen,
      lowest_loss_study: study.lowestLoss,
      broken: best.broken,
      most_monosemantic: robust.mostMonosemantic,
      axis_cos: best.axis_cos,
      diag_cos: best.diag_cos,
      composed: best.diag_cos > best.axis_cos,
    });
  }
  return out;
}
