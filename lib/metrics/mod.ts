/**
 * Study-B metrics: per-token values from logits and activations (tfjs;
 * `perTokenCE` is every CE of the pipeline, `deltaCE` and `mseVariants` what
 * `SpliceMetrics` accumulates), streaming per-position accumulators in float64
 * with standard errors, the BOS policy, co-moments, and Wilson intervals for
 * binned benchmark accuracy.
 *
 * @example
 * ```ts
 * import { SpliceMetrics, wilsonInterval } from "./mod.ts";
 * const m = new SpliceMetrics({ nPos: 128, dIn: 64, bosPolicy: "exclude-bos-tokens" });
 * const w = wilsonInterval(30, 100);
 * ```
 *
 * @module
 */

export * from "./per_position.ts";
export * from "./ratio_stats.ts";
export * from "./explained_variance.ts";
export * from "./lm_metrics.ts";
export * from "./splice_metrics.ts";
export * from "./wilson.ts";
export * from "./row_bins.ts";
export * from "./bootstrap.ts";
export * from "./comoments.ts";
