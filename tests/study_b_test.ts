// The whole study-B pipeline (lib/study_b) on the tiny fixture GPT-2 (tests/fixtures/gpt2_tiny) with the fixture
// SAE tests/fixtures/sae_tiny/legacy_standard and SAEs made here: sweep shapes and identities (ΔCE = CE_spliced −
// CE_clean, KL ≥ 0, an identity "SAE" changes nothing), positional variants, error propagation, benchmark scoring,
// figure builders and the summary helpers.

import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { Rng } from "../lib/engine/rng.ts";
import { encodeText } from "../lib/tokenizer/tokenizer.ts";
import { TokenMap } from "../lib/lm/token_map.ts";
import { fromFileUrl, join } from "../lib/path.ts";
import { perTokenKL } from "../lib/metrics/lm_metrics.ts";
import { encodeFigureData } from "../lib/plot/data_json.ts";
import { validateFigure } from "../lib/plot/figure.ts";
import { defaultSaeConfig } from "../lib/sae/config.ts";
import { createSae, saeFromArrays } from "../lib/sae/sae.ts";
import { saveSaeLens } from "../lib/sae/saelens.ts";
import type { ArtifactPaths } from "../lib/lm/artifacts.ts";
import type { CbtItem, LambadaItem } from "../lib/data/benchmarks.ts";
import {
  autoBatchRows,
  benchLayerFigure,
  benchLengthFigure,
  benchTransitionFigure,
  binnedSummary,
  cbtSummary,
  contextLossBugFigure,
  contextLossFixedFigure,
  contextLossPow2Figure,
  contextReconFigures,
  contextRuleData,
  contextRules,
  controlEffects,
  controlVerdict,
  errorPropagationFigures,
  evaluateCbt,
  evaluateLambada,
  evaluateRules,
  findControlSaes,
  groupByBytes,
  holdPosition,
  jsonSafe,
  klChunked,
  klLinesFigure,
  klVsDceFigure,
  lambadaDceKlFigure,
  lambadaSummary,
  layerWindowRows,
  lengthEdges,
  loadEvalRows,
  loadStudySae,
  loadStudySetup,
  positionalFigure,
  positionalRuleData,
  positionalRules,
  positionalSpec,
  runContextSweep,
  runControlSweep,
  runErrorPropagation,
  runPositionalFollowUp,
  spearman,
  studyBRunConfig,
  type StudySetup,
  transitionSummary,
} from "../lib/study_b/mod.ts";
import { assert, assertClose as close, expectRejects } from "./helpers.ts";

const VERDICTS: string[] = ["reproduced", "not reproduced", "inconclusive", "skipped", "passed", "failed"];

const GPT2 = fromFileUrl(new URL("./fixtures/gpt2_tiny/", import.meta.url));
const SAE_FIXTURE = fromFileUrl(new URL("./fixtures/sae_tiny/legacy_standard/", import.meta.url));
const OWT = fromFileUrl(new URL("./fixtures/formats/owt_sample.jsonl", import.meta.url));
const D = 64;
const T = 40;

/** Texts whose GPT-2 tokens make up the fixture's vocabulary map. */
const LAMBADA: LambadaItem[] = [
  "The old sailor looked at the sea and the sky. He walked to the boat and sat in the boat",
  "She opened the door of the house. The garden was green and the house was quiet in the house",
  "A man and a dog went to the town. In the town the man bought bread for the dog",
].map((text, i) => {
  const cut = text.lastIndexOf(" ");
  return { id: `l${i}`, source: "test", text, context: text.slice(0, cut), target: text.slice(cut) };
});
const CBT: CbtItem[] = [{
  id: "c0",
  source: "test",
  sentences: ["The man saw the dog.", "The dog saw the boat.", "The boat was in the sea."],
  question: "The man walked to the XXXXX and sat down .",
  options: ["boat", "dog", "sea", "house"],
  answer: "boat",
}, {
  id: "c1",
  source: "test",
  sentences: ["She had a garden.", "The garden had a door.", "The door was green."],
  question: "She opened the XXXXX of the house .",
  options: ["door", "garden", "town", "bread"],
  answer: "door",
}];

