/**
 * Replacement `BatchMatMul` and `_FusedMatMul` kernels for the wasm backend.
 *
 * Two strategies, chosen once at install time:
 * - **BLAS** (`openblas-ffi`): every float32 product goes to `cblas_sgemm`
 *   through Deno's FFI, reading the operands and writing the output in place
 *   on the wasm heap. Transposes are BLAS flags, so all four forms run at the
 *   same speed; batch dimensions broadcast NumPy-style.
 * - **wasm** (no native library): a transposed operand is first transposed
 *   explicitly (tfjs's wasm `Transpose`) and the stock kernel then runs its
 *   fast untransposed path — the stock kernel's transposed paths are 10–40×
 *   slower; batch shapes the stock kernel mishandles are tiled first.
 *
 * Autodiff's matmul gradients are themselves `BatchMatMul` calls with
 * transposes, so they speed up with no change to any caller.
 *
 * @example
 * ```ts
 * import { installEngineKernels } from "./install.ts";
 * import * as tf from "@tensorflow/tfjs";
 * await tf.setBackend("wasm");
 * installEngineKernels(); // initBackend() does this for you
 * const y = tf.matMul(tf.ones([4, 3]), tf.ones([5, 3]), false, true); // [4,5], all 3
 * ```
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import type { Blas } from "../blas_ffi.ts";
import { broadcastBatchIndex, callKernel, heapF32, single } from "./kernel_util.ts";

/** A kernel function as tfjs calls it. */
export type KernelFn = tf.KernelConfig["kernelFunc"];

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/**
 * Sizes of `op(a) @ op(b)`: [.., m, k] @ [.., k, n], the operands' stored
 * matrix sizes, batch broadcasting and each operand's batch count.
 */
interface MatMulDims extends MatMulAttrs {
  m: number;
  k: number;
  n: number;
  aRows: number;
  aCols: number;
  bRows: number;
  bCols: number;
  batch: ReturnType<typeof broadcastBatchIndex>;
  aBatches: number;
  bBatches: number;
}

/** Checks ranks and inner dimensions and returns the product's sizes. */
function matMulDims(a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean): MatMulDims {
  if (a.shape.length < 2 || b.shape.length < 2) {
    throw new Error(`matMul: operands must have rank ≥ 2, got shapes [${a.shape}] and [${b.shape}]`);
  }
  const ar = a.shape.length, br = b.shape.length;
  const aRows = a.shape[ar - 2]!, aCols = a.shape[ar - 1]!;
  const bRows = b.shape[br - 2]!, bCols = b.shape[br - 1]!;
  const m = transposeA ? aCols : aRows, k = transposeA ? aRows : aCols;
  const kb = transposeB ? bCols : bRows, n = transposeB ? bRows : bCols;
  if (k !== kb) {
    throw new Error(
      `matMul: inner dimensions ${k} and ${kb} of shapes [${a.shape}] and [${b.shape}] ` +
        `(transposeA=${transposeA}, transposeB=${transposeB}) must match`,
    );
  }
  const batchCount = (shape: readonly number[]) => shape.slice(0, -2).reduce((p, d) => p * d, 1);
  return {
    transposeA,
    transposeB,
    m,
    k,
    n,
    aRows,
    aCols,
    bRows,
    bCols,
    batch: broadcastBatchIndex(a.shape.slice(0, -2), b.shape.slice(0, -2)),
    aBatches: batchCount(a.shape),
    bBatches: batchCount(b.shape),
  };
}

/**
 * `op(a) @ op(b)` with NumPy batch broadcasting (non-empty, sizes from
 * {@link matMulDims}), computed by BLAS in place on the wasm heap. Returns a
 * new float32 tensor info owned by the caller.
 */
