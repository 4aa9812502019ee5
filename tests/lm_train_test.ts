// The LM trainer: fused cross-entropy, schedule, deterministic rows, loss going down, exact resume,
// divergence handling and config errors, on tiny models (QUICK size).

import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { Rng } from "../lib/engine/rng.ts";
import { listCheckpoints, loadLatestCheckpoint } from "../lib/io/checkpoint.ts";
import { defaultGpt2Config } from "../lib/lm/config.ts";
import { Gpt2 } from "../lib/lm/gpt2.ts";
import {
  augmentedTokenShare,
  defaultLmTrainConfig,
  epochRows,
  fusedCrossEntropy,
  LmBatches,
  type LmData,
  LmDivergenceError,
  lmLearningRate,
  lossByPosition,
  repeatSpan,
  trainLm,
  validationRows,
} from "../lib/lm/train.ts";

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

async function expectReject(p: Promise<unknown>, ...phrases: string[]): Promise<Error> {
  try {
    await p;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    for (const ph of phrases) assert(msg.includes(ph), `message ${JSON.stringify(msg)} mentions ${JSON.stringify(ph)}`);
    return e as Error;
  }
  throw new Error(`expected an error mentioning ${phrases.join(", ")}`);
}

const TINY = defaultGpt2Config({ n_layer: 2, d_model: 32, n_head: 4, n_ctx: 32, d_vocab: 24 });

/**
 * Documents that walk one of two fixed permutations of the ids 2…23 (chosen per document): the next token
 * is a function of the current one and of which walk the document follows, which only context reveals.
 */
function tinyData(seed = 1): LmData {
  const rng = new Rng(seed, "test/lm-data");
  const perms = [0, 1].map(() => rng.shuffle(Array.from({ length: 22 }, (_, i) => 2 + i)));
  const doc = (len: number) => {
    const perm = perms[rng.int(2)] as number[];
    let t = 2 + rng.int(22);
    return Int32Array.from({ length: len }, () => (t = perm[t - 2] as number));
  };
  return {
    train: Array.from({ length: 60 }, () => doc(20 + rng.int(60))),
    validation: Array.from({ length: 6 }, () => doc(60)),
    bos: 0,
  };
}

function quickCfg(overrides = {}) {
  return defaultLmTrainConfig({
    n_ctx: 32,
    total_steps: 30,
    batch_rows: 4,
    micro_batch_rows: 2,
    lr: 3e-3,
    warmup_steps: 5,
    eval_every: 10,
    eval_rows: 2,
    checkpoint_every: 7,
    seed: 3,
    ...overrides,
  });
}

Deno.test("fused cross-entropy matches log-softmax CE in value and gradient", async () => {
  await initBackend();
  const logits = tf.randomNormal([6, 7], 0, 2, "float32", 5) as tf.Tensor2D;
  const targets = new Int32Array([0, 6, 3, 3, 1, 5]);
  const ref = (x: tf.Tensor) => {
    const lp = tf.logSoftmax(x as tf.Tensor2D);
    return tf.neg(tf.mean(tf.sum(tf.mul(lp, tf.oneHot(tf.tensor1d(targets, "int32"), 7)), 1))) as tf.Scalar;
  };
  const a = tf.valueAndGrad((x: tf.Tensor) => fusedCrossEntropy(x as tf.Tensor2D, targets))(logits);
  const b = tf.valueAndGrad(ref)(logits);
  assert(Math.abs(a.value.dataSync()[0]! - b.value.dataSync()[0]!) < 1e-6, "same loss");
  const ga = a.grad.dataSync(), gb = b.grad.dataSync();
  for (let i = 0; i < ga.length; i++) assert(Math.abs(ga[i]! - gb[i]!) < 1e-6, `gradient ${i}: ${ga[i]} vs ${gb[i]}`);
  tf.dispose([logits, a.value, a.grad, b.value, b.grad]);
});