/** An SAE whose reconstruction is exactly its input: ReLU(x) − ReLU(−x) = x. */
function identitySae(hook: string) {
  const s = 2 * D;
  const enc = new Float32Array(D * s);
  const dec = new Float32Array(s * D);
  for (let i = 0; i < D; i++) {
    enc[i * s + i] = 1;
    enc[i * s + D + i] = -1;
    dec[i * D + i] = 1;
    dec[(D + i) * D + i] = -1;
  }
  const cfg = defaultSaeConfig({ d_in: D, d_sae: s, hook_name: hook, context_size: 8, apply_b_dec_to_input: false });
  return saeFromArrays(cfg, {
    W_enc: { data: enc, shape: [D, s] },
    b_enc: { data: new Float32Array(s), shape: [s] },
    W_dec: { data: dec, shape: [s, D] },
    b_dec: { data: new Float32Array(D), shape: [D] },
  });
}

/** An artefacts folder: the fixture model with a vocabulary map, SAEs at 3 hooks (context 8), the OWT fixture. */
async function makeArtifacts(opts: { identityAt?: string } = {}): Promise<{ dir: string; art: ArtifactPaths }> {
  const dir = await Deno.makeTempDir({ prefix: "study_b_test_" });
  await Deno.mkdir(join(dir, "model"), { recursive: true });
  await Deno.copyFile(join(GPT2, "config.json"), join(dir, "model", "config.json"));
  await Deno.copyFile(join(GPT2, "model.safetensors"), join(dir, "model", "model.safetensors"));
  const ids = new Set<number>();
  for (
    const t of [
      ...LAMBADA.map((l) => l.text),
      ...CBT.flatMap((c) => [...c.sentences, c.question, ...c.options.map((o) => ` ${o}`)]),
    ]
  ) {
    for (const id of encodeText(t)) ids.add(id);
  }
  for (const id of encodeText(await Deno.readTextFile(OWT))) if (ids.size < 400) ids.add(id);
  ids.delete(50256);
  const m2s = [-1, ...ids];
  for (let filler = 40000; m2s.length < 511; filler++) if (!ids.has(filler)) m2s.push(filler); // unused GPT-2 ids
  m2s.push(50256);
  await Deno.writeTextFile(join(dir, "model", "vocab_map.json"), JSON.stringify(new TokenMap(m2s, 0).toJson()));
  const saes: Record<string, string> = {};
  const hooks = ["blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre", "blocks.1.hook_resid_post"];
  for (const [i, hook] of hooks.entries()) {
    const folder = join(dir, "saes", hook);
    if (hook === "blocks.1.hook_resid_pre" && opts.identityAt !== hook) {
      await Deno.mkdir(folder, { recursive: true });
      const cfg = JSON.parse(await Deno.readTextFile(join(SAE_FIXTURE, "cfg.json")));
      cfg.context_size = 8;
      await Deno.writeTextFile(join(folder, "cfg.json"), JSON.stringify(cfg));
      await Deno.copyFile(join(SAE_FIXTURE, "sae_weights.safetensors"), join(folder, "sae_weights.safetensors"));
    } else {
      const sae = opts.identityAt === hook ? identitySae(hook) : createSae(
        defaultSaeConfig({ d_in: D, d_sae: 96, hook_name: hook, context_size: 8, apply_b_dec_to_input: true }),
        7 + i,
        { scheme: "saelens", decoder_init_norm: 0.1 },
      );
      await saveSaeLens(sae, folder);
      sae.dispose();
    }
    saes[hook] = folder;
  }
  const art: ArtifactPaths = {
    source: "SAE_ARTIFACTS",
    description: `test artefacts (${dir})`,
    model: join(dir, "model"),
    saes,
    openwebtext: OWT,
    lambada: null,
    cbt: null,
  };
  return { dir, art };
}

