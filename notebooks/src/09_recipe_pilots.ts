// %% [markdown]
// # 09 · The embedded default's recipe: pilots
//
// Study B needs a model that **uses** its context: one that copies (induction heads) and whose loss keeps falling
// past the SAEs' 128-token training window. The first embedded default does neither (notebook 10: later repeats of a
// random segment only 0.1 nats easier than the first; loss flat past ~10 tokens). Before spending the 4-hour training
// budget, short **pilots** measure, for each candidate recipe, how both properties grow with training tokens.
//
// **What is measured** (every 50 steps of 8 × 1024 tokens, `lib/study_b/pilots.ts`), on held-out text and fixed before any
// pilot ran:
//
// - **induction gain**: rows of BOS then a random 64-token segment (ids from the middle of the frequency-ranked
//   vocabulary) repeated to fill 512 positions; the loss on the first occurrence minus the mean loss on repeats 2+.
//   Target of the shipped model: ≥ 2 nats.
// - **context difference**: on 24 validation rows of 1024 tokens spread over the pooled validation text, the mean
//   per-row difference of the loss over positions 513–1023 and over 65–128, with its paired 95% interval. Target:
//   ≤ −0.05 nats with the interval below zero.
// - **validation loss** over all positions of those rows (same 8192-token vocabulary in every pilot).
//
// **The first choice rule** (`chooseRecipe`, written before the numbers): at the largest token count every pilot
// reached, if any pilot has an induction gain of at least 0.5 nats, the largest induction gain wins (copying is what
// the first model lacked and what makes distant context useful); otherwise the lowest context difference wins. It was
// replaced,
// before the fourth pilot ran, by a second rule that judges recipes on full-length rows, and that by a third that
// counts only copying a fixed-offset head cannot fake (section "The choice"); the default recipe must be the third
// rule's pick, and this notebook stops otherwise.
//
// **How the pilots went, in order.** The first candidate, `copy` (the first model's shape, every row holding a copied
// span of its own text), had formed no induction by 4.1M tokens, although a copied span is an easy target once the
// heads exist. A synthetic experiment (next section) then separated a trainer defect from an optimisation obstacle:
// the trainer forms copying heads on short rows within a few hundred steps, and none form on rows of 1024 tokens in the
// same number of tokens. Two recipes were then piloted against that obstacle. `wide-sin-curriculum-copy`: d_model 256,
// positional embeddings started as sinusoids (still learned), and rows of 128 and then 256 tokens for the first 400
// steps. It formed copying on the short rows and lost it on rows of 1024, so a synthetic condition with the row length
// doubling step by step was run (it formed copying on rows of 1024 where a single jump did not), and the third recipe,
// `wide-sin-doubling-copy`, is the second with 200 more steps on rows of 512 before rows of 1024 (the same run as the
// second for its first 400 steps, up to float rounding: the attention code was restructured between the two runs).
// It kept copying on rows of 512 and lost it on rows of 1024. The per-repeat losses then showed what the second and
// third had learned: not induction, but a head looking back exactly half the trained row, the distance at which the
// copied-span augmentation put nearly every copy on short rows (section "Where the pilots copied"). The fourth
// recipe, `wide-sin-doubling-varied`, is the third with copies whose distance varies on every row length; the fifth,
// `wide-sin-doubling-dense`, copies each span 1–4 times back to back, so that about half of a short row is copies.
// Because the first rule had judged the doubling recipe before it reached rows of 1024, a second rule was written
// before the fourth pilot ran (section "The choice"); the first rule's pick is still shown. An experiment then asks
// what the switch to rows of 1024 does to copying that has formed (section "What the switch to rows of 1024 does"),
// and a probe over all 1024 positions shows where that copying works (section "Copying beyond the trained
// positions"). Three more recipes test remedies, each stopped once its question was answered:
// `wide-sin-doubling-dense-offsets` (short rows at random absolute positions, so every position is trained from the
// start), `wide-sin-doubling-dense-held` (positional embeddings held at their sinusoidal start while rows are short)
// and `wide-sin-dense-full` (rows of 1024 from the first step, 53% of each row copies). Last, a probe by segment
// length asked whether the copying formed on short rows was induction at all; it was not (section "Is the copying
// induction?"). Pilot points now also record the smallest gain at the lengths that tell the two apart
// (`induction_gain_aperiodic`); the points of the first eight recipes were measured before it existed. Four more
// recipes copy spans of random token ids instead of the row's own text (section "Copies of random tokens"). The third
// formed a copying head and showed that the dense recipes' back-to-back copies sit a quarter of the row back on short
// rows; the fourth draws span lengths evenly below that cap instead, and it formed induction, kept it on rows of 1024,
// and is the recipe the rule picks.

// The pilots are recorded in `data/embedded/pilots.json` (`deno run -A scripts/pilot_lm.ts --recipe NAME`, then
// `--export data/embedded/pilots.json`); this notebook only reads and plots them. Pilot wall times were measured on a
// shared 2-core machine (the load average is stored with each point), so they are not throughput numbers.

// %%
import pl from "nodejs-polars";
import { initBackend } from "@lib/engine";
import { check, dataDir, join } from "@lib/core";
import { saveAndShow, showText } from "@lib/plot";
import {
  chooseRecipe,
  chooseRecipeByAperiodicCopying,
  chooseRecipeOnFullRows,
  copyDistanceFigure,
  copyLocality,
  copyVerdict,
  defaultEmbeddedConfig,
  extrapolateTokens,
  loadCopyDistanceProbes,
  loadLongCopyProbes,
  loadPilots,
  loadSwitchPoints,
  longCopyFigure,
  PILOT_TARGETS,
  pilotFigure,
  repeatLossFigure,
  sameLmRecipe,
  switchFigure,
  type TokensToTarget,
} from "@lib/study_b";
import { inductionFormationFigure, lmStage, loadInductionFormation } from "@lib/lm";

await initBackend();
const pilots = await loadPilots(join(dataDir(), "embedded", "pilots.json"));
/** The pilot of that name; the notebook stops when pilots.json lacks it. */
const pilotNamed = (name: string) => {
  const p = pilots.find((c) => c.name === name);
  check(p !== undefined, `pilot ${name} is missing from pilots.json`);
  return p;
};
const f3 = (v: number) => Math.round(v * 1000) / 1000;
pl.DataFrame(pilots.map((p) => {
  const last = p.curve.at(-1)!;
  return {
    pilot: p.name,
    recipe: p.description,
    points: p.curve.length,
    "tokens (M)": Math.round(last.tokens / 1e4) / 100,
    "train minutes": Math.round(last.train_seconds / 6) / 10,
    "induction gain": f3(last.induction_gain),
    "context diff 513–1023 − 65–128": f3(last.ctx_diff),
    "95% interval": `[${last.ctx_diff_ci95.map(f3).join(", ")}]`,
    "validation loss": f3(last.val_loss),
  };
}));

