// The study-B artefact resolver: SAE_ARTIFACTS as a folder or a JSON file, the embedded default, clear errors.

import { writeManifest } from "../lib/io/manifest.ts";
import { resolveArtifacts } from "../lib/lm/artifacts.ts";
import { fromFileUrl, join } from "../lib/path.ts";

const GPT2 = fromFileUrl(new URL("./fixtures/gpt2_tiny/", import.meta.url));
const SAES = fromFileUrl(new URL("./fixtures/sae_tiny/", import.meta.url));

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

async function expectRejects(fn: () => Promise<unknown>, ...phrases: string[]): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const msg = (e as Error).message;
    for (const p of phrases) assert(msg.includes(p), `message ${JSON.stringify(msg)} mentions ${JSON.stringify(p)}`);
    return;
  }
  throw new Error(`expected an error mentioning ${phrases.join(", ")}`);
}

async function copyDir(src: string, dst: string): Promise<void> {
  await Deno.mkdir(dst, { recursive: true });
  for await (const e of Deno.readDir(src)) {
    if (e.isFile) await Deno.copyFile(join(src, e.name), join(dst, e.name));
  }
}

Deno.test("SAE_ARTIFACTS as a folder: model, SAE folders by name and optional data sets", async () => {
  const root = await Deno.makeTempDir({ prefix: "artifacts_test_" });
  try {
    await copyDir(GPT2, join(root, "model"));
    await copyDir(join(SAES, "legacy_standard"), join(root, "saes", "blocks.1.hook_resid_pre"));
    await Deno.mkdir(join(root, "lambada"));
    await Deno.writeTextFile(join(root, "lambada", "lambada_test.jsonl"), '{"text": "a b"}\n');
    const art = await resolveArtifacts({ env: root });
    assert(art.source === "SAE_ARTIFACTS" && art.model === join(root, "model"), "model folder");
    assert(Object.keys(art.saes).join() === "blocks.1.hook_resid_pre", "SAE folders listed by name");
    assert(art.lambada === join(root, "lambada", "lambada_test.jsonl") && art.cbt === null, "optional data sets");
    await Deno.remove(join(root, "model", "model.safetensors"));
    await expectRejects(() => resolveArtifacts({ env: root }), "SAE_ARTIFACTS=", "model.safetensors not found");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("SAE_ARTIFACTS as a JSON file resolves relative paths against the file's folder", async () => {
  const root = await Deno.makeTempDir({ prefix: "artifacts_json_" });
  try {
    const file = join(root, "artifacts.json");
    await Deno.writeTextFile(
      file,
      JSON.stringify({ model: GPT2, saes: { "blocks.1.hook_resid_pre": join(SAES, "v6_topk") } }),
    );
    const art = await resolveArtifacts({ env: file });
    assert(art.saes["blocks.1.hook_resid_pre"] === join(SAES, "v6_topk"), "explicit SAE map");
    await Deno.writeTextFile(file, JSON.stringify({ model: "gpt2", saes: "." }));
    await expectRejects(() => resolveArtifacts({ env: file }), join(root, "gpt2", "config.json"), "not found");
    await Deno.writeTextFile(file, JSON.stringify({ model: GPT2, lambada: "missing.jsonl" }));
    await expectRejects(() => resolveArtifacts({ env: file }), '"lambada" path', "missing.jsonl");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("without SAE_ARTIFACTS the embedded default is used, and its absence is a clear error", async () => {
  const top = await Deno.makeTempDir({ prefix: "artifacts_embedded_" });
  const root = join(top, "embedded"); // its manifest is top/manifest.json
  await Deno.mkdir(root);
  try {
    await expectRejects(
      () => resolveArtifacts({ env: "", embeddedRoot: root }),
      "SAE_ARTIFACTS is not set",
      `${root}/model/ is missing`,
      "data/README.md",
    );
    await copyDir(GPT2, join(root, "model"));
    await writeManifest(join(top, "manifest.json"), ["embedded/model/config.json", "embedded/model/model.safetensors"]);
    const art = await resolveArtifacts({ env: "", embeddedRoot: root });
    assert(art.source === "embedded" && Object.keys(art.saes).length === 0, "embedded model, no SAEs yet");
    await expectRejects(() => resolveArtifacts({ env: join(root, "nope") }), "no such file or folder");
  } finally {
    await Deno.remove(top, { recursive: true });
  }
});
