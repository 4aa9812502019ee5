// The fused language-model ops (lib/engine/kernels/causal_attention.ts, lm_layer_ops.ts, lm_simd.ts) against the
// plain tfjs path they replace: values and gradients with explicit tolerances, the causal mask, sequence lengths
// that are not a multiple of the attention block, chunked unembedding, no tensor leaks, determinism, and the
// whole GPT-2 (forward, hooks, training loss and gradients, one training step) fused against plain.

import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { causalAttention, causalAttentionPlain } from "../lib/engine/kernels/causal_attention.ts";
import { withAttentionPool } from "../lib/engine/kernels/attention_pool.ts";
import { fusedLmOps, setFusedLmOps } from "../lib/engine/kernels/fused_ops.ts";
import {
  embedTokens,
  gelu,
  geluPlain,
  layerNorm,
  layerNormPlain,
  softmaxCrossEntropy,
  unembedCrossEntropy,
} from "../lib/engine/kernels/lm_layer_ops.ts";
import { fusedAdam } from "../lib/engine/kernels/adam.ts";
import { Rng } from "../lib/engine/rng.ts";
import { defaultGpt2Config } from "../lib/lm/config.ts";
import { Gpt2 } from "../lib/lm/gpt2.ts";
import { defaultLmTrainConfig, trainStep } from "../lib/lm/train.ts";
import { assert, maxAbsDiff } from "./helpers.ts";

await initBackend();
// The fused path runs on the wasm backend with OpenBLAS (installed by `deno task setup`). Where it cannot run
// (another backend, or SAE_BLAS / SAE_FUSED switched off) these comparisons would compare the plain path with
// itself, so they are skipped rather than passed.
const FUSED = fusedLmOps() !== null;
const test = (name: string, fn: () => void) => Deno.test({ name, ignore: !FUSED, fn });

function randn(shape: number[], seed: number, scale = 1): tf.Tensor {
  const data = new Rng(seed, "tests/lm_fused").fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1)));
  return tf.tensor(data.map((v) => v * scale), shape, "float32");
}

/** Runs `fn` with the fused path on and off; returns both results as host arrays (tensors freed). */
function bothPaths(fn: () => tf.Tensor[]): { fused: Float32Array[]; plain: Float32Array[] } {
  const run = (on: boolean) => {
    setFusedLmOps(on);
    try {
      const before = tf.memory().numTensors;
      const out = fn();
      const host = out.map((t) => t.dataSync().slice() as Float32Array);
      tf.dispose(out);
      assert(tf.memory().numTensors === before, `fused=${on}: ${tf.memory().numTensors - before} tensors leaked`);
      return host;
    } finally {
      setFusedLmOps(null);
    }
  };
  return { fused: run(true), plain: run(false) };
}

/**
 * max |fused − plain| ≤ tol · max(1, max |plain|) for each output (`tol` per output when an array: sums over
 * thousands of terms, such as a loss, carry float32 rounding of ~1e-5 relative on either path).
 */
function assertPaths(r: { fused: Float32Array[]; plain: Float32Array[] }, tols: number | number[], names: string[]) {
  r.plain.forEach((p, i) => {
    const tol = typeof tols === "number" ? tols : tols[i] as number;
    const f = r.fused[i] as Float32Array;
    assert(f.length === p.length, `${names[i]}: ${f.length} vs ${p.length} values`);
    const scale = Math.max(1, ...Array.from(p, Math.abs));
    const d = maxAbsDiff(f, p);
    assert(d <= tol * scale, `${names[i]}: max |fused − plain| ${d} > ${tol} × ${scale}`);
  });
}

