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
// - **the model**: GPT-2 architecture (learned absolute positions, pre-LayerNorm blocks, GELU MLPs, tied unembedding)
//   with n_ctx 1024, trained on full 1024-token rows so every position is trained; a compact vocabulary of the GPT-2
//   ids the text uses, with an unknown token, stored beside the weights and applied by the loader;
// - **the SAEs**: one per `blocks.{L}.hook_resid_pre` plus the last `hook_resid_post`, trained only on 128-token rows
//   (n_ctx / 8, as 128 / 1024) with BOS at each row start, by the study's recipe (normalised MSE + ℓ1, unit-norm
//   decoder, geometric-median `b_dec`, ghost gradients for dead latents), two ℓ1 coefficients trained side by side
//   per hook and the best-reconstructing one with L0 in 10–80 and under 10% dead latents shipped.
//
// Everything lives in `data/` (Hugging Face layout for the model, SAELens folders for the SAEs) with a manifest of
// sha256 hashes, configs, seeds, splits, losses and the code version. This notebook **loads the shipped checkpoints**
// (verifying every hash), measures them afresh and checks the two quality bars: the model uses its context, and the
// SAEs reconstruct well at the context they were trained on. With `SAE_RETRAIN=1` it first retrains everything
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
  checkContextUse,
  checkSaeQuality,
  contextUse,
  evaluateEmbeddedSaes,
  inductionScore,
  lmTrainingData,
  lmTrainingFigure,
  lossByPositionFigure,
  SAE_QUALITY_BARS,
  saeTrainingData,
  saeTrainingFigure,
} from "@lib/study_b/embedded_report.ts";
import { copyDistance, copyVerdict } from "@lib/study_b/copy_distance.ts";
import { validationRows } from "@lib/lm/train.ts";

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
// Per-step training loss and the periodic validation loss, from the training record shipped with the checkpoint.

// %%
check(
  lm.history.length === lm.config.lm.total_steps,
  `LM record: ${lm.history.length} steps, expected ${lm.config.lm.total_steps}`,
);
const firstLoss = lm.history.slice(0, 10).reduce((s, e) => s + e.loss, 0) / 10;
check(lm.final_train_loss < firstLoss - 2, `LM training loss fell only from ${firstLoss} to ${lm.final_train_loss}`);
const _lmTrainingSaved = await saveAndShow(lmTrainingFigure(lm), `${name}_lm_training`, lmTrainingData(lm));

// %% [markdown]
// ## 3 · Does the model use its context?
//
// The loss at position j is the loss of predicting token j + 1 having seen tokens 0 … j. Validation documents are
// joined with `<|endoftext|>` and cut into 1024-token rows, so a row usually starts mid-document: early positions
// see little of the document, late ones a lot. A model that uses its context has a lower loss late in the row.
// The bar: the mean loss at positions 512–1023 clearly below positions 1–32 — here taken as at least 0.05 nats
// lower with the 95% interval of the per-row paired difference below zero. Per corpus, the long documents (addresses, book chapters)
// should gain most; the e-mails are short, so late positions of an e-mail row mostly see other e-mails.

// %%
const n_ctx = lm.config.lm.n_ctx;
const valAll = validationRows(encode((await splitDocs(lm.config.lm_corpora, "validation")).docs), 0, n_ctx);
const overall = contextUse(emb.model, quick ? valAll.slice(0, 24) : valAll, { label: "all validation text" });
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
  perCorpus.push(contextUse(emb.model, rows, { label: c }));
}
const uses = [overall, ...perCorpus];
await saveAndShow(lossByPositionFigure(name, uses), `${name}_lm_loss_by_position`, { uses });
const f = (v: number | null) => (v === null ? NaN : Math.round(v * 1e4) / 1e4);
pl.DataFrame(uses.map((u) => ({
  text: u.label,
  rows: u.rows,
  "loss 1–32": f(u.early),
  "loss 512–1023": f(u.late),
  "late − early": f(u.diff),
  "95% low": f(u.diff_ci95?.[0] ?? null),
  "95% high": f(u.diff_ci95?.[1] ?? null),
})));

// %% [markdown]
// **How strong is the effect? Modest, but clear: the bar is met on the pooled text.** On all validation text,
// positions 512–1023 are about 0.11 nats below positions 1–32 and the 95% interval of the per-row paired difference lies
// below zero. Most of the gain comes in the first ~20 positions (local statistics); the rest is a slow decline over the
// whole row. The long documents gain most: the addresses about 0.1 nats and the held-out book, whose rows are long
// continuous text, about 0.3. The short e-mails gain least and not resolvably, since late positions of an e-mail row
// mostly see other e-mails. GPT-2 small gains far more from long context (it copies, see below), so effects in study B
// that depend on the model *using* distant context are muted here, while effects of the SAE's own training window (the
// activations it never saw past position 128) are not. An earlier recipe (1,600 steps instead of 2,400) gained only
// 0.07 nats, with the interval reaching zero.
//
// The checks below assert the bar (at least 0.05 nats lower, paired interval below zero) on the pooled text and on the
// held-out book; QUICK mode evaluates a few rows and checks only the direction.