function blasMatMul(
  blas: Blas,
  backend: BackendWasm,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  d: MatMulDims,
): tf.TensorInfo {
  const { transposeA, transposeB, m, k, n, aRows, aCols, bRows, bCols, batch, aBatches, bBatches } = d;
  const out = backend.makeOutput([...batch.outShape, m, n], "float32");
  const nBatch = batch.aIndex.length;
  // Views after the last allocation (a heap growth would detach them).
  const heapOut = heapF32(backend, out);
  const heapA = heapF32(backend, a), heapB = heapF32(backend, b);
  const lda = aCols, ldb = bCols;
  const aSize = aRows * aCols, bSize = bRows * bCols, outSize = m * n;
  if (bBatches === 1 && !transposeA && aBatches === nBatch) {
    // [..., m, k] @ [k, n]: one tall product over all batches at once.
    blas.sgemm(false, transposeB, nBatch * m, n, k, heapA, lda, heapB, ldb, heapOut, n);
    return out;
  }
  for (let i = 0; i < nBatch; i++) {
    const ao = batch.aIndex[i]! * aSize, bo = batch.bIndex[i]! * bSize, oo = i * outSize;
    blas.sgemm(
      transposeA,
      transposeB,
      m,
      n,
      k,
      heapA.subarray(ao, ao + aSize),
      lda,
      heapB.subarray(bo, bo + bSize),
      ldb,
      heapOut.subarray(oo, oo + outSize),
      n,
    );
  }
  return out;
}

/** Swaps the last two dimensions with the wasm `Transpose` kernel. */
function transposeLast2(backend: BackendWasm, x: tf.TensorInfo): tf.TensorInfo {
  const r = x.shape.length;
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return callKernel("Transpose", "wasm", backend, { x }, { perm });
}

/** Tiles `x` (wasm `Reshape` + `Tile`) so that its batch dimensions equal `outBatch`. */
function expandBatch(backend: BackendWasm, x: tf.TensorInfo, outBatch: number[]): tf.TensorInfo {
  const r = outBatch.length + 2;
  const shape = [...Array(r - x.shape.length).fill(1), ...x.shape] as number[];
  const reps = shape.map((d, i) => (i < outBatch.length && d === 1 ? outBatch[i]! : 1));
  const reshaped = callKernel("Reshape", "wasm", backend, { x }, { shape });
  const tiled = callKernel("Tile", "wasm", backend, { x: reshaped }, { reps });
  backend.disposeData(reshaped.dataId);
  return tiled;
}

/**
 * `op(a) @ op(b)` (non-empty, sizes from {@link matMulDims}) with the stock
 * wasm kernel, avoiding its slow and its unsupported paths: transposed
 * operands are transposed explicitly and batch shapes that broadcast on both
 * sides are tiled first.
 */
function wasmMatMul(
  stock: KernelFn,
  backend: BackendWasm,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  d: MatMulDims,
): tf.TensorInfo {
  const { transposeA, transposeB, batch, aBatches, bBatches } = d;
  const temps: tf.TensorInfo[] = [];
  const keep = (x: tf.TensorInfo, orig: tf.TensorInfo) => {
    if (x !== orig) temps.push(x);
    return x;
  };
  try {
    let a1 = a, b1 = b;
    if (aBatches !== bBatches && aBatches !== 1 && bBatches !== 1) {
      a1 = keep(expandBatch(backend, a, batch.outShape), a);
      b1 = keep(expandBatch(backend, b, batch.outShape), b);
    }
    const a2 = transposeA ? keep(transposeLast2(backend, a1), a1) : a1;
    const b2 = transposeB ? keep(transposeLast2(backend, b1), b1) : b1;
    return single(
      stock({ inputs: { a: a2, b: b2 }, backend, attrs: { transposeA: false, transposeB: false } }) as
        | tf.TensorInfo
        | tf.TensorInfo[],
    );
  } finally {
    for (const x of temps) backend.disposeData(x.dataId);
  }
}

/**
 * The replacement `BatchMatMul` kernel function: BLAS when `blas` is given,
 * else {@link wasmMatMul} around the stock kernel.
 */
