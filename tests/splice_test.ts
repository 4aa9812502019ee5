// The splice layer (lib/splice/): the one splice abstraction and the one spliced-loss loop. The loop's spliced logits
// equal a full pass with a replacement hook bit for bit (started at the hook where the model can, through the hook
// elsewhere), every tensor is freed whether the loop runs to the end or is left early, and the row batches keep order.

import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { defaultGpt2Config, Gpt2, type HookFn } from "../lib/lm/mod.ts";
import { createSae, defaultSaeConfig } from "../lib/sae/mod.ts";
import {
  constantSplice,
  rowBatches,
  saeApply,
  saeSplice,
  saeSpliceHook,
  type Splice,
  splicedPasses,
  spliceHook,
  zeroSplice,
} from "../lib/splice/mod.ts";
import { assert, assertEquals } from "./helpers.ts";

await initBackend();

const CFG = defaultGpt2Config({ n_layer: 3, d_model: 16, n_head: 2, n_ctx: 32, d_vocab: 60 });
const HOOKS = ["blocks.1.hook_resid_pre", "blocks.2.hook_resid_post", "blocks.1.hook_mlp_out"];

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

Deno.test("splicedPasses: clean and spliced logits equal full passes with replacement hooks, bit for bit", () => {
  const model = Gpt2.random(CFG, 0);
  const tokens = tf.tensor2d(Int32Array.from({ length: 2 * 20 }, (_, i) => (i * 13) % 60), [2, 20], "int32");
  const mean = Float32Array.from({ length: 16 }, (_, i) => (i - 8) / 4);
  for (const hook of HOOKS) {
    assertEquals(model.canStartAt(hook), hook.includes("resid"), hook);
    const sae = createSae(defaultSaeConfig({ d_in: 16, d_sae: 32, hook_name: hook }), 1);
    const meanSplice = constantSplice("mean", hook, mean);
    const splices: Splice[] = [saeSplice("sae", sae), zeroSplice("zero", hook), meanSplice];
    const vec = tf.tensor1d(mean);
    const reference: Record<string, HookFn | null> = {
      clean: null,
      sae: saeSpliceHook(sae),
      zero: (a) => tf.zerosLike(a),
      mean: (a) => tf.tidy(() => tf.mul(tf.onesLike(a), vec) as tf.Tensor3D),
    };
    const before = tf.memory().numTensors;
    const seen: string[] = [];
    for (const pass of splicedPasses(model, tokens, splices)) {
      const key = pass.kind === "clean" ? "clean" : pass.splice.key;
      seen.push(key);
      const h = reference[key]!;
      const want = h === null ? model.forward(tokens) : model.runWithHooks(tokens, { [hook]: h });
      assert(sameBits(pass.logits!.dataSync(), want.dataSync()), `${hook} ${key}: logits differ from runWithHooks`);
      want.dispose();
      if (pass.kind === "spliced") {
        assertEquals(pass.x.shape, [2, 20, 16]);
        assertEquals(pass.acts === null, key !== "sae", `${key} feature activations`);
      }
    }
    assertEquals(seen, ["clean", "sae", "zero", "mean"]);
    assertEquals(tf.memory().numTensors, before, `${hook}: the loop frees every tensor it made`);
    meanSplice.dispose();
    vec.dispose();
    sae.dispose();
  }
  tokens.dispose();
  model.dispose();
});

