/**
 * Replacement hooks for `Gpt2.runWithHooks`: splice an SAE's reconstruction
 * into the residual stream, or zero-ablate it (the baseline of the CE-loss
 * score). As the study's splice (and SAELens's `get_recons_loss` with
 * `exclude_special_tokens` off) the reconstruction replaces every position;
 * `keep` restores the original activation where it is 1 (SAELens's default
 * keeps special-token positions such as BOS).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { saeSpliceHook } from "./splice.ts";
 * // const logits = model.runWithHooks(tokens, { [sae.cfg.hook_name]: saeSpliceHook(sae) });
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { Sae } from "../sae/sae.ts";
import type { HookFn } from "./gpt2.ts";

/** Options of {@link saeSpliceHook}. */
export interface SpliceOptions {
  /** `[batch, pos]` float mask: 1 keeps the original activation, 0 takes the reconstruction. */
  keep?: tf.Tensor2D;
}

/**
 * A hook replacing `[batch, pos, d_model]` activations by `sae.reconstruct`
 * (a one-instance SAE whose d_in is d_model). The SAE and mask stay owned by the caller.
 */
export function saeSpliceHook(sae: Sae, opts: SpliceOptions = {}): HookFn {
  return (act, name) => {
    const [batch, T, d] = act.shape;
    if (sae.cfg.n_inst !== 1 || sae.cfg.d_in !== d) {
      throw new Error(
        `saeSpliceHook at "${name}": SAE has n_inst ${sae.cfg.n_inst}, d_in ${sae.cfg.d_in}; activation is [${act.shape}]`,
      );
    }
    const { keep } = opts;
    if (keep && (keep.shape[0] !== batch || keep.shape[1] !== T)) {
      throw new Error(`saeSpliceHook at "${name}": keep mask [${keep.shape}] does not match [${batch}, ${T}]`);
    }
    return tf.tidy(() => {
      const recon = tf.reshape(sae.reconstruct(tf.reshape(act, [batch * T, d])), [batch, T, d]) as tf.Tensor3D;
      if (!keep) return recon;
      const k = tf.expandDims(keep, 2);
      return tf.add(tf.mul(act, k), tf.mul(recon, tf.sub(1, k))) as tf.Tensor3D;
    });
  };
}

/** A hook replacing the activation by zeros at every position (SAELens's zero-ablation baseline). */
export function zeroAblationHook(): HookFn {
  return (act) => tf.zerosLike(act);
}
