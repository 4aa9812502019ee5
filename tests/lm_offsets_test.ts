// Position offsets (rows placed at absolute positions o_b … o_b + T − 1): the embedding op on the fused and plain
// paths (values, wte and wpe gradients), offsets of 0 = no offsets bit for bit, the embedding as wte[ids] +
// wpe[o + t] computed on the host, errors naming the bad offset, the GPT-2 forward and training loss with offsets,
// and the trainer's ctx_offsets (deterministic offsets in range, "zero"/absent = today's batches, exact resume).

import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { fusedLmOps, setFusedLmOps } from "../lib/engine/kernels/fused_ops.ts";
import { embedTokens, softmaxCrossEntropy } from "../lib/engine/kernels/lm_layer_ops.ts";
import { Rng } from "../lib/engine/rng.ts";
import { defaultGpt2Config } from "../lib/lm/config.ts";
import { Gpt2 } from "../lib/lm/gpt2.ts";
import { defaultInductionTaskConfig, runInductionCondition } from "../lib/lm/induction_task.ts";
import { defaultLmTrainConfig, LmBatches, type LmData, lmStage, lmWpeOnly, trainLm } from "../lib/lm/train.ts";
import { assert, assertThrows, expectRejects, maxAbsDiff } from "./helpers.ts";

await initBackend();
// the fused-vs-plain comparisons need the fused path (wasm + OpenBLAS); elsewhere they would compare the plain
// path with itself, so they are skipped rather than passed
const FUSED = fusedLmOps() !== null;
const fusedTest = (name: string, fn: () => void) => Deno.test({ name, ignore: !FUSED, fn });

function randn(shape: number[], seed: number): tf.Tensor {
  const data = new Rng(seed, "tests/lm_offsets").fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1)));
  return tf.tensor(data, shape, "float32");
}

const [V, D, N_CTX, B, T] = [30, 8, 20, 3, 5];
const IDS = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + 2) % V);
const OFFSETS = new Int32Array([0, 15, 7]); // positions 0–4, 15–19 (the last is n_ctx − 1) and 7–11

/** Embedding and its wte, wpe gradients (loss Σ emb·w) with `fused` on or off; host arrays, no leaks. */
function embedWithGrads(fused: boolean, offsets: Int32Array | undefined): Float32Array[] {
  const wte = randn([V, D], 1) as tf.Tensor2D, wpe = randn([N_CTX, D], 2) as tf.Tensor2D, w = randn([B, T, D], 3);
  setFusedLmOps(fused);
  try {
    const before = tf.memory().numTensors;
    const f = (a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(embedTokens(a as tf.Tensor2D, b as tf.Tensor2D, IDS, B, T, offsets), w)) as tf.Scalar;
    const out = [embedTokens(wte, wpe, IDS, B, T, offsets), ...tf.grads(f)([wte, wpe])];
    const host = out.map((t) => t.dataSync().slice() as Float32Array);
    tf.dispose(out);
    assert(tf.memory().numTensors === before, `fused=${fused}: ${tf.memory().numTensors - before} tensors leaked`);
    return host;
  } finally {
    setFusedLmOps(null);
    tf.dispose([wte, wpe, w]);
  }
}

fusedTest("embedTokens with offsets: fused = plain (embedding, d wte, d wpe)", () => {
  const f = embedWithGrads(true, OFFSETS), p = embedWithGrads(false, OFFSETS);
  ["embedding", "d wte", "d wpe"].forEach((name, i) => {
    const d = maxAbsDiff(f[i]!, p[i]!);
    assert(d <= 1e-6 * Math.max(1, ...Array.from(p[i]!, Math.abs)), `${name}: max |fused − plain| ${d}`);
  });
});

Deno.test("embedTokens with offsets all 0 = without offsets, bit for bit, on both paths", () => {
  for (const fused of FUSED ? [true, false] : [false]) {
    const a = embedWithGrads(fused, new Int32Array(B)), b = embedWithGrads(fused, undefined);
    a.forEach((x, i) => assert(maxAbsDiff(x, b[i]!) === 0, `fused=${fused}: output ${i} differs`));
  }
});

