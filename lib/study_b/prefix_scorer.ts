/**
 * CBT scoring with a shared prefix: the 10 option sequences of a CBT item share
 * their head (BOS + context + question up to the blank), and a causal model's
 * activations on the head do not depend on what follows. So the head runs once
 * per model variant, its attention keys and values are kept, and only the 10
 * short tails (option + rest of the question) run against them, with logits
 * only where they are scored. The result equals scoring the 10 full sequences
 * (tested against `Gpt2.forward` to float32 rounding) at a fraction of the
 * cost, which is what lets ≥ 200 items fit the notebook's time budget.
 *
 * The forward pass here re-implements GPT-2's block from the model's own
 * parameters (pre-LayerNorm, gelu_new, tied unembedding with the centring
 * correction) with a key/value cache; a splice replaces the residual stream at
 * one `hook_resid_pre` / last `hook_resid_post` at every position (head and
 * tails), as in every other study-B run.
 *
 * @example
 * ```ts
 * import { scoreOptionsShared } from "./prefix_scorer.ts";
 * // const scores = scoreOptionsShared(setup.model, prompts, null); // one score per option
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { CbtPrompt } from "../data/bench_prompts.ts";
import { gelu as geluOp, layerNorm } from "../engine/kernels/lm_layer_ops.ts";
import type { LanguageModel } from "../lm/language_model.ts";
import type { Splice } from "../splice/splice.ts";

/** The splice's replacement of `x` `[batch, pos, d]` (its feature activations dropped). */
function spliced(splice: Splice, x: tf.Tensor3D, tokens: tf.Tensor2D): tf.Tensor3D {
  const { recon, acts } = splice.reconstruct(x, tokens);
  acts?.dispose();
  return recon;
}

interface Kv {
  k: tf.Tensor4D; // [batch, head, pos, d_head]
  v: tf.Tensor4D; // [batch, head, pos, d_head]
}

function param(model: LanguageModel, name: string): tf.Tensor {
  const p = model.params.get(name);
  if (!p) throw new Error(`prefix scorer: the model has no parameter "${name}"`);
  return p;
}

function linear(model: LanguageModel, x: tf.Tensor3D, prefix: string): tf.Tensor3D {
  const [B, L, din] = x.shape;
  const w = param(model, `${prefix}.weight`) as tf.Tensor2D;
  const y = tf.add(tf.matMul(tf.reshape(x, [B * L, din]), w), param(model, `${prefix}.bias`));
  return tf.reshape(y, [B, L, w.shape[1]!]);
}

function ln(model: LanguageModel, x: tf.Tensor3D, prefix: string): tf.Tensor3D {
  return layerNorm(x, param(model, `${prefix}.weight`), param(model, `${prefix}.bias`), model.cfg.layer_norm_epsilon);
}

/**
 * Runs `tokens` `[B, L]` at positions `offset … offset+L−1` after a cached
 * prefix `past` (batch 1, broadcast; null = none). Returns the final residual
 * stream `[B, L, d]` and the keys/values of prefix + tokens per layer (kept).
 */
function forwardCached(
  model: LanguageModel,
  tokens: tf.Tensor2D,
  offset: number,
  past: Kv[] | null,
  splice: Splice | null,
): { resid: tf.Tensor3D; kv: Kv[] } {
  const { n_layer, n_head: H, d_model: d } = model.cfg;
  const dh = d / H;
  const [B, L] = tokens.shape;
  const kv: Kv[] = [];
  const resid = tf.tidy(() => {
    const pos = tf.slice(param(model, "wpe.weight"), [offset, 0], [L, d]); // [L, d]
    let x = tf.add(tf.gather(param(model, "wte.weight"), tokens), pos) as tf.Tensor3D; // [B, L, d]
    const P = past ? past[0]!.k.shape[2] : 0;
    // mask [L, P + L]: a new token sees the whole prefix and new tokens up to itself
    const maskData = new Float32Array(L * (P + L));
    for (let i = 0; i < L; i++) for (let j = P + i + 1; j < P + L; j++) maskData[i * (P + L) + j] = -1e9;
    const mask = tf.tensor2d(maskData, [L, P + L]);
    for (let l = 0; l < n_layer; l++) {
      if (splice?.hook === `blocks.${l}.hook_resid_pre`) x = spliced(splice, x, tokens);
      const h = `h.${l}.`;
      const a = ln(model, x, h + "ln_1");
      const qkv = linear(model, a, h + "attn.c_attn"); // [B, L, 3d]
      const heads = (t: tf.Tensor3D) => tf.transpose(tf.reshape(t, [B, L, H, dh]), [0, 2, 1, 3]) as tf.Tensor4D;
      const q = heads(tf.slice(qkv, [0, 0, 0], [B, L, d]));
      let k = heads(tf.slice(qkv, [0, 0, d], [B, L, d]));
      let v = heads(tf.slice(qkv, [0, 0, 2 * d], [B, L, d]));
      if (past) {
        k = tf.concat([tf.broadcastTo(past[l]!.k, [B, H, P, dh]), k], 2);
        v = tf.concat([tf.broadcastTo(past[l]!.v, [B, H, P, dh]), v], 2);
      }
      kv.push({ k: tf.keep(k), v: tf.keep(v) });
      const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)), mask); // [B, H, L, P+L]
      const z = tf.transpose(tf.matMul(tf.softmax(scores), v), [0, 2, 1, 3]); // [B, L, H, dh]
      const attnOut = linear(model, tf.reshape(z, [B, L, d]) as tf.Tensor3D, h + "attn.c_proj");
      const mid = tf.add(x, attnOut) as tf.Tensor3D;
      const mlp = linear(model, geluOp(linear(model, ln(model, mid, h + "ln_2"), h + "mlp.c_fc")), h + "mlp.c_proj");
      x = tf.add(mid, mlp) as tf.Tensor3D;
      if (splice?.hook === `blocks.${l}.hook_resid_post`) x = spliced(splice, x, tokens);
    }
    return x;
  });
  return { resid, kv };
}

