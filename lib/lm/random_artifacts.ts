/**
 * Random, untrained study-B artefacts in the real files' layouts, for the
 * real-shape smoke test (`scripts/real_shape_smoke.ts`) and the loading and
 * sweep benchmarks (`bench/load_rows.ts`, `bench/sweep_row.ts`):
 *
 * - a GPT-2 in the Hugging Face hub layout of `gpt2` (`config.json` as the hub
 *   has it, `model.safetensors` with un-prefixed keys, F32, Conv1D `[in, out]`
 *   weights and the `h.{L}.attn.bias` causal-mask buffers `[1, 1, n_ctx, n_ctx]`);
 *   gpt2-small's shape (12 layers, d_model 768, 12 heads, n_ctx 1024, 50,257
 *   tokens) unless a smaller `n_layer` is asked for;
 * - SAELens folders with the legacy 2024 `cfg.json` keys of `gpt2-small-res-jb`
 *   (`hook_point`, `hook_point_layer`, `hook_point_head_index`, `dtype`
 *   "torch.float32", `expansion_factor`, the training settings; no `architecture`
 *   or `activation_fn`, so the defaults apply) at d_sae 24,576;
 *   the SAEs may share one weights file through symlinks, so 13 of them cost
 *   151 MB of disk rather than 2 GB;
 * - an `SAE_ARTIFACTS` JSON file naming them, with `"trained": false`.
 *
 * Weights are uniform random with GPT-2's initial standard deviation (0.02;
 * layer norms 1 and 0), so forward passes are finite but the model predicts
 * nothing: checks that need a trained model are skipped on it
 * (`lib/study_b/guards.ts`).
 *
 * @example
 * ```ts
 * import { writeRandomStudyArtifacts } from "./random_artifacts.ts";
 * const root = await Deno.makeTempDir({ prefix: "random_artifacts_" });
 * // a tiny shape (the real-shape smoke test keeps gpt2-small's widths): 1 layer, d_model 16, one SAE of 32 latents
 * const art = await writeRandomStudyArtifacts(root, {
 *   nLayer: 1,
 *   model: { d_model: 16, n_head: 2, n_ctx: 32, d_mlp: 64 },
 *   hooks: ["blocks.0.hook_resid_pre"],
 *   dSae: 32,
 * });
 * // SAE_ARTIFACTS=art.artifactsJson deno run -A …
 * console.log(art.cfg.d_model, Object.keys(art.saeDirs)); // 16 ["blocks.0.hook_resid_pre"]
 * await Deno.remove(root, { recursive: true });
 * ```
 *
 * @module
 */

import { Rng } from "../engine/rng.ts";
import { writeJsonAtomic } from "../io/atomic.ts";
import { writeSafetensors } from "../io/safetensors.ts";
import { join } from "../path.ts";
import { type Gpt2Config, gpt2ParamShapes } from "./config.ts";
import { hfConfigJson } from "./hf_loader.ts";

/** gpt2-small's shape. */
export const GPT2_SMALL: Gpt2Config = {
  n_layer: 12,
  n_head: 12,
  d_model: 768,
  n_ctx: 1024,
  d_vocab: 50257,
  d_mlp: 3072,
  layer_norm_epsilon: 1e-5,
};

/** d_sae of the gpt2-small-res-jb SAEs (32 × 768). */
export const RES_JB_D_SAE = 24576;

/** The 13 hooks of gpt2-small-res-jb: `blocks.0–11.hook_resid_pre` and `blocks.11.hook_resid_post`. */
export function resJbHooks(nLayer = 12): string[] {
  return [
    ...Array.from({ length: nLayer }, (_, l) => `blocks.${l}.hook_resid_pre`),
    `blocks.${nLayer - 1}.hook_resid_post`,
  ];
}

/** The hub's `gpt2` `config.json` (transformers 4.x keys), for a config of gpt2's family. */
export function hubGpt2ConfigJson(cfg: Gpt2Config): Record<string, unknown> {
  return {
    ...hfConfigJson(cfg, 50256),
    summary_activation: null,
    summary_first_dropout: 0.1,
    summary_proj_to_labels: true,
    summary_type: "cls_index",
    summary_use_proj: true,
    task_specific_params: { "text-generation": { do_sample: true, max_length: 50 } },
  };
}

