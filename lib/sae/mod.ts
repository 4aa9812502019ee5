/**
 * The SAE module: one implementation (instances × architectures) for both
 * studies — configuration, the architecture registry, the model, its training
 * recipe, its metrics and its SAELens file format. It knows nothing of language
 * models: splicing an SAE into one lives a layer up, in `lib/splice/`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createSae, defaultSaeConfig, defaultSaeTrainConfig, trainSae } from "./mod.ts";
 * const sae = createSae(defaultSaeConfig({ d_in: 2, d_sae: 4, n_inst: 5 }), 0);
 * const { history } = await trainSae(sae, defaultSaeTrainConfig({ total_steps: 50 }), () => tf.randomUniform([1, 1024, 2]), {
 *   initBatch: () => tf.randomUniform([5000, 2]),
 * });
 * ```
 *
 * @module
 */

export * from "./config.ts";
export * from "./sae.ts";
export * from "./architecture.ts";
export * from "./registry.ts";
export * from "./architectures.ts";
export * from "./ghost.ts";
export * from "./loss.ts";
export * from "./adam.ts";
export * from "./schedule.ts";
export * from "./geometric_median.ts";
export * from "./train.ts";
export * from "./metrics.ts";
export * from "./saelens.ts";