for (const [B, T, d, H, block] of [[2, 13, 16, 2, 4], [1, 70, 24, 3, 32], [2, 9, 8, 1, 128]] as const) {
  test(`causalAttention matches the plain path: batch ${B}, ${T} positions, ${H} heads, block ${block}`, () => {
    const qkv = randn([B, T, 3 * d], 1) as tf.Tensor3D;
    const w = randn([B, T, d], 2);
    const r = bothPaths(() => {
      const loss = (x: tf.Tensor) => tf.sum(tf.mul(causalAttention(x as tf.Tensor3D, H, block), w)) as tf.Scalar;
      const { value, grad } = tf.valueAndGrad(loss)(qkv);
      return [causalAttention(qkv, H, block), value, grad];
    });
    // the plain path itself, for reference (its gradient through tfjs's softmax)
    const plainDirect = causalAttentionPlain(qkv, H);
    assert(maxAbsDiff(plainDirect.dataSync(), r.plain[0]!) === 0, "plain path = causalAttentionPlain");
    assertPaths(r, [2e-6, 2e-5, 2e-6], ["z", "loss", "d qkv"]);
    tf.dispose([qkv, w, plainDirect]);
  });
}

test("causalAttention is causal: later positions do not change earlier outputs, in or across blocks", () => {
  const [B, T, d, H, block] = [1, 23, 8, 2, 8];
  const qkv = randn([B, T, 3 * d], 3) as tf.Tensor3D;
  for (const p of [5, 8, 17]) {
    // add 10 to q, k and v of every position ≥ p
    const bump = tf.concat([tf.zeros([B, p, 3 * d]), tf.fill([B, T - p, 3 * d], 10)], 1);
    const changed = tf.add(qkv, bump) as tf.Tensor3D;
    const a = causalAttention(qkv, H, block), b = causalAttention(changed, H, block);
    const early = (t: tf.Tensor) => tf.slice(t, [0, 0, 0], [B, p, d]).dataSync();
    const late = (t: tf.Tensor) => tf.slice(t, [0, p, 0], [B, T - p, d]).dataSync();
    assert(maxAbsDiff(early(a), early(b)) <= 1e-6, `outputs before ${p} changed`);
    assert(maxAbsDiff(late(a), late(b)) > 1e-3, `outputs from ${p} on did not change (the test would be vacuous)`);
    tf.dispose([bump, changed, a, b]);
  }
  qkv.dispose();
});

test("two-thread attention (a Worker on a shared arena) = the one-thread fused path, bit for bit", () => {
  const [B, T, d, H, block] = [3, 70, 24, 3, 32];
  const qkv = randn([B, T, 3 * d], 14) as tf.Tensor3D;
  const w = randn([B, T, d], 15);
  const f = () => {
    const { value, grad } = tf.valueAndGrad((x: tf.Tensor) =>
      tf.sum(tf.mul(causalAttention(x as tf.Tensor3D, H, block), w)) as tf.Scalar
    )(qkv);
    const out = [value.dataSync()[0]!, ...grad.dataSync()];
    tf.dispose([value, grad]);
    return out;
  };
  const one = f();
  const before = tf.memory().numTensors;
  const two = withAttentionPool(fusedLmOps()!.blas, (pool) => {
    assert(pool !== null, "the attention Worker did not start");
    return f();
  });
  assert(tf.memory().numTensors === before, "the two-thread path leaked tensors");
  assert(maxAbsDiff(one, two) === 0, `two-thread attention differs by ${maxAbsDiff(one, two)}`);
  tf.dispose([qkv, w]);
});

test("causalAttention without a gradient tape keeps no probabilities and leaks nothing", () => {
  const qkv = randn([2, 40, 24], 4) as tf.Tensor3D;
  const before = tf.memory().numTensors;
  const z = causalAttention(qkv, 2, 16);
  assert(tf.memory().numTensors === before + 1, `expected only the output, got ${tf.memory().numTensors - before}`);
  tf.dispose([z, qkv]);
});

for (const d of [20, 7]) {
  test(`layerNorm and gelu match the plain path (values and gradients), rows of ${d}`, () => {
    layerNormGeluCase(d);
  });
}

