import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { Rng } from "../lib/engine/rng.ts";
import {
  argmaxTokens,
  binnedAccuracy,
  CeRecoveredStats,
  deltaCE,
  ExplainedVarianceStats,
  featureSparsity,
  logProbs,
  mseVariants,
  nextTokenLogProbs,
  perTokenCE,
  perTokenKL,
  positionMask,
  PositionStats,
  RatioStats,
  reconstructionTerms,
  SpliceMetrics,
  wilsonInterval,
} from "../lib/metrics/mod.ts";
import { defaultGpt2Config, Gpt2 } from "../lib/lm/mod.ts";
import { assertEquals } from "./helpers.ts";

await initBackend();

function assertClose(actual: number, expected: number, tol: number, what: string): void {
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new Error(`${what}: expected ${expected} ± ${tol}, got ${actual}`);
  }
}

function assert(cond: boolean, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

function assertThrows(fn: () => unknown, pattern: RegExp, what: string): void {
  try {
    fn();
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    if (!pattern.test(m)) throw new Error(`${what}: error "${m}" does not match ${pattern}`);
    return;
  }
  throw new Error(`${what}: expected an error`);
}

/** float64 reference log-softmax of one row. */
function logSoftmax64(z: number[]): number[] {
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
  return z.map((v) => v - lse);
}

Deno.test("per-token CE of uniform logits is ln(vocab) and of known logits is −ln p", () => {
  const before = tf.memory().numTensors;
  const logits = tf.tensor3d([[[0, 0, 0, 0], [0, Math.log(3), 0, 0], [1, 2, 3, 4]]]); // [1, 3, 4]
  const tokens = tf.tensor2d([[0, 2, 1]], undefined, "int32");
  const ce = perTokenCE(logits, tokens);
  const v = ce.dataSync();
  assert(ce.shape.join() === "1,2", `CE shape is [batch, pos−1], got ${ce.shape}`);
  assertClose(v[0]!, Math.log(4), 1e-6, "uniform CE");
  // position 1 predicts token 1 (the next input): p = 3 / 6
  assertClose(v[1]!, -Math.log(3 / 6), 1e-6, "CE from known logits");
  tf.dispose([logits, tokens, ce]);
  assert(tf.memory().numTensors === before, "no tensors leak");
});

Deno.test("next-token log-probs match a float64 reference on random logits", () => {
  const rng = new Rng(3, "test/logits");
  const [b, p, v] = [2, 5, 11];
  const z = Array.from({ length: b * p * v }, () => 4 * rng.normal());
  const toks = Array.from({ length: b * p }, () => rng.int(v));
  const logits = tf.tensor3d(z, [b, p, v]);
  const tokens = tf.tensor2d(toks, [b, p], "int32");
  const lp = nextTokenLogProbs(logits, tokens);
  const got = lp.dataSync();
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < p - 1; j++) {
      const row = z.slice((i * p + j) * v, (i * p + j + 1) * v);
      const ref = logSoftmax64(row)[toks[i * p + j + 1]!]!;
      assertClose(got[i * (p - 1) + j]!, ref, 1e-5, `log-prob [${i}, ${j}]`);
    }
  }
  tf.dispose([logits, tokens, lp]);
});

Deno.test("next-token log-probs reject a target outside the vocabulary and too-large logits, naming them", () => {
  const logits = tf.zeros([1, 3, 4]);
  const tokens = tf.tensor2d([[0, 1, 4]], [1, 3], "int32");
  assertThrows(() => nextTokenLogProbs(logits, tokens), /token 4 at \[0, 2\] is outside the vocabulary \[0, 4\)/, "id");
  tf.dispose([logits, tokens]);
  const huge = { rank: 3, shape: [2, 1024, 2 ** 20] } as unknown as tf.Tensor;
  const hugeTokens = tf.zeros([2, 1024], "int32");
  assertThrows(() => nextTokenLogProbs(huge, hugeTokens), /exceed 2\^31 − 1 entries/, "size");
  hugeTokens.dispose();
});

