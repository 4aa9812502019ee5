/**
 * Study B — "Examining language model performance with reconstructed
 * activations using sparse autoencoders": the pipeline behind notebooks 11–14.
 *
 * | module | what |
 * | --- | --- |
 * | `setup.ts` | model (centred, behind the `LanguageModel` interface), token map, BOS id, SAE list with layer labels |
 * | `rows.ts` | N evaluation prompts of T tokens (TransformerLens `tokenize_and_concatenate`) |
 * | `context_sweep.ts` | F1/F2: clean + spliced (+ zero-ablated) runs (the splice layer's one loop), every per-position metric |
 * | `batch_metrics.ts` | KL in position chunks, clean-model-sampled targets, the batch-size rule |
 * | `error_propagation.ts` | F3: how one spliced SAE moves later activations and later SAEs |
 * | `benchmarks_eval.ts`, `bench_summary.ts` | F4/F5: LAMBADA- and CBT-style scoring per variant |
 * | `prefix_scorer.ts` | CBT options scored after one shared head (key/value cache), splices included |
 * | `positional.ts` | FU1: positional add-back variants V0–V3 |
 * | `notebook.ts` | the notebooks' opening cells: backend, artefacts, run configuration, rows or items |
 * | `summary.ts` | window means, hold positions, tables |
 * | `position_probe.ts` | ridge probes of the position from the residual stream, inside vs beyond the context |
 * | `control_saes.ts` | control SAEs trained on full-length rows, found beside the main ones, compared side by side |
 * | `rules*.ts`, `guards.ts` | pre-registered rules per claim (statistic, threshold, interval) and their verdicts; the notebooks' guards |
 * | `figures*.ts`, `figure_bins.ts` | figure builders with data and captions |
 * | `embedded.ts` | the embedded default: recipe, training (`train-lm`, `train-saes`), manifest, loader |
 * | `embedded_report.ts` | notebook 10's measures: curves, loss by position, context use, induction, SAE quality |
 * | `context_probe.ts`, `pilots.ts` | notebook 09's recipe pilots: held-out context-use probes, the choosing rule |
 * | `copy_locality.ts` | notebook 09: whether a pilot copies by content or from a fixed distance back |
 * | `switch_arms.ts` | notebook 09: the arms trained on from a pilot's checkpoint at its switch to rows of 1024 |
 *
 * @example
 * ```ts
 * import { initBackend } from "../engine/backend.ts";
 * import { loadEvalRows, loadStudySetup, runContextSweep } from "./mod.ts";
 * await initBackend();
 * const setup = await loadStudySetup();
 * const rows = await loadEvalRows(setup, { nRows: 8, T: 256 });
 * const result = await runContextSweep(setup, rows.rows);
 * ```
 *
 * @module
 */

export * from "./setup.ts";
export * from "./rows.ts";
export * from "./batch_metrics.ts";
export * from "./context_sweep.ts";
export * from "./error_propagation.ts";
export * from "./benchmarks_eval.ts";
export * from "./bench_summary.ts";
export * from "./positional.ts";
export * from "./positional_run.ts";
export * from "./summary.ts";
export * from "./rules.ts";
export * from "./rules_context.ts";
export * from "./rules_propagation.ts";
export * from "./rules_bench.ts";
export * from "./rules_positional.ts";
export * from "./position_probe.ts";
export * from "./binned.ts";
export * from "./control_saes.ts";
export * from "./run_config.ts";
export * from "./notebook.ts";
export * from "./figures.ts";
export * from "./figures_followup.ts";
export * from "./figures_bench.ts";
export * from "./guards.ts";
export * from "./prefix_scorer.ts";
export * from "./figure_bins.ts";
export * from "./embedded.ts";
export * from "./embedded_report.ts";
export * from "./context_probe.ts";
export * from "./pilots.ts";
export * from "./copy_locality.ts";
export * from "./switch_arms.ts";
export * from "./copy_distance.ts";
