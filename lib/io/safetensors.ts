/**
 * Reading and writing the safetensors format.
 *
 * Layout: an 8-byte little-endian u64 `N`, then `N` bytes of UTF-8 JSON
 * (`{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}`),
 * then the data buffer holding each tensor's little-endian, C-order bytes at
 * `[begin, end)` relative to the buffer start.
 *
 * The reader is strict in the way the reference implementation is: the header
 * must start with `{`, be at most 100 MB, and the tensors must tile the data
 * buffer exactly (no holes, no overlap, no trailing bytes). It also rejects
 * duplicate keys, which `JSON.parse` would silently collapse. Every problem
 * throws {@link SafetensorsError} naming the file and the problem; no tensor is
 * ever returned from an invalid file.
 *
 * The writer orders tensors as the reference implementation does (dtype rank
 * descending, which never increases the element size, then name), writes
 * `__metadata__` first with sorted keys, and pads the header with spaces to a
 * multiple of 8 bytes, so every tensor starts at an offset aligned for its
 * element type and the output is deterministic.
 *
 * @module
 */

import { writeFileAtomic } from "./atomic.ts";
import {
  bf16ToFloat32,
  f8e4m3ToFloat32,
  f8e5m2ToFloat32,
  float32ToBf16,
  float32ToHalf,
  halfToFloat32,
} from "./half.ts";
import { parseStrictJson, type StrictJson, StrictJsonError, StrictJsonNumber } from "./strict_json.ts";

/**
 * The safetensors dtype names this module reads and writes.
 *
 * @example
 * ```ts
 * import { type Dtype, dtypeSize } from "./safetensors.ts";
 * const d: Dtype = "BF16";
 * dtypeSize(d); // 2
 * ```
 */
export type Dtype =
  | "BOOL"
  | "U8"
  | "I8"
  | "F8_E5M2"
  | "F8_E4M3"
  | "I16"
  | "U16"
  | "F16"
  | "BF16"
  | "I32"
  | "U32"
  | "F32"
  | "F64"
  | "I64"
  | "U64";

/**
 * Any typed array a tensor's data can be held in.
 *
 * @example
 * ```ts
 * import type { TensorData } from "./safetensors.ts";
 * const data: TensorData = new Float32Array([1, 2, 3]);
 * ```
 */
export type TensorData =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

type ArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData;
  new (length: number): TensorData;
  readonly BYTES_PER_ELEMENT: number;
};

interface DtypeInfo {
  /** Bytes per element. */
  size: number;
  /** The typed array that holds the raw elements. */
  array: ArrayCtor;
}

const DTYPES: Record<Dtype, DtypeInfo> = {
  BOOL: { size: 1, array: Uint8Array },
  U8: { size: 1, array: Uint8Array },
  I8: { size: 1, array: Int8Array },
  F8_E5M2: { size: 1, array: Uint8Array },
  F8_E4M3: { size: 1, array: Uint8Array },
  I16: { size: 2, array: Int16Array },
  U16: { size: 2, array: Uint16Array },
  F16: { size: 2, array: Uint16Array },
  BF16: { size: 2, array: Uint16Array },
  I32: { size: 4, array: Int32Array },
  U32: { size: 4, array: Uint32Array },
  F32: { size: 4, array: Float32Array },
  F64: { size: 8, array: Float64Array },
  I64: { size: 8, array: BigInt64Array },
  U64: { size: 8, array: BigUint64Array },
};

/**
 * Every supported dtype name, in the order of {@link Dtype}.
 *
 * @example
 * ```ts
 * import { DTYPE_NAMES } from "./safetensors.ts";
 * DTYPE_NAMES.includes("F16"); // true
 * ```
 */
export const DTYPE_NAMES: readonly Dtype[] = Object.keys(DTYPES) as Dtype[];