Deno.test("KL from precomputed clean log-probs equals KL from the clean logits", () => {
  const rng = new Rng(5, "test/kl-logprobs");
  const [b, p, v] = [2, 3, 13];
  const a = tf.tensor3d(Array.from({ length: b * p * v }, () => 3 * rng.normal()), [b, p, v]);
  const c = tf.tensor3d(Array.from({ length: b * p * v }, () => 3 * rng.normal()), [b, p, v]);
  const before = tf.memory().numTensors;
  const lp = logProbs(a);
  const fromLogProbs = perTokenKL(lp, c, { cleanIsLogProbs: true });
  const fromLogits = perTokenKL(a, c);
  const x = fromLogProbs.dataSync(), y = fromLogits.dataSync();
  for (let i = 0; i < x.length; i++) assert(x[i] === y[i], `token ${i}: ${x[i]} vs ${y[i]}`);
  tf.dispose([lp, fromLogProbs, fromLogits]);
  assert(tf.memory().numTensors === before, "no tensors leak");
  tf.dispose([a, c]);
});

Deno.test("KL of known distributions equals the hand-computed value", () => {
  const p = tf.tensor3d([[[0, 0]]]);
  const q = tf.tensor3d([[[Math.log(3), 0]]]); // q = (0.75, 0.25)
  const kl = perTokenKL(p, q);
  assertClose(kl.dataSync()[0]!, 0.5 * Math.log(4 / 3), 1e-6, "KL((.5,.5) ‖ (.75,.25))");
  tf.dispose([p, q, kl]);
});

Deno.test("KL is zero for identical logits, non-negative and matches float64 on random logits", () => {
  const before = tf.memory().numTensors;
  const rng = new Rng(7, "test/kl");
  const [b, p, v] = [3, 4, 17];
  const z1 = Array.from({ length: b * p * v }, () => 3 * rng.normal());
  const z2 = z1.map((x, i) => (i % 5 === 0 ? x + 0.5 * rng.normal() : x + 1e-4 * rng.normal()));
  const a = tf.tensor3d(z1, [b, p, v]);
  const c = tf.tensor3d(z2, [b, p, v]);
  const sameT = perTokenKL(a, a);
  for (const x of sameT.dataSync()) assertClose(x, 0, 1e-7, "KL(p ‖ p)");
  const kl = perTokenKL(a, c);
  const got = kl.dataSync();
  for (let t = 0; t < b * p; t++) {
    const lp = logSoftmax64(z1.slice(t * v, (t + 1) * v));
    const lq = logSoftmax64(z2.slice(t * v, (t + 1) * v));
    const ref = lp.reduce((s, l, k) => s + Math.exp(l) * (l - lq[k]!), 0);
    assert(got[t]! >= 0, `KL must be ≥ 0, got ${got[t]} at token ${t}`);
    assertClose(got[t]!, ref, 1e-5 + 1e-4 * ref, `KL token ${t}`);
  }
  // a nearly-identical pair: tiny KL but never negative
  const near = tf.tensor3d(z1.map((x) => x + 1e-6), [b, p, v]);
  const tiny = perTokenKL(a, near);
  for (const x of tiny.dataSync()) assert(x >= 0, `KL of nearly identical logits is ${x} < 0`);
  tf.dispose([a, c, kl, near, tiny, sameT]);
  assert(tf.memory().numTensors === before, `KL leaks tensors: ${tf.memory().numTensors} vs ${before}`);
});

Deno.test("KL stays finite when one distribution puts almost no mass where the other puts all", () => {
  const p = tf.tensor3d([[[0, -60]]]);
  const q = tf.tensor3d([[[-60, 0]]]);
  const kl = perTokenKL(p, q).dataSync()[0]!;
  // p ≈ (1, e^−60), q ≈ (e^−60, 1): KL ≈ 1·ln(1/e^−60) = 60
  assertClose(kl, 60, 1e-3, "KL of nearly disjoint distributions");
});

