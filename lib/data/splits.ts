/**
 * Deterministic train / validation / test splits by document.
 *
 * Method (recorded in every {@link SplitAssignment}): the document ids are
 * sorted, shuffled with the project RNG (`new Rng(seed, "splits/<corpus>")`,
 * Fisher–Yates), and the first `round(n·test)` go to test, the next
 * `round(n·validation)` to validation and the rest to train. A split is never
 * empty when its fraction is positive and there are enough documents. Whole
 * documents (book chapters, addresses, emails) go to one split, so held-out
 * chapters and documents are never seen in training.
 *
 * Default fractions: 0.8 / 0.1 / 0.1 for the web-like corpora, 0.7 / 0.1 / 0.2
 * for the book, whose test chapters feed the LAMBADA- and CBT-style
 * benchmarks. The web-like training stream is the train split of `sotu` plus
 * that of `spam-assassin`.
 *
 * @module
 */

import { Rng } from "../engine/rng.ts";
import type { Corpus, CorpusName, Document } from "./corpora.ts";

/**
 * What a split needs: the corpus name and its document ids in document order
 * (a {@link Corpus}, or `{ name, docs: tc.docIds.map((id, order) => ({ id, order })) }`
 * built from a token cache; both give the same assignment).
 */
export interface SplittableCorpus {
  name: CorpusName;
  docs: readonly { id: string; order: number }[];
}

/** Split names. */
export const SPLIT_NAMES = ["train", "validation", "test"] as const;
/** One of {@link SPLIT_NAMES}. */
export type SplitName = typeof SPLIT_NAMES[number];

/** Fractions per split (must sum to 1). */
export type SplitFractions = Record<SplitName, number>;

/** Options of {@link splitCorpus}. */
export interface SplitConfig {
  seed: number;
  /** Fractions per corpus; corpora not listed use `web`. */
  fractions: Partial<Record<CorpusName, SplitFractions>> & { web: SplitFractions };
}

/**
 * Default {@link SplitConfig}: seed 20240227 (the study's publication date), 0.8/0.1/0.1
 * for web-like corpora, 0.7/0.1/0.2 for `moby-dick`.
 *
 * @example
 * ```ts
 * import { defaultSplitConfig } from "./splits.ts";
 * defaultSplitConfig({ seed: 1 }).fractions["moby-dick"]; // { train: 0.7, validation: 0.1, test: 0.2 }
 * ```
 */
export function defaultSplitConfig(overrides: Partial<SplitConfig> = {}): SplitConfig {
  return {
    seed: 20240227,
    fractions: {
      web: { train: 0.8, validation: 0.1, test: 0.1 },
      "moby-dick": { train: 0.7, validation: 0.1, test: 0.2 },
    },
    ...overrides,
  };
}

/** The documented outcome of a split: which ids went where, and how. */
export interface SplitAssignment {
  corpus: CorpusName;
  seed: number;
  fractions: SplitFractions;
  method: string;
  /** Ids per split, sorted by document order. */
  ids: Record<SplitName, string[]>;
}

function checkFractions(f: SplitFractions, corpus: string): void {
  const sum = f.train + f.validation + f.test;
  for (const k of SPLIT_NAMES) {
    if (!(f[k] >= 0 && f[k] <= 1)) {
      throw new RangeError(`split fractions for ${corpus}: ${k} = ${f[k]} is not in [0, 1]`);
    }
  }
  if (Math.abs(sum - 1) > 1e-9) throw new RangeError(`split fractions for ${corpus} sum to ${sum}, expected 1`);
}

/**
 * Assigns every document of a corpus to a split (method in the module doc).
 *
 * @example
 * ```ts
 * import { loadCorpus } from "./corpora.ts";
 * import { splitCorpus } from "./splits.ts";
 * const s = splitCorpus(loadCorpus("moby-dick"));
 * s.ids.test.length; // 28 of 138 chapters
 * ```
 */
export function splitCorpus(corpus: SplittableCorpus, config: Partial<SplitConfig> = {}): SplitAssignment {
  const cfg = defaultSplitConfig(config);
  const fractions = cfg.fractions[corpus.name] ?? cfg.fractions.web;
  checkFractions(fractions, corpus.name);
  const ids = corpus.docs.map((d) => d.id).sort();
  const n = ids.length;
  const rng = new Rng(cfg.seed, `splits/${corpus.name}`);
  rng.shuffle(ids);
  const atLeastOne = (f: number) => (f > 0 && n >= 3 ? Math.max(1, Math.round(n * f)) : Math.round(n * f));
  const nTest = atLeastOne(fractions.test);
  const nVal = atLeastOne(fractions.validation);
  if (nTest + nVal > n) {
    throw new RangeError(`corpus ${corpus.name}: ${n} documents cannot fill test ${nTest} + validation ${nVal}`);
  }
  const order = new Map(corpus.docs.map((d) => [d.id, d.order]));
  const byOrder = (a: string, b: string) => order.get(a)! - order.get(b)!;
  return {
    corpus: corpus.name,
    seed: cfg.seed,
    fractions,
    method:
      `sorted ids shuffled by Rng(${cfg.seed}, "splits/${corpus.name}"); first ${nTest} test, next ${nVal} validation, rest train`,
    ids: {
      test: ids.slice(0, nTest).sort(byOrder),
      validation: ids.slice(nTest, nTest + nVal).sort(byOrder),
      train: ids.slice(nTest + nVal).sort(byOrder),
    },
  };
}

/**
 * The documents of one split, in document order.
 *
 * @example
 * ```ts
 * import { loadCorpus } from "./corpora.ts";
 * import { splitCorpus, splitDocs } from "./splits.ts";
 * const book = loadCorpus("moby-dick");
 * const held = splitDocs(book, splitCorpus(book), "test");
 * ```
 */
export function splitDocs(corpus: Corpus, assignment: SplitAssignment, split: SplitName): Document[] {
  if (assignment.corpus !== corpus.name) {
    throw new RangeError(`split assignment is for ${assignment.corpus}, corpus is ${corpus.name}`);
  }
  const want = new Set(assignment.ids[split]);
  return corpus.docs.filter((d) => want.has(d.id));
}
