/**
 * The WebGPU backend (`@tensorflow/tfjs-backend-webgpu`) under Deno: finding
 * an adapter, telling a real GPU from a software one, and two adjustments that
 * make tfjs's backend usable outside a browser.
 *
 * - **Adapter.** {@link probeWebGpu} asks `navigator.gpu` for the
 *   high-performance adapter (the one tfjs's backend factory will take) and
 *   describes it. {@link softwareAdapterReason} says why an adapter is a
 *   software rasteriser (Mesa's lavapipe/llvmpipe, SwiftShader, WARP): such an
 *   adapter is never chosen automatically, only when `SAE_BACKEND=webgpu`
 *   forces it (the tests do, for correctness on a CPU-only machine).
 * - **Host reads.** tfjs reads a GPU tensor synchronously (`dataSync`) through
 *   a 2-D `OffscreenCanvas`, which Deno lacks, and Deno has no synchronous
 *   buffer mapping either; so on this backend a GPU-computed tensor is read
 *   with `await t.data()` (`readHost` in `host_read.ts`). {@link adaptWebGpuBackend}
 *   replaces the canvas failure (`Cannot read properties of null (reading
 *   'clearRect')`) by an error that says this, and keeps the host copy of
 *   int32 tensors written from the host (token ids, indices) when they are
 *   uploaded, so that code validating token ids with `dataSync` keeps working.
 * - **Vulkan noise.** Mesa's Vulkan loader prints "XDG_RUNTIME_DIR is invalid
 *   or not set" when that variable is missing; {@link ensureXdgRuntimeDir}
 *   points it at a fresh private temporary folder first.
 *
 * @example
 * ```ts
 * import { probeWebGpu, softwareAdapterReason } from "./webgpu.ts";
 * const probe = await probeWebGpu();
 * if (probe.adapter) console.log(probe.adapter.description, softwareAdapterReason(probe.adapter) ?? "hardware");
 * ```
 *
 * @module
 */

/** What {@link probeWebGpu} learnt about the adapter tfjs would use. */
export interface WebGpuAdapterFacts {
  /** `GPUAdapterInfo.description` (e.g. "NVIDIA H100 80GB HBM3", "llvmpipe (LLVM 15.0.6, 256 bits)"). */
  description: string;
  vendor: string;
  architecture: string;
  device: string;
  /** `isFallbackAdapter` from `GPUAdapterInfo` (or the older `GPUAdapter` attribute); null when neither exists. */
  isFallbackAdapter: boolean | null;
  /** `limits.maxStorageBufferBindingSize` (bytes): bounds the largest tensor one kernel can bind. */
  maxStorageBufferBindingSize: number;
  /** `limits.maxBufferSize` (bytes). */
  maxBufferSize: number;
}

/** Result of {@link probeWebGpu}: an adapter, or why there is none. */
export type WebGpuProbe = { adapter: WebGpuAdapterFacts; why: null } | { adapter: null; why: string };

/** Description patterns of software adapters (Mesa lavapipe/llvmpipe/softpipe, SwiftShader, Microsoft WARP). */
const SOFTWARE_DESCRIPTION = /llvmpipe|lavapipe|softpipe|swiftshader|microsoft basic render|\bwarp\b/i;

/**
 * Why `facts` describe a software (CPU) adapter, or null for a hardware GPU:
 * the adapter calls itself a fallback adapter, or its description names a
 * known software rasteriser (for runtimes that do not report `isFallbackAdapter`).
 *
 * @example
 * ```ts
 * import { softwareAdapterReason } from "./webgpu.ts";
 * softwareAdapterReason({ description: "llvmpipe (LLVM 15.0.6, 256 bits)", vendor: "65541", architecture: "",
 *   device: "0", isFallbackAdapter: true, maxStorageBufferBindingSize: 2 ** 27, maxBufferSize: 2 ** 28 });
 * // "software adapter (isFallbackAdapter): llvmpipe (LLVM 15.0.6, 256 bits)"
 * ```
 */
export function softwareAdapterReason(facts: WebGpuAdapterFacts): string | null {
  const name = facts.description || `vendor ${facts.vendor}, device ${facts.device}`;
  if (facts.isFallbackAdapter === true) return `software adapter (isFallbackAdapter): ${name}`;
  if (SOFTWARE_DESCRIPTION.test(facts.description)) return `software adapter (by its description): ${name}`;
  return null;
}

/**
 * Sets `XDG_RUNTIME_DIR` to a fresh private temporary folder when it is unset
 * or not a folder (Mesa's Vulkan loader complains on stderr otherwise).
 * Returns the folder in use.
 *
 * @example
 * ```ts
 * import { ensureXdgRuntimeDir } from "./webgpu.ts";
 * ensureXdgRuntimeDir(); // e.g. "/run/user/1000", or "/tmp/sae-xdg-runtime-1a2b3c" when it was unset
 * ```
 */