Deno.test("ΔCE is spliced minus clean: positive when the SAE makes the true token less likely", () => {
  const clean = tf.tensor3d([[[0, 2], [0, 0]]]); // predicts token 1 with p = e²/(1+e²)
  const spliced = tf.tensor3d([[[0, 0], [0, 0]]]); // p = 0.5
  const tokens = tf.tensor2d([[0, 1]], undefined, "int32");
  const c = perTokenCE(clean, tokens);
  const s = perTokenCE(spliced, tokens);
  const d = deltaCE(c.dataSync(), s.dataSync());
  const expected = Math.log(2) - Math.log(1 + Math.exp(-2));
  assertClose(d[0]!, expected, 1e-6, "ΔCE value");
  assert(d[0]! > 0, "ΔCE > 0 when splicing hurts");
  tf.dispose([clean, spliced, tokens, c, s]);
});

Deno.test("argmax, reconstruction terms and feature sparsity give hand-computed values without leaks", () => {
  const before = tf.memory().numTensors;
  const logits = tf.tensor3d([[[0, 2, 1], [5, 1, 1]]]);
  const am = argmaxTokens(logits);
  assert(Array.from(am.dataSync()).join() === "1,0", `argmax ${am.dataSync()}`);
  const x = tf.tensor3d([[[3, 4], [0, 1]]]);
  const xh = tf.tensor3d([[[3, 3], [0, 0]]]);
  const r = reconstructionTerms(x, xh);
  assert(Array.from(r.sse.dataSync()).join() === "1,1", "SSE");
  assert(Array.from(r.normSq.dataSync()).join() === "25,1", "‖x‖²");
  assert(Array.from(r.norm.dataSync()).join() === "5,1", "‖x‖");
  const f = tf.tensor3d([[[0, 2, 0.5, 0], [0, 0, 0, 0]]]);
  const sp = featureSparsity(f);
  assert(Array.from(sp.l0.dataSync()).join() === "2,0", "L0");
  assert(Array.from(sp.l1.dataSync()).join() === "2.5,0", "L1");
  tf.dispose([logits, am, x, xh, r.sse, r.normSq, r.norm, f, sp.l0, sp.l1]);
  assert(tf.memory().numTensors === before, "no tensors leak");
  const v = mseVariants([2], [8], 4);
  assert(v.mseElementMean[0] === 0.5 && v.mseTokenSum[0] === 2 && v.mseNormalised[0] === 0.25, "MSE variants");
});

Deno.test("per-token metric functions keep tensor count flat over repeated calls", () => {
  const logits = tf.randomNormal([2, 8, 50]);
  const logits2 = tf.randomNormal([2, 8, 50]);
  const tokens = tf.zeros([2, 8], "int32");
  const counts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const outs = [perTokenCE(logits, tokens), perTokenKL(logits, logits2), argmaxTokens(logits)];
    tf.dispose(outs);
    counts.push(tf.memory().numTensors);
  }
  assert(counts[0] === counts[2], `tensor count grows: ${counts}`);
  tf.dispose([logits, logits2, tokens]);
});

Deno.test("logits with the wrong rank give an error naming the expected shape", () => {
  const bad = tf.zeros([4, 5]);
  assertThrows(
    () => perTokenCE(bad, tf.zeros([4, 5], "int32")),
    /logits must have rank 3 \[batch, pos, vocab\]/,
    "rank",
  );
  bad.dispose();
});

Deno.test("standard error of a known sample matches std/√n", () => {
  const s = new PositionStats("x", 1);
  for (const v of [2, 4, 4, 4, 5, 5, 7, 9]) s.add(0, v);
  // mean 5, sample variance 32/7
  assertClose(s.mean()[0]!, 5, 1e-12, "mean");
  assertClose(s.std()[0]!, Math.sqrt(32 / 7), 1e-12, "std");
  assertClose(s.se()[0]!, Math.sqrt(32 / 7) / Math.sqrt(8), 1e-12, "SE");
});

