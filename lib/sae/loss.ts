/**
 * The training loss of one step, written to run inside `tf.variableGrads`
 * (every tensor it builds is differentiable, detaching exactly where the study
 * detaches). Per instance `n` and sample `b`:
 *
 * ```
 * mse_nb    = Σ_d (x̂ − x)_d² / ‖x_b‖²        ("l2_normalized"; ‖x‖ = 0 → 1)   or Σ_d (x̂ − x)_d²  ("sum")
 * sparse_nb = Σ_j w_nj q_nbj                  the architecture's penalty (its spec's `penalty`): w = λ_n c_nj
 *                                             (· ‖W_dec_j‖ if weighted and the spec allows it), q = a (standard, ℓ1),
 *                                             [pre > θ] (jumprelu, L0; gradient to θ only); none for topk/batchtopk
 * ghost_nb  = see ghost.ts                     instances with dead latents, when ghost grads are on
 * loss_n    = mean_b (mse + sparse + ghost) + aux_coef · auxk_n
 * loss      = Σ_n loss_n / divisor              divisor = n_inst unless configured
 * ```
 *
 * `auxk_n` is SAELens's auxiliary-k loss for architectures whose spec sets `auxK` (the TopK family): the top
 * `k_aux,n = min(k_aux, #dead_n)` dead pre-activations of each token (raw, not
 * rectified) decode (with `b_dec`, as SAELens does) towards the detached
 * residual `x − x̂`; `auxk_n = min(#dead_n / k_aux, 1) · mean_b Σ_d (·)²`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createSae } from "./sae.ts";
 * import { defaultSaeConfig, defaultSaeTrainConfig } from "./config.ts";
 * import { lossTerms } from "./loss.ts";
 * const sae = createSae(defaultSaeConfig({ d_in: 2, d_sae: 4, n_inst: 1 }), 0);
 * const x = tf.randomUniform([1, 16, 2]) as tf.Tensor3D;
 * const w = tf.fill([1, 4, 1], 0.1);
 * const out = lossTerms(sae, defaultSaeTrainConfig(), { x, sparsityWeight: w, dead: null, deadCount: [0] });
 * out.loss.dataSync();
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { SaeTrainConfig } from "./config.ts";
import { addBias, type Sae } from "./sae.ts";
import { selectTopK, stopGradient, withoutGradient } from "./architectures.ts";
import { ghostTerm } from "./ghost.ts";

/** Per-step inputs to {@link lossTerms} besides the SAE. */
export interface LossInputs {
  /** The batch `[n_inst or 1, batch, d_in]`. */
  x: tf.Tensor3D;
  /** Sparsity weight `λ_n · c_nj` per instance and latent, `[n_inst, d_sae, 1]`. */
  sparsityWeight: tf.Tensor;
  /** 0/1 dead-latent mask `[n_inst, 1, d_sae]`, or null when no latent of any instance is dead. */
  dead: tf.Tensor | null;
  /** Dead latents per instance (host copy of the mask's row sums). */
  deadCount: readonly number[];
}

/** What {@link lossTerms} returns; all tensors belong to the caller. */
export interface LossOutput {
  /** The scalar training loss. */
  loss: tf.Scalar;
  /** `[5, n_inst]`: rows loss_n, mse_n, sparsity_n, ghost_n, auxk_n (each a mean over the batch). */
  perInstance: tf.Tensor2D;
  /** Activations `[n_inst, batch, d_sae]`. */
  acts: tf.Tensor3D;
  /** Reconstruction `[n_inst, batch, d_in]`. */
  recon: tf.Tensor3D;
}

/** Row order of {@link LossOutput.perInstance}. */
export const LOSS_ROWS = ["loss", "mse", "sparsity", "ghost", "auxk"] as const;

/**
 * `1/‖x_b‖` per sample (`[n or 1, batch, 1]`), with a zero norm replaced by 1 as the study does.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { inverseNorms } from "./loss.ts";
 * inverseNorms(tf.tensor3d([[[3, 4], [0, 0]]])).arraySync(); // [[[0.2], [1]]]
 * ```
 */
export function inverseNorms(x: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const ss = tf.sum(tf.square(x), -1, true);
    const isZero = tf.cast(tf.equal(ss, 0), "float32");
    return tf.rsqrt(tf.add(ss, isZero)) as tf.Tensor3D;
  });
}

/**
 * Builds the loss of one training step (see the module notes). Call inside
 * `tf.variableGrads`; the returned `perInstance`, `acts` and `recon` are kept
 * (`tf.keep`) so they survive the gradient scope and must be disposed by the caller.
 */
