/**
 * Per-batch building blocks of the study-B sweeps: KL over the full vocabulary
 * in position chunks (bounded memory at T = 1024), next-token targets sampled
 * from the clean model (for the ΔCE-vs-KL demonstration), and a batch-size rule
 * that bounds the `[batch, pos, d_vocab]` logits. Host reads are asynchronous
 * (`readHost`), so the sweeps also run on the WebGPU backend.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { readHost } from "../engine/host_read.ts";
import type { Rng } from "../engine/rng.ts";
import { nextTokenLogProbs, perTokenKL } from "../metrics/lm_metrics.ts";

/**
 * Rows per forward pass so that one `[rows, T, d_vocab]` logits tensor holds at
 * most `maxLogitElements` floats (at least 1 row, at most `nRows`).
 *
 * @example
 * ```ts
 * import { autoBatchRows } from "./batch_metrics.ts";
 * autoBatchRows(1024, 8192, 16_777_216, 100); // 2
 * ```
 */
export function autoBatchRows(T: number, vocab: number, maxLogitElements: number, nRows: number): number {
  return Math.max(1, Math.min(nRows, Math.floor(maxLogitElements / (T * vocab))));
}

/**
 * KL(clean ‖ spliced) per token, `[batch · pos]` row-major (float32), computed by
 * `perTokenKL` on position chunks of at most `maxElements` logits each.
 *
 * @param clean [batch, pos, vocab] — logits, or log-probabilities with `opts.cleanIsLogProbs`
 *   (`logProbs` of the clean logits, computed once for several spliced runs)
 * @param spliced [batch, pos, vocab]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { klChunked } from "./batch_metrics.ts";
 * const z = tf.randomNormal([2, 5, 7]) as tf.Tensor3D;
 * await klChunked(z, z, 14); // Float32Array(10) of zeros (two positions per chunk)
 * ```
 */
export async function klChunked(
  clean: tf.Tensor3D,
  spliced: tf.Tensor3D,
  maxElements: number,
  opts: { cleanIsLogProbs?: boolean } = {},
): Promise<Float32Array> {
  const [B, T, V] = clean.shape;
  const n = B * T;
  const step = Math.max(1, Math.floor(maxElements / V));
  if (step >= n) {
    const kl = perTokenKL(clean, spliced, opts);
    return await readHost(kl);
  }
  // contiguous row chunks of the flattened [batch·pos, vocab] logits (a strided 3-D slice is slow on wasm)
  const out = new Float32Array(n);
  const flatClean = tf.reshape(clean, [n, V]);
  const flatSpliced = tf.reshape(spliced, [n, V]);
  try {
    for (let r0 = 0; r0 < n; r0 += step) {
      const w = Math.min(step, n - r0);
      const kl = tf.tidy(() =>
        perTokenKL(
          tf.reshape(tf.slice(flatClean, [r0, 0], [w, V]), [1, w, V]),
          tf.reshape(tf.slice(flatSpliced, [r0, 0], [w, V]), [1, w, V]),
          opts,
        )
      );
      out.set(await readHost(kl), r0);
    }
  } finally {
    flatClean.dispose();
    flatSpliced.dispose();
  }
  return out;
}

/**
 * Samples one target per position from the clean model: `y_j ~ softmax(z_j)`
 * for j = 0 … T − 2 (inverse CDF with uniforms from `rng`), returned as a
 * `[batch, T]` token block whose entry j + 1 is y_j (entry 0 is 0), so that
 * `nextTokenLogProbs(logits, block)` reads ln p_j(y_j).
 *
 * @param logits [batch, pos, vocab]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Rng } from "../engine/rng.ts";
 * import { sampleTargetBlock } from "./batch_metrics.ts";
 * const block = await sampleTargetBlock(tf.zeros([1, 3, 4]) as tf.Tensor3D, new Rng(0, "demo")); // [1, 3] int32
 * ```
 */
export async function sampleTargetBlock(logits: tf.Tensor3D, rng: Rng): Promise<tf.Tensor2D> {
  const [B, T, V] = logits.shape;
  const n = B * (T - 1);
  const u = new Float32Array(n);
  rng.fillUniform(u);
  // every position is sampled (no copy of the logits without the last one: a slow slice on wasm); the uniform of
  // position j of row b sits at b·T + j, and the draws at the last positions are ignored
  const uAll = new Float32Array(B * T);
  for (let b = 0; b < B; b++) uAll.set(u.subarray(b * (T - 1), (b + 1) * (T - 1)), b * T);
  const picked = tf.tidy(() => {
    const z = tf.reshape(logits, [B * T, V]);
    const cdf = tf.cumsum(tf.softmax(z, -1), 1); // [batch·pos, V]
    const below = tf.sum(tf.cast(tf.less(cdf, tf.reshape(tf.tensor1d(uAll), [B * T, 1])), "int32"), 1); // [batch·pos]
    return tf.minimum(below, V - 1);
  });
  const ids = await readHost(picked); // small integers: exact in float32
  const block = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let j = 0; j < T - 1; j++) block[b * T + j + 1] = ids[b * T + j]!;
  return tf.tensor2d(block, [B, T], "int32");
}

/** `ln softmax(z_j)[targets[j+1]]` as a host array `[batch · (pos − 1)]`. */
export function targetLogProbs(logits: tf.Tensor3D, targetBlock: tf.Tensor2D): Promise<Float32Array> {
  return readHost(nextTokenLogProbs(logits, targetBlock));
}

/** Host copy of a tensor, which is disposed (asynchronous: works on every backend, WebGPU included). */
export function takeHost(t: tf.Tensor): Promise<Float32Array> {
  return readHost(t);
}
