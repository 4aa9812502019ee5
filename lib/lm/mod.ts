/**
 * The language-model module: the {@link LanguageModel} interface and GPT-2,
 * its one implementation, with TransformerLens hook points; the Hugging Face
 * loader/writer (with TransformerLens centring); compact-vocabulary maps; the
 * LM trainer; the resolver of study B's artefacts. The GPT-2 tokenizer and
 * row packing live one layer down, in `lib/tokenizer/`; SAE splicing and
 * SAE-on-LM training one layer up, in `lib/splice/`; the embedded default's
 * recipe, report and pilots in the study layer, `lib/study_b/`. The synthetic
 * induction task (`induction_task.ts`) is exported; the random real-shape
 * artefacts (`random_artifacts.ts`, whose `GPT2_SMALL` would clash with
 * config's) are not.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../engine/backend.ts";
 * import { toTokens } from "../tokenizer/mod.ts";
 * import { defaultGpt2Config, Gpt2, type LanguageModel } from "./mod.ts";
 * await initBackend();
 * const model: LanguageModel = Gpt2.random(defaultGpt2Config({ n_layer: 1, d_model: 16, n_head: 2, n_ctx: 32 }), 0);
 * const ids = toTokens("Hello world");
 * const logits = model.forward(tf.tensor2d(ids, [1, ids.length], "int32")); // [1, pos, 50257]
 * ```
 *
 * @module
 */

export * from "./language_model.ts";
export * from "./config.ts";
export * from "./gpt2.ts";
export * from "./hf_loader.ts";
export * from "./token_map.ts";
export * from "./train.ts";
export * from "./induction_task.ts";
export * from "./artifacts.ts";
