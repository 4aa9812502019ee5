/**
 * Typed configuration of a sparse autoencoder (shape and architecture) and of
 * its training recipe. Field names follow SAELens where SAELens has the field
 * (`d_in`, `d_sae`, `hook_name`, `context_size`, `apply_b_dec_to_input`,
 * `l1_coefficient`, `lr_warm_up_steps`, …) so that configs line up one to one.
 *
 * One SAE implementation serves both studies: `n_inst` independent instances
 * are trained in one tensor (125 for a study-A grid, 1 for a language-model
 * SAE). Per-instance learning rates and ℓ1 coefficients make a whole
 * learning-rate × ℓ1 grid one training run.
 *
 * @example
 * ```ts
 * import { defaultSaeConfig, defaultSaeTrainConfig } from "./config.ts";
 * const cfg = defaultSaeConfig({ d_in: 2, d_sae: 4, n_inst: 5 });
 * const train = defaultSaeTrainConfig({ l1_coefficient: 0.1, lr: 3e-4 });
 * ```
 *
 * @module
 */

/**
 * The name of an SAE architecture registered in `registry.ts`: the library's `"standard"`, `"topk"`,
 * `"batchtopk"` and `"jumprelu"` (SAELens's names), or one added with `registerSaeArchitecture`.
 * `validateSaeConfig` rejects an unregistered name.
 */
export type SaeArchitecture = string;

/** Shape, architecture and provenance of an SAE (what SAELens's `cfg.json` holds). */
export interface SaeConfig {
  /** Input (activation) dimension. */
  d_in: number;
  /** Number of latents. */
  d_sae: number;
  /** Independent instances trained side by side (leading tensor dimension). */
  n_inst: number;
  /** Architecture (activation, penalty, extra parameters): a name registered in `registry.ts`. */
  architecture: SaeArchitecture;
  /** Active latents per token for `topk` (per token on average for `batchtopk`). */
  k: number;
  /** Subtract `b_dec` before encoding (SAELens `apply_b_dec_to_input`; study A's `pre_encoder_bias`). */
  apply_b_dec_to_input: boolean;
  /** Initial threshold of `jumprelu` latents. */
  jumprelu_init_threshold: number;
  /** Bandwidth of the rectangle-kernel straight-through estimator of `jumprelu`. */
  jumprelu_bandwidth: number;
  /** Hook the SAE reads, TransformerLens naming (`blocks.{L}.hook_resid_pre`); `""` for toy models. */
  hook_name: string;
  /** Tokens per training row (SAELens `context_size`); 0 where not a language model. */
  context_size: number;
  /** Model the SAE belongs to. */
  model_name: string;
  /** Whether training rows started with BOS. */
  prepend_bos: boolean;
  /** Training data set name or path. */
  dataset_path: string;
  /** SAELens `normalize_activations`: only `"none"` is supported. */
  normalize_activations: "none";
  /** Storage dtype name as SAELens writes it. */
  dtype: "float32";
}

/** Reconstruction loss forms. */
export type MseLoss =
  /** Study A (`normalize_in_l2`): Σ_d ((x̂ − x)_d / ‖x‖)², mean over tokens. */
  | "l2_normalized"
  /** SAELens: Σ_d (x̂ − x)_d², mean over tokens. */
  | "sum";

