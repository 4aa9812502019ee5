/**
 * The benchmark rows: what each one runs on tfjs, in which unit, and which
 * direction is better. `bench/torch_bench.py` defines the PyTorch twin of each
 * row that has one (same name, same shapes).
 *
 * @example
 * ```ts
 * import { ROWS } from "./rows.ts";
 * console.log(ROWS.map((r) => r.name));
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { ReferenceSaeStep } from "./reference_sae_step.ts";
import { createSae } from "../lib/sae/sae.ts";
import { defaultSaeConfig, defaultSaeTrainConfig } from "../lib/sae/config.ts";
import { createTrainState, disposeTrainState, trainStep } from "../lib/sae/train.ts";
import { gpt2ForwardRows } from "./gpt2_rows.ts";
import { Rng } from "../lib/engine/rng.ts";
import { toyGridStepRow } from "./toy_grid_row.ts";
import { LM_BENCH_D128, LM_BENCH_D256, lmTrainStepRow } from "./lm_train_row.ts";
import { loadRows } from "./load_rows.ts";
import { sweepRow } from "./sweep_row.ts";
import { sweepWebgpuRow } from "./sweep_webgpu.ts";
import type { Prepared, RowSpec } from "./row_spec.ts";

function matmulRow(name: string, m: number, k: number, n: number, ta: boolean, tb: boolean): RowSpec {
  return {
    name,
    unit: "GFLOP/s",
    reps: 10,
    warmup: 2,
    target: { op: ">=", ratio: 0.7 },
    prepare() {
      const a = tf.randomNormal(ta ? [k, m] : [m, k], 0, 1, "float32", 1);
      const b = tf.randomNormal(tb ? [n, k] : [k, n], 0, 1, "float32", 2);
      return {
        run() {
          tf.matMul(a, b, ta, tb).dispose();
        },
        dispose() {
          tf.dispose([a, b]);
        },
        flops: 2 * m * k * n,
        notes: `[${m}×${k}]·[${k}×${n}]${ta ? " transposeA" : ""}${tb ? " transposeB" : ""}`,
      };
    },
  };
}

/**
 * One step of the project's SAE trainer (`lib/sae/train.ts` `trainStep`) with the recipe set to a plain
 * SAELens-style standard SAE, to match `torch_bench.py`: ReLU, Σ_d MSE, ℓ1 5e-3, Adam(0.9, 0.999) lr 1e-4,
 * no schedule, no decoder normalisation or projection, no ghost grads. The trainer still does its
 * per-step bookkeeping (finite checks, firing counters: one host read per step).
 */
function saeTrainerRow(name: string, dIn: number, dSae: number, batch: number, reps: number): RowSpec {
  return saeStepRow(name, reps, () => {
    const sae = createSae(defaultSaeConfig({ d_in: dIn, d_sae: dSae }), 0);
    const state = createTrainState(
      sae,
      defaultSaeTrainConfig({
        lr: 1e-4,
        l1_coefficient: 5e-3,
        batch_size: batch,
        total_steps: 1_000_000,
        adam_beta1: 0.9,
        lr_warm_up_fraction: 0,
        lr_decay_fraction: 0,
        mse_loss: "sum",
        normalize_decoder: false,
        remove_decoder_parallel_grad: false,
        use_ghost_grads: false,
        b_dec_init_method: "zeros",
      }),
    );
    const x = tf.tensor2d(new Rng(0, "bench/sae/x").fillNormal(new Float32Array(batch * dIn)), [batch, dIn]);
    return {
      run: () => void trainStep(sae, state, x),
      dispose: () => {
        disposeTrainState(state);
        sae.dispose();
        x.dispose();
      },
      notes: "lib/sae/train.ts trainStep (plain recipe)",
    };
  });
}

/** The same step written directly in tfjs (`reference_sae_step.ts`): the engine without the trainer's bookkeeping. */
function saeReferenceRow(name: string, dIn: number, dSae: number, batch: number, reps: number): RowSpec {
  return saeStepRow(name, reps, () => {
    const s = new ReferenceSaeStep(dIn, dSae, batch, 0);
    return {
      run: () => void s.step(),
      dispose: () => s.dispose(),
      notes: "bench/reference_sae_step.ts (tfjs ReLU SAE + ℓ1, engine fusedAdam)",
    };
  });
}

/** A millisecond row of one SAE training step: 2 warm-up runs, target ≤ 2× PyTorch. */
function saeStepRow(name: string, reps: number, prepare: () => Prepared): RowSpec {
  return { name, unit: "ms", reps, warmup: 2, target: { op: "<=", ratio: 2 }, prepare };
}

/** All rows, in table order. */
export const ROWS: RowSpec[] = [
  matmulRow("matmul_1024", 1024, 1024, 1024, false, false),
  matmulRow("matmul_transpose_a", 1024, 1024, 1024, true, false),
  matmulRow("matmul_transpose_b", 1024, 1024, 1024, false, true),
  matmulRow("matmul_transpose_ab", 1024, 1024, 1024, true, true),
  matmulRow("matmul_1024x256x4096", 1024, 256, 4096, false, false),
  saeTrainerRow("sae_step_256x4096_b1024", 256, 4096, 1024, 10),
  saeTrainerRow("sae_step_768x24576_b512", 768, 24576, 512, 4),
  saeReferenceRow("sae_step_reference_256x4096_b1024", 256, 4096, 1024, 10),
  saeReferenceRow("sae_step_reference_768x24576_b512", 768, 24576, 512, 4),
  ...gpt2ForwardRows(),
  toyGridStepRow(),
  lmTrainStepRow("lm_train_step", LM_BENCH_D128),
  lmTrainStepRow("lm_train_step_d256", LM_BENCH_D256),
  ...loadRows(),
  sweepRow(),
  sweepWebgpuRow("embedded"),
  sweepWebgpuRow("gpt2-small"),
];
