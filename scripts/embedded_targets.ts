/**
 * Measures issue 13's three targets on an embedded data root (a model folder and manifest as `deno task train-lm`
 * writes them; the SAEs are not needed), as notebook 10 measures them, and prints one JSON line:
 *
 * - induction: 32 rows of BOS then a random 64-token segment (ids uniform over the vocabulary, BOS excepted)
 *   repeated to 512 positions, first repeat minus repeats 2+ with a 95% interval over rows (`inductionRows`); the
 *   same with ids from the middle ranks (notebook 09's measure); the probe by segment length and its verdict;
 * - context: per-row loss over positions 513–1023 minus 65–128 on the pooled validation text (every row) and per
 *   corpus (up to 96 rows each), with paired 95% intervals (`contextUse`);
 * - bits per byte on the pooled validation text (`bitsPerByte`).
 *
 * Usage: `deno run -A scripts/embedded_targets.ts [--root DIR]` (default: `data/`, the shipped model). A few minutes
 * on 2 cores at d_model 256.
 *
 * @module
 */

import { parseArgs, stringFlag } from "./train_cli.ts";
import { initBackend } from "../lib/engine/backend.ts";
import { dataDir } from "../lib/env.ts";
import { embeddedPaths, loadEmbedded, splitDocs } from "../lib/study_b/embedded.ts";
import { bitsPerByte, contextUse, inductionRows, pilotInductionIds } from "../lib/study_b/embedded_report.ts";
import { contextTargetSpans } from "../lib/study_b/context_probe.ts";
import { copyDistance, copyVerdict } from "../lib/study_b/copy_distance.ts";
import { validationRows } from "../lib/lm/train.ts";
import type { CorpusName } from "../lib/data/corpora.ts";

const root = stringFlag(parseArgs(Deno.args), "root") ?? dataDir();
await initBackend();
const emb = await loadEmbedded({ root });
const m = emb.model, V = m.cfg.d_vocab, n_ctx = m.cfg.n_ctx;
try {
  const lmRecord = JSON.parse(await Deno.readTextFile(embeddedPaths(root).lmRecord));
  const corpora = lmRecord.config.lm_corpora as CorpusName[];
  const enc = (docs: Int32Array[]) => docs.map((d) => emb.tokenMap.encode(d));
  const ind = inductionRows(m, { segment: 64, positions: 512, ids: [1, V], rows: 32 });
  const mid = inductionRows(m, { segment: 64, positions: 512, ids: pilotInductionIds(V), rows: 32 });
  const cd = copyDistance(m);
  const spans = { ...contextTargetSpans(n_ctx), progress: false };
  const pooledDocs = (await splitDocs(corpora, "validation")).docs;
  const pooled = contextUse(m, validationRows(enc(pooledDocs), 0, n_ctx), { label: "pooled", ...spans });
  const perCorpus = [];
  for (const c of corpora) {
    const rows = validationRows(enc((await splitDocs([c], "validation")).docs), 0, n_ctx, 96);
    const u = contextUse(m, rows, { label: c, ...spans });
    perCorpus.push({ corpus: c, rows: u.rows, diff: u.diff, ci95: u.diff_ci95 });
  }
  console.log(JSON.stringify({
    root,
    induction: { gain: ind.gain, ci95: ind.gain_ci95, rows: ind.rows, loss_by_repeat: ind.loss_by_repeat },
    induction_middle_ranks: { gain: mid.gain, ci95: mid.gain_ci95 },
    copy_distance: { ...copyVerdict(cd, undefined, root), gains: cd.map((r) => [r.segment, r.gain]) },
    context: { rows: pooled.rows, early: pooled.early, late: pooled.late, diff: pooled.diff, ci95: pooled.diff_ci95 },
    context_by_corpus: perCorpus,
    bits_per_byte: bitsPerByte(m, emb.tokenMap, pooledDocs, n_ctx, { progress: false, losses: pooled }),
  }));
} finally {
  m.dispose();
}
