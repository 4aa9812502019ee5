/**
 * The one splice abstraction: a {@link Splice} names a hook and computes what
 * replaces the clean activation there. The SAE splice ({@link saeSplice}: the
 * reconstruction at every position, BOS too, as the study and SAELens's
 * `get_recons_loss` with `exclude_special_tokens` off), the zero- and
 * mean-ablation baselines of the CE-loss score, and study B's positional
 * variants are all splices; `spliced_loss.ts` runs a model with each in turn.
 * {@link spliceHook} turns a splice into a replacement hook for
 * `runWithHooks`; {@link saeSpliceHook} adds a keep mask (SAELens's default
 * keeps special-token positions such as BOS).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createSae } from "../sae/sae.ts";
 * import { defaultSaeConfig } from "../sae/config.ts";
 * import { saeSplice } from "./splice.ts";
 * const sae = createSae(defaultSaeConfig({ d_in: 4, d_sae: 8, hook_name: "blocks.0.hook_resid_pre" }), 0);
 * const splice = saeSplice("L0", sae);
 * const { recon, acts } = splice.reconstruct(tf.ones([1, 3, 4]), tf.zeros([1, 3], "int32")); // [1, 3, 4], [1, 3, 8]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { Sae } from "../sae/sae.ts";
import type { HookFn } from "../lm/language_model.ts";

/** What a splice puts in place of the clean activation. */
export interface SpliceOutput {
  /** Replacement activation `[batch, pos, d_model]`. */
  recon: tf.Tensor3D;
  /** SAE feature activations `[batch, pos, d_sae]` for L0/L1, or null. */
  acts: tf.Tensor3D | null;
}

/** One spliced model: which hook, and how the replacement is computed from the clean activation. */
export interface Splice {
  /** Unique key (e.g. `"L3"`, `"L0/V1"`). */
  key: string;
  /** Hook whose activation is replaced. */
  hook: string;
  /** The replacement for clean activations `x` `[batch, pos, d_model]` of `tokens` `[batch, pos]`; caller disposes. */
  reconstruct(x: tf.Tensor3D, tokens: tf.Tensor2D): SpliceOutput;
}

function assertOneInstance(sae: Sae, x: tf.Tensor3D, where: string): void {
  if (sae.cfg.n_inst !== 1 || sae.cfg.d_in !== x.shape[2]) {
    throw new Error(
      `${where}: SAE has n_inst ${sae.cfg.n_inst}, d_in ${sae.cfg.d_in}; activation is [${x.shape}]`,
    );
  }
}

/**
 * `SAE(x)` for `[batch, pos, d]` input (a one-instance SAE whose d_in is d):
 * reconstruction and feature activations, both 3-D; the caller disposes them.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createSae } from "../sae/sae.ts";
 * import { defaultSaeConfig } from "../sae/config.ts";
 * import { saeApply } from "./splice.ts";
 * const sae = createSae(defaultSaeConfig({ d_in: 4, d_sae: 8 }), 0);
 * const { recon, acts } = saeApply(sae, tf.ones([2, 3, 4])); // [2, 3, 4], [2, 3, 8]
 * ```
 */
export function saeApply(sae: Sae, x: tf.Tensor3D): SpliceOutput {
  const [B, T, d] = x.shape;
  assertOneInstance(sae, x, "saeApply");
  return tf.tidy(() => {
    const f = sae.forward(tf.reshape(x, [B * T, d]) as tf.Tensor2D);
    return {
      recon: tf.reshape(f.recon, [B, T, d]) as tf.Tensor3D,
      acts: tf.reshape(f.acts, [B, T, sae.cfg.d_sae]) as tf.Tensor3D,
    };
  }) as SpliceOutput;
}

/**
 * The plain SAE splice at the SAE's hook: `x̂ = SAE(x)` at every position.
 *
 * @example
 * ```ts
 * import { createSae } from "../sae/sae.ts";
 * import { defaultSaeConfig } from "../sae/config.ts";
 * import { saeSplice } from "./splice.ts";
 * saeSplice("L3", createSae(defaultSaeConfig({ d_in: 4, d_sae: 8, hook_name: "blocks.3.hook_resid_pre" }), 0)).hook;
 * // "blocks.3.hook_resid_pre"
 * ```
 */