/** Log-softmax logits of residual rows `[N, d]` (final LayerNorm, tied unembedding, centring correction). */
function logProbsOf(model: LanguageModel, resid: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const f = layerNorm(resid, param(model, "ln_f.weight"), param(model, "ln_f.bias"), model.cfg.layer_norm_epsilon);
    let logits = tf.matMul(f, param(model, "wte.weight") as tf.Tensor2D, false, true); // [N, V]
    if (model.embedRowMean !== null) logits = tf.add(logits, tf.mul(tf.sum(f, -1, true), model.embedRowMean));
    return tf.logSoftmax(logits) as tf.Tensor2D;
  });
}

/** True when every prompt has the same tokens before its `optionStart` (the shared head). */
export function sharesHead(prompts: readonly CbtPrompt[]): boolean {
  const h = prompts[0]!.optionStart;
  return prompts.every((p) =>
    p.optionStart === h && p.tokens.subarray(0, h).every((t, i) => t === prompts[0]!.tokens[i])
  );
}

/**
 * Scores of the options of one CBT item (the sum of log-probs from each
 * option's first token to the end of its sequence), running the shared head
 * once. `prompts` are in model ids and must share their head ({@link sharesHead}).
 */
export async function scoreOptionsShared(
  model: LanguageModel,
  prompts: readonly CbtPrompt[],
  splice: Splice | null,
): Promise<number[]> {
  if (!sharesHead(prompts)) throw new RangeError("scoreOptionsShared: the option prompts do not share their head");
  const H = prompts[0]!.optionStart;
  const tails = prompts.map((p) => p.tokens.subarray(H));
  const maxTail = Math.max(...tails.map((t) => t.length));
  if (H < 1 || maxTail < 1) throw new RangeError(`scoreOptionsShared: head ${H} and tails up to ${maxTail} tokens`);
  const headTok = tf.tensor2d(prompts[0]!.tokens.subarray(0, H), [1, H], "int32");
  const head = forwardCached(model, headTok, 0, null, splice);
  headTok.dispose();
  const tailData = new Int32Array(tails.length * maxTail);
  tails.forEach((t, i) => tailData.set(t, i * maxTail)); // right-padded with 0: a causal model ignores what follows
  const tailTok = tf.tensor2d(tailData, [tails.length, maxTail], "int32");
  let tail: { resid: tf.Tensor3D; kv: Kv[] } | null = null;
  try {
    tail = forwardCached(model, tailTok, H, head.kv, splice);
    const d = model.cfg.d_model;
    const lastHead = tf.tidy(() => tf.reshape(tf.slice(head.resid, [0, H - 1, 0], [1, 1, d]), [1, d]) as tf.Tensor2D);
    const lpHead = logProbsOf(model, lastHead); // [1, V]
    const lpTail = logProbsOf(model, tf.reshape(tail.resid, [tails.length * maxTail, d]) as tf.Tensor2D); // [10·L, V]
    const [a, b] = [await lpHead.data(), await lpTail.data()];
    tf.dispose([lastHead, lpHead, lpTail]);
    const V = model.cfg.d_vocab;
    return tails.map((t, o) => {
      let s = a[t[0]!]!;
      for (let m = 0; m + 1 < t.length; m++) s += b[(o * maxTail + m) * V + t[m + 1]!]!;
      return s;
    });
  } finally {
    tailTok.dispose();
    head.resid.dispose();
    for (const c of head.kv) tf.dispose([c.k, c.v]);
    if (tail) {
      tail.resid.dispose();
      for (const c of tail.kv) tf.dispose([c.k, c.v]);
    }
  }
}
