/**
 * JSON-lines files: one JSON value per line, blank lines skipped.
 *
 * @module
 */

/**
 * The parsed lines of a JSON-lines file (blank lines skipped); throws naming
 * the file and the line (counted among the non-blank lines) that is not JSON.
 * The values are not validated: callers check the fields they read.
 *
 * @example
 * ```ts
 * import { readJsonLines } from "./json_lines.ts";
 * const dir = await Deno.makeTempDir(); // a scratch folder
 * await Deno.writeTextFile(`${dir}/p.jsonl`, '{"step": 1}\n\n{"step": 2}\n');
 * (await readJsonLines<{ step: number }>(`${dir}/p.jsonl`)).map((q) => q.step); // [1, 2]
 * ```
 */
export async function readJsonLines<T>(path: string): Promise<Partial<T>[]> {
  const lines = (await Deno.readTextFile(path)).split("\n").filter((l) => l.trim() !== "");
  return lines.map((line, i) => {
    try {
      return JSON.parse(line) as Partial<T>;
    } catch (e) {
      throw new Error(`${path}: line ${i + 1}: not JSON (${(e as Error).message})`);
    }
  });
}
