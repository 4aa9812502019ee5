// Hugging Face GPT-2 loader and writer, TransformerLens centring, compact-vocabulary maps,
// and the errors bad checkpoints give. Fixtures: tests/fixtures/gpt2_tiny/ (scripts/make_fixtures.py).

import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { readSafetensors, type SafeTensor, toFloat32, writeSafetensors } from "../lib/io/safetensors.ts";
import { defaultGpt2Config } from "../lib/lm/config.ts";
import { Gpt2 } from "../lib/lm/gpt2.ts";
import {
  centerWritingWeights,
  gpt2ConfigFromHf,
  loadGpt2FromHf,
  saveGpt2ToHf,
  VOCAB_MAP_FILE,
} from "../lib/lm/hf_loader.ts";
import { TokenMap } from "../lib/lm/token_map.ts";
import { fromFileUrl, join } from "../lib/path.ts";
import { assert, expectRejects, maxAbsDiff } from "./helpers.ts";

const FIXTURE = fromFileUrl(new URL("./fixtures/gpt2_tiny/", import.meta.url));
const TOL = 1e-4;

async function reference(dir = FIXTURE) {
  const { tensors } = await readSafetensors(join(dir, "reference.safetensors"));
  const get = (name: string) => toFloat32(tensors.get(name) as SafeTensor);
  const tok = tensors.get("tokens") as SafeTensor;
  return { get, tokens: tf.tensor2d(tok.data as Int32Array, tok.shape as [number, number], "int32") };
}

/** A temporary checkpoint folder: the fixture's files, with `tensors` edited by `edit`. */
async function editedCheckpoint(edit: (t: Map<string, SafeTensor>) => void, config?: unknown): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "hf_loader_test_" });
  const { tensors, metadata } = await readSafetensors(join(FIXTURE, "model.safetensors"));
  edit(tensors);
  await writeSafetensors(join(dir, "model.safetensors"), tensors, metadata);
  const cfg = config ?? JSON.parse(await Deno.readTextFile(join(FIXTURE, "config.json")));
  await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(cfg));
  return dir;
}

Deno.test("the transformer.-prefixed checkpoint with attn.bias buffers and a tied lm_head loads and matches its reference", async () => {
  await initBackend();
  const dir = join(FIXTURE, "prefixed");
  const { model, tokenMap } = await loadGpt2FromHf(dir);
  assert(tokenMap === null, "no vocabulary map");
  assert(model.cfg.n_layer === 1 && model.cfg.d_model === 32 && model.cfg.d_vocab === 100, "config read");
  const ref = await reference(dir);
  const logits = model.forward(ref.tokens);
  const d = maxAbsDiff(logits.dataSync(), ref.get("logits"));
  assert(d < TOL, `logits max diff ${d}`);
  const loss = model.lossPerToken(logits, ref.tokens);
  assert(maxAbsDiff(loss.dataSync(), ref.get("loss_per_token")) < TOL, "per-token losses");
  tf.dispose([logits, loss, ref.tokens]);
  model.dispose();
});

Deno.test("centring leaves the logits unchanged and makes every residual vector mean-zero", async () => {
  await initBackend();
  const { model } = await loadGpt2FromHf(FIXTURE, { centerWritingWeights: true });
  const ref = await reference();
  const names: string[] = [];
  for (let l = 0; l < 2; l++) {
    for (const h of ["hook_resid_pre", "hook_resid_mid", "hook_resid_post"]) names.push(`blocks.${l}.${h}`);
  }
  const { logits, cache } = model.runWithCache(ref.tokens, [...names, "hook_embed", "hook_pos_embed"]);
  const d = maxAbsDiff(logits!.dataSync(), ref.get("logits"));
  assert(d < TOL, `centred logits equal the uncentred reference (max diff ${d})`);
  for (const name of [...names, "hook_embed", "hook_pos_embed"]) {
    const act = cache.get(name)!;
    const worst = tf.max(tf.abs(tf.mean(act, -1))).dataSync()[0] as number;
    assert(worst < 1e-5, `${name}: max |mean over d_model| ${worst} < 1e-5`);
  }
  for (const name of names) {
    const diff = maxAbsDiff(cache.get(name)!.dataSync(), ref.get("centered." + name));
    assert(diff < TOL, `${name} matches the reference TransformerLens-style stream (max diff ${diff})`);
  }
  tf.dispose([logits!, ...cache.values(), ref.tokens]);
  model.dispose();
});

Deno.test("centred residual = raw residual minus its d_model mean", async () => {
  await initBackend();
  const raw = (await loadGpt2FromHf(FIXTURE)).model;
  const cen = (await loadGpt2FromHf(FIXTURE, { centerWritingWeights: true })).model;
  const tokens = tf.tensor2d([[511, 3, 4, 5, 6]], [1, 5], "int32");
  const hook = "blocks.1.hook_resid_post";
  const a = raw.runWithCache(tokens, [hook]);
  const b = cen.runWithCache(tokens, [hook]);
  const x = a.cache.get(hook)!;
  const expected = tf.sub(x, tf.mean(x, -1, true));
  assert(maxAbsDiff(b.cache.get(hook)!.dataSync(), expected.dataSync()) < 1e-5, "x_TL = x_HF − mean_d(x_HF)");
  tf.dispose([a.logits!, b.logits!, ...a.cache.values(), ...b.cache.values(), expected, tokens]);
  raw.dispose();
  cen.dispose();
});

