/**
 * Activation primitives of the built-in SAE architectures (the specs in
 * `arch/` call them; `registry.ts` lists the architectures), written once and
 * shared by the encoder, the loss and the metrics. All act on pre-activations
 * `pre = x·W_enc + b_enc` of shape `[n_inst, batch, d_sae]` and return
 * non-negative activations of the same shape:
 *
 * | architecture | activation | gradient |
 * | --- | --- | --- |
 * | `standard` | `ReLU(pre)` | ReLU's |
 * | `topk` | `ReLU(pre)` on the `k` largest `pre` of each token, 0 elsewhere | through the kept entries |
 * | `batchtopk` (training) | `ReLU(pre)` on the `k·batch` largest `ReLU(pre)` of each instance's batch | through the kept entries |
 * | `batchtopk` (inference), `jumprelu` | `pre · [pre > θ_j]` with a per-latent threshold θ | `jumprelu`: rectangle-kernel straight-through estimate for θ |
 *
 * Selections keep exactly `k` (or `k·batch`) entries; ties at the boundary go to
 * the lowest index (latent index for `topk`, flat `batch·d_sae` index for
 * `batchtopk`), so results never depend on the sort order of a backend.
 *
 * JumpReLU's threshold gradient is the pseudo-derivative of arXiv:2407.14435
 * (as SAELens implements it): `∂/∂θ [z·H(z − θ)] := −(θ/ε)·K((z − θ)/ε)` and,
 * for the L0 penalty, `∂/∂θ H(z − θ) := −(1/ε)·K((z − θ)/ε)` with the rectangle
 * kernel `K(u) = [−½ < u < ½]` and bandwidth `ε`; no gradient reaches `z`
 * through the step.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { topkActivation } from "./architectures.ts";
 * const pre = tf.tensor3d([[[0.3, -1, 2, 0.5]]]); // [1, 1, 4]
 * topkActivation(pre, 2).arraySync(); // [[[0, 0, 2, 0.5]]]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

type Save = tf.GradSaveFunc;

/**
 * Identity in the forward pass, zero gradient in the backward pass (torch's
 * `.detach()`), for use inside `tf.variableGrads`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { stopGradient } from "./architectures.ts";
 * const g = tf.grad((x: tf.Tensor) => tf.mul(x, stopGradient(x)))(tf.scalar(3)); // 3, not 6
 * ```
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return withoutGradient([x], (v) => v.clone()) as T;
}

/**
 * `fn(...xs)` computed off the gradient tape, with zero gradients for its
 * inputs: for masks, selections (comparisons and top-k have no gradient in
 * tfjs) and detached factors. Nothing inside `fn` is differentiated, so a
 * singular derivative there (say `√·` at 0) cannot turn into NaN.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { withoutGradient } from "./architectures.ts";
 * const mask = withoutGradient([tf.tensor1d([1, -1])], (v) => tf.cast(tf.greater(v, 0), "float32")); // [1, 0]
 * ```
 */
export function withoutGradient(xs: tf.Tensor[], fn: (...xs: tf.Tensor[]) => tf.Tensor): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | Save)[]) => {
    const ins = args.slice(0, xs.length) as tf.Tensor[];
    return { value: tf.tidy(() => fn(...ins)), gradFunc: () => ins.map((v) => tf.zerosLike(v)) };
  });
  return f(...xs);
}

/**
 * A 0/1 float mask that selects exactly `k` entries along the last axis: every
 * entry above the k-th largest value, then entries equal to it in index order.
 * No gradient (use it inside a custom gradient or on detached values).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { selectTopK } from "./architectures.ts";
 * selectTopK(tf.tensor2d([[1, 3, 3, 0]]), 2).arraySync(); // [[0, 1, 1, 0]]
 * selectTopK(tf.tensor2d([[2, 2, 2, 0]]), 2).arraySync(); // [[1, 1, 0, 0]]
 * ```
 */
export function selectTopK(v: tf.Tensor, k: number): tf.Tensor {
  const n = v.shape[v.shape.length - 1] as number;
  if (!Number.isInteger(k) || k < 0 || k > n) {
    throw new RangeError(`selectTopK: k must be an integer in [0, ${n}], got ${k}`);
  }
  if (k === n) return tf.onesLike(v);
  if (k === 0) return tf.zerosLike(v);
  return tf.tidy(() => {
    const kth = tf.min(tf.topk(v, k, false).values, -1, true); // [..., 1]
    const above = tf.cast(tf.greater(v, kth), "float32");
    const tied = tf.cast(tf.equal(v, kth), "float32");
    // ties: keep the first (k − #above) of them in index order
    const room = tf.sub(k, tf.sum(above, -1, true));
    const rank = tf.cumsum(tied, v.shape.length - 1);
    const keepTied = tf.mul(tied, tf.step(tf.sub(tf.add(room, 0.5), rank)));
    return tf.add(above, keepTied);
  });
}

