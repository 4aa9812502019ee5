/**
 * A benchmark-only reference SAE training step written directly in tfjs:
 * ReLU SAE (`x − b_dec → W_enc, b_enc → ReLU → W_dec, b_dec`), loss =
 * mean over the batch of the squared reconstruction error summed over `d_in`
 * plus `l1 · mean_b Σ_j |a_j|`, one Adam step (lr 1e-4; the engine's fused Adam
 * by default, `tf.train.adam` on request). `bench/torch_bench.py`
 * runs the same step in PyTorch. It stands in for the project's trainer in
 * the `sae_step_*` rows when `lib/sae/` exposes no step function.
 *
 * @example
 * ```ts
 * import { ReferenceSaeStep } from "./reference_sae_step.ts";
 * const s = new ReferenceSaeStep(256, 4096, 1024, 0);
 * s.step();
 * s.dispose();
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { Rng } from "../lib/engine/rng.ts";
import { fusedAdam } from "../lib/engine/kernels/adam.ts";

/** One SAE with its optimiser and a fixed input batch. */
export class ReferenceSaeStep {
  readonly wEnc: tf.Variable; // [d_in, d_sae]
  readonly bEnc: tf.Variable; // [d_sae]
  readonly wDec: tf.Variable; // [d_sae, d_in]
  readonly bDec: tf.Variable; // [d_in]
  readonly x: tf.Tensor2D; // [batch, d_in]
  readonly opt: tf.Optimizer;
  readonly l1: number;

  /** `optimizer`: the project's fused Adam (default) or tfjs's `tf.train.adam`, same formula. */
  constructor(
    dIn: number,
    dSae: number,
    batch: number,
    seed: number,
    optimizer: "fused" | "tfjs" = "fused",
    l1 = 5e-3,
  ) {
    const rng = new Rng(seed, "bench/sae");
    const scale = 1 / Math.sqrt(dIn);
    const w = rng.fillUniform(new Float32Array(dIn * dSae), -scale, scale);
    this.wEnc = tf.variable(tf.tensor2d(w, [dIn, dSae]), true, "W_enc");
    this.wDec = tf.variable(tf.tidy(() => tf.transpose(tf.tensor2d(w, [dIn, dSae]))), true, "W_dec");
    this.bEnc = tf.variable(tf.zeros([dSae]), true, "b_enc");
    this.bDec = tf.variable(tf.zeros([dIn]), true, "b_dec");
    this.x = tf.tensor2d(rng.fork("x").fillNormal(new Float32Array(batch * dIn)), [batch, dIn]);
    this.opt = optimizer === "fused" ? fusedAdam(1e-4) : tf.train.adam(1e-4);
    this.l1 = l1;
  }

  /** One forward/backward/Adam step; returns the loss (read back, so the step is complete). */
  step(): number {
    const loss = tf.tidy((): tf.Scalar => {
      const l = this.opt.minimize(() => {
        const pre = tf.add(tf.matMul(tf.sub(this.x, this.bDec), this.wEnc), this.bEnc); // [batch, d_sae]
        const acts = tf.relu(pre);
        const recon = tf.add(tf.matMul(acts, this.wDec), this.bDec); // [batch, d_in]
        const mse = tf.mean(tf.sum(tf.square(tf.sub(recon, this.x)), 1));
        const l1 = tf.mul(this.l1, tf.mean(tf.sum(tf.abs(acts), 1)));
        return tf.add(mse, l1) as tf.Scalar;
      }, true);
      if (l === null) throw new Error("optimizer.minimize returned no loss");
      return l;
    });
    const v = loss.dataSync()[0]!;
    loss.dispose();
    return v;
  }

  /** Frees the parameters, the batch and the optimiser state. */
  dispose(): void {
    tf.dispose([this.wEnc, this.bEnc, this.wDec, this.bDec, this.x]);
    this.opt.dispose();
  }
}
