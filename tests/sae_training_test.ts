// SAE training on a language model's hooks: rows with BOS, deterministic buffers, the per-hook pipeline with
// exact resume, and the QUICK embedded pipeline end to end (LM → SAEs → manifest → verified load).

import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { Rng } from "../lib/engine/rng.ts";
import { ManifestError } from "../lib/io/manifest.ts";
import { defaultGpt2Config } from "../lib/lm/config.ts";
import { Gpt2 } from "../lib/lm/gpt2.ts";
import {
  buildCompactVocab,
  defaultEmbeddedConfig,
  loadEmbedded,
  quickEmbeddedConfig,
  runEmbeddedLmTraining,
  runEmbeddedSaeTraining,
} from "../lib/study_b/embedded.ts";
import {
  ActivationBuffer,
  chooseSweepInstance,
  defaultSaeTrainingConfig,
  evaluateModelSae,
  harvestActivations,
  SaeQualityError,
  saeRecipe,
  saeRows,
  studyHooks,
  trainModelSaes,
} from "../lib/splice/sae_training.ts";
import { defaultLmTrainConfig } from "../lib/lm/train.ts";
import { loadSaeLens } from "../lib/sae/saelens.ts";
import { createSae } from "../lib/sae/sae.ts";
import { defaultSaeConfig } from "../lib/sae/config.ts";
import { join } from "../lib/path.ts";

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

const TINY = defaultGpt2Config({ n_layer: 2, d_model: 16, n_head: 2, n_ctx: 64, d_vocab: 30 });

function docs(seed: number, n: number): Int32Array[] {
  const rng = new Rng(seed, "test/sae-docs");
  return Array.from({ length: n }, () => Int32Array.from({ length: 5 + rng.int(40) }, () => 1 + rng.int(29)));
}

/** Bars a tiny SAE on a random model can meet: these tests check the pipeline, the fail-stop test the bars. */
const LOOSE_BARS = {
  target_l0: [1e-3, 1e6] as [number, number],
  min_explained_variance: -1e9,
  min_ce_recovered: -1e9,
  max_dead_fraction: 1,
  dead_eval_tokens: 200,
};

function tinyCfg(overrides = {}) {
  return defaultSaeTrainingConfig({
    ...LOOSE_BARS,
    context_size: 8,
    expansion_factor: 4,
    rows_per_buffer: 32,
    harvest_rows: 16,
    batch_size: 64,
    total_steps: 24,
    l1_multipliers: [0.5, 2],
    dead_feature_window: 10,
    b_dec_init_samples: 128,
    eval_rows: 16,
    checkpoint_every: 5,
    seed: 4,
    ...overrides,
  });
}

Deno.test("SAE rows hold context_size tokens, start with BOS, and are seeded", () => {
  const d = docs(1, 30);
  const a = saeRows(d, 0, 8, 3, 0), b = saeRows(d, 0, 8, 3, 0), c = saeRows(d, 0, 8, 3, 1);
  assert(a.length > 10 && a.every((r) => r.length === 8 && r[0] === 0), "8-token rows with BOS first");
  assert(a.every((r, i) => r.join() === b[i]!.join()), "same seed → same rows");
  assert(a.some((r, i) => r.join() !== c[i]?.join()), "another epoch → another order");
});

Deno.test("the study's hooks are every resid_pre plus the last resid_post", () => {
  assert(
    studyHooks(3).join() === "blocks.0.hook_resid_pre,blocks.1.hook_resid_pre,blocks.2.hook_resid_pre," +
        "blocks.2.hook_resid_post",
    "hooks",
  );
});

