/**
 * Replacement `Sum`, `Mean`, `Max` and `Min` kernels for the wasm backend, for
 * the case the stock kernels make slow: reducing a contiguous block of axes
 * that is not innermost — `sum(x, 0)` of `[batch, features]` (every bias
 * gradient) or `max(x, 1)` of `[n_inst, batch, d_sae]`. The stock kernels first
 * transpose the whole tensor so the reduced axes are innermost (≈ 40–300 ms for
 * 4M floats); here the tensor is read in place as `[outer, rows, inner]`:
 * sums are BLAS `sgemv` products with a vector of ones (or one JS pass,
 * accumulated in float64, without BLAS), max/min one JS pass. Every other
 * case (innermost or non-contiguous axes, non-float32) goes to the stock
 * kernel unchanged.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * // after initBackend() on wasm:
 * const g = tf.sum(tf.ones([1024, 4096]), 0); // [4096], every entry 1024, no transpose
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import type { Blas } from "../blas_ffi.ts";
import { heapF32 } from "./kernel_util.ts";
import type { KernelFn } from "./matmul.ts";

/** The reductions handled here. */
export type ReduceKind = "sum" | "mean" | "max" | "min";

let ones = new Float32Array(0);

function onesOf(n: number): Float32Array {
  if (ones.length < n) ones = new Float32Array(Math.max(n, 2 * ones.length)).fill(1);
  return ones.subarray(0, n);
}

/** `x` viewed as `[outer, rows, inner]` with the `rows` axis reduced. */
export interface ReduceBlock {
  outer: number;
  rows: number;
  inner: number;
  /** The sorted reduced axes. */
  axes: number[];
}

/**
 * The `[outer, rows, inner]` view when `axis` names a contiguous block of axes
 * that is not innermost (so the stock kernel would transpose), else null.
 */
export function reduceBlock(axis: number | number[] | undefined | null, shape: number[]): ReduceBlock | null {
  if (axis === undefined || axis === null || shape.length < 2) return null;
  const axes = [...new Set(tf.util.parseAxisParam(axis, shape))].sort((p, q) => p - q);
  if (axes.length === 0) return null;
  const first = axes[0]!, last = axes[axes.length - 1]!;
  if (last - first + 1 !== axes.length) return null; // not contiguous
  if (shape.slice(last + 1).every((d) => d === 1)) return null; // innermost: the stock kernel needs no transpose
  const prod = (a: number[]) => a.reduce((p, d) => p * d, 1);
  return {
    outer: prod(shape.slice(0, first)),
    rows: prod(shape.slice(first, last + 1)),
    inner: prod(shape.slice(last + 1)),
    axes,
  };
}

function sumBlock(blas: Blas | null, src: Float32Array, dst: Float32Array, b: ReduceBlock, scale: number): void {
  const { outer, rows, inner } = b;
  for (let o = 0; o < outer; o++) {
    const s = src.subarray(o * rows * inner, (o + 1) * rows * inner), d = dst.subarray(o * inner, (o + 1) * inner);
    if (blas !== null) {
      blas.sgemvT(rows, inner, s, inner, onesOf(rows), d);
      if (scale !== 1) { for (let c = 0; c < inner; c++) d[c] = d[c]! * scale; }
    } else {
      const acc = new Float64Array(inner);
      for (let r = 0; r < rows; r++) {
        const off = r * inner;
        for (let c = 0; c < inner; c++) acc[c] = acc[c]! + s[off + c]!;
      }
      for (let c = 0; c < inner; c++) d[c] = acc[c]! * scale;
    }
  }
}

function extremeBlock(src: Float32Array, dst: Float32Array, b: ReduceBlock, isMax: boolean): void {
  const { outer, rows, inner } = b;
  for (let o = 0; o < outer; o++) {
    const base = o * rows * inner, d = o * inner;
    for (let c = 0; c < inner; c++) dst[d + c] = src[base + c]!;
    for (let r = 1; r < rows; r++) {
      const off = base + r * inner;
      for (let c = 0; c < inner; c++) {
        const v = src[off + c]!, cur = dst[d + c]!;
        // NaN propagates: once the running value is NaN it stays NaN.
        if (isMax ? v > cur || v !== v : v < cur || v !== v) dst[d + c] = v;
      }
    }
  }
}

/** The replacement kernel for one reduction `kind` (stock kernel for every case not handled). */
export function makeBlockReduce(stock: KernelFn, blas: Blas | null, kind: ReduceKind): KernelFn {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x!;
    const a = (attrs ?? {}) as { axis?: number | number[]; reductionIndices?: number | number[]; keepDims?: boolean };
    const axis = a.axis ?? a.reductionIndices; // Max names its axes `reductionIndices`
    const keepDims = a.keepDims;
    const block = x.dtype === "float32" ? reduceBlock(axis, x.shape) : null;
    if (block === null || block.outer * block.rows * block.inner === 0) return stock(args);
    const wasm = backend as BackendWasm;
    const outShape = keepDims
      ? x.shape.map((d, i) => (block.axes.includes(i) ? 1 : d))
      : x.shape.filter((_, i) => !block.axes.includes(i));
    const out = wasm.makeOutput(outShape, "float32");
    const src = heapF32(wasm, x), dst = heapF32(wasm, out); // views after the allocation
    if (kind === "sum" || kind === "mean") sumBlock(blas, src, dst, block, kind === "mean" ? 1 / block.rows : 1);
    else extremeBlock(src, dst, block, kind === "max");
    return out;
  };
}