function fillU(rng: Rng, n: number, std: number): Float32Array {
  const a = std * Math.sqrt(3); // U[-a, a] has standard deviation a / √3
  return rng.fillUniform(new Float32Array(n), -a, a);
}

/**
 * Writes a random GPT-2 of shape `cfg` to `dir` in the hub's layout
 * (`config.json`, `model.safetensors`); returns the weights file's size in bytes.
 */
export async function writeRandomGpt2Hf(dir: string, cfg: Gpt2Config, seed = 0): Promise<number> {
  const rng = new Rng(seed, "random_artifacts/gpt2");
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape] of gpt2ParamShapes(cfg)) {
    const n = shape.reduce((p, v) => p * v, 1);
    let data: Float32Array;
    if (/ln_[12f]\.weight$/.test(name)) data = new Float32Array(n).fill(1);
    else if (name.endsWith(".bias")) data = new Float32Array(n);
    else data = fillU(rng, n, 0.02);
    tensors.set(name, { shape, data });
    const m = /^h\.(\d+)\.ln_1\.weight$/.exec(name);
    if (m) {
      // the causal-mask buffer the hub's file carries for every layer (loaders ignore it)
      const T = cfg.n_ctx;
      const mask = new Float32Array(T * T);
      for (let i = 0; i < T; i++) mask.fill(1, i * T, i * T + i + 1);
      tensors.set(`h.${m[1]}.attn.bias`, { shape: [1, 1, T, T], data: mask });
    }
  }
  await Deno.mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
  await writeJsonAtomic(join(dir, "config.json"), hubGpt2ConfigJson(cfg));
  return (await Deno.stat(join(dir, "model.safetensors"))).size;
}

/** A `cfg.json` with the legacy 2024 keys of gpt2-small-res-jb (pre-SAELens-1.0 training config). */
export function legacyResJbCfg(hook: string, dIn = 768, dSae = RES_JB_D_SAE): Record<string, unknown> {
  const layer = Number(/^blocks\.(\d+)\./.exec(hook)?.[1] ?? 0);
  return {
    model_name: "gpt2-small",
    hook_point: hook,
    hook_point_layer: layer,
    hook_point_head_index: null,
    dataset_path: "Skylion007/openwebtext",
    is_dataset_tokenized: false,
    context_size: 128,
    use_cached_activations: false,
    cached_activations_path: `activations/Skylion007_openwebtext/gpt2-small/${hook}`,
    d_in: dIn,
    n_batches_in_buffer: 128,
    total_training_tokens: 300_000_000,
    store_batch_size: 32,
    device: "mps",
    seed: 42,
    dtype: "torch.float32",
    b_dec_init_method: "geometric_median",
    expansion_factor: dSae / dIn,
    from_pretrained_path: null,
    l1_coefficient: 8e-5,
    lr: 4e-4,
    lr_scheduler_name: null,
    lr_warm_up_steps: 5000,
    train_batch_size: 4096,
    use_ghost_grads: false,
    feature_sampling_window: 1000,
    dead_feature_window: 5000,
    dead_feature_threshold: 1e-8,
    log_to_wandb: true,
    wandb_project: "mats_sae_training_gpt2_small_resid_pre_5",
    wandb_entity: null,
    wandb_log_frequency: 100,
    n_checkpoints: 10,
    checkpoint_path: "checkpoints/random",
    d_sae: dSae,
    tokens_per_buffer: 67_108_864,
    run_name: `${dSae}-L1-8e-05-LR-0.0004-Tokens-3.000e+08`,
  };
}

/**
 * Writes a random SAE's `sae_weights.safetensors` (`W_enc [d_in, d_sae]`,
 * `b_enc`, `W_dec [d_sae, d_in]` with unit rows, `b_dec`); returns its size in bytes.
 */