Deno.test("fused cross-entropy rejects a target outside the vocabulary", () => {
  let msg = "";
  try {
    fusedCrossEntropy(tf.zeros([2, 4]) as tf.Tensor2D, new Int32Array([1, 4]));
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("target 4 at 1 is outside [0, 4)"), msg);
});

Deno.test("learning rate warms up linearly and decays to min_lr_fraction at the last step", () => {
  for (const schedule of ["cosine", "linear"] as const) {
    const c = defaultLmTrainConfig({ total_steps: 101, warmup_steps: 10, lr: 1e-3, min_lr_fraction: 0.1, schedule });
    assert(Math.abs(lmLearningRate(c, 0) - 1e-4) < 1e-12, "first warm-up step uses lr/W");
    assert(Math.abs(lmLearningRate(c, 9) - 1e-3) < 1e-12, "warm-up reaches lr");
    assert(Math.abs(lmLearningRate(c, 100) - 1e-4) < 1e-12, `${schedule}: last step uses min lr`);
    const mid = lmLearningRate(c, 55);
    assert(Math.abs(mid - 5.5e-4) < 1e-9, `${schedule}: halfway is the mean of lr and min lr, got ${mid}`);
  }
});

Deno.test("epoch rows are full length, start with BOS, are seeded and differ between epochs", () => {
  const { train } = tinyData();
  const a = epochRows(train, 0, 16, 7, 0);
  const b = epochRows(train, 0, 16, 7, 0);
  const c = epochRows(train, 0, 16, 7, 1);
  const tokens = train.reduce((s, d) => s + d.length, 0) + train.length - 1;
  assert(a.length === Math.floor(tokens / 16), `rows cover the epoch: ${a.length}`);
  assert(a.every((r) => r.length === 17 && r[0] === 0), "rows of n_ctx + 1 with BOS first");
  assert(a.every((r, i) => r.join() === b[i]!.join()), "same seed and epoch → same rows");
  assert(a.some((r, i) => r.join() !== c[i]!.join()), "another epoch → another order");
  assert(validationRows(train, 0, 16, 3).length === 3, "validation rows are capped");
});

Deno.test("training lowers the loss, evaluates per position and leaks no tensors", async () => {
  await initBackend();
  const model = Gpt2.random(TINY, 0);
  const data = tinyData();
  const before = lossByPosition(model, validationRows(data.validation, 0, 32, 4));
  const n0 = tf.memory().numTensors;
  const r = await trainLm(model, data, quickCfg({ total_steps: 80, lr: 1e-2, eval_every: 20 }), { progress: false });
  assert(tf.memory().numTensors === n0, `tensors ${n0} → ${tf.memory().numTensors}`);
  const first = r.history.slice(0, 5).reduce((s, e) => s + e.loss, 0) / 5;
  const last = r.history.slice(-5).reduce((s, e) => s + e.loss, 0) / 5;
  assert(last < first - 0.5, `training loss falls: ${first} → ${last}`);
  assert(r.evals.length === 4 && r.evals.at(-1)!.step === 80, "evaluated every 20 steps");
  const after = lossByPosition(model, validationRows(data.validation, 0, 32, 4));
  const mean = (s: Float64Array) => s.reduce((a, b) => a + b, 0) / s.length;
  assert(mean(after.sum) < mean(before.sum), "validation loss falls");
  // which walk a document follows is only known from context: late positions are predicted better
  const span = (a: number, b: number) => after.sum.slice(a, b).reduce((x, y) => x + y, 0) / ((b - a) * after.count);
  assert(span(16, 32) < span(1, 3), `the model uses its context: ${span(16, 32)} vs ${span(1, 3)}`);
  model.dispose();
});

