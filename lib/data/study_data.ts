/**
 * The study-B data streams assembled from the corpora: the web-like token
 * documents of a split (`sotu` + `spam-assassin`), held-out texts for the
 * benchmark builders, and the default benchmark sets with their provenance.
 *
 * | stream | made of |
 * | --- | --- |
 * | web-like train (LM and SAE training) | train split of `sotu` + train split of `spam-assassin` |
 * | web-like validation / test (F1–F3 evaluation rows) | the same corpora's validation / test splits |
 * | book train (optional extra LM training text) | train chapters of `moby-dick` |
 * | LAMBADA-style set | test chapters of `moby-dick` and test documents of `sotu` + `spam-assassin`, built separately (so both kinds are represented), concatenated |
 * | CBT-style set | test chapters of `moby-dick`, then test documents of `sotu` (emails are too short for 21-sentence windows) |
 *
 * @module
 */

import { cacheDir } from "../env.ts";
import { writeJsonAtomic } from "../io/atomic.ts";
import { sha256Bytes } from "../io/manifest.ts";
import { join } from "../path.ts";
import { CLEANING_VERSION, CORPUS_PACKAGES, type CorpusName, loadCorpus } from "./corpora.ts";
import { type SplitConfig, splitCorpus, splitDocs, type SplitName } from "./splits.ts";
import {
  buildCbtItems,
  buildLambadaItems,
  type CbtBuildConfig,
  type CbtItem,
  type LambadaBuildConfig,
  type LambadaItem,
  type SourceText,
} from "./benchmarks.ts";
import {
  gpt2Encoder,
  loadTokenizedCorpus,
  splitTokenDocs,
  splitTokenized,
  type TokenCacheOptions,
  type TokenEncoder,
} from "./token_cache.ts";

/** The corpora that make up the web-like stream. */
export const WEB_CORPORA: readonly CorpusName[] = ["sotu", "spam-assassin"];

/** Token documents of one split of several corpora, with their ids. */
export interface TokenDocs {
  split: SplitName;
  corpora: CorpusName[];
  /** `<corpus>:<doc id>` per document, in corpus then document order. */
  ids: string[];
  /** GPT-2 ids per document, no BOS (the `Document` type of `tokenizer/tokenizer.ts`'s row packers). */
  docs: Int32Array[];
  /** Total tokens. */
  tokens: number;
}

/**
 * Token documents of one split of the given corpora (default: the web-like
 * stream), from the token cache.
 *
 * @example
 * ```ts
 * import { loadSplitTokenDocs } from "./study_data.ts";
 * import { packRowsSaeLens } from "../tokenizer/tokenizer.ts";
 * const train = await loadSplitTokenDocs("train"); // sotu + spam-assassin train documents
 * train.tokens; // ≈ 3.5 M
 * const rows = packRowsSaeLens(train.docs, 128); // SAE training rows, BOS at each row start
 * ```
 */
export async function loadSplitTokenDocs(
  split: SplitName,
  corpora: readonly CorpusName[] = WEB_CORPORA,
  options: { cache?: Partial<TokenCacheOptions>; split?: Partial<SplitConfig> } = {},
): Promise<TokenDocs> {
  const out: TokenDocs = { split, corpora: [...corpora], ids: [], docs: [], tokens: 0 };
  for (const name of corpora) {
    const { tokenized } = await loadTokenizedCorpus(name, options.cache);
    const assignment = splitTokenized(tokenized, options.split);
    const docs = splitTokenDocs(tokenized, assignment, split);
    assignment.ids[split].forEach((id, i) => {
      out.ids.push(`${name}:${id}`);
      out.docs.push(Int32Array.from(docs[i]!));
      out.tokens += docs[i]!.length;
    });
  }
  return out;
}

/**
 * Texts of one split of a corpus as builder sources (`source` = `<corpus>:<id>`).
 *
 * @example
 * ```ts
 * import { splitSources } from "./study_data.ts";
 * const held = splitSources("moby-dick", "test"); // the held-out chapters
 * ```
 */
export function splitSources(corpus: CorpusName, split: SplitName, config: Partial<SplitConfig> = {}): SourceText[] {
  const c = loadCorpus(corpus);
  return splitDocs(c, splitCorpus(c, config), split).map((d) => ({ source: `${corpus}:${d.id}`, text: d.text }));
}

/** Options of {@link buildStudyBenchmarks}. */
export interface StudyBenchmarkConfig {
  /** LAMBADA-style settings for the book part and the web part (each fills its own bins). */
  lambada: Partial<LambadaBuildConfig>;
  /** CBT-style settings; `maxItems` applies to the book and web parts separately. */
  cbt: Partial<CbtBuildConfig>;
  split: Partial<SplitConfig>;
  /** Which split the items come from (the held-out `test` by default). */
  from: SplitName;
}

/**
 * Default {@link StudyBenchmarkConfig}: 30 LAMBADA items per length bin from
 * the book and 30 from the web-like documents (360 in all with six bins);
 * up to 250 CBT items from the book and 250 from `sotu`.
 *
 * @example
 * ```ts
 * import { defaultStudyBenchmarkConfig } from "./study_data.ts";
 * const quick = defaultStudyBenchmarkConfig({ lambada: { itemsPerBin: 5 }, cbt: { maxItems: 20 } });
 * ```
 */
