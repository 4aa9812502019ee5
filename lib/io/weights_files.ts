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
import { parseJsonStrict } from "./strict_json.ts";

/**
 * Parses a JSON file with the project's strict reader (`strict_json.ts`:
 * duplicate keys are errors), into plain values.
 *
 * @throws {Error} `PATH: file not found` or `PATH: invalid JSON (… at character N)`
 */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new Error(`${path}: file not found`);
    throw err;
  }
  return parseJsonStrict(text, path);
}

/**
 * Throws unless every value of a tensor is finite; the message names the file,
 * the tensor, the first bad element's index (flat and per axis) and its value.
 *
 * @example
 * ```ts
 * import { assertFiniteTensor } from "./weights_files.ts";
 * assertFiniteTensor(new Float32Array([1, 2]), [2], "w.safetensors", "b_enc"); // ok
 * // assertFiniteTensor(new Float32Array([1, NaN]), [2], "w.safetensors", "b_enc");
 * // throws 'w.safetensors: tensor "b_enc" [2] has a non-finite value NaN at element 1 ([1]); …'
 * ```
 */
export function assertFiniteTensor(
  data: ArrayLike<number>,
  shape: readonly number[],
  file: string,
  tensor: string,
): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (v - v === 0) continue; // false exactly for NaN and ±Infinity
    const index: number[] = [];
    let rest = i;
    for (let a = shape.length - 1; a >= 0; a--) {
      const n = shape[a] as number;
      index.unshift(rest % n);
      rest = Math.floor(rest / n);
    }
    throw new Error(
      `${file}: tensor "${tensor}" [${shape}] has a non-finite value ${v} at element ${i} ([${index}]); ` +
        `the weights are corrupt or were saved after a diverged run`,
    );
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