Deno.test("embedTokens with offsets is wte[ids] + wpe[offset + t], and d wpe lands on rows offset … offset + T − 1", () => {
  const host = (t: tf.Tensor) => {
    const x = t.dataSync() as Float32Array;
    t.dispose();
    return x;
  };
  const wteH = host(randn([V, D], 1)), wpeH = host(randn([N_CTX, D], 2)), wH = host(randn([B, T, D], 3));
  const want = new Float32Array(B * T * D), dWpe = new Float64Array(N_CTX * D);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const p = OFFSETS[b]! + t, id = IDS[b * T + t]!;
      for (let j = 0; j < D; j++) {
        want[(b * T + t) * D + j] = wteH[id * D + j]! + wpeH[p * D + j]!;
        dWpe[p * D + j] = dWpe[p * D + j]! + wH[(b * T + t) * D + j]!;
      }
    }
  }
  // positions 5, 6, 12, 13, 14 are read by no row: their gradient must be exactly 0
  for (const p of [5, 6, 12, 13, 14]) for (let j = 0; j < D; j++) assert(dWpe[p * D + j] === 0, "test setup");
  for (const fused of FUSED ? [true, false] : [false]) {
    const [emb, , gWpe] = embedWithGrads(fused, OFFSETS);
    assert(maxAbsDiff(emb!, want) <= 1e-7, `fused=${fused}: embedding ≠ wte[ids] + wpe[offset + t]`);
    assert(maxAbsDiff(gWpe!, dWpe) <= 1e-6, `fused=${fused}: d wpe is not the scatter-add at offset + t`);
  }
});

Deno.test("a bad offset throws naming the row, the offset, T and wpe's rows", () => {
  const wte = randn([V, D], 1) as tf.Tensor2D, wpe = randn([N_CTX, D], 2) as tf.Tensor2D;
  for (const fused of FUSED ? [true, false] : [false]) {
    setFusedLmOps(fused);
    try {
      assertThrows(() => embedTokens(wte, wpe, IDS, B, T, new Int32Array([0, 16, 0])), [
        "row 1",
        "offset 16",
        "T = 5",
        "wpe has 20 rows",
      ]);
      assertThrows(() => embedTokens(wte, wpe, IDS, B, T, new Int32Array([0, 0, -1])), ["row 2", "offset -1"]);
      assertThrows(() => embedTokens(wte, wpe, IDS, B, T, new Int32Array(2)), ["2 offsets for 3 rows"]);
    } finally {
      setFusedLmOps(null);
    }
  }
  tf.dispose([wte, wpe]);
});

// a GPT-2 of n_ctx 40 evaluated on rows of 9 positions at three offsets
const CFG = defaultGpt2Config({ n_layer: 2, d_model: 16, n_head: 2, n_ctx: 40, d_vocab: 23 });
const [GB, GT] = [3, 9];
const G_IDS = Int32Array.from({ length: GB * GT }, (_, i) => (i * 5 + 1) % 23);
const G_TARGETS = Int32Array.from({ length: GB * GT }, (_, i) => (i * 11 + 3) % 23);
const G_OFFSETS = new Int32Array([31, 0, 17]);

/** Logits with posOffsets, the training loss with the same offsets and its gradients, as host arrays. */
function gpt2WithOffsets(model: Gpt2, fused: boolean, offsets: Int32Array | undefined): Float32Array[] {
  setFusedLmOps(fused);
  const tokens = tf.tensor2d(G_IDS, [GB, GT], "int32");
  try {
    const logits = model.forward(tokens, offsets);
    const vars = model.trainableVariables();
    const { value, grads } = tf.variableGrads(() => model.nextTokenLoss(tokens, G_TARGETS, offsets), vars);
    const out = [logits, value, ...vars.map((v) => grads[v.name]!)];
    const host = out.map((t) => t.dataSync().slice() as Float32Array);
    tf.dispose([logits, value, ...Object.values(grads)]);
    return host;
  } finally {
    tokens.dispose();
    setFusedLmOps(null);
  }
}