// %%
for (const p of pilots.filter((q) => q.bits_per_byte !== undefined)) {
  const b = p.bits_per_byte!;
  await showText(
    `${p.name}: ${b.nats_per_token.toFixed(3)} nats per token, ${b.bits_per_byte.toFixed(3)} bits per byte on the ` +
      `pooled validation text (${b.rows} rows, ${b.bytes} bytes; ${(100 * b.unk_rate).toFixed(1)}% of predicted ` +
      `tokens are the unknown token) — the bar the new default must beat`,
  );
}

// %% [markdown]
// ## Why the first recipe did not copy: a synthetic experiment
//
// `lib/lm/induction_task.ts`: a 2-layer, d_model-64 model trained from scratch through the project's LM trainer on
// rows of uniformly random tokens (vocabulary 2048) whose second half repeats the first; the first half is
// unpredictable (≈ ln 2047 = 7.62 nats), the repeat is predictable by copying. Every condition trains 4096 tokens per
// step for 800 steps (`scripts/induction_formation.ts`, stored in `data/embedded/induction_formation.json`). Rows of 64
// tokens are the control: if the trainer (fused attention and its backward pass, AdamW) were broken, they would not
// copy either. The same model on rows of 1024 tokens is the question; two remedies are tried there, alone and
// together: sinusoidal starting values for the positional embeddings (every position then starts with the same
// relation to its predecessor, which a previous-token head needs at all 1024 positions) and 400 first steps on short
// rows; a condition added after the pilot below lost its copying puts those short rows at random absolute positions,
// so that every positional embedding is trained before the long rows; the last two grow the rows gently: 400 steps
// of rows of 512 first, and rows doubling 64, 128, 256, 512 (100 steps each) before 1024. The loss on the repeat is
// the mean over its targets that a copy can predict (the first token of the repeat and the row's last target, a fresh
// random token, are left out; an earlier version counted the last one, which biased the gain low by ln(2047)/half,
// 0.24 nats for rows of 64). These conditions repeat at exactly half the row, so, like the first three pilots' copies
// (below), they cannot tell a content-based induction head from a head fixed at that distance back; they separate a
// broken trainer from a hard optimisation, not one mechanism from the other. Two conditions added after that finding
// train on rows of 64 whose copies sit at a distance that varies from row to row (the evaluation rows are unchanged):
// one span of 16 tokens copied once to a random later place (a quarter of the row predictable, as in the fourth
// pilot), and a random segment of 8–32 tokens repeated to fill the row (most of it predictable). Three conditions added
// after the first two random-token pilots (section "Copies of random tokens") repeat segments of 16–64 tokens on rows
// of 128: as they are, with the pilots' learning rate of 2e-3, and with the pilots' sinusoidal start, each one run of
// one seed. Only the first forms copying within 800 steps (0.38 nats at step 700, 1.89 at 800); the other two end at
// 0.30 and 0.42. The third random-token pilot takes both changes back. These conditions were chosen after
// exploratory runs of the same experiment; they are a diagnosis, not a pre-registered test, and the check below is a
// sanity check on the control only.

// %%
const formation = await loadInductionFormation(join(dataDir(), "embedded", "induction_formation.json"));
pl.DataFrame(formation.runs.map((r) => {
  const last = r.curve.at(-1)!;
  const firstAbove = r.curve.find((q) => q.gain >= 1);
  return {
    condition: r.condition.name,
    steps: last.step,
    "tokens (M)": Math.round(last.tokens / 1e4) / 100,
    "loss on first half": f3(last.first_half),
    "loss on repeat": f3(last.second_half),
    "copying gain": f3(last.gain),
    "first step with gain ≥ 1": firstAbove ? firstAbove.step : "none",
  };
}));

// %%
const _formation = await saveAndShow(inductionFormationFigure(formation), "induction_formation", { formation });
const control = formation.runs.find((r) =>
  r.condition.half * 2 === 64 && (r.condition.copies ?? "repeat") === "repeat"
);
check(control !== undefined, "the synthetic experiment has no rows-of-64 control");
check(
  control.curve.at(-1)!.gain >= 2,
  `sanity: the trainer must learn to copy on rows of 64 (gain ${control.curve.at(-1)!.gain.toFixed(2)} < 2 nats)`,
);
// the reading of the rows-of-128 conditions must stay true of the data (a sanity check, not a test)
const rows128 = (suffix: string) => {
  const r = formation.runs.find((q) => q.condition.name === `rows of 128, segments of 16-64 repeated${suffix}`);
  check(
    r !== undefined,
    `the synthetic experiment has no condition "rows of 128, segments of 16-64 repeated${suffix}"`,
  );
  return r.curve.at(-1)!.gain;
};
check(
  rows128("") >= 1 && rows128(", lr 2e-3") < 1 && rows128(", sinusoidal start") < 1,
  `rows of 128 end at ${rows128("").toFixed(2)} (as they are), ${rows128(", lr 2e-3").toFixed(2)} (lr 2e-3), ` +
    `${rows128(", sinusoidal start").toFixed(2)} (sinusoidal start); the reading says only the first copies`,
);

// %% [markdown]
// ## Curves against training tokens
//
// The shipped first model (`shipped-v1`, plain text, 4 rows per step, 9.8M tokens) is one point, measured the same way.
// The `copy` pilot ran 150 steps on its own; its later points come from the embedded default's own run of the same
// recipe, resumed from the pilot's checkpoint (its cosine schedule spans 4000 steps instead of 3000, a learning-rate
// difference below 0.1% over the pilot's steps), which records the same measurement every 250 steps.
// `wide-sin-curriculum-copy` trains on rows of 128 tokens until step 200 (1.6M tokens) and 256 until step 400 (3.3M),
// so before 3.3M tokens its context difference compares trained positions (65–128) with positions 513–1023 that no row
// has reached yet; only the points from 3.3M tokens on measure context use as the target means it. The same holds for
// `wide-sin-doubling-copy` and `wide-sin-doubling-varied` before 4.9M tokens (rows of 512 from 3.3M to 4.9M); their
// induction rows (512 positions) are trained positions from 3.3M tokens on; the same holds for the dense,
// dense-offsets and dense-held pilots (all doubling; dense-offsets trains every position, but short contexts only,
// before 4.9M tokens). `wide-sin-dense-full` trains rows of 1024 from the first step. Wall-clock minutes were measured at load
// averages of 2 to 8 (the fourth pilot at about 2) and are not throughput numbers.

