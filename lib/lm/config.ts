/**
 * Shape of a GPT-2 model, named as Hugging Face's `GPT2Config` fields are
 * mapped by TransformerLens (`n_layer`, `n_head`, `d_model`, `n_ctx`,
 * `d_vocab`, `d_mlp`). The default is gpt2-small.
 *
 * @example
 * ```ts
 * import { defaultGpt2Config } from "./config.ts";
 * const tiny = defaultGpt2Config({ n_layer: 2, d_model: 64, n_head: 4, n_ctx: 64, d_vocab: 512 });
 * tiny.d_mlp; // 256 (4 · d_model unless overridden)
 * ```
 *
 * @module
 */

/** GPT-2 hyper-parameters. */
export interface Gpt2Config {
  /** Transformer blocks. */
  n_layer: number;
  /** Attention heads per block (d_head = d_model / n_head). */
  n_head: number;
  /** Residual stream width. */
  d_model: number;
  /** Maximum context (rows of the positional embedding). */
  n_ctx: number;
  /** Vocabulary size (rows of the token embedding, tied to the unembedding). */
  d_vocab: number;
  /** Hidden width of the MLP (4 · d_model in GPT-2). */
  d_mlp: number;
  /** LayerNorm ε. */
  layer_norm_epsilon: number;
}

/** gpt2-small: 12 layers, d_model 768, 12 heads, n_ctx 1024, vocab 50257. */
export const GPT2_SMALL: Readonly<Omit<Gpt2Config, "d_mlp">> = {
  n_layer: 12,
  n_head: 12,
  d_model: 768,
  n_ctx: 1024,
  d_vocab: 50257,
  layer_norm_epsilon: 1e-5,
};

/**
 * gpt2-small's shape with `overrides` applied; `d_mlp` defaults to 4 · d_model of
 * the result. Throws if the shape is inconsistent (d_model not divisible by n_head,
 * non-positive sizes).
 *
 * @example
 * ```ts
 * import { defaultGpt2Config } from "./config.ts";
 * defaultGpt2Config().d_mlp; // 3072
 * ```
 */
export function defaultGpt2Config(overrides: Partial<Gpt2Config> = {}): Gpt2Config {
  const base = { ...GPT2_SMALL, ...overrides };
  const cfg: Gpt2Config = { ...base, d_mlp: overrides.d_mlp ?? 4 * base.d_model };
  validateGpt2Config(cfg);
  return cfg;
}

/**
 * Throws an Error naming the field when a config is not a valid GPT-2 shape.
 *
 * @example
 * ```ts
 * import { defaultGpt2Config, validateGpt2Config } from "./config.ts";
 * validateGpt2Config(defaultGpt2Config()); // ok
 * ```
 */
export function validateGpt2Config(cfg: Gpt2Config, where = "Gpt2Config"): void {
  for (const key of ["n_layer", "n_head", "d_model", "n_ctx", "d_vocab", "d_mlp"] as const) {
    const v = cfg[key];
    if (!Number.isInteger(v) || v <= 0) {
      throw new Error(`${where}: ${key} must be a positive integer, got ${v}`);
    }
  }
  if (cfg.d_model % cfg.n_head !== 0) {
    throw new Error(`${where}: d_model (${cfg.d_model}) must be divisible by n_head (${cfg.n_head})`);
  }
  if (!(cfg.layer_norm_epsilon > 0)) {
    throw new Error(`${where}: layer_norm_epsilon must be > 0, got ${cfg.layer_norm_epsilon}`);
  }
}

/** Number of trainable parameters of a GPT-2 of this shape (tied unembedding counted once). */
export function gpt2ParamCount(cfg: Gpt2Config): number {
  let n = 0;
  for (const shape of gpt2ParamShapes(cfg).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/**
 * Every parameter's Hugging Face name (without the `transformer.` prefix) and
 * shape, in the order Hugging Face lists them. Linear weights use the Conv1D
 * layout `[in, out]` (used as x · W + b).
 *
 * @example
 * ```ts
 * import { defaultGpt2Config, gpt2ParamShapes } from "./config.ts";
 * gpt2ParamShapes(defaultGpt2Config()).get("h.0.attn.c_attn.weight"); // [768, 2304]
 * ```
 */
export function gpt2ParamShapes(cfg: Gpt2Config): Map<string, number[]> {
  const { d_model: d, d_mlp, d_vocab, n_ctx } = cfg;
  const shapes = new Map<string, number[]>();
  shapes.set("wte.weight", [d_vocab, d]);
  shapes.set("wpe.weight", [n_ctx, d]);
  for (let l = 0; l < cfg.n_layer; l++) {
    const h = `h.${l}.`;
    shapes.set(h + "ln_1.weight", [d]);
    shapes.set(h + "ln_1.bias", [d]);
    shapes.set(h + "attn.c_attn.weight", [d, 3 * d]);
    shapes.set(h + "attn.c_attn.bias", [3 * d]);
    shapes.set(h + "attn.c_proj.weight", [d, d]);
    shapes.set(h + "attn.c_proj.bias", [d]);
    shapes.set(h + "ln_2.weight", [d]);
    shapes.set(h + "ln_2.bias", [d]);
    shapes.set(h + "mlp.c_fc.weight", [d, d_mlp]);
    shapes.set(h + "mlp.c_fc.bias", [d_mlp]);
    shapes.set(h + "mlp.c_proj.weight", [d_mlp, d]);
    shapes.set(h + "mlp.c_proj.bias", [d]);
  }
  shapes.set("ln_f.weight", [d]);
  shapes.set("ln_f.bias", [d]);
  return shapes;
}
