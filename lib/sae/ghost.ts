/**
 * Ghost-gradient term for dead latents, exactly as the study's code computes it
 * (§6.6; Anthropic's January 2024 update, with one difference: the residual is
 * **not** detached). Per instance and sample:
 *
 * 1. `r = (x − x̂)/‖x‖` — not detached (`‖x‖ = 1` for the "sum" loss);
 * 2. `g₀ = Σ_{j dead} exp(pre_j) · W_dec[j]`;
 * 3. `g = g₀ · stop(‖r‖ / (1e-6 + 2‖g₀‖))` so that ‖g‖ ≈ ‖r‖/2;
 * 4. `m = Σ_d (r − g)_d²`;
 * 5. `ghost = m · stop(mse / (1e-6 + m))` — equal to `mse` in value, with `m`'s gradient.
 *
 * The caller multiplies by a 0/1 per-instance flag so that only instances with
 * dead latents get the term.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { ghostTerm } from "./ghost.ts";
 * const x = tf.tensor3d([[[1, 0]]]);
 * const err = tf.tensor3d([[[0.1, -0.2]]]); // x̂ − x
 * const pre = tf.tensor3d([[[-1, 0.5]]]);
 * const dead = tf.tensor3d([[[1, 0]]]);
 * const W_dec = tf.tensor3d([[[0, 1], [1, 0]]]);
 * const mse = tf.tensor2d([[0.05]]);
 * ghostTerm({ x, err, invNorm: tf.ones([1, 1, 1]), pre, dead, W_dec, mse }).dataSync(); // ≈ [0.05]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { withoutGradient } from "./architectures.ts";

/** Inputs of {@link ghostTerm} (all but `dead` normally carry gradients). */
export interface GhostInputs {
  /** The batch `[n or 1, batch, d_in]`. */
  x: tf.Tensor;
  /** `x̂ − x`, `[n, batch, d_in]`. */
  err: tf.Tensor;
  /** `1/‖x‖` `[n or 1, batch, 1]`, or null for the unnormalised ("sum") loss. */
  invNorm: tf.Tensor | null;
  /** Pre-activations `[n, batch, d_sae]`. */
  pre: tf.Tensor;
  /** 0/1 dead mask `[n, 1, d_sae]`. */
  dead: tf.Tensor;
  /** Decoder `[n, d_sae, d_in]`. */
  W_dec: tf.Tensor;
  /** Per-sample reconstruction loss `[n, batch]` (only its value is used). */
  mse: tf.Tensor;
}

/** The ghost loss per instance and sample, `[n, batch]` (see the module notes). */
export function ghostTerm(inp: GhostInputs): tf.Tensor {
  const { err, invNorm, pre, dead, W_dec, mse } = inp;
  const r = invNorm ? tf.neg(tf.mul(err, invNorm)) : tf.neg(err); // [n, batch, d_in]
  // exp only where dead: masking before exp keeps living latents' large pre-activations from overflowing
  const deadActs = tf.mul(tf.exp(tf.mul(pre, dead)), dead); // [n, batch, d_sae]
  const g0 = tf.matMul(deadActs as tf.Tensor3D, W_dec as tf.Tensor3D); // [n, batch, d_in]
  // detached factors, computed off the tape (a norm's derivative at 0 would otherwise give NaN)
  const scale = withoutGradient([r, g0], (rr, gg) => {
    const rNorm = tf.norm(rr, "euclidean", -1, true); // [n, batch, 1]
    const gNorm = tf.norm(gg, "euclidean", -1, true);
    return tf.div(rNorm, tf.add(tf.mul(gNorm, 2), 1e-6));
  });
  const g = tf.mul(g0, scale);
  const m = tf.sum(tf.square(tf.sub(r, g)), -1); // [n, batch]
  const factor = withoutGradient([mse, m], (a, mm) => tf.div(a, tf.add(mm, 1e-6)));
  return tf.mul(m, factor);
}