// %%
const _induction = await saveAndShow(pilotFigure(pilots, "induction_gain"), "recipe_pilots_induction", { pilots });
const _context = await saveAndShow(pilotFigure(pilots, "ctx_diff"), "recipe_pilots_context", { pilots });
const _val = await saveAndShow(pilotFigure(pilots, "val_loss"), "recipe_pilots_val_loss", { pilots });

// %% [markdown]
// ## Where the trends would reach the targets
//
// A least-squares line of each metric against log₁₀(tokens) over a pilot's last four points, extended to the target.
// This is an extrapolation, not a measurement, and a weak one for induction, which forms abruptly: a flat curve
// says only that the heads have not formed yet. A pilot whose last point already meets a target shows "met at" that
// point's tokens. On the context difference that is a 24-row point with a wide interval, not the target itself, which
// notebook 10 measures on all validation text with its interval. The last column extends the validation loss on the
// same 24 rows to version 1's (the `shipped-v1` point): where a pilot would model text as well as the shipped model,
// the proxy of the bits-per-byte target (both share one vocabulary, so nats per token compare).

// %%
const v1Val = pilots.find((p) => p.name === "shipped-v1")?.curve.at(-1)?.val_loss;
check(v1Val !== undefined, "pilots.json: no shipped-v1 point, the validation-loss bar of the last column");
// a trend so flat that its crossing lies past 10¹² tokens is reported as such, not as a number
const fmt = (t: TokensToTarget | null) =>
  t === null
    ? "not on the trend"
    : t.met
    ? `met at ${(t.tokens / 1e6).toFixed(1)}M`
    : t.tokens > 1e12
    ? "past 10¹² (flat trend)"
    : `${(t.tokens / 1e6).toFixed(1)}M`;
// the context target also asks for the interval below zero: a last point that meets −0.05 with an interval reaching
// zero is not met
const fmtContext = (p: (typeof pilots)[number]) => {
  const t = extrapolateTokens(p.curve.map((q) => [q.tokens, q.ctx_diff]), -PILOT_TARGETS.context_gain, "at_most");
  const last = p.curve.at(-1) as (typeof p.curve)[number];
  return t?.met && last.ctx_diff_ci95[1] >= 0
    ? `${last.ctx_diff.toFixed(3)} at ${(t.tokens / 1e6).toFixed(1)}M, interval reaches 0`
    : fmt(t);
};
pl.DataFrame(
  pilots.filter((p) => p.curve.length >= 3).map((p) => ({
    pilot: p.name,
    "tokens to induction gain ≥ 2": fmt(
      extrapolateTokens(p.curve.map((q) => [q.tokens, q.induction_gain]), PILOT_TARGETS.induction_gain, "at_least"),
    ),
    "tokens to context diff ≤ −0.05": fmtContext(p),
    [`tokens to validation loss ≤ ${v1Val.toFixed(3)}`]: fmt(
      extrapolateTokens(p.curve.map((q) => [q.tokens, q.val_loss]), v1Val, "at_most"),
    ),
  })),
);

// %% [markdown]
// ## Where the pilots copied: content, or a fixed distance back
//
// The first three pilots' copying came and went with the row length. The copied-span augmentation explains it: a
// span of 32–384 tokens was cut to at most half the row, so on rows of 128 positions 91% of copies were cut to 64
// tokens, started at position 1 and landed at 65 — always half a row back (73% on rows of 256, 37% on rows of 512;
// `tests/lm_train_test.ts`). A head that attends a fixed distance back predicts such copies without reading content,
// and it predicts nothing once the distance varies, as it does on rows of 1024. The induction rows can tell the two
// apart (`copyLocality`, rule written before the fourth pilot reached rows of 256): the second occurrence of the
// segment (positions 64–127) can be copied only from 64 back, a distance no fixed-offset head of rows of T ≥ 256
// uses, while the repeats starting at T/2 or later also lie a whole T/2 after an earlier copy. A point is
// **fixed-offset** when the far gain is ≥ 1 nat and the near gain below a quarter of it, **content** when the near
// gain is ≥ 1 nat and at least half the far gain, **none** when neither reaches 1 nat, **mixed** otherwise. Rows of
// 128 have one repeat and rows of 1024 put no repeat past T/2 of the 512-position test, so those points are not
// judged. The fourth pilot, `wide-sin-doubling-varied`, changes only the augmentation: spans of 32–256 tokens cut to a
// quarter of the row, so the copy's start and distance vary on every row length (64 distinct distances on rows of 128,
// the most common one under 10% of rows). The fifth, `wide-sin-doubling-dense`, copies each span 1–4 times back to back
// (spans of 16–256 tokens, at most a quarter of the row): about 55% of a row of 128 and 31% of a row of 1024 are
// copies, at a distance that still varies from row to row. Its points on rows of 512 show what the rule can and
// cannot see: the second occurrence weakens while the repeats between it and T/2, which no head fixed at T/2 can
// predict, stay copied (the descriptive column), so the rule's fixed-offset verdicts there are not a T/2 head.

// %%
const candidates = pilots.filter((p) => p.name !== "shipped-v1");
const locality = candidates.flatMap((p) =>
  p.curve.flatMap((q) => {
    const r = copyLocality(q, lmStage(p.config.lm, q.step - 1).ctx);
    return r === null ? [] : [{
      pilot: p.name,
      step: r.step,
      "trained row": r.trained_ctx,
      "gain, 2nd occurrence": f3(r.near_gain),
      "gain, repeats from T/2": f3(r.far_gain),
      "gain, repeats between (descriptive)": r.mid_gain === null ? "—" : f3(r.mid_gain),
      verdict: r.verdict,
    }];
  })
);
pl.DataFrame(locality);

// %%
const atSteps = [200, 400, 600, 800];
const lossSeries = ["wide-sin-doubling-copy", "wide-sin-doubling-dense"].flatMap((name) => {
  const p = candidates.find((c) => c.name === name);
  return p === undefined
    ? []
    : p.curve.filter((q) => atSteps.includes(q.step)).map((point) => ({ pilot: name, point }));
});
const _repeats = await saveAndShow(repeatLossFigure(lossSeries), "recipe_pilots_repeat_loss", { series: lossSeries });
const judged = (name: string) => locality.filter((r) => r.pilot === name);
for (const name of ["wide-sin-curriculum-copy", "wide-sin-doubling-copy"]) {
  const off = judged(name).filter((r) => r.verdict === "fixed-offset").length;
  check(
    judged(name).length > 0 && off === judged(name).length,
    `${name}: ${off} of ${judged(name).length} judged points are fixed-offset; the prose says all are`,
  );
}
for (const name of ["wide-sin-doubling-varied", "wide-sin-doubling-dense"]) {
  const rows = judged(name);
  check(rows.length > 0, `the ${name} pilot has no judged point`);
  const tally = ["content", "mixed", "fixed-offset", "none"].map((v) =>
    `${rows.filter((r) => r.verdict === v).length} ${v}`
  );
  await showText(`${name}: ${rows.length} judged points: ${tally.join(", ")}`);
}

