/**
 * Installs the project's kernel overrides into tfjs's global kernel registry,
 * for the wasm backend: `BatchMatMul` and `_FusedMatMul` (native BLAS, or
 * explicit transposes), `Sum`, `Mean`, `Max`, `Min` over non-innermost axes,
 * `Identity` (shares memory instead of copying), `Tanh` (through `Sigmoid`)
 * and `UnsortedSegmentSum` (the embedding gradient); and,
 * for every backend, a `BatchMatMul` gradient that reduces broadcast batch
 * dimensions (`matmul_grad.ts`).
 *
 * `initBackend()` calls {@link installEngineKernels} on the wasm backend so
 * every user of the library gets them (on other backends, WebGPU included, it
 * registers only the gradient, {@link installEngineGradients}: the kernels are
 * wasm code and are registered for `"wasm"` alone); calling it again is
 * harmless. A custom op with a wasm kernel of its own asks
 * {@link engineKernelsActive} and falls back to plain tfjs ops elsewhere. The stock kernels are kept
 * and {@link uninstallEngineKernels} restores them (the tests use this to
 * compare against the unpatched kernels).
 *
 * @example
 * ```ts
 * import { installEngineKernels } from "./install.ts";
 * const status = installEngineKernels();
 * console.log(status.matmul); // "openblas-ffi (2 threads)" or "wasm (explicit transpose)"
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { type BlasStatus, blasStatus, loadBlas } from "../blas_ffi.ts";
import { type KernelFn, makeBatchMatMul, makeFusedMatMul } from "./matmul.ts";
import { batchMatMulGradConfig } from "./matmul_grad.ts";
import { makeBlockReduce, type ReduceKind } from "./reduce.ts";
import { unsortedSegmentSumWasm } from "./unsorted_segment_sum.ts";
import { makeSharingIdentity } from "./identity.ts";
import { makeFastTanh } from "./tanh.ts";

/** What {@link installEngineKernels} installed. */
export interface EngineKernelStatus {
  /** The matmul path: `"openblas-ffi (N threads)"` or `"wasm (explicit transpose)"`. */
  matmul: string;
  /** The wasm `UnsortedSegmentSum` (embedding gradient) implementation. */
  segmentSum: string;
  /** The native BLAS status (why it is or is not used). */
  blas: BlasStatus;
  /** Kernel names overridden for the wasm backend. */
  kernels: string[];
  /** Gradients replaced (for every backend). */
  gradients: string[];
}

/** Options of {@link installEngineKernels}. */
export interface InstallOptions {
  /** Use the native BLAS when it loads (default true; `SAE_BLAS=off` also disables it). */
  blas: boolean;
}

const BACKEND = "wasm";
const stock = new Map<string, tf.KernelConfig | null>();
let stockGrad: tf.GradConfig | null | undefined;
let current: EngineKernelStatus | null = null;
let currentUsesBlas: boolean | null = null;

function replace(name: string, make: (orig: tf.KernelConfig | null) => tf.KernelConfig): void {
  if (!stock.has(name)) stock.set(name, tf.getKernel(name, BACKEND) ?? null);
  const orig = stock.get(name) ?? null;
  if (tf.getKernel(name, BACKEND) !== undefined) tf.unregisterKernel(name, BACKEND);
  tf.registerKernel(make(orig));
}

function stockFn(name: string, orig: tf.KernelConfig | null): KernelFn {
  if (orig === null) throw new Error(`the wasm backend has no stock "${name}" kernel to wrap`);
  return orig.kernelFunc;
}

/**
 * Registers the overrides (idempotent; re-installs when `options.blas`
 * changes). Works before or after `tf.setBackend("wasm")`.
 *
 * @example
 * ```ts
 * import { installEngineKernels } from "./install.ts";
 * installEngineKernels({ blas: false }); // force the pure-wasm path
 * ```
 */