Deno.test("splicedPasses: caches on both passes, no logits when asked, and leaving early frees everything", () => {
  const model = Gpt2.random(CFG, 2);
  const tokens = tf.tensor2d(Int32Array.from({ length: 3 * 8 }, (_, i) => (i * 7) % 60), [3, 8], "int32");
  const sae = createSae(defaultSaeConfig({ d_in: 16, d_sae: 32, hook_name: "blocks.0.hook_resid_post" }), 4);
  const before = tf.memory().numTensors;
  const passes = splicedPasses(model, tokens, [saeSplice("s", sae)], {
    cleanCache: ["blocks.2.hook_resid_pre"],
    cleanLogits: false,
    splicedCache: () => ["blocks.2.hook_resid_pre"],
    splicedLogits: false,
  });
  let clean: tf.Tensor3D | null = null;
  for (const pass of passes) {
    assertEquals(pass.logits, null);
    const x = pass.cache.get("blocks.2.hook_resid_pre")!;
    if (pass.kind === "clean") {
      clean = x;
      assert(pass.cache.has("blocks.0.hook_resid_post"), "the splice's own hook is cached on the clean pass");
      continue;
    }
    // the spliced pass differs downstream of the splice, and its replacement is SAE(x) of the clean activation
    const dt = tf.tidy(() => tf.max(tf.abs(tf.sub(x, clean!))));
    const d = dt.dataSync()[0]!;
    dt.dispose();
    assert(d > 0, "a random SAE changes the later residual stream");
    const { recon, acts } = saeApply(sae, pass.x);
    assert(sameBits(recon.dataSync(), pass.recon.dataSync()), "recon is SAE(clean activation)");
    tf.dispose([recon, acts!]);
  }
  assertEquals(tf.memory().numTensors, before, "full loop");
  for (const pass of splicedPasses(model, tokens, [saeSplice("a", sae), saeSplice("b", sae)])) {
    if (pass.kind === "spliced") break; // leave after the first spliced pass
  }
  assertEquals(tf.memory().numTensors, before, "loop left early");
  let thrown = "";
  try {
    for (const pass of splicedPasses(model, tokens, [zeroSplice("z", "blocks.1.hook_resid_pre")])) {
      if (pass.kind === "spliced") throw new Error("consumer failed");
    }
  } catch (e) {
    thrown = (e as Error).message;
  }
  assertEquals(thrown, "consumer failed");
  assertEquals(tf.memory().numTensors, before, "loop left by a throw");
  tf.dispose(tokens);
  sae.dispose();
  model.dispose();
});

Deno.test("spliceHook and saeSpliceHook: the splice's replacement as a hook, the keep mask restoring positions", () => {
  const model = Gpt2.random(CFG, 5);
  const hook = "blocks.1.hook_resid_pre";
  const tokens = tf.tensor2d([[1, 2, 3, 4, 5]], undefined, "int32");
  const sae = createSae(defaultSaeConfig({ d_in: 16, d_sae: 32, hook_name: hook }), 6);
  const a = model.runWithHooks(tokens, { [hook]: spliceHook(saeSplice("s", sae), tokens) });
  const b = model.runWithHooks(tokens, { [hook]: saeSpliceHook(sae) });
  assert(sameBits(a.dataSync(), b.dataSync()), "spliceHook(saeSplice) = saeSpliceHook");
  const keepAll = tf.ones([1, 5]) as tf.Tensor2D;
  const kept = model.runWithHooks(tokens, { [hook]: saeSpliceHook(sae, { keep: keepAll }) });
  const clean = model.forward(tokens);
  const dt = tf.tidy(() => tf.max(tf.abs(tf.sub(kept, clean))));
  const diff = dt.dataSync()[0]!;
  dt.dispose();
  assert(diff < 1e-5, `keep = 1 everywhere is the clean model (max diff ${diff})`);
  let msg = "";
  try {
    model.runWithHooks(tokens, { "blocks.2.hook_resid_pre": spliceHook(saeSplice("s", sae), tokens) });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes(`reads ${hook}, set at hook blocks.2.hook_resid_pre`), msg);
  const wide = createSae(defaultSaeConfig({ d_in: 8, d_sae: 16, hook_name: hook }), 0);
  msg = "";
  try {
    saeApply(wide, tf.zeros([1, 2, 16]));
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("d_in 8") && msg.includes("1,2,16"), msg);
  tf.dispose([tokens, a, b, keepAll, kept, clean]);
  sae.dispose();
  wide.dispose();
  model.dispose();
});

Deno.test("rowBatches: batches in order, the last one short, tokens freed, unequal rows refused by index", () => {
  const rows = [0, 1, 2, 3, 4].map((r) => Int32Array.from({ length: 3 }, (_, j) => 10 * r + j));
  const before = tf.memory().numTensors;
  const got = [...rowBatches(rows, 2)].map((b) => ({ r0: b.r0, B: b.B, T: b.T, host: Array.from(b.host) }));
  assertEquals(got, [
    { r0: 0, B: 2, T: 3, host: [0, 1, 2, 10, 11, 12] },
    { r0: 2, B: 2, T: 3, host: [20, 21, 22, 30, 31, 32] },
    { r0: 4, B: 1, T: 3, host: [40, 41, 42] },
  ]);
  assertEquals(tf.memory().numTensors, before, "every batch's tokens are freed");
  let msg = "";
  try {
    [...rowBatches([new Int32Array(3), new Int32Array(2)], 1)];
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("row 1 has 2 tokens, row 0 has 3"), msg);
  msg = "";
  try {
    [...rowBatches(rows, 0)];
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("batchRows must be a positive integer, got 0"), msg);
});