Deno.test("merging two accumulators equals a single pass", () => {
  const rng = new Rng(11, "test/merge");
  const [b, p] = [6, 5];
  const vals = Float64Array.from({ length: b * p }, () => 1000 + rng.normal());
  const mask = Uint8Array.from({ length: b * p }, () => (rng.uniform() < 0.8 ? 1 : 0));
  const single = new PositionStats("m", p);
  single.addBatch(vals, b, p, mask);
  const a = new PositionStats("m", p);
  const c = new PositionStats("m", p);
  a.addBatch(vals.subarray(0, 2 * p), 2, p, mask.subarray(0, 2 * p));
  c.addBatch(vals.subarray(2 * p), 4, p, mask.subarray(2 * p));
  a.merge(c);
  for (let j = 0; j < p; j++) {
    assert(a.count[j] === single.count[j], "counts");
    assertClose(a.mean()[j]!, single.mean()[j]!, 1e-10, `mean ${j}`);
    assertClose(a.se()[j]!, single.se()[j]!, 1e-10, `SE ${j}`);
  }
  const pooled = single.pooled(1, 4);
  let n = 0, sum = 0;
  for (let i = 0; i < b; i++) for (let j = 1; j < 4; j++) if (mask[i * p + j]) (n++, sum += vals[i * p + j]!);
  assert(pooled.count === n, "pooled count");
  assertClose(pooled.mean, sum / n, 1e-10, "pooled mean");
});

Deno.test("a non-finite value is rejected with its position", () => {
  const s = new PositionStats("ce", 3);
  assertThrows(() => s.addBatch([1, NaN, 2], 1, 3), /ce: non-finite value NaN at batch row 0, position 1/, "NaN");
});

Deno.test("BOS policies mask the right positions", () => {
  const toks = [50256, 5, 50256, 7, 50256, 9, 1, 2];
  assert(Array.from(positionMask(toks, 2, 4, "include")).join() === "1,1,1,1,1,1,1,1", "include");
  assert(Array.from(positionMask(toks, 2, 4, "exclude-position-0")).join() === "0,1,1,1,0,1,1,1", "pos 0");
  assert(Array.from(positionMask(toks, 2, 4, "exclude-bos-tokens")).join() === "0,1,0,1,0,1,1,1", "bos tokens");
  assert(Array.from(positionMask(toks, 2, 4, "exclude-bos-tokens", { width: 3 })).join() === "0,1,0,0,1,1", "width");
  assertThrows(() => positionMask(toks, 2, 4, "drop" as never), /bosPolicy must be one of/, "unknown policy");
});

Deno.test("CE recovered is a ratio of per-position means with a paired SE", () => {
  const s = new CeRecoveredStats(1);
  s.addBatch({ ceClean: [2, 2], ceSpliced: [3, 2.5], ceZero: [6, 4] }, 2, 1);
  // (mean(zero) − mean(sae)) / (mean(zero) − mean(clean)) = (5 − 2.75) / (5 − 2) = 0.75
  assertClose(s.ratio()[0]!, 0.75, 1e-12, "score");
  assert(Number.isFinite(s.se()[0]!), "SE finite with n = 2");
  const r = new RatioStats("r", 1);
  r.addBatch([1, 2, 3], [2, 4, 6], 3, 1);
  assertClose(r.se()[0]!, 0, 1e-12, "a proportional pair has zero ratio SE");
});

Deno.test("explained variance uses ratio of means over tokens", () => {
  const ev = new ExplainedVarianceStats(1, 2);
  // x = (1, 2), (3, 2): mean (2, 2), E‖x‖² = (5 + 13)/2 = 9, ‖E x‖² = 8 → variance 1; E SSE = 0.25
  ev.addBatch(new Float32Array([1, 2, 3, 2]), new Float32Array([0.5, 0]), 2, 1);
  assertClose(ev.explainedVariance()[0]!, 0.75, 1e-9, "EV");
  const ev2 = new ExplainedVarianceStats(1, 2);
  ev2.addBatch(new Float32Array([1, 2]), new Float32Array([0.5]), 1, 1);
  const ev3 = new ExplainedVarianceStats(1, 2);
  ev3.addBatch(new Float32Array([3, 2]), new Float32Array([0]), 1, 1);
  assertClose(ev2.merge(ev3).explainedVariance()[0]!, 0.75, 1e-9, "EV after merge");
});

