// %% [markdown]
// # 13 · Benchmarks with SAE-spliced activations: LAMBADA-style (F4) and CBT-style (F5)
//
// The study argued that SAE reconstructions "should be tested using well-established benchmarks", and scored GPT-2
// small on **LAMBADA** (predict the last word of a passage, "a specific next token") and, in an appendix, on the
// **Children's Book Test, common nouns** (pick the missing noun among 10 candidates; "long context"), with each SAE
// spliced in. Its numbers were not recovered; the claims tested here are qualitative:
//
// - **A6** (acceptance test) spliced accuracies are at most the clean accuracy on average;
// - **R5** for prompts within the SAE training context, accuracy stays near clean, later layers worse;
// - **R6** for longer prompts, accuracy drops most for early layers;
// - **R7** on the long-context CBT, later layers are "ok-ish" and early layers poor.
//
// **What runs here.** The real LAMBADA and CBT files are not shipped and cannot be downloaded, so by default the
// items are built deterministically from held-out text of the npm corpora (`lib/data/benchmarks.ts`): LAMBADA-style
// passages whose last word is a content word, in length bins that straddle the SAE training context, and CBT-style
// items (20 context sentences, a 21st with a common noun blanked, 10 candidate nouns). The model is the embedded
// default (small, trained by this project) unless `SAE_ARTIFACTS` points at GPT-2 small and its SAEs — and, when that
// folder also holds `lambada/lambada_test.jsonl` and `cbt/cbtest_CN_test_2500ex.txt`, the official sets are used
// through the project's loaders for those formats.
//
// Scoring (study spec §5): LAMBADA — correct iff the argmax at the last context position is the first token of
// " " + last word (primary), plus the full-word greedy match, the target log-prob, ΔCE of the first target token and KL
// at that position; CBT — each option's filled-in question is scored by the sum of log-probs from the option to the
// end of the sentence, highest wins. Prompts start with BOS and are left-truncated to the model context; each SAE is
// spliced at every position.

// %%
import pl from "nodejs-polars";
import { check } from "@lib/check.ts";
import { showText } from "@lib/plot/mod.ts";
import {
  benchLayerFigure,
  benchLengthFigure,
  benchmarkClaims,
  benchTransitionFigure,
  binnedSummary,
  cbtSummary,
  claimsText,
  evaluateCbt,
  evaluateLambada,
  lambadaDceKlFigure,
  lambadaSummary,
  loadNotebookBenchmarks,
  prepareStudyBNotebook,
  saveSpec,
  splitAtContext,
  tableColumns,
  transitionSummary,
} from "@lib/study_b/mod.ts";

const { setup, cfg } = await prepareStudyBNotebook("benchmarks");
cfg;

// %% [markdown]
// ## The items
//
// `lambadaItemsPerBin` items per length bin from the book and from the web-like documents, and `cbtItemsPerSource`
// CBT items from the book and from the speeches; QUICK mode takes a handful of each. The sizes are bounded by the
// notebook's time budget (every item is scored by the clean model and by each spliced model), so accuracies carry
// wide intervals. Official files, when supplied, are used instead: every LAMBADA passage (5153 for the real test
// split — slow) and the first `cbtItemsPerSource` × 2 CBT questions.

// %%
const items = await loadNotebookBenchmarks(setup, cfg);

// %% [markdown]
// ## F4: LAMBADA-style

// %%
const lam = await evaluateLambada(setup, items.lambada);
const lamRows = lambadaSummary(lam);
await showText(
  `${lam.items.length} items scored (${lam.dropped.unknownTargetToken} dropped: target token outside the vocabulary), ` +
    `${lam.variants.length} variants, ${lam.seconds.toFixed(0)} s`,
);
pl.DataFrame(tableColumns(lamRows));

// %%
await saveSpec(benchLayerFigure("lambada", lamRows, lam));
await saveSpec(benchLengthFigure("lambada", binnedSummary(lam), lam));
await saveSpec(benchTransitionFigure("lambada", transitionSummary(lam), lam));
await saveSpec(lambadaDceKlFigure(lamRows, lam));

// %% [markdown]
// Accuracy per length bin, with 95% Wilson intervals (`p`, `lo`, `hi`) and the item count `n` of every bin:

// %%
pl.DataFrame(
  tableColumns(binnedSummary(lam).map(({ variant, label, n, k, p, lo, hi }) => ({ variant, label, n, k, p, lo, hi }))),
);

// %% [markdown]
// ## F5: CBT-style (10 candidates)

// %%
const cbt = await evaluateCbt(setup, items.cbt);
const cbtRows = cbtSummary(cbt);
await showText(
  `${cbt.items.length} items scored (${cbt.dropped.unknownOptionToken} dropped: an option token outside the ` +
    `vocabulary); ${cbt.items.filter((i) => i.promptLength > cbt.saeContext).length} longer than the SAE context ` +
    `${cbt.saeContext}, ${cbt.items.filter((i) => i.truncated > 0).length} truncated to the model context ` +
    `${cbt.modelContext}; chance = ${(1 / cbt.nOptions).toFixed(2)}; ${cbt.seconds.toFixed(0)} s`,
);
pl.DataFrame(tableColumns(cbtRows));

// %%
await saveSpec(benchLayerFigure("cbt", cbtRows, cbt));
await saveSpec(benchLengthFigure("cbt", binnedSummary(cbt), cbt));
await saveSpec(benchTransitionFigure("cbt", transitionSummary(cbt), cbt));

// %% [markdown]
// ## Checks and claims
//
// Every variant must have scored every kept item, and accuracies must be proper fractions. The verdicts are computed
// from the accuracies split at the SAE training context.

// %%
for (const ev of [lam, cbt]) {
  for (const v of ev.variants) {
    const c = "correct" in v ? v.correct : v.firstTokenCorrect;
    check(c.length === ev.items.length, `${v.variant}: ${c.length} outcomes for ${ev.items.length} items`);
  }
}
for (const r of [...lamRows, ...cbtRows]) {
  check(r.accuracy >= 0 && r.accuracy <= 1, `${r.variant} accuracy ${r.accuracy}`);
}
const claims = [
  ...benchmarkClaims("LAMBADA", splitAtContext(lam), lamRows, setup.saeContext),
  ...benchmarkClaims("CBT", splitAtContext(cbt), cbtRows, setup.saeContext),
];
pl.DataFrame(tableColumns(claims));

// %%
await showText(claimsText(claims));
