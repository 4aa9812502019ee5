/**
 * SAE metrics, one number per instance. Tensors are `[n_inst, batch, ·]`; an
 * input batch `x` may be `[1, batch, d_in]` (shared by all instances).
 *
 * | function | definition |
 * | --- | --- |
 * | {@link normalizedMsePerInstance} | mean_b Σ_d ((x̂ − x)_d / ‖x‖)² (‖x‖ = 0 → 1) — study A's MSE |
 * | {@link msePerInstance} | mean_b Σ_d (x̂ − x)_d² — SAELens's (corrected) `mse` |
 * | {@link l1PerInstance} | mean_b Σ_j \|a_j\| |
 * | {@link l0PerInstance} | mean_b #(a_j > 0) |
 * | {@link strongL0PerInstance} | mean_b #(a_j > 0.01·max a) (max over the instance's batch) |
 * | {@link explainedVariancePerSample} | study A: 1 − ‖x̂ − x‖²/‖x + 1e-8‖² per sample; mean and (unbiased) std |
 * | {@link explainedVarianceRatio} | SAELens: 1 − E‖x − x̂‖² / (E‖x‖² − ‖E x‖²) |
 * | {@link featureDensity} | per latent: fraction of samples with a_j > 0 |
 * | {@link deadCounts} | latents with density below a threshold |
 * | {@link monosemanticity} | arXiv:2211.09169 eqn 7: (1/d_sae) Σ_j max_i A_ij / (1e-10 + Σ_i A_ij) |
 * | {@link decoderCosineSimilarity} | cos(W_dec[j], direction f) |
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { l0PerInstance } from "./metrics.ts";
 * l0PerInstance(tf.tensor3d([[[1, 0], [2, 3]]])); // [1.5]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { Sae } from "./sae.ts";
import { inverseNorms } from "./loss.ts";

function host(t: tf.Tensor): number[] {
  const out = Array.from(t.dataSync());
  t.dispose();
  return out;
}

/**
 * Study A's normalised MSE per instance.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { normalizedMsePerInstance } from "./metrics.ts";
 * normalizedMsePerInstance(tf.tensor3d([[[2, 0]]]), tf.tensor3d([[[1, 0]]])); // [0.25]
 * ```
 */
export function normalizedMsePerInstance(x: tf.Tensor3D, recon: tf.Tensor3D): number[] {
  return host(tf.tidy(() => tf.mean(tf.sum(tf.square(tf.mul(tf.sub(recon, x), inverseNorms(x))), -1), 1)));
}

/**
 * SAELens-style MSE per instance: mean over samples of Σ_d (x̂ − x)².
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { msePerInstance } from "./metrics.ts";
 * msePerInstance(tf.tensor3d([[[2, 0]]]), tf.tensor3d([[[1, 0]]])); // [1]
 * ```
 */
export function msePerInstance(x: tf.Tensor3D, recon: tf.Tensor3D): number[] {
  return host(tf.tidy(() => tf.mean(tf.sum(tf.square(tf.sub(recon, x)), -1), 1)));
}

/**
 * Mean ℓ1 norm of the activations per instance.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { l1PerInstance } from "./metrics.ts";
 * l1PerInstance(tf.tensor3d([[[1, 0], [2, 3]]])); // [3]
 * ```
 */
export function l1PerInstance(acts: tf.Tensor3D): number[] {
  return host(tf.tidy(() => tf.mean(tf.sum(tf.abs(acts), -1), 1)));
}

/**
 * Mean number of active (> 0) latents per sample, per instance.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { l0PerInstance } from "./metrics.ts";
 * l0PerInstance(tf.tensor3d([[[1, 0], [2, 3]]])); // [1.5]
 * ```
 */
export function l0PerInstance(acts: tf.Tensor3D): number[] {
  return host(tf.tidy(() => tf.mean(tf.sum(tf.step(acts), -1), 1)));
}

/**
 * "Strong" L0: latents above `frac` × the largest activation of the instance's batch.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { strongL0PerInstance } from "./metrics.ts";
 * strongL0PerInstance(tf.tensor3d([[[100, 0.5], [2, 3]]])); // [1.5]
 * ```
 */
