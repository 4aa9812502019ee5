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

/** SAE architectures: SAELens's names. */
export type SaeArchitecture = "standard" | "topk" | "batchtopk" | "jumprelu";

/** Shape, architecture and provenance of an SAE (what SAELens's `cfg.json` holds). */
export interface SaeConfig {
  /** Input (activation) dimension. */
  d_in: number;
  /** Number of latents. */
  d_sae: number;
  /** Independent instances trained side by side (leading tensor dimension). */
  n_inst: number;
  /** Activation function family. */
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
  /** ℓ1 coefficient λ: one value, or one per instance. */
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
    seed: 0,
    ...overrides,
  };
}