export function lossTerms(sae: Sae, t: SaeTrainConfig, inp: LossInputs): LossOutput {
  const { cfg, params, arch } = sae;
  const { x, sparsityWeight, dead, deadCount } = inp;
  const n = cfg.n_inst;
  const b = x.shape[1];
  const pre = sae.preActs3d(x); // [n, batch, d_sae]
  const acts = sae.activate(pre, { training: true }); // [n, batch, d_sae]
  const recon = addBias(tf.matMul(acts, params.W_dec), params.b_dec); // [n, batch, d_in]
  const err = tf.sub(recon, x); // [n, batch, d_in]
  const sq = tf.sum(tf.square(err), -1); // [n, batch]
  const invNorm = t.mse_loss === "l2_normalized" ? inverseNorms(x) : null; // [n|1, batch, 1]
  const mse = invNorm ? tf.mul(sq, tf.square(tf.squeeze(invNorm, [2]))) : sq; // [n, batch]

  let sparse: tf.Tensor | null = null; // [n, batch]
  if (arch.penalty) {
    let w = sparsityWeight; // [n, d_sae, 1]
    if (t.l1_weighted_by_decoder_norm && arch.penalty.decoderNormWeighted) {
      w = tf.mul(w, tf.expandDims(tf.norm(params.W_dec, "euclidean", -1), 2));
    }
    const penalised = arch.penalty.penalised({ cfg, threshold: params.threshold ?? null, training: true, pre, acts });
    sparse = tf.squeeze(tf.matMul(penalised, w as tf.Tensor3D), [2]); // [n, batch]
  }

  const anyDead = deadCount.some((c) => c > 0);
  let ghost: tf.Tensor | null = null; // [n, batch]
  if (t.use_ghost_grads && dead && anyDead) {
    const on = tf.tensor(deadCount.map((c) => (c > 0 ? 1 : 0)), [n, 1]);
    ghost = tf.mul(ghostTerm({ x, err, invNorm, pre, dead, W_dec: params.W_dec, mse }), on);
  }

  let auxk: tf.Tensor | null = null; // [n]
  if (arch.auxK && t.aux_k_coefficient > 0 && dead && anyDead) {
    auxk = tf.mul(auxKLoss(sae, t, pre, err, dead, deadCount), t.aux_k_coefficient);
  }

  let perSample = mse;
  if (sparse) perSample = tf.add(perSample, sparse);
  if (ghost) perSample = tf.add(perSample, ghost);
  let lossN = tf.mean(perSample, 1); // [n]
  if (auxk) lossN = tf.add(lossN, auxk);
  const divisor = t.loss_instance_divisor ?? n;
  const loss = tf.div(tf.sum(lossN), divisor) as tf.Scalar;

  const zeros = tf.zeros([n]);
  const perInstance = tf.keep(tf.stack([
    lossN,
    tf.mean(mse, 1),
    sparse ? tf.mean(sparse, 1) : zeros,
    ghost ? tf.mean(ghost, 1) : zeros,
    auxk ?? zeros,
  ]) as tf.Tensor2D);
  void b;
  return { loss, perInstance, acts: tf.keep(acts), recon: tf.keep(recon) };
}

/** SAELens's auxiliary-k loss per instance `[n]` (already scaled by min(#dead/k_aux, 1)). */
function auxKLoss(
  sae: Sae,
  t: SaeTrainConfig,
  pre: tf.Tensor3D,
  err: tf.Tensor,
  dead: tf.Tensor,
  deadCount: readonly number[],
): tf.Tensor {
  const { d_in } = sae.cfg;
  const k0 = t.aux_k ?? Math.max(1, Math.floor(d_in / 2));
  const kMax = Math.max(...deadCount.map((c) => Math.min(k0, c)));
  const scale = tf.tensor(deadCount.map((c) => Math.min(c / k0, 1)));
  // choose among dead latents only (living ones pushed far below any pre-activation);
  // instances with fewer than kMax dead latents get all of them
  const chosen = withoutGradient([pre], (p) => {
    const masked = tf.add(tf.mul(p, dead), tf.mul(tf.sub(1, dead), -3e38));
    return tf.mul(selectTopK(masked, kMax), dead);
  });
  const auxActs = tf.mul(pre, chosen); // raw pre-activations, as SAELens
  const auxRecon = addBias(tf.matMul(auxActs as tf.Tensor3D, sae.params.W_dec), sae.params.b_dec);
  const residual = stopGradient(tf.neg(err)); // x − x̂, detached
  const l = tf.mean(tf.sum(tf.square(tf.sub(auxRecon, residual)), -1), 1); // [n]
  return tf.mul(l, scale);
}
