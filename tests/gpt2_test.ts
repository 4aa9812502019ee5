// GPT-2 forward pass, hooks and losses against the float64 PyTorch reference
// written by scripts/make_fixtures.py (tests/fixtures/gpt2_tiny/).

import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { readSafetensors, toFloat32 } from "../lib/io/safetensors.ts";
import { defaultGpt2Config, gpt2ParamCount } from "../lib/lm/config.ts";
import { Gpt2, hookNames, initGpt2Arrays } from "../lib/lm/gpt2.ts";
import { loadGpt2FromHf } from "../lib/lm/hf_loader.ts";
import { fromFileUrl } from "../lib/path.ts";

const FIXTURE = fromFileUrl(new URL("./fixtures/gpt2_tiny/", import.meta.url));
const TOL = 1e-4;

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>, what: string): number {
  assert(a.length === b.length, `${what}: lengths ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

function assertClose(actual: tf.Tensor, expected: { shape: number[]; data: Float32Array }, tol: number, what: string) {
  assert(
    actual.shape.join() === expected.shape.join(),
    `${what}: shape [${actual.shape}] vs reference [${expected.shape}]`,
  );
  const d = maxAbsDiff(actual.dataSync(), expected.data, what);
  assert(d <= tol, `${what}: max |diff| ${d} > ${tol}`);
}

function expectThrows(fn: () => unknown, ...phrases: string[]): void {
  try {
    fn();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    for (const p of phrases) assert(msg.includes(p), `message ${JSON.stringify(msg)} mentions ${JSON.stringify(p)}`);
    return;
  }
  throw new Error(`expected an error mentioning ${phrases.join(", ")}`);
}

async function reference() {
  const { tensors } = await readSafetensors(FIXTURE + "reference.safetensors");
  const get = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`reference.safetensors has no ${name}`);
    return { shape: t.shape, data: toFloat32(t) };
  };
  const tok = tensors.get("tokens");
  assert(tok && tok.dtype === "I32", "reference tokens are I32");
  const tokens = tf.tensor2d(tok.data as Int32Array, tok.shape as [number, number], "int32");
  return { get, tokens };
}

async function tinyModel(centerWritingWeights = false): Promise<Gpt2> {
  await initBackend();
  return (await loadGpt2FromHf(FIXTURE, { centerWritingWeights })).model;
}

Deno.test("GPT-2 logits and per-token losses match the PyTorch reference within 1e-4", async () => {
  const model = await tinyModel();
  const ref = await reference();
  const logits = model.forward(ref.tokens);
  assertClose(logits, ref.get("logits"), TOL, "logits");
  const loss = model.lossPerToken(logits, ref.tokens);
  assertClose(loss, ref.get("loss_per_token"), TOL, "loss_per_token");
  tf.dispose([logits, loss, ref.tokens]);
  model.dispose();
});

Deno.test("every TransformerLens hook activation matches the PyTorch reference within 1e-4", async () => {
  const model = await tinyModel();
  const ref = await reference();
  const names = hookNames(model.cfg.n_layer);
  const { logits, cache } = model.runWithCache(ref.tokens, names);
  assert(cache.size === names.length, `cached ${cache.size} of ${names.length} hooks`);
  for (const name of names) assertClose(cache.get(name) as tf.Tensor, ref.get("raw." + name), TOL, name);
  tf.dispose([logits as tf.Tensor, ...cache.values(), ref.tokens]);
  model.dispose();
});

Deno.test("runWithHooks continues the forward pass from the replaced activation", async () => {
  const model = await tinyModel();
  const ref = await reference();
  const hook = "blocks.1.hook_resid_pre";
  // identity replacement: same logits
  const clean = model.forward(ref.tokens);
  const same = model.runWithHooks(ref.tokens, { [hook]: (x) => x });
  assert(maxAbsDiff(clean.dataSync(), same.dataSync(), "identity") === 0, "identity hook leaves logits unchanged");
  // replacing resid_pre of block 1 with block 0's resid_pre skips block 0 entirely
  const { cache } = model.runWithCache(ref.tokens, ["blocks.0.hook_resid_pre"], { stopAtLayer: 1 });
  const skip = cache.get("blocks.0.hook_resid_pre") as tf.Tensor3D;
  const res = model.run(ref.tokens, {
    hooks: { [hook]: () => skip },
    cache: [hook, "blocks.1.hook_resid_post"],
  });
  assert(maxAbsDiff(res.cache.get(hook)!.dataSync(), skip.dataSync(), "spliced") === 0, "cache shows the replacement");
  const diff = maxAbsDiff(res.logits!.dataSync(), clean.dataSync(), "spliced vs clean");
  assert(diff > 1e-2, `splicing changed the logits (max diff ${diff})`);
  // zero-ablation: the downstream residual is exactly the block's own writes
  const zero = model.run(ref.tokens, {
    hooks: { [hook]: (x) => tf.zerosLike(x) },
    cache: ["blocks.1.hook_attn_out", "blocks.1.hook_mlp_out", "blocks.1.hook_resid_post"],
  });
  const sum = tf.add(zero.cache.get("blocks.1.hook_attn_out")!, zero.cache.get("blocks.1.hook_mlp_out")!);
  assert(
    maxAbsDiff(sum.dataSync(), zero.cache.get("blocks.1.hook_resid_post")!.dataSync(), "zero") < 1e-6,
    "resid_post = 0 + attn_out + mlp_out after zero-ablation",
  );
  // a caller-owned replacement at the last hook of a block survives the pass
  const owned = model.runWithHooks(ref.tokens, { "blocks.0.hook_resid_post": () => skip });
  assert(!skip.isDisposed, "the forward pass does not dispose a tensor the hook's caller owns");
  tf.dispose([owned, clean, same, skip, res.logits!, ...res.cache.values(), zero.logits!, ...zero.cache.values(), sum]);
  ref.tokens.dispose();
  model.dispose();
});

Deno.test("runFrom a residual hook equals a replacement hook there, caches from the start, skips logits on request", async () => {
  const model = await tinyModel(true);
  const ref = await reference();
  const names = [
    "blocks.0.hook_resid_pre",
    "blocks.0.hook_resid_post",
    "blocks.1.hook_resid_pre",
    "blocks.1.hook_resid_post",
  ];
  const act = tf.randomNormal([...ref.tokens.shape, model.cfg.d_model], 0, 1, "float32", 7) as tf.Tensor3D;
  const before = tf.memory().numTensors;
  for (const hook of names) {
    const viaHook = model.run(ref.tokens, { hooks: { [hook]: () => act }, cache: [hook, "blocks.1.hook_resid_post"] });
    const fromHook = model.run(ref.tokens, { startAt: { hook, act }, cache: [hook, "blocks.1.hook_resid_post"] });
    const d = maxAbsDiff(fromHook.logits!.dataSync(), viaHook.logits!.dataSync(), hook);
    assert(d === 0, `${hook}: logits from the start point equal the hooked pass (max diff ${d})`);
    for (const name of [hook, "blocks.1.hook_resid_post"]) {
      const c = maxAbsDiff(fromHook.cache.get(name)!.dataSync(), viaHook.cache.get(name)!.dataSync(), name);
      assert(c === 0, `${hook}: cached ${name} equal (max diff ${c})`);
    }
    const logits = model.runFrom(hook, act, ref.tokens);
    assert(maxAbsDiff(logits.dataSync(), viaHook.logits!.dataSync(), "runFrom") === 0, `${hook}: runFrom logits`);
    tf.dispose([logits, viaHook.logits!, fromHook.logits!, ...viaHook.cache.values(), ...fromHook.cache.values()]);
  }
  assert(!act.isDisposed, "the start activation stays owned by the caller");
  const noLogits = model.run(ref.tokens, { startAt: { hook: names[0]!, act }, cache: [names[3]!], logits: false });
  assert(noLogits.logits === null, "logits: false returns no logits");
  const full = model.runWithCache(ref.tokens, [names[3]!], { stopAtLayer: 2 });
  assert(full.logits !== null, "a pass to the last block computes logits by default");
  tf.dispose([full.logits!, ...full.cache.values(), ...noLogits.cache.values()]);
  assert(tf.memory().numTensors === before, "runs from a start point leak no tensors");
  expectThrows(() => model.runFrom("blocks.0.hook_attn_out", act, ref.tokens), "startAt must be a residual hook");
  expectThrows(() => model.runFrom("blocks.2.hook_resid_pre", act, ref.tokens), "startAt must be a residual hook");
  expectThrows(
    () => model.run(ref.tokens, { startAt: { hook: names[2]!, act }, cache: ["blocks.0.hook_mlp_out"] }),
    'hook "blocks.0.hook_mlp_out" lies before startAt "blocks.1.hook_resid_pre"',
  );
  expectThrows(
    () => model.run(ref.tokens, { startAt: { hook: names[2]!, act }, hooks: { [names[2]!]: (x) => x } }),
    "replacement hook is set at the startAt hook",
  );
  expectThrows(
    () => model.runFrom(names[1]!, tf.slice(act, [0, 0, 0], [1, -1, -1]) as tf.Tensor3D, ref.tokens),
    "startAt activation has shape",
  );
  expectThrows(
    () => model.run(ref.tokens, { cache: ["ln_final.hook_normalized"], logits: false }),
    "needs the logits pass",
  );
  tf.dispose([act, ref.tokens]);
  model.dispose();
});

Deno.test("a hook returning the wrong shape and an unknown hook name are clear errors", async () => {
  const model = await tinyModel();
  const tokens = tf.tensor2d([[1, 2, 3]], [1, 3], "int32");
  const before = tf.memory().numTensors;
  expectThrows(
    () => model.runWithHooks(tokens, { "blocks.0.hook_resid_post": (x) => tf.slice(x, [0, 0, 0], [1, 2, 64]) }),
    'hook "blocks.0.hook_resid_post" returned shape [1,2,64], expected [1,3,64]',
  );
  expectThrows(() => model.runWithCache(tokens, ["blocks.7.hook_resid_pre"]), "unknown hook name", "2-layer");
  expectThrows(() => model.runWithCache(tokens, ["blocks.0.resid_pre"]), "unknown hook name");
  expectThrows(
    () => model.runWithCache(tokens, ["blocks.1.hook_resid_pre"], { stopAtLayer: 1 }),
    "lies after stopAtLayer=1",
  );
  assert(tf.memory().numTensors === before, "failed runs leave no tensors behind");
  tokens.dispose();
  model.dispose();
});

Deno.test("stopAtLayer returns the same early activations and no logits", async () => {
  const model = await tinyModel();
  const ref = await reference();
  const { logits, cache } = model.runWithCache(ref.tokens, ["blocks.0.hook_resid_post"], { stopAtLayer: 1 });
  assert(logits === null, "no logits when stopped early");
  assertClose(cache.get("blocks.0.hook_resid_post")!, ref.get("raw.blocks.0.hook_resid_post"), TOL, "resid_post 0");
  tf.dispose([...cache.values(), ref.tokens]);
  model.dispose();
});

Deno.test("tokens outside the vocabulary, beyond n_ctx or of the wrong dtype are rejected", async () => {
  const model = await tinyModel();
  const bad = tf.tensor2d([[1, 512]], [1, 2], "int32");
  expectThrows(() => model.forward(bad), "token 512 at [0, 1]", "[0, 512)");
  const long = tf.zeros([1, 65], "int32") as tf.Tensor2D;
  expectThrows(() => model.forward(long), "65 positions", "n_ctx=64");
  const float = tf.zeros([1, 3]) as tf.Tensor2D;
  expectThrows(() => model.forward(float), "int32 [batch, pos]", "float32");
  tf.dispose([bad, long, float]);
  model.dispose();
});

Deno.test("positions attend only to the past and batch rows do not interact", async () => {
  const model = await tinyModel();
  const a = tf.tensor2d([[5, 6, 7, 8, 9, 10]], [1, 6], "int32");
  const b = tf.tensor2d([[5, 6, 7, 400, 401, 402]], [1, 6], "int32");
  const both = tf.concat([a, b]) as tf.Tensor2D;
  const la = model.forward(a);
  const lb = model.forward(b);
  const lboth = model.forward(both);
  const prefix = (t: tf.Tensor3D, row: number) => tf.slice(t, [row, 0, 0], [1, 3, 512]).dataSync();
  assert(maxAbsDiff(prefix(la, 0), prefix(lb, 0), "prefix") < TOL, "later tokens do not change earlier logits");
  const rowB = tf.slice(lboth, [1, 0, 0], [1, 6, 512]);
  assert(maxAbsDiff(rowB.dataSync(), lb.dataSync(), "batch") < TOL, "a row's logits do not depend on its batch");
  tf.dispose([a, b, both, la, lb, lboth, rowB]);
  model.dispose();
});

Deno.test("repeated forward passes, caches and losses leak no tensors", async () => {
  const model = await tinyModel();
  const ref = await reference();
  const step = () => {
    const { logits, cache } = model.runWithCache(ref.tokens, ["blocks.0.hook_resid_pre", "ln_final.hook_normalized"]);
    const loss = model.lossPerToken(logits!, ref.tokens);
    tf.dispose([logits!, loss, ...cache.values()]);
  };
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) step();
  assert(tf.memory().numTensors === before, `tensor count ${before} → ${tf.memory().numTensors}`);
  ref.tokens.dispose();
  model.dispose();
});

Deno.test("gradients reach every parameter and Adam steps lower the training loss", async () => {
  await initBackend();
  const cfg = defaultGpt2Config({ n_layer: 2, d_model: 32, n_head: 4, n_ctx: 16, d_vocab: 50 });
  const model = Gpt2.random(cfg, 3);
  const rows = [[1, 2, 3, 4, 5, 6, 7, 8], [8, 7, 6, 5, 4, 3, 2, 1]];
  const tokens = tf.tensor2d(rows, [2, 8], "int32");
  const { grads, value } = tf.variableGrads(() => model.loss(tokens), model.trainableVariables());
  for (const [name, v] of model.params) {
    const g = grads[v.name];
    assert(g !== undefined, `gradient for ${name}`);
    const norm = tf.norm(g).dataSync()[0] as number;
    assert(Number.isFinite(norm) && norm > 0, `gradient of ${name} is finite and non-zero (${norm})`);
  }
  const first = value.dataSync()[0] as number;
  tf.dispose([value, ...Object.values(grads)]);
  const opt = tf.train.adam(1e-2);
  let last = first;
  for (let i = 0; i < 20; i++) {
    const l = opt.minimize(() => model.loss(tokens), true, model.trainableVariables()) as tf.Scalar;
    last = l.dataSync()[0] as number;
    l.dispose();
  }
  assert(last < first - 0.5, `loss fell from ${first} to ${last}`);
  opt.dispose();
  tokens.dispose();
  model.dispose();
});

Deno.test("random initialisation is seeded and follows the GPT-2 scheme", () => {
  const cfg = defaultGpt2Config({ n_layer: 2, d_model: 32, n_head: 4, n_ctx: 16, d_vocab: 50 });
  const a = initGpt2Arrays(cfg, 7);
  const b = initGpt2Arrays(cfg, 7);
  const c = initGpt2Arrays(cfg, 8);
  assert(maxAbsDiff(a.get("wte.weight")!, b.get("wte.weight")!, "same seed") === 0, "same seed, same weights");
  assert(maxAbsDiff(a.get("wte.weight")!, c.get("wte.weight")!, "other seed") > 0, "other seed, other weights");
  assert(a.get("h.0.ln_1.weight")!.every((v) => v === 1), "LayerNorm gains start at 1");
  assert(a.get("h.1.mlp.c_fc.bias")!.every((v) => v === 0), "biases start at 0");
  const std = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
  const s = std(a.get("h.0.mlp.c_fc.weight")!);
  assert(Math.abs(s - 0.02) < 0.002, `c_fc weight std ${s} ≈ 0.02`);
  const sp = std(a.get("h.0.mlp.c_proj.weight")!);
  assert(Math.abs(sp - 0.01) < 0.001, `c_proj weight std ${sp} ≈ 0.02/√(2·2) = 0.01`);
  let n = 0;
  for (const v of a.values()) n += v.length;
  assert(n === gpt2ParamCount(cfg), "parameter count");
  assert(gpt2ParamCount(defaultGpt2Config()) === 124_439_808, "gpt2-small has 124,439,808 parameters");
});

Deno.test("config validation names the inconsistent field", () => {
  expectThrows(() => defaultGpt2Config({ d_model: 100, n_head: 12 }), "d_model (100)", "n_head (12)");
  expectThrows(() => defaultGpt2Config({ n_layer: 0 }), "n_layer must be a positive integer");
  expectThrows(
    () => new Gpt2(defaultGpt2Config({ n_layer: 1, d_model: 8, n_head: 2, n_ctx: 4, d_vocab: 10 }), new Map()),
    'missing parameter "wte.weight"',
  );
});

Deno.test("sinusoidal positional start: RMS 0.02, one rotation from each position to the next, rest unchanged", () => {
  const cfg = defaultGpt2Config({ n_layer: 1, d_model: 16, n_head: 2, n_ctx: 32, d_vocab: 20 });
  const plain = initGpt2Arrays(cfg, 3);
  const sin = initGpt2Arrays(cfg, 3, { wpe: "sinusoid" });
  const w = sin.get("wpe.weight")!;
  const rms = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
  assert(Math.abs(rms - 0.02) < 1e-4, `wpe RMS ${rms} ≈ 0.02`);
  // pair j of position p+1 is pair j of position p rotated by the angle ω_j (the same for every p)
  const d = cfg.d_model;
  for (const j of [0, 3, 7]) {
    const om = Math.pow(10000, (-2 * j) / d);
    for (const p of [0, 5, 30]) {
      const [s0, c0] = [w[p * d + 2 * j]!, w[p * d + 2 * j + 1]!];
      const [s1, c1] = [w[(p + 1) * d + 2 * j]!, w[(p + 1) * d + 2 * j + 1]!];
      const rs = s0 * Math.cos(om) + c0 * Math.sin(om), rc = c0 * Math.cos(om) - s0 * Math.sin(om);
      assert(Math.abs(rs - s1) < 1e-6 && Math.abs(rc - c1) < 1e-6, `pair ${j}, position ${p} → ${p + 1}`);
    }
  }
  for (const [name, v] of plain) {
    if (name === "wpe.weight") continue;
    assert(maxAbsDiff(v, sin.get(name)!, name) === 0, `${name} does not depend on the positional start`);
  }
});