/**
 * Largest header the reader accepts (the reference implementation's limit).
 *
 * @example
 * ```ts
 * import { MAX_HEADER_BYTES } from "./safetensors.ts";
 * console.log(`headers up to ${MAX_HEADER_BYTES / 1e6} MB`);
 * ```
 */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = "__metadata__";
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A tensor as read from or written to a safetensors file.
 *
 * @example
 * ```ts
 * import { readSafetensors, type SafeTensor } from "./safetensors.ts";
 * const { tensors } = await readSafetensors("data/embedded/saes/blocks.0.hook_resid_pre/sae_weights.safetensors");
 * const w: SafeTensor | undefined = tensors.get("W_dec"); // { dtype: "F32", shape: [d_sae, d_in], data }
 * ```
 */
export interface SafeTensor {
  /** Element type as named in the file. */
  dtype: Dtype;
  /** Dimensions, outermost first (C order); `[]` is a scalar. */
  shape: number[];
  /**
   * The raw elements. F16 and BF16 are raw bit patterns in a `Uint16Array`,
   * F8 formats and BOOL raw bytes in a `Uint8Array`; use {@link toFloat32}.
   */
  data: TensorData;
}

/**
 * What a tensor passed to the writer looks like (dtype inferred when unambiguous).
 *
 * @example
 * ```ts
 * import { serializeSafetensors, type TensorInput } from "./safetensors.ts";
 * const t: TensorInput = { dtype: "F16", shape: [2], data: new Uint16Array([0x3c00, 0x4000]) };
 * serializeSafetensors({ t });
 * ```
 */
export interface TensorInput {
  /** Element type; may be left out for Float32/Float64/Int8/Int16/Int32/Uint32/BigInt64/BigUint64 arrays. */
  dtype?: Dtype;
  /** Dimensions; the product must equal `data.length`. */
  shape: readonly number[];
  /** Elements in C order. */
  data: TensorData;
}

/**
 * The result of parsing a safetensors file.
 *
 * @example
 * ```ts
 * import { parseSafetensors, type SafetensorsFile } from "./safetensors.ts";
 * const path = "data/embedded/saes/blocks.0.hook_resid_pre/sae_weights.safetensors";
 * const file: SafetensorsFile = parseSafetensors(await Deno.readFile(path), path);
 * console.log([...file.tensors.keys()], file.metadata);
 * ```
 */
export interface SafetensorsFile {
  /** Tensors by name, in header order. */
  tensors: Map<string, SafeTensor>;
  /** The `__metadata__` map, or `null` when the file has none. */
  metadata: Record<string, string> | null;
}

/**
 * The error every invalid safetensors input throws; the message starts with
 * the file (or source label) and names the problem.
 *
 * @example
 * ```ts
 * import { parseSafetensors, SafetensorsError } from "./safetensors.ts";
 * try {
 *   parseSafetensors(new Uint8Array(3), "tiny.safetensors");
 * } catch (e) {
 *   if (!(e instanceof SafetensorsError)) throw e;
 *   console.log(e.message); // "tiny.safetensors: file is 3 bytes, shorter than the 8-byte header length"
 * }
 * ```
 */
export class SafetensorsError extends Error {
  /** The file or source label the problem was found in. */
  readonly source: string;
  /** The problem alone, without the source prefix. */
  readonly problem: string;
  constructor(source: string, problem: string) {
    super(`${source}: ${problem}`);
    this.name = "SafetensorsError";
    this.source = source;
    this.problem = problem;
  }
}

/**
 * Bytes per element of a dtype.
 *
 * @example
 * ```ts
 * import { dtypeSize } from "./safetensors.ts";
 * dtypeSize("BF16"); // 2
 * ```
 */
export function dtypeSize(dtype: Dtype): number {
  return DTYPES[dtype].size;
}

/**
 * True when `name` is a dtype this module supports.
 *
 * @example
 * ```ts
 * import { isDtype } from "./safetensors.ts";
 * isDtype("F32"); // true
 * isDtype("float32"); // false
 * ```
 */
export function isDtype(name: string): name is Dtype {
  return Object.hasOwn(DTYPES, name);
}