/** Training recipe. Defaults are study A's code defaults (`autoencoder_fns.py`). */
export interface SaeTrainConfig {
  /** Learning rate: one value, or one per instance (length `n_inst`). */
  lr: number | number[];
  /**
   * Sparsity coefficient λ, one value or one per instance: the ℓ1 coefficient of `standard` SAEs,
   * the L0 coefficient of `jumprelu` (SAELens `l0_coefficient`); `topk`/`batchtopk` ignore it.
   */
  l1_coefficient: number | number[];
  /** Tokens (samples) per step. */
  batch_size: number;
  /** Optimiser steps; study A derives it as ceil(samples / batch_size). */
  total_steps: number;
  /** Adam β1 (study A: 0). */
  adam_beta1: number;
  /** Adam β2. */
  adam_beta2: number;
  /** Adam ε. */
  adam_epsilon: number;
  /** Linear warm-up length as a fraction of `total_steps` (multiplier min(1, (step+1)/W)). */
  lr_warm_up_fraction: number;
  /** Linear cool-down to 0 over this final fraction of `total_steps`. */
  lr_decay_fraction: number;
  /** Reconstruction loss form. */
  mse_loss: MseLoss;
  /** Normalise decoder rows to unit norm before every step. */
  normalize_decoder: boolean;
  /** Remove the gradient component parallel to each decoder row. */
  remove_decoder_parallel_grad: boolean;
  /** Weight each latent's ℓ1 term by its decoder-row norm (SAELens standard SAE). */
  l1_weighted_by_decoder_norm: boolean;
  /** Initialisation of `b_dec`. */
  b_dec_init_method: "geometric_median" | "mean" | "zeros";
  /** Samples used to initialise `b_dec`. */
  b_dec_init_samples: number;
  /** Ghost gradients for dead latents. */
  use_ghost_grads: boolean;
  /** Steps over which a revived latent's ℓ1 weight ramps from 0 back to 1 (study A's cooldown). */
  ghost_grads_cooldown: number;
  /** A latent is dead after not firing for more than this many steps. */
  dead_feature_window: number;
  /** Activation above which a latent counts as firing. */
  dead_feature_threshold: number;
  /** Coefficient of the auxiliary-k loss over dead latents (TopK family); 0 disables it. */
  aux_k_coefficient: number;
  /** Dead latents used by the auxiliary-k loss (SAELens: ⌊d_in/2⌋); `null` means ⌊d_in/2⌋. */
  aux_k: number | null;
  /**
   * Shape of the ℓ1 cool-down weight `c` of a revived latent, with `n` = its cool-down counter:
   * `"linear"`: c = 1 − n/ghost_grads_cooldown (the study's evident intent, the spec's reading);
   * `"step"`: c = 1 if n = 0 else 0, which is what the study's code computes: it stores
   * `1 − n/1000` into an integer (int64) tensor, which truncates every value in (0, 1) to 0.
   * The default is `"step"`, so the reproduction trains what the study trained; `"linear"` is the
   * documented intent and is kept as an option.
   */
  l1_cooldown_shape: "linear" | "step";
  /** SAELens `l1_warm_up_steps`: λ ramps linearly from 0 (step 0) to its value at this step; 0 disables. */
  l1_warm_up_steps: number;
  /** BatchTopK: rate of the exponential moving average of the smallest kept activation (SAELens 0.01). */
  topk_threshold_lr: number;
  /**
   * The loss is Σ_instances mean_batch(…) / this divisor; `null` divides by `n_inst`, as the study does
   * ("mean over instances × batch"). A 125-instance grid made of 5-instance configurations can pass 5
   * to keep each instance's gradient scale exactly as in the study's 5-instance runs.
   */
  loss_instance_divisor: number | null;
  /** Seed for initialisation and any training randomness. */
  seed: number;
}

/**
 * The default SAE shape: a standard (ReLU) SAE, overridden by `overrides`.
 *
 * @example
 * ```ts
 * import { defaultSaeConfig } from "./config.ts";
 * defaultSaeConfig({ d_in: 768, d_sae: 24576 }).architecture; // "standard"
 * ```
 */
export function defaultSaeConfig(overrides: Partial<SaeConfig> = {}): SaeConfig {
  return {
    d_in: 2,
    d_sae: 4,
    n_inst: 1,
    architecture: "standard",
    k: 1,
    apply_b_dec_to_input: false,
    jumprelu_init_threshold: 0.001,
    jumprelu_bandwidth: 0.001,
    hook_name: "",
    context_size: 0,
    model_name: "",
    prepend_bos: true,
    dataset_path: "",
    normalize_activations: "none",
    dtype: "float32",
    ...overrides,
  };
}

/**
 * The default training recipe (study A's code defaults), overridden by `overrides`.
 *
 * @example
 * ```ts
 * import { defaultSaeTrainConfig } from "./config.ts";
 * defaultSaeTrainConfig().adam_beta1; // 0
 * ```
 */
export function defaultSaeTrainConfig(overrides: Partial<SaeTrainConfig> = {}): SaeTrainConfig {
  return {
    lr: 3e-4,
    l1_coefficient: 0.1,
    batch_size: 1024,
    total_steps: 31_250,
    adam_beta1: 0,
    adam_beta2: 0.999,
    adam_epsilon: 1e-8,
    lr_warm_up_fraction: 0.1,
    lr_decay_fraction: 0.2,
    mse_loss: "l2_normalized",
    normalize_decoder: true,
    remove_decoder_parallel_grad: true,
    l1_weighted_by_decoder_norm: false,
    b_dec_init_method: "geometric_median",
    b_dec_init_samples: 5000,
    use_ghost_grads: true,
    ghost_grads_cooldown: 1000,
    dead_feature_window: 400,
    dead_feature_threshold: 1e-6,
    aux_k_coefficient: 0,
    aux_k: null,
    l1_cooldown_shape: "step",
    l1_warm_up_steps: 0,
    topk_threshold_lr: 0.01,
    loss_instance_divisor: null,
    seed: 0,
    ...overrides,
  };
}

/** The error a bad SAE or training configuration throws; the message names the field. */
export class SaeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SaeConfigError";
  }
}

function positiveInt(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 1) throw new SaeConfigError(`${what}: expected an integer ≥ 1, got ${v}`);
}