Deno.test("SpliceMetrics aligns CE to positions 0…T−2, applies the BOS policy and reports it", () => {
  const m = new SpliceMetrics({ nPos: 3, dIn: 2, bosPolicy: "exclude-bos-tokens", explainedVariance: true });
  m.addBatch({
    tokens: [50256, 4, 5, 50256, 6, 7],
    batch: 2,
    pos: 3,
    ceClean: [1, 2, 1, 4],
    ceSpliced: [1.5, 2.5, 1.5, 3],
    kl: [0.1, 0.2, 0.3, 0.1, 0.4, 0.5],
    sse: [0, 1, 1, 0, 3, 1],
    normSq: [1, 4, 4, 1, 4, 4],
    l0: [1, 10, 20, 1, 30, 40],
    x: [1, 0, 2, 0, 0, 2, 1, 0, 0, 2, 2, 0],
  });
  const dce = m.stats.delta_ce.mean();
  assert(Number.isNaN(dce[0]!) && dce[1] === -0.25 && Number.isNaN(dce[2]!), `ΔCE per position ${dce}`);
  assertClose(m.stats.kl.mean()[2]!, 0.4, 1e-12, "KL at last position");
  assertClose(m.stats.mse_element_mean.mean()[1]!, 1, 1e-12, "element-mean MSE = (1/2 + 3/2)/2");
  assertClose(m.stats.mse_normalised.mean()[1]!, 0.5, 1e-12, "normalised MSE = (1/4 + 3/4)/2");
  assertClose(m.stats.act_norm.mean()[2]!, 2, 1e-12, "activation norm");
  const rows = m.rows();
  assert(rows.length === 3 && rows[1]!.bos_policy === "exclude-bos-tokens", "rows carry the policy");
  assert(rows[0]!.delta_ce_mean === null, "empty positions become null");
  assert(m.bosPolicyText.includes("50256"), "caption text names the BOS id");
});

Deno.test("Wilson interval matches the closed form and bins count every item once", () => {
  const w = wilsonInterval(5, 10);
  assertClose(w.lo, 0.236593, 1e-5, "Wilson lo");
  assertClose(w.hi, 0.763407, 1e-5, "Wilson hi");
  const z = wilsonInterval(0, 20);
  assert(z.lo === 0 && z.hi > 0.1 && z.hi < 0.2, `Wilson 0/20 hi ${z.hi}`);
  for (const [k, n] of [[0, 144], [0, 7], [144, 144], [1, 3]] as const) {
    const c = wilsonInterval(k, n); // exact ends at k = 0 and k = n, and p always inside
    assert(c.lo <= c.p && c.p <= c.hi && (k > 0 || c.lo === 0) && (k < n || c.hi === 1), `Wilson ${k}/${n}`);
  }
  const bins = binnedAccuracy([10, 64, 65, 128, 129, 900], [1, 0, 1, 1, 0, 1], [1, 65, 129, 257]);
  assert(bins.map((b) => b.n).join() === "2,2,1,1", `bin counts ${bins.map((b) => b.n)}`);
  assert(bins.map((b) => b.k).join() === "1,2,0,1", "bin successes");
  assert(bins[0]!.label === "1–64" && bins[3]!.label === "257+", "labels");
  assertThrows(() => binnedAccuracy([0], [1], [1, 65]), /below the first edge/, "key below first edge");
});