// %% [markdown]
// ## What the switch to rows of 1024 does
//
// `wide-sin-doubling-dense` copied by content on rows of 256 and 512 and lost it within 50 steps of rows of 1024,
// and its training loss rose at the switch (the copies in its own training rows were no longer predicted), while the
// validation loss kept falling. To find what about the switch does this, `scripts/switch_experiment.ts` trains four
// arms for 100 steps from one checkpoint at the switch (step 600, the same run repeated to that step), each with one
// setting changed, and measures each arm like a pilot point every 25 steps: `recipe` (rows of 1024, the pilot
// itself), `stay512` (rows of 512 go on; for a causal model this is also rows of 1024 with the loss counted only on
// positions below 512), `lr10` (rows of 1024 at a tenth of the learning rate), `offset512` (rows of 512 at random
// absolute offsets in 0–512, so positions 512–1023 are trained without any context longer than 512).
// Two more arms were added after those four had run, each testing one explanation of the loss: `wpe1024` (rows of
// 1024 whose first 50 steps update only the positional embeddings, `wpe_warmup_steps`: if the untrained embeddings of
// positions 512–1023 are the whole problem, fitting them first should spare the copying) and `copies12` (rows of 1024
// with up to 12 back-to-back copies, 53% of each row a copy as on rows of 256: if the smaller share of copies on long
// rows is the problem, this should keep it; stopped after 75 steps to free the machine for the next pilot).

// %%
const switchAll = await loadSwitchPoints(join(dataDir(), "embedded", "switch_experiment.jsonl"));
// the checkpoint every arm starts from, measured the same way (arm "checkpoint")
const atSwitch = switchAll.find((q) => q.arm === "checkpoint");
check(atSwitch !== undefined && atSwitch.step === atSwitch.from, "the switch experiment has no checkpoint point");
const switchPoints = switchAll.filter((q) => q.arm !== "checkpoint");
pl.DataFrame(switchAll.map((q) => ({
  arm: q.arm,
  step: q.step,
  "train loss": f3(q.train_loss),
  "validation loss": f3(q.val_loss),
  "induction gain": f3(q.induction_gain),
  "loss by repeat": q.induction_loss_by_repeat.map((v) => v.toFixed(2)).join(" "),
})));

// %%
const _switch = await saveAndShow(switchFigure(switchPoints, atSwitch), "recipe_pilots_switch", {
  points: switchPoints,
  start: atSwitch,
});
// the reading below describes these single runs; it must stay true of the data (a sanity check, not a test)
const lastOf = (arm: string) => switchPoints.filter((q) => q.arm === arm).at(-1)!.induction_gain;
for (const arm of ["stay512", "lr10", "offset512"]) {
  check(
    lastOf("recipe") < lastOf(arm),
    `switch experiment: the recipe arm (${lastOf("recipe").toFixed(2)}) no longer ends below ${arm} (${
      lastOf(arm).toFixed(2)
    }); the reading says it does`,
  );
}

// %% [markdown]
// **Reading the arms.** Single runs with four induction rows per point, so exploratory, not tests. From 7.00 nats at the
// checkpoint, rows of 1024 at the full learning rate end at 0.61; rows of 512 continued keep 3.80 (noisy: 4.57, 6.05,
// 3.55, 3.80); rows of 1024 at a tenth of the learning rate decay steadily, to 3.07 at step 700 and on to 2.01 at step
// 900 (steps 750–900 come from a second run of the arm a session later, which agrees with the first to about 1e-7 at
// steps 650 and 700); rows of 512 at random offsets end
// at 2.57 while their training loss falls from 4.83 to 4.31. Those offset rows start 0.70 nats worse in training loss
// than rows of 512 at offset 0 (4.83 against 4.12 over the first 25 steps; same kind of rows, same share of copies):
// the positions beyond 512, never trained before the switch, carry loss. The two explanations tested next both fail.
// Fitting the positional embeddings first (`wpe1024`) does not lower the long rows' training loss during its 50
// embedding-only steps (4.97 and 4.92, the recipe arm 4.97 and 4.88), and once every parameter trains, copying falls
// as in the recipe arm (1.74, 1.20, 0.65, 0.61 over steps 675–750). Twelve copies per row (`copies12`, 53% of each
// row a copy) fall like the recipe (2.45, 1.33, 1.30 at steps 625–675, against 1.99, 1.22, 0.99), and the training
// loss stays at 4.90–4.95, so the model predicts its long rows' copies no better than with fewer of them. Keeping the
// spans at most 128 tokens (`span128`: on rows of 1024 the copy distances stay those of rows of 512) changes nothing
// either (1.93, 1.27, 0.90, 0.56), with or without the embedding warm-up (`span128wpe`: 4.71, 4.03, 1.67, 0.95).

// %%
// the reading above describes these single runs; it must stay true of the data (a sanity check, not a test)
for (const arm of ["wpe1024", "span128", "span128wpe"]) {
  check(lastOf(arm) < 1, `switch experiment: arm ${arm} ends at ${lastOf(arm).toFixed(2)}; the reading says below 1`);
}
check(lastOf("copies12") < 1.5, `switch experiment: copies12 ends at ${lastOf("copies12").toFixed(2)}, not below 1.5`);

// %% [markdown]
// ## Copying beyond the trained positions
//
// The pilot probe caps its induction rows at the longest row trained so far, so it never asks whether copying learned
// on rows of 512 works at positions 512–1023. `scripts/long_copy_probe.ts` asks it of single checkpoints: the same
// random 64-token segment repeated over all 1024 positions, loss per repeat. If copying carried over, the repeats past
// position 512 would be as easy as those before it.

// %%
const longCopy = await loadLongCopyProbes(join(dataDir(), "embedded", "long_copy_probe.jsonl"));
pl.DataFrame(longCopy.map((p) => ({
  checkpoint: p.label,
  "gain before 512": f3(p.gain_early),
  "gain from 512 on": f3(p.gain_late),
  "loss by repeat": p.loss_by_repeat.map((v) => v.toFixed(1)).join(" "),
})));

// %%
const _longCopy = await saveAndShow(longCopyFigure(longCopy), "recipe_pilots_long_copy", { probes: longCopy });
pl.DataFrame(longCopy.map((p) => ({
  checkpoint: p.label,
  "wpe norm, positions 1–511": f3(p.wpe.before.mean_norm),
  "wpe norm, 512–1023": f3(p.wpe.from.mean_norm),
  "neighbour cosine, 1–511": f3(p.wpe.before.mean_neighbour_cosine),
  "neighbour cosine, 512–1023": f3(p.wpe.from.mean_neighbour_cosine),
})));