/**
 * Expands a per-instance setting (one number, or an array of length `n_inst`) to an array, checking
 * every value is finite.
 *
 * @example
 * ```ts
 * import { perInstance } from "./config.ts";
 * perInstance(3e-4, 3, "lr"); // [3e-4, 3e-4, 3e-4]
 * ```
 */
export function perInstance(value: number | readonly number[], n_inst: number, what: string): number[] {
  const out = typeof value === "number" ? new Array<number>(n_inst).fill(value) : [...value];
  if (out.length !== n_inst) {
    throw new SaeConfigError(`${what}: expected one value or ${n_inst} (n_inst), got an array of ${out.length}`);
  }
  out.forEach((v, i) => {
    if (!Number.isFinite(v) || v < 0) throw new SaeConfigError(`${what}[${i}]: expected a finite number ≥ 0, got ${v}`);
  });
  return out;
}

/**
 * Checks an {@link SaeTrainConfig} against the SAE it trains; throws {@link SaeConfigError} naming the field.
 *
 * @example
 * ```ts
 * import { defaultSaeConfig, defaultSaeTrainConfig, validateSaeTrainConfig } from "./config.ts";
 * validateSaeTrainConfig(defaultSaeTrainConfig({ lr: [1e-3, 3e-4] }), defaultSaeConfig({ n_inst: 2 }));
 * ```
 */
export function validateSaeTrainConfig(t: SaeTrainConfig, cfg: SaeConfig): void {
  perInstance(t.lr, cfg.n_inst, "SaeTrainConfig.lr");
  perInstance(t.l1_coefficient, cfg.n_inst, "SaeTrainConfig.l1_coefficient");
  positiveInt(t.batch_size, "SaeTrainConfig.batch_size");
  positiveInt(t.total_steps, "SaeTrainConfig.total_steps");
  const unit = (v: number, what: string, open = false) => {
    if (!(v >= 0 && (open ? v < 1 : v <= 1))) {
      throw new SaeConfigError(`SaeTrainConfig.${what}: expected a number in [0, 1${open ? ")" : "]"}, got ${v}`);
    }
  };
  unit(t.adam_beta1, "adam_beta1", true);
  unit(t.adam_beta2, "adam_beta2", true);
  unit(t.lr_warm_up_fraction, "lr_warm_up_fraction");
  unit(t.lr_decay_fraction, "lr_decay_fraction");
  unit(t.topk_threshold_lr, "topk_threshold_lr");
  if (!(t.adam_epsilon > 0)) {
    throw new SaeConfigError(`SaeTrainConfig.adam_epsilon: expected > 0, got ${t.adam_epsilon}`);
  }
  if (t.mse_loss !== "l2_normalized" && t.mse_loss !== "sum") {
    throw new SaeConfigError(`SaeTrainConfig.mse_loss: expected "l2_normalized" or "sum", got "${t.mse_loss}"`);
  }
  if (!["geometric_median", "mean", "zeros"].includes(t.b_dec_init_method)) {
    throw new SaeConfigError(
      `SaeTrainConfig.b_dec_init_method: expected "geometric_median", "mean" or "zeros", got "${t.b_dec_init_method}"`,
    );
  }
  if (t.l1_cooldown_shape !== "linear" && t.l1_cooldown_shape !== "step") {
    throw new SaeConfigError(
      `SaeTrainConfig.l1_cooldown_shape: expected "linear" or "step", got "${t.l1_cooldown_shape}"`,
    );
  }
  for (const f of ["ghost_grads_cooldown", "dead_feature_window", "l1_warm_up_steps", "b_dec_init_samples"] as const) {
    if (!Number.isSafeInteger(t[f]) || t[f] < 0) {
      throw new SaeConfigError(`SaeTrainConfig.${f}: expected an integer ≥ 0, got ${t[f]}`);
    }
  }
  if (!(t.dead_feature_threshold >= 0)) {
    throw new SaeConfigError(`SaeTrainConfig.dead_feature_threshold: expected ≥ 0, got ${t.dead_feature_threshold}`);
  }
  if (!(t.aux_k_coefficient >= 0)) {
    throw new SaeConfigError(`SaeTrainConfig.aux_k_coefficient: expected ≥ 0, got ${t.aux_k_coefficient}`);
  }
  if (t.aux_k !== null) positiveInt(t.aux_k, "SaeTrainConfig.aux_k");
  if (t.loss_instance_divisor !== null && !(t.loss_instance_divisor > 0)) {
    throw new SaeConfigError(
      `SaeTrainConfig.loss_instance_divisor: expected > 0 or null, got ${t.loss_instance_divisor}`,
    );
  }
  if (!Number.isFinite(t.seed)) {
    throw new SaeConfigError(`SaeTrainConfig.seed: expected a finite number, got ${t.seed}`);
  }
}
