// %% [markdown]
// # 10 · The embedded default: a small GPT-2 and its short-context SAEs
//
// Study B splices residual-stream SAEs trained on **128-token** contexts into GPT-2 small, whose context is **1024**,
// and asks what happens past position 128. GPT-2 small, the `gpt2-small-res-jb` SAEs and OpenWebText cannot be
// downloaded where this project is built, so it trains and ships its own stand-ins, faithful to the study's setup:
//
// - **text** from npm packages: State of the Union addresses and the SpamAssassin e-mails as the web-like text (the
//   stand-in for OpenWebText), *Moby-Dick* as the long-form book (the stand-in for the Children's Book Test); cleaned,
//   split by document (held-out documents and chapters are never trained on), GPT-2 BPE-tokenised;
// - **the model** (version 2): GPT-2 architecture (learned absolute positions, pre-LayerNorm blocks, GELU MLPs, tied
//   unembedding) with n_ctx 1024, 4 layers × d_model 256 × 8 heads, and a compact vocabulary of the 8,192 commonest
//   GPT-2 ids of the training text plus an unknown token, stored beside the weights and applied by the loader. It is
//   trained by the recipe notebook 09 chose from its pilots: rows of 128, 256 and 512 tokens at random absolute
//   offsets for the first 1,400 steps, then full 1024-token rows, so every position is trained on many rows; every row
//   carries spans of random token ids copied one to four times (a helper that makes induction heads form; every
//   target below is measured on natural text);
// - **the SAEs**: one per `blocks.{L}.hook_resid_pre` plus the last `hook_resid_post`, trained only on 128-token rows
//   (n_ctx / 8, as 128 / 1024) with BOS at each row start, by the study's recipe (normalised MSE + ℓ1, unit-norm
//   decoder, geometric-median `b_dec`, ghost gradients for dead latents), two ℓ1 coefficients trained side by side
//   per hook and the best-reconstructing one with L0 in 10–80 and under 10% dead latents shipped.
//
// Everything lives in `data/` (Hugging Face layout for the model, SAELens folders for the SAEs) with a manifest of
// sha256 hashes, configs, seeds, splits, losses and the code version. This notebook **loads the shipped checkpoints**
// (verifying every hash), measures them afresh and checks the two quality bars: the model uses its context, and the
// SAEs reconstruct well at the context they were trained on. Version 1 (plain text, 4 layers × d_model 128, 2,400
// steps of 4 rows) modelled text about as well but could not copy; notebook 09 records why version 2 was built and
// how its recipe was found. With `SAE_RETRAIN=1` it first retrains everything
// (`deno task train-lm`, then `deno task train-saes`: resumable, with progress bars and divergence guards).

// %%
import pl from "nodejs-polars";
import { initBackend } from "@lib/engine/backend.ts";
import { check, checkClose } from "@lib/check.ts";
import { dataDir, isQuick, wantsRetrain } from "@lib/env.ts";
import { saveAndShow, showText } from "@lib/plot/mod.ts";
import { CORPUS_NAMES } from "@lib/data/corpora.ts";
import { corpusSummaryTable } from "@lib/data/corpus_tables.ts";
import { loadTokenizedCorpus } from "@lib/data/token_cache.ts";
import {
  embeddedConfig,
  embeddedPaths,
  type LmRecord,
  loadEmbedded,
  runEmbeddedLmTraining,
  runEmbeddedSaeTraining,
  type SaeRecord,
  splitDocs,
} from "@lib/study_b/embedded.ts";
import {
  bitsPerByte,
  checkSaeQuality,
  contextUse,
  evaluateEmbeddedSaes,
  inductionRows,
  lmTrainingData,
  lmTrainingFigure,
  lossByPositionFigure,
  SAE_QUALITY_BARS,
  saeTrainingData,
  saeTrainingFigure,
} from "@lib/study_b/embedded_report.ts";
import { copyDistance, copyVerdict } from "@lib/study_b/copy_distance.ts";
import { augmentedTokenShare, validationRows } from "@lib/lm/train.ts";
import { contextTargetSpans } from "@lib/study_b/context_probe.ts";
import { extrapolateTokens, loadPilots, PILOT_TARGETS, type TokensToTarget } from "@lib/study_b/pilots.ts";
import { join } from "@lib/path.ts";