// %% [markdown]
// **Reading.** At the end of its rows of 512 the dense pilot copies before position 512 (7.00 nats) and not at all
// after it (−0.14: every repeat from position 512 on is as hard as the first occurrence). Its learned positional
// embeddings of positions 1–511 are about 0.68 long and neighbouring rows have a cosine of 0.47, so adjacent positions
// are distinct; the untrained rows are still the sinusoidal start (0.29 long, shrunk by weight decay) whose neighbours
// have a cosine of 0.97. The copying it learned reads position through embeddings fitted position by position, so it
// stops where the fitted positions stop, and 200 steps on rows of 1024 leave little copying on either side (0.33 and
// 0.25). With the embeddings held at the sinusoidal start (`wide-sin-doubling-dense-held`), what copying there is is the
// same on both sides of 512 (0.62 and 0.66 at step 425, 0.37 and 0.37 at step 600), but there is little of it (the
// closing reading).

// %% [markdown]
// ## Is the copying induction? Copying by segment length
//
// The induction test repeats one 64-token segment, so every repeat distance (64, 128, 192, …) is a multiple of 64: a
// head that copies from a fixed distance back, such as exactly 128 positions, passes it from the third repeat on
// without matching any content. `scripts/copy_distance_probe.ts` (`lib/study_b/copy_distance.ts`) repeats segments of
// nine lengths within the first 512 positions. A model that copies by content gains at every length; a fixed-offset
// head only where some repeat distance is a multiple of its offset. At 50, 75 and 100 tokens no repeat distance within
// 512 positions is a multiple of 64 ("aperiodic"). The rule, written after the dense pilot's step-600 checkpoint had
// prompted the probe and before it was applied to any other checkpoint: **induction** when every aperiodic length
// gains at least 2 nats (the target's bar), **fixed-offset** when the 64-token segment reaches 2 nats and some
// aperiodic length does not, **none** otherwise. The probe also records the mean cosine of positional-embedding rows
// p and p + lag over positions 1–511: a head can only look a fixed distance back through rows that repeat.

// %%
const copyDist = await loadCopyDistanceProbes(join(dataDir(), "embedded", "copy_distance_probe.jsonl"));
const verdicts = copyDist.map((p) => ({ probe: p, ...copyVerdict(p.by_segment, undefined, p.label) }));
pl.DataFrame(verdicts.map(({ probe, verdict, gain64, aperiodic_min }) => ({
  checkpoint: probe.label,
  ...Object.fromEntries(probe.by_segment.map((r) => [`gain ${r.segment}`, f3(r.gain)])),
  "aperiodic lengths": probe.by_segment.filter((r) => r.aperiodic).map((r) => r.segment).join(", "),
  "64-token gain": f3(gain64),
  "smallest aperiodic gain": f3(aperiodic_min),
  verdict,
})));

// %%
const _copyDist = await saveAndShow(copyDistanceFigure(copyDist), "recipe_pilots_copy_distance", { probes: copyDist });
pl.DataFrame(copyDist.map((p) => ({
  checkpoint: p.label,
  ...Object.fromEntries(p.wpe_lag_cosine.map((c) => [`cosine at lag ${c.lag}`, f3(c.cosine)])),
})));

// %% [markdown]
// **Reading.** The dense pilot's copying at the end of its rows of 512 is a fixed-offset head, not induction. (The
// checkpoint probed is a rerun of the recipe to step 600 with the current code; it drifted from the run in the curves
// above after step 400, 6.84 against 7.02 nats at step 400 and 5.81 against 6.53 at step 600, with the same per-repeat
// pattern.) Every segment length that divides 128 gains 5.3–6.2 nats, but only where an earlier copy lies a multiple
// of 128 back: the 16- and 32-token segments from position 128 on, the 48-token segment from 384 = 3 × 128 on, the
// 64-token segment from its third repeat on (its second, 64 back, gains 0.7). The aperiodic lengths gain nothing
// (−0.16 to 0.00). Its positional embeddings repeat: rows 128 apart have a mean cosine of 0.67, rows 64 apart 0.50,
// rows 100 apart 0.02 (neighbours 0.47). 128 is the row length of the curriculum's first stage: when the rows grew,
// reusing the embeddings of positions already trained was the cheapest way to make the new positions work. A
// hand-built one-layer model whose only head looks 128 back gives the same pattern, and a hand-built two-layer
// induction circuit gains at every length (`tests/copy_distance_test.ts`), so the probe can tell the two. The shipped
// version 1 copies at no length (at most 0.40 nats, at 16 tokens; its lag cosines are flat, 0.13–0.18). Two consequences.
// The switch experiment and the probe over all 1024 positions above measured how this fixed-offset head is lost, not
// induction. And the 64-token test, which the induction target uses, passes a model without induction, so notebook 10
// now runs this probe too and a new default must pass both.
//
// The same head was there from the start of the curriculum. The dense recipe, run again to step 400 and probed over
// the 256 positions its rows of 256 had trained (the lengths that fit twice; 50, 75, 80 and 100 tokens are aperiodic
// there), copies 4.5–6.8 nats at 16, 32 and 64 tokens and at most 0.34 at the aperiodic lengths, at step 300 and at
// step 400; rows 64 apart have a cosine of 0.65–0.68 and rows 100 apart 0.01–0.07. So its strong second occurrence
// on rows of 256 (64 back, 6.12 nats at step 400), which the copy-locality rule called content, is a head looking 64
// back. Without a curriculum there is no such head and no copying either: `wide-sin-dense-full` at step 1000 (rows of
// 1024 from the first step, 8.2M tokens) gains 0.16–0.76 nats at every length, and its embeddings do not repeat (lag
// cosines fall smoothly from 0.49 for neighbours to 0.16 at lag 128). None of these pilots formed induction; the
// first that did is read in the section "Copies of random tokens" (its probes are the last four rows above).

// %%
// the reading must stay true of the data (a sanity check, not a test)
const verdictOf = (recipe: string, step?: number) =>
  verdicts.find((v) => v.probe.recipe === recipe && (step === undefined || v.probe.step === step));
const expected: [string, number | undefined, string][] = [
  ["wide-sin-doubling-dense", 600, "fixed-offset"],
  ["wide-sin-dense-full", 1000, "none"],
  ["wide-sin-doubling-dense", 300, "fixed-offset"],
  ["wide-sin-doubling-dense", 400, "fixed-offset"],
  ["shipped-v1", undefined, "none"],
];
for (const [recipe, step, want] of expected) {
  const v = verdictOf(recipe, step);
  check(v !== undefined, `copy_distance_probe.jsonl has no probe of ${recipe}${step ? ` at step ${step}` : ""}`);
  check(v.verdict === want, `${v.probe.label}: verdict ${v.verdict}; the reading says ${want}`);
}