Deno.test("Gpt2 with posOffsets: the training loss is the cross-entropy of forward() at the same offsets", () => {
  const model = Gpt2.random(CFG, 4);
  const before = tf.memory().numTensors;
  for (const fused of FUSED ? [true, false] : [false]) {
    const [logits, loss, ...grads] = gpt2WithOffsets(model, fused, G_OFFSETS);
    const ref = tf.tidy(() =>
      softmaxCrossEntropy(tf.tensor2d(logits!, [GB * GT, CFG.d_vocab]), G_TARGETS).dataSync()[0]!
    );
    assert(Math.abs(ref - loss![0]!) <= 1e-5 * ref, `fused=${fused}: loss ${loss![0]} vs CE of logits ${ref}`);
    // the offsets change the result (the test would be vacuous otherwise), and wpe's gradient sits on the used rows
    const [plainLogits] = gpt2WithOffsets(model, fused, undefined);
    assert(maxAbsDiff(logits!, plainLogits!) > 1e-4, `fused=${fused}: offsets did not change the logits`);
    const names = [...model.params.keys()];
    const gWpe = grads[names.indexOf("wpe.weight")]!;
    const used = new Set<number>();
    for (const o of G_OFFSETS) for (let t = 0; t < GT; t++) used.add(o + t);
    for (let p = 0; p < CFG.n_ctx; p++) {
      const row = gWpe.subarray(p * CFG.d_model, (p + 1) * CFG.d_model);
      const nonzero = row.some((v) => v !== 0);
      assert(nonzero === used.has(p), `fused=${fused}: wpe row ${p} gradient ${nonzero ? "≠" : "="} 0`);
    }
  }
  assert(tf.memory().numTensors === before, `${tf.memory().numTensors - before} tensors leaked`);
  model.dispose();
});

fusedTest("Gpt2 with posOffsets: fused = plain (logits, loss, every gradient)", () => {
  const model = Gpt2.random(CFG, 5);
  const f = gpt2WithOffsets(model, true, G_OFFSETS), p = gpt2WithOffsets(model, false, G_OFFSETS);
  const names = ["logits", "loss", ...model.params.keys()];
  p.forEach((x, i) => {
    const d = maxAbsDiff(f[i]!, x);
    assert(d <= 5e-6 * Math.max(1, ...Array.from(x, Math.abs)), `${names[i]}: max |fused − plain| ${d}`);
  });
  model.dispose();
});

Deno.test("Gpt2 with posOffsets all 0 = without, bit for bit; hook_pos_embed holds the offset rows; bad offsets throw", () => {
  const model = Gpt2.random(CFG, 6);
  for (const fused of FUSED ? [true, false] : [false]) {
    const a = gpt2WithOffsets(model, fused, new Int32Array(GB)), b = gpt2WithOffsets(model, fused, undefined);
    a.forEach((x, i) => assert(maxAbsDiff(x, b[i]!) === 0, `fused=${fused}: output ${i} differs`));
  }
  const tokens = tf.tensor2d(G_IDS, [GB, GT], "int32");
  const { logits, cache } = model.run(tokens, { cache: ["hook_pos_embed"], posOffsets: G_OFFSETS });
  const pos = cache.get("hook_pos_embed")!.dataSync(), wpe = model.params.get("wpe.weight")!.dataSync();
  const d = CFG.d_model;
  for (let b = 0; b < GB; b++) {
    for (let t = 0; t < GT; t++) {
      const got = pos.subarray((b * GT + t) * d, (b * GT + t + 1) * d);
      const want = wpe.subarray((G_OFFSETS[b]! + t) * d, (G_OFFSETS[b]! + t + 1) * d);
      assert(maxAbsDiff(got, want) === 0, `hook_pos_embed [${b}, ${t}] is not wpe row ${G_OFFSETS[b]! + t}`);
    }
  }
  tf.dispose([logits!, ...cache.values()]);
  assertThrows(() => model.forward(tokens, new Int32Array([0, 32, 0])), ["row 1", "offset 32", "T = 9", "40 rows"]);
  assertThrows(
    () => model.nextTokenLoss(tokens, G_TARGETS, new Int32Array([0, 0, 32])),
    ["row 2", "offset 32", "40 rows"],
  );
  tokens.dispose();
  model.dispose();
});