export function strongL0PerInstance(acts: tf.Tensor3D, frac = 0.01): number[] {
  return host(tf.tidy(() => {
    const max = tf.max(acts, [1, 2], true);
    return tf.mean(tf.sum(tf.cast(tf.greater(acts, tf.mul(max, frac)), "float32"), -1), 1);
  }));
}

/**
 * Study A's "explained variance" (a normalised squared error, not a variance ratio):
 * per sample `1 − ‖x̂ − x‖² / ‖x + 1e-8‖²`, then mean and unbiased std over the batch.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { explainedVariancePerSample } from "./metrics.ts";
 * explainedVariancePerSample(tf.tensor3d([[[1, 0], [0, 2]]]), tf.tensor3d([[[1, 0], [0, 1]]])).mean; // [0.625]
 * ```
 */
export function explainedVariancePerSample(x: tf.Tensor3D, recon: tf.Tensor3D): { mean: number[]; std: number[] } {
  const [mean, std] = tf.tidy(() => {
    const ev = tf.sub(1, tf.div(tf.sum(tf.square(tf.sub(recon, x)), -1), tf.sum(tf.square(tf.add(x, 1e-8)), -1)));
    const b = ev.shape[1] as number;
    const m = tf.mean(ev, 1);
    const v = tf.div(tf.sum(tf.square(tf.sub(ev, tf.expandDims(m, 1))), 1), Math.max(1, b - 1));
    return [m, tf.sqrt(v)];
  });
  return { mean: host(mean), std: host(std) };
}

/**
 * SAELens's explained variance: `1 − E_b‖x − x̂‖² / (E_b‖x‖² − ‖E_b x‖²)`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { explainedVarianceRatio } from "./metrics.ts";
 * const x = tf.tensor3d([[[1, 0], [-1, 0]]]);
 * explainedVarianceRatio(x, tf.zerosLike(x) as tf.Tensor3D); // [0]
 * ```
 */
export function explainedVarianceRatio(x: tf.Tensor3D, recon: tf.Tensor3D): number[] {
  return host(tf.tidy(() => {
    const num = tf.mean(tf.sum(tf.square(tf.sub(x, recon)), -1), 1);
    const ex2 = tf.mean(tf.sum(tf.square(x), -1), 1);
    const mx = tf.sum(tf.square(tf.mean(x, 1)), -1);
    return tf.sub(1, tf.div(num, tf.sub(ex2, mx))); // a shared x gives a [1] denominator, broadcast
  }));
}

/**
 * Firing frequency of every latent: fraction of samples with activation > 0,
 * `Float64Array` of `n_inst · d_sae` (instance-major).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { featureDensity } from "./metrics.ts";
 * featureDensity(tf.tensor3d([[[1, 0], [2, 0]]])); // [1, 0]
 * ```
 */
export function featureDensity(acts: tf.Tensor3D): Float64Array {
  return Float64Array.from(host(tf.tidy(() => tf.mean(tf.step(acts), 1))));
}

/**
 * Latents per instance whose firing frequency is below `threshold` (study: 1e-6).
 *
 * @example
 * ```ts
 * import { deadCounts } from "./metrics.ts";
 * deadCounts(new Float64Array([0.2, 0, 0, 0.5]), 2, 2, 1e-6); // [1, 1]
 * ```
 */
export function deadCounts(density: ArrayLike<number>, n_inst: number, d_sae: number, threshold = 1e-6): number[] {
  if (density.length !== n_inst * d_sae) {
    throw new RangeError(`deadCounts: expected ${n_inst}·${d_sae} densities, got ${density.length}`);
  }
  const out = new Array<number>(n_inst).fill(0);
  for (let q = 0; q < density.length; q++) if ((density[q] as number) < threshold) out[Math.floor(q / d_sae)]! += 1;
  return out;
}