// %%
const book = perCorpus.find((u) => u.label === "moby-dick");
check(book !== undefined, "no held-out book rows");
// QUICK evaluates 24 pooled and 8 book rows: the direction is checked, the full bar only in full mode
if (quick) {
  check(
    overall.late! < overall.early,
    `all validation text: 512–1023 (${overall.late}) not below 1–32 (${overall.early})`,
  );
  check(book.late! < book.early, `held-out book: 512–1023 (${book.late}) not below 1–32 (${book.early})`);
} else {
  checkContextUse(overall);
  checkContextUse(book);
}
await showText([
  `all validation text: 512–1023 ${overall.late!.toFixed(3)} vs 1–32 ${overall.early.toFixed(3)} nats ` +
  `(paired difference ${overall.diff!.toFixed(3)}, 95% [${overall.diff_ci95!.map((v) => v.toFixed(3)).join(", ")}])`,
  `held-out book: 512–1023 ${book.late!.toFixed(3)} vs 1–32 ${book.early.toFixed(3)} nats ` +
  `(paired difference ${book.diff!.toFixed(3)}, 95% [${book.diff_ci95!.map((v) => v.toFixed(3)).join(", ")}])`,
].join("\n"));

// %% [markdown]
// ### Does the model copy? The induction test
//
// Much of what GPT-2 gains from long context comes from copying: induction heads find an earlier occurrence of the
// current token and predict what followed it. The standard test feeds rows of BOS then a segment of random token ids
// (here 256 ids drawn from the middle of the frequency-ranked vocabulary) repeated to fill the row. The first repeat is unpredictable; later repeats are predictable only by copying. A
// model with induction heads has a much lower loss on the later repeats (several nats); a model without them does
// not. The shipped model does not copy: its loss on the later repeats is about the same as on the first. That is why
// its context gain is mostly local and is largest on the book, whose chapters repeat words and names, which a head
// attending over the whole row can exploit without copying sequences. A model that formed induction heads would have
// to train much longer than the 60-minute budget allows. A copy-augmented recipe (`repeat_fraction` in the LM config
// copies a span of each chosen row later into the row) is available for larger budgets.

// %%
// ids of the compact vocabulary are ranked by frequency: draw from the middle ranks (not BOS, unknown or the
// commonest few, not the rarest)
const V = emb.model.cfg.d_vocab;
const induction = inductionScore(emb.model, {
  segment: n_ctx / 4,
  ids: [Math.floor(V / 64), Math.floor(V / 2)],
  rows: quick ? 2 : 8,
});
pl.DataFrame(induction.loss_by_repeat.map((loss, r) => ({ repeat: r + 1, "mean loss (nats)": f(loss) })));
// the prose above says the model does not copy: if a retrained model does, this stops so the prose is updated
check(Number.isFinite(induction.gain), `induction test: gain ${induction.gain}`);
if (!quick) {
  check(
    induction.gain < 0.5,
    `the model now copies (induction gain ${induction.gain.toFixed(3)} nats): update section 3's prose`,
  );
}
await showText(
  `induction test (${induction.rows} rows, segment ${induction.segment}): first repeat ${
    induction.loss_by_repeat[0]!.toFixed(3)
  } nats, later repeats lower by ${induction.gain.toFixed(3)} nats`,
);

// %% [markdown]
// **Copying by segment length.** A segment of 64 or 256 tokens cannot tell induction from a head that copies from a
// fixed distance back: every repeat distance is a multiple of 64, so a head looking exactly 128 positions back passes
// from the third repeat on. A model whose learned positional embeddings became periodic can learn such a head
// (notebook 09 found one in a recipe pilot). The probe of `lib/study_b/copy_distance.ts` repeats segments of nine
// lengths within the first 512 positions; its rule calls the copying **induction** only when every length none of
// whose repeat distances is a multiple of 64 (50, 75 and 100 tokens) gains at least 2 nats, the target's bar. A new
// default has to pass it as well as the induction target.

// %%
const copyRows = copyDistance(emb.model);
const copy = copyVerdict(copyRows, undefined, "the shipped model");
pl.DataFrame(copyRows.map((r) => ({
  segment: r.segment,
  "no repeat distance a multiple of 64": r.aperiodic,
  "gain (nats)": f(r.gain),
  "second repeat's gain": f(r.second_gain),
})));
// the prose above says the model does not copy: a retrained model that does stops here so the prose is updated
if (!quick) check(copy.verdict === "none", `copy-distance verdict "${copy.verdict}": update section 3's prose`);
await showText(
  `copying by segment length: ${copy.verdict} (64-token gain ${copy.gain64.toFixed(3)} nats, smallest gain at ` +
    `an aperiodic length ${copy.aperiodic_min.toFixed(3)} nats)`,
);

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
// as the sample grows, so most "silent" latents of a small sample are rare, not dead. First the ℓ1 sweep per hook (the final held-out numbers of each instance; dead = silent for the
// last 50 training steps) and the coefficient shipped, then the training curves of the shipped instances, then the
// table.

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
// ## 5 · Retraining
//
// `deno task train-lm` and `deno task train-saes` rebuild `data/embedded/` and `data/manifest.json` from the npm text
// with the recipe in `lib/study_b/embedded.ts` (`defaultEmbeddedConfig()`), resuming from atomic checkpoints in
// `.cache/embedded_ckpt/` after an interruption; a NaN or exploding loss stops training with an error and keeps the
// last good checkpoint. `QUICK=1` runs a tiny model and SAEs for a few steps into `.quick/data/`; the test suite
// checks that path end to end, including that an interrupted and resumed run equals an uninterrupted one.
// `SAE_RETRAIN=1` makes this notebook retrain before it reports.
