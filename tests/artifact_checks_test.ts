// The study-B artefact path's checks: non-finite weights named by file and tensor, symlinked SAE folders followed,
// the embedded default verified against its manifest, strict JSON with the file in every error, the "trained" flag
// and the guards that skip trained-only checks on random weights.

import { initBackend } from "../lib/engine/backend.ts";
import { readSafetensors, writeSafetensors } from "../lib/io/safetensors.ts";
import { parseJsonStrict } from "../lib/io/strict_json.ts";
import { writeManifest } from "../lib/io/manifest.ts";
import { resolveArtifacts } from "../lib/lm/artifacts.ts";
import { loadGpt2FromHf } from "../lib/lm/hf_loader.ts";
import { TokenMap } from "../lib/lm/token_map.ts";
import { fromFileUrl, join } from "../lib/path.ts";
import { loadSaeLens } from "../lib/sae/saelens.ts";
import { guardOrSkip } from "../lib/study_b/guards.ts";
import { loadStudySetup } from "../lib/study_b/setup.ts";
import { assert, assertEquals, expectRejects } from "./helpers.ts";

const GPT2 = fromFileUrl(new URL("./fixtures/gpt2_tiny/", import.meta.url));
const SAE = fromFileUrl(new URL("./fixtures/sae_tiny/legacy_standard/", import.meta.url));

async function copyDir(src: string, dst: string): Promise<void> {
  await Deno.mkdir(dst, { recursive: true });
  for await (const e of Deno.readDir(src)) {
    if (e.isFile) await Deno.copyFile(join(src, e.name), join(dst, e.name));
  }
}

async function withTemp(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Rewrites one element of one tensor of a safetensors file. */
async function poke(path: string, tensor: string, index: number, value: number): Promise<void> {
  const { tensors, metadata } = await readSafetensors(path);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of tensors) {
    const data = new Float32Array(t.data as Float32Array);
    if (name === tensor) data[index] = value;
    out.set(name, { shape: t.shape, data });
  }
  await writeSafetensors(path, out, metadata);
}

Deno.test("a non-finite SAE weight is reported with the file and the tensor at load", async () => {
  await initBackend();
  await withTemp("nonfinite_sae_", async (dir) => {
    await copyDir(SAE, dir);
    await poke(join(dir, "sae_weights.safetensors"), "W_dec", 70, Infinity);
    await expectRejects(
      () => loadSaeLens(dir),
      join(dir, "sae_weights.safetensors"),
      'tensor "W_dec"',
      "Infinity at element 70 ([1,6])",
    );
  });
});

Deno.test("a NaN model weight fails at load naming the file and the tensor (not later as a NaN loss)", async () => {
  await initBackend();
  await withTemp("nonfinite_model_", async (dir) => {
    await copyDir(GPT2, dir);
    await poke(join(dir, "model.safetensors"), "h.1.mlp.c_fc.weight", 5, NaN);
    await expectRejects(
      () => loadGpt2FromHf(dir),
      join(dir, "model.safetensors"),
      'tensor "h.1.mlp.c_fc.weight"',
      "NaN at element 5",
    );
  });
});

