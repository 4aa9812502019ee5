/**
 * Reading tensors back to the host on every backend. The WebGPU backend has
 * no synchronous readback in Deno (`dataSync` needs a 2-D canvas; see
 * `webgpu.ts`), so code meant to run there reads with these instead; on the
 * wasm and CPU backends they cost the same as `dataSync`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { readHost } from "./host_read.ts";
 * const v = await readHost(tf.tensor1d([1, 2, 3])); // Float32Array [1, 2, 3]; the tensor is disposed
 * ```
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";

/**
 * The values of `t` as a Float32Array that the caller owns; `t` is disposed.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { readHost } from "./host_read.ts";
 * await readHost(tf.sum(tf.ones([4]))); // Float32Array [4]
 * ```
 */
export async function readHost(t: tf.Tensor): Promise<Float32Array> {
  try {
    return Float32Array.from(await t.data() as ArrayLike<number>);
  } finally {
    t.dispose();
  }
}

/**
 * The values of `t` (kept alive; the caller still owns it) as a Float32Array copy.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { peekHost } from "./host_read.ts";
 * const t = tf.ones([2]);
 * await peekHost(t); // Float32Array [1, 1]; t stays usable
 * ```
 */
export async function peekHost(t: tf.Tensor): Promise<Float32Array> {
  const v = await t.data();
  return Float32Array.from(v as ArrayLike<number>);
}