export function installEngineKernels(options: Partial<InstallOptions> = {}): EngineKernelStatus {
  const useBlas = options.blas ?? true;
  if (current !== null && currentUsesBlas === useBlas) return current;
  const blas = useBlas ? loadBlas() : null;
  for (const name of ["BatchMatMul", "_FusedMatMul"]) {
    replace(name, (orig) => ({
      kernelName: name,
      backendName: BACKEND,
      setupFunc: orig?.setupFunc,
      disposeFunc: orig?.disposeFunc,
      kernelFunc: name === "BatchMatMul"
        ? makeBatchMatMul(stockFn(name, orig), blas)
        : makeFusedMatMul(stockFn("BatchMatMul", stock.get("BatchMatMul") ?? null), blas),
    }));
  }
  for (const name of ["Sum", "Mean", "Max", "Min"]) {
    replace(name, (orig) => ({
      kernelName: name,
      backendName: BACKEND,
      setupFunc: orig?.setupFunc,
      disposeFunc: orig?.disposeFunc,
      kernelFunc: makeBlockReduce(stockFn(name, orig), blas, name.toLowerCase() as ReduceKind),
    }));
  }
  replace("Identity", (orig) => ({
    kernelName: "Identity",
    backendName: BACKEND,
    setupFunc: orig?.setupFunc,
    disposeFunc: orig?.disposeFunc,
    kernelFunc: makeSharingIdentity(stockFn("Identity", orig)),
  }));
  replace("Tanh", (orig) => ({
    kernelName: "Tanh",
    backendName: BACKEND,
    setupFunc: orig?.setupFunc,
    disposeFunc: orig?.disposeFunc,
    kernelFunc: makeFastTanh(stockFn("Tanh", orig)),
  }));
  replace("UnsortedSegmentSum", () => ({
    kernelName: "UnsortedSegmentSum",
    backendName: BACKEND,
    kernelFunc: unsortedSegmentSumWasm as unknown as KernelFn,
  }));
  installEngineGradients();
  const bs = blasStatus();
  current = {
    matmul: blas
      ? `openblas-ffi (${blas.threads} thread${blas.threads === 1 ? "" : "s"})`
      : "wasm (explicit transpose)",
    segmentSum: "js on the wasm heap",
    blas: useBlas ? bs : { ...bs, available: false, reason: "disabled by installEngineKernels({ blas: false })" },
    kernels: ["BatchMatMul", "_FusedMatMul", "Sum", "Mean", "Max", "Min", "Identity", "Tanh", "UnsortedSegmentSum"],
    gradients: ["BatchMatMul"],
  };
  currentUsesBlas = useBlas;
  return current;
}

/**
 * Registers only the broadcast-aware `BatchMatMul` gradient (plain tfjs ops, valid on every backend); what
 * `initBackend()` does on backends other than wasm. Idempotent.
 *
 * @example
 * ```ts
 * import { installEngineGradients } from "./install.ts";
 * installEngineGradients(); // ["BatchMatMul"]
 * ```
 */
export function installEngineGradients(): string[] {
  if (stockGrad === undefined) stockGrad = tf.getGradient("BatchMatMul") ?? null;
  tf.registerGradient(batchMatMulGradConfig);
  return ["BatchMatMul"];
}

/**
 * Whether the project's wasm kernels serve the current backend: installed, and the active backend is wasm. Custom
 * ops that dispatch to a wasm-only kernel check this and otherwise compute with plain tfjs ops (WebGPU, CPU, node).
 *
 * @example
 * ```ts
 * import { engineKernelsActive } from "./install.ts";
 * if (!engineKernelsActive()) {
 *   // plain tfjs ops
 * }
 * ```
 */
export function engineKernelsActive(): boolean {
  return current !== null && tf.getBackend() === BACKEND;
}

/** Restores the stock wasm kernels and matmul gradient (and removes `UnsortedSegmentSum`). */
export function uninstallEngineKernels(): void {
  if (stockGrad) tf.registerGradient(stockGrad);
  for (const [name, orig] of stock) {
    if (tf.getKernel(name, BACKEND) !== undefined) tf.unregisterKernel(name, BACKEND);
    if (orig !== null) tf.registerKernel(orig);
  }
  current = null;
  currentUsesBlas = null;
}

/** The installed status, or null when the overrides are not installed. */
export function engineKernelStatus(): EngineKernelStatus | null {
  return current;
}
