/**
 * Loads and writes GPT-2 checkpoints in the Hugging Face layout: a folder with
 * `config.json` (GPT2Config) and `model.safetensors`, plus, for a model with a
 * compact vocabulary, `vocab_map.json` (see `token_map.ts`).
 *
 * The reader accepts keys with or without the `transformer.` prefix (the hub's
 * `gpt2` has none; `GPT2LMHeadModel.save_pretrained` adds it), Conv1D weights
 * `[in, out]`, and ignores the `attn.bias` / `attn.masked_bias` buffers. A
 * `lm_head.weight` is accepted when it equals the tied `wte.weight`. Every
 * problem throws an Error naming the file, the key, and the expected and
 * actual shapes.
 *
 * `centerWritingWeights: true` reproduces TransformerLens's
 * `center_writing_weights`: the d_model mean is removed from `wte`, `wpe` and
 * each attention and MLP `c_proj` weight and bias along the output axis, so
 * every residual activation equals the Hugging Face one minus its mean over
 * d_model — the stream the gpt2-small-res-jb SAEs were trained on. Logits are
 * unchanged (see `Gpt2.embedRowMean`).
 *
 * @example
 * ```ts
 * import { loadGpt2FromHf, saveGpt2ToHf } from "./hf_loader.ts";
 * // the project's embedded model (a compact vocabulary: tokenMap is its vocab_map.json)
 * const { model, tokenMap } = await loadGpt2FromHf("data/embedded/model", { centerWritingWeights: true });
 * await saveGpt2ToHf(model, await Deno.makeTempDir(), { tokenMap: tokenMap ?? undefined });
 * ```
 *
 * @module
 */

import { type SafeTensor, toFloat32, writeSafetensors } from "../io/safetensors.ts";
import { assertFiniteTensor, fileExists, readJsonFile, readWeightsFile, sameShape } from "../io/weights_files.ts";
import { writeJsonAtomic } from "../io/atomic.ts";
import { join } from "../path.ts";
import { type Gpt2Config, gpt2ParamShapes, validateGpt2Config } from "./config.ts";
import { Gpt2 } from "./gpt2.ts";
import { TokenMap } from "./token_map.ts";

/** File names inside a checkpoint folder. */
export const HF_CONFIG_FILE = "config.json";
/** Weights file name. */
export const HF_WEIGHTS_FILE = "model.safetensors";
/** Compact-vocabulary map file name (optional). */
export const VOCAB_MAP_FILE = "vocab_map.json";

/** Options of {@link loadGpt2FromHf}. */
export interface HfLoadOptions {
  /** Apply TransformerLens's `center_writing_weights` (default false). */
  centerWritingWeights?: boolean;
  /** Parameters as trainable variables (default true). */
  trainable?: boolean;
}

/** Paths of a checkpoint's files, for checkpoints not laid out as one folder. */
export interface HfPaths {
  config: string;
  weights: string;
  /** `vocab_map.json`, if the model has a compact vocabulary. */
  vocabMap?: string;
}

/** A loaded checkpoint. */
export interface LoadedGpt2 {
  model: Gpt2;
  /** The compact-vocabulary map, or null for the full GPT-2 vocabulary. */
  tokenMap: TokenMap | null;
  /** The files read. */
  paths: HfPaths;
}

/**
 * A {@link Gpt2Config} from a Hugging Face GPT2Config object (`n_layer`,
 * `n_head`, `n_embd`, `n_positions` or `n_ctx`, `vocab_size`, `n_inner`,
 * `layer_norm_epsilon`, `activation_function`); `source` names the file in errors.
 *
 * @example
 * ```ts
 * import { gpt2ConfigFromHf } from "./hf_loader.ts";
 * gpt2ConfigFromHf({ n_layer: 12, n_head: 12, n_embd: 768, n_positions: 1024, vocab_size: 50257 }, "config.json");
 * ```
 */
