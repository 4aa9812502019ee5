/**
 * GPT-2 BPE token arrays per document, cached on disk.
 *
 * A corpus is tokenised document by document (no BOS/EOS; those are added
 * when rows are packed) into one flat array plus document offsets. The cache
 * lives under `cacheDir()/tokens/` as `<corpus>-<key>.bin` (token ids,
 * little-endian Uint16 when every id < 65536, else Int32) and
 * `<corpus>-<key>.json` (document ids, offsets, key inputs). The key is the
 * sha256 of the corpus name, its package version, `CLEANING_VERSION`, the
 * corpus filter config and the encoder's name, so any change to cleaning or
 * tokeniser gives a new key and the corpus is re-tokenised. A cache whose
 * files disagree with their metadata is rebuilt.
 *
 * @module
 */

import { encodeText } from "../tokenizer/tokenizer.ts";
import { cacheDir } from "../env.ts";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic.ts";
import { sha256Bytes } from "../io/manifest.ts";
import { join } from "../path.ts";
import {
  CLEANING_VERSION,
  type Corpus,
  CORPUS_PACKAGES,
  type CorpusConfig,
  type CorpusName,
  defaultCorpusConfig,
  loadCorpus,
} from "./corpora.ts";
import { type SplitAssignment, type SplitConfig, splitCorpus, type SplitName } from "./splits.ts";

/** Anything that turns text into token ids; `name` identifies it in cache keys. */
export interface TokenEncoder {
  readonly name: string;
  encode(text: string): ArrayLike<number>;
}

/**
 * GPT-2's byte-level BPE: the project tokenizer's `encodeText` (`gpt-tokenizer`
 * r50k_base, no BOS; a literal `<|endoftext|>` becomes id 50256 as in Hugging Face).
 *
 * @example
 * ```ts
 * import { gpt2Encoder } from "./token_cache.ts";
 * gpt2Encoder().encode("Hello world"); // [15496, 995]
 * ```
 */
export function gpt2Encoder(): TokenEncoder {
  return { name: "gpt-tokenizer@3.4.0/r50k_base+endoftext-special", encode: (text: string) => encodeText(text) };
}

/** A tokenised corpus: flat token ids with per-document offsets. */
export interface TokenizedCorpus {
  corpus: CorpusName;
  key: string;
  encoder: string;
  cleaningVersion: string;
  docIds: string[];
  /** Document d's tokens are `tokens[offsets[d] … offsets[d+1])`; length docs + 1. */
  offsets: Float64Array;
  tokens: Uint16Array | Int32Array;
}

/**
 * Cache key of a corpus under an encoder and filter config (hex sha256).
 *
 * @example
 * ```ts
 * import { tokenCacheKey, gpt2Encoder } from "./token_cache.ts";
 * const key = await tokenCacheKey("sotu", gpt2Encoder());
 * ```
 */
export async function tokenCacheKey(
  corpus: CorpusName,
  encoder: TokenEncoder,
  corpusConfig: Partial<CorpusConfig> = {},
): Promise<string> {
  const inputs = tokenCacheKeyInputs(corpus, encoder, corpusConfig);
  return await sha256Bytes(new TextEncoder().encode(JSON.stringify(inputs)));
}

function tokenCacheKeyInputs(corpus: CorpusName, encoder: TokenEncoder, corpusConfig: Partial<CorpusConfig>) {
  const cfg = defaultCorpusConfig(corpusConfig);
  return {
    corpus,
    package: CORPUS_PACKAGES[corpus],
    cleaningVersion: CLEANING_VERSION,
    corpusConfig: {
      minWords: cfg.minWords,
      minLetterFraction: cfg.minLetterFraction,
      maxNonAsciiFraction: cfg.maxNonAsciiFraction,
    },
    encoder: encoder.name,
  };
}

/**
 * Tokenises every document of a corpus (in memory, no cache).
 *
 * @example
 * ```ts
 * import { loadCorpus } from "./corpora.ts";
 * import { gpt2Encoder, tokenizeCorpus } from "./token_cache.ts";
 * const tc = tokenizeCorpus(loadCorpus("moby-dick"), gpt2Encoder(), "no-cache");
 * ```
 */
