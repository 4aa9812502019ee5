/**
 * GPT-2 byte-level BPE (the `r50k_base` encoding of `gpt-tokenizer`, identical
 * to Hugging Face's `gpt2` tokenizer) and the two ways study B turns documents
 * into fixed-length rows.
 *
 * - {@link toTokens}: TransformerLens `to_tokens`: BOS (`<|endoftext|>`, 50256)
 *   prepended, optional truncation to the model's context.
 * - {@link packRowsSaeLens}: the SAE training rows of the gpt2-small-res-jb
 *   SAEs (2024 SAELens `ActivationsStore.get_batch_tokens`): each document is
 *   `to_tokens(doc, truncate=True)` (BOS + at most n_ctx − 1 text tokens),
 *   documents are concatenated into rows of exactly `contextSize` tokens, and
 *   the remainder of a document that overflows a row starts the next row with
 *   a new BOS. As in that code, when a document ends exactly at a row end, the
 *   next row begins with two BOS tokens (the continuation BOS, then the next
 *   document's own).
 * - {@link tokenizeAndConcatenate}: TransformerLens `tokenize_and_concatenate`:
 *   documents tokenised without BOS and joined with one EOS between them,
 *   cut into rows of `maxLength − 1` tokens (the remainder is dropped), BOS
 *   prepended to each row. TransformerLens drops the remainder once per
 *   `datasets.map` batch (1000 documents); this drops it once at the end.
 *
 * All outputs are `Int32Array`s of GPT-2 ids; a compact-vocabulary model maps
 * them with `TokenMap.encode`.
 *
 * @example
 * ```ts
 * import { packRowsSaeLens, toTokens } from "./tokenizer.ts";
 * toTokens("Hello world"); // Int32Array [50256, 15496, 995]
 * const rows = [...packRowsSaeLens(["Hello world", "Goodbye"], 4)]; // rows of 4 ids, each starting with 50256
 * ```
 *
 * @module
 */

import { decode, encode } from "gpt-tokenizer/encoding/r50k_base";

/** `<|endoftext|>`: GPT-2's BOS, EOS and document separator. */
export const BOS_TOKEN_ID = 50256;
/** Same token as {@link BOS_TOKEN_ID}. */
export const EOS_TOKEN_ID = 50256;
/** GPT-2's vocabulary size. */
export const GPT2_VOCAB_SIZE = 50257;
/** The special-token text. */
export const ENDOFTEXT = "<|endoftext|>";

const PLAIN = { allowedSpecial: new Set<string>(), disallowedSpecial: new Set<string>() };

/** Options of {@link encodeText}. */
export interface EncodeOptions {
  /**
   * `"special"` (default, as Hugging Face's tokenizer does): the text
   * `<|endoftext|>` becomes id 50256. `"plain"`: it is encoded as ordinary characters.
   */
  endoftext?: "special" | "plain";
}

/**
 * GPT-2 BPE ids of `text`, no BOS.
 *
 * @example
 * ```ts
 * import { encodeText } from "./tokenizer.ts";
 * encodeText("Hello, world!"); // Int32Array [15496, 11, 995, 0]
 * ```
 */
export function encodeText(text: string, opts: EncodeOptions = {}): Int32Array {
  if (typeof text !== "string") throw new TypeError(`encodeText: expected a string, got ${typeof text}`);
  if (opts.endoftext === "plain") return Int32Array.from(encode(text, PLAIN));
  // As Hugging Face's tokenizer: the special token splits the text, each piece is encoded on its own.
  const ids: number[] = [];
  text.split(ENDOFTEXT).forEach((piece, i) => {
    if (i > 0) ids.push(EOS_TOKEN_ID);
    if (piece.length > 0) { for (const t of encode(piece, PLAIN)) ids.push(t); }
  });
  return Int32Array.from(ids);
}

/**
 * Text of GPT-2 ids; throws naming the first id outside [0, 50257).
 *
 * @example
 * ```ts
 * import { decodeTokens } from "./tokenizer.ts";
 * decodeTokens([15496, 995]); // "Hello world"
 * ```
 */