Deno.test("symlinked SAE folders are followed, whether all or some of them are links", async () => {
  await withTemp("symlinked_saes_", async (root) => {
    await copyDir(GPT2, join(root, "real_model"));
    await Deno.symlink(join(root, "real_model"), join(root, "model")); // a symlinked model folder
    const store = join(root, "store");
    for (const hook of ["blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre"]) await copyDir(SAE, join(store, hook));
    await Deno.mkdir(join(root, "saes"));
    await Deno.symlink(join(store, "blocks.0.hook_resid_pre"), join(root, "saes", "blocks.0.hook_resid_pre"));
    await Deno.symlink(join(store, "blocks.1.hook_resid_pre"), join(root, "saes", "blocks.1.hook_resid_pre"));
    let art = await resolveArtifacts({ env: root });
    assertEquals(Object.keys(art.saes), ["blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre"], "all symlinked");
    assertEquals(art.model, join(root, "model"));
    await Deno.remove(join(root, "saes", "blocks.1.hook_resid_pre"));
    await copyDir(join(store, "blocks.1.hook_resid_pre"), join(root, "saes", "blocks.1.hook_resid_pre"));
    art = await resolveArtifacts({ env: root });
    assertEquals(Object.keys(art.saes), ["blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre"], "some symlinked");
    await Deno.symlink(join(store, "gone"), join(root, "saes", "blocks.2.hook_resid_pre"));
    await expectRejects(() => resolveArtifacts({ env: root }), "blocks.2.hook_resid_pre", "broken symlink");
  });
});

/** An embedded-default layout under `root`: embedded/model, embedded/saes/<hook>, manifest.json. */
async function writeEmbedded(root: string): Promise<string> {
  const emb = join(root, "embedded");
  await copyDir(GPT2, join(emb, "model"));
  await copyDir(SAE, join(emb, "saes", "blocks.1.hook_resid_pre"));
  await writeManifest(join(root, "manifest.json"), [
    "embedded/model/config.json",
    "embedded/model/model.safetensors",
    "embedded/saes/blocks.1.hook_resid_pre/cfg.json",
    "embedded/saes/blocks.1.hook_resid_pre/sae_weights.safetensors",
  ]);
  return emb;
}

Deno.test("the embedded default is verified against its manifest when resolved (a flipped byte is caught)", async () => {
  await withTemp("embedded_verify_", async (root) => {
    const emb = await writeEmbedded(root);
    const art = await resolveArtifacts({ env: "", embeddedRoot: emb });
    assertEquals(Object.keys(art.saes), ["blocks.1.hook_resid_pre"]);
    assert(art.trained !== false, "the embedded default is trained");
  });
  await withTemp("embedded_flip_", async (root) => {
    const emb = await writeEmbedded(root);
    const weights = join(emb, "saes", "blocks.1.hook_resid_pre", "sae_weights.safetensors");
    const bytes = await Deno.readFile(weights);
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0x01;
    await Deno.writeFile(weights, bytes);
    const msg = await expectRejects(
      () => resolveArtifacts({ env: "", embeddedRoot: emb }),
      "embedded/saes/blocks.1.hook_resid_pre/sae_weights.safetensors",
      "sha256",
    );
    // once per process: the second call gives the cached verdict
    assertEquals(await expectRejects(() => resolveArtifacts({ env: "", embeddedRoot: emb })), msg);
  });
  await withTemp("embedded_unlisted_", async (root) => {
    const emb = await writeEmbedded(root);
    await copyDir(SAE, join(emb, "saes", "blocks.0.hook_resid_pre"));
    await expectRejects(
      () => resolveArtifacts({ env: "", embeddedRoot: emb }),
      join(emb, "saes", "blocks.0.hook_resid_pre", "cfg.json"),
      "not listed",
    );
  });
  await withTemp("embedded_nomanifest_", async (root) => {
    const emb = await writeEmbedded(root);
    await Deno.remove(join(root, "manifest.json"));
    await expectRejects(() => resolveArtifacts({ env: "", embeddedRoot: emb }), "manifest file not found");
  });
});

