// SAELens folders (legacy, 5.x and 6.x cfg.json; standard, topk, jumprelu) against the PyTorch reference of
// scripts/make_fixtures.py, the writer's round trip, splicing into GPT-2, and mismatch errors.

import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { readSafetensors, type SafeTensor, toFloat32, writeSafetensors } from "../lib/io/safetensors.ts";
import { defaultGpt2Config } from "../lib/lm/config.ts";
import { loadGpt2FromHf } from "../lib/lm/hf_loader.ts";
import { saeSpliceHook } from "../lib/splice/splice.ts";
import { defaultSaeConfig } from "../lib/sae/config.ts";
import { createSae } from "../lib/sae/sae.ts";
import { assertSaeFitsModel } from "../lib/splice/sae_fit.ts";
import { loadSaeLens, saeConfigFromSaeLens, saveSaeLens } from "../lib/sae/saelens.ts";
import { fromFileUrl, join } from "../lib/path.ts";
import { assert, expectRejects, maxAbsDiff } from "./helpers.ts";

const SAE_DIR = fromFileUrl(new URL("./fixtures/sae_tiny/", import.meta.url));
const GPT2_DIR = fromFileUrl(new URL("./fixtures/gpt2_tiny/", import.meta.url));
const TOL = 1e-4;
const VARIANTS = ["legacy_standard", "v5_scaled", "v6_topk", "v6_jumprelu"] as const;

async function refs() {
  const sae = (await readSafetensors(join(SAE_DIR, "reference.safetensors"))).tensors;
  const gpt = (await readSafetensors(join(GPT2_DIR, "reference.safetensors"))).tensors;
  const f32 = (m: Map<string, SafeTensor>, name: string) => {
    const t = m.get(name);
    if (!t) throw new Error(`reference has no ${name}`);
    return { data: toFloat32(t), shape: t.shape };
  };
  const x = f32(gpt, "centered.blocks.1.hook_resid_pre"); // [2, 24, 64]
  const tok = gpt.get("tokens") as SafeTensor;
  return {
    sae: (name: string) => f32(sae, name),
    input: tf.tensor2d(x.data, [x.shape[0]! * x.shape[1]!, x.shape[2]!]),
    tokens: tf.tensor2d(tok.data as Int32Array, tok.shape as [number, number], "int32"),
  };
}

Deno.test("all four SAELens cfg.json generations are read into the same typed config", async () => {
  const expectations: Record<string, [string, number, boolean]> = {
    legacy_standard: ["standard", 256, true],
    v5_scaled: ["standard", 128, true],
    v6_topk: ["topk", 128, true],
    v6_jumprelu: ["jumprelu", 128, false],
  };
  for (const v of VARIANTS) {
    const json = JSON.parse(await Deno.readTextFile(join(SAE_DIR, v, "cfg.json")));
    const cfg = saeConfigFromSaeLens(json, v);
    const [arch, d_sae, applyBdec] = expectations[v]!;
    assert(cfg.architecture === arch && cfg.d_sae === d_sae && cfg.d_in === 64, `${v}: shape and architecture`);
    assert(cfg.apply_b_dec_to_input === applyBdec, `${v}: apply_b_dec_to_input`);
    assert(cfg.hook_name === "blocks.1.hook_resid_pre", `${v}: hook_name (legacy hook_point renamed)`);
    assert(cfg.context_size === 16 && cfg.prepend_bos && cfg.n_inst === 1, `${v}: provenance`);
    if (arch === "topk") assert(cfg.k === 8, "k read from cfg");
  }
  const legacyTopk = saeConfigFromSaeLens(
    { d_in: 4, d_sae: 8, hook_point: "h", activation_fn_str: "topk", activation_fn_kwargs: { k: 3 } },
    "old.json",
  );
  assert(legacyTopk.architecture === "topk" && legacyTopk.k === 3, "legacy activation_fn topk with kwargs.k");
  const bare = saeConfigFromSaeLens({ d_in: 4, d_sae: 8, hook_point: "h" }, "bare.json");
  assert(bare.architecture === "standard" && bare.apply_b_dec_to_input, "SAELens defaults for missing fields");
});