export function saeSplice(key: string, sae: Sae): Splice {
  return { key, hook: sae.cfg.hook_name, reconstruct: (x) => saeApply(sae, x) };
}

/**
 * Zero ablation at `hook`: the activation replaced by zeros at every position
 * (SAELens's baseline of the CE-loss score).
 *
 * @example
 * ```ts
 * import { zeroSplice } from "./splice.ts";
 * zeroSplice("zero", "blocks.0.hook_resid_pre").hook; // "blocks.0.hook_resid_pre"
 * ```
 */
export function zeroSplice(key: string, hook: string): Splice {
  return { key, hook, reconstruct: (x) => ({ recon: tf.zerosLike(x), acts: null }) };
}

/**
 * Mean ablation at `hook`: every position replaced by the vector `mean`
 * `[d_model]` (e.g. the activation's held-out mean). The splice owns the
 * vector's tensor: call `dispose` when done.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { constantSplice } from "./splice.ts";
 * const s = constantSplice("mean", "blocks.0.hook_resid_pre", new Float32Array([1, 2]));
 * const { recon } = s.reconstruct(tf.zeros([1, 3, 2]), tf.zeros([1, 3], "int32")); // every row [1, 2]
 * s.dispose();
 * ```
 */
export function constantSplice(key: string, hook: string, mean: Float32Array): Splice & { dispose(): void } {
  const vec = tf.tensor1d(mean);
  return {
    key,
    hook,
    reconstruct: (x) => {
      if (x.shape[2] !== mean.length) {
        throw new Error(`constantSplice "${key}" at ${hook}: vector of ${mean.length}, activation is [${x.shape}]`);
      }
      return { recon: tf.tidy(() => tf.mul(tf.onesLike(x), vec) as tf.Tensor3D), acts: null };
    },
    dispose: () => vec.dispose(),
  };
}

/**
 * A replacement hook (for `runWithHooks`) that returns the splice's
 * replacement of the activation it receives; the feature activations are
 * dropped. Prefer the loop of `spliced_loss.ts`, which reuses the clean
 * pass's activation and starts the spliced pass at the hook.
 *
 * @example
 * ```ts
 * import { spliceHook, zeroSplice } from "./splice.ts";
 * // tokens: the [batch, pos] int32 input of the pass (a splice may read them)
 * // const hook = spliceHook(zeroSplice("zero", "blocks.0.hook_resid_pre"), tokens);
 * // model.runWithHooks(tokens, { "blocks.0.hook_resid_pre": hook });
 * ```
 */
export function spliceHook(splice: Splice, tokens: tf.Tensor2D): HookFn {
  return (act, name) => {
    if (name !== splice.hook) throw new Error(`splice "${splice.key}" reads ${splice.hook}, set at hook ${name}`);
    const { recon, acts } = splice.reconstruct(act, tokens);
    acts?.dispose();
    return recon;
  };
}

/** Options of {@link saeSpliceHook}. */
export interface SpliceOptions {
  /** `[batch, pos]` float mask: 1 keeps the original activation, 0 takes the reconstruction. */
  keep?: tf.Tensor2D;
}

/**
 * A hook replacing `[batch, pos, d_model]` activations by the SAE's
 * reconstruction ({@link saeApply}), except where `keep` is 1. The SAE and
 * mask stay owned by the caller.
 *
 * @example
 * ```ts
 * import { saeSpliceHook } from "./splice.ts";
 * // const logits = model.runWithHooks(tokens, { [sae.cfg.hook_name]: saeSpliceHook(sae) });
 * ```
 */
export function saeSpliceHook(sae: Sae, opts: SpliceOptions = {}): HookFn {
  return (act, name) => {
    const [batch, T] = act.shape;
    assertOneInstance(sae, act, `saeSpliceHook at "${name}"`);
    const { keep } = opts;
    if (keep && (keep.shape[0] !== batch || keep.shape[1] !== T)) {
      throw new Error(`saeSpliceHook at "${name}": keep mask [${keep.shape}] does not match [${batch}, ${T}]`);
    }
    const { recon, acts } = saeApply(sae, act);
    acts?.dispose();
    if (!keep) return recon;
    const out = tf.tidy(() => {
      const k = tf.expandDims(keep, 2);
      return tf.add(tf.mul(act, k), tf.mul(recon, tf.sub(1, k))) as tf.Tensor3D;
    });
    recon.dispose();
    return out;
  };
}
