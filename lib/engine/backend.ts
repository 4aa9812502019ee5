/**
 * Chooses and initialises the tfjs compute backend.
 *
 * Order of preference: `node-gpu` (`@tensorflow/tfjs-node-gpu`), `node`
 * (`@tensorflow/tfjs-node`), `wasm` (`@tensorflow/tfjs-backend-wasm`, the
 * default here), `cpu` (pure JS). The native packages are optional: they are
 * tried only when present in `node_modules` (install with
 * `deno install --allow-scripts npm:@tensorflow/tfjs-node@4.22.0`), so a user
 * who has them gets them with no code change. `SAE_BACKEND` forces a choice.
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
import { type EngineKernelStatus, installEngineKernels } from "./kernels/install.ts";

/** Backends in order of preference. */
export const BACKEND_ORDER = ["node-gpu", "node", "wasm", "cpu"] as const;
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
  /** One-line description for notebooks and logs. */
  summary: string;
}

const NATIVE_PACKAGE: Record<"node-gpu" | "node", string> = {
  "node-gpu": "@tensorflow/tfjs-node-gpu",
  node: "@tensorflow/tfjs-node",
};

let current: Promise<BackendReport> | null = null;

/**
 * Initialises the backend once per process and returns the report; later
 * calls return the same report.
 *
 * @throws {Error} when `SAE_BACKEND` names an unknown or unavailable backend
 */
export function initBackend(): Promise<BackendReport> {
  if (current === null) current = chooseBackend();
  return current;
}

function isBackendName(v: string): v is BackendName {
  return (BACKEND_ORDER as readonly string[]).includes(v);
}

async function chooseBackend(): Promise<BackendReport> {
  const forced = requestedBackend();
  if (forced !== undefined && !isBackendName(forced)) {
    throw new Error(
      `SAE_BACKEND: expected one of ${BACKEND_ORDER.join(", ")}, got "${forced}"`,
    );
  }
  const candidates: BackendName[] = forced ? [forced] : [...BACKEND_ORDER];
  const skipped: { name: BackendName; why: string }[] = [];
  for (const name of candidates) {
    const why = await tryBackend(name);
    if (why === null) {
      return makeReport(name, forced ? `forced by SAE_BACKEND=${forced}` : "best available", skipped);
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
  const kernels = tfjsName === "wasm" ? installEngineKernels() : null;
  const matmul = kernels ? kernels.matmul : `${tfjsName} built-in`;
  const detail = tfjsName === "wasm"
    ? ` (${simd ? "SIMD" : "no SIMD"}, ${threads} thread${threads === 1 ? "" : "s"})`
    : ` (${threads} thread${threads === 1 ? "" : "s"})`;
  const summary = `${name}${detail}, matmul ${matmul}, tfjs ${tf.version.tfjs}: ${reason}`;
  return { name, tfjsName, version: tf.version.tfjs, threads, simd, reason, skipped, matmul, kernels, summary };
}