function describe(v: StrictJson): string {
  if (v instanceof StrictJsonNumber) return v.text;
  if (v instanceof Map) return "an object";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  return String(v);
}

function showName(name: string): string {
  return JSON.stringify(name.length > 80 ? name.slice(0, 80) + "…" : name);
}

interface Entry {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

function readNonNegativeInt(v: StrictJson | undefined, what: string, fail: (p: string) => never): number {
  if (!(v instanceof StrictJsonNumber)) {
    fail(`${what} must be a non-negative integer, got ${v === undefined ? "nothing" : describe(v)}`);
  }
  if (!/^(0|[1-9][0-9]*)$/.test(v.text)) fail(`${what} must be a non-negative integer, got ${v.text}`);
  if (!Number.isSafeInteger(v.value)) fail(`${what} is ${v.text}, beyond 2^53 − 1`);
  return v.value;
}

function readEntry(name: string, value: StrictJson, fail: (p: string) => never): Entry {
  const t = `tensor ${showName(name)}`;
  if (!(value instanceof Map)) fail(`${t}: entry must be an object, got ${describe(value)}`);
  const dtypeV = value.get("dtype");
  const shapeV = value.get("shape");
  const offsetsV = value.get("data_offsets");
  if (dtypeV === undefined) fail(`${t}: entry has no "dtype"`);
  if (shapeV === undefined) fail(`${t}: entry has no "shape"`);
  if (offsetsV === undefined) fail(`${t}: entry has no "data_offsets"`);
  if (typeof dtypeV !== "string") fail(`${t}: "dtype" must be a string, got ${describe(dtypeV)}`);
  if (!isDtype(dtypeV)) fail(`${t}: unknown dtype ${showName(dtypeV)} (supported: ${DTYPE_NAMES.join(", ")})`);
  if (!Array.isArray(shapeV)) fail(`${t}: "shape" must be an array, got ${describe(shapeV)}`);
  const shape = shapeV.map((d, i) => readNonNegativeInt(d, `${t}: shape[${i}]`, fail));
  if (!Array.isArray(offsetsV) || offsetsV.length !== 2) {
    fail(`${t}: "data_offsets" must be an array [begin, end], got ${describe(offsetsV)}`);
  }
  const begin = readNonNegativeInt(offsetsV[0], `${t}: data_offsets[0]`, fail);
  const end = readNonNegativeInt(offsetsV[1], `${t}: data_offsets[1]`, fail);
  if (end < begin) fail(`${t}: data_offsets [${begin}, ${end}] are reversed (end before begin)`);
  // element count × element size, in BigInt so huge shapes cannot overflow silently
  let bytes = BigInt(DTYPES[dtypeV].size);
  for (const d of shape) bytes *= BigInt(d);
  if (bytes !== BigInt(end - begin)) {
    fail(
      `${t}: shape [${shape.join(", ")}] of ${dtypeV} needs ${bytes} bytes but data_offsets [${begin}, ${end}] ` +
        `span ${end - begin}`,
    );
  }
  return { name, dtype: dtypeV, shape, begin, end };
}

function readMetadata(value: StrictJson, fail: (p: string) => never): Record<string, string> | null {
  if (value === null) return null;
  if (!(value instanceof Map)) fail(`"${METADATA_KEY}" must be an object of strings, got ${describe(value)}`);
  const out: [string, string][] = [];
  for (const [k, v] of value) {
    if (typeof v !== "string") {
      fail(`"${METADATA_KEY}" value for key ${showName(k)} must be a string, got ${describe(v)}`);
    }
    out.push([k, v]);
  }
  return Object.fromEntries(out);
}

function viewOrCopy(bytes: Uint8Array, absOffset: number, byteLength: number, dtype: Dtype): TensorData {
  const { array, size } = DTYPES[dtype];
  const n = byteLength / size;
  const start = bytes.byteOffset + absOffset;
  if (LITTLE_ENDIAN && start % size === 0) return new array(bytes.buffer, start, n);
  const out = new array(n);
  const dst = new Uint8Array(out.buffer);
  dst.set(bytes.subarray(absOffset, absOffset + byteLength));
  if (!LITTLE_ENDIAN && size > 1) swapBytes(dst, size);
  return out;
}

function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}

