/**
 * A sharing `Identity` kernel for the wasm backend.
 *
 * tfjs's autodiff clones every tensor it saves for the backward pass
 * (`Identity`), and the stock wasm kernel copies the data: each training step
 * copies every weight matrix and every large activation once more (two 75 MB
 * copies per step for a 768 × 24576 SAE). Tensors are immutable, so the copy
 * is unnecessary: this kernel returns the same memory with its reference count
 * raised, as tfjs's cpu backend does. (The project never writes a tensor's
 * memory in place unless it holds the only reference; see `adam.ts`.)
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * // after initBackend() on wasm:
 * const a = tf.ones([1000, 1000]);
 * const b = tf.clone(a); // no copy: b shares a's memory until both are disposed
 * ```
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import type { KernelFn } from "./matmul.ts";

/** The replacement `Identity` kernel (string tensors go to the stock kernel). */
export function makeSharingIdentity(stock: KernelFn): KernelFn {
  return (args) => {
    const x = args.inputs.x!;
    if (x.dtype === "string") return stock(args);
    (args.backend as BackendWasm).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype } as tf.TensorInfo;
  };
}
