/**
 * Summary tables of the tokenised corpora for the notebooks: documents and
 * tokens per corpus and split, with mean / median / max document length.
 *
 * @module
 */

import pl from "nodejs-polars";
import { splitTokenized } from "./token_cache.ts";
import type { TokenizedCorpus } from "./token_cache.ts";
import { SPLIT_NAMES, type SplitConfig } from "./splits.ts";

/** One row of {@link corpusSummaryRows}. */
export interface CorpusSummaryRow {
  corpus: string;
  split: string;
  documents: number;
  tokens: number;
  mean_doc_tokens: number;
  median_doc_tokens: number;
  max_doc_tokens: number;
}

function median(sorted: number[]): number {
  if (sorted.length === 0) return 0;
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
}

/**
 * Rows per corpus × split plus an `all` row per corpus.
 *
 * @example
 * ```ts
 * import { corpusSummaryRows } from "./corpus_tables.ts";
 * import { loadTokenizedCorpus } from "./token_cache.ts";
 * const rows = corpusSummaryRows([(await loadTokenizedCorpus("moby-dick")).tokenized]);
 * rows.find((r) => r.split === "test")!.documents; // 28
 * ```
 */
export function corpusSummaryRows(corpora: TokenizedCorpus[], split: Partial<SplitConfig> = {}): CorpusSummaryRow[] {
  const rows: CorpusSummaryRow[] = [];
  for (const tc of corpora) {
    const assignment = splitTokenized(tc, split);
    const index = new Map(tc.docIds.map((id, i) => [id, i]));
    const lengthOf = (id: string) => {
      const i = index.get(id)!;
      return tc.offsets[i + 1]! - tc.offsets[i]!;
    };
    const groups: [string, string[]][] = [
      ...SPLIT_NAMES.map((s) => [s, assignment.ids[s]] as [string, string[]]),
      ["all", tc.docIds],
    ];
    for (const [name, ids] of groups) {
      const lens = ids.map(lengthOf).sort((a, b) => a - b);
      const tokens = lens.reduce((s, v) => s + v, 0);
      rows.push({
        corpus: tc.corpus,
        split: name,
        documents: ids.length,
        tokens,
        mean_doc_tokens: ids.length ? Math.round((tokens / ids.length) * 10) / 10 : 0,
        median_doc_tokens: median(lens),
        max_doc_tokens: lens.at(-1) ?? 0,
      });
    }
  }
  return rows;
}

/**
 * The same rows as a polars DataFrame (for display in a notebook).
 *
 * @example
 * ```ts
 * import { corpusSummaryTable } from "./corpus_tables.ts";
 * import { loadTokenizedCorpus } from "./token_cache.ts";
 * const df = corpusSummaryTable([(await loadTokenizedCorpus("sotu")).tokenized]);
 * df.shape; // { height: 4, width: 7 }
 * ```
 */
export function corpusSummaryTable(corpora: TokenizedCorpus[], split: Partial<SplitConfig> = {}): pl.DataFrame {
  const df = pl.DataFrame(corpusSummaryRows(corpora, split) as unknown as Record<string, unknown>[]);
  return df.withColumns(pl.col(["documents", "tokens", "max_doc_tokens"]).cast(pl.Int64));
}