export async function writeRandomSaeWeights(path: string, dIn: number, dSae: number, seed = 0): Promise<number> {
  const rng = new Rng(seed, "random_artifacts/sae");
  const W_dec = fillU(rng, dSae * dIn, 1 / Math.sqrt(dIn)); // rows of norm ≈ 1
  const W_enc = new Float32Array(dIn * dSae);
  for (let j = 0; j < dSae; j++) {
    for (let i = 0; i < dIn; i++) W_enc[i * dSae + j] = W_dec[j * dIn + i] as number; // tied initialisation
  }
  await writeSafetensors(path, {
    W_enc: { shape: [dIn, dSae], data: W_enc },
    b_enc: { shape: [dSae], data: new Float32Array(dSae).fill(-0.05) },
    W_dec: { shape: [dSae, dIn], data: W_dec },
    b_dec: { shape: [dIn], data: new Float32Array(dIn) },
  });
  return (await Deno.stat(path)).size;
}

/** Options of {@link writeRandomStudyArtifacts}. */
export interface RandomArtifactsOptions {
  /** Layers of the model (default 12; gpt2-small's other dimensions are kept unless `model` overrides them). */
  nLayer: number;
  /** Overrides of gpt2-small's other dimensions, for tiny test files (default none: gpt2-small's widths). */
  model: Partial<Omit<Gpt2Config, "n_layer">>;
  /** SAE hooks (default all 13 of gpt2-small-res-jb for the layer count). */
  hooks: string[];
  /** d_sae (default 24,576). */
  dSae: number;
  /** One weights file for every SAE, each folder's `sae_weights.safetensors` a symlink to it (default true). */
  shareWeights: boolean;
  /** Seed of the weights. */
  seed: number;
}

/** What {@link writeRandomStudyArtifacts} wrote. */
export interface RandomArtifacts {
  root: string;
  /** The JSON file to point `SAE_ARTIFACTS` at (`"trained": false`). */
  artifactsJson: string;
  modelDir: string;
  saeDirs: Record<string, string>;
  modelBytes: number;
  /** Bytes of one SAE weights file. */
  saeBytes: number;
  cfg: Gpt2Config;
}

/**
 * Writes a random model, random SAELens folders and an artefacts JSON under
 * `root` (created; existing files there are overwritten).
 */
export async function writeRandomStudyArtifacts(
  root: string,
  options: Partial<RandomArtifactsOptions> = {},
): Promise<RandomArtifacts> {
  const nLayer = options.nLayer ?? 12;
  const opts: RandomArtifactsOptions = {
    nLayer,
    model: {},
    hooks: resJbHooks(nLayer),
    dSae: RES_JB_D_SAE,
    shareWeights: true,
    seed: 0,
    ...options,
  };
  const cfg: Gpt2Config = { ...GPT2_SMALL, ...opts.model, n_layer: opts.nLayer };
  const modelDir = join(root, "gpt2");
  const modelBytes = await writeRandomGpt2Hf(modelDir, cfg, opts.seed);
  const saeRoot = join(root, "gpt2-small-res-jb");
  const shared = join(root, "shared_sae_weights.safetensors");
  let saeBytes = 0;
  if (opts.shareWeights) saeBytes = await writeRandomSaeWeights(shared, cfg.d_model, opts.dSae, opts.seed);
  const saeDirs: Record<string, string> = {};
  for (const [i, hook] of opts.hooks.entries()) {
    const dir = join(saeRoot, hook);
    await Deno.mkdir(dir, { recursive: true });
    await writeJsonAtomic(join(dir, "cfg.json"), legacyResJbCfg(hook, cfg.d_model, opts.dSae));
    const weights = join(dir, "sae_weights.safetensors");
    await Deno.remove(weights).catch(() => {});
    if (opts.shareWeights) await Deno.symlink(shared, weights);
    else saeBytes = await writeRandomSaeWeights(weights, cfg.d_model, opts.dSae, opts.seed + 1 + i);
    saeDirs[hook] = dir;
  }
  const artifactsJson = join(root, "artifacts.json");
  await writeJsonAtomic(artifactsJson, { model: "gpt2", saes: "gpt2-small-res-jb", trained: false });
  return { root, artifactsJson, modelDir, saeDirs, modelBytes, saeBytes, cfg };
}