// %% [markdown]
// ## The choice
//
// The first rule compares the pilots at the largest token count all of them reached (4.1M tokens, set by `copy`, when
// it was replaced; 3.7M now, set by the stopped `wide-sin-doubling-dense-offsets`), which for the doubling recipes
// falls while they still train on short rows; it picked a recipe whose copying was lost on rows of 1024. The second rule (`chooseRecipeOnFullRows`, written and committed before any point of the
// fourth pilot existed) judges each pilot at its last point and admits only pilots with at least 200 steps on
// full-length rows there; then the same order as before: the largest induction gain if any candidate reaches 0.5
// nats, else the lowest context difference. The third rule (`chooseRecipeByAperiodicCopying`, written after the probe
// by segment length and before any pilot point recorded the aperiodic gain) is the second with copying judged only by
// `induction_gain_aperiodic`, so a fixed-offset head cannot win; a point measured before that field existed counts as
// not copying. The default recipe must be the third rule's pick; the first two rules' picks are shown for the record.

// %%
await showText(
  `${candidates.length} recipe(s) piloted at n_ctx 1024: ${candidates.map((p) => p.name).join(", ")}` +
    (candidates.length < 3 ? " — fewer than the three the issue asks for; the comparison is incomplete" : ""),
);
const first = chooseRecipe(candidates);
const second = chooseRecipeOnFullRows(candidates);
const choice = chooseRecipeByAperiodicCopying(candidates);
const shipped = defaultEmbeddedConfig();
const match = candidates.find((p) =>
  sameLmRecipe(p.config.lm, shipped.lm) && JSON.stringify(p.config.model) === JSON.stringify(shipped.model) &&
  JSON.stringify(p.config.vocab) === JSON.stringify(shipped.vocab) &&
  (p.config.wpe_init ?? "normal") === (shipped.wpe_init ?? "normal")
);
check(match !== undefined, "the default recipe (defaultEmbeddedConfig) is none of the pilots");
check(
  match.name === choice.name,
  `the default recipe is pilot "${match.name}", but the choice rule picks "${choice.name}" (${choice.reason})`,
);
await showText(
  `first rule (for the record): "${first.name}" — ${first.reason}\n` +
    `second rule (for the record): "${second.name}" — ${second.reason}\n` +
    `third rule, candidates ${choice.candidates.join(", ")}: "${choice.name}" — ${choice.reason}\n` +
    `default recipe (defaultEmbeddedConfig; its full run is version 2, notebook 10): pilot ` +
    `"${choice.name}" (${match.description}); a full run is ` +
    `${shipped.lm.total_steps} steps × ${shipped.lm.batch_rows} rows × ${shipped.lm.n_ctx} tokens ` +
    `(${((shipped.lm.total_steps * shipped.lm.batch_rows * shipped.lm.n_ctx) / 1e6).toFixed(1)}M tokens)`,
);

// %% [markdown]
// ## Where each pilot peaked
//
// The rules look at one point per pilot; the curves also show whether copying formed at some point and was lost.
// For each pilot, its largest induction gain, where it occurred, and the last point.

// %%
pl.DataFrame(candidates.map((p) => {
  const peak = p.curve.reduce((a, b) => (b.induction_gain > a.induction_gain ? b : a));
  const last = p.curve.at(-1)!;
  return {
    pilot: p.name,
    "peak induction gain": f3(peak.induction_gain),
    "peak at tokens (M)": Math.round(peak.tokens / 1e4) / 100,
    "last induction gain": f3(last.induction_gain),
    "last aperiodic gain": typeof last.induction_gain_aperiodic === "number"
      ? f3(last.induction_gain_aperiodic)
      : "not measured",
    "last at tokens (M)": Math.round(last.tokens / 1e4) / 100,
    "target ≥ 2 met at the end": last.induction_gain >= PILOT_TARGETS.induction_gain,
  };
}));

// %% [markdown]
// **Reading.** Twelve recipes. The first eight give three findings; the last four, which copy random tokens, are
// read in the last two sections.
//
// - **The first three pilots' copying was not induction.** Every judged point of `wide-sin-curriculum-copy` and
//   `wide-sin-doubling-copy` is fixed-offset (second occurrence ≤ 0.78 nats easier than the first, repeats from half
//   the row 1.9–8.3 nats easier): a head looking back exactly half the trained row, where the augmentation put nearly
//   every copy on short rows. The synthetic task cannot tell the two either (its copies sit half a row back); its two
//   later conditions show how much harder copying by content is: one span of a quarter of the row copied at a varying
//   distance gives 0.041 nats after 800 steps, a segment repeated to fill the row 6.84.
// - **The copying that forms on short rows is a fixed-offset head, not induction.** Varied single copies
//   (`wide-sin-doubling-varied`) never copied (≤ 0.25 nats to 6.6M tokens); spans copied 1–4 times back to back
//   (`wide-sin-doubling-dense`) copied on rows of 128–512 (1.17 nats at 1.6M tokens, 7.02 at 3.3M, 6.53 at 4.9M) and
//   lost it within 50 steps of rows of 1024 (1.12 at 5.3M, 0.33 at 6.6M). At the end of its rows of 512 that copying
//   is a head looking back a multiple of 128 positions through positional embeddings that repeat with the first
//   stage's row length (section "Is the copying induction?"; whether its copying on rows of 256, from 64 back, was
//   content is not known: no checkpoint of that stage was probed). That is why it works only before position 512
//   (7.00 nats before, none after) and why none of the changes at the switch keeps it: the switch experiment measured
//   the loss of this head. The copy-locality rule above judged its four points on rows of 256 content (the second
//   occurrence, 64 back, 3.0–6.3 nats easier) and its last two on rows of 512 fixed-offset; it could not see a head
//   looking back 64 or 128 positions on every row length, as periodic embeddings allow.
// - **Three remedies that train or share every position before rows of 1024 do not form copying in this budget.**
//   Short rows at random absolute positions (`wide-sin-doubling-dense-offsets`) reached at most 0.18 nats by step
//   450 (the same recipe at offset 0: 7.02 at step 400); embeddings held at the sinusoidal start
//   (`wide-sin-doubling-dense-held`) at most 0.48 by step 600, the same on both sides of position 512 and flat from
//   the second occurrence on (a boost for tokens seen before, not sequence copying), 0.19 at step 800. Each was stopped
//   once its question was answered. Rows of 1024 from the first step with 53% of each row copies
//   (`wide-sin-dense-full`, run again to step 1000 with the current code: its curve replaces the earlier run's, which
//   stopped at step 400 and agrees with it to about 1e-6 at step 50) copy at no point: at most 0.33 nats, 0.19–0.33
//   from step 550 to 1000 (8.2M tokens) with no upward trend. Its embeddings do not repeat (lag cosines fall smoothly
//   from 0.49 for neighbours to 0.16 at lag 128) and the probe by segment length finds no copying at any length
//   (0.16–0.76 nats; section "Is the copying induction?"), so without a curriculum there is no fixed-offset head, and
//   no induction either in this budget.
//
// The second and third rules judge every pilot at its last point. Of the nine candidates (pilots with 200 steps on
// rows of 1024), one copies there: `wide-random-offsets-lr1e3-within`, with an induction gain of 6.35 nats and an
// aperiodic gain of 5.95 at step 3000, the end of version 2's run (5.60 and 5.22 at the pilot's own last point, step
// 1600; section "Copies at varied distances"); every other candidate is below 0.5 on
// the second rule's measure and has no aperiodic gain of 0.5 on the third's. Both rules pick it. The first rule, shown
// for the record, still picks the dense recipe, whose copying was a fixed-offset head. `defaultEmbeddedConfig` is the
// picked recipe run to the end of its 3000-step schedule: version 2 of the embedded default (notebook 10). Its run
// resumed from this pilot's step-1600 checkpoint, the same configuration; 25 steps of that run from the pilot's
// step-1575 checkpoint reproduced the pilot's step-1600 checkpoint byte for byte, Adam moments included.

