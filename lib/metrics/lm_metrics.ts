/**
 * Per-token language-model and SAE metrics as tfjs functions. Each takes
 * tensors shaped like the model's hook outputs and returns one value per token
 * ([batch, pos] or [batch, pos − 1]); every vocabulary- or feature-sized
 * intermediate is created and released inside `tf.tidy`, so only the small
 * result tensor survives (the caller disposes it).
 *
 * Definitions (study B §3, TransformerLens / SAELens conventions):
 *
 * | function | value at [i, j] |
 * | --- | --- |
 * | {@link nextTokenLogProbs} | `ln p_{i,j}(t_{i,j+1})`, j = 0 … T−2 (log-softmax via max subtraction) |
 * | {@link perTokenCE} | `−ln p_{i,j}(t_{i,j+1})` (TransformerLens `lm_cross_entropy_loss`, per token) |
 * | {@link perTokenKL} | `KL(p_{i,j} ‖ q_{i,j}) = Σ_v p (ln p − ln q)` over the full vocabulary, j = 0 … T−1 |
 * | {@link argmaxTokens} | `argmax_v z_{i,j}(v)` |
 * | {@link reconstructionTerms} | `SSE = ‖x̂ − x‖²`, `‖x‖²`, `‖x‖` |
 * | {@link featureSparsity} | `L0 = #{k : f_k > 0}`, `L1 = Σ_k |f_k|` |
 *
 * ΔCE per token is `CE_spliced − CE_clean` (positive = the SAE hurts); see
 * {@link deltaCE}. MSE variants from SSE and ‖x‖² are in {@link mseVariants}.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

function expectRank(t: tf.Tensor, rank: number, what: string, shape: string): void {
  if (t.rank !== rank) {
    throw new RangeError(`${what} must have rank ${rank} ${shape}, got shape [${t.shape.join(", ")}]`);
  }
}

/**
 * Log-probability of each actual next token: `[batch, pos − 1]`, entry j is
 * `ln softmax(z_j)[t_{j+1}] = z_j[t_{j+1}] − logsumexp(z_j)`.
 *
 * @param logits [batch, pos, vocab]
 * @param tokens [batch, pos] int32 — the input tokens of the same forward pass
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { nextTokenLogProbs } from "./lm_metrics.ts";
 * const logits = tf.tensor3d([[[0, 0], [0, Math.log(3)]]]); // [1, 2, 2]
 * const lp = nextTokenLogProbs(logits, tf.tensor2d([[0, 1]], undefined, "int32")); // [[ln 0.5]]
 * ```
 */
export function nextTokenLogProbs(logits: tf.Tensor, tokens: tf.Tensor): tf.Tensor2D {
  expectRank(logits, 3, "logits", "[batch, pos, vocab]");
  expectRank(tokens, 2, "tokens", "[batch, pos]");
  const [batch, pos, vocab] = logits.shape as [number, number, number];
  if (tokens.shape[0] !== batch || tokens.shape[1] !== pos) {
    throw new RangeError(`tokens shape [${tokens.shape}] does not match logits [batch=${batch}, pos=${pos}, vocab]`);
  }
  if (pos < 2) throw new RangeError(`next-token log-probs need pos ≥ 2, got ${pos}`);
  if (batch * pos * vocab > 2 ** 31 - 1) {
    throw new RangeError(
      `next-token log-probs: logits [${batch}, ${pos}, ${vocab}] exceed 2^31 − 1 entries; pass fewer rows at a time`,
    );
  }
  const ids = tokens.dataSync();
  // Never copy the logits (a [batch, pos − 1, vocab] slice costs more than everything else on wasm): gather
  // from the flattened logits (gather with batchDims faults on tfjs-wasm 4.22) at (row·pos + j)·vocab + t_{j+1},
  // take logsumexp over every position, then drop the last position of the small results.
  const flatIdx = new Int32Array(batch * (pos - 1));
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < pos - 1; j++) {
      const t = ids[b * pos + j + 1]!;
      if (!(t >= 0 && t < vocab && Number.isInteger(t))) {
        throw new RangeError(
          `next-token log-probs: token ${t} at [${b}, ${j + 1}] is outside the vocabulary [0, ${vocab})`,
        );
      }
      flatIdx[b * (pos - 1) + j] = (b * pos + j) * vocab + t;
    }
  }
  return tf.tidy(() => {
    const picked = tf.reshape(tf.gather(tf.reshape(logits, [-1]), tf.tensor1d(flatIdx, "int32")), [batch, pos - 1]);
    const lse = tf.slice(tf.logSumExp(logits, -1), [0, 0], [batch, pos - 1]); // [batch, pos − 1]
    return tf.sub(picked, lse) as tf.Tensor2D;
  });
}

