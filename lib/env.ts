/**
 * Run-time settings read from the environment, in one place.
 *
 * | variable | meaning | default |
 * | --- | --- | --- |
 * | `QUICK` | `1` runs reduced configurations (CI) and writes to a scratch folder | unset |
 * | `SAE_OUT_DIR` | where figures, caches and run outputs go | the project root, or `.quick/` when `QUICK=1` |
 * | `SAE_BACKEND` | compute backend: `node-gpu`, `node`, `wasm` or `cpu` | best available |
 * | `SAE_HEADLESS` | set by the notebook runner: outputs are for a static file, not a live page | unset |
 * | `SAE_ARTIFACTS` | study B: a folder or JSON file pointing at real GPT-2 / SAE / data files (`lib/lm/artifacts.ts`) | the embedded default in `data/embedded/` |
 * | `SAE_RETRAIN` | `1`: notebook 10 retrains the embedded LM and SAEs (`embeddedConfig()`) before reporting on them | unset: it reports on the shipped checkpoints |
 * | `SAE_BLAS` | `off` disables the OpenBLAS matmul path (`lib/engine/blas_ffi.ts`) | on when the library is found |
 *
 * @module
 */

import { dirname, fromFileUrl, join } from "./path.ts";

/** Absolute path of the project root (the folder holding `deno.json`). */
export const PROJECT_ROOT: string = dirname(dirname(fromFileUrl(import.meta.url)));

function envGet(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: behave as if unset
  }
}

/**
 * True when `QUICK=1`: notebooks and scripts run reduced configurations.
 *
 * @example
 * ```ts
 * import { isQuick } from "./env.ts";
 * const steps = isQuick() ? 200 : 31_250;
 * ```
 */
export function isQuick(): boolean {
  return envGet("QUICK") === "1";
}

/** True when the notebook runner executes headlessly (static outputs only). */
export function isHeadless(): boolean {
  return envGet("SAE_HEADLESS") === "1";
}

/** True when `SAE_RETRAIN=1` asks notebook 10 to retrain the embedded default. */
export function wantsRetrain(): boolean {
  return envGet("SAE_RETRAIN") === "1";
}

/** The requested backend name from `SAE_BACKEND`, if any. */
export function requestedBackend(): string | undefined {
  const v = envGet("SAE_BACKEND");
  return v === undefined || v === "" ? undefined : v;
}

/**
 * Root folder for generated outputs: `SAE_OUT_DIR`, else `.quick/` under the
 * project root in quick mode, else the project root itself.
 */
export function outputRoot(): string {
  const explicit = envGet("SAE_OUT_DIR");
  if (explicit) return explicit;
  return isQuick() ? join(PROJECT_ROOT, ".quick") : PROJECT_ROOT;
}

/** Folder that receives `NAME.{svg,png,html,data.json}` figure files. */
export function figuresDir(): string {
  return join(outputRoot(), "figures");
}

/** Folder for shipped data and checkpoints (always the project's `data/`). */
export function dataDir(): string {
  return join(PROJECT_ROOT, "data");
}

/** Folder for caches (token arrays, intermediate runs); never committed. */
export function cacheDir(): string {
  return join(outputRoot(), ".cache");
}
