/**
 * File helpers shared by the checkpoint loaders (Hugging Face GPT-2,
 * SAELens SAEs): JSON and safetensors files read with errors that name the
 * file, and the tensor-shape comparison their checks use.
 *
 * @example
 * ```ts
 * import { readJsonFile, readWeightsFile, sameShape } from "./weights_files.ts";
 * // const cfg = await readJsonFile("model/config.json");
 * // const { tensors } = await readWeightsFile("model/model.safetensors");
 * sameShape([2, 3], [2, 3]); // true
 * ```
 *
 * @module
 */

import { readSafetensors, type SafetensorsFile } from "./safetensors.ts";

/**
 * Parses a JSON file.
 *
 * @throws {Error} `PATH: file not found` or `PATH: invalid JSON (…)`
 */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new Error(`${path}: file not found`);
    throw err;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: invalid JSON (${err instanceof Error ? err.message : err})`);
  }
}

/** Whether `path` exists (any kind of entry). */
export async function fileExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads a safetensors file.
 *
 * @throws {Error} `PATH: file not found`, or the reader's error naming the file
 */
export async function readWeightsFile(path: string): Promise<SafetensorsFile> {
  if (!(await fileExists(path))) throw new Error(`${path}: file not found`);
  return await readSafetensors(path);
}

/** Whether two shapes are equal, dimension by dimension. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