Deno.test("‖x‖ = 0, settled once in mseVariants: an error at a counted position, 0 where the mask leaves it out", () => {
  // no mask: every position counts
  let msg = "";
  try {
    mseVariants([1, 2], [4, 0], 2);
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("‖x‖² = 0 at index 1") && msg.includes("counted position"), `unmasked zero norm: "${msg}"`);
  // a mask that counts the zero-norm position: the error names row and position
  msg = "";
  try {
    mseVariants([1, 2, 3, 4], [4, 4, 4, 0], 2, { mask: [0, 1, 1, 1], pos: 2 });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("at row 1, position 1"), `masked-in zero norm: "${msg}"`);
  // left out by the mask: 0, and the other variants as usual
  const v = mseVariants([1, 2, 3], [0, 4, 8], 2, { mask: [0, 1, 1] });
  assertEquals(Array.from(v.mseNormalised), [0, 0.5, 0.375]);
  assertEquals(Array.from(v.mseElementMean), [0.5, 1, 1.5]);
  assertEquals(Array.from(v.mseTokenSum), [1, 2, 3]);
  let lenMsg = "";
  try {
    mseVariants([1], [1], 2, { mask: [1, 1] });
  } catch (e) {
    lenMsg = (e as Error).message;
  }
  assert(lenMsg.includes("mask has 2 values, SSE 1"), lenMsg);
});

Deno.test("the pipeline runs the tested helpers: SpliceMetrics accumulates deltaCE and mseVariants, with their ‖x‖ = 0 rule", () => {
  const tokens = [9, 4, 5, 9, 6, 7]; // 2 rows of 3; position 0 excluded
  const ceClean = [2, 2, 1, 3];
  const ceSpliced = [2.5, 3, 1.25, 2];
  const sse = [1, 2, 3, 4, 5, 6];
  const normSq = [0, 4, 8, 0, 10, 12]; // ‖x‖ = 0 only at the excluded position 0 of each row
  const m = new SpliceMetrics({ nPos: 3, dIn: 2, bosPolicy: "exclude-position-0", explainedVariance: false });
  m.addBatch({ tokens, batch: 2, pos: 3, ceClean, ceSpliced, sse, normSq });
  const d = deltaCE(ceClean, ceSpliced); // [0.5, 1, 0.25, -1], positions 0, 1 of each row
  assertEquals(m.stats.delta_ce.mean()[1], (d[1]! + d[3]!) / 2);
  const v = mseVariants(sse, normSq, 2, { mask: [0, 1, 1, 0, 1, 1] });
  const nm = m.stats.mse_normalised.mean();
  assertEquals([nm[1], nm[2]], [
    (v.mseNormalised[1]! + v.mseNormalised[4]!) / 2,
    (v.mseNormalised[2]! + v.mseNormalised[5]!) / 2,
  ]);
  assertEquals(m.stats.mse_element_mean.mean()[2], (v.mseElementMean[2]! + v.mseElementMean[5]!) / 2);
  // a zero norm at a counted position is the helper's error, raised by the pipeline
  const bad = new SpliceMetrics({ nPos: 3, dIn: 2, bosPolicy: "exclude-position-0", explainedVariance: false });
  let msg = "";
  try {
    bad.addBatch({ tokens, batch: 2, pos: 3, sse, normSq: [1, 0, 1, 1, 1, 1] });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("mseVariants: ‖x‖² = 0 at row 0, position 1"), `SpliceMetrics error: "${msg}"`);
});

Deno.test("Gpt2.lossPerToken is perTokenCE, bit for bit (every CE of the pipeline runs the tested helper)", () => {
  const model = Gpt2.random(defaultGpt2Config({ n_layer: 1, d_model: 16, n_head: 2, n_ctx: 16, d_vocab: 300 }), 3);
  const tokens = tf.tensor2d(Int32Array.from({ length: 3 * 12 }, (_, i) => (i * 97) % 300), [3, 12], "int32");
  const logits = model.forward(tokens);
  const a = model.lossPerToken(logits, tokens);
  const b = perTokenCE(logits, tokens);
  const [x, y] = [a.dataSync(), b.dataSync()];
  assert(x.length === 3 * 11 && x.every((v, i) => Object.is(v, y[i])), "lossPerToken ≠ perTokenCE");
  tf.dispose([tokens, logits, a, b]);
  model.dispose();
});