// ---- the trainer's ctx_offsets ----

const TINY = defaultGpt2Config({ n_layer: 1, d_model: 16, n_head: 2, n_ctx: 32, d_vocab: 24 });

function tinyData(): LmData {
  const rng = new Rng(1, "test/lm-offsets-data");
  const doc = (len: number) => Int32Array.from({ length: len }, () => 2 + rng.int(22));
  return { train: Array.from({ length: 40 }, () => doc(20 + rng.int(60))), validation: [doc(80)], bos: 0 };
}

function cfgWith(overrides = {}) {
  return defaultLmTrainConfig({
    n_ctx: 32,
    total_steps: 10,
    batch_rows: 4,
    micro_batch_rows: 2,
    lr: 3e-3,
    warmup_steps: 2,
    eval_every: 5,
    eval_rows: 1,
    checkpoint_every: 3,
    seed: 3,
    repeat_fraction: 0.5,
    repeat_span: [2, 6],
    ctx_curriculum: [[4, 8], [7, 16]],
    ...overrides,
  });
}

Deno.test("ctx_offsets: absent from the defaults; validated with the field, expected and actual values", () => {
  assert(!("ctx_offsets" in defaultLmTrainConfig()), "defaultLmTrainConfig() gained a ctx_offsets key");
  assertThrows(() => cfgWith({ ctx_offsets: "uniform" }), ["ctx_offsets", '"zero" or "random"', '"uniform"']);
});

Deno.test("ctx_offsets: random offsets are deterministic, in [0, n_ctx − ctx], 0 on full rows; rows unchanged", () => {
  const data = tinyData();
  const random = cfgWith({ ctx_offsets: "random" });
  const a = new LmBatches(data.train, 0, random), again = new LmBatches(data.train, 0, random);
  const zero = new LmBatches(data.train, 0, cfgWith({ ctx_offsets: "zero" }));
  const absent = new LmBatches(data.train, 0, cfgWith());
  const seen = new Map<number, Set<number>>(); // ctx → offsets drawn
  for (let step = 0; step < 10; step++) {
    const { ctx, rows } = lmStage(random, step);
    const o = a.offsets(step);
    assert(o.length === rows && o.length === a.rows(step).length, `step ${step}: ${o.length} offsets, ${rows} rows`);
    // the same offsets from a second stream, in any order of calls (a resume starts at any step)
    assert(o.join() === again.offsets(step).join(), `step ${step}: offsets differ between two streams`);
    assert(o.every((x) => x >= 0 && x <= 32 - ctx), `step ${step}: offsets ${o} outside [0, ${32 - ctx}]`);
    if (ctx === 32) assert(o.every((x) => x === 0), `step ${step}: full rows must start at 0`);
    else for (const x of o) seen.set(ctx, (seen.get(ctx) ?? new Set()).add(x));
    assert(zero.offsets(step).every((x) => x === 0) && absent.offsets(step).every((x) => x === 0), "zero offsets");
    // the rows themselves do not depend on ctx_offsets
    for (const other of [zero, absent]) {
      const r = a.rows(step), s = other.rows(step);
      assert(r.every((x, i) => x.join() === s[i]!.join()), `step ${step}: rows depend on ctx_offsets`);
    }
  }
  // 64 offsets over 25 values (ctx 8) and 24 over 17 (ctx 16): the draws must not all be equal
  assert(seen.get(8)!.size > 10 && seen.get(16)!.size > 5, `too few distinct offsets: ${[...seen.values()]}`);
  const reversed = new LmBatches(data.train, 0, random);
  for (let step = 9; step >= 0; step--) assert(reversed.offsets(step).join() === a.offsets(step).join(), "order");
});

