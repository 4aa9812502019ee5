/**
 * What an SAE architecture is, as one typed value: its activation, its
 * sparsity penalty, its extra parameter (a per-latent threshold, trained or
 * not), the auxiliary loss it takes, its update after each optimiser step,
 * and how the SAELens file format names it. The SAE (`sae.ts`), the loss
 * (`loss.ts`), the trainer (`train.ts`) and the file format (`saelens.ts`)
 * read these fields instead of switching on the architecture's name.
 *
 * Every field is required (`null` where an architecture has no such piece),
 * so the compiler rejects a spec that leaves one out. An architecture is one
 * file in `arch/` plus one line in `registry.ts`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import type { SaeArchitectureSpec } from "./architecture.ts";
 * // ReLU activations with an ℓ1 penalty: the standard SAE without decoder-norm weighting
 * const plainRelu: SaeArchitectureSpec = {
 *   name: "plain_relu",
 *   validate: () => {},
 *   activate: (pre) => tf.relu(pre),
 *   threshold: null,
 *   penalty: { penalised: ({ acts }) => acts, decoderNormWeighted: false },
 *   auxK: false,
 *   postStep: null,
 *   saeLens: { name: "plain_relu", reads: true, read: () => ({}), write: () => ({}) },
 * };
 * ```
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";
import type { SaeConfig, SaeTrainConfig } from "./config.ts";

/** What an activation or a penalty sees besides the pre-activations. */
export interface ActivationContext {
  /** The SAE's configuration (its `k`, `jumprelu_bandwidth`, …). */
  cfg: SaeConfig;
  /** The per-latent threshold θ `[n_inst, d_sae]` when the architecture has one ({@link SaeArchitectureSpec.threshold}), else null. */
  threshold: tf.Variable | null;
  /** True in the training forward pass, false at inference (BatchTopK selects over the batch only in training). */
  training: boolean;
}

/** The inputs of a sparsity penalty: pre-activations and activations of one training batch. */
export interface PenaltyInputs extends ActivationContext {
  /** Pre-activations `[n_inst, batch, d_sae]`. */
  pre: tf.Tensor3D;
  /** Activations `[n_inst, batch, d_sae]` (from {@link SaeArchitectureSpec.activate}). */
  acts: tf.Tensor3D;
}

/** A sparsity penalty `Σ_j w_nj · q_nbj` added to the loss, with `w = λ_n · c_nj` (the ℓ1 cool-down weights). */
export interface SparsityPenalty {
  /** The penalised quantity `q` `[n_inst, batch, d_sae]`: the activations (ℓ1), a step function (L0), …; differentiable. */
  penalised(inputs: PenaltyInputs): tf.Tensor3D;
  /** Whether `SaeTrainConfig.l1_weighted_by_decoder_norm` multiplies `w_nj` by ‖W_dec[j]‖ for this architecture. */
  decoderNormWeighted: boolean;
}

/** The per-latent threshold parameter θ `[n_inst, d_sae]` (SAELens `threshold`, or `log_threshold` on reading). */
export interface ThresholdParameter {
  /** True: a trainable variable, optimised in log space by Adam. False: set only by {@link SaeArchitectureSpec.postStep}. */
  trained: boolean;
  /** The value every entry starts at in a fresh SAE. */
  initial(cfg: SaeConfig): number;
}

/** An update after each optimiser step, driven by one per-instance statistic of the step's activations. */
export interface PostStepUpdate {
  /**
   * The statistic `[n_inst]` of this step's training activations `[n_inst, batch, d_sae]`; it is read back
   * to the host with the step's other numbers (one read per step). Called inside `tf.tidy`.
   */
  statistic(acts: tf.Tensor3D): tf.Tensor;
  /**
   * Applies the update: `running` (float64, one value per instance, kept in the training state and its
   * checkpoints) is updated in place from the host copy of the statistic, then written to `threshold`.
   */
  apply(
    running: Float64Array,
    statistic: ArrayLike<number>,
    t: SaeTrainConfig,
    threshold: tf.Variable,
    d_sae: number,
  ): void;
}

/** How the SAELens folder format (`saelens.ts`) reads and writes the architecture. */
export interface SaeLensFormat {
  /** The `architecture` value written to `cfg.json` (BatchTopK writes `"jumprelu"`, which is how it runs at inference). */
  name: string;
  /** Whether a `cfg.json` whose `architecture` is {@link name} reads back as this architecture. */
  reads: boolean;
  /**
   * The architecture's own config fields from a `cfg.json` (flattened: 6.x `metadata` merged, legacy keys
   * renamed); throws an Error naming `source` and the key when a value is unusable.
   */
  read(flat: Readonly<Record<string, unknown>>, source: string, d_sae: number): Partial<SaeConfig>;
  /** Keys written to `cfg.json` after `architecture` (TopK: `k`). */
  write(cfg: SaeConfig): Record<string, unknown>;
}

/** One SAE architecture (see the module notes); every field is required. */
export interface SaeArchitectureSpec {
  /** The name `SaeConfig.architecture` uses. */
  name: string;
  /** Checks the architecture's own fields of a config; throws `SaeConfigError` naming the field. */
  validate(cfg: SaeConfig): void;
  /** σ: non-negative activations `[n_inst, batch, d_sae]` from pre-activations `x·W_enc + b_enc` of the same shape. */
  activate(pre: tf.Tensor3D, ctx: ActivationContext): tf.Tensor3D;
  /** The extra parameter θ, or null when the architecture has none. */
  threshold: ThresholdParameter | null;
  /** The sparsity penalty of the loss, or null when sparsity is structural (TopK family). */
  penalty: SparsityPenalty | null;
  /** Whether the auxiliary-k loss over dead latents applies (`SaeTrainConfig.aux_k_coefficient`). */
  auxK: boolean;
  /** The update after each optimiser step, or null. */
  postStep: PostStepUpdate | null;
  /** The SAELens file format's view of it. */
  saeLens: SaeLensFormat;
}