/**
 * TopK activation: ReLU of the `k` largest pre-activations of each token.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { topkActivation } from "./architectures.ts";
 * topkActivation(tf.tensor3d([[[1, -2, 3]]]), 1).arraySync(); // [[[0, 0, 3]]]
 * ```
 */
export function topkActivation(pre: tf.Tensor, k: number): tf.Tensor {
  return maskedRelu(pre, (p) => selectTopK(p, k));
}

/**
 * BatchTopK activation (training): per instance, keep the `⌊k·batch⌋` largest
 * values of `ReLU(pre)` over the whole `[batch, d_sae]` slab.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { batchTopkActivation } from "./architectures.ts";
 * // 2 tokens × 2 latents, k = 1 → 2 entries kept in the batch
 * batchTopkActivation(tf.tensor3d([[[5, 4], [1, 0.5]]]), 1).arraySync(); // [[[5, 4], [0, 0]]]
 * ```
 */
export function batchTopkActivation(pre: tf.Tensor, k: number): tf.Tensor {
  const [n, b, s] = pre.shape as [number, number, number];
  const kk = Math.min(b * s, Math.floor(k * b));
  return maskedRelu(pre, (p) => tf.reshape(selectTopK(tf.reshape(tf.relu(p), [n, b * s]), kk), [n, b, s]));
}

function maskedRelu(pre: tf.Tensor, select: (p: tf.Tensor) => tf.Tensor): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | Save)[]) => {
    const p = args[0] as tf.Tensor;
    const save = args[1] as Save;
    const keep = tf.tidy(() => tf.mul(select(p), tf.step(p))); // kept and positive
    save([keep]);
    return {
      value: tf.mul(p, keep),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, saved[0] as tf.Tensor),
    };
  });
  return f(pre);
}

/**
 * JumpReLU activation `pre · [pre > θ]` (θ clamped at 0 from below, so the
 * result is never negative) with the straight-through threshold gradient.
 * `threshold` is `[n_inst, d_sae]`; `pre` is `[n_inst, batch, d_sae]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { jumpRelu } from "./architectures.ts";
 * jumpRelu(tf.tensor3d([[[0.5, 2]]]), tf.tensor2d([[1, 1]]), 0.001).arraySync(); // [[[0, 2]]]
 * ```
 */
export function jumpRelu(pre: tf.Tensor, threshold: tf.Tensor, bandwidth: number): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | Save)[]) => {
    const p = args[0] as tf.Tensor;
    const th = args[1] as tf.Tensor;
    const save = args[2] as Save;
    const th3 = tf.expandDims(th, 1);
    const keep = tf.tidy(() => tf.cast(tf.greater(p, tf.relu(th3)), "float32"));
    save([keep, p, th3]);
    return {
      value: tf.mul(p, keep),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [kp, pp, t3] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const dTh = tf.sum(tf.mul(tf.mul(rectangle(pp, t3, bandwidth), dy), tf.div(tf.neg(t3), bandwidth)), 1);
        return [tf.mul(dy, kp), dTh];
      },
    };
  });
  return f(pre, threshold);
}

/**
 * The Heaviside step `[pre > θ]` whose sum is JumpReLU's L0 penalty; its
 * gradient reaches only θ (rectangle-kernel estimate), never `pre`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { jumpStep } from "./architectures.ts";
 * jumpStep(tf.tensor3d([[[0.5, 2]]]), tf.tensor2d([[1, 1]]), 0.001).arraySync(); // [[[0, 1]]]
 * ```
 */
export function jumpStep(pre: tf.Tensor, threshold: tf.Tensor, bandwidth: number): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | Save)[]) => {
    const p = args[0] as tf.Tensor;
    const th = args[1] as tf.Tensor;
    const save = args[2] as Save;
    const th3 = tf.expandDims(th, 1);
    save([p, th3]);
    return {
      value: tf.cast(tf.greater(p, th3), "float32"),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [pp, t3] = saved as [tf.Tensor, tf.Tensor];
        const dTh = tf.sum(tf.mul(rectangle(pp, t3, bandwidth), tf.div(dy, -bandwidth)), 1);
        return [tf.zerosLike(pp), dTh];
      },
    };
  });
  return f(pre, threshold);
}

/** K((z − θ)/ε) with the rectangle kernel K(u) = [−½ < u < ½], as a 0/1 float tensor. */
function rectangle(z: tf.Tensor, th: tf.Tensor, bandwidth: number): tf.Tensor {
  return tf.tidy(() => {
    const u = tf.div(tf.sub(z, th), bandwidth);
    return tf.cast(tf.logicalAnd(tf.greater(u, -0.5), tf.less(u, 0.5)), "float32");
  });
}
