/**
 * TopK: ReLU of each token's `k` largest pre-activations (`topkActivation`),
 * no sparsity penalty (sparsity is structural), the auxiliary-k loss over dead
 * latents. SAELens name `topk`, with `k` in `cfg.json` (legacy files:
 * `activation_fn: "topk"` with `activation_fn_kwargs.k`, mapped by `saelens.ts`).
 *
 * @example
 * ```ts
 * import { defaultSaeConfig } from "../config.ts";
 * import { topk } from "./topk.ts";
 * topk.validate(defaultSaeConfig({ architecture: "topk", k: 2, d_sae: 4 })); // ok; k = 5 would throw
 * ```
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";
import type { SaeArchitectureSpec } from "../architecture.ts";
import { topkActivation } from "../architectures.ts";
import { SaeConfigError } from "../config.ts";

/** The TopK architecture. */
export const topk: SaeArchitectureSpec = {
  name: "topk",
  validate: (cfg) => {
    if (!(cfg.k > 0) || !Number.isInteger(cfg.k) || cfg.k > cfg.d_sae) {
      throw new SaeConfigError(`SaeConfig.k: expected an integer in (0, d_sae = ${cfg.d_sae}], got ${cfg.k}`);
    }
  },
  activate: (pre, { cfg }) => topkActivation(pre, cfg.k) as tf.Tensor3D,
  threshold: null,
  penalty: null,
  auxK: true,
  postStep: null,
  saeLens: {
    name: "topk",
    reads: true,
    read: (flat, source, d_sae) => {
      const k = flat.k;
      if (typeof k !== "number" || !Number.isInteger(k) || k < 1 || k > d_sae) {
        throw new Error(`${source}: a topk SAE needs an integer "k" in [1, d_sae=${d_sae}], got ${JSON.stringify(k)}`);
      }
      if (flat.rescale_acts_by_decoder_norm === true) {
        throw new Error(`${source}: "rescale_acts_by_decoder_norm": true is not supported`);
      }
      return { k };
    },
    write: (cfg) => ({ k: cfg.k, rescale_acts_by_decoder_norm: false }),
  },
};