export function ensureXdgRuntimeDir(): string {
  const cur = Deno.env.get("XDG_RUNTIME_DIR");
  if (cur) {
    try {
      if (Deno.statSync(cur).isDirectory) return cur;
    } catch {
      // not a folder: replace it below
    }
  }
  const dir = Deno.makeTempDirSync({ prefix: "sae-xdg-runtime-" });
  Deno.chmodSync(dir, 0o700);
  Deno.env.set("XDG_RUNTIME_DIR", dir);
  return dir;
}

/**
 * Asks `navigator.gpu` for the high-performance adapter and describes it.
 * Never throws: a missing `navigator.gpu`, no adapter or an error becomes `why`.
 *
 * @example
 * ```ts
 * import { probeWebGpu } from "./webgpu.ts";
 * const p = await probeWebGpu();
 * console.log(p.adapter?.description ?? p.why);
 * ```
 */
export async function probeWebGpu(): Promise<WebGpuProbe> {
  const gpu = (navigator as { gpu?: GPU }).gpu;
  if (gpu === undefined) {
    return { adapter: null, why: "this Deno has no navigator.gpu (older Deno needs --unstable-webgpu)" };
  }
  ensureXdgRuntimeDir();
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
    if (adapter === null) return { adapter: null, why: "navigator.gpu.requestAdapter() found no adapter" };
    const info = (adapter as { info?: GPUAdapterInfo }).info;
    const rec = (info ?? {}) as unknown as Record<string, unknown>;
    const str = (k: string) => (typeof rec[k] === "string" ? rec[k] as string : "");
    const fallback = typeof rec["isFallbackAdapter"] === "boolean"
      ? rec["isFallbackAdapter"] as boolean
      : typeof (adapter as unknown as Record<string, unknown>)["isFallbackAdapter"] === "boolean"
      ? (adapter as unknown as Record<string, unknown>)["isFallbackAdapter"] as boolean
      : null;
    return {
      adapter: {
        description: str("description"),
        vendor: str("vendor"),
        architecture: str("architecture"),
        device: str("device"),
        isFallbackAdapter: fallback,
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
      },
      why: null,
    };
  } catch (err) {
    return { adapter: null, why: `requestAdapter failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** The parts of tfjs's `WebGPUBackend` that {@link adaptWebGpuBackend} wraps (tfjs 4.22.0). */
interface WebGpuBackendInternals {
  tensorMap: { get(dataId: object): { values: unknown; dtype: string; shape: number[] } | undefined };
  readSync(dataId: object): unknown;
  uploadToGPU(dataId: object): void;
}

const adapted = new WeakSet<object>();

/** Whether this runtime can read a GPU tensor synchronously the way tfjs does (a 2-D OffscreenCanvas). */
function hasCanvas2d(): boolean {
  try {
    const C = (globalThis as { OffscreenCanvas?: new (w: number, h: number) => { getContext(k: string): unknown } })
      .OffscreenCanvas;
    return C !== undefined && new C(1, 1).getContext("2d") !== null;
  } catch {
    return false;
  }
}

/**
 * Adjusts a tfjs `WebGPUBackend` instance for Deno (idempotent): int32
 * tensors written from the host keep their host copy after upload, and a
 * synchronous read of a GPU-computed tensor fails with an error that names the
 * tensor and the remedy instead of tfjs's canvas error. In a runtime with a 2-D
 * `OffscreenCanvas` (a browser) only the int32 host copies are kept.
 *
 * @throws {Error} when `backend` lacks the tfjs 4.22.0 internals it wraps
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { adaptWebGpuBackend } from "./webgpu.ts";
 * if (tf.getBackend() === "webgpu") adaptWebGpuBackend(tf.backend()); // throws on any other backend
 * ```
 */
export function adaptWebGpuBackend(backend: object): void {
  if (adapted.has(backend)) return;
  const b = backend as unknown as WebGpuBackendInternals;
  if (typeof b.uploadToGPU !== "function" || typeof b.readSync !== "function" || b.tensorMap === undefined) {
    throw new Error("adaptWebGpuBackend: not a tfjs 4.22.0 WebGPUBackend (uploadToGPU/readSync/tensorMap missing)");
  }
  const upload = b.uploadToGPU.bind(b);
  b.uploadToGPU = (dataId: object) => {
    const d = b.tensorMap.get(dataId);
    const keep = d !== undefined && d.dtype === "int32" && d.values != null ? d.values : null;
    upload(dataId);
    if (keep !== null && d !== undefined) d.values = keep; // same numbers as the GPU buffer: tensors are immutable
  };
  if (!hasCanvas2d()) {
    const read = b.readSync.bind(b);
    b.readSync = (dataId: object) => {
      const d = b.tensorMap.get(dataId);
      if (d !== undefined && d.values == null && d.dtype !== "string" && d.dtype !== "complex64") {
        throw new Error(
          `WebGPU backend: a ${d.dtype} tensor of shape [${d.shape}] computed on the GPU cannot be read ` +
            "synchronously (dataSync/arraySync/bufferSync) in Deno, which has no synchronous GPU readback; " +
            "read it with `await tensor.data()` (readHost in lib/engine/host_read.ts), or run with SAE_BACKEND=wasm",
        );
      }
      return read(dataId);
    };
  }
  adapted.add(backend);
}
