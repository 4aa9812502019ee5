/**
 * The engine in one import: backend choice (with the kernel overrides), the
 * seeded RNG, the native BLAS loader, the kernel installer, the WebGPU adapter
 * probe and host reads that work on every backend.
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
export { fusedAdam, FusedAdamOptimizer } from "./kernels/adam.ts";
export { peekHost, readHost } from "./host_read.ts";
export { probeWebGpu, softwareAdapterReason, type WebGpuAdapterFacts, type WebGpuProbe } from "./webgpu.ts";
