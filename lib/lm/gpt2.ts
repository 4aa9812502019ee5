/**
 * GPT-2 in tfjs, any size, with TransformerLens hook points.
 *
 * Architecture (Radford et al. 2019, as in Hugging Face `GPT2LMHeadModel`):
 * learned token and absolute-position embeddings, `n_layer` pre-LayerNorm
 * blocks (causal multi-head attention, then an MLP with `gelu_new`), a final
 * LayerNorm, and an unembedding tied to the token embedding
 * (logits = ln_f(x) · W_Eᵀ). Parameters are `tf.Variable`s keyed by their
 * Hugging Face names (`wte.weight`, `h.0.attn.c_attn.weight`, …; Conv1D
 * layout `[in, out]`), so the loader and writer need no renaming table.
 *
 * Hook points (TransformerLens names; every one is `[batch, pos, d_model]`):
 * `hook_embed`, `hook_pos_embed`, `blocks.{L}.hook_resid_pre`,
 * `blocks.{L}.hook_attn_out`, `blocks.{L}.hook_resid_mid`,
 * `blocks.{L}.hook_mlp_out`, `blocks.{L}.hook_resid_post`,
 * `ln_final.hook_normalized` (the output of ln_f, affine included; with
 * TransformerLens's default `fold_ln` its affine part is the identity).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../engine/backend.ts";
 * import { defaultGpt2Config } from "./config.ts";
 * import { Gpt2 } from "./gpt2.ts";
 * await initBackend();
 * const model = Gpt2.random(defaultGpt2Config({ n_layer: 2, d_model: 64, n_head: 4, n_ctx: 64, d_vocab: 512 }), 0);
 * const tokens = tf.tensor2d([[1, 2, 3, 4]], [1, 4], "int32");
 * const { logits, cache } = model.runWithCache(tokens, ["blocks.1.hook_resid_pre"]);
 * const loss = model.lossPerToken(logits!, tokens); // [1, 3]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { Rng } from "../engine/rng.ts";
import { causalAttention, causalMask } from "../engine/kernels/causal_attention.ts";
import { fusedLmOps } from "../engine/kernels/fused_ops.ts";
import {
  checkOffsets,
  embedTokens,
  gelu as geluOp,
  layerNorm as layerNormOp,
  softmaxCrossEntropy,
  unembedCrossEntropy,
} from "../engine/kernels/lm_layer_ops.ts";
import { type Gpt2Config, gpt2ParamShapes, validateGpt2Config } from "./config.ts";
import type { HookFn, LanguageModel, RunOptions, RunResult } from "./language_model.ts";
import { perTokenCE } from "../metrics/lm_metrics.ts";

export type { HookFn, RunOptions, RunResult } from "./language_model.ts";

const BLOCK_HOOKS = ["hook_resid_pre", "hook_attn_out", "hook_resid_mid", "hook_mlp_out", "hook_resid_post"] as const;

/**
 * All hook names of a model with `n_layer` blocks, in forward order.
 *
 * @example
 * ```ts
 * import { hookNames } from "./gpt2.ts";
 * hookNames(1); // ["hook_embed", "hook_pos_embed", "blocks.0.hook_resid_pre", …, "ln_final.hook_normalized"]
 * ```
 */
export function hookNames(n_layer: number): string[] {
  const names = ["hook_embed", "hook_pos_embed"];
  for (let l = 0; l < n_layer; l++) for (const h of BLOCK_HOOKS) names.push(`blocks.${l}.${h}`);
  names.push("ln_final.hook_normalized");
  return names;
}

/**
 * The block a hook name belongs to: −1 for the embeddings, n_layer for
 * `ln_final.hook_normalized`; throws for an unknown name.
 */
export function hookLayer(name: string, n_layer: number): number {
  if (name === "hook_embed" || name === "hook_pos_embed") return -1;
  if (name === "ln_final.hook_normalized") return n_layer;
  const m = /^blocks\.(\d+)\.(\w+)$/.exec(name);
  if (m && (BLOCK_HOOKS as readonly string[]).includes(m[2] as string) && Number(m[1]) < n_layer) {
    return Number(m[1]);
  }
  throw new Error(
    `unknown hook name "${name}" for a ${n_layer}-layer GPT-2: expected hook_embed, hook_pos_embed, ` +
      `blocks.{0..${n_layer - 1}}.{${BLOCK_HOOKS.join(",")}} or ln_final.hook_normalized`,
  );
}

