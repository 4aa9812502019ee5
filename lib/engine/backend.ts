/**
 * Chooses and initialises the tfjs compute backend.
 *
 * Order of preference: `node-gpu` (`@tensorflow/tfjs-node-gpu`), `webgpu`
 * (`@tensorflow/tfjs-backend-webgpu`, when a hardware GPU adapter exists),
 * `node` (`@tensorflow/tfjs-node`), `wasm` (`@tensorflow/tfjs-backend-wasm`,
 * the default here), `cpu` (pure JS). The native packages are optional: they
 * are tried only when present in `node_modules` (install with
 * `deno install --allow-scripts npm:@tensorflow/tfjs-node@4.22.0`), so a user
 * who has them gets them with no code change. `SAE_BACKEND` forces a choice.
 *
 * WebGPU is chosen automatically only when the adapter is a hardware GPU (a
 * software adapter such as Mesa's lavapipe is slower than wasm: it is used
 * only when `SAE_BACKEND=webgpu` forces it) and the caller declares that its
 * host reads are asynchronous (`initBackend({ webgpu: true })`): Deno has no
 * synchronous GPU readback, so code that calls `dataSync` on computed tensors
 * cannot run there (`webgpu.ts`).
 *
 * @example
 * ```ts
 * import { initBackend } from "./backend.ts";
 * const report = await initBackend();
 * console.log(report.summary); // e.g. "wasm (SIMD, 1 thread), matmul openblas-ffi (2 threads), tfjs 4.22.0: best available"
 * ```
 *
 * On the wasm backend it also installs the project's kernel overrides
 * (`kernels/install.ts`): matmuls through native OpenBLAS when it loads (else
 * explicit transposes in front of the stock kernel) and the missing
 * `UnsortedSegmentSum` (embedding gradient), so every user gets them.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { requestedBackend } from "../env.ts";
import { PROJECT_ROOT } from "../env.ts";
import { join } from "../path.ts";
import { type EngineKernelStatus, installEngineGradients, installEngineKernels } from "./kernels/install.ts";
import { adaptWebGpuBackend, probeWebGpu, softwareAdapterReason, type WebGpuAdapterFacts } from "./webgpu.ts";

/** Backends in order of preference. */
export const BACKEND_ORDER = ["node-gpu", "webgpu", "node", "wasm", "cpu"] as const;
/** One of the supported backend names. */
export type BackendName = typeof BACKEND_ORDER[number];

/** What {@link initBackend} chose and why. */
export interface BackendReport {
  /** The project's name for the backend. */
  name: BackendName;
  /** tfjs's own backend name (`tensorflow`, `wasm`, `cpu`). */
  tfjsName: string;
  /** tfjs version. */
  version: string;
  /** Worker threads the backend computes with (1 for wasm in Deno). */
  threads: number;
  /** Whether wasm SIMD is in use (null when not a wasm backend). */
  simd: boolean | null;
  /** Why this backend: forced by `SAE_BACKEND`, or the best available. */
  reason: string;
  /** Backends tried before this one, with the reason each was skipped. */
  skipped: { name: BackendName; why: string }[];
  /** The matmul path: `"openblas-ffi (2 threads)"`, `"wasm (explicit transpose)"`, or the backend's own. */
  matmul: string;
  /** The wasm kernel overrides installed (null on other backends). */
  kernels: EngineKernelStatus | null;
  /** The WebGPU adapter in use (null on other backends). */
  adapter: WebGpuAdapterFacts | null;
  /** One-line description for notebooks and logs. */
  summary: string;
}

const NATIVE_PACKAGE: Record<"node-gpu" | "node", string> = {
  "node-gpu": "@tensorflow/tfjs-node-gpu",
  node: "@tensorflow/tfjs-node",
};

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /**
   * The caller reads computed tensors only asynchronously (`await t.data()`), so the automatic choice may take
   * WebGPU when a hardware GPU adapter exists (default false: WebGPU only when `SAE_BACKEND=webgpu`).
   */
  webgpu: boolean;
}

let current: Promise<BackendReport> | null = null;

/**
 * Initialises the backend once per process and returns the report; later
 * calls return the same report (the options of the first call decide).
 *
 * @throws {Error} when `SAE_BACKEND` names an unknown or unavailable backend
 */
export function initBackend(options: Partial<InitBackendOptions> = {}): Promise<BackendReport> {
  if (current === null) current = chooseBackend({ webgpu: options.webgpu ?? false });
  return current;
}

/**
 * Why the automatic choice skips a WebGPU adapter, or null when it takes it:
 * skipped when the caller reads tensors synchronously (`asyncReads` false) or
 * the adapter is a software one (see `softwareAdapterReason`).
 *
 * @example
 * ```ts
 * import { webgpuAutoSkipReason } from "./backend.ts";
 * webgpuAutoSkipReason({ description: "NVIDIA H100", vendor: "nvidia", architecture: "", device: "",
 *   isFallbackAdapter: false, maxStorageBufferBindingSize: 2 ** 31, maxBufferSize: 2 ** 31 }, true); // null
 * ```
 */
