/**
 * The `NAME.data.json` format: the numbers behind a figure, written at full
 * precision (shortest round-trip decimal of every double), pretty-printed with
 * arrays of plain values kept on one line.
 *
 * Non-finite numbers have no JSON form. By default they are rejected with an
 * error naming the path (`data.curves[2].y[17] is NaN`); with
 * `allowNonFinite` they are written as the strings `"NaN"`, `"Infinity"` and
 * `"-Infinity"`, which {@link parseFigureData} turns back into numbers.
 *
 * @example
 * ```ts
 * import { encodeFigureData, parseFigureData } from "./data_json.ts";
 * const text = encodeFigureData({ x: [1, 2], y: new Float32Array([0.5, 0.25]) });
 * parseFigureData(text); // { x: [1, 2], y: [0.5, 0.25] }
 * ```
 *
 * @module
 */

/** Options of {@link encodeFigureData}. */
export interface EncodeOptions {
  /** Write NaN/±Infinity as strings instead of throwing (default false). */
  allowNonFinite?: boolean;
}

/** A value as written to the data file. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const NON_FINITE: Record<string, number> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

/**
 * Converts `data` to plain JSON values (typed arrays → arrays, safe bigints →
 * numbers), checking every number.
 *
 * @throws {Error} naming the path of a non-finite number (unless allowed), a
 *   tensor, a function, a symbol, a Map/Set, an unsafe bigint or a cycle
 */
export function toJsonValue(data: unknown, opts: EncodeOptions = {}, path = "data"): JsonValue {
  return convert(data, opts, path, new Set());
}

function convert(v: unknown, opts: EncodeOptions, path: string, seen: Set<object>): JsonValue {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case "number":
      if (Number.isFinite(v)) return v;
      if (opts.allowNonFinite) return String(v);
      throw new Error(
        `figure data: ${path} is ${v}; JSON cannot hold it. Remove it, or pass { allowNonFinite: true } ` +
          `to save it as the string "${v}"`,
      );
    case "string":
    case "boolean":
      return v;
    case "bigint":
      if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
      throw new Error(`figure data: ${path} is the bigint ${v}, beyond 2^53; store it as a string`);
    case "function":
    case "symbol":
      throw new Error(`figure data: ${path} is a ${typeof v}; only numbers, strings, booleans, arrays and objects`);
  }
  const obj = v as object;
  if (ArrayBuffer.isView(obj) && !(obj instanceof DataView)) {
    const arr = obj as unknown as ArrayLike<number | bigint>;
    const out: JsonValue[] = new Array(arr.length);
    for (let i = 0; i < arr.length; i++) out[i] = convert(arr[i], opts, `${path}[${i}]`, seen);
    return out;
  }
  if (obj instanceof Date) return obj.toISOString();
  if (obj instanceof Map || obj instanceof Set) {
    throw new Error(`figure data: ${path} is a ${obj.constructor.name}; convert it to an object or array first`);
  }
  if (typeof (obj as { dataSync?: unknown }).dataSync === "function") {
    throw new Error(`figure data: ${path} is a tensor; call .arraySync() (and dispose it) before saving`);
  }
  if (seen.has(obj)) throw new Error(`figure data: ${path} refers back to itself (a cycle)`);
  seen.add(obj);
  let out: JsonValue;
  if (Array.isArray(obj)) {
    out = obj.map((x, i) => convert(x, opts, `${path}[${i}]`, seen));
  } else {
    const rec: { [key: string]: JsonValue } = {};
    for (const [k, x] of Object.entries(obj)) {
      if (x === undefined) continue;
      rec[k] = convert(x, opts, /^[A-Za-z_$][\w$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`, seen);
    }
    out = rec;
  }
  seen.delete(obj);
  return out;
}

/**
 * Encodes figure data as pretty JSON text (ends with a newline).
 *
 * @throws {Error} see {@link toJsonValue}
 */
export function encodeFigureData(data: unknown, opts: EncodeOptions = {}): string {
  return `${pretty(toJsonValue(data, opts), "")}\n`;
}

function isScalar(v: JsonValue): boolean {
  return v === null || typeof v !== "object";
}

function pretty(v: JsonValue, indent: string): string {
  if (isScalar(v)) return JSON.stringify(v);
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    if (v.length === 0) return "[]";
    if (v.every(isScalar)) return `[${v.map((x) => JSON.stringify(x)).join(", ")}]`;
    return `[\n${v.map((x) => inner + pretty(x, inner)).join(",\n")}\n${indent}]`;
  }
  const entries = Object.entries(v as { [key: string]: JsonValue });
  if (entries.length === 0) return "{}";
  return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${pretty(x, inner)}`).join(",\n")}\n${indent}}`;
}

/**
 * Parses a data file's text; the strings "NaN", "Infinity" and "-Infinity"
 * become numbers again.
 *
 * @example
 * ```ts
 * import { parseFigureData } from "./data_json.ts";
 * parseFigureData('{"loss": ["NaN", 1.5]}'); // { loss: [NaN, 1.5] }
 * ```
 */
export function parseFigureData<T = unknown>(text: string): T {
  return JSON.parse(text, (_k, v) => (typeof v === "string" && v in NON_FINITE ? NON_FINITE[v] : v)) as T;
}

/**
 * Reads `NAME.data.json` from a path.
 *
 * @throws {Error} naming the file when it is missing or not valid JSON
 */
export async function readFigureData<T = unknown>(path: string): Promise<T> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`cannot read figure data ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    return parseFigureData<T>(text);
  } catch (e) {
    throw new Error(`figure data ${path} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}