/**
 * The first block a pass started at `hook` runs ({@link RunOptions.startAt}):
 * L for `blocks.{L}.hook_resid_pre`, L + 1 for `blocks.{L}.hook_resid_post`;
 * null for any other name (a pass cannot start there).
 *
 * @example
 * ```ts
 * import { residStartBlock } from "./gpt2.ts";
 * residStartBlock("blocks.1.hook_resid_post", 2); // 2
 * residStartBlock("blocks.1.hook_attn_out", 2); // null
 * ```
 */
export function residStartBlock(hook: string, n_layer: number): number | null {
  const m = /^blocks\.(\d+)\.hook_resid_(pre|post)$/.exec(hook);
  if (m === null || Number(m[1]) >= n_layer) return null;
  return Number(m[1]) + (m[2] === "post" ? 1 : 0);
}

/** Options of {@link initGpt2Arrays}. */
export interface Gpt2InitOptions {
  /**
   * Initial positional embeddings: `"normal"` (GPT-2's N(0, 0.02²), the
   * default) or `"sinusoid"`: the fixed sinusoids of the original
   * transformer (pairs sin/cos of p·10000^(−2j/d)) scaled to RMS 0.02. Either
   * way `wpe` stays a learned parameter; the sinusoids only start every
   * position with the same relation to its neighbours (p − 1 is a fixed
   * rotation of p), which attention can use from the first step at every
   * position instead of learning 1024 unrelated vectors.
   */
  wpe?: "normal" | "sinusoid";
}

/** Writes RMS-`rms` sinusoidal position codes into `w` (`[n_ctx, d_model]`). */
function sinusoidPositions(w: Float32Array, cfg: Gpt2Config, rms: number): void {
  const d = cfg.d_model;
  const scale = rms * Math.SQRT2; // sin and cos pairs have RMS 1/√2
  for (let p = 0; p < cfg.n_ctx; p++) {
    for (let j = 0; 2 * j < d; j++) {
      const f = p * Math.pow(10000, (-2 * j) / d);
      w[p * d + 2 * j] = scale * Math.sin(f);
      if (2 * j + 1 < d) w[p * d + 2 * j + 1] = scale * Math.cos(f);
    }
  }
}

/**
 * GPT-2 parameters drawn as in the GPT-2 paper: weights N(0, 0.02²), the
 * residual-writing projections N(0, (0.02/√(2·n_layer))²), biases 0, LayerNorm
 * gains 1. Same seed → same arrays.
 *
 * @example
 * ```ts
 * import { defaultGpt2Config } from "./config.ts";
 * import { initGpt2Arrays } from "./gpt2.ts";
 * const arrays = initGpt2Arrays(defaultGpt2Config({ n_layer: 1, d_model: 8, n_head: 2, n_ctx: 4, d_vocab: 10 }), 0);
 * arrays.get("wte.weight")!.length; // 80
 * ```
 */
export function initGpt2Arrays(
  cfg: Gpt2Config,
  seed: number,
  opts: Gpt2InitOptions = {},
): Map<string, Float32Array> {
  validateGpt2Config(cfg);
  const rng = new Rng(seed, "lm/gpt2/init");
  const out = new Map<string, Float32Array>();
  const projStd = 0.02 / Math.sqrt(2 * cfg.n_layer);
  for (const [name, shape] of gpt2ParamShapes(cfg)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (/ln_(1|2|f)\.weight$/.test(name)) data.fill(1);
    else if (name.endsWith(".weight")) rng.fillNormal(data, 0, name.endsWith("c_proj.weight") ? projStd : 0.02);
    out.set(name, data);
  }
  if ((opts.wpe ?? "normal") === "sinusoid") sinusoidPositions(out.get("wpe.weight") as Float32Array, cfg, 0.02);
  return out;
}

/** Options of the {@link Gpt2} constructor. */
export interface Gpt2Options {
  /** Whether the parameters are trainable variables (default true). */
  trainable?: boolean;
  /** Row means removed from `wte.weight` by centring (see {@link Gpt2.embedRowMean}). */
  embedRowMean?: Float32Array;
}

