/**
 * The language-model module: GPT-2 with TransformerLens hook points, the
 * Hugging Face loader/writer (with TransformerLens centring), compact-vocabulary
 * maps, SAE splicing hooks and the resolver of study B's artefacts. The GPT-2
 * tokenizer and row packing live one layer down, in `lib/tokenizer/`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../engine/backend.ts";
 * import { toTokens } from "../tokenizer/mod.ts";
import { loadGpt2FromHf, resolveArtifacts } from "./mod.ts";
 * await initBackend();
 * const art = await resolveArtifacts();
 * const { model } = await loadGpt2FromHf(art.model, { centerWritingWeights: true });
 * const ids = toTokens("Hello world");
 * const logits = model.forward(tf.tensor2d(ids, [1, ids.length], "int32"));
 * ```
 *
 * @module
 */

export * from "./config.ts";
export * from "./gpt2.ts";
export * from "./hf_loader.ts";
export * from "./token_map.ts";
export * from "./splice.ts";
export * from "./artifacts.ts";
export * from "./sae_fit.ts";
