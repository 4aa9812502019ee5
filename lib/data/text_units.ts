/**
 * Sentences, words, stop words and a common-noun heuristic for building the
 * LAMBADA- and CBT-style benchmarks from raw English text.
 *
 * Sentence rule: a sentence ends after `.`, `!` or `?` (runs allowed), plus any
 * closing quotes/brackets, when followed by whitespace and then an upper-case
 * letter, a digit or an opening quote/bracket/dash — unless the word before
 * the period is a known abbreviation (Mr, Mrs, Dr, St, …) or a single
 * capital initial. A blank line (paragraph break) always ends a sentence.
 *
 * @module
 */

/** A sentence as a character span of its document. */
export interface SentenceSpan {
  start: number;
  end: number;
  text: string;
}

const ABBREVIATIONS = new Set([
  "mr",
  "mrs",
  "ms",
  "dr",
  "st",
  "jr",
  "sr",
  "capt",
  "gen",
  "col",
  "lt",
  "mt",
  "vs",
  "etc",
  "no",
  "vol",
  "rev",
  "hon",
  "gov",
  "sen",
  "rep",
  "messrs",
  "ie",
  "eg",
  "inc",
  "co",
  "corp",
  "ltd",
  "jan",
  "feb",
  "aug",
  "sept",
  "oct",
  "nov",
  "dec",
]);

/**
 * Splits text into sentences with their character spans (rule in the module doc).
 *
 * @example
 * ```ts
 * import { splitSentences } from "./text_units.ts";
 * splitSentences("Mr. Starbuck came. \"Aye!\" he said.").map((s) => s.text);
 * // ["Mr. Starbuck came.", "\"Aye!\" he said."]
 * ```
 */
export function splitSentences(text: string): SentenceSpan[] {
  const out: SentenceSpan[] = [];
  const push = (a: number, b: number) => {
    let s = a;
    let e = b;
    while (s < e && /\s/.test(text[s]!)) s++;
    while (e > s && /\s/.test(text[e - 1]!)) e--;
    if (e > s) out.push({ start: s, end: e, text: text.slice(s, e) });
  };
  const re = /([.!?]+["'”’)\]]*)(\s+)(?=["'“‘(\[\-—]?[A-Z0-9])|\n\s*\n/g;
  let start = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[1] === undefined) {
      push(start, m.index);
      start = m.index + m[0].length;
      continue;
    }
    const end = m.index + m[1].length;
    if (m[1].startsWith(".") && m[1].length === 1) {
      const before = /([A-Za-z]+)$/.exec(text.slice(Math.max(start, m.index - 12), m.index));
      const word = before?.[1] ?? "";
      if (ABBREVIATIONS.has(word.toLowerCase()) || /^[A-Z]$/.test(word)) continue;
    }
    push(start, end);
    start = end;
  }
  push(start, text.length);
  return out;
}

/** A word with its character span. */
export interface WordSpan {
  word: string;
  start: number;
  end: number;
}

/**
 * Words (letters with inner apostrophes/hyphens) with their spans.
 *
 * @example
 * ```ts
 * import { wordSpans } from "./text_units.ts";
 * wordSpans("the sea-captain's boat").map((w) => w.word); // ["the", "sea-captain's", "boat"]
 * ```
 */