function randomRows(setup: StudySetup, n: number, seed: number): Int32Array[] {
  const rng = new Rng(seed, "test/rows");
  return Array.from({ length: n }, () => {
    const r = Int32Array.from({ length: T }, () => 1 + rng.int(400));
    r[0] = setup.bosId;
    r[17] = setup.bosId; // a document separator inside the row
    return r;
  });
}

Deno.test("the study-B sweep on the fixture model: shapes, ΔCE = CE_spliced − CE_clean, KL ≥ 0, no leaks", async () => {
  await initBackend();
  const { dir, art } = await makeArtifacts();
  const setup = await loadStudySetup({ artifacts: art });
  try {
    assert(setup.saes.map((s) => s.label).join() === "0,1,2", `labels ${setup.saes.map((s) => s.label)}`);
    assert(setup.saeContext === 8 && setup.modelContext === 64 && setup.bosId === 511, "setup facts");
    const rows = randomRows(setup, 5, 1);
    const before = tf.memory().numTensors;
    const res = await runContextSweep(setup, rows, {
      batchRows: 2,
      zeroAblationRows: Infinity,
      sampledTargets: true,
      progress: false,
    });
    assert(tf.memory().numTensors === before, `tensors ${before} → ${tf.memory().numTensors}`);
    assert(res.layers.length === 3 && res.T === T && res.nRows === 5, "result shape");
    for (const l of res.layers) {
      const s = l.metrics.stats;
      const d = s.delta_ce.mean();
      const ce = s.ce_spliced.mean();
      const c = s.ce_clean.mean();
      assert(d.length === T && Number.isNaN(d[0]!) && Number.isNaN(d[T - 1]!), "ΔCE defined on 1…T−2");
      for (let j = 1; j < T - 1; j++) close(d[j]!, ce[j]! - c[j]!, 1e-9, `layer ${l.label} ΔCE at ${j}`);
      const kl = s.kl.mean();
      for (let j = 1; j < T; j++) assert(kl[j]! >= 0 && Number.isFinite(kl[j]!), `KL ≥ 0 at ${j}`);
      assert(s.l0.mean()[1]! > 0 && s.mse_normalised.mean()[5]! > 0, "L0 and NMSE measured");
      assert(s.kl.count[1] === 5 && s.kl.count[0] === 0, "position 0 excluded, every row counted");
      assert(Number.isFinite(l.metrics.ceRecovered.pooled(1, 8).ratio), "CE recovered");
      assert(l.sampledDeltaCe !== null && l.sampledDeltaCe.count[3] === 5, "sampled-target ΔCE accumulated");
    }
    const windows = layerWindowRows(res);
    assert(windows.length === 3 && windows.every((w) => Number.isFinite(w.kl_out)), "window rows");
    const outcomes = evaluateRules(contextRules(8, res.T), contextRuleData(res, { reps: 50 }));
    assert(outcomes.length === contextRules(8, res.T).length, "one verdict per rule");
    assert(outcomes.every((o) => VERDICTS.includes(o.verdict)), `verdicts ${outcomes.map((o) => o.verdict)}`);
    // the same numbers with every SAE in its own pass, and batch size 5
    const split = await runContextSweep(setup, rows, {
      batchRows: 5,
      zeroAblationRows: Infinity,
      maxResidentSaeBytes: 1,
      progress: false,
    });
    for (const [i, l] of split.layers.entries()) {
      const a = l.metrics.stats.kl.mean();
      const b = res.layers[i]!.metrics.stats.kl.mean();
      for (let j = 1; j < T; j++) close(a[j]!, b[j]!, 1e-6 * (1 + b[j]!), `grouped vs single pass, KL at ${j}`);
    }
  } finally {
    setup.model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an identity SAE gives ΔCE = 0 and KL = 0 at every position", async () => {
  await initBackend();
  const { dir, art } = await makeArtifacts({ identityAt: "blocks.0.hook_resid_pre" });
  const setup = await loadStudySetup({ artifacts: art });
  try {
    const res = await runContextSweep(setup, randomRows(setup, 3, 2), { layers: [0], progress: false });
    const s = res.layers[0]!.metrics.stats;
    for (let j = 1; j < T - 1; j++) {
      close(s.delta_ce.mean()[j]!, 0, 1e-6, `ΔCE at ${j}`);
      close(s.kl.mean()[j]!, 0, 1e-7, `KL at ${j}`);
      close(s.mse_token_sum.mean()[j]!, 0, 1e-10, `SSE at ${j}`);
    }
    // and nothing downstream moves when it is spliced as an F3 source
    const prop = await runErrorPropagation(setup, randomRows(setup, 2, 3), { sources: [0], progress: false });
    for (const p of prop.pairs) close(p.relDev.pooled(1, T).mean, 0, 1e-10, `relative deviation at ${p.target}`);
  } finally {
    setup.model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("positional V1 at layer 0 equals SAE(x − pos) + pos, V2 equals SAE(x) + pos", async () => {
  await initBackend();
  const { dir, art } = await makeArtifacts();
  const setup = await loadStudySetup({ artifacts: art });
  const sae = await loadStudySae(setup.saes[0]!);
  try {
    const rows = randomRows(setup, 2, 4);
    const tokens = tf.tensor2d(Int32Array.from(rows.flatMap((r) => [...r])), [2, T], "int32");
    const { logits, cache } = setup.model.runWithCache(tokens, ["blocks.0.hook_resid_pre"]);
    logits?.dispose();
    const x = cache.get("blocks.0.hook_resid_pre")!;
    const pos = tf.broadcastTo(tf.slice(setup.model.params.get("wpe.weight")!, [0, 0], [T, D]), [2, T, D]);
    const manual = tf.tidy(() => {
      const xin = tf.reshape(tf.sub(x, pos), [2 * T, D]) as tf.Tensor2D;
      return tf.add(tf.reshape(sae.reconstruct(xin), [2, T, D]), pos);
    });
    const naive = tf.tidy(() =>
      tf.add(tf.reshape(sae.reconstruct(tf.reshape(x, [2 * T, D]) as tf.Tensor2D), [2, T, D]), pos)
    );
    const v1 = positionalSpec(setup.model, sae, 0, "V1").reconstruct(x, tokens);
    const v3 = positionalSpec(setup.model, sae, 0, "V3").reconstruct(x, tokens);
    const v2 = positionalSpec(setup.model, sae, 0, "V2").reconstruct(x, tokens);
    const diff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
    assert(diff(v1.recon, manual) < 1e-5, `V1 vs SAE(x − pos) + pos: ${diff(v1.recon, manual)}`);
    assert(diff(v3.recon, manual) < 1e-6, `V3 vs manual: ${diff(v3.recon, manual)}`);
    assert(diff(v2.recon, naive) < 1e-6, `V2 vs SAE(x) + pos: ${diff(v2.recon, naive)}`);
    assert(v1.acts !== null && v1.acts.shape[2] === 96, "V1 returns the SAE's features");
    tf.dispose([tokens, x, pos, manual, naive, v1.recon, v1.acts!, v2.recon, v2.acts!, v3.recon, v3.acts!]);
    const sae1 = await loadStudySae(setup.saes[1]!);
    await expectRejects(() => positionalSpec(setup.model, sae1, 1, "V1"), "only at blocks.0.hook_resid_pre");
    sae1.dispose();
    // the follow-up run and its figures and claims
    const fu = await runPositionalFollowUp(setup, randomRows(setup, 2, 5), { batchRows: 2, progress: false });
    assert(fu.out.splices.length === 4 + 2 + 2, `variants run: ${fu.out.splices.map((s) => s.key)}`);
    assert(fu.summary.length === 2 * 8, "two windows per variant");
    const facts = { saeContext: 8, modelContext: 64, bosPolicyText: fu.v0.bosPolicyText };
    for (const f of [positionalFigure(fu.out, 0, facts), klLinesFigure(fu.v0), klVsDceFigure(fu.v0)]) {
      validateFigure(f.fig);
      encodeFigureData(jsonSafe(f.data));
    }
    const fuOut = evaluateRules(positionalRules(8), positionalRuleData(fu.out, 8, { reps: 50 }));
    assert(fuOut.length === positionalRules(8).length, "follow-up verdicts");
  } finally {
    sae.dispose();
    setup.model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("F1/F2/F3 figures build, the bug figure is the fixed one with ΔCE negated, data are JSON-safe", async () => {
  await initBackend();
  const { dir, art } = await makeArtifacts();
  const setup = await loadStudySetup({ artifacts: art });
  try {
    const rows = await loadEvalRows(setup, { nRows: 3, T: 24, seed: 1 });
    assert(
      rows.rows.length === Math.min(3, rows.available) && rows.rows.every((r) => r.length === 24 && r[0] === 511),
      `rows with BOS: ${rows.rows.length} of ${rows.available}`,
    );
    const res = await runContextSweep(setup, rows.rows, { progress: false });
    const specs = [
      ...contextReconFigures(res),
      contextLossFixedFigure(res),
      contextLossBugFigure(res),
      contextLossPow2Figure(res),
    ];
    assert(
      specs.map((s) => s.name).join() ===
        "context_recon_mse,context_recon_l1,context_recon_l0,context_recon_nmse,context_recon_norm," +
          "context_loss_fixed,context_loss_bug,context_loss_pow2",
      "figure names",
    );
    for (const f of specs) {
      validateFigure(f.fig);
      encodeFigureData(jsonSafe(f.data));
      assert(f.caption.includes("SAE training context 8") && f.caption.includes("n_ctx = 64"), `${f.name} caption`);
      assert(f.caption.includes("position 0 (BOS) excluded"), `${f.name} caption states the BOS policy`);
    }
    const fixed = specs[5]!.data.right_panel as Record<string, { mean: number[] }>;
    const bug = specs[6]!.data.right_panel as Record<string, { mean: number[] }>;
    for (const k of Object.keys(fixed)) {
      fixed[k]!.mean.forEach((v, j) => assert(Object.is(-v, bug[k]!.mean[j]) || -v === bug[k]!.mean[j], `${k}[${j}]`));
    }
    assert(specs[6]!.caption.startsWith("HYPOTHETICAL RECONSTRUCTION"), "the bug figure is labelled");
    const prop = await runErrorPropagation(setup, rows.rows, { progress: false });
    assert(prop.pairs.length === 3, `pairs (0→1, 0→2, 1→2): ${prop.pairs.length}`);
    const figs = errorPropagationFigures(prop, setup.bosId);
    assert(
      figs.map((f) => f.name).join() ===
        "error_propagation_deviation,error_propagation_sae_mse,error_propagation_lines",
      "F3 names",
    );
    for (const f of figs) {
      validateFigure(f.fig);
      encodeFigureData(jsonSafe(f.data));
    }
  } finally {
    setup.model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LAMBADA- and CBT-style scoring: every variant scores every item, an identity SAE changes no outcome", async () => {
  await initBackend();
  const { dir, art } = await makeArtifacts({ identityAt: "blocks.1.hook_resid_post" });
  const setup = await loadStudySetup({ artifacts: art });
  try {
    const lam = await evaluateLambada(setup, LAMBADA, { progress: false, maxLogitElements: 2 * 30 * 512 });
    assert(lam.items.length === 3 && lam.dropped.unknownTargetToken === 0, "all LAMBADA items kept");
    assert(lam.variants.map((v) => v.variant).join() === "clean,L0,L1,L2", "variants");
    const clean = lam.variants[0]!;
    const ident = lam.variants[3]!;
    ident.firstTokenCorrect.forEach((c, i) => assert(c === clean.firstTokenCorrect[i], `identity item ${i}`));
    ident.firstTokenLogProb.forEach((v, i) => close(v, clean.firstTokenLogProb[i]!, 1e-5, `identity log-prob ${i}`));
    ident.klLast.forEach((v) => close(v, 0, 1e-7, "identity KL"));
    const rows = lambadaSummary(lam);
    close(rows[3]!.deltaCe, 0, 1e-5, "identity ΔCE");
    assert(rows.every((r) => r.kl >= 0), "KL ≥ 0");
    const cbt = await evaluateCbt(setup, CBT, { progress: false });
    assert(cbt.items.length === 2 && cbt.nOptions === 4, "CBT items");
    const cc = cbt.variants[0]!;
    cbt.variants[3]!.predicted.forEach((p, i) => assert(p === cc.predicted[i], `identity CBT item ${i}`));
    // the shared-head scorer (one head pass, option tails against its cached keys/values) gives the full-sequence scores
    const full = await evaluateCbt(setup, CBT, { progress: false, sharedPrefix: false });
    assert(cbt.sharedHeads === 2 && full.sharedHeads === 0, `shared heads ${cbt.sharedHeads}/${full.sharedHeads}`);
    cbt.variants.forEach((v, k) =>
      v.answerLogProb.forEach((x, i) => close(x, full.variants[k]!.answerLogProb[i]!, 2e-4, `${v.variant} item ${i}`))
    );
    for (
      const f of [
        benchLayerFigure("lambada", rows, lam),
        benchLengthFigure("lambada", binnedSummary(lam), lam),
        benchTransitionFigure("lambada", transitionSummary(lam), lam),
        lambadaDceKlFigure(rows, lam),
        benchLayerFigure("cbt", cbtSummary(cbt), cbt),
        benchLengthFigure("cbt", binnedSummary(cbt), cbt),
      ]
    ) {
      validateFigure(f.fig);
      encodeFigureData(jsonSafe(f.data));
    }
    const t = transitionSummary(lam).find((r) => r.layer === 2)!;
    assert(t.cleanCorrectToWrong === 0 && t.cleanWrongToCorrect === 0, "identity SAE: no transitions");
  } finally {
    setup.model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("setup rejects a model whose vocabulary lacks <|endoftext|> and SAEs that do not fit", async () => {
  await initBackend();
  const { dir, art } = await makeArtifacts();
  try {
    await Deno.remove(join(dir, "model", "vocab_map.json"));
    await expectRejects(() => loadStudySetup({ artifacts: art }), "has no <|endoftext|> id 50256", "vocab_map.json");
    await expectRejects(() => loadStudySetup({ artifacts: { ...art, saes: {} } }), "0 SAE folder(s)");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("study-B helpers: hold position, Spearman, length bins, byte groups, batch rule, chunked KL", async () => {
  await initBackend();
  const curve = Float64Array.from({ length: 64 }, (_, j) => (j < 24 ? 1 : 3));
  assert(
    holdPosition(curve, 16, { factor: 2, window: 2 }) === 24,
    `hold ${holdPosition(curve, 16, { factor: 2, window: 2 })}`,
  );
  assert(holdPosition(Float64Array.from({ length: 64 }, () => 1), 16) === 64, "never degrades → curve length");
  close(spearman([0, 1, 2, 3], [1, 3, 2, 4]), 0.8, 1e-12, "Spearman");
  close(spearman([1, 2, 3], [3, 2, 1]), -1, 1e-12, "Spearman reversed");
  assert(lengthEdges(128).join() === "1,65,129,193,257,513", `edges ${lengthEdges(128)}`);
  assert(groupByBytes([{ bytes: 3 }, { bytes: 3 }, { bytes: 3 }], 6).map((g) => g.length).join() === "2,1", "groups");
  assert(autoBatchRows(1024, 8192, 16 * 2 ** 20, 100) === 2 && autoBatchRows(1024, 50257, 1, 9) === 1, "batch rule");
  const a = tf.randomNormal([3, 7, 11], 0, 1, "float32", 1) as tf.Tensor3D;
  const b = tf.randomNormal([3, 7, 11], 0, 1, "float32", 2) as tf.Tensor3D;
  const direct = perTokenKL(a, b);
  const want = direct.dataSync();
  const got = await klChunked(a, b, 5 * 11);
  want.forEach((v, i) => close(got[i]!, v, 1e-6, `chunked KL ${i}`));
  tf.dispose([a, b, direct]);
  const full = studyBRunConfig("context", { quick: false, saeContext: 128, modelContext: 1024 });
  const quick = studyBRunConfig("context", { quick: true, saeContext: 128, modelContext: 1024 });
  assert(full.T === 1024 && quick.T === 384 && quick.T > 2 * 128 && full.nRows >= quick.nRows, "run sizes");
  assert(full.nRows >= 200, `notebook 11 needs ~200 prompts, got ${full.nRows}`);
  const bench = studyBRunConfig("benchmarks", { quick: false, saeContext: 128, modelContext: 1024 });
  assert(bench.lambadaItems >= 500 && bench.cbtItems >= 200, "benchmark sizes");
  assert(studyBRunConfig("context", { quick: true, saeContext: 16, modelContext: 64 }).T === 48, "quick T capped");
  await expectRejects(
    () => studyBRunConfig("context", { quick: false, saeContext: 64, modelContext: 64 }),
    "must exceed",
  );
});

Deno.test("control SAEs: 'not yet shipped' without them; found beside the SAEs and compared side by side", async () => {
  await initBackend();
  const { dir, art } = await makeArtifacts();
  const setup = await loadStudySetup({ artifacts: art });
  try {
    const none = await findControlSaes(setup);
    assert(none.saes.length === 0 && none.reason.includes("not yet shipped"), `no controls: ${none.reason}`);
    const hook = "blocks.0.hook_resid_pre";
    const sae = createSae(
      defaultSaeConfig({ d_in: D, d_sae: 96, hook_name: hook, context_size: 32, apply_b_dec_to_input: true }),
      11,
      { scheme: "saelens", decoder_init_norm: 0.1 },
    );
    await saveSaeLens(sae, join(dir, "saes_control", hook));
    sae.dispose();
    const found = await findControlSaes(setup);
    assert(found.saes.length === 1 && found.saes[0]!.cfg.context_size === 32, `found ${found.reason}`);
    const rows = randomRows(setup, 4, 3);
    const main = await runContextSweep(setup, rows, { batchRows: 2, progress: false });
    const ctl = await runControlSweep(setup, rows, found.saes, { batchRows: 2, progress: false });
    // the paired effect: the same prompts' weights for both SAEs, so the control compared with itself drops by 0
    const eff = controlEffects(main.layers, ctl, setup, main.T, { reps: 50 });
    assert(eff.length === 1 && eff[0]!.hook === hook, "one effect per control");
    const e = eff[0]!;
    close(e.ratioDrop.estimate, e.mainRatio.estimate - e.controlRatio.estimate, 1e-9, "drop = main − control");
    assert(e.verdict === controlVerdict(e.mainRatio, e.controlRatio, e.ratioDrop), "verdict by the rule");
    assert([...e.l0.main, ...e.l0.control].every((v) => Number.isFinite(v) && v >= 0), `L0 ${JSON.stringify(e.l0)}`);
    const self = controlEffects(ctl, ctl, setup, main.T, { reps: 50 })[0]!;
    assert(self.ratioDrop.lo === 0 && self.ratioDrop.hi === 0, `self: ${JSON.stringify(self.ratioDrop)}`);
    assert(self.verdict === "no degradation" || self.verdict === "not reduced", `self verdict ${self.verdict}`);
    // a control with the main SAEs' own context is refused, not silently compared
    const bad = createSae(
      defaultSaeConfig({ d_in: D, d_sae: 96, hook_name: hook, context_size: 8, apply_b_dec_to_input: true }),
      12,
      { scheme: "saelens", decoder_init_norm: 0.1 },
    );
    await saveSaeLens(bad, join(dir, "saes_control", hook));
    bad.dispose();
    await expectRejects(() => findControlSaes(setup), "context_size 8");
  } finally {
    setup.model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
