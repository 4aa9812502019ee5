/**
 * Whether the fused language-model ops (`causal_attention.ts`,
 * `lm_layer_ops.ts`) run their hand-written wasm-heap path, and the heap
 * helpers they share.
 *
 * The fused path needs the tfjs wasm backend, the native BLAS
 * (`blas_ffi.ts`) and the SIMD kernels (`lm_simd.ts`); on any other backend,
 * or with `SAE_FUSED=off`, or after `setFusedLmOps(false)`, every fused op
 * computes the same function with plain tfjs ops (and tfjs's autodiff).
 *
 * @example
 * ```ts
 * import { fusedLmOps, setFusedLmOps } from "./fused_ops.ts";
 * // after initBackend():
 * fusedLmOps(); // { blas, simd, backend } on wasm with OpenBLAS, else null
 * setFusedLmOps(false); // force the plain tfjs path (tests compare the two)
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { type Blas, loadBlas } from "../blas_ffi.ts";
import { type LmSimd, lmSimd } from "./lm_simd.ts";

/** What the fused path computes with. */
export interface FusedLm {
  backend: BackendWasm;
  blas: Blas;
  simd: LmSimd;
}

let enabled: boolean | null = null;

function envOff(): boolean {
  try {
    const v = Deno.env.get("SAE_FUSED");
    return v === "off" || v === "0";
  } catch {
    return false;
  }
}

/** Turns the fused path on or off for this process (null: back to the default, on unless `SAE_FUSED=off`). */
export function setFusedLmOps(on: boolean | null): void {
  enabled = on;
}

/** The fused path's tools when it can run now, else null (the ops then use plain tfjs ops). */
export function fusedLmOps(): FusedLm | null {
  if (enabled === false || (enabled === null && envOff())) return null;
  if (tf.getBackend() !== "wasm") return null;
  const blas = loadBlas();
  if (blas === null) return null;
  const backend = tf.backend() as BackendWasm;
  const simd = lmSimd(backend);
  return simd === null ? null : { backend, blas, simd };
}

/** A float32 tensor of `shape` on the wasm heap, uninitialised (owned by the caller). */
export function heapTensor(backend: BackendWasm, shape: number[]): tf.Tensor {
  return tf.engine().makeTensorFromTensorInfo(backend.makeOutput(shape, "float32"), backend);
}

/** The float32 heap view of a tensor (take it after the last allocation: heap growth detaches views). */
export function heapView(backend: BackendWasm, t: tf.TensorInfo): Float32Array {
  if (t.dtype !== "float32") throw new Error(`fused op: expected a float32 tensor, got ${t.dtype}`);
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** Whether autodiff is recording (a gradient is being taken), so a forward pass should keep what its backward needs. */
export function recordingGradients(): boolean {
  const state = (tf.engine() as unknown as { state: { gradientDepth: number } }).state;
  return state.gradientDepth > 0;
}

let timer: ((name: string, ms: number) => void) | null = null;

/** Receives the wall time of every fused op (forward and backward separately) while set; null stops it (profiling). */
export function setFusedOpTimer(cb: ((name: string, ms: number) => void) | null): void {
  timer = cb;
}

/** Runs `fn`, reporting its wall time as `name` to the timer of {@link setFusedOpTimer} when one is set. */
export function timed<T>(name: string, fn: () => T): T {
  if (timer === null) return fn();
  const t = performance.now();
  try {
    return fn();
  } finally {
    timer(name, performance.now() - t);
  }
}