export function wordSpans(text: string): WordSpan[] {
  const out: WordSpan[] = [];
  const re = /[A-Za-z]+(?:['’-][A-Za-z]+)*/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    out.push({ word: m[0], start: m.index, end: m.index + m[0].length });
  }
  return out;
}

/** English function words (articles, pronouns, auxiliaries, prepositions, conjunctions, common adverbs). */
export const STOP_WORDS: ReadonlySet<string> = new Set(
  ("a about above after again against all almost also although always am among an and another any anyone anything " +
    "are around as at away back be because been before being below between both but by can cannot could did do does " +
    "doing done down during each either else enough even ever every few for from further get got had has have having " +
    "he her here hers herself him himself his how however i if in into is it its itself just least less let like " +
    "made make many may me might mine more most much must my myself neither never no nor not nothing now of off often " +
    "on once one only or other others ought our ours ourselves out over own perhaps quite rather said same say says " +
    "see seen shall she should since so some something still such than that the thee their theirs them themselves " +
    "then there these they thine this those thou though through thus thy till to too toward towards under unless " +
    "until up upon us very was we were what whatever when where whether which while who whom whose why will with " +
    "within without would ye yet you your yours yourself yourselves oh ah yes sir well go went come came took take " +
    "upon tis twas let lets")
    .split(/\s+/),
);

/** Determiners and possessives that mark the start of a noun phrase. */
export const DETERMINERS: ReadonlySet<string> = new Set(
  "a an the this that these those his her its their my your our every each some no any another thy whose".split(" "),
);

/**
 * True for a plausible content word: alphabetic, at least `minLength`
 * letters, not a stop word (case-insensitive).
 *
 * @example
 * ```ts
 * import { isContentWord } from "./text_units.ts";
 * [isContentWord("whale"), isContentWord("there"), isContentWord("ox")]; // [true, false, false]
 * ```
 */
export function isContentWord(word: string, minLength = 3): boolean {
  return /^[A-Za-z]+$/.test(word) && word.length >= minLength && !STOP_WORDS.has(word.toLowerCase());
}

/**
 * The common-noun heuristic (used instead of a POS tagger): an occurrence of a
 * lower-case content word is in *noun position* when it follows a determiner
 * directly ("the whale"), or follows determiner + one lower-case content word
 * ("the white whale"), and is followed by punctuation, the end of the text or
 * a stop word ("the whale was", "the boat."). Words ending in `-ly` are never
 * nouns. A word *type* counts as a common noun when it has at least
 * `minNounUses` noun-position occurrences, at least `minNounShare` (default
 * 0.25) of all its occurrences are in noun position (which excludes most
 * adjectives, verbs and adverbs that sometimes follow a determiner) and at
 * least 90% of its occurrences are lower-case (which excludes proper names).
 *
 * @example
 * ```ts
 * import { commonNouns } from "./text_units.ts";
 * const nouns = commonNouns(["The whale was near. A whale is big; the old whale of the sea."], 2);
 * nouns.has("whale"); // true
 * ```
 */
export function commonNouns(texts: readonly string[], minNounUses = 2, minNounShare = 0.25): Set<string> {
  const nounUses = new Map<string, number>();
  const lower = new Map<string, number>();
  const total = new Map<string, number>();
  for (const text of texts) {
    const words = wordSpans(text);
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!.word;
      const key = w.toLowerCase();
      total.set(key, (total.get(key) ?? 0) + 1);
      if (w === key) lower.set(key, (lower.get(key) ?? 0) + 1);
      if (isNounPosition(text, words, i)) nounUses.set(key, (nounUses.get(key) ?? 0) + 1);
    }
  }
  const out = new Set<string>();
  for (const [w, n] of nounUses) {
    const all = total.get(w)!;
    if (n >= minNounUses && n >= minNounShare * all && (lower.get(w) ?? 0) >= 0.9 * all) out.add(w);
  }
  return out;
}

/** True when word i of `words` (spans into `text`) is in noun position (see {@link commonNouns}). */
export function isNounPosition(text: string, words: readonly WordSpan[], i: number): boolean {
  const w = words[i]!;
  if (w.word !== w.word.toLowerCase() || !isContentWord(w.word) || w.word.endsWith("ly")) return false;
  const adjacent = (a: WordSpan, b: WordSpan) => /^ +$/.test(text.slice(a.end, b.start));
  const prev = words[i - 1];
  const prev2 = words[i - 2];
  let det = false;
  if (prev && adjacent(prev, w) && DETERMINERS.has(prev.word.toLowerCase())) det = true;
  else if (
    prev && prev2 && adjacent(prev2, prev) && adjacent(prev, w) && DETERMINERS.has(prev2.word.toLowerCase()) &&
    isContentWord(prev.word) && prev.word === prev.word.toLowerCase()
  ) det = true;
  if (!det) return false;
  const next = words[i + 1];
  const gap = text.slice(w.end, next ? next.start : text.length);
  if (/[^\s]/.test(gap)) return true; // punctuation or end follows
  return next === undefined || STOP_WORDS.has(next.word.toLowerCase());
}
