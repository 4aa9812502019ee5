/**
 * Deterministic LAMBADA-style and CBT-style benchmark items built from
 * held-out text (the test chapters of the book and the test documents of the
 * web-like corpora). The loaders of the official formats (`formats.ts`)
 * produce the same item types.
 *
 * **LAMBADA-style rule.** A candidate is a sentence whose last word (before
 * its final `.`/`!`/`?` and closing quotes) is preceded by a space and is a
 * content word (alphabetic, ≥ 3 letters, not a stop word). The passage runs
 * from the start of an earlier sentence of the same document to that word
 * (final punctuation dropped, as in LAMBADA), so `text` ends with the target
 * word. It is kept only if the target word (case-insensitive) occurs in the
 * passage *before the target sentence* — a proxy for LAMBADA's filter, which
 * keeps passages whose last word humans can guess from the whole passage but
 * not from the last sentence alone. Each target sentence gives at most one
 * item. Context lengths are spread over `lengthBins` (token counts of the
 * context): for each candidate, in seeded random order, the least-filled bin
 * that the document can serve is tried first (a random target length inside
 * the bin, extended back to a sentence start); items fill each bin up to
 * `itemsPerBin`. So many prompts exceed the 128-token SAE training context
 * and some approach 1024.
 *
 * **CBT-style rule.** Windows of 21 consecutive sentences of one document
 * (stride `stride`): sentences 1–20 are the context, the 21st the question.
 * Common nouns come from {@link commonNouns} over the source documents. The
 * answer is a common-noun occurrence of the question in noun position whose
 * word also occurs in the context; it is replaced by `XXXXX`. The 9
 * distractors are other common nouns that occur (lower-case) in the context,
 * drawn with the seeded RNG; windows with fewer than 9 are skipped. Options
 * are shuffled. Sentences are whitespace-normalised (one line each, as in CBT
 * files), not pre-tokenised.
 *
 * @module
 */

import { Rng } from "../engine/rng.ts";
import {
  commonNouns,
  isContentWord,
  isNounPosition,
  type SentenceSpan,
  splitSentences,
  wordSpans,
} from "./text_units.ts";

/** A last-word prediction item. `text === context + target`. */
export interface LambadaItem {
  id: string;
  /** Where it came from, e.g. `moby-dick:chapter-042` or `lambada.jsonl:17`. */
  source: string;
  /** The full passage, ending with the target word. */
  text: string;
  /** The passage up to, not including, the space before the last word. */
  context: string;
  /** `" " + last word`. */
  target: string;
}

/** A cloze item with 10 candidate words. */
export interface CbtItem {
  id: string;
  source: string;
  /** The 20 context sentences. */
  sentences: string[];
  /** The 21st sentence with the answer replaced by `XXXXX`. */
  question: string;
  /** Candidate words (10 in CBT), the answer among them. */
  options: string[];
  answer: string;
}

/** A source document for the builders. */
export interface SourceText {
  /** e.g. `moby-dick:chapter-042`. */
  source: string;
  text: string;
}

/** Options of {@link buildLambadaItems}. */
export interface LambadaBuildConfig {
  seed: number;
  /** Inclusive [min, max] context token counts of each bin. */
  lengthBins: [number, number][];
  itemsPerBin: number;
  /** Minimum sentences before the target sentence. */
  minContextSentences: number;
}

/**
 * Default {@link LambadaBuildConfig}: bins 16–64, 65–128, 129–192, 193–256,
 * 257–512, 513–1000 context tokens, 60 items each, seed 0.
 *
 * @example
 * ```ts
 * import { defaultLambadaBuildConfig } from "./benchmarks.ts";
 * defaultLambadaBuildConfig({ itemsPerBin: 10 }).lengthBins.length; // 6
 * ```
 */
export function defaultLambadaBuildConfig(overrides: Partial<LambadaBuildConfig> = {}): LambadaBuildConfig {
  return {
    seed: 0,
    lengthBins: [[16, 64], [65, 128], [129, 192], [193, 256], [257, 512], [513, 1000]],
    itemsPerBin: 60,
    minContextSentences: 2,
    ...overrides,
  };
}

