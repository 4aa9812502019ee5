/**
 * The engine in one import: backend choice (with the kernel overrides), the
 * seeded RNG, the native BLAS loader, the kernel installer, the WebGPU adapter
 * probe, host reads that work on every backend, and the kernels the model and
 * trainers call directly (fused Adam, the language-model layer ops, causal
 * attention and its two-thread pool, the fused-op switch). The remaining
 * `kernels/` files are registered kernels, reached through tfjs ops.
 *
 * @example
 * ```ts
 * import { initBackend, Rng } from "./mod.ts";
 * const report = await initBackend();
 * console.log(report.summary, new Rng(0, "demo").uniform());
 * ```
 *
 * @module
 */

export * from "./backend.ts";
export * from "./rng.ts";
export { type Blas, type BlasStatus, blasStatus, loadBlas } from "./blas_ffi.ts";
export {
  engineKernelsActive,
  type EngineKernelStatus,
  engineKernelStatus,
  installEngineGradients,
  installEngineKernels,
  type InstallOptions,
  uninstallEngineKernels,
} from "./kernels/install.ts";
export * from "./kernels/adam.ts";
export * from "./kernels/lm_layer_ops.ts";
export * from "./kernels/causal_attention.ts";
export * from "./kernels/attention_pool.ts";
export * from "./kernels/fused_ops.ts";
export { peekHost, readHost } from "./host_read.ts";
export { probeWebGpu, softwareAdapterReason, type WebGpuAdapterFacts, type WebGpuProbe } from "./webgpu.ts";
