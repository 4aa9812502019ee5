/**
 * One data set's SAE sweep (study A §6.8): a learning-rate × ℓ1 grid
 * (5 × 5 in the study) with several instances per cell, all trained at once by
 * the fused kernel (`lib/sae/fused_small.ts`) on the frozen toy model's hidden
 * activations, then evaluated with the SAE core's metrics.
 *
 * Seeds and streams (all derived from `GridConfig.seed`):
 * - SAE init: cell c (row-major, lr outer, λ inner — the study's `saes[i*5 + j]`)
 *   uses `createSae(…, seed + c)`, i.e. stream "sae/init" of seed + c, one draw for its instances;
 * - `b_dec` init: geometric median of 5,000 samples of stream "sae/bdec";
 * - training batches: stream "sae/batches" (shared by every instance);
 * - evaluation: 10,000 fresh samples of stream "sae/eval".
 *
 * @example
 * ```ts
 * import { ComposedFeatureData, datasetConfig } from "./data.ts";
 * import { defaultToyTrainConfig, trainToyModel } from "./model.ts";
 * import { defaultGridConfig, runGrid } from "./grid.ts";
 * import { initBackend } from "../engine/backend.ts";
 * await initBackend();
 * const data = new ComposedFeatureData(datasetConfig("D1"));
 * const { model } = trainToyModel(data, defaultToyTrainConfig({ seed: 0 }));
 * const grid = await runGrid("D1", data.config, model, defaultGridConfig({ total_steps: 200, instances: 2 }));
 * grid.cells.length; // 25
 * ```
 *
 * @module
 */

import { Rng } from "../engine/rng.ts";
import { defaultSaeConfig, defaultSaeTrainConfig, type SaeConfig, type SaeTrainConfig } from "../sae/config.ts";
import { createSae } from "../sae/sae.ts";
import { geometricMedian } from "../sae/geometric_median.ts";
import { fusedResultToSae, trainFusedSmall } from "../sae/fused_small.ts";
import { type ComposedDataConfig, ComposedFeatureData } from "./data.ts";
import { hiddenActivations, type ToyModel } from "./model.ts";
import { evaluateInstances, type InstanceEval, selectInstances } from "./analysis.ts";

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
  /** Fresh samples for the per-instance evaluation and selection. */
  eval_samples: number;
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
  /** Per-instance evaluation (index = position in the grid SAE), with training dead counts. */
  instances: (InstanceEval & { dead_ghost_end: number; dead_train: number })[];
  /** Position within `instances` of the lowest-loss instance (black in the figure). */
  lowest_loss: number;
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
 * const run = await runGrid("D1", datasetConfig("D1"), toy, defaultGridConfig({ total_steps: 50, instances: 1 }));
 * ```
 */
export async function runGrid(
  dataset: string,
  dataCfg: ComposedDataConfig,
  toy: ToyModel,
  cfg: GridConfig,
  onProgress?: (done: number, total: number) => void,
): Promise<GridRun> {
  if (cfg.lrs.length < 1 || cfg.l1s.length < 1) {
    throw new RangeError(`GridConfig: lrs and l1s need ≥ 1 value, got ${cfg.lrs.length} and ${cfg.l1s.length}`);
  }
  if (!Number.isInteger(cfg.instances) || cfg.instances < 1) {
    throw new RangeError(`GridConfig.instances: expected an integer ≥ 1, got ${cfg.instances}`);
  }
  if (!Number.isInteger(cfg.eval_samples) || cfg.eval_samples < 1) {
    throw new RangeError(`GridConfig.eval_samples: expected an integer ≥ 1, got ${cfg.eval_samples}`);
  }
  const data = new ComposedFeatureData(dataCfg);
  const k = cfg.instances;
  const cells = cfg.lrs.length * cfg.l1s.length;
  const n = cells * k;
  const dIn = toy.n_hid;
  const dSae = toy.n_in;
  const saeCfg = defaultSaeConfig({ d_in: dIn, d_sae: dSae, n_inst: n, model_name: "toy", dataset_path: dataset });
  const lr: number[] = [];
  const l1: number[] = [];
  for (const a of cfg.lrs) {
    for (const b of cfg.l1s) {
      for (let q = 0; q < k; q++) {
        lr.push(a);
        l1.push(b);
      }
    }
  }
  const train = defaultSaeTrainConfig({
    ...cfg.train_overrides,
    lr,
    l1_coefficient: l1,
    total_steps: cfg.total_steps,
    batch_size: cfg.batch_size,
    loss_instance_divisor: cfg.loss_instance_divisor,
    seed: cfg.seed,
  });
  // initial parameters: one createSae draw per cell
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
  // b_dec: geometric median of fresh hidden activations, shared by all instances
  const nInit = train.b_dec_init_samples;
  const hInit = hiddenActivations(toy, data.sample(nInit, new Rng(cfg.seed, "sae/bdec")), nInit);
  let bDec: number[];
  if (train.b_dec_init_method === "geometric_median") bDec = Array.from(geometricMedian(hInit, dIn).median);
  else if (train.b_dec_init_method === "mean") {
    bDec = new Array<number>(dIn).fill(0);
    for (let r = 0; r < nInit; r++) for (let q = 0; q < dIn; q++) bDec[q]! += hInit[r * dIn + q]! / nInit;
  } else bDec = new Array<number>(dIn).fill(0);
  for (let i = 0; i < n; i++) init.b_dec.set(bDec, i * dIn);

  const result = await trainFusedSmall(saeCfg, train, init, {
    kind: "toy",
    data: dataCfg,
    toy,
    seed: cfg.seed,
    stream: "sae/batches",
  }, { workers: cfg.workers ?? undefined, onProgress });

  // evaluation on fresh samples with the core's metrics
  const sae = fusedResultToSae(result);
  const hEval = Float32Array.from(
    hiddenActivations(toy, data.sample(cfg.eval_samples, new Rng(cfg.seed, "sae/eval")), cfg.eval_samples),
  );
  let evals: InstanceEval[];
  try {
    evals = evaluateInstances(sae, toy, dataCfg.feat_sets, hEval, l1);
  } finally {
    sae.dispose();
  }
  const out: GridCell[] = [];
  for (let c = 0; c < cells; c++) {
    const row = Math.floor(c / cfg.l1s.length);
    const col = c % cfg.l1s.length;
    const inst = evals.slice(c * k, (c + 1) * k).map((e) => {
      let deadTrain = 0;
      for (let j = 0; j < dSae; j++) {
        if (result.fireFraction[e.index * dSae + j]! < train.dead_feature_threshold) deadTrain++;
      }
      return { ...e, dead_ghost_end: result.deadAtEnd[e.index]!, dead_train: deadTrain };
    });
    const sel = selectInstances(inst.map((e) => e.loss), inst.map((e) => e.monosemanticity));
    const best = inst[sel.lowestLoss]!;
    out.push({
      row,
      col,
      lr: cfg.lrs[row]!,
      l1: cfg.l1s[col]!,
      seed: cfg.seed + c,
      instances: inst,
      lowest_loss: sel.lowestLoss,
      most_monosemantic: sel.mostMonosemantic,
      axis_cos: best.axis_cos,
      diag_cos: best.diag_cos,
      composed: best.diag_cos > best.axis_cos,
    });
  }
  return {
    dataset,
    data: dataCfg,
    config: cfg,
    sae: saeCfg,
    train,
    b_dec_init: bDec,
    cells: out,
    timing: { ms: result.ms, ms_per_step: result.msPerStep, workers: result.workers },
  };
}
