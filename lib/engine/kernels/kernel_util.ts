/**
 * Small helpers shared by the kernel overrides: typed access to the wasm
 * backend's heap, calling another registered kernel from inside a kernel, and
 * batch-broadcast index tables for batched matrix products.
 *
 * @example
 * ```ts
 * import { broadcastBatchIndex } from "./kernel_util.ts";
 * const t = broadcastBatchIndex([2, 1], [1, 3]); // out batch [2,3]
 * console.log(t.outShape, Array.from(t.aIndex), Array.from(t.bIndex)); // [2,3] [0,0,0,1,1,1] [0,1,2,0,1,2]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";

/** A kernel's return value, normalised to one tensor. */
export function single(out: tf.TensorInfo | tf.TensorInfo[]): tf.TensorInfo {
  if (Array.isArray(out)) {
    const first = out[0];
    if (out.length !== 1 || first === undefined) throw new Error(`expected one kernel output, got ${out.length}`);
    return first;
  }
  return out;
}

/**
 * Runs the kernel registered as `name` for `backendName`, directly (no
 * autodiff recording, no engine bookkeeping): for use inside other kernels.
 * The caller owns the returned tensor info and must dispose it (or return it).
 */
export function callKernel(
  name: string,
  backendName: string,
  backend: tf.KernelBackend,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap = {},
): tf.TensorInfo {
  const kernel = tf.getKernel(name, backendName);
  if (kernel === undefined) throw new Error(`no "${name}" kernel is registered for the ${backendName} backend`);
  return single(kernel.kernelFunc({ inputs, backend, attrs }) as tf.TensorInfo | tf.TensorInfo[]);
}

/**
 * A `Float32Array` view of a float32 tensor's data on the wasm heap. Take the
 * view after the last allocation of the kernel: a heap growth detaches it.
 */
export function heapF32(backend: BackendWasm, info: tf.TensorInfo): Float32Array {
  if (info.dtype !== "float32") throw new Error(`expected a float32 tensor, got ${info.dtype}`);
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** Row-major strides of `shape` (in elements). */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i] ?? 1;
  }
  return s;
}

/** Index tables mapping each output batch to the operand batches it reads. */
export interface BatchIndex {
  /** Broadcast batch shape of the output. */
  outShape: number[];
  /** For each output batch (row-major), the flat batch index into `a`. */
  aIndex: Int32Array;
  /** For each output batch (row-major), the flat batch index into `b`. */
  bIndex: Int32Array;
}

/**
 * Broadcasts two batch shapes NumPy-style (aligned on the right, size-1
 * dimensions stretch) and tabulates, for every output batch, which batch of
 * each operand it uses.
 *
 * @throws {Error} when the batch shapes are not broadcast-compatible
 */
export function broadcastBatchIndex(aBatch: readonly number[], bBatch: readonly number[]): BatchIndex {
  const rank = Math.max(aBatch.length, bBatch.length);
  const outShape: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = aBatch[aBatch.length - rank + i] ?? 1;
    const db = bBatch[bBatch.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(
        `matMul: batch dimensions [${aBatch}] and [${bBatch}] cannot be broadcast together (dimension ${i}: ${da} vs ${db})`,
      );
    }
    outShape.push(da === 1 ? db : da);
  }
  const total = outShape.reduce((p, d) => p * d, 1);
  const aStr = stridesOf(aBatch), bStr = stridesOf(bBatch);
  const aIndex = new Int32Array(total), bIndex = new Int32Array(total);
  const idx = new Array<number>(rank).fill(0);
  for (let flat = 0; flat < total; flat++) {
    let ai = 0, bi = 0;
    for (let d = 0; d < rank; d++) {
      const v = idx[d] ?? 0;
      const ad = d - (rank - aBatch.length), bd = d - (rank - bBatch.length);
      if (ad >= 0 && (aBatch[ad] ?? 1) !== 1) ai += v * (aStr[ad] ?? 0);
      if (bd >= 0 && (bBatch[bd] ?? 1) !== 1) bi += v * (bStr[bd] ?? 0);
    }
    aIndex[flat] = ai;
    bIndex[flat] = bi;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d] = (idx[d] ?? 0) + 1;
      if ((idx[d] ?? 0) < (outShape[d] ?? 1)) break;
      idx[d] = 0;
    }
  }
  return { outShape, aIndex, bIndex };
}