const backend = await initBackend();
const retrain = wantsRetrain();
if (retrain) {
  // trains into data/ (or .quick/data under QUICK=1, with the tiny QUICK recipe), resuming from checkpoints
  check((await runEmbeddedLmTraining(embeddedConfig())) !== null, "LM training stopped early");
  check((await runEmbeddedSaeTraining(embeddedConfig())) !== null, "SAE training stopped early");
}
const root = retrain ? embeddedPaths().root : dataDir();
const paths = embeddedPaths(root);
const emb = await loadEmbedded({ root }); // verifies every file against manifest.json
const lm = JSON.parse(await Deno.readTextFile(paths.lmRecord)) as LmRecord;
const saes = JSON.parse(await Deno.readTextFile(paths.saeRecord)) as SaeRecord;
const name = lm.config.name;
const quick = isQuick();
const encode = (docs: Int32Array[]) => docs.map((d) => emb.tokenMap.encode(d));
await showText([
  `backend: ${backend.summary}`,
  `checkpoints: ${root} (${retrain ? "retrained now" : "shipped"}), manifest verified: ${
    Object.keys(emb.manifest.files).length
  } files, code version ${emb.manifest.code_version}`,
  `model: ${lm.config.model.n_layer} layers × d_model ${lm.config.model.d_model} × ${lm.config.model.n_head} heads, ` +
  `n_ctx ${lm.config.model.n_ctx}, vocabulary ${lm.vocab_size} (unknown-token rate ${
    (lm.unk_rate_train * 100).toFixed(1)
  }% ` +
  `of training tokens), ${(lm.n_params / 1e6).toFixed(2)}M parameters`,
  `LM training: ${lm.history.length} steps × ${lm.config.lm.batch_rows} rows × ${lm.config.lm.n_ctx} tokens ` +
  `(${((lm.history.at(-1)?.tokens ?? 0) / 1e6).toFixed(2)}M tokens) in ${(lm.train_seconds / 60).toFixed(1)} min`,
  `SAEs: ${saes.hooks.length} hooks, d_sae ${saes.config.sae.expansion_factor} × d_model, ` +
  `${saes.config.sae.total_steps} steps × ${saes.config.sae.batch_size} tokens at context ${saes.config.sae.context_size}`,
  `mode: ${quick ? "QUICK (fewer validation rows)" : "full"}`,
].join("\n"));

// %% [markdown]
// ## 1 · The text
//
// Documents, tokens and document lengths per corpus and split (deterministic, by document id). State of the Union
// addresses are long documents, the e-mails short ones; *Moby-Dick* is split by chapter. The model trains on the train
// splits of all three, the SAEs on the train splits of the web-like two; everything below is measured on validation
// splits.

// %%
const corpora = await Promise.all(CORPUS_NAMES.map(async (c) => (await loadTokenizedCorpus(c)).tokenized));
corpusSummaryTable(corpora);

// %% [markdown]
// ## 2 · The language model's training
//
// Per-step training loss and the periodic validation loss, from the training record shipped with the checkpoint. The
// training loss counts the copied random-id spans, which an induction head predicts almost perfectly once it has
// formed, so it falls well below the validation loss on natural text; the steps where the row length doubles (1,000,
// 1,200, 1,400) show as jumps. The table gives the share of training tokens the augmentation wrote (the random ids
// and their copies), replayed from the recipe's seeds by `augmentedTokenShare`.

// %%
check(
  lm.history.length === lm.config.lm.total_steps,
  `LM record: ${lm.history.length} steps, expected ${lm.config.lm.total_steps}`,
);
const firstLoss = lm.history.slice(0, 10).reduce((s, e) => s + e.loss, 0) / 10;
check(lm.final_train_loss < firstLoss - 2, `LM training loss fell only from ${firstLoss} to ${lm.final_train_loss}`);
const _lmTrainingSaved = await saveAndShow(lmTrainingFigure(lm), `${name}_lm_training`, lmTrainingData(lm));
const f = (v: number | null) => (v === null ? NaN : Math.round(v * 1e4) / 1e4);
const augmented = augmentedTokenShare(lm.config.lm);
pl.DataFrame([
  ...Object.entries(augmented.by_ctx).map(([ctx, share]) => ({ rows: `of ${ctx} tokens`, "share written": f(share) })),
  { rows: `all (${(augmented.tokens / 1e6).toFixed(1)}M tokens)`, "share written": f(augmented.share) },
]);