export function tokenizeCorpus(corpus: Corpus, encoder: TokenEncoder, key: string): TokenizedCorpus {
  const parts: ArrayLike<number>[] = [];
  const offsets = new Float64Array(corpus.docs.length + 1);
  let total = 0;
  let max = 0;
  corpus.docs.forEach((d, i) => {
    const ids = encoder.encode(d.text);
    for (let k = 0; k < ids.length; k++) {
      const v = ids[k]!;
      if (!Number.isInteger(v) || v < 0) throw new RangeError(`encoder ${encoder.name} returned id ${v} for ${d.id}`);
      if (v > max) max = v;
    }
    parts.push(ids);
    total += ids.length;
    offsets[i + 1] = total;
  });
  const tokens = max < 65536 ? new Uint16Array(total) : new Int32Array(total);
  let at = 0;
  for (const p of parts) {
    tokens.set(p, at);
    at += p.length;
  }
  return {
    corpus: corpus.name,
    key,
    encoder: encoder.name,
    cleaningVersion: corpus.cleaningVersion,
    docIds: corpus.docs.map((d) => d.id),
    offsets,
    tokens,
  };
}

/** Options of {@link loadTokenizedCorpus}. */
export interface TokenCacheOptions {
  encoder: TokenEncoder;
  /** Folder for the cache files (default `cacheDir()/tokens`). */
  dir: string;
  /** Ignore an existing cache and rebuild it. */
  rebuild: boolean;
  corpusConfig: Partial<CorpusConfig>;
}

interface CacheMeta {
  format: 1;
  key: string;
  keyInputs: unknown;
  dtype: "uint16" | "int32";
  nTokens: number;
  docIds: string[];
  offsets: number[];
}

/** Result of {@link loadTokenizedCorpus}: the tokens and where they came from. */
export interface TokenCacheResult {
  tokenized: TokenizedCorpus;
  source: "cache" | "built";
  /** Why the cache was (re)built, when it was. */
  reason?: string;
  binPath: string;
}

/**
 * Loads a corpus's token arrays from the cache, or cleans, tokenises and
 * caches it (atomic writes: metadata last, so a crash never leaves a cache
 * that looks valid).
 *
 * @example
 * ```ts
 * import { loadTokenizedCorpus } from "./token_cache.ts";
 * const { tokenized, source } = await loadTokenizedCorpus("moby-dick");
 * tokenized.tokens.length; // ≈ 291k tokens
 * ```
 */
export async function loadTokenizedCorpus(
  name: CorpusName,
  options: Partial<TokenCacheOptions> = {},
): Promise<TokenCacheResult> {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new Error("token cache assumes a little-endian machine");
  }
  const encoder = options.encoder ?? gpt2Encoder();
  const corpusConfig = options.corpusConfig ?? {};
  const dir = options.dir ?? join(cacheDir(), "tokens");
  const key = await tokenCacheKey(name, encoder, corpusConfig);
  const stem = join(dir, `${name}-${key.slice(0, 16)}`);
  const binPath = `${stem}.bin`;
  const metaPath = `${stem}.json`;
  let reason = options.rebuild ? "rebuild requested" : "";
  if (!options.rebuild) {
    try {
      const meta = JSON.parse(await Deno.readTextFile(metaPath)) as CacheMeta;
      const bytes = await Deno.readFile(binPath);
      const width = meta.dtype === "uint16" ? 2 : 4;
      if (meta.format !== 1 || meta.key !== key) reason = `metadata key mismatch in ${metaPath}`;
      else if (bytes.byteLength !== meta.nTokens * width) {
        reason = `${binPath} has ${bytes.byteLength} bytes, metadata says ${meta.nTokens} tokens × ${width}`;
      } else if (meta.offsets.length !== meta.docIds.length + 1 || meta.offsets.at(-1) !== meta.nTokens) {
        reason = `offsets in ${metaPath} do not match ${meta.docIds.length} documents and ${meta.nTokens} tokens`;
      } else {
        const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
        const tokens = meta.dtype === "uint16" ? new Uint16Array(buf) : new Int32Array(buf);
        return {
          tokenized: {
            corpus: name,
            key,
            encoder: encoder.name,
            cleaningVersion: CLEANING_VERSION,
            docIds: meta.docIds,
            offsets: Float64Array.from(meta.offsets),
            tokens,
          },
          source: "cache",
          binPath,
        };
      }
    } catch (e) {
      reason = e instanceof Deno.errors.NotFound ? "no cache yet" : `unreadable cache (${(e as Error).message})`;
    }
  }
  const tokenized = tokenizeCorpus(loadCorpus(name, corpusConfig), encoder, key);
  const t = tokenized.tokens;
  await writeFileAtomic(binPath, new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
  const meta: CacheMeta = {
    format: 1,
    key,
    keyInputs: tokenCacheKeyInputs(name, encoder, corpusConfig),
    dtype: t instanceof Uint16Array ? "uint16" : "int32",
    nTokens: t.length,
    docIds: tokenized.docIds,
    offsets: Array.from(tokenized.offsets),
  };
  await writeJsonAtomic(metaPath, meta, 0);
  return { tokenized, source: "built", reason, binPath };
}