/**
 * Parses safetensors bytes. Tensor data are zero-copy views into `bytes` when
 * their offset is aligned for the element type (always true for files written
 * by {@link serializeSafetensors} or the reference implementation), otherwise
 * copies; so mutating `bytes` afterwards may change the returned tensors.
 *
 * @param bytes the whole file
 * @param source a label for error messages, usually the file path
 * @throws {SafetensorsError} on any malformed input
 *
 * @example
 * ```ts
 * import { parseSafetensors, serializeSafetensors } from "./safetensors.ts";
 * const bytes = serializeSafetensors({ w: { shape: [2], data: new Float32Array([1, 2]) } }, { step: "3" });
 * const { tensors, metadata } = parseSafetensors(bytes, "memory");
 * tensors.get("w")?.data; // Float32Array [1, 2]
 * metadata?.step; // "3"
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, source: string): SafetensorsFile {
  const fail: (problem: string) => never = (problem) => {
    throw new SafetensorsError(source, problem);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n64} is larger than the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(n64);
  if (8 + n > bytes.length) fail(`header length ${n} runs past the end of the ${bytes.length}-byte file`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return fail("header is not valid UTF-8");
  }
  if (!text.startsWith("{")) fail(`header must start with "{", got ${JSON.stringify(text.slice(0, 20))}`);
  let root: StrictJson;
  try {
    root = parseStrictJson(text);
  } catch (e) {
    if (e instanceof StrictJsonError) return fail(`bad header JSON: ${e.message}`);
    throw e;
  }
  if (!(root instanceof Map)) return fail(`header must be a JSON object, got ${describe(root)}`);

  let metadata: Record<string, string> | null = null;
  const entries: Entry[] = [];
  for (const [name, value] of root) {
    if (name === METADATA_KEY) metadata = readMetadata(value, fail);
    else entries.push(readEntry(name, value, fail));
  }

  // the tensors must tile the data buffer exactly: sorted by offsets, each begins where the previous ended
  const bufferLength = bytes.length - 8 - n;
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: Entry | null = null;
  for (const e of sorted) {
    if (e.end > bufferLength) {
      fail(`tensor ${showName(e.name)} data_offsets end ${e.end} is past the ${bufferLength}-byte data buffer`);
    }
    if (e.begin < cursor && previous) {
      fail(
        `tensor ${showName(e.name)} [${e.begin}, ${e.end}) overlaps tensor ${showName(previous.name)} ` +
          `[${previous.begin}, ${previous.end})`,
      );
    }
    if (e.begin > cursor) {
      fail(`data bytes [${cursor}, ${e.begin}) belong to no tensor (a hole before ${showName(e.name)})`);
    }
    cursor = e.end;
    previous = e;
  }
  if (cursor !== bufferLength) {
    fail(
      `data buffer is ${bufferLength} bytes but the tensors cover only ${cursor} (${
        bufferLength - cursor
      } trailing bytes)`,
    );
  }

  const tensors = new Map<string, SafeTensor>();
  for (const e of entries) {
    tensors.set(e.name, {
      dtype: e.dtype,
      shape: e.shape,
      data: viewOrCopy(bytes, 8 + n + e.begin, e.end - e.begin, e.dtype),
    });
  }
  return { tensors, metadata };
}

/**
 * Reads and parses a safetensors file.
 *
 * @throws {SafetensorsError} on malformed content (file-system errors pass through)
 *
 * @example
 * ```ts
 * import { readSafetensors } from "./safetensors.ts";
 * const { tensors } = await readSafetensors("data/embedded/saes/blocks.0.hook_resid_pre/sae_weights.safetensors");
 * console.log(tensors.get("W_enc")?.shape); // [d_in, d_sae]
 * ```
 */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  return parseSafetensors(await readFileBytes(path), path);
}