/**
 * Per-token cross-entropy `−ln p_j(t_{j+1})`, shape [batch, pos − 1]: what
 * `Gpt2.lossPerToken` computes (so every CE of the pipeline is this function).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { perTokenCE } from "./lm_metrics.ts";
 * const ce = perTokenCE(tf.zeros([1, 3, 4]), tf.tensor2d([[0, 1, 2]], undefined, "int32")); // all ln 4
 * ```
 */
export function perTokenCE(logits: tf.Tensor, tokens: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => tf.neg(nextTokenLogProbs(logits, tokens)) as tf.Tensor2D);
}

/**
 * Per-token KL(clean ‖ spliced) over the full vocabulary, shape [batch, pos],
 * including the last position. Computed as `Σ_v p·(e^d − 1 − d)` with
 * `d = ln q − ln p` (equal to `Σ p (ln p − ln q)` because Σq = Σp = 1); every
 * term is ≥ 0 in floating point, so the result never dips below zero through
 * rounding. Where `d > 20` the term is evaluated as `q − p − p·d` to avoid
 * overflow.
 *
 * @param logitsClean [batch, pos, vocab] — the reference distribution p (its log-probabilities
 *   `ln p` instead when `opts.cleanIsLogProbs`, e.g. from {@link logProbs} computed once for several spliced runs)
 * @param logitsSpliced [batch, pos, vocab] — the compared distribution q
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { perTokenKL } from "./lm_metrics.ts";
 * const p = tf.tensor3d([[[0, 0]]]);
 * const q = tf.tensor3d([[[Math.log(3), 0]]]); // q = (0.75, 0.25)
 * perTokenKL(p, q); // [[0.5·ln(0.5/0.75) + 0.5·ln(0.5/0.25)]] ≈ [[0.1438]]
 * ```
 */
export function perTokenKL(
  logitsClean: tf.Tensor,
  logitsSpliced: tf.Tensor,
  opts: { cleanIsLogProbs?: boolean } = {},
): tf.Tensor2D {
  expectRank(logitsClean, 3, "logitsClean", "[batch, pos, vocab]");
  expectRank(logitsSpliced, 3, "logitsSpliced", "[batch, pos, vocab]");
  if (logitsClean.shape.join() !== logitsSpliced.shape.join()) {
    throw new RangeError(
      `KL needs equal shapes, got clean [${logitsClean.shape.join(", ")}] and spliced [${
        logitsSpliced.shape.join(", ")
      }]`,
    );
  }
  return tf.tidy(() => {
    const logP = opts.cleanIsLogProbs ? logitsClean : tf.logSoftmax(logitsClean, -1);
    const logQ = tf.logSoftmax(logitsSpliced, -1);
    const p = tf.exp(logP);
    const d = tf.sub(logQ, logP);
    const big = tf.greater(d, 20);
    const safeD = tf.where(big, tf.zerosLike(d), d);
    const small = tf.mul(p, tf.sub(tf.expm1(safeD), safeD)); // p (e^d − 1 − d)
    const large = tf.sub(tf.sub(tf.exp(logQ), p), tf.mul(p, d)); // q − p − p d
    const terms = tf.where(big, large, small);
    return tf.sum(terms, -1) as tf.Tensor2D;
  });
}

