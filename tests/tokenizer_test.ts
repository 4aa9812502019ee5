// GPT-2 tokenizer ids (published values), TransformerLens BOS handling, and the two row packings.

import {
  BOS_TOKEN_ID,
  decodeTokens,
  encodeText,
  packRowsSaeLens,
  stackRows,
  tokenizeAndConcatenate,
  toTokens,
} from "../lib/tokenizer/tokenizer.ts";

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

function eq(actual: ArrayLike<number>, expected: number[], what: string): void {
  const a = Array.from(actual);
  assert(a.join() === expected.join(), `${what}: got [${a}], expected [${expected}]`);
}

function throwsWith(fn: () => unknown, phrase: string): void {
  try {
    fn();
  } catch (e) {
    assert((e as Error).message.includes(phrase), `${(e as Error).message} mentions ${phrase}`);
    return;
  }
  throw new Error(`expected an error mentioning ${phrase}`);
}

Deno.test("GPT-2 BPE gives the published ids for common strings", () => {
  // Published GPT-2 (r50k_base / HF gpt2) encodings.
  eq(encodeText("Hello world"), [15496, 995], "Hello world");
  eq(encodeText("Hello, world!"), [15496, 11, 995, 0], "Hello, world!");
  eq(encodeText(" the"), [262], "' the'");
  eq(encodeText("\n"), [198], "newline");
  eq(
    encodeText("The quick brown fox jumps over the lazy dog."),
    [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13],
    "pangram",
  );
  assert(decodeTokens([15496, 995]) === "Hello world", "decode");
  const text = "naïve café — 日本語, 123 tokens!";
  assert(decodeTokens(encodeText(text)) === text, "byte-level BPE round-trips any Unicode text");
});

Deno.test("<|endoftext|> in text is the special token by default and plain text on request", () => {
  eq(encodeText("a<|endoftext|>b"), [64, BOS_TOKEN_ID, 65], "special");
  const plain = encodeText("<|endoftext|>", { endoftext: "plain" });
  assert(plain.length > 1 && !plain.includes(BOS_TOKEN_ID), "plain encoding has no 50256");
  throwsWith(() => decodeTokens([50257]), "id 50257 at index 0");
});

Deno.test("toTokens prepends BOS 50256 and truncates BOS included, as TransformerLens to_tokens", () => {
  eq(toTokens("Hello world"), [50256, 15496, 995], "BOS prepended");
  eq(toTokens("Hello world", { prependBos: false }), [15496, 995], "no BOS");
  eq(toTokens("Hello, world!", { maxLength: 3 }), [50256, 15496, 11], "truncated to 3 with BOS");
  assert(toTokens("x") instanceof Int32Array, "Int32Array output");
});

Deno.test("SAELens packing: BOS at each row start, documents share rows, overflow continues after a new BOS", () => {
  const B = 0;
  const docs = [new Int32Array([1, 2]), new Int32Array([3, 4, 5, 6, 7]), new Int32Array([8]), new Int32Array([9])];
  const rows = [...packRowsSaeLens(docs, 4, { bos: B })];
  // documents as to_tokens gives them: [B,1,2] [B,3,4,5,6,7] [B,8] [B,9]
  eq(rows[0]!, [B, 1, 2, B], "row 0: doc 1, then doc 2's BOS fills the last slot");
  eq(rows[1]!, [B, 3, 4, 5], "row 1 continues doc 2 after a new BOS");
  eq(rows[2]!, [B, 6, 7, B], "row 2: rest of doc 2, then doc 3's BOS");
  eq(rows[3]!, [B, 8, B, 9], "row 3: rest of doc 3 after a new BOS, then doc 4");
  assert(rows.length === 4, `4 rows (got ${rows.length})`);
  const partial = [...packRowsSaeLens(docs.slice(0, 3), 4, { bos: B })];
  assert(partial.length === 3, "an unfinished last row [B, 8] is not emitted");
  for (const r of rows) assert(r[0] === B, "every row starts with BOS");
});

Deno.test("SAELens packing: a document ending exactly at a row end makes the next row start with two BOS", () => {
  const B = 0;
  const rows = [...packRowsSaeLens([new Int32Array([1, 2, 3]), new Int32Array([4, 5])], 4, { bos: B })];
  eq(rows[0]!, [B, 1, 2, 3], "exact fit");
  eq(rows[1]!, [B, B, 4, 5], "continuation BOS then the document's own BOS (2024 SAELens behaviour)");
  assert(rows.length === 2, `2 rows (got ${rows.length})`);
});

Deno.test("SAELens packing truncates each document to maxDocTokens (BOS included) like to_tokens(truncate=True)", () => {
  const long = new Int32Array(10).map((_, i) => i + 1);
  const rows = [...packRowsSaeLens([long, long], 4, { bos: 0, maxDocTokens: 5 })];
  // each doc becomes [0,1,2,3,4]; rows: [0,1,2,3] [0,4,0,1] [0,2,3,4]
  eq(rows[0]!, [0, 1, 2, 3], "row 0");
  eq(rows[1]!, [0, 4, 0, 1], "row 1");
  eq(rows[2]!, [0, 2, 3, 4], "row 2");
  const text = [...packRowsSaeLens(["Hello world", "Hello world"], 3)];
  eq(text[0]!, [50256, 15496, 995], "strings are tokenised with BOS");
  throwsWith(() => [...packRowsSaeLens([], 1)], "contextSize must be an integer ≥ 2");
});

Deno.test("tokenize_and_concatenate: EOS between documents, rows of T−1 ids after a BOS, remainder dropped", () => {
  const E = 0;
  const docs = [new Int32Array([1, 2, 3]), new Int32Array([4, 5]), new Int32Array([6, 7, 8, 9])];
  // stream: 1 2 3 E 4 5 E 6 7 8 9 → rows of 3 after BOS
  const rows = [...tokenizeAndConcatenate(docs, 4, { eos: E })];
  assert(rows.length === 3, `3 full rows, got ${rows.length}`);
  eq(rows[0]!, [E, 1, 2, 3], "row 0");
  eq(rows[1]!, [E, E, 4, 5], "row 1");
  eq(rows[2]!, [E, E, 6, 7], "row 2");
  const noBos = [...tokenizeAndConcatenate(docs, 4, { eos: E, addBosToken: false })];
  eq(noBos[0]!, [1, 2, 3, E], "without BOS rows are plain T-token slices");
  const real = [...tokenizeAndConcatenate(["Hello world", "Hello"], 4)];
  eq(real[0]!, [50256, 15496, 995, 50256], "real text, EOS separator");
});

Deno.test("stackRows builds a row-major [rows, length] array and rejects ragged rows", () => {
  const { data, shape } = stackRows([new Int32Array([1, 2]), new Int32Array([3, 4])]);
  eq(data, [1, 2, 3, 4], "data");
  eq(shape, [2, 2], "shape");
  throwsWith(() => stackRows([new Int32Array([1, 2]), new Int32Array([3])]), "row 1 has 1 ids, expected 2");
});