/**
 * Reads a whole file into one exactly-sized buffer (2–3× faster than
 * `Deno.readFile` for files of hundreds of MB, which grows its buffer as it
 * goes). A file that changes size while being read is read up to its new end.
 *
 * @example
 * ```ts
 * import { readFileBytes } from "./safetensors.ts";
 * const bytes = await readFileBytes("data/embedded/model/model.safetensors");
 * ```
 */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  const file = await Deno.open(path, { read: true });
  try {
    let buf = new Uint8Array((await file.stat()).size);
    let filled = 0;
    for (;;) {
      if (filled === buf.length) {
        // the file grew (or stat reported 0 for a special file): probe for more
        const probe = new Uint8Array(Math.max(65536, buf.length));
        const n = await file.read(probe);
        if (n === null) return buf;
        const grown = new Uint8Array(filled + Math.max(n, buf.length));
        grown.set(buf);
        grown.set(probe.subarray(0, n), filled);
        buf = grown;
        filled += n;
        continue;
      }
      const n = await file.read(buf.subarray(filled));
      if (n === null) return buf.subarray(0, filled);
      filled += n;
    }
  } finally {
    file.close();
  }
}

const DTYPE_RANK = Object.fromEntries(DTYPE_NAMES.map((d, i) => [d, i])) as Record<Dtype, number>;

/** Orders strings by Unicode code point (the same order as their UTF-8 bytes). */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

function arrayMatches(dtype: Dtype, data: TensorData): boolean {
  const { array } = DTYPES[dtype];
  return data instanceof array;
}

function inferDtype(data: TensorData): Dtype | null {
  if (data instanceof Float32Array) return "F32";
  if (data instanceof Float64Array) return "F64";
  if (data instanceof Int32Array) return "I32";
  if (data instanceof Uint32Array) return "U32";
  if (data instanceof Int16Array) return "I16";
  if (data instanceof Int8Array) return "I8";
  if (data instanceof BigInt64Array) return "I64";
  if (data instanceof BigUint64Array) return "U64";
  return null; // Uint8Array (U8/BOOL/F8) and Uint16Array (U16/F16/BF16) are ambiguous
}

interface Encoded {
  header: Uint8Array;
  chunks: Uint8Array[];
  totalBytes: number;
}

function encode(
  tensors: Record<string, TensorInput> | Map<string, TensorInput>,
  metadata: Record<string, string> | null | undefined,
  source: string,
): Encoded {
  const fail: (problem: string) => never = (problem) => {
    throw new SafetensorsError(source, problem);
  };
  const items = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const prepared = items.map(([name, t]) => {
    if (name === METADATA_KEY) fail(`a tensor cannot be named "${METADATA_KEY}"`);
    if (!name.isWellFormed()) fail(`tensor name ${showName(name)} has a lone surrogate (not valid Unicode)`);
    const dtype = t.dtype ?? inferDtype(t.data);
    if (dtype === null) {
      fail(`tensor ${showName(name)}: dtype is ambiguous for a ${t.data.constructor.name}; pass dtype explicitly`);
    }
    if (!isDtype(dtype)) fail(`tensor ${showName(name)}: unknown dtype ${showName(String(dtype))}`);
    if (!arrayMatches(dtype, t.data)) {
      fail(
        `tensor ${showName(name)}: dtype ${dtype} needs a ${
          DTYPES[dtype].array.name
        }, got a ${t.data.constructor.name}`,
      );
    }
    let count = 1;
    t.shape.forEach((d, i) => {
      if (!Number.isSafeInteger(d) || d < 0) {
        fail(`tensor ${showName(name)}: shape[${i}] must be a non-negative integer, got ${d}`);
      }
      count *= d;
    });
    if (count !== t.data.length) {
      fail(
        `tensor ${showName(name)}: shape [${t.shape.join(", ")}] has ${count} elements but data has ${t.data.length}`,
      );
    }
    return { name, dtype, shape: [...t.shape], data: t.data };
  });
  // the reference implementation's order: dtype rank descending (so element sizes never grow and every
  // tensor stays aligned), then name in code-point order
  prepared.sort((a, b) => DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] || compareCodePoints(a.name, b.name));

  const parts: string[] = [];
  if (metadata !== null && metadata !== undefined) {
    const meta: string[] = [];
    for (const [k, v] of Object.entries(metadata).sort((a, b) => compareCodePoints(a[0], b[0]))) {
      if (typeof v !== "string") fail(`metadata value for key ${showName(k)} must be a string, got ${typeof v}`);
      if (!k.isWellFormed() || !v.isWellFormed()) fail(`metadata entry ${showName(k)} has a lone surrogate`);
      meta.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`"${METADATA_KEY}":{${meta.join(",")}}`);
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const t of prepared) {
    const byteLength = t.data.byteLength;
    parts.push(
      `${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(",")}],"data_offsets":[${offset},${
        offset + byteLength
      }]}`,
    );
    let raw = new Uint8Array(t.data.buffer, t.data.byteOffset, byteLength);
    if (!LITTLE_ENDIAN && DTYPES[t.dtype].size > 1) {
      raw = raw.slice();
      swapBytes(raw, DTYPES[t.dtype].size);
    }
    chunks.push(raw);
    offset += byteLength;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(json, 8);
  return { header, chunks, totalBytes: header.length + offset };
}

