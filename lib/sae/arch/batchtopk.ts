/**
 * BatchTopK: in training, per instance, the `⌊k·batch⌋` largest `ReLU(pre)`
 * of the whole batch (`batchTopkActivation`); at inference, JumpReLU with a
 * threshold θ that is not trained by gradients but set after every step to a
 * moving average of the smallest kept activation (rate `topk_threshold_lr`,
 * as SAELens). No sparsity penalty; the auxiliary-k loss over dead latents.
 * Written to SAELens files as `jumprelu` (how it runs at inference), so it
 * reads back as a JumpReLU SAE.
 *
 * @example
 * ```ts
 * import { defaultSaeConfig } from "../config.ts";
 * import { batchtopk } from "./batchtopk.ts";
 * batchtopk.validate(defaultSaeConfig({ architecture: "batchtopk", k: 1.5, d_sae: 4 })); // k may be fractional
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { SaeArchitectureSpec } from "../architecture.ts";
import { batchTopkActivation, jumpRelu } from "../architectures.ts";
import { SaeConfigError } from "../config.ts";

/** The BatchTopK architecture. */
export const batchtopk: SaeArchitectureSpec = {
  name: "batchtopk",
  validate: (cfg) => {
    if (!(cfg.k > 0) || cfg.k > cfg.d_sae) {
      throw new SaeConfigError(`SaeConfig.k: expected a number in (0, d_sae = ${cfg.d_sae}], got ${cfg.k}`);
    }
  },
  activate: (pre, { cfg, threshold, training }) =>
    (training
      ? batchTopkActivation(pre, cfg.k)
      : jumpRelu(pre, threshold as tf.Variable, cfg.jumprelu_bandwidth)) as tf.Tensor3D,
  threshold: { trained: false, initial: () => 0 },
  penalty: null,
  auxK: true,
  postStep: {
    // the smallest positive activation of each instance's batch (3e38 where none is positive)
    statistic: (acts) => {
      const n = acts.shape[0];
      const big = tf.mul(tf.sub(1, tf.step(acts)), 3e38);
      return tf.min(tf.reshape(tf.add(acts, big), [n, -1]), 1);
    },
    // running ← (1 − r)·running + r·statistic where some activation was positive; θ_nj ← running_n
    apply: (running, statistic, t, threshold, d_sae) => {
      const n = running.length;
      for (let i = 0; i < n; i++) {
        const mp = statistic[i] as number;
        if (mp < 1e38) {
          running[i] = (1 - t.topk_threshold_lr) * (running[i] as number) + t.topk_threshold_lr * mp;
        }
      }
      const th = new Float32Array(n * d_sae);
      for (let q = 0; q < n * d_sae; q++) th[q] = running[Math.floor(q / d_sae)] as number;
      const thT = tf.tensor2d(th, [n, d_sae]);
      threshold.assign(thT);
      thT.dispose();
    },
  },
  saeLens: { name: "jumprelu", reads: false, read: () => ({}), write: () => ({}) },
};