export function webgpuAutoSkipReason(adapter: WebGpuAdapterFacts, asyncReads: boolean): string | null {
  const software = softwareAdapterReason(adapter);
  if (software !== null) return `${software}; set SAE_BACKEND=webgpu to use it anyway`;
  if (!asyncReads) {
    return `GPU ${adapter.description || adapter.vendor} found, but this entry point reads tensors synchronously ` +
      "(dataSync), which WebGPU in Deno cannot; set SAE_BACKEND=webgpu to try it";
  }
  return null;
}

function isBackendName(v: string): v is BackendName {
  return (BACKEND_ORDER as readonly string[]).includes(v);
}

async function chooseBackend(opts: InitBackendOptions): Promise<BackendReport> {
  const forced = requestedBackend();
  if (forced !== undefined && !isBackendName(forced)) {
    throw new Error(
      `SAE_BACKEND: expected one of ${BACKEND_ORDER.join(", ")}, got "${forced}"`,
    );
  }
  const candidates: BackendName[] = forced ? [forced] : [...BACKEND_ORDER];
  const skipped: { name: BackendName; why: string }[] = [];
  let adapter: WebGpuAdapterFacts | null = null;
  for (const name of candidates) {
    let why: string | null;
    if (name === "webgpu") {
      const probe = await probeWebGpu();
      adapter = probe.adapter;
      why = probe.adapter === null
        ? probe.why
        : forced
        ? await tryBackend(name)
        : webgpuAutoSkipReason(probe.adapter, opts.webgpu) ?? await tryBackend(name);
    } else {
      why = await tryBackend(name);
    }
    if (why === null) {
      let reason = forced ? `forced by SAE_BACKEND=${forced}` : "best available";
      const gpuSkip = skipped.find((s) => s.name === "webgpu");
      if (gpuSkip && adapter !== null && softwareAdapterReason(adapter) === null) {
        reason += ` (webgpu not used: ${gpuSkip.why})`; // a GPU is present: say why it idles
      }
      return makeReport(name, reason, skipped, name === "webgpu" ? adapter : null);
    }
    skipped.push({ name, why });
    if (forced) {
      throw new Error(`SAE_BACKEND=${forced}: backend unavailable: ${why}`);
    }
  }
  throw new Error(`no tfjs backend could be initialised: ${JSON.stringify(skipped)}`);
}

/** Returns null on success, else the reason the backend is unavailable. */
async function tryBackend(name: BackendName): Promise<string | null> {
  try {
    if (name === "node-gpu" || name === "node") {
      const pkg = NATIVE_PACKAGE[name];
      const dir = join(PROJECT_ROOT, "node_modules", pkg);
      try {
        await Deno.stat(dir);
      } catch {
        return `${pkg} is not installed`;
      }
      await import(`npm:${pkg}@4.22.0`);
      const ok = await tf.setBackend("tensorflow");
      return ok ? null : `${pkg} loaded but the "tensorflow" backend failed to start`;
    }
    if (name === "webgpu") {
      await import("@tensorflow/tfjs-backend-webgpu");
      const ok = await tf.setBackend("webgpu");
      await tf.ready();
      if (!ok) return `tf.setBackend("webgpu") returned false`;
      adaptWebGpuBackend(tf.backend());
      return null;
    }
    const ok = await tf.setBackend(name);
    await tf.ready();
    return ok ? null : `tf.setBackend("${name}") returned false`;
  } catch (err) {
    return err instanceof Error ? err.message.split("\n")[0] ?? String(err) : String(err);
  }
}

function makeReport(
  name: BackendName,
  reason: string,
  skipped: { name: BackendName; why: string }[],
  adapter: WebGpuAdapterFacts | null,
): BackendReport {
  const tfjsName = tf.getBackend();
  let threads = 1;
  let simd: boolean | null = null;
  if (tfjsName === "wasm") {
    simd = tf.env().getBool("WASM_HAS_SIMD_SUPPORT");
    threads = tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT") ? getThreadsCount() : 1;
  } else if (tfjsName === "tensorflow") {
    threads = navigator.hardwareConcurrency ?? 1;
  }
  // the wasm overrides only on wasm; the broadcast-aware matmul gradient (plain tfjs ops) on every backend
  const kernels = tfjsName === "wasm" ? installEngineKernels() : null;
  if (kernels === null) installEngineGradients();
  const matmul = kernels ? kernels.matmul : `${tfjsName} built-in`;
  let detail = ` (${threads} thread${threads === 1 ? "" : "s"})`;
  if (tfjsName === "wasm") detail = ` (${simd ? "SIMD" : "no SIMD"}, ${threads} thread${threads === 1 ? "" : "s"})`;
  if (adapter !== null) {
    const kind = softwareAdapterReason(adapter) === null ? "GPU" : "software adapter, not a GPU";
    detail = ` (${adapter.description || `vendor ${adapter.vendor}`}: ${kind})`;
  }
  const summary = `${name}${detail}, matmul ${matmul}, tfjs ${tf.version.tfjs}: ${reason}`;
  return {
    name,
    tfjsName,
    version: tf.version.tfjs,
    threads,
    simd,
    reason,
    skipped,
    matmul,
    kernels,
    adapter,
    summary,
  };
}