/**
 * Serialises tensors (and optional string metadata) to safetensors bytes.
 * Deterministic: the same tensors and metadata give the same bytes whatever
 * the insertion order of the tensors.
 *
 * @throws {SafetensorsError} when a tensor's shape, data or dtype disagree
 *
 * @example
 * ```ts
 * import { serializeSafetensors } from "./safetensors.ts";
 * const bytes = serializeSafetensors({
 *   W_dec: { shape: [2, 3], data: new Float32Array(6) },
 *   tokens: { dtype: "I64", shape: [2], data: new BigInt64Array([50256n, 11n]) },
 * }, { format: "pt" });
 * ```
 */
export function serializeSafetensors(
  tensors: Record<string, TensorInput> | Map<string, TensorInput>,
  metadata?: Record<string, string> | null,
): Uint8Array {
  const { header, chunks, totalBytes } = encode(tensors, metadata, "serializeSafetensors");
  const out = new Uint8Array(totalBytes);
  out.set(header, 0);
  let at = header.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Serialises tensors as a list of byte chunks (the padded header, then each
 * tensor's bytes as views of its data, in file order) without copying the
 * tensor data; concatenated they are exactly {@link serializeSafetensors}'s
 * output. Use it to hash or write large files with flat memory.
 *
 * @example
 * ```ts
 * import { serializeSafetensorsChunks } from "./safetensors.ts";
 * import { writeFileAtomic } from "./atomic.ts";
 * const dir = await Deno.makeTempDir(); // a scratch folder
 * const chunks = serializeSafetensorsChunks({ w: { shape: [2], data: new Float32Array([1, 2]) } });
 * await writeFileAtomic(`${dir}/w.safetensors`, chunks);
 * ```
 */
export function serializeSafetensorsChunks(
  tensors: Record<string, TensorInput> | Map<string, TensorInput>,
  metadata?: Record<string, string> | null,
): Uint8Array[] {
  const { header, chunks } = encode(tensors, metadata, "serializeSafetensorsChunks");
  return [header, ...chunks];
}

/**
 * Writes tensors to a safetensors file atomically (temp file, fsync, rename),
 * creating parent folders; the tensor data are written without an extra copy.
 *
 * @example
 * ```ts
 * import { writeSafetensors } from "./safetensors.ts";
 * const dir = await Deno.makeTempDir(); // a scratch folder
 * await writeSafetensors(`${dir}/sparsity.safetensors`, { sparsity: { shape: [4], data: new Float32Array(4) } });
 * ```
 */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, TensorInput> | Map<string, TensorInput>,
  metadata?: Record<string, string> | null,
): Promise<void> {
  const { header, chunks } = encode(tensors, metadata, path);
  await writeFileAtomic(path, [header, ...chunks]);
}

// ---------------------------------------------------------------- conversions

/**
 * Converts any numeric tensor to a Float32Array: F16, BF16 and F8 are decoded
 * exactly (bit patterns, NaN payloads kept for F16/BF16); F64 and integers are
 * rounded to the nearest float32 (integers beyond 2^24 lose precision). F32
 * data are returned as they are (no copy).
 *
 * @example
 * ```ts
 * import { toFloat32 } from "./safetensors.ts";
 * toFloat32({ dtype: "BF16", shape: [1], data: new Uint16Array([0x3f80]) }); // Float32Array [1]
 * toFloat32({ dtype: "F16", shape: [1], data: new Uint16Array([0x3c00]) }); // Float32Array [1]
 * ```
 */
export function toFloat32(tensor: SafeTensor): Float32Array {
  const { dtype, data } = tensor;
  if (!arrayMatches(dtype, data)) {
    throw new TypeError(
      `toFloat32: dtype ${dtype} needs a ${DTYPES[dtype].array.name}, got a ${data.constructor.name}`,
    );
  }
  const n = data.length;
  switch (dtype) {
    case "F32":
      return data as Float32Array;
    case "F16":
      return halfToFloat32(data as Uint16Array);
    case "BF16":
      return bf16ToFloat32(data as Uint16Array);
    case "F8_E5M2":
      return f8e5m2ToFloat32(data as Uint8Array);
    case "F8_E4M3":
      return f8e4m3ToFloat32(data as Uint8Array);
    case "I64":
    case "U64": {
      const src = data as BigInt64Array | BigUint64Array;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(src[i] as bigint);
      return out;
    }
    default:
      return Float32Array.from(data as ArrayLike<number>);
  }
}

/**
 * Encodes float32 values as F16 or BF16 bit patterns (round to nearest even,
 * overflow to ±inf, NaN kept as a quiet NaN), or copies them for F32/F64.
 *
 * @example
 * ```ts
 * import { fromFloat32, toFloat32 } from "./safetensors.ts";
 * const bits = fromFloat32(new Float32Array([1, 0.1]), "BF16"); // Uint16Array
 * toFloat32({ dtype: "BF16", shape: [2], data: bits }); // [1, 0.10009765625]
 * ```
 */
export function fromFloat32(values: Float32Array, dtype: "F16" | "BF16"): Uint16Array;
export function fromFloat32(values: Float32Array, dtype: "F32"): Float32Array;
export function fromFloat32(values: Float32Array, dtype: "F64"): Float64Array;
export function fromFloat32(values: Float32Array, dtype: "F16" | "BF16" | "F32" | "F64"): TensorData;
export function fromFloat32(values: Float32Array, dtype: "F16" | "BF16" | "F32" | "F64"): TensorData {
  if (dtype === "F32") return Float32Array.from(values);
  if (dtype === "F64") return Float64Array.from(values);
  return dtype === "BF16" ? float32ToBf16(values) : float32ToHalf(values);
}

/**
 * Converts I64/U64 data to plain numbers, throwing if any value is outside the
 * exactly representable range ±(2^53 − 1).
 *
 * @param what a label for the error message (tensor name or file)
 *
 * @example
 * ```ts
 * import { bigIntsToNumbers } from "./safetensors.ts";
 * bigIntsToNumbers(new BigInt64Array([1n, -2n]), "tokens"); // Float64Array [1, -2]
 * ```
 */
export function bigIntsToNumbers(data: BigInt64Array | BigUint64Array, what = "tensor"): Float64Array {
  const out = new Float64Array(data.length);
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as bigint;
    if (v > max || v < -max) {
      throw new RangeError(`${what}: element ${i} is ${v}, outside the exactly representable range ±(2^53 − 1)`);
    }
    out[i] = Number(v);
  }
  return out;
}