Deno.test("ctx_offsets random: training differs from zero offsets, resumes exactly, and a checkpoint of the other setting is refused", async () => {
  const data = tinyData();
  const cfg = cfgWith({ ctx_offsets: "random" });
  const dir = await Deno.makeTempDir({ prefix: "lm_offsets_" });
  try {
    const n0 = tf.memory().numTensors;
    const full = Gpt2.random(TINY, 0);
    const a = await trainLm(full, data, cfg, { progress: false });
    const zeroModel = Gpt2.random(TINY, 0);
    const z = await trainLm(zeroModel, data, cfgWith(), { progress: false });
    // step 1 trains on the same rows from the same start at other positions: its loss differs
    assert(a.history[0]!.loss !== z.history[0]!.loss, "random offsets gave the zero-offset loss at step 1");
    const part = Gpt2.random(TINY, 0);
    await trainLm(part, data, cfg, { progress: false, checkpointDir: dir, stopAtStep: 5 });
    const resumed = Gpt2.random(TINY, 9);
    const b = await trainLm(resumed, data, cfg, { progress: false, checkpointDir: dir });
    a.history.forEach((h, i) => assert(h.loss === b.history[i]!.loss, `step ${i + 1} loss after resume`));
    const pa = full.toArrays(), pb = resumed.toArrays();
    for (const [k, v] of pa) assert(maxAbsDiff(v, pb.get(k)!) === 0, `${k} differs after resume`);
    const other = Gpt2.random(TINY, 0);
    await expectRejects(
      () => trainLm(other, data, cfgWith({ total_steps: 12 }), { progress: false, checkpointDir: dir }),
      'ctx_offsets = "random"',
      '"zero"',
    );
    for (const m of [full, zeroModel, part, resumed, other]) m.dispose();
    assert(tf.memory().numTensors === n0, `tensors ${n0} → ${tf.memory().numTensors}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("induction task: short rows at random positions are deterministic and train other positions than offset 0", () => {
  const cfg = defaultInductionTaskConfig({ vocab: 32, d_model: 16, steps: 4, eval_every: 4, eval_rows: 4 });
  const base = { name: "offsets", half: 64, rows: 2, short_steps: 3, wpe: "normal" } as const;
  const a = runInductionCondition(cfg, { ...base, short_offsets: "random" });
  const b = runInductionCondition(cfg, { ...base, short_offsets: "random" });
  const z = runInductionCondition(cfg, { ...base, short_offsets: "zero" });
  const zAbsent = runInductionCondition(cfg, base);
  assert(JSON.stringify(a) === JSON.stringify(b), "the same condition gave different curves");
  assert(JSON.stringify(z) === JSON.stringify(zAbsent), '"zero" differs from an absent short_offsets');
  assert(a[0]!.first_half !== z[0]!.first_half, "random offsets gave the offset-0 curve");
});

// ---- the trainer's wpe_warmup_steps ----

Deno.test("wpe_warmup_steps: only at the start of a stage of longer rows; absent from the defaults; validated", () => {
  assert(!("wpe_warmup_steps" in defaultLmTrainConfig()), "defaultLmTrainConfig() gained a wpe_warmup_steps key");
  assertThrows(() => cfgWith({ wpe_warmup_steps: -1 }), ["wpe_warmup_steps", "integer ≥ 0", "-1"]);
  assertThrows(() => cfgWith({ wpe_warmup_steps: 1.5 }), ["wpe_warmup_steps", "1.5"]);
  // stages: steps 0–3 rows of 8, 4–6 rows of 16, 7+ rows of 32
  const c = cfgWith({ wpe_warmup_steps: 2 });
  const only = Array.from({ length: 10 }, (_, s) => lmWpeOnly(c, s));
  assert(only.join() === [0, 0, 0, 0, 1, 1, 0, 1, 1, 0].map(Boolean).join(), `wpe-only steps: ${only}`);
  assert(Array.from({ length: 10 }, (_, s) => lmWpeOnly(cfgWith(), s)).every((x) => !x), "absent must mean 0");
  // a stage of shorter rows after longer ones brings no new positions
  const down = cfgWith({ ctx_curriculum: [[4, 16], [7, 8]], wpe_warmup_steps: 2 });
  assert(!lmWpeOnly(down, 4) && lmWpeOnly(down, 7), "rows 16 → 8 must not warm up; 8 → 32 must");
});

Deno.test("wpe_warmup_steps: those steps change wpe.weight only, later steps every parameter; resume refuses another value", async () => {
  const data = tinyData();
  const cfg = cfgWith({ wpe_warmup_steps: 2 });
  const dir = await Deno.makeTempDir({ prefix: "lm_wpe_" });
  try {
    const n0 = tf.memory().numTensors;
    const model = Gpt2.random(TINY, 0);
    const at = async (step: number) => {
      await trainLm(model, data, cfg, { progress: false, checkpointDir: dir, stopAtStep: step });
      return model.toArrays();
    };
    const s4 = await at(4), s6 = await at(6), s7 = await at(7);
    for (const [k, v] of s4) {
      const changed = maxAbsDiff(v, s6.get(k)!) > 0;
      assert(changed === (k === "wpe.weight"), `steps 5–6 (wpe only): ${k} ${changed ? "changed" : "unchanged"}`);
      assert(maxAbsDiff(s6.get(k)!, s7.get(k)!) > 0, `step 7 (all parameters): ${k} unchanged`);
    }
    // the held parameters are exactly those of step 4, and the run differs from one without the warm-up
    const plain = Gpt2.random(TINY, 0);
    const p = await trainLm(plain, data, cfgWith({ total_steps: 6 }), { progress: false });
    const warm = Gpt2.random(TINY, 0);
    const w = await trainLm(warm, data, cfgWith({ total_steps: 6, wpe_warmup_steps: 2 }), { progress: false });
    assert(p.history[4]!.loss === w.history[4]!.loss, "step 5's loss must not depend on the warm-up (same start)");
    assert(p.history[5]!.loss !== w.history[5]!.loss, "step 6 trained the same parameters with and without warm-up");
    const other = Gpt2.random(TINY, 0);
    await expectRejects(
      () => trainLm(other, data, cfgWith({ total_steps: 12 }), { progress: false, checkpointDir: dir }),
      "wpe_warmup_steps = 2",
      "0",
    );
    for (const m of [model, plain, warm, other]) m.dispose();
    assert(tf.memory().numTensors === n0, `tensors ${n0} → ${tf.memory().numTensors}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("wpe_hold_steps: wpe.weight stays at its start for those steps while the rest trains, then trains; validated", async () => {
  assertThrows(() => cfgWith({ wpe_hold_steps: -2 }), ["wpe_hold_steps", "integer ≥ 0", "-2"]);
  // stages of longer rows start at steps 4 and 7: a warm-up there cannot fall inside a hold of 5 steps
  assertThrows(() => cfgWith({ wpe_hold_steps: 5, wpe_warmup_steps: 1 }), ["step 4", "wpe_hold_steps", "(5)"]);
  cfgWith({ wpe_hold_steps: 4, wpe_warmup_steps: 1 }); // the warm-up at step 4 starts as the hold ends
  assert(!("wpe_hold_steps" in defaultLmTrainConfig()), "defaultLmTrainConfig() gained a wpe_hold_steps key");
  const data = tinyData();
  const cfg = cfgWith({ wpe_hold_steps: 5 });
  const dir = await Deno.makeTempDir({ prefix: "lm_wpe_hold_" });
  try {
    const n0 = tf.memory().numTensors;
    const model = Gpt2.random(TINY, 0);
    const start = model.toArrays();
    await trainLm(model, data, cfg, { progress: false, checkpointDir: dir, stopAtStep: 5 });
    const s5 = model.toArrays();
    for (const [k, v] of start) {
      const changed = maxAbsDiff(v, s5.get(k)!) > 0;
      assert(changed === (k !== "wpe.weight"), `steps 1–5 (wpe held): ${k} ${changed ? "changed" : "unchanged"}`);
    }
    await trainLm(model, data, cfg, { progress: false, checkpointDir: dir, stopAtStep: 6 });
    assert(maxAbsDiff(s5.get("wpe.weight")!, model.toArrays().get("wpe.weight")!) > 0, "step 6 must train wpe");
    const other = Gpt2.random(TINY, 0);
    await expectRejects(
      () => trainLm(other, data, cfgWith(), { progress: false, checkpointDir: dir }),
      "wpe_hold_steps = 5",
      "0",
    );
    for (const m of [model, other]) m.dispose();
    assert(tf.memory().numTensors === n0, `tensors ${n0} → ${tf.memory().numTensors}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
