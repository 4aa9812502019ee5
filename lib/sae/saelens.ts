/**
 * The SAELens folder format: `cfg.json` + `sae_weights.safetensors` (+ the
 * optional `sparsity.safetensors`), read into and written from this project's
 * {@link Sae} (one instance).
 *
 * Reading accepts the three `cfg.json` generations:
 * - pre-6.0 flat keys with legacy names (`hook_point` → `hook_name`,
 *   `hook_point_head_index` → `hook_head_index`, `activation_fn_str` →
 *   `activation_fn`; boolean `normalize_activations`), as in the 2024
 *   gpt2-small-res-jb files;
 * - 5.x flat keys (`hook_name`, `activation_fn`, …);
 * - 6.x keys with the provenance nested under `metadata`.
 * Missing fields get SAELens's defaults (`apply_b_dec_to_input: true`,
 * `architecture: "standard"`, `activation_fn: "relu"`, `prepend_bos: true`).
 * Architectures: those of `registry.ts` whose spec reads SAELens files, built
 * in: `standard` (ReLU), `topk` (`k`, or legacy
 * `activation_fn: "topk"` with `activation_fn_kwargs.k`) and `jumprelu`
 * (`threshold`, or `log_threshold`). Weights: `W_enc [d_in, d_sae]`,
 * `b_enc [d_sae]`, `W_dec [d_sae, d_in]`, `b_dec [d_in]`; a `scaling_factor
 * [d_sae]` that is all ones is dropped (as SAELens does), any other is folded
 * into the rows of `W_dec` (exact: x̂ = (f ⊙ s)·W_dec + b_dec).
 *
 * Writing produces the SAELens 6 layout (`metadata` nested,
 * `sae_lens_version` 6.0.0 so that SAELens reads it as such); a BatchTopK
 * SAE is written as `jumprelu` with its threshold, which is how it runs at
 * inference.
 *
 * @example
 * ```ts
 * import { loadSaeLens, saveSaeLens } from "./saelens.ts";
 * const { sae } = await loadSaeLens("data/embedded/saes/blocks.0.hook_resid_pre");
 * await saveSaeLens(sae, await Deno.makeTempDir());
 * sae.dispose();
 * ```
 *
 * @module
 */

import { writeJsonAtomic } from "../io/atomic.ts";
import { readSafetensors, toFloat32, writeSafetensors } from "../io/safetensors.ts";
import { assertFiniteTensor, readJsonFile, readWeightsFile, sameShape } from "../io/weights_files.ts";
import { join } from "../path.ts";
import { defaultSaeConfig, type SaeConfig } from "./config.ts";
import { saeArchitecture, saeArchitectureNames } from "./registry.ts";
import { type Sae, saeFromArrays } from "./sae.ts";

/** `cfg.json`. */
export const SAE_CFG_FILE = "cfg.json";
/** `sae_weights.safetensors`. */
export const SAE_WEIGHTS_FILE = "sae_weights.safetensors";
/** `sparsity.safetensors` (log10 feature density, optional). */
export const SAE_SPARSITY_FILE = "sparsity.safetensors";

/** What {@link loadSaeLens} returns. */
export interface LoadedSaeLens {
  /** The SAE (n_inst = 1); the caller disposes it. */
  sae: Sae;
  /** The cfg.json object as read. */
  rawConfig: Record<string, unknown>;
  /** `sparsity.safetensors`'s `sparsity` tensor, if the folder has one. */
  sparsity: Float32Array | null;
  /** True when a non-trivial `scaling_factor` was folded into `W_dec`. */
  foldedScalingFactor: boolean;
}

const LEGACY_RENAMES: Record<string, string> = {
  hook_point: "hook_name",
  hook_point_head_index: "hook_head_index",
  activation_fn_str: "activation_fn",
};

const FLOAT_DTYPES = ["float32", "float64", "float16", "bfloat16"];

/**
 * An {@link SaeConfig} (n_inst = 1) from a SAELens `cfg.json` object of any
 * generation (see the module documentation); `source` names the file in errors.
 *
 * @example
 * ```ts
 * import { saeConfigFromSaeLens } from "./saelens.ts";
 * const cfg = saeConfigFromSaeLens({ d_in: 768, d_sae: 24576, hook_point: "blocks.8.hook_resid_pre" }, "cfg.json");
 * cfg.hook_name; // "blocks.8.hook_resid_pre"
 * ```
 */