// %% [markdown]
// ## 3 · Does the model use its context? The three targets
//
// Version 2 was built to meet three targets on held-out text, with these rules (full mode; QUICK mode measures a few
// rows):
//
// 1. **Induction.** 32 rows of BOS then a random 64-token segment (ids uniform over the vocabulary, BOS excepted)
//    repeated to fill 512 positions: the mean loss on repeats 2+ at least **2 nats** below the first occurrence's
//    (each repeat's first 4 tokens left out). The bar is on the mean over rows; its normal 95% interval over rows is
//    reported. The probe by segment length must also say **induction** (every length none of whose repeat distances
//    is a multiple of 64 gains ≥ 2 nats), so that a head looking a fixed distance back cannot pass (notebook 09).
// 2. **Context use beyond the SAE window.** On the pooled validation text cut into 1024-token rows, the mean per-row
//    loss over positions 513–1023 at least **0.05 nats** below that over positions 65–128, with the paired 95%
//    interval below zero. Reported per corpus as well (up to 96 rows each).
// 3. **Better modelling.** Validation bits per byte on the pooled text below version 1's (notebook 09's `shipped-v1`
//    entry, measured by the same function on the same rows with the same vocabulary).
//
// The loss at position j is the loss of predicting token j + 1 having seen tokens 0 … j. Validation documents are
// joined with `<|endoftext|>` and cut into rows, so a row usually starts mid-document: early positions see little of
// the document, late ones a lot. The long documents (addresses, book chapters) should gain most; the e-mails are short,
// so late positions of an e-mail row mostly see other e-mails. Positions 65–128 lie inside the SAEs' 128-token window
// and past the first positions' purely local gains, so the comparison asks what the model gains from text beyond the
// window.
//
// **How the outcome is handled.** `scripts/embedded_targets.ts` measured version 2 by these rules, with these
// functions, before this section was rewritten: it meets target 1 and misses targets 2 and 3. For that case the
// project's rule is to ship the best model within the training budget, report the misses with the measured curves and
// the training the targets would need, and never loosen a bar. So target 1 is a bar here: a model that does not copy
// stops this notebook. Targets 2 and 3 are reported, met or missed by the rules above. A check then stops the notebook
// if the outcome differs from the one this prose describes, so a retrained model forces the prose to be updated. That
// check keeps the text honest; it is not evidence.

// %%
const n_ctx = lm.config.lm.n_ctx;
const spans = contextTargetSpans(n_ctx); // positions 65–128 and 513–1023
const valDocs = (await splitDocs(lm.config.lm_corpora, "validation")).docs;
const valAll = validationRows(encode(valDocs), 0, n_ctx);
const pooledRows = quick ? valAll.slice(0, 24) : valAll;
const overall = contextUse(emb.model, pooledRows, { label: "all validation text", ...spans });
if (!quick) {
  checkClose(
    overall.by_position.reduce((s, v) => s + v, 0) / n_ctx,
    lm.final_val_loss,
    1e-3,
    "validation loss vs the training record",
  );
}
const perCorpus = [];
for (const c of lm.config.lm_corpora) {
  const rows = validationRows(encode((await splitDocs([c], "validation")).docs), 0, n_ctx, quick ? 8 : 96);
  perCorpus.push(contextUse(emb.model, rows, { label: c, ...spans }));
}
const uses = [overall, ...perCorpus];
await saveAndShow(lossByPositionFigure(name, uses), `${name}_lm_loss_by_position`, { uses });
pl.DataFrame(uses.map((u) => ({
  text: u.label,
  rows: u.rows,
  "loss 65–128": f(u.early),
  "loss 513–1023": f(u.late),
  "late − early": f(u.diff),
  "95% low": f(u.diff_ci95?.[0] ?? null),
  "95% high": f(u.diff_ci95?.[1] ?? null),
})));

// %% [markdown]
// **Target 1: does the model copy?** Much of what GPT-2 gains from long context comes from copying: induction heads
// find an earlier occurrence of the current token and predict what followed it. The first occurrence of a random
// segment is unpredictable; its repeats are predictable only by copying. Below, the mean loss per repeat, then the
// probe by segment length (lengths 16–128 within the first 512 positions; the rule of `copyVerdict`).