/**
 * Log-probabilities `ln softmax(z)` over the vocabulary, same shape as the
 * logits; pass them to {@link perTokenKL} with `cleanIsLogProbs` to compare one
 * clean run with several spliced runs without recomputing them.
 *
 * @param logits [batch, pos, vocab]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { logProbs, perTokenKL } from "./lm_metrics.ts";
 * const p = tf.tensor3d([[[0, 0]]]);
 * const kl = perTokenKL(logProbs(p), tf.tensor3d([[[Math.log(3), 0]]]), { cleanIsLogProbs: true }); // ≈ [[0.1438]]
 * ```
 */
export function logProbs(logits: tf.Tensor): tf.Tensor3D {
  expectRank(logits, 3, "logits", "[batch, pos, vocab]");
  return tf.tidy(() => tf.logSoftmax(logits, -1) as tf.Tensor3D);
}

/**
 * Argmax token id at every position, shape [batch, pos] (int32).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { argmaxTokens } from "./lm_metrics.ts";
 * argmaxTokens(tf.tensor3d([[[0, 2, 1]]])); // [[1]]
 * ```
 */
export function argmaxTokens(logits: tf.Tensor): tf.Tensor2D {
  expectRank(logits, 3, "logits", "[batch, pos, vocab]");
  return tf.tidy(() => tf.argMax(logits, -1) as tf.Tensor2D);
}

/** Per-token reconstruction terms, each [batch, pos]. */
export interface ReconstructionTerms {
  /** ‖x̂ − x‖² summed over d_in (token-sum MSE). */
  sse: tf.Tensor2D;
  /** ‖x‖². */
  normSq: tf.Tensor2D;
  /** ‖x‖. */
  norm: tf.Tensor2D;
}

/**
 * SSE, ‖x‖² and ‖x‖ per token from the clean activation and its reconstruction.
 *
 * @param x [batch, pos, d_in] — e.g. `blocks.{L}.hook_resid_pre`
 * @param xHat [batch, pos, d_in] — SAE(x)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { reconstructionTerms } from "./lm_metrics.ts";
 * const r = reconstructionTerms(tf.tensor3d([[[3, 4]]]), tf.tensor3d([[[3, 3]]]));
 * // r.sse = [[1]], r.normSq = [[25]], r.norm = [[5]]
 * ```
 */
export function reconstructionTerms(x: tf.Tensor, xHat: tf.Tensor): ReconstructionTerms {
  expectRank(x, 3, "x", "[batch, pos, d_in]");
  if (x.shape.join() !== xHat.shape.join()) {
    throw new RangeError(`x [${x.shape.join(", ")}] and xHat [${xHat.shape.join(", ")}] must have the same shape`);
  }
  const [sse, normSq, norm] = tf.tidy(() => {
    const sse = tf.sum(tf.square(tf.sub(xHat, x)), -1); // [batch, pos]
    const normSq = tf.sum(tf.square(x), -1); // [batch, pos]
    return [sse, normSq, tf.sqrt(normSq)];
  });
  return { sse: sse as tf.Tensor2D, normSq: normSq as tf.Tensor2D, norm: norm as tf.Tensor2D };
}

/**
 * L0 (count of active features, `f > 0`) and L1 (`Σ|f|`) per token.
 *
 * @param f [batch, pos, d_sae] — feature activations
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { featureSparsity } from "./lm_metrics.ts";
 * const s = featureSparsity(tf.tensor3d([[[0, 2, 0.5, 0]]])); // l0 [[2]], l1 [[2.5]]
 * ```
 */
export function featureSparsity(f: tf.Tensor): { l0: tf.Tensor2D; l1: tf.Tensor2D } {
  expectRank(f, 3, "f", "[batch, pos, d_sae]");
  const [l0, l1] = tf.tidy(() => [tf.sum(tf.cast(tf.greater(f, 0), "float32"), -1), tf.sum(tf.abs(f), -1)]);
  return { l0: l0 as tf.Tensor2D, l1: l1 as tf.Tensor2D };
}