export function defaultStudyBenchmarkConfig(overrides: Partial<StudyBenchmarkConfig> = {}): StudyBenchmarkConfig {
  return {
    lambada: { itemsPerBin: 30, ...overrides.lambada },
    cbt: { maxItems: 250, ...overrides.cbt },
    split: overrides.split ?? {},
    from: overrides.from ?? "test",
  };
}

/** The benchmark sets and how they were made. */
export interface StudyBenchmarks {
  lambada: LambadaItem[];
  cbt: CbtItem[];
  provenance: {
    from: SplitName;
    split: Partial<SplitConfig>;
    lambada: Partial<LambadaBuildConfig>;
    cbt: Partial<CbtBuildConfig>;
    encoder: string;
    counts: Record<string, number>;
  };
}

/**
 * Builds the default LAMBADA- and CBT-style sets from held-out text.
 *
 * @example
 * ```ts
 * import { buildStudyBenchmarks } from "./study_data.ts";
 * const { lambada, cbt, provenance } = buildStudyBenchmarks();
 * provenance.counts; // { lambada_book: 180, lambada_web: 180, cbt_book: …, cbt_web: … }
 * ```
 */
export function buildStudyBenchmarks(
  config: Partial<StudyBenchmarkConfig> = {},
  encoder: TokenEncoder = gpt2Encoder(),
): StudyBenchmarks {
  const cfg = defaultStudyBenchmarkConfig(config);
  const book = splitSources("moby-dick", cfg.from, cfg.split);
  const web = WEB_CORPORA.flatMap((c) => splitSources(c, cfg.from, cfg.split));
  const sotu = web.filter((s) => s.source.startsWith("sotu:"));
  const lambadaBook = buildLambadaItems(book, encoder.encode, cfg.lambada);
  const lambadaWeb = buildLambadaItems(web, encoder.encode, cfg.lambada);
  // common nouns are decided on the whole corpus of each kind (a POS stand-in, not a label leak)
  const bookNouns = loadCorpus("moby-dick").docs.map((d) => d.text);
  const sotuNouns = loadCorpus("sotu").docs.map((d) => d.text);
  const cbtBook = buildCbtItems(book, cfg.cbt, bookNouns);
  const cbtWeb = buildCbtItems(sotu, cfg.cbt, sotuNouns);
  return {
    lambada: [...lambadaBook, ...lambadaWeb],
    cbt: [...cbtBook, ...cbtWeb],
    provenance: {
      from: cfg.from,
      split: cfg.split,
      lambada: cfg.lambada,
      cbt: cfg.cbt,
      encoder: encoder.name,
      counts: {
        lambada_book: lambadaBook.length,
        lambada_web: lambadaWeb.length,
        cbt_book: cbtBook.length,
        cbt_web: cbtWeb.length,
      },
    },
  };
}

/** Version of the benchmark-building rules; part of the benchmark cache key. */
export const BENCHMARK_BUILD_VERSION = "1";

/**
 * {@link buildStudyBenchmarks} with a JSON cache under `cacheDir()/benchmarks/`,
 * keyed by the sha256 of the config, encoder, cleaning version, package
 * versions and `BENCHMARK_BUILD_VERSION` (building takes ~15 s, mostly
 * cleaning the corpora; reading the cache well under a second).
 *
 * @example
 * ```ts
 * import { loadStudyBenchmarks } from "./study_data.ts";
 * const { benchmarks, source } = await loadStudyBenchmarks({ lambada: { itemsPerBin: 5 } });
 * ```
 */
export async function loadStudyBenchmarks(
  config: Partial<StudyBenchmarkConfig> = {},
  options: { encoder?: TokenEncoder; dir?: string; rebuild?: boolean } = {},
): Promise<{ benchmarks: StudyBenchmarks; source: "cache" | "built"; path: string }> {
  const encoder = options.encoder ?? gpt2Encoder();
  const cfg = defaultStudyBenchmarkConfig(config);
  const keyInputs = {
    cfg,
    encoder: encoder.name,
    cleaning: CLEANING_VERSION,
    packages: CORPUS_PACKAGES,
    build: BENCHMARK_BUILD_VERSION,
  };
  const key = await sha256Bytes(new TextEncoder().encode(JSON.stringify(keyInputs)));
  const path = join(options.dir ?? join(cacheDir(), "benchmarks"), `study-${key.slice(0, 16)}.json`);
  if (!options.rebuild) {
    try {
      const cached = JSON.parse(await Deno.readTextFile(path)) as { key: string; benchmarks: StudyBenchmarks };
      if (cached.key === key && Array.isArray(cached.benchmarks?.lambada) && Array.isArray(cached.benchmarks?.cbt)) {
        return { benchmarks: cached.benchmarks, source: "cache", path };
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound) && !(e instanceof SyntaxError)) throw e;
    }
  }
  const benchmarks = buildStudyBenchmarks(cfg, encoder);
  await writeJsonAtomic(path, { key, keyInputs, benchmarks }, 0);
  return { benchmarks, source: "built", path };
}