// %%
const V = emb.model.cfg.d_vocab;
const induction = inductionRows(emb.model, { segment: 64, positions: 512, ids: [1, V], rows: quick ? 4 : 32 });
pl.DataFrame(induction.loss_by_repeat.map((loss, r) => ({ repeat: r + 1, "mean loss (nats)": f(loss) })));

// %%
const copyRows = copyDistance(emb.model);
const copy = copyVerdict(copyRows, undefined, "the shipped model");
pl.DataFrame(copyRows.map((r) => ({
  segment: r.segment,
  "no repeat distance a multiple of 64": r.aperiodic,
  "gain (nats)": f(r.gain),
  "second repeat's gain": f(r.second_gain),
})));

// %% [markdown]
// **Target 3: bits per byte.** The summed loss in bits over every position of the pooled rows, divided by the UTF-8
// bytes of the text predicted (`bitsPerByte`, reusing the losses above). Version 1's number comes from the pilots
// file; both models share the vocabulary, so nats per token compare too. Then all three targets in one table.

// %%
const pilotsFile = join(dataDir(), "embedded", "pilots.json");
const shippedV1 = (await loadPilots(pilotsFile)).find((p) => p.name === "shipped-v1");
const v1 = shippedV1?.bits_per_byte;
check(v1 !== undefined, `${pilotsFile}: no bits_per_byte of shipped-v1, the bar of target 3`);
const bpb = bitsPerByte(emb.model, emb.tokenMap, valDocs, n_ctx, {
  losses: overall,
  ...(quick ? { maxRows: pooledRows.length } : {}),
});
const ci = (c: readonly number[]) => `95% [${c.map((v) => v.toFixed(3)).join(", ")}]`;
const targets = {
  induction: induction.gain >= PILOT_TARGETS.induction_gain,
  copy_verdict: copy.verdict === "induction",
  context: overall.diff! <= -PILOT_TARGETS.context_gain && overall.diff_ci95![1] < 0,
  bits_per_byte: bpb.bits_per_byte < v1.bits_per_byte,
};
pl.DataFrame([
  {
    target: "1 · induction: repeats 2+ ≥ 2 nats below the first (64-token segment, 512 positions)",
    measured: `${induction.gain.toFixed(3)} nats (${ci(induction.gain_ci95)}, ${induction.rows} rows)`,
    met: targets.induction,
  },
  {
    target: "1 · copying by segment length: induction",
    measured: `${copy.verdict} (smallest aperiodic gain ${copy.aperiodic_min.toFixed(3)} nats)`,
    met: targets.copy_verdict,
  },
  {
    target: "2 · context: loss 513–1023 ≥ 0.05 nats below 65–128, 95% interval below 0 (pooled)",
    measured: `${overall.diff!.toFixed(3)} nats (${ci(overall.diff_ci95!)}, ${overall.rows} rows)`,
    met: targets.context,
  },
  {
    target: `3 · bits per byte below version 1's ${v1.bits_per_byte.toFixed(4)}`,
    measured: `${bpb.bits_per_byte.toFixed(4)} (${bpb.nats_per_token.toFixed(4)} nats per token, ${bpb.rows} rows; ` +
      `version 1 ${v1.nats_per_token.toFixed(4)})`,
    met: targets.bits_per_byte,
  },
]);

// %% [markdown]
// **Reading (full mode).** Version 2 **copies**. The first occurrence of a random segment costs 9.03 nats a token. By
// the fourth occurrence the cost is 2.40 nats, and from the fifth on 0.16–0.53. Over repeats 2+ the gain is 6.34
// nats (95% [6.20, 6.49], 32 rows), three times the bar. The second occurrence is only 0.52 nats easier than the
// first; the gain builds over the next two repeats. The probe calls it induction: every segment length gains
// 5.89–6.78 nats, the aperiodic ones at least 5.95. Version 1 gained 0.13 nats on the same test.
//
// It does **not** use distant natural context more than version 1, and models natural text slightly worse.
// - On all 421 validation rows, positions 513–1023 average 4.642 nats against 4.670 at positions 65–128. The
//   paired difference is −0.028 (95% [−0.088, 0.031]): not the 0.05 asked, and not resolved from zero.
// - No corpus resolves it: the addresses −0.015, the e-mails −0.014, the held-out book −0.045, every interval
//   spanning zero.
// - Bits per byte are 1.5245 against version 1's 1.5077 (4.645 against 4.594 nats per token).
// - Version 1, measured by the same functions, misses the context target too: −0.051 (95% [−0.110, 0.008]).
//
// The loss-by-position figure shows why. Most of the gain from context comes in the first ~30 positions; past
// position 64 the curve is nearly flat, for both spans alike. Copying predicts a natural text's rare repeated
// phrases, but at this scale little else of the text depends on what lies more than a few hundred tokens back.
// And 52% of version 2's training tokens were random ids or their copies (section 2), which teach copying and nothing
// of English: it read about 11.8M tokens of text, against version 1's 9.8M, with a wider model.

