/**
 * JumpReLU (arXiv:2407.14435, as SAELens trains it): activations
 * `pre · [pre > θ]` with a trained per-latent threshold θ (optimised in log
 * space, starting at `jumprelu_init_threshold`), and an L0 penalty
 * `λ·Σ_j c_j·[pre_j > θ_j]` whose gradient reaches θ through the rectangle
 * kernel of bandwidth `jumprelu_bandwidth` (`jumpRelu`, `jumpStep`).
 * SAELens name `jumprelu`; files carry `threshold` (or `log_threshold`).
 *
 * @example
 * ```ts
 * import { defaultSaeConfig } from "../config.ts";
 * import { jumprelu } from "./jumprelu.ts";
 * jumprelu.threshold?.initial(defaultSaeConfig({ architecture: "jumprelu", jumprelu_init_threshold: 0.05 })); // 0.05
 * ```
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";
import type { SaeArchitectureSpec } from "../architecture.ts";
import { jumpRelu, jumpStep } from "../architectures.ts";
import { SaeConfigError } from "../config.ts";

/** The JumpReLU architecture. */
export const jumprelu: SaeArchitectureSpec = {
  name: "jumprelu",
  validate: (cfg) => {
    if (!(cfg.jumprelu_init_threshold > 0)) {
      throw new SaeConfigError(`SaeConfig.jumprelu_init_threshold: expected > 0, got ${cfg.jumprelu_init_threshold}`);
    }
    if (!(cfg.jumprelu_bandwidth > 0)) {
      throw new SaeConfigError(`SaeConfig.jumprelu_bandwidth: expected > 0, got ${cfg.jumprelu_bandwidth}`);
    }
  },
  activate: (pre, { cfg, threshold }) => jumpRelu(pre, threshold as tf.Variable, cfg.jumprelu_bandwidth) as tf.Tensor3D,
  threshold: { trained: true, initial: (cfg) => cfg.jumprelu_init_threshold },
  penalty: {
    penalised: ({ pre, threshold, cfg }) =>
      jumpStep(pre, threshold as tf.Variable, cfg.jumprelu_bandwidth) as tf.Tensor3D,
    decoderNormWeighted: false,
  },
  auxK: false,
  postStep: null,
  saeLens: {
    name: "jumprelu",
    reads: true,
    read: (flat) => {
      const out: { jumprelu_init_threshold?: number; jumprelu_bandwidth?: number } = {};
      if (typeof flat.jumprelu_init_threshold === "number") out.jumprelu_init_threshold = flat.jumprelu_init_threshold;
      if (typeof flat.jumprelu_bandwidth === "number") out.jumprelu_bandwidth = flat.jumprelu_bandwidth;
      return out;
    },
    write: () => ({}),
  },
};
