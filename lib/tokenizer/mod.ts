/**
 * The tokenizer layer: GPT-2 byte-level BPE and the ways study B packs
 * documents into fixed-length rows. It sits below `data/` (token caches) and
 * `lm/` (training and evaluation), which both import it.
 *
 * @example
 * ```ts
 * import { BOS_TOKEN_ID, toTokens } from "./mod.ts";
 * toTokens("Hello world")[0] === BOS_TOKEN_ID; // true
 * ```
 *
 * @module
 */

export * from "./tokenizer.ts";
