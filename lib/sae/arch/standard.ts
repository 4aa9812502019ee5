/**
 * The standard SAE: ReLU activations and an ℓ1 penalty `λ·Σ_j c_j·a_j`
 * (weighted by ‖W_dec[j]‖ when `l1_weighted_by_decoder_norm` is set, as
 * SAELens's standard SAE). SAELens name `standard`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { defaultSaeConfig } from "../config.ts";
 * import { standard } from "./standard.ts";
 * const pre = tf.tensor3d([[[-1, 2]]]);
 * standard.activate(pre, { cfg: defaultSaeConfig(), threshold: null, training: false }).arraySync(); // [[[0, 2]]]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { SaeArchitectureSpec } from "../architecture.ts";

/** The standard (ReLU, ℓ1) architecture. */
export const standard: SaeArchitectureSpec = {
  name: "standard",
  validate: () => {},
  activate: (pre) => tf.relu(pre),
  threshold: null,
  penalty: { penalised: ({ acts }) => acts, decoderNormWeighted: true },
  auxK: false,
  postStep: null,
  saeLens: { name: "standard", reads: true, read: () => ({}), write: () => ({}) },
};
