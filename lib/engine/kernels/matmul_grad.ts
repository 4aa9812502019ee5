/**
 * A `BatchMatMul` gradient that handles broadcast batch dimensions.
 *
 * tfjs's stock gradient returns, for `x[B, T, d] @ W[d, n]`, a gradient of
 * shape `[B, d, n]` for `W` and autodiff then fails with "the gradient of
 * input 'b' has shape …". This gradient sums over the broadcast batch
 * dimensions, as TensorFlow does, and computes the common case (a rank-2
 * right operand shared by every batch) as one 2-D product over the flattened
 * batch instead of a batch of products and a sum. For operands whose batch
 * shapes already match it computes exactly what the stock gradient computes.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts";
 * await initBackend(); // registers this gradient
 * const w = tf.variable(tf.ones([4, 3]));
 * const x = tf.ones([2, 5, 4]);
 * const g = tf.grad((w: tf.Tensor) => tf.matMul(x, w).sum())(w); // [4,3], every entry 10
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** Sums `g` over the dimensions broadcast to reach it from `shape`, then reshapes to `shape`. */
function unbroadcast(g: tf.Tensor, shape: number[]): tf.Tensor {
  if (tf.util.arraysEqual(g.shape, shape)) return g;
  const axes = tf.backend_util.getReductionAxes(shape, g.shape);
  const summed = axes.length > 0 ? tf.sum(g, axes, true) : g;
  return tf.reshape(summed, shape);
}

/** Flattens all but the last dimension: `[..., m, k]` → `[Π… · m, k]`. */
function flatten2d(x: tf.Tensor): tf.Tensor2D {
  const last = x.shape[x.shape.length - 1]!;
  return tf.reshape(x, [x.size / Math.max(last, 1), last]) as tf.Tensor2D;
}

/** The gradient config registered for `BatchMatMul`. */
export const batchMatMulGradConfig: tf.GradConfig = {
  kernelName: "BatchMatMul",
  inputsToSave: ["a", "b"],
  gradFunc: (dy, saved, attrs) => {
    const [a, b] = saved as [tf.Tensor, tf.Tensor];
    const g = dy as tf.Tensor;
    const { transposeA, transposeB } = attrs as unknown as MatMulAttrs;
    const sharedRhs = b.rank === 2 && a.rank > 2 && !transposeA;
    const da = (): tf.Tensor => {
      let r: tf.Tensor;
      if (!transposeA && !transposeB) r = tf.matMul(g, b, false, true);
      else if (!transposeA && transposeB) r = tf.matMul(g, b, false, false);
      else if (transposeA && !transposeB) r = tf.matMul(b, g, false, true);
      else r = tf.matMul(b, g, true, true);
      return unbroadcast(r, a.shape);
    };
    const db = (): tf.Tensor => {
      if (sharedRhs) {
        // x[..., m, k] @ W[k, n] (or Wᵀ): one product over the flattened batch.
        const a2 = flatten2d(a), g2 = flatten2d(g);
        return transposeB ? tf.matMul(g2, a2, true, false) : tf.matMul(a2, g2, true, false);
      }
      let r: tf.Tensor;
      if (!transposeA && !transposeB) r = tf.matMul(a, g, true, false);
      else if (!transposeA && transposeB) r = tf.matMul(g, a, true, false);
      else if (transposeA && !transposeB) r = tf.matMul(a, g, false, false);
      else r = tf.matMul(g, a, true, true);
      return unbroadcast(r, b.shape);
    };
    return { a: da, b: db };
  },
};
