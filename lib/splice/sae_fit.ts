/**
 * Whether an SAE fits a language model: it reads a hook the model has and its
 * `d_in` is the model's `d_model`. Here, above both `sae/` and the model,
 * rather than in `sae/saelens.ts`, so that `sae/` needs nothing from `lm/`.
 *
 * @module
 */

import type { Sae } from "../sae/sae.ts";
import type { SaeConfig } from "../sae/config.ts";
import type { LanguageModelConfig } from "../lm/language_model.ts";
import { hookLayer } from "../lm/gpt2.ts";

/**
 * Throws unless the SAE reads a hook the model has and its `d_in` equals the
 * model's `d_model`; the message names the SAE's d_in and hook and the model's
 * d_model and layers.
 *
 * @example
 * ```ts
 * import { defaultSaeConfig } from "../sae/config.ts";
 * import { defaultGpt2Config } from "../lm/config.ts";
 * import { assertSaeFitsModel } from "./sae_fit.ts";
 * assertSaeFitsModel(defaultSaeConfig({ d_in: 768, hook_name: "blocks.8.hook_resid_pre" }), defaultGpt2Config());
 * ```
 */
export function assertSaeFitsModel(
  sae: Sae | SaeConfig,
  model: Pick<LanguageModelConfig, "d_model" | "n_layer">,
  modelLabel = "the model",
): void {
  const cfg = "cfg" in sae ? sae.cfg : sae;
  const what = `SAE (d_in ${cfg.d_in}, hook "${cfg.hook_name}")`;
  const where = `${modelLabel} (d_model ${model.d_model}, ${model.n_layer} layers: blocks.0…${model.n_layer - 1})`;
  try {
    hookLayer(cfg.hook_name, model.n_layer);
  } catch {
    throw new Error(`${what} does not fit ${where}: the model has no hook "${cfg.hook_name}"`);
  }
  if (cfg.d_in !== model.d_model) {
    throw new Error(`${what} does not fit ${where}: d_in ${cfg.d_in} ≠ d_model ${model.d_model}`);
  }
}