Deno.test("an interrupted run resumed from its checkpoint matches the uninterrupted run exactly", async () => {
  await initBackend();
  const dir = await Deno.makeTempDir({ prefix: "lm_resume_" });
  try {
    const data = tinyData();
    const cfg = quickCfg();
    const full = Gpt2.random(TINY, 0);
    const a = await trainLm(full, data, cfg, { progress: false });

    const part = Gpt2.random(TINY, 0);
    const first = await trainLm(part, data, cfg, { progress: false, checkpointDir: dir, stopAtStep: 12 });
    assert(first.stopped && first.step === 12, "stopped at step 12");
    assert((await listCheckpoints(dir, { prefix: "lm" })).includes(12), "the stop wrote a checkpoint");
    part.dispose();
    const resumed = Gpt2.random(TINY, 99); // different init: everything must come from the checkpoint
    const b = await trainLm(resumed, data, cfg, { progress: false, checkpointDir: dir });
    assert(b.startStep === 12 && b.step === 30, `resumed from 12 to 30, got ${b.startStep}→${b.step}`);
    assert(b.history.length === 30, "history carried over");
    for (let i = 0; i < 30; i++) {
      assert(Math.abs(a.history[i]!.loss - b.history[i]!.loss) <= 1e-6, `step ${i + 1} loss`);
    }
    const pa = full.toArrays(), pb = resumed.toArrays();
    let maxDiff = 0;
    for (const [k, v] of pa) {
      const w = pb.get(k)!;
      for (let i = 0; i < v.length; i++) maxDiff = Math.max(maxDiff, Math.abs(v[i]! - w[i]!));
    }
    assert(maxDiff <= 1e-6, `parameters differ by ${maxDiff}`);
    full.dispose();
    resumed.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("resuming with a different recipe is refused, naming the field", async () => {
  await initBackend();
  const dir = await Deno.makeTempDir({ prefix: "lm_cfg_" });
  try {
    const model = Gpt2.random(TINY, 0);
    await trainLm(model, tinyData(), quickCfg(), { progress: false, checkpointDir: dir, stopAtStep: 3 });
    await expectReject(
      trainLm(model, tinyData(), quickCfg({ lr: 1e-2 }), { progress: false, checkpointDir: dir }),
      "lr = 0.003",
      "0.01",
    );
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a diverging run stops with an error naming the step and keeps the last good checkpoint", async () => {
  await initBackend();
  const dir = await Deno.makeTempDir({ prefix: "lm_div_" });
  try {
    const model = Gpt2.random(TINY, 0);
    const cfg = quickCfg({ lr: 30, warmup_steps: 0, grad_clip: 0, checkpoint_every: 1, weight_decay: 0 });
    const err = await expectReject(
      trainLm(model, tinyData(), cfg, { progress: false, checkpointDir: dir }),
      "diverged at step",
      "last good checkpoint",
    );
    assert(err instanceof LmDivergenceError, "LmDivergenceError");
    const kept = await loadLatestCheckpoint(dir, { prefix: "lm" });
    assert(kept !== null && kept.step === err.lastCheckpoint && kept.step < err.step, "checkpoint before the failure");
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LM training config errors name the field", () => {
  const bad = (o: Record<string, unknown>, phrase: string) => {
    try {
      defaultLmTrainConfig(o);
    } catch (e) {
      assert((e as Error).message.includes(phrase), `${(e as Error).message} mentions ${phrase}`);
      return;
    }
    throw new Error(`expected an error for ${JSON.stringify(o)}`);
  };
  bad({ micro_batch_rows: 3, batch_rows: 8 }, "micro_batch_rows: 3 does not divide batch_rows 8");
  bad({ lr: -1 }, "LmTrainConfig.lr");
  bad({ schedule: "step" }, "LmTrainConfig.schedule");
  bad({ adam_beta2: 1 }, "LmTrainConfig.adam_beta2");
});

Deno.test("a non-finite loss stops training at that step before any update", async () => {
  await initBackend();
  const donor = Gpt2.random(TINY, 0);
  const arrays = donor.toArrays();
  donor.dispose();
  arrays.get("h.1.mlp.c_fc.weight")![7] = NaN;
  const model = new Gpt2(TINY, arrays);
  const before = model.toArrays().get("wte.weight")!.slice();
  const err = await expectReject(
    trainLm(model, tinyData(), quickCfg(), { progress: false }),
    "diverged at step 1",
    "NaN",
  );
  assert(err instanceof LmDivergenceError && err.step === 1 && err.lastCheckpoint === null, "step 1, no checkpoint");
  assert(model.toArrays().get("wte.weight")!.every((v, i) => v === before[i]), "parameters untouched");
  model.dispose();
});

Deno.test("repeatSpan copies one span of the row to a later place and keeps the rest", () => {
  const row = Int32Array.from({ length: 101 }, (_, i) => 1000 + i);
  for (let k = 0; k < 200; k++) {
    const { row: out, span } = repeatSpan(row, [5, 30], new Rng(k, "test/repeat"));
    assert(out.length === row.length && out[0] === row[0], "length and BOS kept");
    assert(span.len >= 5 && span.len <= 30, `span length ${span.len} in [5, 30]`);
    assert(span.src >= 1 && span.dst >= span.src + span.len && span.dst + span.len <= row.length, "span fits");
    for (let j = 0; j < row.length; j++) {
      const inCopy = j >= span.dst && j < span.dst + span.len;
      const want = inCopy ? row[span.src + j - span.dst] : row[j];
      assert(out[j] === want, `position ${j}: ${out[j]} ≠ ${want}`);
    }
  }
  assert(row[50] === 1050, "the input row is not modified");
});

Deno.test("repeat_max_fraction: at one half a short row's copy sits half a row back; at one quarter its distance varies", () => {
  // rows of 128 positions (129 tokens), as in the first stage of the curriculum pilots
  const modeShare = (span: [number, number], f: number) => {
    const count = new Map<number, number>();
    for (let g = 0; g < 2000; g++) {
      const { span: s } = repeatSpan(new Int32Array(129), span, new Rng(0, `test/distance/${g}`), { maxFraction: f });
      count.set(s.dst - s.src, (count.get(s.dst - s.src) ?? 0) + 1);
    }
    return { share: Math.max(...count.values()) / 2000, distinct: count.size };
  };
  const legacy = modeShare([32, 384], 0.5), varied = modeShare([32, 256], 0.25);
  assert(legacy.share > 0.85, `one half: the copy distance 64 should dominate, modal share ${legacy.share}`);
  assert(varied.share < 0.1 && varied.distinct >= 60, `one quarter: ${JSON.stringify(varied)}`);
  let msg = "";
  try {
    quickCfg({ repeat_fraction: 0.5, repeat_span: [4, 12], repeat_max_fraction: 0.6 });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("repeat_max_fraction") && msg.includes("0.6") && msg.includes("(0, 0.5]"), `message: ${msg}`);
});

Deno.test("the batch stream copies spans in about repeat_fraction of rows, the same rows for the same step", () => {
  const data = tinyData();
  const plain = new LmBatches(data.train, 0, quickCfg({ batch_rows: 4, micro_batch_rows: 4 }));
  const cfg = quickCfg({ batch_rows: 4, micro_batch_rows: 4, repeat_fraction: 0.5, repeat_span: [4, 12] });
  const aug = new LmBatches(data.train, 0, cfg), again = new LmBatches(data.train, 0, cfg);
  let changed = 0, total = 0;
  for (let step = 0; step < 50; step++) {
    const a = aug.rows(step), p = plain.rows(step), b = again.rows(step);
    a.forEach((r, i) => {
      total++;
      if (r.some((v, j) => v !== (p[i] as Int32Array)[j])) changed++;
      assert(r.every((v, j) => v === (b[i] as Int32Array)[j]), `step ${step} row ${i} differs between two streams`);
    });
  }
  // a copy can equal the text it overwrites only by chance, so nearly every chosen row changes
  assert(changed > 0.35 * total && changed < 0.65 * total, `${changed} of ${total} rows changed, expected ≈ half`);
});

Deno.test("augmentedTokenShare counts exactly the tokens the batch stream's augmentation writes", () => {
  // text of all zeros (BOS 0 too) and random ids from 1 up: every nonzero token was written by the augmentation
  const docs = Array.from({ length: 40 }, () => new Int32Array(97));
  const cfg = quickCfg({
    total_steps: 12,
    ctx_curriculum: [[4, 8], [8, 16]],
    repeat_fraction: 0.7,
    repeat_span: [2, 12],
    repeat_max_fraction: 0.25,
    repeat_copies: 3,
    repeat_span_draw: "within",
    repeat_random_ids: [1, 50],
  });
  const batches = new LmBatches(docs, 0, cfg);
  const by = new Map<number, [number, number]>();
  for (let step = 0; step < cfg.total_steps; step++) {
    for (const r of batches.rows(step)) {
      const [w, t] = by.get(r.length - 1) ?? [0, 0];
      by.set(r.length - 1, [w + r.subarray(1).filter((v) => v !== 0).length, t + r.length - 1]);
    }
  }
  const a = augmentedTokenShare(cfg);
  for (const [ctx, [w, t]] of by) assert(a.by_ctx[ctx] === w / t, `rows of ${ctx}: ${a.by_ctx[ctx]} vs ${w / t}`);
  const all = [...by.values()].reduce((s, [w, t]) => [s[0] + w, s[1] + t], [0, 0]);
  assert(a.tokens === all[1] && Math.abs(a.share - all[0] / all[1]) < 1e-12, `share ${a.share} vs ${all[0] / all[1]}`);
  assert(a.share > 0.2 && a.share < 0.9, `a share between the bounds the recipe allows: ${a.share}`);
  // without random ids only the copies count; without augmentation nothing does
  const copiesOnly = augmentedTokenShare({ ...cfg, repeat_random_ids: undefined });
  assert(copiesOnly.share < a.share && copiesOnly.share > 0, `copies only: ${copiesOnly.share}`);
  assert(augmentedTokenShare({ ...cfg, repeat_fraction: 0 }).share === 0, "no augmentation");
});

Deno.test("repeat_span errors name the field and the values", () => {
  let msg = "";
  try {
    quickCfg({ repeat_fraction: 0.5, repeat_span: [4, 20] });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("repeat_span") && msg.includes("20") && msg.includes("n_ctx 32"), `message: ${msg}`);
});

Deno.test("a sequence-length curriculum trains short rows early with the same tokens per step, then full rows", async () => {
  await initBackend();
  const data = tinyData();
  const cfg = quickCfg({ total_steps: 16, ctx_curriculum: [[4, 8], [8, 16]], checkpoint_every: 3 });
  const batches = new LmBatches(data.train, 0, cfg), again = new LmBatches(data.train, 0, cfg);
  for (const [step, ctx, rows] of [[0, 8, 16], [3, 8, 16], [4, 16, 8], [7, 16, 8], [8, 32, 4], [15, 32, 4]]) {
    const r = batches.rows(step!);
    assert(r.length === rows, `step ${step}: ${r.length} rows, expected ${rows}`);
    assert(r.every((x) => x.length === ctx! + 1 && x[0] === 0), `step ${step}: rows of ${ctx! + 1} tokens, BOS first`);
    const b = again.rows(step!);
    assert(r.every((x, i) => x.join() === b[i]!.join()), `step ${step}: the same rows from a second stream`);
  }
  // full-length rows after the curriculum come from the plain stream, starting at its first epoch
  const plain = new LmBatches(data.train, 0, quickCfg());
  assert(batches.rows(8)[0]!.join() === plain.rows(0)[0]!.join(), "the full stage starts the plain stream");
  // training through the stages resumes exactly
  const dir = await Deno.makeTempDir({ prefix: "lm_curriculum_" });
  try {
    const n0 = tf.memory().numTensors;
    const full = Gpt2.random(TINY, 0);
    const a = await trainLm(full, data, cfg, { progress: false });
    const part = Gpt2.random(TINY, 0);
    await trainLm(part, data, cfg, { progress: false, checkpointDir: dir, stopAtStep: 6 });
    part.dispose();
    const resumed = Gpt2.random(TINY, 5);
    const b = await trainLm(resumed, data, cfg, { progress: false, checkpointDir: dir });
    for (let i = 0; i < 16; i++) {
      assert(Math.abs(a.history[i]!.loss - b.history[i]!.loss) <= 1e-6, `step ${i + 1} loss after resume`);
    }
    assert(a.history.every((h, i) => h.tokens === (i + 1) * 4 * 32), "tokens per step are constant");
    full.dispose();
    resumed.dispose();
    assert(tf.memory().numTensors === n0, `tensors ${n0} → ${tf.memory().numTensors}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("curriculum stages must ascend and divide n_ctx", () => {
  for (const [stages, phrase] of [[[[4, 12]], "ctx must divide"], [[[4, 8], [4, 16]], "above 4"]] as const) {
    let msg = "";
    try {
      quickCfg({ ctx_curriculum: stages as unknown as [number, number][] });
    } catch (e) {
      msg = (e as Error).message;
    }
    assert(msg.includes("ctx_curriculum") && msg.includes(phrase), `message: ${msg}`);
  }
});

Deno.test("a checkpoint written with another repeat_max_fraction is refused, naming both values", async () => {
  await initBackend();
  const data = tinyData();
  const cfg = quickCfg({ total_steps: 6, repeat_fraction: 1, repeat_span: [2, 12], repeat_max_fraction: 0.25 });
  const dir = await Deno.makeTempDir({ prefix: "lm_repeat_" });
  const n0 = tf.memory().numTensors;
  const a = Gpt2.random(TINY, 0), b = Gpt2.random(TINY, 0);
  try {
    await trainLm(a, data, cfg, { progress: false, checkpointDir: dir, stopAtStep: 3 });
    // absent means the rule before the field existed, one half
    const { repeat_max_fraction: _, ...legacy } = cfg;
    await expectReject(
      trainLm(b, data, legacy, { progress: false, checkpointDir: dir }),
      "repeat_max_fraction = 0.25",
      "this run has 0.5",
    );
  } finally {
    a.dispose();
    b.dispose();
    await Deno.remove(dir, { recursive: true });
  }
  assert(tf.memory().numTensors === n0, `tensors ${n0} → ${tf.memory().numTensors}`);
});

Deno.test("repeat_copies writes back-to-back copies that fit, keeps the one-copy stream, and is validated", () => {
  const row = Int32Array.from({ length: 129 }, (_, i) => 1000 + i);
  let many = 0;
  for (let g = 0; g < 300; g++) {
    const one = repeatSpan(row, [16, 256], new Rng(0, `test/copies/${g}`), { maxFraction: 0.25 });
    const same = repeatSpan(row, [16, 256], new Rng(0, `test/copies/${g}`), { maxFraction: 0.25, maxCopies: 1 });
    assert(one.row.join() === same.row.join() && one.span.copies === 1, "maxCopies 1 is the one-copy rule");
    const { row: out, span } = repeatSpan(row, [16, 256], new Rng(0, `test/copies/${g}`), {
      maxFraction: 0.25,
      maxCopies: 4,
    });
    assert(span.copies >= 1 && span.copies <= 4 && span.dst + span.copies * span.len <= row.length, "copies fit");
    if (span.copies > 1) many++;
    for (let j = 0; j < row.length; j++) {
      const c = j - span.dst;
      const want = c >= 0 && c < span.copies * span.len ? row[span.src + (c % span.len)] : row[j];
      assert(out[j] === want, `row ${g} position ${j}: ${out[j]} ≠ ${want}`);
    }
  }
  assert(many > 150, `${many} of 300 rows drew more than one copy`);
  let msg = "";
  try {
    quickCfg({ repeat_fraction: 0.5, repeat_span: [4, 12], repeat_copies: 0 });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("repeat_copies") && msg.includes("got 0"), `message: ${msg}`);
});

Deno.test("repeat_random_ids fills the source span with ids from the range before copying, and is validated", async () => {
  const row = Int32Array.from({ length: 129 }, (_, i) => 1000 + i);
  for (let g = 0; g < 100; g++) {
    const plain = repeatSpan(row, [16, 256], new Rng(0, `test/random/${g}`), { maxFraction: 0.25, maxCopies: 4 });
    const { row: out, span } = repeatSpan(row, [16, 256], new Rng(0, `test/random/${g}`), {
      maxFraction: 0.25,
      maxCopies: 4,
      randomIds: [5, 50],
    });
    assert(JSON.stringify(span) === JSON.stringify(plain.span), "the ids are drawn after the span's place");
    for (let j = 0; j < row.length; j++) {
      const c = j - span.dst;
      if (j >= span.src && j < span.src + span.len) assert(out[j]! >= 5 && out[j]! < 50, `source id ${out[j]}`);
      else if (c >= 0 && c < span.copies * span.len) {
        assert(out[j] === out[span.src + (c % span.len)], `row ${g} position ${j} is a copy of the new source`);
      } else assert(out[j] === row[j], `row ${g} position ${j} is untouched`);
    }
  }
  let msg = "";
  try {
    quickCfg({ repeat_fraction: 0.5, repeat_span: [4, 12], repeat_random_ids: [7, 7] });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("repeat_random_ids") && msg.includes("[7, 7]"), `message: ${msg}`);
  await initBackend();
  const model = Gpt2.random(TINY, 0);
  try {
    const cfg = (ids: [number, number]) =>
      quickCfg({ repeat_fraction: 1, repeat_span: [4, 12], repeat_random_ids: ids, total_steps: 2 });
    await expectReject(trainLm(model, tinyData(), cfg([2, 25]), { progress: false }), "[0, 24)", "[2, 25)");
    await expectReject(trainLm(model, tinyData(), cfg([0, 24]), { progress: false }), "BOS 0", "[0, 24)");
    await trainLm(model, tinyData(), cfg([1, 24]), { progress: false });
  } finally {
    model.dispose();
  }
});

Deno.test("repeat_span_draw: cut puts most short-row spans at the cap, within spreads them, and is validated", () => {
  const row = new Int32Array(129);
  const count = (draw: "cut" | "within") => {
    const n = new Map<number, number>();
    for (let g = 0; g < 2000; g++) {
      const { span } = repeatSpan(row, [16, 256], new Rng(0, `test/draw/${g}`), {
        maxFraction: 0.25,
        maxCopies: 4,
        draw,
      });
      n.set(span.len, (n.get(span.len) ?? 0) + 1);
    }
    return n;
  };
  const cut = count("cut"), within = count("within");
  assert((cut.get(32) ?? 0) > 1800, `cut: ${cut.get(32)} of 2000 spans at the cap 32`);
  assert([...within.keys()].every((L) => L >= 16 && L <= 32), `within: lengths ${[...within.keys()]}`);
  assert(within.size === 17 && Math.max(...within.values()) < 200, `within: ${within.size} lengths, spread evenly`);
  const plain = repeatSpan(row, [16, 256], new Rng(0, "test/draw/0"), { maxFraction: 0.25, maxCopies: 4 });
  const same = repeatSpan(row, [16, 256], new Rng(0, "test/draw/0"), { maxFraction: 0.25, maxCopies: 4, draw: "cut" });
  assert(JSON.stringify(plain.span) === JSON.stringify(same.span), "cut is the rule before the field existed");
  let msg = "";
  try {
    quickCfg({ repeat_fraction: 0.5, repeat_span: [4, 12], repeat_span_draw: "clip" as "cut" });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("repeat_span_draw") && msg.includes('"clip"'), `message: ${msg}`);
});