Deno.test("malformed or duplicate-key JSON is reported with its file, in loadStudySetup and the resolver", async () => {
  await initBackend();
  await withTemp("strict_json_", async (root) => {
    await copyDir(GPT2, join(root, "model"));
    const sae = join(root, "saes", "blocks.1.hook_resid_pre");
    await copyDir(SAE, sae);
    const cfgText = await Deno.readTextFile(join(sae, "cfg.json"));
    await Deno.writeTextFile(join(sae, "cfg.json"), cfgText.replace(/}\s*$/, ",}"));
    await expectRejects(
      async () => loadStudySetup({ artifacts: await resolveArtifacts({ env: root }) }),
      join(sae, "cfg.json"),
      "invalid JSON",
    );
    await Deno.writeTextFile(join(sae, "cfg.json"), cfgText.replace(/}\s*$/, ', "d_in": 32}'));
    await expectRejects(
      async () => loadStudySetup({ artifacts: await resolveArtifacts({ env: root }) }),
      join(sae, "cfg.json"),
      'duplicate key "d_in"',
    );
    const file = join(root, "artifacts.json");
    await Deno.writeTextFile(file, '{"model": "model", "model": "other"}');
    await expectRejects(() => resolveArtifacts({ env: file }), file, 'duplicate key "model"');
    await Deno.writeTextFile(join(root, "model", "config.json"), "{");
    await expectRejects(() => loadGpt2FromHf(join(root, "model")), join(root, "model", "config.json"), "invalid JSON");
  });
  assertEquals(parseJsonStrict('{"a": [1, 2.5, {"__proto__": 3}]}', "x"), { a: [1, 2.5, { ["__proto__"]: 3 }] });
});

Deno.test('"trained": false in the artefacts JSON surfaces as setup.trained, and anything but a boolean is refused', async () => {
  await initBackend();
  await withTemp("trained_flag_", async (root) => {
    await copyDir(GPT2, join(root, "model"));
    // a compact vocabulary whose last id is <|endoftext|>, so the 512-token fixture model can run study B
    const m2s = [-1, ...Array.from({ length: 510 }, (_, i) => 1000 + i), 50256];
    await Deno.writeTextFile(join(root, "model", "vocab_map.json"), JSON.stringify(new TokenMap(m2s, 0).toJson()));
    await copyDir(SAE, join(root, "saes", "blocks.1.hook_resid_pre"));
    const file = join(root, "artifacts.json");
    await Deno.writeTextFile(file, JSON.stringify({ model: "model", saes: "saes", trained: false }));
    const setup = await loadStudySetup({ artifacts: await resolveArtifacts({ env: file }) });
    try {
      assert(setup.trained === false, "setup.trained is false");
      assert(setup.description.includes("UNTRAINED"), setup.description);
    } finally {
      setup.model.dispose();
    }
    await Deno.writeTextFile(file, JSON.stringify({ model: "model", saes: "saes" }));
    const trained = await loadStudySetup({ artifacts: await resolveArtifacts({ env: file }) });
    trained.model.dispose();
    assert(trained.trained === true, "trained unless the JSON says otherwise");
    await Deno.writeTextFile(file, JSON.stringify({ model: "model", trained: "no" }));
    await expectRejects(() => resolveArtifacts({ env: file }), '"trained"', "true or false", '"no"');
  });
});

Deno.test("guardOrSkip: runs and throws on a trained model, reports SKIPPED (never passed) on an untrained one", () => {
  const lines: string[] = [];
  const report = (l: string) => lines.push(l);
  const failing = () => {
    throw new Error("mean ΔCE is -0.2");
  };
  let threw = false;
  try {
    guardOrSkip(true, "bug guard", failing, { report });
  } catch (e) {
    threw = (e as Error).message.includes("-0.2");
  }
  assert(threw, "a trained model's failed guard throws");
  const skipped = guardOrSkip(false, "bug guard", failing, { report });
  assertEquals(skipped.status, "skipped");
  assert(
    skipped.line.startsWith("SKIPPED (untrained model): bug guard") && skipped.line.includes("-0.2"),
    skipped.line,
  );
  const passing = guardOrSkip(false, "bug guard", () => "all positive", { report });
  assertEquals(passing.status, "skipped", "an untrained model never passes a trained-only check");
  assertEquals(guardOrSkip(true, "bug guard", () => "all positive", { report }).status, "passed");
  assertEquals(lines.length, 3);
});
