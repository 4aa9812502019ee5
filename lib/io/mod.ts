/**
 * File input/output for the project: safetensors, crash-safe writes, file
 * manifests, resumable training checkpoints and the checked readers of
 * weight and JSON files.
 *
 * @example
 * ```ts
 * import { readSafetensors, saveCheckpoint, verifyManifest } from "./mod.ts";
 * const dir = await Deno.makeTempDir(); // a scratch folder
 * await verifyManifest("data/manifest.json", ["embedded/model/model.safetensors"]);
 * const { tensors } = await readSafetensors("data/embedded/model/model.safetensors");
 * await saveCheckpoint(`${dir}/run`, { step: 0, tensors: Object.fromEntries(tensors), state: {} });
 * ```
 *
 * @module
 */

export * from "./safetensors.ts";
export * from "./half.ts";
export * from "./strict_json.ts";
export * from "./atomic.ts";
export * from "./manifest.ts";
export * from "./checkpoint.ts";
export * from "./weights_files.ts";
export * from "./json_lines.ts";