Deno.test("centerWritingWeights changes only the residual-writing tensors and leaves its input alone", async () => {
  await initBackend();
  const cfg = defaultGpt2Config({ n_layer: 1, d_model: 8, n_head: 2, n_ctx: 4, d_vocab: 10 });
  const random = Gpt2.random(cfg, 0);
  const arrays = random.toArrays();
  random.dispose();
  const wteBefore = new Float32Array(arrays.get("wte.weight")!);
  const { arrays: out, embedRowMean } = centerWritingWeights(arrays, cfg);
  assert(maxAbsDiff(arrays.get("wte.weight")!, wteBefore) === 0, "input not modified");
  assert(out.get("h.0.attn.c_attn.weight") === arrays.get("h.0.attn.c_attn.weight"), "reading weights shared");
  for (const name of ["wte.weight", "wpe.weight", "h.0.attn.c_proj.weight", "h.0.mlp.c_proj.bias"]) {
    const v = out.get(name)!;
    for (let r = 0; r < v.length / 8; r++) {
      const m = v.slice(r * 8, r * 8 + 8).reduce((s, x) => s + x, 0) / 8;
      assert(Math.abs(m) < 1e-7, `${name} row ${r} mean ${m}`);
    }
  }
  const row0 = wteBefore.slice(0, 8).reduce((s, x) => s + x, 0) / 8;
  assert(Math.abs((embedRowMean[0] as number) - row0) < 1e-7, "row means returned");
});