// %%
// the reading must stay true of the data (a sanity check, not a test): the three remedy pilots never reach 0.5 nats
for (const name of ["wide-sin-doubling-dense-offsets", "wide-sin-doubling-dense-held", "wide-sin-dense-full"]) {
  const p = pilotNamed(name);
  const peak = Math.max(...p.curve.map((q) => q.induction_gain));
  check(peak < 0.5, `pilot ${name} reached ${peak.toFixed(2)} nats; the reading says it never copied (< 0.5)`);
}

// %% [markdown]
// ## Copies of random tokens
//
// Every pilot above copies spans of its own text. A copy of natural text is partly predictable without looking back
// (its words follow the usual statistics), so only what those statistics leave over rewards a copying circuit; the
// synthetic experiment, whose copies are random tokens, formed copying by content when most of a short row was
// copies. Three pilots therefore overwrite each copied span's source with token ids drawn uniformly from the
// vocabulary (`repeat_random_ids`, BOS left out) before copying it, so that a copy can be predicted only by finding
// its first occurrence. Three pilots test that:
//
// - `wide-sin-random-full`: `wide-sin-dense-full` with only that change (rows of 1024 from the first step; about 66%
//   of each row random ids, the source and its copies together);
// - `wide-sin-doubling-random-offsets`: short rows at random absolute positions, so that no positional embedding can
//   become periodic and every position is trained: rows of 128 to step 400 (about 80% of each row random ids), 256 to
//   600, 512 to 800, then 1024;
// - `wide-random-offsets-lr1e3`: the second with a peak learning rate of 1e-3 instead of 2e-3, positional embeddings
//   started from the normal draw instead of sinusoids, and rows of 128 to step 1000. In single synthetic runs on rows
//   of 128 (section "Why the first recipe did not copy"), both changes let copying form sooner.
//
// The first two were stopped by hand once their induction gain had stayed below 0.05 nats past the 3.3M tokens in
// which the synthetic rows of 128 formed copying; the third was stopped at step 750, after its training loss fell
// and the probe by segment length had shown what formed (below). What the third showed led to a fourth,
// `wide-random-offsets-lr1e3-within`, read in the next section. The table gives each pilot's last point and, for
// comparison, `wide-sin-dense-full` (copies of its own text) at the same step.

// %%
const randomPilots = [
  "wide-sin-random-full",
  "wide-sin-doubling-random-offsets",
  "wide-random-offsets-lr1e3",
  "wide-random-offsets-lr1e3-within",
].map(pilotNamed);
const denseFull = pilotNamed("wide-sin-dense-full");
pl.DataFrame(randomPilots.map((p) => {
  const last = p.curve.at(-1)!;
  const same = denseFull.curve.find((q) => q.step === last.step);
  return {
    pilot: p.name,
    steps: last.step,
    "tokens (M)": Math.round(last.tokens / 1e4) / 100,
    "induction rows (positions)": last.induction_positions,
    "peak induction gain": f3(Math.max(...p.curve.map((q) => q.induction_gain))),
    "last induction gain": f3(last.induction_gain),
    "last aperiodic gain": typeof last.induction_gain_aperiodic === "number"
      ? f3(last.induction_gain_aperiodic)
      : "not measured",
    "validation loss": f3(last.val_loss),
    "dense-full induction gain, same step": same ? f3(same.induction_gain) : "not run",
    "dense-full validation loss, same step": same ? f3(same.val_loss) : "not run",
  };
}));

// %% [markdown]
// **Reading.** Copies of random tokens alone did not make induction form in the first three pilots.
//
// - `wide-sin-random-full` gains at most 0.029 nats in 500 steps (4.1M tokens), against 0.14–0.23 for
//   `wide-sin-dense-full` at steps 450–500, and its aperiodic gain is 0.003 at step 500. `wide-sin-doubling-random-offsets`
//   gains at most 0.017 in 600 steps (400 on rows of 128). Both model the validation text worse than the pilots that
//   copy their own text (validation loss 5.56 against 5.22 at step 500 for `wide-sin-dense-full`): about two thirds of
//   their training tokens are random ids.
// - `wide-random-offsets-lr1e3` formed a copying head. Its training loss fell from 8.3 nats at step 500 to 5.0 at step
//   750 within about 200 steps, the abrupt drop of a circuit forming. Its induction test, however, went negative
//   (−0.71 nats at step 750: later repeats harder than the first). The probe by segment length over the 128 trained
//   positions shows why. Segments of 16 and 32 tokens gain 6.85 and 8.45 nats, the 16-token one only from 32 back
//   (its second occurrence, 16 back, −0.57). The other lengths lose 0.7–1.7 nats (48: −1.67, 50: −1.61, 64:
//   −0.71). The head copies from exactly 32 back. It predicts a copy wherever one would sit 32 back, and is wrong wherever none does.
//   The rule calls it "none": its 64-token test cannot reach 2 nats within 128 positions.
// - **Why 32: the dense recipes' copies were never at varied distances on short rows.** A drawn span length above
//   a quarter of the row is cut to the quarter (`repeat_max_fraction` 0.25), and the dense recipes draw 16–256
//   tokens. So on rows of 128, 256 and 512, 93%, 80% and 54% of spans have exactly a quarter-row length, and their
//   back-to-back copies sit exactly a quarter of the row back (`DENSE` in `lib/study_b/pilots.ts`). That is the 32-back
//   head here and, through positional embeddings shared across stages, plausibly the 64- and 128-back heads of
//   `wide-sin-doubling-dense` above. The claim that spans cut to a quarter vary their distance holds only for single
//   copies. `repeat_span_draw: "within"` (`lib/lm/train.ts`) now draws the length evenly up to the cap instead.
//
// Until then, every copying head the pilots formed looked back a distance that their copy augmentation made constant.