// d = 7 exercises the scalar tails after the 4-wide vector loops
function layerNormGeluCase(d: number): void {
  const x = randn([3, 5, d], 5, 2) as tf.Tensor3D;
  const g = randn([d], 6, 0.5).add(1), b = randn([d], 7, 0.1);
  const w = randn([3, 5, d], 8);
  const r = bothPaths(() => {
    const f = (xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) => tf.sum(tf.mul(gelu(layerNorm(xi, gi, bi, 1e-5)), w));
    const grads = tf.grads(f as (...a: tf.Tensor[]) => tf.Scalar)([x, g, b]);
    return [layerNorm(x, g, b, 1e-5), gelu(x), ...grads];
  });
  assertPaths(r, 2e-6, ["layerNorm", "gelu", "d x", "d gain", "d bias"]);
  // the plain references are the formulas gpt2.ts used before the fused ops
  const lp = layerNormPlain(x, g, b, 1e-5), gp = geluPlain(x);
  assert(maxAbsDiff(lp.dataSync(), r.plain[0]!) === 0 && maxAbsDiff(gp.dataSync(), r.plain[1]!) === 0, "plain ops");
  tf.dispose([x, g, b, w, lp, gp]);
}

test("gelu at large |x| and layerNorm of a constant row stay finite and exact", () => {
  const x = tf.tensor1d([-80, -12, -3, 0, 3, 12, 80, 1e-3]);
  const r = bothPaths(() => [gelu(x), tf.grad((xi: tf.Tensor) => tf.sum(gelu(xi)))(x)]);
  assertPaths(r, 1e-6, ["gelu", "gelu′"]);
  setFusedLmOps(true);
  const y = layerNorm(tf.fill([2, 8], 3), tf.ones([8]), tf.zeros([8]), 1e-5);
  assert(y.dataSync().every((v) => v === 0), "a constant row normalises to 0");
  setFusedLmOps(null);
  tf.dispose([x, y]);
});

test("unembedCrossEntropy matches matMul + softmaxCrossEntropy, chunks not dividing the rows", () => {
  const [N, d, V] = [37, 12, 50];
  const x = randn([N, d], 9, 3) as tf.Tensor2D, wte = randn([V, d], 10) as tf.Tensor2D;
  const targets = Int32Array.from({ length: N }, (_, i) => (i * 17 + 3) % V);
  for (const chunk of [16, 37, 512]) {
    const r = bothPaths(() => {
      const f = (xi: tf.Tensor, wi: tf.Tensor) =>
        unembedCrossEntropy(xi as tf.Tensor2D, wi as tf.Tensor2D, targets, chunk);
      const { value, grads } = tf.valueAndGrads(f as (...a: tf.Tensor[]) => tf.Scalar)([x, wte]);
      return [value, ...grads];
    });
    assertPaths(r, 2e-6, [`loss (chunk ${chunk})`, "d x", "d wte"]);
  }
  // and the plain path is the old fusedCrossEntropy on explicit logits
  const logits = tf.matMul(x, wte, false, true) as tf.Tensor2D;
  const ref = softmaxCrossEntropy(logits, targets);
  setFusedLmOps(true);
  const fused = unembedCrossEntropy(x, wte, targets);
  setFusedLmOps(null);
  assert(Math.abs(ref.dataSync()[0]! - fused.dataSync()[0]!) <= 2e-6 * ref.dataSync()[0]!, "loss vs explicit logits");
  tf.dispose([x, wte, logits, ref, fused]);
});

test("embedTokens matches gather + position slice (values and gradients)", () => {
  const [V, d, nCtx, B, T] = [30, 8, 16, 2, 11];
  const wte = randn([V, d], 11) as tf.Tensor2D, wpe = randn([nCtx, d], 12) as tf.Tensor2D;
  const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7) % V);
  const w = randn([B, T, d], 13);
  const r = bothPaths(() => {
    const f = (a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(embedTokens(a as tf.Tensor2D, b as tf.Tensor2D, ids, B, T), w));
    return [embedTokens(wte, wpe, ids, B, T), ...tf.grads(f as (...a: tf.Tensor[]) => tf.Scalar)([wte, wpe])];
  });
  assertPaths(r, 1e-6, ["embedding", "d wte", "d wpe"]);
  tf.dispose([wte, wpe, w]);
});

// a GPT-2 whose 261 positions span three 128-query attention blocks, the last one partial
const CFG = defaultGpt2Config({ n_layer: 2, d_model: 32, n_head: 4, n_ctx: 300, d_vocab: 97 });
const [B, T] = [2, 261];
const IDS = Int32Array.from({ length: B * T }, (_, i) => (i * 7919 + 13) % 97);
const TARGETS = Int32Array.from({ length: B * T }, (_, i) => (i * 31 + 5) % 97);