// %%
// the prose above describes full mode; QUICK mode measures few rows, and a QUICK retrain is a tiny model
if (!quick) {
  check(
    targets.induction && targets.copy_verdict,
    `target 1 missed: induction gain ${induction.gain.toFixed(3)} nats, copy verdict ${copy.verdict}`,
  );
  // consistency of the prose, not evidence: a retrained model that changes an outcome stops here
  check(
    !targets.context && !targets.bits_per_byte,
    `targets 2 and 3: the prose says both are missed, measured context ${targets.context}, bits per byte ` +
      `${targets.bits_per_byte}: update section 3`,
  );
} else if (!retrain) {
  check(induction.gain >= PILOT_TARGETS.induction_gain, `QUICK: the shipped model's induction gain ${induction.gain}`);
}
await showText(
  `induction gain ${induction.gain.toFixed(3)} nats, copy verdict ${copy.verdict}; context ${
    overall.diff!.toFixed(3)
  } nats (${ci(overall.diff_ci95!)}); bits per byte ${bpb.bits_per_byte.toFixed(4)} vs version 1's ${
    v1.bits_per_byte.toFixed(4)
  }`,
);

// %% [markdown]
// ### What the two misses would need
//
// The training record carries a curve: every 250 steps from step 1,750 (earlier points are the pilot's, in notebook
// 09), 24 validation rows measure the validation loss and the context difference. Each column below fits a
// least-squares line against log₁₀(tokens) over the last four points and extends it to the target (`extrapolateTokens`).
// Version 1's validation loss on the same 24 rows is the proxy of target 3. The training hours use this run's own
// rate on full rows. The cosine schedule had decayed to its floor by the last points, so a line through them
// describes a finished run more than a longer one. Treat these numbers as weak guides.

// %%
const curve = lm.curve ?? [];
check(curve.length >= 4, `LM record: ${curve.length} curve points, the extrapolation needs 4`);
const v1Val = shippedV1?.curve.at(-1)?.val_loss;
check(v1Val !== undefined, `${pilotsFile}: no validation loss of shipped-v1`);
const first = curve[0]!, last = curve.at(-1)!;
const tokensPerHour = (last.tokens - first.tokens) / (last.train_seconds - first.train_seconds) * 3600;
const valTokens = extrapolateTokens(curve.map((q) => [q.tokens, q.val_loss]), v1Val, "at_most");
const ctxTokens = extrapolateTokens(curve.map((q) => [q.tokens, q.ctx_diff]), -PILOT_TARGETS.context_gain, "at_most");
pl.DataFrame(curve.map((q) => ({
  step: q.step,
  "tokens (M)": f(q.tokens / 1e6),
  "validation loss (24 rows)": f(q.val_loss),
  "context difference (24 rows)": f(q.ctx_diff),
  "95% low": f(q.ctx_diff_ci95[0]),
  "95% high": f(q.ctx_diff_ci95[1]),
  "induction gain": f(q.induction_gain),
})));

// %%
const hours = (t: TokensToTarget | null) => (t === null ? NaN : f(t.tokens / tokensPerHour));
pl.DataFrame([
  {
    target: `3 (proxy) · validation loss on the 24 rows ≤ version 1's ${v1Val.toFixed(3)}`,
    "tokens on the trend (M)": valTokens === null ? NaN : f(valTokens.tokens / 1e6),
    "LM hours at this run's rate": hours(valTokens),
  },
  {
    target: "2 · context difference on the 24 rows ≤ −0.05",
    "tokens on the trend (M)": ctxTokens === null ? NaN : f(ctxTokens.tokens / 1e6),
    "LM hours at this run's rate": hours(ctxTokens),
  },
]);