Deno.test("a saved checkpoint reloads with identical weights, and a centred model saves as its uncentred equivalent", async () => {
  await initBackend();
  const dir = await Deno.makeTempDir({ prefix: "hf_writer_test_" });
  try {
    const { model } = await loadGpt2FromHf(FIXTURE);
    await saveGpt2ToHf(model, join(dir, "plain"));
    const reloaded = (await loadGpt2FromHf(join(dir, "plain"))).model;
    for (const [name, v] of model.toArrays()) {
      assert(maxAbsDiff(v, reloaded.params.get(name)!.dataSync()) === 0, `${name} round-trips exactly`);
    }
    const written = await readSafetensors(join(dir, "plain", "model.safetensors"));
    assert(written.tensors.get("h.0.attn.c_attn.weight")!.shape.join() === "64,192", "Conv1D layout [in, out]");
    assert(written.metadata?.format === "pt", "format metadata");
    const cfgJson = JSON.parse(await Deno.readTextFile(join(dir, "plain", "config.json")));
    assert(cfgJson.n_embd === 64 && cfgJson.vocab_size === 512 && cfgJson.model_type === "gpt2", "config.json fields");

    const centred = (await loadGpt2FromHf(FIXTURE, { centerWritingWeights: true })).model;
    await saveGpt2ToHf(centred, join(dir, "centred"));
    const back = (await loadGpt2FromHf(join(dir, "centred"))).model;
    assert(back.embedRowMean === null, "the written file is a plain tied GPT-2");
    const ref = await reference();
    const logits = back.forward(ref.tokens);
    const d = maxAbsDiff(logits.dataSync(), ref.get("logits"));
    assert(d < TOL, `logits of the re-loaded centred model (max diff ${d})`);
    tf.dispose([logits, ref.tokens]);
    for (const m of [model, reloaded, centred, back]) m.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a compact-vocabulary map is written with the checkpoint and read back by the loader", async () => {
  await initBackend();
  const dir = await Deno.makeTempDir({ prefix: "hf_vocab_test_" });
  try {
    const cfg = defaultGpt2Config({ n_layer: 1, d_model: 8, n_head: 2, n_ctx: 8, d_vocab: 5 });
    const model = Gpt2.random(cfg, 1);
    const map = new TokenMap([50256, -1, 13, 11, 995], 1);
    await saveGpt2ToHf(model, dir, { tokenMap: map });
    const cfgJson = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
    assert(cfgJson.bos_token_id === 0, "BOS is the model id of GPT-2's 50256");
    const loaded = await loadGpt2FromHf(dir);
    assert(loaded.tokenMap !== null, "map loaded");
    assert(loaded.tokenMap.encode([50256, 995, 42]).join() === "0,4,1", "GPT-2 ids → model ids, unknown → unk");
    assert(loaded.tokenMap.decode([2, 3, 1]).join() === "13,11,-1", "model ids → GPT-2 ids");
    loaded.model.dispose();
    // a map whose size does not match vocab_size is rejected
    await Deno.writeTextFile(join(dir, VOCAB_MAP_FILE), JSON.stringify(new TokenMap([50256, -1], 1).toJson()));
    await expectRejects(() => loadGpt2FromHf(dir), VOCAB_MAP_FILE, "maps 2 model ids", "vocab_size 5");
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TokenMap rejects repeated ids, out-of-range ids and a wrong unk entry", () => {
  const bad = (fn: () => unknown, phrase: string) => {
    try {
      fn();
    } catch (e) {
      assert((e as Error).message.includes(phrase), `${(e as Error).message} mentions ${phrase}`);
      return;
    }
    throw new Error(`expected an error mentioning ${phrase}`);
  };
  bad(() => new TokenMap([5, -1, 5], 1), "GPT-2 id 5 is mapped twice");
  bad(() => new TokenMap([5, -1, 60000], 1), "model_to_source[2] = 60000");
  bad(() => new TokenMap([5, 6], 1), "must be -1");
  bad(() => TokenMap.fromJson({ format: "other" }, "m.json"), 'm.json: "format" must be');
});

Deno.test("a truncated model.safetensors is a clear error naming the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hf_trunc_test_" });
  try {
    const bytes = await Deno.readFile(join(FIXTURE, "model.safetensors"));
    await Deno.writeFile(join(dir, "model.safetensors"), bytes.slice(0, bytes.length - 1000));
    await Deno.copyFile(join(FIXTURE, "config.json"), join(dir, "config.json"));
    await expectRejects(() => loadGpt2FromHf(dir), join(dir, "model.safetensors"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a wrong tensor shape names the file, key, expected and actual shapes", async () => {
  const dir = await editedCheckpoint((t) => {
    t.set("h.1.mlp.c_fc.weight", { dtype: "F32", shape: [256, 64], data: new Float32Array(256 * 64) });
  });
  try {
    await expectRejects(
      () => loadGpt2FromHf(dir),
      join(dir, "model.safetensors"),
      '"h.1.mlp.c_fc.weight"',
      "[256,64]",
      "expected [64,256]",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("missing and unexpected tensors are listed by name", async () => {
  const missing = await editedCheckpoint((t) => {
    t.delete("h.0.ln_2.bias");
    t.delete("ln_f.weight");
  });
  const extra = await editedCheckpoint((t) => {
    t.set("h.2.ln_1.weight", { dtype: "F32", shape: [64], data: new Float32Array(64) });
  });
  try {
    await expectRejects(() => loadGpt2FromHf(missing), "missing tensor(s)", "h.0.ln_2.bias [64]", "ln_f.weight [64]");
    await expectRejects(() => loadGpt2FromHf(extra), "unexpected tensor(s)", "h.2.ln_1.weight");
  } finally {
    await Deno.remove(missing, { recursive: true });
    await Deno.remove(extra, { recursive: true });
  }
});

Deno.test("an lm_head that differs from wte is rejected (only tied unembeddings)", async () => {
  const dir = await editedCheckpoint((t) => {
    t.set("lm_head.weight", { dtype: "F32", shape: [512, 64], data: new Float32Array(512 * 64) });
  });
  try {
    await expectRejects(() => loadGpt2FromHf(dir), '"lm_head.weight" differs from "wte.weight"');
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config.json problems name the file and field", async () => {
  const good = { n_layer: 2, n_head: 4, n_embd: 64, n_positions: 64, vocab_size: 512 };
  const cfg = gpt2ConfigFromHf({ ...good, n_inner: null }, "config.json");
  assert(cfg.d_mlp === 256 && cfg.layer_norm_epsilon === 1e-5, "defaults for n_inner and layer_norm_epsilon");
  assert(gpt2ConfigFromHf({ ...good, n_positions: undefined, n_ctx: 32 }, "c").n_ctx === 32, "n_ctx fallback");
  const cases: [unknown, string][] = [
    [{ ...good, activation_function: "relu" }, '"activation_function" must be "gelu_new"'],
    [{ ...good, n_embd: undefined }, '"n_embd" must be a positive integer'],
    [{ ...good, n_head: 5 }, "d_model (64) must be divisible by n_head (5)"],
    [{ ...good, model_type: "llama" }, '"model_type" must be "gpt2"'],
    [{ ...good, tie_word_embeddings: false }, "only tied unembeddings"],
  ];
  for (const [json, phrase] of cases) {
    await expectRejects(() => Promise.resolve(gpt2ConfigFromHf(json, "x/config.json")), "x/config.json", phrase);
  }
  const dir = await Deno.makeTempDir({ prefix: "hf_cfg_test_" });
  try {
    await expectRejects(() => loadGpt2FromHf(dir), join(dir, "config.json"), "file not found");
    await Deno.writeTextFile(join(dir, "config.json"), "{not json");
    await expectRejects(() => loadGpt2FromHf(dir), join(dir, "config.json"), "invalid JSON");
    await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(good));
    await expectRejects(() => loadGpt2FromHf(dir), join(dir, "model.safetensors"), "file not found");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