export function decodeTokens(ids: ArrayLike<number>): string {
  const list: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    const t = ids[i] as number;
    if (!Number.isInteger(t) || t < 0 || t >= GPT2_VOCAB_SIZE) {
      throw new Error(`decodeTokens: id ${t} at index ${i} is not a GPT-2 id in [0, ${GPT2_VOCAB_SIZE})`);
    }
    list.push(t);
  }
  return decode(list);
}

/** Options of {@link toTokens}. */
export interface ToTokensOptions extends EncodeOptions {
  /** Prepend BOS (default true, as TransformerLens does for GPT-2). */
  prependBos?: boolean;
  /** Keep at most this many tokens, BOS included (TransformerLens `truncate=True` uses n_ctx). */
  maxLength?: number;
}

/**
 * TransformerLens `to_tokens` for one string.
 *
 * @example
 * ```ts
 * import { toTokens } from "./tokenizer.ts";
 * toTokens("Hello world"); // Int32Array [50256, 15496, 995]
 * toTokens("Hello world", { prependBos: false }); // Int32Array [15496, 995]
 * ```
 */
export function toTokens(text: string, opts: ToTokensOptions = {}): Int32Array {
  const body = encodeText(text, opts);
  const bos = opts.prependBos ?? true;
  const n = body.length + (bos ? 1 : 0);
  const max = opts.maxLength ?? n;
  if (!Number.isInteger(max) || max < 1) throw new Error(`toTokens: maxLength must be a positive integer, got ${max}`);
  const out = new Int32Array(Math.min(n, max));
  if (bos) out[0] = BOS_TOKEN_ID;
  out.set(body.subarray(0, out.length - (bos ? 1 : 0)), bos ? 1 : 0);
  return out;
}

/** A document: text, or GPT-2 ids without BOS. */
export type Document = string | Int32Array;

function docIds(doc: Document, where: string): Int32Array {
  if (typeof doc === "string") return encodeText(doc);
  if (doc instanceof Int32Array) return doc;
  throw new TypeError(`${where}: a document must be a string or an Int32Array of token ids`);
}

/** Options of {@link packRowsSaeLens}. */
export interface PackOptions {
  /** Per-document cap, BOS included (TransformerLens `to_tokens(truncate=True)`: n_ctx = 1024); null for none. */
  maxDocTokens?: number | null;
  /** The BOS id (50256; a compact-vocabulary caller may pack already-mapped ids). */
  bos?: number;
}

/**
 * Rows of exactly `contextSize` ids packed the way the gpt2-small-res-jb SAEs'
 * training data were (see the module documentation). Lazy: pulls documents as
 * rows are consumed; an unfinished last row is not emitted.
 *
 * @example
 * ```ts
 * import { packRowsSaeLens } from "./tokenizer.ts";
 * const rows = [...packRowsSaeLens([new Int32Array([1, 2, 3, 4, 5])], 4, { bos: 0 })];
 * // [[0, 1, 2, 3], …] — the rest [0, 4, 5] waits for more documents to fill a row
 * ```
 */
export function* packRowsSaeLens(
  docs: Iterable<Document>,
  contextSize: number,
  opts: PackOptions = {},
): Generator<Int32Array> {
  if (!Number.isInteger(contextSize) || contextSize < 2) {
    throw new Error(`packRowsSaeLens: contextSize must be an integer ≥ 2, got ${contextSize}`);
  }
  const bos = opts.bos ?? BOS_TOKEN_ID;
  const maxDoc = opts.maxDocTokens === undefined ? 1024 : opts.maxDocTokens;
  if (maxDoc !== null && (!Number.isInteger(maxDoc) || maxDoc < 1)) {
    throw new Error(`packRowsSaeLens: maxDocTokens must be a positive integer or null, got ${maxDoc}`);
  }
  let row = new Int32Array(contextSize);
  let filled = 0;
  for (const doc of docs) {
    const ids = docIds(doc, "packRowsSaeLens");
    const n = maxDoc === null ? ids.length + 1 : Math.min(ids.length + 1, maxDoc);
    // the document as to_tokens gives it: BOS then its first n − 1 ids
    let tokens = new Int32Array(n);
    tokens[0] = bos;
    tokens.set(ids.subarray(0, n - 1), 1);
    while (tokens.length > 0) {
      const space = contextSize - filled;
      if (tokens.length <= space) {
        row.set(tokens, filled);
        filled += tokens.length;
        break; // a row filled exactly here is emitted only when the next document arrives
      }
      row.set(tokens.subarray(0, space), filled);
      const rest = new Int32Array(tokens.length - space + 1);
      rest[0] = bos;
      rest.set(tokens.subarray(space), 1);
      tokens = rest;
      yield row;
      row = new Int32Array(contextSize);
      filled = 0;
    }
  }
  if (filled === contextSize) yield row;
}