Deno.test("harvested activations equal the model's cached hook and buffers are shuffled permutations", async () => {
  await initBackend();
  const model = Gpt2.random(TINY, 1);
  const rows = saeRows(docs(2, 20), 0, 8, 0, 0).slice(0, 5);
  const acts = harvestActivations(model, rows, "blocks.1.hook_resid_pre", 2);
  const ids = new Int32Array(40);
  rows.forEach((r, i) => ids.set(r, i * 8));
  const tokens = tf.tensor2d(ids, [5, 8], "int32");
  const { logits, cache } = model.runWithCache(tokens, ["blocks.1.hook_resid_pre"]);
  const ref = cache.get("blocks.1.hook_resid_pre")!.dataSync();
  let diff = 0;
  for (let i = 0; i < ref.length; i++) diff = Math.max(diff, Math.abs(ref[i]! - acts[i]!));
  assert(diff < 1e-6, `harvest matches runWithCache (max diff ${diff})`);
  tf.dispose([tokens, logits!, ...cache.values()]);

  const cfg = tinyCfg();
  const buf = new ActivationBuffer(model, docs(2, 40), 0, cfg, "blocks.0.hook_resid_pre");
  assert(buf.batchesPerBuffer === 4, `32 rows × 8 tokens / 64 = 4 batches, got ${buf.batchesPerBuffer}`);
  const again = new ActivationBuffer(model, docs(2, 40), 0, cfg, "blocks.0.hook_resid_pre");
  assert(buf.batch(5).join() === again.batch(5).join(), "batches are a function of the step");
  // the four batches of buffer 0 are the buffer's tokens, each once
  const all = [0, 1, 2, 3].map((s) => buf.batch(s));
  const sums = (x: Float32Array) => {
    const out: number[] = [];
    for (let i = 0; i < x.length; i += 16) out.push(x.subarray(i, i + 16).reduce((a, b) => a + b, 0));
    return out.sort((a, b) => a - b);
  };
  const joined = new Float32Array(all.reduce((n, b) => n + b.length, 0));
  all.reduce((at, b) => (joined.set(b, at), at + b.length), 0);
  const rows0 = saeRows(docs(2, 40), 0, 8, cfg.seed, 0).slice(0, 32);
  const direct = harvestActivations(model, rows0, "blocks.0.hook_resid_pre");
  const [p, q] = [sums(joined), sums(direct)];
  assert(p.every((v, i) => Math.abs(v - q[i]!) < 1e-5), "a buffer is a permutation of its rows' activations");
  assert(joined.slice(0, 16).join() !== direct.slice(0, 16).join(), "and it is shuffled");
  model.dispose();
});

Deno.test("per-hook SAE training writes SAELens folders and resumes exactly after an interruption", async () => {
  await initBackend();
  const model = Gpt2.random(TINY, 1);
  const data = { train: docs(3, 80), validation: docs(4, 20), bos: 0 };
  const cfg = tinyCfg({ hooks: ["blocks.1.hook_resid_pre"] });
  const dirA = await Deno.makeTempDir({ prefix: "sae_a_" });
  const dirB = await Deno.makeTempDir({ prefix: "sae_b_" });
  try {
    const n0 = tf.memory().numTensors;
    const a = await trainModelSaes(model, data, cfg, {
      outDir: join(dirA, "out"),
      checkpointDir: join(dirA, "ckpt"),
      modelName: "tiny",
      progress: false,
    });
    assert(tf.memory().numTensors === n0, `tensors ${n0} → ${tf.memory().numTensors}`);
    assert(a.length === 1 && a[0]!.steps === 24, "one hook trained for 24 steps");
    const r = a[0]!;
    assert(r.sweep.length === 2 && [0.5, 2].includes(r.l1_multiplier), "the sweep chose a multiplier");
    // step 1 has λ = 0 (ℓ1 warm-up); from step 2 on the full loss must fall
    assert(r.curve.at(-1)!.loss < r.curve[1]!.loss, `the loss falls: ${r.curve[1]!.loss} → ${r.curve.at(-1)!.loss}`);
    for (const k of ["l0", "explained_variance", "ce_loss_recovered", "dead_fraction"] as const) {
      assert(Number.isFinite(r.quality[k]), `${k} is finite`);
    }
    const loadedA = await loadSaeLens(join(dirA, "out", "blocks.1.hook_resid_pre"));
    assert(loadedA.sae.cfg.context_size === 8 && loadedA.sae.cfg.d_sae === 64, "cfg.json has context 8, d_sae 64");
    assert(loadedA.sparsity !== null, "sparsity.safetensors written");

    const part = await trainModelSaes(model, data, cfg, {
      outDir: join(dirB, "out"),
      checkpointDir: join(dirB, "ckpt"),
      modelName: "tiny",
      progress: false,
      stopAtStep: 12,
    });
    assert(part.length === 0, "stopped before finishing the hook");
    const b = await trainModelSaes(model, data, cfg, {
      outDir: join(dirB, "out"),
      checkpointDir: join(dirB, "ckpt"),
      modelName: "tiny",
      progress: false,
    });
    const loadedB = await loadSaeLens(join(dirB, "out", "blocks.1.hook_resid_pre"));
    const wa = loadedA.sae.toArrays(), wb = loadedB.sae.toArrays();
    let diff = 0;
    for (const k of Object.keys(wa)) {
      for (let i = 0; i < wa[k]!.data.length; i++) diff = Math.max(diff, Math.abs(wa[k]!.data[i]! - wb[k]!.data[i]!));
    }
    assert(diff <= 1e-6, `resumed SAE equals the uninterrupted one (max diff ${diff})`);
    assert(Math.abs(b[0]!.quality.l0 - r.quality.l0) < 1e-9, "same held-out L0");
    // deleting the written SAE re-creates it from the final checkpoint, identical
    const weightsB = await Deno.readFile(join(dirB, "out", "blocks.1.hook_resid_pre", "sae_weights.safetensors"));
    await Deno.remove(join(dirB, "out"), { recursive: true });
    await trainModelSaes(model, data, cfg, {
      outDir: join(dirB, "out"),
      checkpointDir: join(dirB, "ckpt"),
      modelName: "tiny",
      progress: false,
    });
    const again = await Deno.readFile(join(dirB, "out", "blocks.1.hook_resid_pre", "sae_weights.safetensors"));
    assert(again.length === weightsB.length && again.every((v, i) => v === weightsB[i]), "re-created identically");
    loadedA.sae.dispose();
    loadedB.sae.dispose();
  } finally {
    model.dispose();
    await Deno.remove(dirA, { recursive: true });
    await Deno.remove(dirB, { recursive: true });
  }
});

