/**
 * Study A's toy models: composed-feature data, the ReLU-output toy model, the
 * SAE grid on its hidden activations, analysis and figures, the follow-up
 * studies of notebooks 03–04 (objective, geometry, scale, architectures) with
 * their closed-form predictions, and the fused small-SAE trainer
 * (`fused_small.ts`; `fused_run.ts`, `fused_kernels.ts` and `fused_worker.ts`
 * are its internals).
 *
 * @example
 * ```ts
 * import { ComposedFeatureData, datasetConfig, defaultToyTrainConfig, trainToyModel } from "./mod.ts";
 * const data = new ComposedFeatureData(datasetConfig("D1"));
 * const { model } = trainToyModel(data, defaultToyTrainConfig({ steps: 200 }));
 * ```
 *
 * @module
 */

export * from "./data.ts";
export * from "./model.ts";
export * from "./analysis.ts";
export * from "./grid.ts";
export * from "./figures.ts";
export * from "./study.ts";
export * from "./reference.ts";
export * from "./predictions.ts";
export * from "./moments.ts";
export * from "./landscape.ts";
export * from "./followup_train.ts";
export * from "./objective_study.ts";
export * from "./geometry_study.ts";
export * from "./scale_study.ts";
export * from "./arch_study.ts";
export * from "./fused_small.ts";