Deno.test("feature activations and reconstructions match the PyTorch reference for every variant", async () => {
  await initBackend();
  const r = await refs();
  for (const v of VARIANTS) {
    const { sae, foldedScalingFactor } = await loadSaeLens(join(SAE_DIR, v));
    assert(foldedScalingFactor === (v === "v5_scaled"), `${v}: non-trivial scaling_factor folded, all-ones dropped`);
    const { acts, preActs, recon } = sae.forward(r.input);
    const fa = r.sae(`${v}.feature_acts`);
    const out = r.sae(`${v}.sae_out`);
    const dActs = maxAbsDiff(acts.dataSync(), fa.data);
    const dOut = maxAbsDiff(recon.dataSync(), out.data);
    assert(dActs < TOL, `${v}: feature_acts max diff ${dActs}`);
    assert(dOut < TOL, `${v}: sae_out max diff ${dOut}`);
    const l0 = (acts.dataSync() as Float32Array).filter((a) => a > 0).length / r.input.shape[0];
    const refL0 = fa.data.filter((a) => a > 0).length / r.input.shape[0];
    assert(Math.abs(l0 - refL0) < 0.05, `${v}: L0 ${l0} vs reference ${refL0}`);
    tf.dispose([acts, preActs, recon]);
    sae.dispose();
  }
  tf.dispose([r.input, r.tokens]);
});

Deno.test("splicing each SAE into the centred GPT-2 reproduces the reference per-token losses", async () => {
  await initBackend();
  const r = await refs();
  const { model } = await loadGpt2FromHf(GPT2_DIR, { centerWritingWeights: true });
  for (const v of VARIANTS) {
    const { sae } = await loadSaeLens(join(SAE_DIR, v));
    assertSaeFitsModel(sae, model.cfg);
    const before = tf.memory().numTensors;
    const logits = model.runWithHooks(r.tokens, { [sae.cfg.hook_name]: saeSpliceHook(sae) });
    const loss = model.lossPerToken(logits, r.tokens);
    const d = maxAbsDiff(loss.dataSync(), r.sae(`${v}.spliced_loss_per_token`).data);
    assert(d < TOL, `${v}: spliced loss max diff ${d}`);
    tf.dispose([logits, loss]);
    assert(tf.memory().numTensors === before, `${v}: splicing leaks no tensors`);
    sae.dispose();
  }
  model.dispose();
  tf.dispose([r.input, r.tokens]);
});

Deno.test("a keep mask restores the original activation at the masked positions", async () => {
  await initBackend();
  const r = await refs();
  const { model } = await loadGpt2FromHf(GPT2_DIR, { centerWritingWeights: true });
  const { sae } = await loadSaeLens(join(SAE_DIR, "legacy_standard"));
  const hook = sae.cfg.hook_name;
  const keepAll = tf.ones(r.tokens.shape) as tf.Tensor2D;
  const kept = model.runWithHooks(r.tokens, { [hook]: saeSpliceHook(sae, { keep: keepAll }) });
  const clean = model.forward(r.tokens);
  assert(maxAbsDiff(kept.dataSync(), clean.dataSync()) < 1e-5, "keeping every position = the clean pass");
  tf.dispose([keepAll, kept, clean, r.input, r.tokens]);
  sae.dispose();
  model.dispose();
});