/** GPT-2 with hook points; see the module documentation. The one {@link LanguageModel} of the project. */
export class Gpt2 implements LanguageModel {
  /** The model's shape. */
  readonly cfg: Gpt2Config;
  /** Parameters by Hugging Face name (no `transformer.` prefix). */
  readonly params: ReadonlyMap<string, tf.Variable>;

  /**
   * Row means of the original token embedding `[d_vocab]` when the model was
   * centred (TransformerLens `center_writing_weights`), else null. Centring
   * removes them from `wte.weight`; the tied unembedding adds them back
   * (logits += Σ_d ln_f(x)_d · mean_v), so the logits stay those of the
   * uncentred model, as TransformerLens's untied `W_U` keeps them.
   */
  readonly embedRowMean: tf.Tensor2D | null;

  /**
   * Builds the model from host arrays keyed by Hugging Face name (see
   * `gpt2ParamShapes`); throws naming the key for a missing or wrong-sized array.
   */
  constructor(cfg: Gpt2Config, arrays: ReadonlyMap<string, Float32Array>, opts: Gpt2Options = {}) {
    validateGpt2Config(cfg);
    this.cfg = { ...cfg };
    const trainable = opts.trainable ?? true;
    const params = new Map<string, tf.Variable>();
    for (const [name, shape] of gpt2ParamShapes(cfg)) {
      const data = arrays.get(name);
      const size = shape.reduce((a, b) => a * b, 1);
      if (data === undefined) throw new Error(`Gpt2: missing parameter "${name}" (shape [${shape}])`);
      if (data.length !== size) {
        throw new Error(`Gpt2: parameter "${name}" has ${data.length} values, expected [${shape}] = ${size}`);
      }
      params.set(name, tf.tidy(() => tf.variable(tf.tensor(data, shape, "float32"), trainable)));
    }
    this.params = params;
    const mean = opts.embedRowMean;
    if (mean !== undefined && mean.length !== cfg.d_vocab) {
      throw new Error(`Gpt2: embedRowMean has ${mean.length} values, expected d_vocab = ${cfg.d_vocab}`);
    }
    this.embedRowMean = mean === undefined ? null : tf.tensor2d(mean, [1, cfg.d_vocab]);
  }

  /** A randomly initialised model ({@link initGpt2Arrays}). */
  static random(cfg: Gpt2Config, seed: number, init: Gpt2InitOptions = {}): Gpt2 {
    return new Gpt2(cfg, initGpt2Arrays(cfg, seed, init));
  }

  /** The parameters as a list, for optimisers. */
  trainableVariables(): tf.Variable[] {
    return [...this.params.values()];
  }