/**
 * ΔCE per token, `CE_spliced − CE_clean` (positive = the SAE hurts), on plain
 * arrays; the values the study-B sweep (`SpliceMetrics`) accumulates.
 *
 * @example
 * ```ts
 * import { deltaCE } from "./lm_metrics.ts";
 * deltaCE([2.0, 3.0], [2.5, 2.9]); // Float64Array [0.5, -0.1]
 * ```
 */
export function deltaCE(ceClean: ArrayLike<number>, ceSpliced: ArrayLike<number>): Float64Array {
  if (ceClean.length !== ceSpliced.length) {
    throw new RangeError(`deltaCE: ceClean has ${ceClean.length} values, ceSpliced ${ceSpliced.length}`);
  }
  const out = new Float64Array(ceClean.length);
  for (let i = 0; i < out.length; i++) out[i] = ceSpliced[i]! - ceClean[i]!;
  return out;
}

/** The per-token MSE variants of study B §3.6. */
export interface MseVariants {
  /** (a) element-mean MSE, SSE / d_in. */
  mseElementMean: Float64Array;
  /** (b) token-sum MSE, SSE. */
  mseTokenSum: Float64Array;
  /** (d) normalised MSE, SSE / ‖x‖² (0 at a position the mask leaves out where ‖x‖² = 0). */
  mseNormalised: Float64Array;
}

/** Options of {@link mseVariants}. */
export interface MseVariantsOptions {
  /** Per-token 0/1 mask of the counted positions (default: every position counts). */
  mask?: ArrayLike<number>;
  /** Tokens per row, to name the row and position in the error (default: the flat index only). */
  pos?: number;
}

/**
 * MSE variants (a), (b) and (d) from per-token SSE and ‖x‖² — the values the
 * study-B sweep (`SpliceMetrics`) and the error propagation accumulate.
 *
 * ‖x‖² = 0 (or not a number) is settled here once, as the pipeline has always
 * done it: the normalised MSE SSE / ‖x‖² is undefined there, so at a counted
 * position it is an error (a RangeError naming the row and position), and at
 * a position the mask leaves out it is 0, a value no average ever reads.
 *
 * @example
 * ```ts
 * import { mseVariants } from "./lm_metrics.ts";
 * const v = mseVariants([2], [8], 4); // element-mean 0.5, token-sum 2, normalised 0.25
 * const w = mseVariants([2, 3], [0, 4], 4, { mask: [0, 1] }); // normalised [0, 0.75]: position 0 is left out
 * // mseVariants([2], [0], 4) throws: ‖x‖² = 0 at a counted position
 * ```
 */
export function mseVariants(
  sse: ArrayLike<number>,
  normSq: ArrayLike<number>,
  dIn: number,
  opts: MseVariantsOptions = {},
): MseVariants {
  if (sse.length !== normSq.length) {
    throw new RangeError(`mseVariants: ${sse.length} SSE values vs ${normSq.length} norms`);
  }
  if (!(dIn > 0)) throw new RangeError(`mseVariants: dIn must be > 0, got ${dIn}`);
  const { mask, pos } = opts;
  if (mask !== undefined && mask.length !== sse.length) {
    throw new RangeError(`mseVariants: mask has ${mask.length} values, SSE ${sse.length}`);
  }
  const n = sse.length;
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = sse[i]!;
    const ns = normSq[i]!;
    a[i] = s / dIn;
    b[i] = s;
    if (!(ns > 0) && (mask === undefined || mask[i])) {
      const where = pos ? `row ${Math.floor(i / pos)}, position ${i % pos}` : `index ${i}`;
      throw new RangeError(
        `mseVariants: ‖x‖² = ${ns} at ${where}, a counted position (normalised MSE is undefined there)`,
      );
    }
    d[i] = ns > 0 ? s / ns : 0;
  }
  return { mseElementMean: a, mseTokenSum: b, mseNormalised: d };
}