// %% [markdown]
// **Reading.** The validation loss on the 24 rows falls from 4.95 to 4.77 nats over the last 10M tokens. On the trend
// it reaches version 1's 4.715 at about 30M tokens, 5M beyond this run. That is a proxy for target 3, not the target.
// At this run's rate on full rows (about 9.7M tokens an hour), the whole LM would take about 3 hours; with the SAEs
// that is past the 4-hour budget. A longer run also needs a longer schedule, whose curve this line does not describe.
// The context difference gives no trend to extend. On 24 rows every point lies between −0.085 and −0.047, each with an
// interval of about ±0.2. The last point already meets −0.05 (so the column shows step 3,000's tokens),
// yet all 421 rows give −0.028. A curve on all rows at several checkpoints would be needed before any number of tokens
// could be claimed for target 2. Within the budget, the targets that copying does not reach are out of reach for this
// model size and text.

// %%
// the reading's numbers come from this record: a retrained model that changes them stops here
if (!quick && !retrain) {
  check(
    valTokens !== null && !valTokens.met && Math.abs(valTokens.tokens / 1e6 - 30) < 1,
    `validation-loss trend: about 30M tokens in the prose, got ${JSON.stringify(valTokens)}`,
  );
  check(
    ctxTokens?.met === true,
    `context trend: the last 24-row point meets −0.05 in the prose: ${JSON.stringify(ctxTokens)}`,
  );
}

// %% [markdown]
// ## 4 · The SAEs at their training context
//
// Each SAE is evaluated on held-out web-like rows cut exactly as in training (128 tokens, BOS first): L0 and explained
// variance over non-BOS tokens, CE-loss recovered = (CE_zero − CE_spliced) / (CE_zero − CE_clean) with the SAE's
// reconstruction spliced in at every position (the bar; zeros can cost tens of nats, which flatters the score, so the
// table also gives it against mean ablation: every position replaced by the mean held-out activation, which in turn
// costs more than zeros at the last hook, where a constant residual gives confidently wrong logits),
// and the fraction of dead latents — latents that fire on none of the
// ~390k held-out web-like tokens. Bars: explained variance ≥ 0.8, CE recovered ≥ 0.8, dead < 10%, L0 in 10–80. How
// many latents look dead depends on how many tokens one looks at: the table also gives the silent fraction on the 256
// evaluation rows (~32k tokens) and on as many tokens as the training's dead window (50 steps × 4096 tokens); it falls
// as the sample grows, so most "silent" latents of a small sample are rare, not dead. First the ℓ1 sweep per hook (the
// final held-out numbers of each instance, dead counted on the held-out tokens) and the coefficient shipped, then the
// training curves of the shipped instances, then the table.
//
// **Why version 2's SAEs are narrower than version 1's.** Version 1's SAE recipe (expansion 16, lr 3e-3, two ℓ1
// coefficients) stopped on version 2 at `blocks.1` with 13–35% of latents dead on the held-out tokens, and narrower or
// slower variants stopped at `blocks.2` (23–49%; the README's table lists every run). The cause: ghost gradients revive
// a dead latent, it fires a few times on the batch that revived it and falls silent again, so a latent can look alive
// during training and never fire on text. A lower ℓ1 coefficient leaves fewer such latents. The shipped recipe trains
// four ℓ1 coefficients (0.15 × 0.18, 0.25, 0.5, 0.75) side by side at expansion 4 (d_sae 1,024) and lr 1e-3, and ships
// per hook the best-reconstructing instance within the bars: early hooks need a larger coefficient for L0 ≤ 80, later
// ones a smaller one for dead < 10%.

// %%
pl.DataFrame(saes.hooks.map((h) => ({
  hook: h.hook,
  "mean ‖x‖": Math.round(h.mean_norm * 100) / 100,
  "ℓ1 multiplier": h.l1_multiplier,
  "λ": h.l1_coefficient,
  sweep: h.sweep.map((p) =>
    `×${p.multiplier}: L0 ${p.l0.toFixed(1)}, EV ${p.explained_variance.toFixed(3)}, dead ${
      (p.dead_fraction * 100).toFixed(1)
    }%`
  ).join("; "),
  steps: h.steps,
  "minutes": Math.round(h.seconds / 6) / 10,
})));

// %%
const _saeTrainingSaved = await saveAndShow(saeTrainingFigure(saes), `${name}_sae_training`, saeTrainingData(saes));