test("Gpt2 fused = plain: logits, cached and hooked activations, training loss and every gradient", () => {
  const model = Gpt2.random(CFG, 1);
  const tokens = tf.tensor2d(IDS, [B, T], "int32");
  const hooks = ["blocks.0.hook_attn_out", "blocks.1.hook_resid_mid", "ln_final.hook_normalized"];
  const r = bothPaths(() => {
    const { logits, cache } = model.runWithCache(tokens, hooks);
    const hooked = model.runWithHooks(tokens, { "blocks.1.hook_resid_pre": (x) => tf.mul(x, 0.5) as tf.Tensor3D });
    const { value, grads } = tf.variableGrads(() => model.nextTokenLoss(tokens, TARGETS), model.trainableVariables());
    const names = model.trainableVariables().map((v) => v.name);
    return [logits!, ...hooks.map((h) => cache.get(h)!), hooked, value, ...names.map((n) => grads[n]!)];
  });
  assertPaths(r, 5e-6, ["logits", ...hooks, "hooked logits", "loss", ...model.params.keys()]);
  // the training loss is the mean next-token cross-entropy of the logits
  const logits = model.forward(tokens);
  const ref = softmaxCrossEntropy(tf.reshape(logits, [B * T, CFG.d_vocab]) as tf.Tensor2D, TARGETS);
  assert(Math.abs(ref.dataSync()[0]! - r.fused[hooks.length + 2]![0]!) <= 1e-5, "nextTokenLoss = CE of forward()");
  tf.dispose([tokens, logits, ref]);
  model.dispose();
});

test("trainStep on the fused path: same seed, same bytes; matches the plain path's step", () => {
  const rows = Array.from({ length: 4 }, (_, r) => Int32Array.from({ length: 65 }, (_, i) => (r * 131 + i * 29) % 97));
  const cfg = defaultLmTrainConfig({ n_ctx: 64, batch_rows: 4, micro_batch_rows: 2, lr: 1e-3 });
  const step = (fused: boolean) => {
    setFusedLmOps(fused);
    const model = Gpt2.random(CFG, 2);
    const opt = fusedAdam(cfg.lr, cfg.adam_beta1, cfg.adam_beta2, cfg.adam_epsilon);
    const out = [trainStep(model, opt, rows, cfg, cfg.lr)]; // creates Adam's moment slots
    const before = tf.memory().numTensors;
    out.push(trainStep(model, opt, rows, cfg, cfg.lr));
    assert(tf.memory().numTensors === before, `trainStep leaked ${tf.memory().numTensors - before} tensors`);
    const params = [...model.toArrays().values()];
    opt.dispose();
    model.dispose();
    setFusedLmOps(null);
    return { out, params };
  };
  const a = step(true), b = step(true), p = step(false);
  assert(a.params.every((x, i) => maxAbsDiff(x, b.params[i]!) === 0), "two fused runs differ");
  assert(a.out.every((s, i) => s.loss === b.out[i]!.loss && s.gradNorm === b.out[i]!.gradNorm), "losses differ");
  a.out.forEach((s, i) => {
    const q = p.out[i]!;
    assert(Math.abs(s.loss - q.loss) <= 1e-5 * q.loss, `step ${i} loss ${s.loss} vs plain ${q.loss}`);
    assert(
      Math.abs(s.gradNorm - q.gradNorm) <= 1e-4 * q.gradNorm,
      `step ${i} grad norm ${s.gradNorm} vs ${q.gradNorm}`,
    );
  });
  // after two Adam steps of lr 1e-3 the parameters agree far below the step size
  a.params.forEach((x, i) => assert(maxAbsDiff(x, p.params[i]!) <= 2e-5, `parameter ${i} fused vs plain`));
});

Deno.test("the fused path is off on request and on other backends", () => {
  setFusedLmOps(false);
  assert(fusedLmOps() === null, "setFusedLmOps(false) turns it off");
  setFusedLmOps(null);
  assert((fusedLmOps() !== null) === FUSED, "back to the default");
  if (tf.getBackend() === "wasm") return;
  assert(fusedLmOps() === null, `backend ${tf.getBackend()} must use the plain path`);
});