/** Options of {@link tokenizeAndConcatenate}. */
export interface ConcatOptions {
  /** Prepend BOS to each row (default true). */
  addBosToken?: boolean;
  /** The BOS/EOS id (50256). */
  eos?: number;
}

/**
 * TransformerLens `tokenize_and_concatenate`: rows of `maxLength` ids (see the
 * module documentation). Lazy over the documents.
 *
 * @example
 * ```ts
 * import { tokenizeAndConcatenate } from "./tokenizer.ts";
 * const rows = [...tokenizeAndConcatenate([new Int32Array([1, 2]), new Int32Array([3, 4, 5])], 3, { eos: 0 })];
 * // [[0, 1, 2], [0, 0, 3]] — the leftover [4, 5] is dropped
 * ```
 */
export function* tokenizeAndConcatenate(
  docs: Iterable<Document>,
  maxLength = 1024,
  opts: ConcatOptions = {},
): Generator<Int32Array> {
  const addBos = opts.addBosToken ?? true;
  const eos = opts.eos ?? EOS_TOKEN_ID;
  const seqLen = addBos ? maxLength - 1 : maxLength;
  if (!Number.isInteger(maxLength) || seqLen < 1) {
    throw new Error(`tokenizeAndConcatenate: maxLength must be an integer ≥ ${addBos ? 2 : 1}, got ${maxLength}`);
  }
  const offset = addBos ? 1 : 0;
  const fresh = () => {
    const r = new Int32Array(maxLength);
    if (addBos) r[0] = eos;
    return r;
  };
  let row = fresh();
  let filled = 0;
  let first = true;
  const push = function* (ids: Int32Array): Generator<Int32Array> {
    let at = 0;
    while (at < ids.length) {
      const take = Math.min(seqLen - filled, ids.length - at);
      row.set(ids.subarray(at, at + take), offset + filled);
      filled += take;
      at += take;
      if (filled === seqLen) {
        yield row;
        row = fresh();
        filled = 0;
      }
    }
  };
  const sep = new Int32Array([eos]);
  for (const doc of docs) {
    const ids = docIds(doc, "tokenizeAndConcatenate");
    if (!first) yield* push(sep);
    first = false;
    yield* push(ids);
  }
}

/**
 * Stacks equal-length rows into one `[rows, length]` Int32Array (row-major),
 * ready for `tf.tensor2d(data, [rows, length], "int32")`.
 *
 * @example
 * ```ts
 * import { stackRows } from "./tokenizer.ts";
 * stackRows([new Int32Array([1, 2]), new Int32Array([3, 4])]); // { data: Int32Array [1, 2, 3, 4], shape: [2, 2] }
 * ```
 */
export function stackRows(rows: readonly Int32Array[]): { data: Int32Array; shape: [number, number] } {
  const length = rows[0]?.length ?? 0;
  const data = new Int32Array(rows.length * length);
  rows.forEach((r, i) => {
    if (r.length !== length) throw new Error(`stackRows: row ${i} has ${r.length} ids, expected ${length}`);
    data.set(r, i * length);
  });
  return { data, shape: [rows.length, length] };
}