/**
 * Monosemanticity per instance (eqn 7 of arXiv:2211.09169, as study A measures
 * it): `probeActs` holds the SAE activations for unit inputs of each true
 * feature, `[n_inst, n_features, d_sae]` (the caller runs the probes through
 * the toy model and the SAE). A latent responding to one feature scores 1, a
 * dead latent 0.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { monosemanticity } from "./metrics.ts";
 * monosemanticity(tf.tensor3d([[[1, 0], [0, 2]]])); // [1]
 * monosemanticity(tf.tensor3d([[[1, 1], [1, 1]]])); // [0.5]
 * ```
 */
export function monosemanticity(probeActs: tf.Tensor3D): number[] {
  return host(tf.tidy(() => {
    const ratio = tf.div(tf.max(probeActs, 1), tf.add(tf.sum(probeActs, 1), 1e-10));
    return tf.mean(ratio, -1);
  }));
}

/**
 * Cosine similarity of each decoder row to each given direction:
 * `result[i][j][f] = cos(W_dec[i, j], directions[f])` for directions `[n_dir, d_in]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createSae } from "./sae.ts";
 * import { defaultSaeConfig } from "./config.ts";
 * import { decoderCosineSimilarity } from "./metrics.ts";
 * const sae = createSae(defaultSaeConfig({ d_in: 2, d_sae: 4 }), 0);
 * decoderCosineSimilarity(sae, tf.tensor2d([[1, 0], [0, 1]])); // [1][4][2]
 * ```
 */
export function decoderCosineSimilarity(sae: Sae, directions: tf.Tensor2D): number[][][] {
  const { n_inst: n, d_sae: s, d_in } = sae.cfg;
  if (directions.rank !== 2 || directions.shape[1] !== d_in) {
    throw new RangeError(`decoderCosineSimilarity: expected directions [n, ${d_in}], got [${directions.shape}]`);
  }
  const f = directions.shape[0];
  const flat = host(tf.tidy(() => {
    const unit = (t: tf.Tensor) => tf.div(t, tf.maximum(tf.norm(t, "euclidean", -1, true), 1e-12));
    const w = unit(sae.params.W_dec); // [n, s, d]
    const dirs = unit(directions); // [f, d]
    return tf.reshape(tf.matMul(tf.reshape(w, [n * s, d_in]), dirs, false, true), [-1]);
  }));
  return Array.from(
    { length: n },
    (_, i) => Array.from({ length: s }, (_, j) => flat.slice((i * s + j) * f, (i * s + j + 1) * f)),
  );
}

/** Bundle of per-instance metrics from {@link evaluateSae}. */
export interface SaeEvaluation {
  /** Study A's normalised MSE. */
  normalized_mse: number[];
  /** SAELens-style MSE. */
  mse: number[];
  /** Mean ℓ1 of activations. */
  l1: number[];
  /** Mean L0. */
  l0: number[];
  /** Strong L0. */
  strong_l0: number[];
  /** Study A's per-sample explained variance (mean over the batch). */
  explained_variance: number[];
  /** SAELens's ratio-of-means explained variance. */
  explained_variance_ratio: number[];
  /** Firing frequency per latent (`n_inst · d_sae`). */
  density: Float64Array;
}

/**
 * All batch metrics of `sae` on `x` (`[n_inst or 1, batch, d_in]`) in inference mode.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createSae } from "./sae.ts";
 * import { defaultSaeConfig } from "./config.ts";
 * import { evaluateSae } from "./metrics.ts";
 * const sae = createSae(defaultSaeConfig({ n_inst: 2 }), 0);
 * evaluateSae(sae, tf.randomUniform([1, 100, 2]) as tf.Tensor3D).l0; // two numbers
 * ```
 */
export function evaluateSae(sae: Sae, x: tf.Tensor3D): SaeEvaluation {
  const { acts, preActs, recon } = sae.forward(x);
  try {
    return {
      normalized_mse: normalizedMsePerInstance(x, recon),
      mse: msePerInstance(x, recon),
      l1: l1PerInstance(acts),
      l0: l0PerInstance(acts),
      strong_l0: strongL0PerInstance(acts),
      explained_variance: explainedVariancePerSample(x, recon).mean,
      explained_variance_ratio: explainedVarianceRatio(x, recon),
      density: featureDensity(acts),
    };
  } finally {
    acts.dispose();
    preActs.dispose();
    recon.dispose();
  }
}
