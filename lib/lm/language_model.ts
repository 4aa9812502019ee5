/**
 * The language-model interface that the splice layer and study B depend on:
 * the members they use (found by reading every `model.` of `lib/splice/` and
 * `lib/study_b/`), with TransformerLens's names. `Gpt2` (`gpt2.ts`) is its one
 * implementation; a second model family implements this interface in `lm/`
 * and touches neither `splice/` nor `study_b/`.
 *
 * | member | used for |
 * | --- | --- |
 * | `cfg` | shape facts: layers, width, heads, context, vocabulary, LayerNorm ε |
 * | `run` | the general pass: cache, replacement hooks, start at a residual hook, stop early, no logits |
 * | `forward`, `runWithCache`, `runWithHooks`, `runFrom` | TransformerLens's `forward` / `run_with_cache` / `run_with_hooks`, and a pass started at a hook |
 * | `canStartAt` | whether `runFrom` (`startAt`) can start at a hook |
 * | `lossPerToken` | per-token next-token cross-entropy of logits |
 * | `params`, `embedRowMean` | named weights, read by the shared-prefix scorer and the positional add-back (GPT-2 names) |
 *
 * The BOS id and the tokenizer are not members: the model reads ids, and
 * study B's setup (`study_b/setup.ts`) holds the BOS id and the token map of
 * a compact vocabulary beside the model.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { defaultGpt2Config } from "./config.ts";
 * import { Gpt2 } from "./gpt2.ts";
 * import type { LanguageModel } from "./language_model.ts";
 * const model: LanguageModel = Gpt2.random(defaultGpt2Config({ n_layer: 1, d_model: 8, n_head: 2, n_ctx: 4, d_vocab: 10 }), 0);
 * const tokens = tf.tensor2d([[1, 2, 3]], undefined, "int32");
 * const loss = model.lossPerToken(model.forward(tokens), tokens); // [1, 2]
 * ```
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";

/** A replacement hook: receives the activation and returns the one the forward pass continues from. */
export type HookFn = (act: tf.Tensor3D, name: string) => tf.Tensor3D;

/** Options of {@link LanguageModel.run}. */
export interface RunOptions {
  /** Hook names whose activations to return (after any replacement hook at that name). */
  cache?: readonly string[];
  /** Replacement hooks by hook name. */
  hooks?: Readonly<Record<string, HookFn>>;
  /**
   * Run only blocks 0…stopAtLayer−1 (TransformerLens `stop_at_layer`) and return
   * no logits; every cached or hooked name must lie before the stop.
   */
  stopAtLayer?: number;
  /**
   * Start the pass at a residual-stream hook (`blocks.{L}.hook_resid_pre` or
   * `blocks.{L}.hook_resid_post`) with `act` as its activation, skipping every
   * block below it: the result equals a full pass with a replacement hook at
   * `hook` returning `act`, without recomputing the unchanged blocks. `act`
   * stays owned by the caller; hooks and cached names must not lie before
   * `hook`, and no replacement hook may be set at `hook` itself.
   */
  startAt?: { hook: string; act: tf.Tensor3D };
  /** Compute the logits (default true); false skips the unembedding and returns null logits. */
  logits?: boolean;
  /**
   * Absolute position of each row's first token `[batch]`: row b reads the
   * positional embeddings `wpe[o_b … o_b + pos − 1]` (`hook_pos_embed` holds
   * those rows); each `o_b + pos ≤ n_ctx`. Omitted: every row starts at 0.
   * Unused by a pass that starts after the embeddings (`startAt`).
   */
  posOffsets?: Int32Array;
}

/** What {@link LanguageModel.run} returns; the caller owns (and must dispose) every tensor. */
export interface RunResult {
  /** `[batch, pos, d_vocab]`, or null when `stopAtLayer` stopped the pass early. */
  logits: tf.Tensor3D | null;
  /** Requested activations by hook name, each `[batch, pos, d_model]`. */
  cache: Map<string, tf.Tensor3D>;
}

/** The shape facts of a model that its users read. */
export interface LanguageModelConfig {
  /** Transformer blocks. */
  readonly n_layer: number;
  /** Attention heads per block. */
  readonly n_head: number;
  /** Residual stream width (the `d_in` of an SAE on it). */
  readonly d_model: number;
  /** Maximum context. */
  readonly n_ctx: number;
  /** Vocabulary size (the last axis of the logits). */
  readonly d_vocab: number;
  /** LayerNorm ε. */
  readonly layer_norm_epsilon: number;
}

/** A causal language model with TransformerLens hook points (see the module documentation). */
export interface LanguageModel {
  /** Shape facts. */
  readonly cfg: LanguageModelConfig;
  /** Weights by name (GPT-2's Hugging Face names for `Gpt2`); read-only use. */
  readonly params: ReadonlyMap<string, tf.Tensor>;
  /** `[1, d_vocab]` row means the tied unembedding adds back after centring, else null. */
  readonly embedRowMean: tf.Tensor2D | null;
  /** The general forward pass behind the others. */
  run(tokens: tf.Tensor2D, opts?: RunOptions): RunResult;
  /** Logits `[batch, pos, d_vocab]` of int32 tokens `[batch, pos]`. */
  forward(tokens: tf.Tensor2D): tf.Tensor3D;
  /** Logits plus the named activations. */
  runWithCache(tokens: tf.Tensor2D, names: readonly string[], opts?: { stopAtLayer?: number }): RunResult;
  /** Logits with activations replaced by `hooks`. */
  runWithHooks(tokens: tf.Tensor2D, hooks: Readonly<Record<string, HookFn>>): tf.Tensor3D;
  /** Logits of a pass started at `hook` with activation `act` (only where {@link canStartAt}). */
  runFrom(hook: string, act: tf.Tensor3D, tokens: tf.Tensor2D): tf.Tensor3D;
  /** Whether a pass can start at `hook` (`runFrom`, `RunOptions.startAt`). */
  canStartAt(hook: string): boolean;
  /** Per-token next-token cross-entropy `[batch, pos − 1]` of `logits` for the input `tokens`. */
  lossPerToken(logits: tf.Tensor3D, tokens: tf.Tensor2D): tf.Tensor2D;
  /** Frees the weights. */
  dispose(): void;
}
