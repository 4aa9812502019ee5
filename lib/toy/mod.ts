/**
 * Study A's toy models: composed-feature data, the ReLU-output toy model, the
 * SAE grid on its hidden activations, analysis and figures.
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