Deno.test("saveSaeLens writes a SAELens 6 folder that loads back to the same SAE", async () => {
  await initBackend();
  const dir = await Deno.makeTempDir({ prefix: "saelens_test_" });
  try {
    for (const v of VARIANTS) {
      const { sae } = await loadSaeLens(join(SAE_DIR, v));
      const sparsity = new Float32Array(sae.cfg.d_sae).fill(-2);
      await saveSaeLens(sae, join(dir, v), {
        sparsity,
        metadata: { model_from_pretrained_kwargs: { center_writing_weights: true } },
      });
      const cfg = JSON.parse(await Deno.readTextFile(join(dir, v, "cfg.json")));
      assert(cfg.metadata.hook_name === "blocks.1.hook_resid_pre", "hook_name nested under metadata");
      assert(cfg.metadata.sae_lens_version === "6.0.0", "declares the 6.x layout");
      assert(cfg.metadata.model_from_pretrained_kwargs.center_writing_weights === true, "extra metadata kept");
      const back = await loadSaeLens(join(dir, v));
      assert(back.sparsity !== null && back.sparsity[0] === -2, "sparsity.safetensors round trip");
      assert(back.sae.cfg.architecture === sae.cfg.architecture && back.sae.cfg.k === sae.cfg.k, `${v}: architecture`);
      const a = sae.toArrays();
      const b = back.sae.toArrays();
      for (const name of Object.keys(a)) {
        assert(maxAbsDiff(a[name]!.data, b[name]!.data) === 0, `${v}: ${name} round-trips exactly`);
      }
      const w = await readSafetensors(join(dir, v, "sae_weights.safetensors"));
      assert(
        w.tensors.get("W_enc")!.shape.join() === `64,${sae.cfg.d_sae}`,
        "W_enc [d_in, d_sae] without instance axis",
      );
      sae.dispose();
      back.sae.dispose();
    }
    // one instance of a multi-instance SAE
    const grid = createSae(defaultSaeConfig({ d_in: 3, d_sae: 5, n_inst: 4, hook_name: "blocks.0.hook_resid_pre" }), 1);
    await saveSaeLens(grid, join(dir, "grid2"), { instance: 2 });
    const one = (await loadSaeLens(join(dir, "grid2"))).sae;
    const w2 = grid.toArrays().W_dec!.data.slice(2 * 15, 3 * 15);
    assert(maxAbsDiff(one.toArrays().W_dec!.data, w2) === 0, "instance 2 written");
    await expectRejects(
      () => saveSaeLens(grid, join(dir, "bad"), { instance: 4 }),
      "instance must be an integer in [0, 4)",
    );
    grid.dispose();
    one.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an SAE whose d_in or hook does not fit the model is an error naming both", async () => {
  const model = defaultGpt2Config({ n_layer: 2, d_model: 64, n_head: 4, n_ctx: 64, d_vocab: 512 });
  await expectRejects(
    () => assertSaeFitsModel(defaultSaeConfig({ d_in: 768, hook_name: "blocks.1.hook_resid_pre" }), model),
    "d_in 768",
    "d_model 64",
    "blocks.1.hook_resid_pre",
  );
  await expectRejects(
    () => assertSaeFitsModel(defaultSaeConfig({ d_in: 64, hook_name: "blocks.8.hook_resid_pre" }), model),
    'hook "blocks.8.hook_resid_pre"',
    "2 layers",
    "no hook",
  );
  assertSaeFitsModel(defaultSaeConfig({ d_in: 64, hook_name: "blocks.1.hook_resid_post" }), model);
});

Deno.test("bad SAELens folders give errors naming the file, key and shapes", async () => {
  await initBackend();
  const dir = await Deno.makeTempDir({ prefix: "saelens_bad_" });
  const src = join(SAE_DIR, "legacy_standard");
  const cfgText = await Deno.readTextFile(join(src, "cfg.json"));
  const { tensors } = await readSafetensors(join(src, "sae_weights.safetensors"));
  const write = async (name: string, edit: (t: Map<string, SafeTensor>) => void, cfg = cfgText) => {
    const t = new Map(tensors);
    edit(t);
    await writeSafetensors(join(dir, name, "sae_weights.safetensors"), t);
    await Deno.writeTextFile(join(dir, name, "cfg.json"), cfg);
    return join(dir, name);
  };
  try {
    const wrong = await write("wrong", (t) => {
      t.set("W_dec", { dtype: "F32", shape: [64, 256], data: new Float32Array(64 * 256) });
    });
    await expectRejects(
      () => loadSaeLens(wrong),
      "sae_weights.safetensors",
      '"W_dec"',
      "[64,256]",
      "expected [256,64]",
    );
    const missing = await write("missing", (t) => t.delete("b_enc"));
    await expectRejects(() => loadSaeLens(missing), 'missing tensor "b_enc" [256]');
    const extra = await write("extra", (t) => t.set("W_gate", t.get("b_enc")!));
    await expectRejects(() => loadSaeLens(extra), "unexpected tensor(s)", "W_gate");
    const scaled = await write("scaled", (t) => {
      t.set("scaling_factor", { dtype: "F32", shape: [256], data: new Float32Array(256).fill(2) });
    });
    await expectRejects(() => loadSaeLens(scaled), '"scaling_factor" is not all ones', "finetuning_scaling_factor");
    const gated = await write("gated", () => {}, JSON.stringify({ ...JSON.parse(cfgText), architecture: "gated" }));
    await expectRejects(() => loadSaeLens(gated), "cfg.json", '"architecture" "gated" is not supported');
    const norm = await write("norm", () => {}, JSON.stringify({ ...JSON.parse(cfgText), normalize_activations: true }));
    await expectRejects(() => loadSaeLens(norm), '"normalize_activations" true is not supported');
    const bytes = await Deno.readFile(join(src, "sae_weights.safetensors"));
    await Deno.mkdir(join(dir, "trunc"));
    await Deno.writeFile(join(dir, "trunc", "sae_weights.safetensors"), bytes.slice(0, 5000));
    await Deno.writeTextFile(join(dir, "trunc", "cfg.json"), cfgText);
    await expectRejects(() => loadSaeLens(join(dir, "trunc")), join(dir, "trunc", "sae_weights.safetensors"));
    await expectRejects(() => loadSaeLens(join(dir, "nowhere")), join(dir, "nowhere", "cfg.json"), "file not found");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
