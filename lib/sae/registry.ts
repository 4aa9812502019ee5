/**
 * The SAE architectures this project knows, by name, and the check of an
 * {@link SaeConfig} against them. Adding an architecture is one file in
 * `arch/` (a {@link SaeArchitectureSpec}) plus one line in
 * {@link BUILT_IN_ARCHITECTURES}; code outside the library (a test, a
 * notebook) can add one at run time with {@link registerSaeArchitecture}.
 *
 * @example
 * ```ts
 * import { saeArchitecture, saeArchitectureNames } from "./registry.ts";
 * saeArchitectureNames(); // ["standard", "topk", "batchtopk", "jumprelu"]
 * saeArchitecture("jumprelu").threshold?.trained; // true
 * ```
 *
 * @module
 */

import type { SaeArchitectureSpec } from "./architecture.ts";
import { type SaeConfig, SaeConfigError } from "./config.ts";
import { batchtopk } from "./arch/batchtopk.ts";
import { jumprelu } from "./arch/jumprelu.ts";
import { standard } from "./arch/standard.ts";
import { topk } from "./arch/topk.ts";

/** The library's architectures, in the order error messages list them: one line each. */
export const BUILT_IN_ARCHITECTURES: readonly SaeArchitectureSpec[] = [
  standard,
  topk,
  batchtopk,
  jumprelu,
];

const registry = new Map<string, SaeArchitectureSpec>(BUILT_IN_ARCHITECTURES.map((a) => [a.name, a]));

/** The names of the registered architectures, built-in ones first. */
export function saeArchitectureNames(): string[] {
  return [...registry.keys()];
}

/**
 * The spec of a registered architecture.
 *
 * @throws {SaeConfigError} naming `SaeConfig.architecture`, the registered names and the one given
 */
export function saeArchitecture(name: string): SaeArchitectureSpec {
  const spec = registry.get(name);
  if (spec === undefined) {
    throw new SaeConfigError(
      `SaeConfig.architecture: expected one of ${saeArchitectureNames().join(", ")}, got "${name}"`,
    );
  }
  return spec;
}

/**
 * Adds an architecture under `spec.name`, for the rest of the process (a test's or a notebook's own
 * architecture; the library's are in {@link BUILT_IN_ARCHITECTURES}).
 *
 * @throws {SaeConfigError} when the name is empty or already registered, or a post-step update has no threshold to set
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerSaeArchitecture, saeArchitecture } from "./registry.ts";
 * registerSaeArchitecture({
 *   ...saeArchitecture("standard"),
 *   name: "softplus_l1",
 *   activate: (pre) => tf.softplus(pre),
 *   saeLens: { name: "softplus_l1", reads: true, read: () => ({}), write: () => ({}) },
 * });
 * ```
 */
export function registerSaeArchitecture(spec: SaeArchitectureSpec): void {
  if (spec.name === "") throw new SaeConfigError("registerSaeArchitecture: the architecture needs a name");
  if (registry.has(spec.name)) {
    throw new SaeConfigError(`registerSaeArchitecture: an architecture named "${spec.name}" is already registered`);
  }
  if (spec.postStep !== null && spec.threshold === null) {
    throw new SaeConfigError(
      `registerSaeArchitecture: "${spec.name}" has a post-step update but no threshold parameter for it to set`,
    );
  }
  registry.set(spec.name, spec);
}

function positiveInt(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 1) throw new SaeConfigError(`${what}: expected an integer ≥ 1, got ${v}`);
}

/**
 * Checks an {@link SaeConfig}: its shape, that its architecture is registered, and that architecture's own
 * fields ({@link SaeArchitectureSpec.validate}); throws {@link SaeConfigError} naming the bad field.
 *
 * @example
 * ```ts
 * import { defaultSaeConfig } from "./config.ts";
 * import { validateSaeConfig } from "./registry.ts";
 * validateSaeConfig(defaultSaeConfig({ d_in: 2, d_sae: 4 }));
 * ```
 */
export function validateSaeConfig(cfg: SaeConfig): void {
  positiveInt(cfg.d_in, "SaeConfig.d_in");
  positiveInt(cfg.d_sae, "SaeConfig.d_sae");
  positiveInt(cfg.n_inst, "SaeConfig.n_inst");
  saeArchitecture(cfg.architecture).validate(cfg);
  if (cfg.normalize_activations !== "none") {
    throw new SaeConfigError(
      `SaeConfig.normalize_activations: only "none" is supported, got "${cfg.normalize_activations}"`,
    );
  }
}