  /** Copies every parameter to host memory, keyed by Hugging Face name. */
  toArrays(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const [name, v] of this.params) out.set(name, v.dataSync() as Float32Array);
    return out;
  }

  /** Frees every parameter. */
  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.embedRowMean?.dispose();
  }

  /**
   * Logits `[batch, pos, d_vocab]` for int32 tokens `[batch, pos]`; rows start
   * at absolute positions `posOffsets` (`[batch]`, default all 0; see {@link RunOptions.posOffsets}).
   */
  forward(tokens: tf.Tensor2D, posOffsets?: Int32Array): tf.Tensor3D {
    return this.run(tokens, posOffsets === undefined ? {} : { posOffsets }).logits as tf.Tensor3D;
  }

  /** Logits plus the named activations (TransformerLens `run_with_cache`). */
  runWithCache(tokens: tf.Tensor2D, names: readonly string[], opts: { stopAtLayer?: number } = {}): RunResult {
    return this.run(tokens, { cache: names, stopAtLayer: opts.stopAtLayer });
  }

  /**
   * Logits with activations replaced by `hooks` (TransformerLens `run_with_hooks`):
   * the forward pass continues from each hook's returned tensor.
   */
  runWithHooks(tokens: tf.Tensor2D, hooks: Readonly<Record<string, HookFn>>): tf.Tensor3D {
    return this.run(tokens, { hooks }).logits as tf.Tensor3D;
  }

  /**
   * Logits `[batch, pos, d_vocab]` of a pass started at residual hook `hook`
   * with activation `act` (see {@link RunOptions.startAt}): the same as
   * `runWithHooks(tokens, { [hook]: () => act })`, without recomputing the blocks below `hook`.
   *
   * @example
   * ```ts
   * import * as tf from "@tensorflow/tfjs";
   * import { defaultGpt2Config } from "./config.ts";
   * import { Gpt2 } from "./gpt2.ts";
   * const model = Gpt2.random(defaultGpt2Config({ n_layer: 2, d_model: 8, n_head: 2, n_ctx: 4, d_vocab: 10 }), 0);
   * const tokens = tf.tensor2d([[1, 2, 3]], undefined, "int32");
   * const act = tf.zeros([1, 3, 8]) as tf.Tensor3D; // [batch, pos, d_model]
   * const logits = model.runFrom("blocks.1.hook_resid_pre", act, tokens); // [1, 3, 10]
   * ```
   */
  runFrom(hook: string, act: tf.Tensor3D, tokens: tf.Tensor2D): tf.Tensor3D {
    return this.run(tokens, { startAt: { hook, act } }).logits as tf.Tensor3D;
  }

  /** Whether a pass can start at `hook`: a residual hook (see {@link residStartBlock}). */
  canStartAt(hook: string): boolean {
    return residStartBlock(hook, this.cfg.n_layer) !== null;
  }

  /** The general forward pass behind `forward`, `runWithCache`, `runWithHooks` and `runFrom`. */
  run(tokens: tf.Tensor2D, opts: RunOptions = {}): RunResult {
    const { n_layer } = this.cfg;
    const [batch, T] = this.checkTokens(tokens);
    const stop = opts.stopAtLayer ?? n_layer;
    if (!Number.isInteger(stop) || stop < 0 || stop > n_layer) {
      throw new Error(`Gpt2.run: stopAtLayer must be an integer in [0, ${n_layer}], got ${stop}`);
    }
    const withLogits = stop === n_layer && opts.logits !== false;
    const hooks = opts.hooks ?? {};
    const want = new Set(opts.cache ?? []);
    const start = opts.startAt ? this.startPoint(opts.startAt, batch, T, stop, hooks) : null;
    const order = hookNames(n_layer);
    for (const name of [...want, ...Object.keys(hooks)]) {
      const layer = hookLayer(name, n_layer);
      if (layer >= stop && !(layer === n_layer && stop === n_layer)) {
        throw new Error(`Gpt2.run: hook "${name}" lies after stopAtLayer=${stop}`);
      }
      if (layer === n_layer && !withLogits) throw new Error(`Gpt2.run: hook "${name}" needs the logits pass`);
      if (start && order.indexOf(name) < order.indexOf(start.hook)) {
        throw new Error(`Gpt2.run: hook "${name}" lies before startAt "${start.hook}"`);
      }
    }
    const cache = new Map<string, tf.Tensor3D>();
    // Applies a replacement hook if any and records the activation if requested.
    const point = (x: tf.Tensor3D, name: string): tf.Tensor3D => {
      const fn = hooks[name];
      // clone: a returned tensor the caller owns is never disposed by the forward pass
      const y = fn === undefined ? x : fn(x, name).clone();
      if (fn !== undefined && !tf.util.arraysEqual(y.shape, x.shape)) {
        throw new Error(`Gpt2: hook "${name}" returned shape [${y.shape}], expected [${x.shape}]`);
      }
      if (want.has(name)) cache.set(name, tf.keep(y.clone()));
      return y;
    };
    let resid: tf.Tensor3D | null = null;
    try {
      if (start === null) resid = tf.tidy(() => this.embed(tokens, batch, T, point, opts.posOffsets));
      else {
        resid = tf.clone(start.act);
        // a resid_pre start is recorded by its block's own hook point; a resid_post start here
        if (start.block > hookLayer(start.hook, n_layer) && want.has(start.hook)) {
          cache.set(start.hook, tf.keep(tf.clone(start.act)));
        }
      }
      for (let l = start?.block ?? 0; l < stop; l++) {
        const input: tf.Tensor3D = resid;
        resid = tf.tidy(() => this.block(l, input, T, point));
        input.dispose();
      }
      const logits = withLogits ? tf.tidy(() => this.unembed(resid as tf.Tensor3D, point)) : null;
      return { logits, cache };
    } catch (err) {
      for (const t of cache.values()) t.dispose();
      throw err;
    } finally {
      resid?.dispose();
    }
  }

  /**
   * Per-token cross-entropy as TransformerLens's `lm_cross_entropy_loss`:
   * `[batch, pos−1]` with entry (b, j) = −log p(tokens[b, j+1] | tokens[b, ≤j]),
   * computed by `perTokenCE` of `lib/metrics` (its tests are the tests of every
   * CE of the pipeline), on row chunks whose logits stay below 2^31 entries.
   */
  lossPerToken(logits: tf.Tensor3D, tokens: tf.Tensor2D): tf.Tensor2D {
    const [batch, T, V] = logits.shape;
    if (tokens.shape[0] !== batch || tokens.shape[1] !== T) {
      throw new Error(`lossPerToken: logits [${logits.shape}] do not match tokens [${tokens.shape}]`);
    }
    if (T < 2) throw new Error(`lossPerToken: need at least 2 positions, got ${T}`);
    // Flat indices into the logits must stay below 2^31: split the batch into chunks.
    const rowsPerChunk = Math.max(1, Math.floor((2 ** 31 - 1) / (T * V)));
    if (rowsPerChunk >= batch) return perTokenCE(logits, tokens);
    return tf.tidy(() => {
      const parts: tf.Tensor2D[] = [];
      for (let b0 = 0; b0 < batch; b0 += rowsPerChunk) {
        const nb = Math.min(rowsPerChunk, batch - b0);
        parts.push(perTokenCE(tf.slice(logits, [b0, 0, 0], [nb, T, V]), tf.slice(tokens, [b0, 0], [nb, T])));
      }
      return tf.concat(parts, 0) as tf.Tensor2D;
    });
  }

  /** Mean next-token cross-entropy over all `batch · (pos−1)` predictions; differentiable (for training). */
  loss(tokens: tf.Tensor2D): tf.Scalar {
    return tf.tidy(() => tf.mean(this.lossPerToken(this.forward(tokens), tokens)) as tf.Scalar);
  }

  /**
   * Mean cross-entropy of the logits at every position of `tokens`
   * `[batch, pos]` against `targets` (`batch · pos` ids, row-major: the
   * training targets, each row's tokens shifted by one); differentiable. The
   * training loss: on the fused path (`engine/kernels/fused_ops.ts`) the
   * logits are never materialised whole (`unembedCrossEntropy`). `offsets`
   * (`[batch]`, optional): row b occupies absolute positions
   * `offsets[b] … offsets[b] + pos − 1` (see {@link RunOptions.posOffsets}).
   */
  nextTokenLoss(tokens: tf.Tensor2D, targets: Int32Array, offsets?: Int32Array): tf.Scalar {
    const [batch, T] = this.checkTokens(tokens);
    if (targets.length !== batch * T) {
      throw new RangeError(`Gpt2.nextTokenLoss: ${targets.length} targets for tokens [${batch}, ${T}]`);
    }
    const id: HookFn = (x) => x; // no hooks: every hook point is the identity
    return tf.tidy(() => {
      const wpe = this.p("wpe.weight") as tf.Tensor2D;
      const ids = tokens.dataSync() as Int32Array;
      let resid = embedTokens(this.p("wte.weight") as tf.Tensor2D, wpe, ids, batch, T, offsets); // [batch, pos, d_model]
      for (let l = 0; l < this.cfg.n_layer; l++) resid = this.block(l, resid, T, id);
      const flat = tf.reshape(this.layerNorm(resid, "ln_f"), [batch * T, this.cfg.d_model]) as tf.Tensor2D;
      const wte = this.p("wte.weight") as tf.Tensor2D;
      if (this.embedRowMean === null) return unembedCrossEntropy(flat, wte, targets);
      const logits = tf.add(tf.matMul(flat, wte, false, true), tf.mul(tf.sum(flat, -1, true), this.embedRowMean));
      return softmaxCrossEntropy(logits as tf.Tensor2D, targets);
    });
  }

  private p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (v === undefined) throw new Error(`Gpt2: no parameter "${name}"`);
    return v;
  }

  /** Validates {@link RunOptions.startAt}; returns the first block to run. */
  private startPoint(
    startAt: { hook: string; act: tf.Tensor3D },
    batch: number,
    T: number,
    stop: number,
    hooks: Readonly<Record<string, HookFn>>,
  ): { hook: string; act: tf.Tensor3D; block: number } {
    const { hook, act } = startAt;
    const block = residStartBlock(hook, this.cfg.n_layer);
    if (block === null) {
      const last = this.cfg.n_layer - 1;
      throw new Error(
        `Gpt2.run: startAt must be a residual hook blocks.{0..${last}}.hook_resid_pre|post, got "${hook}"`,
      );
    }
    if (block > stop) throw new Error(`Gpt2.run: startAt "${hook}" lies after stopAtLayer=${stop}`);
    if (hooks[hook] !== undefined) throw new Error(`Gpt2.run: a replacement hook is set at the startAt hook "${hook}"`);
    const want = [batch, T, this.cfg.d_model];
    if (!tf.util.arraysEqual(act.shape, want)) {
      throw new Error(`Gpt2.run: startAt activation has shape [${act.shape}], expected [${want}]`);
    }
    return { hook, act, block };
  }

  private checkTokens(tokens: tf.Tensor2D): [number, number] {
    if (tokens.rank !== 2 || tokens.dtype !== "int32") {
      throw new Error(`Gpt2: tokens must be an int32 [batch, pos] tensor, got ${tokens.dtype} [${tokens.shape}]`);
    }
    const [batch, T] = tokens.shape;
    if (T < 1 || T > this.cfg.n_ctx) throw new Error(`Gpt2: ${T} positions, expected 1…n_ctx=${this.cfg.n_ctx}`);
    const ids = tokens.dataSync();
    for (let i = 0; i < ids.length; i++) {
      const t = ids[i] as number;
      if (t < 0 || t >= this.cfg.d_vocab) {
        throw new Error(
          `Gpt2: token ${t} at [${Math.floor(i / T)}, ${i % T}] is outside the vocabulary [0, ${this.cfg.d_vocab})`,
        );
      }
    }
    return [batch, T];
  }

  private embed(tokens: tf.Tensor2D, batch: number, T: number, point: HookFn, offsets?: Int32Array): tf.Tensor3D {
    const d = this.cfg.d_model;
    const embed = point(tf.gather(this.p("wte.weight"), tokens) as tf.Tensor3D, "hook_embed"); // [batch, pos, d_model]
    let pos: tf.Tensor3D; // [batch, pos, d_model]
    if (offsets === undefined) {
      pos = tf.broadcastTo(tf.slice(this.p("wpe.weight"), [0, 0], [T, d]), [batch, T, d]) as tf.Tensor3D;
    } else {
      checkOffsets(offsets, batch, T, this.cfg.n_ctx);
      const at = new Int32Array(batch * T); // absolute position of each (row, t)
      for (let b = 0; b < batch; b++) for (let t = 0; t < T; t++) at[b * T + t] = (offsets[b] as number) + t;
      pos = tf.reshape(tf.gather(this.p("wpe.weight"), tf.tensor1d(at, "int32")), [batch, T, d]);
    }
    const posEmbed = point(pos, "hook_pos_embed"); // [batch, pos, d_model]
    return tf.add(embed, posEmbed);
  }

  private block(l: number, resid: tf.Tensor3D, T: number, point: HookFn): tf.Tensor3D {
    const h = `h.${l}.`;
    const pre = point(resid, `blocks.${l}.hook_resid_pre`); // [batch, pos, d_model]
    const ln1 = this.layerNorm(pre, h + "ln_1");
    const attnOut = point(this.attention(l, ln1, T), `blocks.${l}.hook_attn_out`); // [batch, pos, d_model]
    const mid = point(tf.add(pre, attnOut), `blocks.${l}.hook_resid_mid`); // [batch, pos, d_model]
    const ln2 = this.layerNorm(mid, h + "ln_2");
    const hidden = gelu(this.linear(ln2, h + "mlp.c_fc")); // [batch, pos, d_mlp]
    const mlpOut = point(this.linear(hidden, h + "mlp.c_proj"), `blocks.${l}.hook_mlp_out`); // [batch, pos, d_model]
    return point(tf.add(mid, mlpOut), `blocks.${l}.hook_resid_post`); // [batch, pos, d_model]
  }

  private attention(l: number, x: tf.Tensor3D, T: number): tf.Tensor3D {
    const { n_head: H, d_model: d } = this.cfg;
    if (fusedLmOps() !== null) {
      // one [batch, pos, 3·d_model] product; the fused op reads q, k, v in place by their row stride
      const z = causalAttention(this.linear(x, `h.${l}.attn.c_attn`), H); // [batch, pos, d_model]
      return this.linear(z, `h.${l}.attn.c_proj`);
    }
    const dh = d / H;
    const batch = x.shape[0];
    // q, k, v from column slices of c_attn: slicing the small weight is much cheaper than splitting
    // the [batch, pos, 3·d_model] activation (and its gradient) along its last axis.
    const q = this.linear(x, `h.${l}.attn.c_attn`, [0, d]); // [batch, pos, d_model]
    const k = this.linear(x, `h.${l}.attn.c_attn`, [d, d]); // [batch, pos, d_model]
    const v = this.linear(x, `h.${l}.attn.c_attn`, [2 * d, d]); // [batch, pos, d_model]
    const heads = (t: tf.Tensor3D, perm: number[]) => tf.transpose(tf.reshape(t, [batch, T, H, dh]), perm);
    const qh = tf.mul(heads(q, [0, 2, 1, 3]), 1 / Math.sqrt(dh)); // [batch, head, pos_q, d_head]
    const kT = heads(k, [0, 2, 3, 1]); // [batch, head, d_head, pos_k]
    const vh = heads(v, [0, 2, 1, 3]); // [batch, head, pos_k, d_head]
    const scores = tf.add(tf.matMul(qh, kT), causalMask(T)); // [batch, head, pos_q, pos_k]
    const pattern = tf.softmax(scores); // [batch, head, pos_q, pos_k]
    const z = tf.transpose(tf.matMul(pattern, vh), [0, 2, 1, 3]); // [batch, pos, head, d_head]
    return this.linear(tf.reshape(z, [batch, T, d]), `h.${l}.attn.c_proj`);
  }

  private unembed(resid: tf.Tensor3D, point: HookFn): tf.Tensor3D {
    const [batch, T, d] = resid.shape;
    const normalized = point(this.layerNorm(resid, "ln_f"), "ln_final.hook_normalized"); // [batch, pos, d_model]
    const flat = tf.reshape(normalized, [batch * T, d]); // [batch·pos, d_model]
    // tied W_U = W_Eᵀ: wte [d_vocab, d_model] used transposed (a BLAS flag on the engine's matmul path)
    let logits: tf.Tensor2D = tf.matMul(flat, this.p("wte.weight"), false, true); // [batch·pos, d_vocab]
    if (this.embedRowMean !== null) logits = tf.add(logits, tf.mul(tf.sum(flat, -1, true), this.embedRowMean));
    return tf.reshape(logits, [batch, T, this.cfg.d_vocab]);
  }

  /**
   * x · W + b with a Conv1D weight `[in, out]`; with `cols = [start, width]`, only those output
   * columns (the small weight and bias are sliced, never the activation).
   */
  private linear(x: tf.Tensor3D, prefix: string, cols?: [number, number]): tf.Tensor3D {
    const [batch, T, din] = x.shape;
    let w: tf.Tensor2D = this.p(prefix + ".weight") as tf.Tensor2D;
    let bias: tf.Tensor = this.p(prefix + ".bias");
    if (cols !== undefined) {
      w = tf.slice(w, [0, cols[0]], [din, cols[1]]);
      bias = tf.slice(bias, [cols[0]], [cols[1]]);
    }
    const y = tf.add(tf.matMul(tf.reshape(x, [batch * T, din]), w), bias);
    return tf.reshape(y, [batch, T, w.shape[1] as number]);
  }

  private layerNorm(x: tf.Tensor3D, prefix: string): tf.Tensor3D {
    return layerNormOp(x, this.p(prefix + ".weight"), this.p(prefix + ".bias"), this.cfg.layer_norm_epsilon);
  }
}

/** gelu_new: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (fused on the wasm path, `lm_layer_ops.ts`). */
export function gelu(x: tf.Tensor3D): tf.Tensor3D {
  return geluOp(x);
}