/**
 * Token ids of one document (a view, no copy), by index or id.
 *
 * @example
 * ```ts
 * import { docTokens, loadTokenizedCorpus } from "./token_cache.ts";
 * const { tokenized } = await loadTokenizedCorpus("moby-dick");
 * docTokens(tokenized, "chapter-001").length;
 * ```
 */
export function docTokens(tc: TokenizedCorpus, doc: number | string): Uint16Array | Int32Array {
  const i = typeof doc === "number" ? doc : tc.docIds.indexOf(doc);
  if (i < 0 || i >= tc.docIds.length) throw new RangeError(`corpus ${tc.corpus} has no document ${doc}`);
  return tc.tokens.subarray(tc.offsets[i]!, tc.offsets[i + 1]!);
}

/**
 * Token arrays of the documents of one split, in document order.
 *
 * @example
 * ```ts
 * import { loadCorpus } from "./corpora.ts";
 * import { splitCorpus } from "./splits.ts";
 * import { loadTokenizedCorpus, splitTokenDocs } from "./token_cache.ts";
 * const { tokenized } = await loadTokenizedCorpus("sotu");
 * const train = splitTokenDocs(tokenized, splitCorpus(loadCorpus("sotu")), "train");
 * ```
 */
export function splitTokenDocs(
  tc: TokenizedCorpus,
  assignment: SplitAssignment,
  split: SplitName,
): (Uint16Array | Int32Array)[] {
  if (assignment.corpus !== tc.corpus) {
    throw new RangeError(`split is for ${assignment.corpus}, tokens for ${tc.corpus}`);
  }
  const index = new Map(tc.docIds.map((id, i) => [id, i]));
  return assignment.ids[split].map((id) => {
    const i = index.get(id);
    if (i === undefined) {
      throw new RangeError(`split ${split} of ${tc.corpus} names document ${id}, absent from the tokens`);
    }
    return docTokens(tc, i);
  });
}

/**
 * The split assignment of a tokenised corpus, computed from its document ids
 * alone (identical to `splitCorpus(loadCorpus(name))`, without re-cleaning).
 *
 * @example
 * ```ts
 * import { loadTokenizedCorpus, splitTokenized } from "./token_cache.ts";
 * const { tokenized } = await loadTokenizedCorpus("moby-dick");
 * splitTokenized(tokenized).ids.test; // held-out chapter ids
 * ```
 */
export function splitTokenized(tc: TokenizedCorpus, config: Partial<SplitConfig> = {}): SplitAssignment {
  return splitCorpus({ name: tc.corpus, docs: tc.docIds.map((id, order) => ({ id, order })) }, config);
}
