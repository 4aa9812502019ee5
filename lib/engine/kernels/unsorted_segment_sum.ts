/**
 * An `UnsortedSegmentSum` kernel for the wasm backend, which has none.
 *
 * tfjs's gradient of `gather` (so of every embedding lookup) is an
 * `UnsortedSegmentSum` of the incoming gradient rows into the table's rows;
 * without this kernel `tf.grad` of a model with an embedding fails on wasm.
 * The kernel runs in JS directly on the wasm heap in one pass over the data
 * (O(size of x)), where the cpu backend's reference kernel makes one masked
 * pass per segment.
 *
 * Semantics follow TensorFlow: `out[s, ...] = Σ_{i : ids[i] = s} x[i, ...]`;
 * `segmentIds` may have any rank as long as its shape is a prefix of `x`'s;
 * negative ids are dropped; an id ≥ `numSegments` is an error.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * // after initBackend() on wasm:
 * const emb = tf.variable(tf.randomNormal([100, 16]));
 * const ids = tf.tensor2d([[1, 5, 1]], [1, 3], "int32");
 * const g = tf.grad((e: tf.Tensor) => tf.gather(e, ids).sum())(emb); // rows 1 (×2) and 5 are 1
 * ```
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";

/** The `UnsortedSegmentSum` kernel function for the wasm backend. */
export function unsortedSegmentSumWasm(
  { inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap },
): tf.TensorInfo {
  const wasm = backend as BackendWasm;
  const x = inputs.x!, ids = inputs.segmentIds!;
  const numSegments = (attrs as { numSegments: number } | undefined)?.numSegments;
  if (typeof numSegments !== "number" || !Number.isInteger(numSegments) || numSegments < 0) {
    throw new Error(`unsortedSegmentSum: numSegments must be a non-negative integer, got ${numSegments}`);
  }
  if (ids.dtype !== "int32") throw new Error(`unsortedSegmentSum: segmentIds must be int32, got ${ids.dtype}`);
  if (x.dtype !== "float32" && x.dtype !== "int32") {
    throw new Error(`unsortedSegmentSum: x must be float32 or int32, got ${x.dtype}`);
  }
  const idRank = ids.shape.length;
  const prefixOk = idRank <= x.shape.length && ids.shape.every((d, i) => d === x.shape[i]);
  if (!prefixOk) {
    throw new Error(
      `unsortedSegmentSum: segmentIds shape [${ids.shape}] must be a prefix of x's shape [${x.shape}]`,
    );
  }
  const innerShape = x.shape.slice(idRank);
  const inner = innerShape.reduce((p, d) => p * d, 1);
  const out = wasm.makeOutput([numSegments, ...innerShape], x.dtype);
  // Views after the allocation (a heap growth would detach earlier views).
  const dst = wasm.typedArrayFromHeap(out) as Float32Array | Int32Array;
  const src = wasm.typedArrayFromHeap(x) as Float32Array | Int32Array;
  const seg = wasm.typedArrayFromHeap(ids) as Int32Array;
  dst.fill(0);
  const n = seg.length;
  for (let i = 0; i < n; i++) {
    const s = seg[i]!;
    if (s < 0) continue;
    if (s >= numSegments) {
      wasm.disposeData(out.dataId);
      throw new Error(`unsortedSegmentSum: segment id ${s} at position ${i} is out of range [0, ${numSegments})`);
    }
    const o = s * inner, p = i * inner;
    if (inner === 1) {
      dst[o] = dst[o]! + src[p]!;
    } else {
      for (let j = 0; j < inner; j++) dst[o + j] = dst[o + j]! + src[p + j]!;
    }
  }
  return out;
}