// %%
// the reading must stay true of the data (a sanity check, not a test)
for (const p of randomPilots.slice(0, 3)) {
  const peak = Math.max(...p.curve.map((q) => q.induction_gain));
  check(peak < 0.5, `pilot ${p.name} reached ${peak.toFixed(2)} nats; the reading says it never copied (< 0.5)`);
}
const lr1e3 = verdictOf("wide-random-offsets-lr1e3", 750);
check(lr1e3 !== undefined, "copy_distance_probe.jsonl has no probe of wide-random-offsets-lr1e3 at step 750");
check(lr1e3.verdict === "none", `${lr1e3.probe.label}: verdict ${lr1e3.verdict}; the reading says none`);
const gainAt = (L: number) => lr1e3.probe.by_segment.find((r) => r.segment === L)?.gain ?? NaN;
check(
  gainAt(16) >= 2 && gainAt(32) >= 2 && [48, 50, 64].every((L) => gainAt(L) < 0),
  `${lr1e3.probe.label}: gains 16 ${gainAt(16).toFixed(2)}, 32 ${gainAt(32).toFixed(2)}, 48/50/64 ` +
    `${[48, 50, 64].map((L) => gainAt(L).toFixed(2)).join("/")}; the reading says a 32-back head`,
);

// %% [markdown]
// ## Copies at varied distances: induction forms
//
// `wide-random-offsets-lr1e3-within` is `wide-random-offsets-lr1e3` with one change: a span's length is drawn
// evenly between 16 tokens and a quarter of the row (`repeat_span_draw: "within"`) instead of cut to the quarter, so
// on rows of 128 the spans have 16–32 tokens and their back-to-back copies sit 16–32 back, never at one distance.
// Rows of 128 at random absolute positions to step 1000, 256 to 1200, 512 to 1400, then 1024; lr 1e-3; the normal
// positional start. The pilot ran to step 1600, 200 steps on rows of 1024, so the choice rules could judge it; its
// points from step 1750 on come from version 2's own run, the same recipe resumed from the pilot's step-1600
// checkpoint, which records the same measurement every 250 steps. Its points from step 800 on, with the row length each
// was trained on:

// %%
const within = pilotNamed("wide-random-offsets-lr1e3-within");
pl.DataFrame(
  within.curve.filter((q) => q.step >= 800).map((q) => ({
    step: q.step,
    "tokens (M)": Math.round(q.tokens / 1e4) / 100,
    "row length": lmStage(within.config.lm, q.step - 1).ctx,
    "training loss": f3(q.train_loss),
    "induction gain": f3(q.induction_gain),
    "aperiodic gain": typeof q.induction_gain_aperiodic === "number" ? f3(q.induction_gain_aperiodic) : "not measured",
    "induction rows (positions)": q.induction_positions,
    "context diff": f3(q.ctx_diff),
    "validation loss": f3(q.val_loss),
  })),
);

// %% [markdown]
// **Reading.** This pilot formed induction, the first of thirteen to do so, and kept it on rows of 1024.
//
// - **It formed late on rows of 128.** The aperiodic gain crept up from 0.09 nats at step 400 to 0.22 at 800 and
//   0.34 at 900, then jumped to 1.34 at 950 and 2.46 at 1000. Training loss fell from 7.51 to 5.46 nats between steps
//   900 and 1200, the abrupt drop of a circuit forming.
// - **The probe by segment length calls it induction at every checkpoint probed** (the last four rows of the probe
//   table above): at step 1000 over its 128 trained positions, 2.46–3.36 nats at every length; at step 1200 over 256
//   positions, 4.98–5.57 (3.69 at 128 tokens, which fits only twice); at step 1400, the end of rows of 512, 5.41–6.16
//   at every length over 512 positions; at step 1600, after 200 steps on rows of 1024, 5.22–5.84. Its positional
//   embeddings do not repeat (lag cosines 0.00–0.08), so there is no periodic code through which a head could look a
//   fixed distance back.
// - **Rows of 1024 shook it, and it came back.** The 64-token gain went from 5.78 at step 1400 to 4.33 at 1450 and 2.91
//   at 1500, then 5.40 and 5.60 at 1550 and 1600. At step 1500 the early repeats lost most of their gain (repeats 2–5
//   at 8.8–7.4 nats against 9.06 for the first) while the last kept it (1.96). This is one run with 8 induction rows
//   per point, so the dip's size is uncertain; the full run's points in notebook 10 continue the curve.
// - **Context use on natural text is not shown.** The context difference on its 24 rows is −0.049 nats at step
//   1600 (95% [−0.236, 0.137]) and −0.047 to −0.085 over the full run's points to step 3000: every interval spans
//   zero, as every pilot's does with 24 rows. Its validation loss on these rows falls from 5.00 at 13.1M tokens to
//   4.77 at 24.6M (step 3000), still above the shipped version 1's 4.715: many of its training tokens are random ids.
//   The full run keeps its induction (6.35 nats at step 3000, aperiodic 5.95). Notebook 10 measures the targets with
//   all validation rows.

// %%
// the reading must stay true of the data (a sanity check, not a test)
for (const step of [1000, 1200, 1400, 1600]) {
  const v = verdictOf("wide-random-offsets-lr1e3-within", step);
  check(v !== undefined, `copy_distance_probe.jsonl has no probe of wide-random-offsets-lr1e3-within at step ${step}`);
  check(v.verdict === "induction", `${v.probe.label}: verdict ${v.verdict}; the reading says induction`);
}
const withinAt = (step: number) => within.curve.find((q) => q.step === step);
for (const step of [1600, 3000]) {
  const q = withinAt(step);
  check(
    q !== undefined && (q.induction_gain_aperiodic ?? -Infinity) >= PILOT_TARGETS.induction_gain,
    `wide-random-offsets-lr1e3-within at step ${step}: aperiodic gain ${q?.induction_gain_aperiodic}; the reading ` +
      `says ≥ ${PILOT_TARGETS.induction_gain}`,
  );
}
const lateCtx = within.curve.filter((q) => q.step > 1600);
check(
  lateCtx.length > 0 && lateCtx.every((q) => q.ctx_diff_ci95[1] > 0),
  "the reading says every context-difference interval of the full run's points spans zero",
);
