/**
 * Adam with a learning rate per instance (the leading axis of every
 * parameter), torch's update rule, no weight decay:
 *
 * ```
 * t  = step + 1
 * m ← β1·m + (1 − β1)·g          (not stored when β1 = 0: m = g)
 * v ← β2·v + (1 − β2)·g²
 * p ← p − (lr_n / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
 * ```
 *
 * A parameter flagged `logSpace` (JumpReLU's threshold θ > 0) is optimised as
 * `log θ`, like SAELens's `log_threshold`: the gradient becomes `g·θ` and the
 * update `θ ← θ·exp(−Δ)`.
 *
 * **Why a third Adam.** The project has three Adam updates with the same
 * formula (torch's: ε added to `√v / √(1 − β2ᵗ)`, bias corrections folded into
 * the step size) that round differently, so they are not interchangeable
 * without changing bytes:
 * - this one (the SAE trainer, `train.ts`): tensor ops, every intermediate
 *   rounded to float32, per-instance learning rates, log-space parameters;
 * - `engine/kernels/adam.ts` (`fusedAdam` for the LM trainer, `adamUpdate`):
 *   one JS loop on the wasm heap computing in float64 and storing float32
 *   (elsewhere the same tensor ops as here), `√v · (1/√(1 − β2ᵗ))`;
 * - `toy/fused_state.ts` (study A's small-SAE fast path): parameters and
 *   moments in float64, `√v / √(1 − β2ᵗ)`.
 *
 * Measured (a probe run on the wasm backend, 4 instances × 4096 parameters, 50 steps, same
 * gradients): this update and the engine's `adamUpdate` leave 3,594 of 16,384 float32 parameters
 * different at β1 = 0 (2,775 at β1 = 0.9), max relative difference 1.8e-5 (7.4e-5); against the toy
 * fused loop 13,197 differ (max relative 2.2e-5).
 * Moving the SAE trainer onto `adamUpdate` would change every saved SAE, so
 * it stays; `adamUpdate` takes the same arguments should that ever be wanted.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { AdamPerInstance } from "./adam.ts";
 * const w = tf.variable(tf.ones([2, 3]));
 * const adam = new AdamPerInstance([{ variable: w }], { beta1: 0, beta2: 0.999, epsilon: 1e-8 });
 * adam.apply(new Map([[w.name, tf.ones([2, 3])]]), [1e-3, 1e-2]);
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/** One optimised variable. */
export interface AdamSlot {
  /** The variable (leading axis = instances). */
  variable: tf.Variable;
  /** Optimise log(variable) instead (variable must stay > 0). */
  logSpace?: boolean;
}

/** Adam hyper-parameters. */
export interface AdamOptions {
  /** β1 (study A: 0). */
  beta1: number;
  /** β2. */
  beta2: number;
  /** ε. */
  epsilon: number;
}

/** Adam over a fixed set of variables with per-instance learning rates. */
export class AdamPerInstance {
  readonly slots: AdamSlot[];
  readonly options: AdamOptions;
  /** Updates applied so far (torch's `state["step"]`). */
  step = 0;
  /** First moments by variable name (empty when β1 = 0). */
  readonly m = new Map<string, tf.Tensor>();
  /** Second moments by variable name. */
  readonly v = new Map<string, tf.Tensor>();

  constructor(slots: AdamSlot[], options: AdamOptions) {
    this.slots = slots;
    this.options = options;
    for (const { variable } of slots) {
      this.v.set(variable.name, tf.zerosLike(variable));
      if (options.beta1 > 0) this.m.set(variable.name, tf.zerosLike(variable));
    }
  }

  /**
   * One update. `grads` maps variable names to gradients (missing → skipped);
   * `lr` holds the effective learning rate of each instance (schedule included).
   */
  apply(grads: Map<string, tf.Tensor>, lr: readonly number[]): void {
    const { beta1, beta2, epsilon } = this.options;
    const t = ++this.step;
    const bc1 = 1 - beta1 ** t;
    const invSqrtBc2 = 1 / Math.sqrt(1 - beta2 ** t);
    const stepSizes = lr.map((v) => v / bc1);
    const cache = new Map<number, tf.Tensor>();
    for (const { variable, logSpace } of this.slots) {
      const g0 = grads.get(variable.name);
      if (!g0) continue;
      const rank = variable.rank;
      let lrT = cache.get(rank);
      if (!lrT) {
        lrT = tf.tensor(stepSizes, [lr.length, ...new Array<number>(rank - 1).fill(1)]);
        cache.set(rank, lrT);
      }
      const name = variable.name;
      const lrTensor = lrT;
      const { m: newM, v: newV } = tf.tidy((): { m?: tf.Tensor; v: tf.Tensor } => {
        const g = logSpace ? tf.mul(g0, variable) : g0;
        const vOld = this.v.get(name) as tf.Tensor;
        const v = tf.add(tf.mul(vOld, beta2), tf.mul(tf.square(g), 1 - beta2));
        let m: tf.Tensor = g;
        if (beta1 > 0) m = tf.add(tf.mul(this.m.get(name) as tf.Tensor, beta1), tf.mul(g, 1 - beta1));
        const delta = tf.mul(lrTensor, tf.div(m, tf.add(tf.mul(tf.sqrt(v), invSqrtBc2), epsilon)));
        variable.assign(logSpace ? tf.mul(variable, tf.exp(tf.neg(delta))) : tf.sub(variable, delta));
        return beta1 > 0 ? { m, v } : { v };
      });
      this.v.get(name)?.dispose();
      this.v.set(name, newV);
      if (newM) {
        this.m.get(name)?.dispose();
        this.m.set(name, newM);
      }
    }
    for (const t of cache.values()) t.dispose();
  }

  /** Frees the moment tensors. */
  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}