export function makeBatchMatMul(stock: KernelFn, blas: Blas | null): KernelFn {
  return ({ inputs, backend, attrs }) => {
    const wasm = backend as BackendWasm;
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    return product(stock, blas, wasm, a, b, attrs as unknown as MatMulAttrs, "matMul");
  };
}

/**
 * `op(a) @ op(b)` for float32 operands: checks shapes, gives the empty or
 * zero result of an empty product (an empty inner dimension gives zeros),
 * else computes by BLAS when available or by {@link wasmMatMul}.
 */
function product(
  stock: KernelFn,
  blas: Blas | null,
  backend: BackendWasm,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  { transposeA, transposeB }: MatMulAttrs,
  op: string,
): tf.TensorInfo {
  if (a.dtype !== "float32" || b.dtype !== "float32") {
    throw new Error(`${op}: the wasm backend multiplies float32 only, got ${a.dtype} and ${b.dtype}`);
  }
  const d = matMulDims(a, b, !!transposeA, !!transposeB);
  if (d.m === 0 || d.n === 0 || d.k === 0 || d.batch.aIndex.length === 0) {
    const out = backend.makeOutput([...d.batch.outShape, d.m, d.n], "float32");
    if (d.k === 0) heapF32(backend, out).fill(0);
    return out;
  }
  return blas !== null ? blasMatMul(blas, backend, a, b, d) : wasmMatMul(stock, backend, a, b, d);
}

/** Fused activations of `_FusedMatMul` and the wasm kernels that apply them. */
const ACTIVATION_KERNEL: Record<string, string | null> = {
  linear: null,
  relu: "Relu",
  relu6: "Relu6",
  elu: "Elu",
  sigmoid: "Sigmoid",
  leakyrelu: "LeakyRelu",
  prelu: "Prelu",
};

/**
 * The replacement `_FusedMatMul` kernel function (`tf.fused.matMul`, dense
 * layers): the product as in {@link makeBatchMatMul}, then the bias add and
 * the activation with the wasm kernels. (The stock wasm fused kernel adds the
 * bias wrongly for batched operands, so it is not used.) `stockBatchMatMul`
 * is the stock `BatchMatMul` kernel.
 */
export function makeFusedMatMul(stockBatchMatMul: KernelFn, blas: Blas | null): KernelFn {
  return ({ inputs, backend, attrs }) => {
    const wasm = backend as BackendWasm;
    const { a, b, bias, preluActivationWeights } = inputs as {
      a: tf.TensorInfo;
      b: tf.TensorInfo;
      bias?: tf.TensorInfo;
      preluActivationWeights?: tf.TensorInfo;
    };
    const { activation, leakyreluAlpha } = attrs as unknown as MatMulAttrs & {
      activation: string;
      leakyreluAlpha?: number;
    };
    const act = activation ?? "linear";
    if (!(act in ACTIVATION_KERNEL)) {
      throw new Error(
        `fused matMul: activation "${act}" is not supported; expected one of ${
          Object.keys(ACTIVATION_KERNEL).join(", ")
        }`,
      );
    }
    let out = product(stockBatchMatMul, blas, wasm, a, b, attrs as unknown as MatMulAttrs, "fused matMul");
    if (bias != null) {
      const added = callKernel("Add", "wasm", wasm, { a: out, b: bias });
      wasm.disposeData(out.dataId);
      out = added;
    }
    const kernelName = ACTIVATION_KERNEL[act];
    if (kernelName) {
      let activated: tf.TensorInfo;
      if (act === "prelu") {
        if (preluActivationWeights == null) throw new Error("fused matMul: prelu needs preluActivationWeights");
        activated = callKernel(kernelName, "wasm", wasm, { x: out, alpha: preluActivationWeights });
      } else if (act === "leakyrelu") {
        activated = callKernel(kernelName, "wasm", wasm, { x: out }, { alpha: leakyreluAlpha ?? 0.2 });
      } else {
        activated = callKernel(kernelName, "wasm", wasm, { x: out });
      }
      wasm.disposeData(out.dataId);
      out = activated;
    }
    return out;
  };
}
