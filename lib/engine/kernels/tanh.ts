/**
 * A fast `Tanh` kernel for the wasm backend: `tanh(x) = 2·σ(2x) − 1` with the
 * vectorised wasm `Sigmoid` kernel.
 *
 * The stock wasm `Tanh` is scalar and ≈ 40× slower than `Sigmoid` (≈ 220 ms
 * for a `[1, 1024, 3072]` tensor, i.e. every GPT-2 MLP's `gelu_new`). The
 * identity costs cancellation near 0: the result has an absolute error of a
 * few 1e-8 everywhere (float32 resolution at 1), not a small relative error
 * for tiny |x|.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * // after initBackend() on wasm:
 * const y = tf.tanh(tf.randomNormal([1, 1024, 3072])); // ≈ 8 ms instead of ≈ 220 ms
 * ```
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { callKernel } from "./kernel_util.ts";
import type { KernelFn } from "./matmul.ts";

/** The replacement `Tanh` kernel (non-float32 inputs go to the stock kernel). */
export function makeFastTanh(stock: KernelFn): KernelFn {
  return (args) => {
    const x = args.inputs.x!;
    if (x.dtype !== "float32") return stock(args);
    const backend = args.backend as BackendWasm;
    const two = backend.makeOutput([], "float32", undefined, new Float32Array([2]));
    const one = backend.makeOutput([], "float32", undefined, new Float32Array([1]));
    const temps: tf.TensorInfo[] = [two, one];
    try {
      const x2 = callKernel("Multiply", "wasm", backend, { a: x, b: two });
      temps.push(x2);
      const s = callKernel("Sigmoid", "wasm", backend, { x: x2 });
      temps.push(s);
      const s2 = callKernel("Multiply", "wasm", backend, { a: s, b: two });
      temps.push(s2);
      return callKernel("Sub", "wasm", backend, { a: s2, b: one });
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
}