/** Target word of a sentence, if it qualifies: its span in the document. */
function sentenceTarget(doc: string, s: SentenceSpan): { word: string; start: number; end: number } | null {
  const m = /([A-Za-z]+)[.!?]*["'”’)\]]*$/.exec(s.text);
  if (!m) return null;
  const word = m[1]!;
  const start = s.start + m.index;
  if (start === 0 || doc[start - 1] !== " " || !isContentWord(word)) return null;
  return { word, start, end: start + word.length };
}

/**
 * Builds LAMBADA-style items (rule in the module doc). `encode` counts
 * context tokens (pass the GPT-2 encoder the model uses).
 *
 * @example
 * ```ts
 * import { buildLambadaItems } from "./benchmarks.ts";
 * import { gpt2Encoder } from "./token_cache.ts";
 * const items = buildLambadaItems([{ source: "demo", text: "..." }], gpt2Encoder().encode, { itemsPerBin: 5 });
 * ```
 */
export function buildLambadaItems(
  sources: readonly SourceText[],
  encode: (text: string) => ArrayLike<number>,
  config: Partial<LambadaBuildConfig> = {},
): LambadaItem[] {
  const cfg = defaultLambadaBuildConfig(config);
  for (const [lo, hi] of cfg.lengthBins) {
    if (!(lo >= 1 && hi >= lo)) throw new RangeError(`lambada lengthBins: bad bin [${lo}, ${hi}]`);
  }
  const rng = new Rng(cfg.seed, "benchmarks/lambada");
  const docs = sources.map((s) => {
    const sentences = splitSentences(s.text);
    // approximate token start of each sentence, for choosing passage starts
    const cum = [0];
    for (const sn of sentences) cum.push(cum.at(-1)! + encode(` ${sn.text}`).length);
    return { ...s, sentences, cum };
  });
  const candidates: [number, number][] = [];
  docs.forEach((d, di) => {
    d.sentences.forEach((s, k) => {
      if (k >= cfg.minContextSentences && sentenceTarget(d.text, s)) candidates.push([di, k]);
    });
  });
  rng.shuffle(candidates);
  const fill = cfg.lengthBins.map(() => 0);
  const items: LambadaItem[] = [];
  const total = cfg.itemsPerBin * cfg.lengthBins.length;
  for (const [di, k] of candidates) {
    if (items.length >= total) break;
    const d = docs[di]!;
    const s = d.sentences[k]!;
    const tgt = sentenceTarget(d.text, s)!;
    const available = d.cum[k + 1]!; // tokens from document start to the end of the target sentence
    const order = cfg.lengthBins.map((_, b) => b)
      .filter((b) => fill[b]! < cfg.itemsPerBin && cfg.lengthBins[b]![0] <= available)
      .sort((a, b) => fill[a]! - fill[b]! || a - b);
    for (const b of order) {
      const [lo, hi] = cfg.lengthBins[b]!;
      const want = lo + rng.int(hi - lo + 1);
      // earliest sentence start j ≤ k − minContextSentences such that the context reaches ≥ want tokens
      let j = k - cfg.minContextSentences;
      while (j > 0 && d.cum[k + 1]! - d.cum[j]! < want) j--;
      const start = d.sentences[j]!.start;
      const context = d.text.slice(start, tgt.start - 1);
      const n = encode(context).length;
      const bin = cfg.lengthBins.findIndex(([a, z]) => n >= a && n <= z);
      if (bin < 0 || fill[bin]! >= cfg.itemsPerBin) continue;
      const before = d.text.slice(start, s.start);
      const re = new RegExp(`\\b${tgt.word}\\b`, "i");
      if (!re.test(before)) continue;
      fill[bin]!++;
      items.push({
        id: `${d.source}#s${k}`,
        source: d.source,
        text: `${context} ${tgt.word}`,
        context,
        target: ` ${tgt.word}`,
      });
      break;
    }
  }
  return items;
}

/** Options of {@link buildCbtItems}. */
export interface CbtBuildConfig {
  seed: number;
  /** Sentences between the starts of consecutive windows. */
  stride: number;
  /** Candidate options per item (10 in CBT). */
  nOptions: number;
  /** Stop after this many items. */
  maxItems: number;
  /** Minimum noun-position uses for a word to count as a common noun. */
  minNounUses: number;
  /** Minimum share of a word's occurrences that are in noun position. */
  minNounShare: number;
  /** Minimum words in the question sentence. */
  minQuestionWords: number;
}

/**
 * Default {@link CbtBuildConfig}: stride 2, 10 options, at most 500 items.
 *
 * @example
 * ```ts
 * import { defaultCbtBuildConfig } from "./benchmarks.ts";
 * defaultCbtBuildConfig().nOptions; // 10
 * ```
 */
export function defaultCbtBuildConfig(overrides: Partial<CbtBuildConfig> = {}): CbtBuildConfig {
  return {
    seed: 0,
    stride: 2,
    nOptions: 10,
    maxItems: 500,
    minNounUses: 2,
    minNounShare: 0.25,
    minQuestionWords: 6,
    ...overrides,
  };
}

/**
 * Builds CBT-style cloze items (rule in the module doc). `nounTexts` decides
 * which words are common nouns (default: the sources themselves).
 *
 * @example
 * ```ts
 * import { buildCbtItems } from "./benchmarks.ts";
 * const items = buildCbtItems([{ source: "demo", text: "..." }], { maxItems: 20 });
 * ```
 */
export function buildCbtItems(
  sources: readonly SourceText[],
  config: Partial<CbtBuildConfig> = {},
  nounTexts?: readonly string[],
): CbtItem[] {
  const cfg = defaultCbtBuildConfig(config);
  if (!(cfg.stride >= 1 && cfg.nOptions >= 2)) throw new RangeError(`cbt: stride ≥ 1 and nOptions ≥ 2 required`);
  const nouns = commonNouns(nounTexts ?? sources.map((s) => s.text), cfg.minNounUses, cfg.minNounShare);
  const rng = new Rng(cfg.seed, "benchmarks/cbt");
  const items: CbtItem[] = [];
  for (const src of sources) {
    const sentences = splitSentences(src.text).map((s) => s.text.replace(/\s+/g, " "));
    for (let w = 0; w + 21 <= sentences.length && items.length < cfg.maxItems; w += cfg.stride) {
      const ctx = sentences.slice(w, w + 20);
      const q = sentences[w + 20]!;
      const qWords = wordSpans(q);
      if (qWords.length < cfg.minQuestionWords) continue;
      const ctxText = ctx.join(" ");
      const ctxNouns = new Set(wordSpans(ctxText).map((x) => x.word).filter((x) => nouns.has(x)));
      const eligible = qWords.map((_, i) => i).filter((i) =>
        nouns.has(qWords[i]!.word) && ctxNouns.has(qWords[i]!.word) && isNounPosition(q, qWords, i)
      );
      if (eligible.length === 0) continue;
      const pick = qWords[eligible[rng.int(eligible.length)]!]!;
      const distractors = [...ctxNouns].filter((x) => x !== pick.word).sort();
      if (distractors.length < cfg.nOptions - 1) continue;
      rng.shuffle(distractors);
      const options = rng.shuffle([pick.word, ...distractors.slice(0, cfg.nOptions - 1)]);
      items.push({
        id: `${src.source}#w${w}`,
        source: src.source,
        sentences: ctx,
        question: `${q.slice(0, pick.start)}XXXXX${q.slice(pick.end)}`,
        options,
        answer: pick.word,
      });
    }
  }
  return items;
}

/** Options of {@link selectBalanced}. */
export interface SelectConfig<T> {
  /** Items wanted in all. */
  total: number;
  /** Stratum of an item (e.g. its length bin); quotas are equal per stratum, unused quota moves to the others. */
  stratum: (item: T) => string;
  /** Source of an item; within a stratum sources take turns. */
  source: (item: T) => string;
  /** Why an item cannot be used (e.g. "target outside the vocabulary"), or null when it can. */
  reject: (item: T) => string | null;
}

/** What {@link selectBalanced} chose and why it passed over the rest. */
export interface Selection<T> {
  items: T[];
  /** Candidates rejected, by reason (every candidate is checked, so the counts describe the whole pool). */
  rejected: Record<string, number>;
  /** Usable candidates left unselected because the quota was met. */
  unused: number;
  candidates: number;
}

/**
 * Chooses up to `total` usable items from a candidate pool, before any scoring:
 * every candidate is checked with `reject` (the reasons are counted), then the
 * usable ones are taken per stratum with equal quotas (a stratum with too few
 * gives its unused quota to the others), sources taking turns within a stratum,
 * in pool order. Deterministic for a deterministic pool.
 *
 * @example
 * ```ts
 * import { selectBalanced } from "./benchmarks.ts";
 * const s = selectBalanced([1, 2, 3, 4, 5, 6], {
 *   total: 4, stratum: (x) => (x <= 3 ? "a" : "b"), source: () => "s", reject: (x) => (x === 2 ? "even two" : null),
 * });
 * s.items; // [1, 3, 4, 5]
 * s.rejected; // { "even two": 1 }
 * ```
 */
export function selectBalanced<T>(pool: readonly T[], cfg: SelectConfig<T>): Selection<T> {
  const rejected: Record<string, number> = {};
  const strata = new Map<string, Map<string, T[]>>();
  for (const item of pool) {
    const why = cfg.reject(item);
    if (why !== null) {
      rejected[why] = (rejected[why] ?? 0) + 1;
      continue;
    }
    const st = cfg.stratum(item);
    if (!strata.has(st)) strata.set(st, new Map());
    const bySource = strata.get(st)!;
    const src = cfg.source(item);
    if (!bySource.has(src)) bySource.set(src, []);
    bySource.get(src)!.push(item);
  }
  // interleave sources within each stratum (sources in first-seen order)
  const queues = [...strata.entries()].map(([name, bySource]) => {
    const lists = [...bySource.values()];
    const out: T[] = [];
    for (let k = 0; out.length < lists.reduce((a, l) => a + l.length, 0); k++) {
      for (const l of lists) if (k < l.length) out.push(l[k]!);
    }
    return { name, items: out };
  });
  const usable = queues.reduce((a, q) => a + q.items.length, 0);
  const want = Math.min(cfg.total, usable);
  const take = queues.map(() => 0);
  let left = want;
  while (left > 0) {
    const open = queues.map((_q, i) => i).filter((i) => take[i]! < queues[i]!.items.length);
    const share = Math.max(1, Math.floor(left / open.length));
    for (const i of open) {
      if (left === 0) break;
      const add = Math.min(share, queues[i]!.items.length - take[i]!, left);
      take[i]! += add;
      left -= add;
    }
  }
  const chosen = new Set<T>();
  queues.forEach((q, i) => q.items.slice(0, take[i]).forEach((x) => chosen.add(x)));
  const items = pool.filter((x) => chosen.has(x)); // pool order
  return { items, rejected, unused: usable - items.length, candidates: pool.length };
}