Deno.test("SAE training stops with an error and writes nothing when no instance meets the bars", async () => {
  await initBackend();
  const model = Gpt2.random(TINY, 1);
  const data = { train: docs(3, 80), validation: docs(4, 20), bos: 0 };
  const dir = await Deno.makeTempDir({ prefix: "sae_fail_" });
  const opts = (name: string) => ({
    outDir: join(dir, name, "out"),
    checkpointDir: join(dir, name, "ckpt"),
    modelName: "tiny",
    progress: false,
  });
  const exists = async (p: string) => {
    try {
      await Deno.stat(p);
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  };
  const run = async (lr: number, name: string) => {
    try {
      return await trainModelSaes(model, data, cfg(lr), opts(name));
    } catch (e) {
      return e as Error;
    }
  };
  // the bars, with dead latents counted on the ~200 held-out tokens the tiny data hold
  const cfg = (lr: number) =>
    tinyCfg({
      target_l0: [10, 80],
      min_explained_variance: 0.8,
      min_ce_recovered: 0.8,
      max_dead_fraction: 0.1,
      hooks: ["blocks.0.hook_resid_pre"],
      lr,
    });
  try {
    const n0 = tf.memory().numTensors;
    // lr 1: training finishes with collapsed SAEs (L0 ≈ 0, explained variance far below 0)
    const bad = await run(1, "lr1");
    assert(bad instanceof SaeQualityError, `SaeQualityError, got ${bad}`);
    const msg = bad.message;
    assert(msg.includes("blocks.0.hook_resid_pre") && msg.includes("ℓ1 ×0.5") && msg.includes("ℓ1 ×2"), msg);
    assert(msg.includes("explained variance") && msg.includes("L0"), `names the failed bars: ${msg}`);
    assert(!(await exists(opts("lr1").outDir)), "nothing written to the output folder");
    assert(tf.memory().numTensors === n0, `tensors ${n0} → ${tf.memory().numTensors} after the failed bars`);
    // lr 3: the loss turns non-finite, training stops with an error, nothing written
    const worse = await run(3, "lr3");
    assert(worse instanceof Error, `lr 3 throws, got ${worse}`);
    assert(!(await exists(opts("lr3").outDir)), "nothing written to the output folder at lr 3");
    assert(tf.memory().numTensors === n0, `tensors ${n0} → ${tf.memory().numTensors}`);
    // the same bars at the recipe's lr pass and write the folder: the error came from the learning rate
    const ok = await run(3e-3, "good");
    assert(Array.isArray(ok) && ok.length === 1, `lr 3e-3 passes the bars, got ${ok}`);
    assert(await exists(join(opts("good").outDir, "blocks.0.hook_resid_pre", "sae_weights.safetensors")), "written");
    const q = ok[0]!.quality;
    assert(q.ce_loss_recovered >= 0.8 && q.l0 >= 10 && q.l0 <= 80, "the shipped instance meets the bars");
    // the mean-ablation baseline, recomputed here: every position replaced by the mean held-out activation
    const rows = saeRows(data.validation, 0, 8, 4, 0).slice(0, 16);
    const acts = harvestActivations(model, rows, "blocks.0.hook_resid_pre");
    const mean = new Float64Array(16);
    let n = 0;
    rows.forEach((r, i) =>
      r.forEach((t, j) => {
        if (t === 0) return;
        n++;
        for (let k = 0; k < 16; k++) mean[k] = mean[k]! + acts[(i * 8 + j) * 16 + k]!;
      })
    );
    const meanVec = tf.tensor1d(Float32Array.from(mean, (v) => v / n));
    const tokens = tf.tensor2d(Int32Array.from(rows.flatMap((r) => [...r])), [16, 8], "int32");
    const ceMean = tf.tidy(() =>
      tf.mean(
        model.lossPerToken(
          model.runWithHooks(tokens, { "blocks.0.hook_resid_pre": (a) => tf.mul(tf.onesLike(a), meanVec) }),
          tokens,
        ),
      ).dataSync()[0]!
    );
    tf.dispose([meanVec, tokens]);
    assert(Math.abs(ceMean - q.ce_mean) < 1e-4, `mean-ablation CE ${q.ce_mean} vs recomputed ${ceMean}`);
    const rec = (q.ce_mean - q.ce_spliced) / (q.ce_mean - q.ce_clean);
    assert(Math.abs(q.ce_loss_recovered_mean - rec) < 1e-9, "CE recovered against the mean-ablation baseline");
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the compact vocabulary keeps BOS, an unknown token and the most frequent ids", () => {
  const map = buildCompactVocab([new Int32Array([5, 5, 7, 7, 7, 9, 50256, 11])], 4, 2);
  assert(map.modelToSource.join() === "50256,-1,7,5", `map ${map.modelToSource.join()}`);
  assert(map.encode([9, 7, 50256]).join() === "1,2,0", "rare ids become the unknown token");
});

Deno.test("SAE training config errors name the field", () => {
  let msg = "";
  try {
    defaultSaeTrainingConfig({ rows_per_buffer: 1, context_size: 8, batch_size: 64 });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("rows_per_buffer") && msg.includes("batch_size 64"), msg);
  // the learning-rate decay: the recipe receives it, and a decay over the whole run is refused
  const constant = defaultSaeTrainingConfig({ lr_decay_fraction: 0 });
  assert(saeRecipe(constant, 400, 0.1).lr_decay_fraction === 0, "a constant learning rate reaches the recipe");
  assert(saeRecipe(defaultSaeTrainingConfig(), 400, 0.1).lr_decay_fraction === 0.2, "the default decays over 20%");
  msg = "";
  try {
    defaultSaeTrainingConfig({ lr_decay_fraction: 1 });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("lr_decay_fraction") && msg.includes("[0, 1)") && msg.includes("got 1"), msg);
});

Deno.test("QUICK embedded pipeline: LM, SAEs, manifest, verified load, tampering detected", async () => {
  await initBackend();
  const root = await Deno.makeTempDir({ prefix: "embedded_quick_" });
  const base = quickEmbeddedConfig();
  const cfg = defaultEmbeddedConfig({
    ...base,
    name: "embedded-test",
    model: { n_layer: 1, d_model: 16, n_head: 2, n_ctx: 32, layer_norm_epsilon: 1e-5 },
    vocab: { max_vocab: 256, min_count: 2 },
    lm: defaultLmTrainConfig({ ...base.lm, n_ctx: 32, total_steps: 40, eval_every: 20, checkpoint_every: 10 }),
    sae: { ...base.sae, ...LOOSE_BARS, context_size: 8, total_steps: 12, rows_per_buffer: 32, checkpoint_every: 4 },
    control_sae: { context_size: 1024, rows_per_buffer: 8, harvest_rows: 4, eval_rows: 4 },
  });
  try {
    const stopped = await runEmbeddedLmTraining(cfg, { root, progress: false, figures: false, stopAtStep: 15 });
    assert(stopped === null, "an interrupted LM run returns null");
    const lm = await runEmbeddedLmTraining(cfg, { root, progress: false, figuresDir: join(root, "figures") });
    assert(lm !== null && lm.history.length === 40, "LM resumed to 40 steps");
    assert(
      lm.history.slice(-5).reduce((s, e) => s + e.loss, 0) < lm.history.slice(0, 5).reduce((s, e) => s + e.loss, 0),
      "LM loss falls",
    );
    assert(lm.val_loss_by_position.length === 32, "per-position validation loss");
    // the curve: induction gain and context difference at every evaluation (steps 20 and 40), across the resume
    assert(lm.curve?.map((q) => q.step).join() === "20,40", `curve steps ${lm.curve?.map((q) => q.step)}`);
    for (const q of lm.curve!) {
      assert(Number.isFinite(q.induction_gain) && Number.isFinite(q.ctx_diff), `finite curve point at ${q.step}`);
      assert(q.tokens === q.step * cfg.lm.batch_rows * 32 && q.ctx_rows === 4, `curve bookkeeping at ${q.step}`);
    }
    for (const f of ["embedded-test_lm_training.png", "embedded-test_lm_loss_by_position.data.json"]) {
      await Deno.stat(join(root, "figures", f));
    }
    const saes = await runEmbeddedSaeTraining(cfg, { root, progress: false, figures: false });
    assert(saes !== null && saes.hooks.length === 2, "two SAEs (resid_pre 0, resid_post 0)");
    const loaded = await loadEmbedded({ root });
    assert(loaded.model.cfg.d_vocab === lm.vocab_size && loaded.tokenMap.unkId === 1, "model and vocabulary loaded");
    assert(Object.keys(loaded.saeDirs).join() === "blocks.0.hook_resid_pre,blocks.0.hook_resid_post", "SAE folders");
    const m = loaded.manifest as unknown as { code_version: unknown; model: Record<string, unknown> };
    assert(typeof m.code_version === "string" && m.model.steps === 40, "manifest has code version and steps");
    assert(Object.keys(loaded.manifest.files).length === 3 + 2 + 2 * 3, "every shipped file is listed");
    assert(Object.keys(loaded.controlSaeDirs).length === 0, "no control SAEs yet");
    loaded.model.dispose();
    // the control SAEs: same width and recipe on full-length rows, beside the study's, in the manifest
    const control = await runEmbeddedSaeTraining(cfg, { root, progress: false, figures: false, control: true });
    assert(control !== null && control.hooks.length === 2, "two control SAEs");
    const withControl = await loadEmbedded({ root });
    withControl.model.dispose();
    assert(Object.keys(withControl.controlSaeDirs).length === 2, "control SAE folders listed");
    assert(Object.keys(withControl.manifest.files).length === 3 + 2 + 2 * 3 + 1 + 2 * 3, "control files in manifest");
    const c0 = await loadSaeLens(withControl.controlSaeDirs["blocks.0.hook_resid_pre"]!);
    assert(c0.sae.cfg.context_size === 32 && c0.sae.cfg.d_sae === cfg.sae.expansion_factor * 16, "context 32");
    assert(withControl.controlSaeDirs["blocks.0.hook_resid_pre"]!.includes("saes_control"), "beside saes/");
    c0.sae.dispose();
    // centring: the stream the SAEs read has zero mean over d_model
    const { sae } = await loadSaeLens(loaded.saeDirs["blocks.0.hook_resid_pre"]!);
    assert(sae.cfg.context_size === 8 && sae.cfg.hook_name === "blocks.0.hook_resid_pre", "SAE cfg");
    sae.dispose();
    // tampering with a shipped file is reported by name
    const w = join(root, "embedded", "saes", "blocks.0.hook_resid_post", "sae_weights.safetensors");
    const bytes = await Deno.readFile(w);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
    await Deno.writeFile(w, bytes);
    let err: unknown = null;
    try {
      await loadEmbedded({ root });
    } catch (e) {
      err = e;
    }
    assert(err instanceof ManifestError, `ManifestError, got ${err}`);
    assert(
      (err as Error).message.includes("embedded/saes/blocks.0.hook_resid_post/sae_weights.safetensors"),
      "names file",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the ℓ1 sweep ships the best-reconstructing instance that meets the L0 and dead-latent bars", () => {
  const p = (multiplier: number, l0: number, explained_variance: number, dead_fraction = 0) => ({
    multiplier,
    l0,
    explained_variance,
    dead_fraction,
  });
  const pick = (s: ReturnType<typeof p>[]) => chooseSweepInstance(s, [10, 80], 0.1);
  assert(pick([p(1, 120, 0.95), p(2, 70, 0.9), p(4, 15, 0.7)]) === 1, "in range: the best EV");
  assert(pick([p(1, 60, 0.95, 0.2), p(2, 40, 0.9, 0.05)]) === 1, "too many dead latents disqualify");
  assert(pick([p(1, 300, 0.95), p(2, 130, 0.9), p(4, 3, 0.1)]) === 1, "none in range: nearest to the range in log");
  assert(pick([p(1, 90, 0.95, 0.01), p(2, 50, 0.9, 0.3)]) === 1, "each fails one bar: the one with L0 in range");
  assert(pick([p(1, 95, 0.95, 0.01), p(2, 85, 0.9, 0.01)]) === 1, "both above the range: the nearer one");
});

Deno.test("silent fractions recorded in one pass equal separate evaluations of the row prefixes", async () => {
  await initBackend();
  const model = Gpt2.random(TINY, 1);
  const sae = createSae(
    defaultSaeConfig({ d_in: 16, d_sae: 64, hook_name: "blocks.1.hook_resid_pre", n_inst: 2 }),
    7,
  );
  try {
    const rows = saeRows(docs(5, 60), 0, 8, 4, 0).slice(0, 40);
    // biases that make latent k fire on about a fraction 0.5^(k/6) of tokens: from common to never seen
    const x = harvestActivations(model, rows, "blocks.1.hook_resid_pre", 16);
    const pre = tf.tidy(() => sae.preActs3d(tf.tensor3d(x, [1, x.length / 16, 16])).arraySync()[0]!);
    const bias = Array.from({ length: 64 }, (_, k) => {
      const col = pre.map((r) => r[k]!).sort((a, b) => b - a);
      // halfway between two activations, so float noise between batchings cannot flip a token
      const q = Math.floor(col.length * 0.5 ** (k / 6));
      return q === 0 ? -(col[0]! + 1) : -(col[q - 1]! + col[q]!) / 2;
    });
    sae.params.b_enc.assign(tf.tensor2d([bias, bias]));
    // non-BOS tokens of the first 5 and 10 rows (BOS also separates documents inside a row)
    const tokensOf = (n: number) => rows.slice(0, n).reduce((t, r) => t + r.filter((v) => v !== 0).length, 0);
    const counts = [tokensOf(5), tokensOf(10)];
    const [one] = evaluateModelSae(model, sae, rows, 0, 16, false, [...counts, 10_000]);
    assert(
      one!.silent_at.map((t) => t.tokens).join() === counts.join(),
      `counts ${one!.silent_at.map((t) => t.tokens)}`,
    );
    for (const [k, nRows] of [5, 10].entries()) {
      const [sep] = evaluateModelSae(model, sae, rows.slice(0, nRows), 0, 16, false);
      const got = one!.silent_at[k]!.silent_fraction;
      assert(sep!.tokens === counts[k], `${nRows} rows hold ${sep!.tokens} tokens`);
      assert(got === sep!.dead_fraction, `silent after ${nRows} rows: ${got} vs ${sep!.dead_fraction}`);
    }
    const fr = one!.silent_at.map((t) => t.silent_fraction);
    assert(fr[0]! >= fr[1]! && fr[1]! >= one!.dead_fraction, `silent fractions fall with more tokens: ${fr}`);
    assert(fr[0]! > one!.dead_fraction, `the test is informative: ${fr[0]} vs ${one!.dead_fraction}`);
  } finally {
    sae.dispose();
    model.dispose();
  }
});
