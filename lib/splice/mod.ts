/**
 * The splice layer: an SAE in a language model. One splice abstraction
 * (`splice.ts`: which hook, and what replaces its activation), the one loop
 * that runs a model clean and with each splice in turn (`spliced_loss.ts`),
 * the SAE/model fit check (`sae_fit.ts`), and SAE-on-LM training and
 * evaluation (`sae_training.ts`). It sits above both `lm/` (through the
 * `LanguageModel` interface) and `sae/`, which import neither each other nor it.
 *
 * @example
 * ```ts
 * import { saeSplice } from "./mod.ts";
 * // const splice = saeSplice("L3", sae); // x̂ = SAE(x) at sae.cfg.hook_name, every position
 * ```
 *
 * @module
 */

export * from "./splice.ts";
export * from "./sae_fit.ts";
export * from "./sae_training.ts";
export * from "./spliced_loss.ts";