// %%
const saeCfg = saes.config.sae;
const saeVal = encode((await splitDocs(saes.config.sae_corpora, "validation")).docs);
// QUICK: 64 evaluation rows and 400 rows for the dead count (a rough view); full: 256 and every held-out row
const quality = quick
  ? await evaluateEmbeddedSaes(emb.model, emb.saeDirs, saeVal, 0, saeCfg, 64, 400)
  : await evaluateEmbeddedSaes(emb.model, emb.saeDirs, saeVal, 0, saeCfg);
for (const q of quick ? [] : quality) {
  const rec = saes.hooks.find((h) => h.hook === q.hook);
  check(rec !== undefined, `${q.hook}: not in the SAE training record`);
  checkClose(q.explained_variance, rec.quality.explained_variance, 1e-3, `${q.hook} explained variance vs the record`);
  checkClose(q.ce_loss_recovered, rec.quality.ce_loss_recovered, 1e-3, `${q.hook} CE recovered vs the record`);
}
const r4 = (v: number) => Math.round(v * 1e4) / 1e4;
pl.DataFrame(quality.map((q) => ({
  hook: q.hook,
  d_sae: q.d_sae,
  L0: r4(q.l0),
  "explained variance": r4(q.explained_variance),
  "CE clean": r4(q.ce_clean),
  "CE spliced": r4(q.ce_spliced),
  "CE zero-ablated": r4(q.ce_zero),
  "CE mean-ablated": r4(q.ce_mean),
  "CE recovered (zero)": r4(q.ce_loss_recovered),
  "CE recovered (mean)": r4(q.ce_loss_recovered_mean),
  "dead fraction": r4(q.dead_fraction),
  "tokens (dead)": q.dead_tokens,
  "silent on fewer tokens": q.silent_by_tokens.slice(0, -1).map((t) =>
    `${(t.silent_fraction * 100).toFixed(1)}% of ${t.tokens}`
  ).join(", "),
  tokens: q.tokens,
})));

// %%
if (quick) {
  // fewer tokens: EV, CE recovered and L0 are checked; silent latents on 51k tokens are mostly rare, not dead
  checkSaeQuality(quality, { checkDead: false });
} else checkSaeQuality(quality);
await showText(
  `every SAE meets the bars (EV ≥ ${SAE_QUALITY_BARS.explained_variance}, CE recovered ≥ ` +
    `${SAE_QUALITY_BARS.ce_loss_recovered}, dead < ${SAE_QUALITY_BARS.max_dead_fraction}, L0 in ` +
    `[${SAE_QUALITY_BARS.l0.join(", ")}]) at context ${saeCfg.context_size}`,
);
emb.model.dispose();

// %% [markdown]
// **Reading (full mode).** Every hook meets every bar: L0 46.7–76.4, explained variance 0.909–0.965, CE recovered
// 0.960–0.986 against zero ablation and 0.950–0.980 against mean ablation. On this model the two baselines are close:
// zero ablation costs 7.2–9.3 nats, mean ablation 6.9–10.3 (version 1's `blocks.3.hook_resid_pre`: 33.5 against 7.7),
// and at `blocks.3.hook_resid_post` the mean is the harsher baseline. `blocks.1` meets the dead bar narrowly: 9.0% of
// its latents never fire on the 393,644 held-out tokens, and its silent fraction is still falling with the sample
// (17.1% on 32k tokens, 10.0% on 205k). The sweep table shows the trade the coefficient makes at every hook: each step
// up in ℓ1 lowers L0 and explained variance and, from `blocks.1` on, raises the dead fraction.

// %% [markdown]
// ## 5 · Retraining
//
// `deno task train-lm`, `deno task train-saes` and `deno task train-saes --control` (the control SAEs of notebook 11)
// rebuild `data/embedded/` and `data/manifest.json` from the npm text with the recipe in `lib/study_b/embedded.ts`
// (`defaultEmbeddedConfig()`), resuming from atomic checkpoints in `.cache/embedded_ckpt/` after an interruption; a
// NaN or exploding loss stops training with an error and keeps the last good checkpoint. `QUICK=1` runs a tiny model
// and SAEs for a few steps into `.quick/data/`; the test suite checks that path end to end, including that an
// interrupted and resumed run equals an uninterrupted one. `SAE_RETRAIN=1` makes this notebook retrain before it
// reports.