export function gpt2ConfigFromHf(json: unknown, source: string): Gpt2Config {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new Error(`${source}: expected a JSON object`);
  }
  const o = json as Record<string, unknown>;
  const int = (key: string, fallback?: string): number => {
    const v = o[key] ?? (fallback === undefined ? undefined : o[fallback]);
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
      throw new Error(`${source}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  if (o.model_type !== undefined && o.model_type !== "gpt2") {
    throw new Error(`${source}: "model_type" must be "gpt2", got ${JSON.stringify(o.model_type)}`);
  }
  const act = o.activation_function ?? "gelu_new";
  if (act !== "gelu_new" && act !== "gelu_pytorch_tanh") {
    throw new Error(`${source}: "activation_function" must be "gelu_new" (tanh GELU), got ${JSON.stringify(act)}`);
  }
  if (o.tie_word_embeddings === false) {
    throw new Error(`${source}: "tie_word_embeddings" is false; only tied unembeddings are supported`);
  }
  const d_model = int("n_embd");
  const eps = o.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== "number" || !(eps > 0)) {
    throw new Error(`${source}: "layer_norm_epsilon" must be a positive number, got ${JSON.stringify(eps)}`);
  }
  const cfg: Gpt2Config = {
    n_layer: int("n_layer"),
    n_head: int("n_head"),
    d_model,
    n_ctx: int("n_positions", "n_ctx"),
    d_vocab: int("vocab_size"),
    d_mlp: o.n_inner === null || o.n_inner === undefined ? 4 * d_model : int("n_inner"),
    layer_norm_epsilon: eps,
  };
  validateGpt2Config(cfg, source);
  return cfg;
}

/**
 * The Hugging Face `config.json` object for a config (GPT2LMHeadModel, tied,
 * gelu_new); `bosTokenId` defaults to the last id (50256 for GPT-2).
 */
export function hfConfigJson(cfg: Gpt2Config, bosTokenId = cfg.d_vocab - 1): Record<string, unknown> {
  return {
    activation_function: "gelu_new",
    architectures: ["GPT2LMHeadModel"],
    attn_pdrop: 0.1,
    bos_token_id: bosTokenId,
    embd_pdrop: 0.1,
    eos_token_id: bosTokenId,
    initializer_range: 0.02,
    layer_norm_epsilon: cfg.layer_norm_epsilon,
    model_type: "gpt2",
    n_ctx: cfg.n_ctx,
    n_embd: cfg.d_model,
    n_head: cfg.n_head,
    n_inner: cfg.d_mlp === 4 * cfg.d_model ? null : cfg.d_mlp,
    n_layer: cfg.n_layer,
    n_positions: cfg.n_ctx,
    resid_pdrop: 0.1,
    tie_word_embeddings: true,
    torch_dtype: "float32",
    vocab_size: cfg.d_vocab,
  };
}

const BUFFER_KEY = /^h\.\d+\.attn\.(bias|masked_bias)$/;

/**
 * Float32 parameter arrays keyed by Hugging Face name (no prefix) from a
 * weights file's tensors; checks every shape against `cfg`.
 *
 * @throws {Error} naming `source`, the key, and the expected and actual shapes,
 * or the first non-finite value
 */
export function gpt2ArraysFromTensors(
  tensors: ReadonlyMap<string, SafeTensor>,
  cfg: Gpt2Config,
  source: string,
): Map<string, Float32Array> {
  const prefix = tensors.has("transformer.wte.weight") ? "transformer." : "";
  const expected = gpt2ParamShapes(cfg);
  const out = new Map<string, Float32Array>();
  const missing: string[] = [];
  for (const [name, shape] of expected) {
    const t = tensors.get(prefix + name);
    if (t === undefined) {
      missing.push(`${prefix + name} [${shape}]`);
      continue;
    }
    if (!sameShape(t.shape, shape)) {
      throw new Error(`${source}: tensor "${prefix + name}" has shape [${t.shape}], expected [${shape}]`);
    }
    if (!["F32", "F16", "BF16", "F64"].includes(t.dtype)) {
      throw new Error(`${source}: tensor "${prefix + name}" has dtype ${t.dtype}, expected a float type (F32)`);
    }
    const data = toFloat32(t); // a zero-copy view into the file's bytes for F32 tensors
    assertFiniteTensor(data, shape, source, prefix + name);
    out.set(name, data);
  }
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).join(", ") + (missing.length > 5 ? `, … (${missing.length} in all)` : "");
    throw new Error(`${source}: missing tensor(s) for a ${cfg.n_layer}-layer GPT-2: ${shown}`);
  }
  const unexpected: string[] = [];
  for (const key of tensors.keys()) {
    const name = key.startsWith(prefix) ? key.slice(prefix.length) : key;
    if (expected.has(name) && key === prefix + name) continue;
    if (BUFFER_KEY.test(name) && key === prefix + name) continue;
    if (key === "lm_head.weight") {
      checkTiedHead(tensors.get(key) as SafeTensor, out.get("wte.weight") as Float32Array, cfg, source);
      continue;
    }
    unexpected.push(key);
  }
  if (unexpected.length > 0) {
    throw new Error(
      `${source}: unexpected tensor(s) for a ${cfg.n_layer}-layer GPT-2 (does config.json match?): ` +
        unexpected.slice(0, 5).join(", ") + (unexpected.length > 5 ? `, … (${unexpected.length} in all)` : ""),
    );
  }
  return out;
}

function checkTiedHead(head: SafeTensor, wte: Float32Array, cfg: Gpt2Config, source: string): void {
  const shape = [cfg.d_vocab, cfg.d_model];
  if (!sameShape(head.shape, shape)) {
    throw new Error(`${source}: tensor "lm_head.weight" has shape [${head.shape}], expected [${shape}]`);
  }
  const values = toFloat32(head);
  for (let i = 0; i < values.length; i++) {
    if (values[i] !== wte[i]) {
      throw new Error(`${source}: "lm_head.weight" differs from "wte.weight"; only tied unembeddings are supported`);
    }
  }
}

/**
 * TransformerLens's `center_writing_weights` on Hugging Face arrays: returns
 * new arrays for `wte`, `wpe` and every `c_proj` weight and bias with the mean
 * over the output (d_model) axis removed (others shared with the input), and
 * the removed row means of `wte` for the tied unembedding. Inputs are not
 * modified unless `inPlace` is set (the loader sets it: its arrays are views
 * into a file buffer nobody else holds, and centring in place saves a copy of
 * `wte`, 154 MB for gpt2-small).
 *
 * @example
 * ```ts
 * import { defaultGpt2Config } from "./config.ts";
 * import { initGpt2Arrays } from "./gpt2.ts";
 * import { centerWritingWeights } from "./hf_loader.ts";
 * const cfg = defaultGpt2Config({ n_layer: 1, d_model: 8, n_head: 2, n_ctx: 4, d_vocab: 10 });
 * const { arrays, embedRowMean } = centerWritingWeights(initGpt2Arrays(cfg, 0), cfg);
 * ```
 */
export function centerWritingWeights(
  arrays: ReadonlyMap<string, Float32Array>,
  cfg: Gpt2Config,
  opts: { inPlace?: boolean } = {},
): { arrays: Map<string, Float32Array>; embedRowMean: Float32Array } {
  const out = new Map(arrays);
  const d = cfg.d_model;
  const centre = (name: string, rowMeans?: Float32Array) => {
    const src = arrays.get(name);
    if (src === undefined) throw new Error(`centerWritingWeights: missing "${name}"`);
    if (src.length % d !== 0) throw new Error(`centerWritingWeights: "${name}" is not a multiple of d_model=${d}`);
    const dst = opts.inPlace ? src : new Float32Array(src.length);
    for (let r = 0; r < src.length / d; r++) {
      let sum = 0;
      for (let j = 0; j < d; j++) sum += src[r * d + j] as number;
      const mean = sum / d;
      if (rowMeans) rowMeans[r] = mean;
      for (let j = 0; j < d; j++) dst[r * d + j] = (src[r * d + j] as number) - mean;
    }
    out.set(name, dst);
  };
  const embedRowMean = new Float32Array(cfg.d_vocab);
  centre("wte.weight", embedRowMean);
  centre("wpe.weight");
  for (let l = 0; l < cfg.n_layer; l++) {
    for (const mod of ["attn.c_proj", "mlp.c_proj"]) {
      centre(`h.${l}.${mod}.weight`);
      centre(`h.${l}.${mod}.bias`);
    }
  }
  return { arrays: out, embedRowMean };
}

/**
 * Loads a GPT-2 checkpoint from a folder (`config.json`, `model.safetensors`,
 * optional `vocab_map.json`) or from explicit paths.
 *
 * @throws {Error} naming the file and key for missing files, malformed JSON or
 * safetensors, missing or unexpected tensors, wrong shapes and non-finite weights
 */
export async function loadGpt2FromHf(where: string | HfPaths, opts: HfLoadOptions = {}): Promise<LoadedGpt2> {
  const paths: HfPaths = typeof where === "string"
    ? { config: join(where, HF_CONFIG_FILE), weights: join(where, HF_WEIGHTS_FILE) }
    : { ...where };
  if (typeof where === "string" && await fileExists(join(where, VOCAB_MAP_FILE))) {
    paths.vocabMap = join(where, VOCAB_MAP_FILE);
  }
  const cfg = gpt2ConfigFromHf(await readJsonFile(paths.config), paths.config);
  const { tensors } = await readWeightsFile(paths.weights);
  let arrays = gpt2ArraysFromTensors(tensors, cfg, paths.weights);
  let embedRowMean: Float32Array | undefined;
  if (opts.centerWritingWeights) ({ arrays, embedRowMean } = centerWritingWeights(arrays, cfg, { inPlace: true }));
  let tokenMap: TokenMap | null = null;
  if (paths.vocabMap !== undefined) {
    tokenMap = TokenMap.fromJson(await readJsonFile(paths.vocabMap), paths.vocabMap);
    if (tokenMap.modelVocab !== cfg.d_vocab) {
      throw new Error(
        `${paths.vocabMap}: maps ${tokenMap.modelVocab} model ids but ${paths.config} has vocab_size ${cfg.d_vocab}`,
      );
    }
  }
  const model = new Gpt2(cfg, arrays, { trainable: opts.trainable, embedRowMean });
  return { model, tokenMap, paths };
}

/**
 * The model's parameters as they belong in a Hugging Face file: for a centred
 * model the row means are added back to `wte.weight`, so the tied
 * unembedding gives the same logits in other tools.
 */
export function hfArraysOf(model: Gpt2): Map<string, Float32Array> {
  const arrays = model.toArrays();
  if (model.embedRowMean !== null) {
    const mean = model.embedRowMean.dataSync();
    const wte = new Float32Array(arrays.get("wte.weight") as Float32Array);
    const d = model.cfg.d_model;
    for (let r = 0; r < model.cfg.d_vocab; r++) {
      for (let j = 0; j < d; j++) wte[r * d + j] = (wte[r * d + j] as number) + (mean[r] as number);
    }
    arrays.set("wte.weight", wte);
  }
  return arrays;
}

/** Options of {@link saveGpt2ToHf}. */
export interface HfSaveOptions {
  /** Written as `vocab_map.json` when the model has a compact vocabulary. */
  tokenMap?: TokenMap | null;
  /** `bos_token_id`/`eos_token_id` in config.json (default: the tokenMap's id of 50256, else the last id). */
  bosTokenId?: number;
  /** Extra `__metadata__` strings for model.safetensors (`format: "pt"` is always set). */
  metadata?: Record<string, string>;
}

/**
 * Writes `config.json`, `model.safetensors` (keys without prefix, F32, Conv1D
 * layout) and, with a token map, `vocab_map.json` into `dir` (created if needed;
 * each file written atomically).
 */
export async function saveGpt2ToHf(model: Gpt2, dir: string, opts: HfSaveOptions = {}): Promise<void> {
  const { tokenMap } = opts;
  if (tokenMap && tokenMap.modelVocab !== model.cfg.d_vocab) {
    throw new Error(
      `saveGpt2ToHf: token map has ${tokenMap.modelVocab} ids but the model has d_vocab ${model.cfg.d_vocab}`,
    );
  }
  let bos = opts.bosTokenId ?? model.cfg.d_vocab - 1;
  if (opts.bosTokenId === undefined && tokenMap) {
    const mapped = tokenMap.encode([50256])[0] as number;
    bos = mapped === tokenMap.unkId ? bos : mapped;
  }
  await Deno.mkdir(dir, { recursive: true });
  const shapes = gpt2ParamShapes(model.cfg);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, data] of hfArraysOf(model)) tensors.set(name, { shape: shapes.get(name) as number[], data });
  await writeSafetensors(join(dir, HF_WEIGHTS_FILE), tensors, { format: "pt", ...opts.metadata });
  await writeJsonAtomic(join(dir, HF_CONFIG_FILE), hfConfigJson(model.cfg, bos));
  const mapPath = join(dir, VOCAB_MAP_FILE);
  if (tokenMap) await writeJsonAtomic(mapPath, tokenMap.toJson(), 0);
  else if (await fileExists(mapPath)) await Deno.remove(mapPath);
}