export function saeConfigFromSaeLens(json: unknown, source: string): SaeConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new Error(`${source}: expected a JSON object`);
  }
  const raw = json as Record<string, unknown>;
  const meta = raw.metadata;
  if (meta !== undefined && meta !== null && (typeof meta !== "object" || Array.isArray(meta))) {
    throw new Error(`${source}: "metadata" must be an object`);
  }
  // 6.x nests provenance under metadata; earlier versions keep it at the top level.
  const flat: Record<string, unknown> = { ...raw, ...(meta as Record<string, unknown> | undefined) };
  for (const [old, now] of Object.entries(LEGACY_RENAMES)) {
    if (flat[old] !== undefined && flat[now] === undefined) flat[now] = flat[old];
  }
  const int = (key: string): number => {
    const v = flat[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
      throw new Error(`${source}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const str = (key: string, fallback: string): string => {
    const v = flat[key] ?? fallback;
    if (typeof v !== "string") throw new Error(`${source}: "${key}" must be a string, got ${JSON.stringify(v)}`);
    return v;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const v = flat[key] ?? fallback;
    if (typeof v !== "boolean") throw new Error(`${source}: "${key}" must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  const d_in = int("d_in");
  const d_sae = int("d_sae");
  const hook_name = str("hook_name", "");
  if (hook_name === "") throw new Error(`${source}: no "hook_name" (or legacy "hook_point")`);
  if (flat.hook_head_index !== undefined && flat.hook_head_index !== null) {
    throw new Error(`${source}: per-head SAEs (hook_head_index ${flat.hook_head_index}) are not supported`);
  }
  const reshape = flat.reshape_activations ?? "none";
  if (reshape !== "none") {
    throw new Error(`${source}: "reshape_activations" ${JSON.stringify(reshape)} is not supported (only "none")`);
  }
  const norm = flat.normalize_activations ?? "none";
  if (norm !== "none" && norm !== false && norm !== null) {
    throw new Error(`${source}: "normalize_activations" ${JSON.stringify(norm)} is not supported (only "none")`);
  }
  const dtype = str("dtype", "float32").replace(/^torch\./, "");
  if (!FLOAT_DTYPES.includes(dtype)) {
    throw new Error(`${source}: "dtype" must be one of ${FLOAT_DTYPES.join(", ")}, got ${JSON.stringify(flat.dtype)}`);
  }
  // legacy files: `activation_fn: "topk"` with `activation_fn_kwargs.k` stands for architecture "topk"
  const act = str("activation_fn", "relu");
  let architectureName = str("architecture", act === "topk" ? "topk" : "standard");
  const kwargs = flat.activation_fn_kwargs as Record<string, unknown> | undefined;
  if (act === "topk" && kwargs?.k !== undefined) {
    architectureName = "topk";
    flat.k = kwargs.k;
  } else if (act !== "relu" && act !== "topk") {
    throw new Error(`${source}: "activation_fn" ${JSON.stringify(act)} is not supported (relu or topk)`);
  }
  const readable = saeArchitectureNames().map(saeArchitecture).filter((a) => a.saeLens.reads);
  const arch = readable.find((a) => a.saeLens.name === architectureName);
  if (arch === undefined) {
    throw new Error(
      `${source}: "architecture" ${JSON.stringify(architectureName)} is not supported (${
        readable.map((a) => a.saeLens.name).join(", ")
      })`,
    );
  }
  return defaultSaeConfig({
    d_in,
    d_sae,
    n_inst: 1,
    architecture: arch.name,
    ...arch.saeLens.read(flat, source, d_sae),
    apply_b_dec_to_input: bool("apply_b_dec_to_input", true),
    hook_name,
    context_size: typeof flat.context_size === "number" ? flat.context_size : 0,
    model_name: str("model_name", ""),
    prepend_bos: bool("prepend_bos", true),
    dataset_path: str("dataset_path", ""),
    normalize_activations: "none",
    dtype: "float32",
  });
}

/**
 * Loads an SAELens folder into an {@link Sae} (n_inst = 1).
 *
 * Fast and lean: F32 tensors are used as views into the file's bytes (no
 * host copy), so the load costs the file's bytes plus the backend's own copy
 * (`bench/load_rows.ts` measures both).
 *
 * @throws {Error} naming the file and key for a missing file, invalid JSON,
 * unsupported config, missing or unexpected tensor, a tensor of the wrong
 * shape, or a non-finite weight
 */
export async function loadSaeLens(dir: string): Promise<LoadedSaeLens> {
  const cfgPath = join(dir, SAE_CFG_FILE);
  const weightsPath = join(dir, SAE_WEIGHTS_FILE);
  const rawConfig = await readJsonFile(cfgPath) as Record<string, unknown>;
  const cfg = saeConfigFromSaeLens(rawConfig, cfgPath);
  const flat = { ...rawConfig, ...(rawConfig.metadata as Record<string, unknown> | undefined) };
  const { tensors } = await readWeightsFile(weightsPath);
  const { d_in, d_sae } = cfg;
  const expected: Record<string, number[]> = {
    W_enc: [d_in, d_sae],
    b_enc: [d_sae],
    W_dec: [d_sae, d_in],
    b_dec: [d_in],
  };
  if (saeArchitecture(cfg.architecture).threshold) {
    expected[tensors.has("log_threshold") && !tensors.has("threshold") ? "log_threshold" : "threshold"] = [d_sae];
  }
  const arrays: Record<string, { data: Float32Array; shape: number[] }> = {};
  for (const [name, shape] of Object.entries(expected)) {
    const t = tensors.get(name);
    if (t === undefined) {
      throw new Error(`${weightsPath}: missing tensor "${name}" [${shape}] (${cfg.architecture} SAE, ${cfgPath})`);
    }
    if (!sameShape(t.shape, shape)) {
      throw new Error(
        `${weightsPath}: tensor "${name}" has shape [${t.shape}], expected [${shape}] (d_in ${d_in}, d_sae ${d_sae} from ${cfgPath})`,
      );
    }
    const data = toFloat32(t); // a zero-copy view into the file's bytes for F32 tensors
    assertFiniteTensor(data, shape, weightsPath, name);
    arrays[name] = { data, shape };
  }
  let foldedScalingFactor = false;
  const scale = tensors.get("scaling_factor");
  if (scale !== undefined) {
    if (!sameShape(scale.shape, [d_sae])) {
      throw new Error(`${weightsPath}: tensor "scaling_factor" has shape [${scale.shape}], expected [${d_sae}]`);
    }
    const s = toFloat32(scale);
    assertFiniteTensor(s, [d_sae], weightsPath, "scaling_factor");
    if (s.some((v) => v !== 1)) {
      if (flat.finetuning_scaling_factor !== true) {
        throw new Error(
          `${weightsPath}: "scaling_factor" is not all ones but ${cfgPath} does not set finetuning_scaling_factor`,
        );
      }
      const w = new Float32Array(arrays.W_dec!.data);
      for (let j = 0; j < d_sae; j++) {
        for (let i = 0; i < d_in; i++) w[j * d_in + i] = (w[j * d_in + i] as number) * (s[j] as number);
      }
      arrays.W_dec = { data: w, shape: [d_sae, d_in] };
      foldedScalingFactor = true;
    }
  }
  const unexpected = [...tensors.keys()].filter((k) => !(k in expected) && k !== "scaling_factor");
  if (unexpected.length > 0) {
    throw new Error(`${weightsPath}: unexpected tensor(s) for a ${cfg.architecture} SAE: ${unexpected.join(", ")}`);
  }
  let sparsity: Float32Array | null = null;
  const sparsityPath = join(dir, SAE_SPARSITY_FILE);
  try {
    await Deno.stat(sparsityPath);
    const t = (await readSafetensors(sparsityPath)).tensors.get("sparsity");
    if (t === undefined || !sameShape(t.shape, [d_sae])) {
      throw new Error(`${sparsityPath}: expected a tensor "sparsity" of shape [${d_sae}]`);
    }
    sparsity = new Float32Array(toFloat32(t));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return { sae: saeFromArrays(cfg, arrays), rawConfig, sparsity, foldedScalingFactor };
}

/** Options of {@link saveSaeLens}. */
export interface SaeLensSaveOptions {
  /** Which instance of a multi-instance SAE to write (default 0; required to be valid when n_inst > 1). */
  instance?: number;
  /** Written as `sparsity.safetensors` (log10 feature density, length d_sae). */
  sparsity?: Float32Array;
  /** Extra `metadata` entries (e.g. `model_from_pretrained_kwargs: { center_writing_weights: true }`). */
  metadata?: Record<string, unknown>;
}

/**
 * Writes one instance of an SAE as an SAELens 6 folder (cfg.json,
 * sae_weights.safetensors, optional sparsity.safetensors); files are written atomically.
 */
export async function saveSaeLens(sae: Sae, dir: string, opts: SaeLensSaveOptions = {}): Promise<void> {
  const { cfg } = sae;
  const inst = opts.instance ?? 0;
  if (!Number.isInteger(inst) || inst < 0 || inst >= cfg.n_inst) {
    throw new Error(`saveSaeLens: instance must be an integer in [0, ${cfg.n_inst}), got ${inst}`);
  }
  if (opts.sparsity !== undefined && opts.sparsity.length !== cfg.d_sae) {
    throw new Error(`saveSaeLens: sparsity has ${opts.sparsity.length} values, expected d_sae = ${cfg.d_sae}`);
  }
  const arrays = sae.toArrays();
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, a] of Object.entries(arrays)) {
    const inner = a.shape.slice(1);
    const size = inner.reduce((p, v) => p * v, 1);
    tensors[name] = { shape: inner, data: a.data.slice(inst * size, (inst + 1) * size) };
  }
  const arch = saeArchitecture(cfg.architecture);
  const json: Record<string, unknown> = {
    d_in: cfg.d_in,
    d_sae: cfg.d_sae,
    dtype: "float32",
    device: "cpu",
    apply_b_dec_to_input: cfg.apply_b_dec_to_input,
    normalize_activations: "none",
    reshape_activations: "none",
    metadata: {
      sae_lens_version: "6.0.0",
      sae_lens_training_version: null,
      model_name: cfg.model_name,
      hook_name: cfg.hook_name,
      hook_head_index: null,
      context_size: cfg.context_size,
      prepend_bos: cfg.prepend_bos,
      dataset_path: cfg.dataset_path,
      ...opts.metadata,
    },
    architecture: arch.saeLens.name,
    ...arch.saeLens.write(cfg),
  };
  await Deno.mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, SAE_WEIGHTS_FILE), tensors);
  await writeJsonAtomic(join(dir, SAE_CFG_FILE), json);
  if (opts.sparsity) {
    await writeSafetensors(join(dir, SAE_SPARSITY_FILE), { sparsity: { shape: [cfg.d_sae], data: opts.sparsity } });
  }
}
