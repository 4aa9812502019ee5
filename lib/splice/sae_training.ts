/**
 * Trains residual-stream SAEs on a {@link LanguageModel}, the way the study's
 * gpt2-small-res-jb SAEs were made (study B §2.3), through `lib/sae`'s `trainSae`:
 *
 * - **rows:** web-like documents packed SAELens-style into rows of exactly
 *   `context_size` tokens with BOS at each row start (`packRowsSaeLens`);
 *   each epoch the documents are shuffled by `Rng(seed, "sae/epoch/<e>")` and
 *   the rows shuffled;
 * - **activation buffer:** buffer `k` holds the activations of rows
 *   `k·rows_per_buffer …` at the hook and is read in `buffer_reuse` passes,
 *   pass `p` in the token order of `Rng(seed, "sae/buffer/<hook>/<k>/<p>")`,
 *   `batch_size` tokens per SAE step. Every batch is a pure function of
 *   (seed, step), so a resumed run (trainSae's checkpoints) continues exactly;
 *   the buffer is recomputed, never stored;
 * - **one SAE per hook**: `blocks.{L}.hook_resid_pre` for every L plus the
 *   last `blocks.{n−1}.hook_resid_post`; ReLU SAE, d_sae = expansion × d_model,
 *   unit-norm decoder with the parallel gradient removed, `b_dec` at the
 *   geometric median, ghost gradients for dead latents, normalised MSE;
 * - **ℓ1:** λ = `l1_coefficient` / mean‖x‖ at the hook (scale-free with the
 *   normalised MSE); with `l1_search` on, one instance per multiplier in
 *   `l1_multipliers` is trained side by side on the same batches for the
 *   whole run (an ℓ1 sweep) and the shipped SAE is the instance chosen by
 *   {@link chooseSweepInstance} from its final held-out L0, explained variance
 *   and dead fraction (a short pilot predicted final L0 poorly: it falls 1.5–3×
 *   between step 100 and step 400, and the strongest ℓ1 leaves too many dead latents);
 * - **evaluation** on held-out rows (non-BOS tokens for L0, explained variance
 *   and dead latents; CE-loss recovered from the clean, spliced and
 *   zero-ablated next-token losses averaged over all tokens, every position spliced).
 *
 * The model given must be the centred one (TransformerLens `center_writing_weights`),
 * as the real SAEs were trained on that stream.
 *
 * @example
 * ```ts
 * // const results = await trainModelSaes(model, { train, validation, bos: 0 }, defaultSaeTrainingConfig(), {
 * //   outDir: "data/embedded/saes", checkpointDir: ".cache/sae_ckpt", modelName: "embedded-gpt2",
 * // });
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { Rng } from "../engine/rng.ts";
import { writeJsonAtomic } from "../io/atomic.ts";
import { listCheckpoints } from "../io/checkpoint.ts";
import { progress } from "../progress.ts";
import { join } from "../path.ts";
import { defaultSaeConfig, defaultSaeTrainConfig, type SaeTrainConfig } from "../sae/config.ts";
import { createSae, type Sae } from "../sae/sae.ts";
import { createTrainState, disposeTrainState, type SaeLogEntry, trainSae, trainStep } from "../sae/train.ts";
import { loadSaeLens, SAE_CFG_FILE, SAE_SPARSITY_FILE, SAE_WEIGHTS_FILE, saveSaeLens } from "../sae/saelens.ts";
import type { LanguageModel } from "../lm/language_model.ts";
import { constantSplice, saeSplice, zeroSplice } from "./splice.ts";
import { rowBatches, splicedPasses } from "./spliced_loss.ts";
import { packRowsSaeLens } from "../tokenizer/tokenizer.ts";
import { processCpuMs } from "../lm/train.ts";

/** The recipe of {@link trainModelSaes}. */
export interface SaeTrainingConfig {
  /** Seed of rows, buffers, SAE initialisation. */
  seed: number;
  /** Tokens per training row (SAELens `context_size`; the study: 128 = n_ctx / 8). */
  context_size: number;
  /** d_sae = expansion_factor · d_model. */
  expansion_factor: number;
  /** Hooks to train; null = every `blocks.L.hook_resid_pre` plus the last `hook_resid_post`. */
  hooks: string[] | null;
  /** Rows per activation buffer. */
  rows_per_buffer: number;
  /** Rows per harvesting forward pass. */
  harvest_rows: number;
  /** Passes over each buffer (reshuffled per pass) before the next is harvested; harvesting costs 1/this. */
  buffer_reuse: number;
  /** Tokens per SAE step. */
  batch_size: number;
  /** SAE steps per hook. */
  total_steps: number;
  /** Adam learning rate. */
  lr: number;
  /**
   * Linear decay of the learning rate to 0 over this final fraction of
   * `total_steps` (0: constant after the warm-up, as the study's SAEs trained).
   */
  lr_decay_fraction: number;
  /** Scale-free ℓ1 coefficient: λ = l1_coefficient / mean‖x‖ (one value, or one per hook name). */
  l1_coefficient: number | Record<string, number>;
  /** Train one instance per multiplier (the ℓ1 sweep) and ship the best; off: one instance at l1_coefficient. */
  l1_search: boolean;
  /** Multipliers of l1_coefficient trained by the sweep. */
  l1_multipliers: number[];
  /** Wanted L0 range. */
  target_l0: [number, number];
  /** Largest acceptable fraction of dead latents (silent for the last `dead_feature_window` steps). */
  max_dead_fraction: number;
  /** Linear ℓ1 warm-up as a fraction of total_steps. */
  l1_warm_up_fraction: number;
  /** Steps without firing after which a latent is dead (ghost gradients revive it). */
  dead_feature_window: number;
  /** Samples for the geometric-median b_dec and the norm scale. */
  b_dec_init_samples: number;
  /** Held-out rows for evaluation (and the sweep's choice). */
  eval_rows: number;
  /** Save an SAE checkpoint every this many steps. */
  checkpoint_every: number;
  /** Fail-stop bar: held-out explained variance at least this. */
  min_explained_variance: number;
  /** Fail-stop bar: held-out CE loss recovered (zero-ablation baseline) at least this. */
  min_ce_recovered: number;
  /**
   * Held-out tokens (non-BOS) the dead-latent bar is measured on: every
   * validation row up to this many tokens; fewer available throws.
   */
  dead_eval_tokens: number;
}

/**
 * Default {@link SaeTrainingConfig}: 128-token rows, expansion 16, 512-row
 * buffers (65,536 tokens) read twice, 4096-token batches, 400 steps, lr 3e-3
 * (5% warm-up, linear decay to 0 over the last 20%),
 * scale-free ℓ1 0.15 swept over ×{1, 1.5, 2.2} (three instances trained side
 * by side), target L0 10–80 with at most 10% dead latents, dead after 50
 * silent steps (200k tokens), evaluation on 256 held-out rows; fail-stop bars
 * (see {@link trainModelSaes}): explained variance ≥ 0.8, CE recovered ≥ 0.8,
 * L0 in `target_l0`, dead < `max_dead_fraction` on ≥ 390k held-out tokens.
 * (Measured on the last hook of a first embedded model: at lr 1e-3, 80 steps
 * left L0 above 130 for every ℓ1 that did not collapse the SAE; at lr 3e-3 and
 * 400 steps, ℓ1 0.15 / 0.25 / 0.4 gave L0 49 / 39 / 26 at explained variance
 * 0.97 / 0.96 / 0.93.)
 *
 * @example
 * ```ts
 * import { defaultSaeTrainingConfig } from "./sae_training.ts";
 * defaultSaeTrainingConfig({ total_steps: 100 }).context_size; // 128
 * ```
 */
export function defaultSaeTrainingConfig(overrides: Partial<SaeTrainingConfig> = {}): SaeTrainingConfig {
  const cfg: SaeTrainingConfig = {
    seed: 0,
    context_size: 128,
    expansion_factor: 16,
    hooks: null,
    rows_per_buffer: 512,
    harvest_rows: 32,
    buffer_reuse: 2,
    batch_size: 4096,
    total_steps: 400,
    lr: 3e-3,
    lr_decay_fraction: 0.2,
    l1_coefficient: 0.15,
    l1_search: true,
    l1_multipliers: [1, 1.5, 2.2],
    target_l0: [10, 80],
    max_dead_fraction: 0.1,
    l1_warm_up_fraction: 0.05,
    dead_feature_window: 50,
    b_dec_init_samples: 4096,
    eval_rows: 256,
    checkpoint_every: 100,
    min_explained_variance: 0.8,
    min_ce_recovered: 0.8,
    dead_eval_tokens: 390_000,
    ...overrides,
  };
  validateSaeTrainingConfig(cfg);
  return cfg;
}

/**
 * Throws naming the field when the config is invalid.
 *
 * @example
 * ```ts
 * import { defaultSaeTrainingConfig, validateSaeTrainingConfig } from "./sae_training.ts";
 * validateSaeTrainingConfig(defaultSaeTrainingConfig());
 * ```
 */
export function validateSaeTrainingConfig(c: SaeTrainingConfig): void {
  for (
    const k of [
      "context_size",
      "expansion_factor",
      "rows_per_buffer",
      "harvest_rows",
      "buffer_reuse",
      "batch_size",
      "total_steps",
      "dead_feature_window",
      "b_dec_init_samples",
      "eval_rows",
      "checkpoint_every",
      "dead_eval_tokens",
    ] as const
  ) {
    if (!Number.isSafeInteger(c[k]) || c[k] < 1) {
      throw new RangeError(`SaeTrainingConfig.${k}: expected an integer ≥ 1, got ${c[k]}`);
    }
  }
  if (c.context_size < 2) throw new RangeError(`SaeTrainingConfig.context_size: expected ≥ 2, got ${c.context_size}`);
  if (c.rows_per_buffer * c.context_size < c.batch_size) {
    throw new RangeError(
      `SaeTrainingConfig.rows_per_buffer: ${c.rows_per_buffer} rows × ${c.context_size} tokens hold fewer than ` +
        `batch_size ${c.batch_size} tokens`,
    );
  }
  if (!(c.lr > 0)) throw new RangeError(`SaeTrainingConfig.lr: expected > 0, got ${c.lr}`);
  if (!(c.lr_decay_fraction >= 0 && c.lr_decay_fraction < 1)) {
    throw new RangeError(`SaeTrainingConfig.lr_decay_fraction: expected [0, 1), got ${c.lr_decay_fraction}`);
  }
  const l1s = typeof c.l1_coefficient === "number" ? [c.l1_coefficient] : Object.values(c.l1_coefficient);
  if (l1s.some((v) => !(v >= 0))) {
    throw new RangeError(
      `SaeTrainingConfig.l1_coefficient: expected values ≥ 0, got ${JSON.stringify(c.l1_coefficient)}`,
    );
  }
  if (c.l1_multipliers.length < 1 || c.l1_multipliers.some((v) => !(v > 0))) {
    throw new RangeError(`SaeTrainingConfig.l1_multipliers: expected positive numbers, got [${c.l1_multipliers}]`);
  }
  if (!(c.max_dead_fraction > 0 && c.max_dead_fraction <= 1)) {
    throw new RangeError(`SaeTrainingConfig.max_dead_fraction: expected (0, 1], got ${c.max_dead_fraction}`);
  }
  const [lo, hi] = c.target_l0;
  if (!(lo > 0 && hi > lo)) {
    throw new RangeError(`SaeTrainingConfig.target_l0: expected 0 < lo < hi, got [${lo}, ${hi}]`);
  }
  for (const k of ["min_explained_variance", "min_ce_recovered"] as const) {
    if (!(c[k] <= 1)) throw new RangeError(`SaeTrainingConfig.${k}: expected a number ≤ 1, got ${c[k]}`);
  }
  if (!(c.l1_warm_up_fraction >= 0 && c.l1_warm_up_fraction <= 1)) {
    throw new RangeError(`SaeTrainingConfig.l1_warm_up_fraction: expected [0, 1], got ${c.l1_warm_up_fraction}`);
  }
}

/**
 * The hooks the study trains SAEs on: `blocks.{L}.hook_resid_pre` for every L,
 * then `blocks.{n−1}.hook_resid_post`.
 *
 * @example
 * ```ts
 * import { studyHooks } from "./sae_training.ts";
 * studyHooks(2); // ["blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre", "blocks.1.hook_resid_post"]
 * ```
 */
export function studyHooks(n_layer: number): string[] {
  const out = Array.from({ length: n_layer }, (_, l) => `blocks.${l}.hook_resid_pre`);
  out.push(`blocks.${n_layer - 1}.hook_resid_post`);
  return out;
}

/** The hook's layer count to run: blocks 0 … L for `blocks.L.*` (stopAtLayer = L + 1). */
function stopLayer(hook: string): number {
  const m = /^blocks\.(\d+)\./.exec(hook);
  if (!m) throw new RangeError(`SAE training: hook "${hook}" is not a blocks.{L}.* hook`);
  return Number(m[1]) + 1;
}

/**
 * Activations `[rows · context, d_model]` (row-major) of `model` at `hook` for
 * some equal-length token rows, `chunkRows` rows per forward pass.
 *
 * @example
 * ```ts
 * // const acts = harvestActivations(model, rows, "blocks.0.hook_resid_pre");
 * ```
 */
export function harvestActivations(
  model: LanguageModel,
  rows: readonly Int32Array[],
  hook: string,
  chunkRows = 32,
): Float32Array {
  const T = rows[0]?.length ?? 0;
  const d = model.cfg.d_model;
  const out = new Float32Array(rows.length * T * d);
  const stop = Math.min(stopLayer(hook), model.cfg.n_layer);
  for (let r0 = 0; r0 < rows.length; r0 += chunkRows) {
    const chunk = rows.slice(r0, r0 + chunkRows);
    const ids = new Int32Array(chunk.length * T);
    chunk.forEach((r, i) => ids.set(r, i * T));
    const tokens = tf.tensor2d(ids, [chunk.length, T], "int32");
    const { logits, cache } = model.runWithCache(tokens, [hook], { stopAtLayer: stop });
    tokens.dispose();
    logits?.dispose();
    const act = cache.get(hook) as tf.Tensor3D; // [rows, pos, d_model]
    out.set(act.dataSync(), r0 * T * d);
    act.dispose();
  }
  return out;
}

/** Deterministic SAE training rows and activation buffers for one hook. */
export class ActivationBuffer {
  readonly #model: LanguageModel;
  readonly #docs: readonly Int32Array[];
  readonly #bos: number;
  readonly #cfg: SaeTrainingConfig;
  readonly #hook: string;
  #epoch = -1;
  #rows: Int32Array[] = [];
  #index = -1;
  #acts: Float32Array = new Float32Array(0);
  #pass = -1;
  #order = new Int32Array(0);
  /** Rows per epoch of the document set. */
  readonly rowsPerEpoch: number;
  /** Batches per pass over a buffer. */
  readonly batchesPerBuffer: number;

  constructor(model: LanguageModel, docs: readonly Int32Array[], bos: number, cfg: SaeTrainingConfig, hook: string) {
    this.#model = model;
    this.#docs = docs;
    this.#bos = bos;
    this.#cfg = cfg;
    this.#hook = hook;
    this.#loadEpoch(0);
    this.rowsPerEpoch = this.#rows.length;
    if (this.rowsPerEpoch < 1) throw new RangeError(`SAE training data do not fill one ${cfg.context_size}-token row`);
    this.batchesPerBuffer = Math.floor((cfg.rows_per_buffer * cfg.context_size) / cfg.batch_size);
  }

  #loadEpoch(e: number): void {
    if (e === this.#epoch) return;
    this.#rows = saeRows(this.#docs, this.#bos, this.#cfg.context_size, this.#cfg.seed, e);
    this.#epoch = e;
  }

  /** Harvests buffer k (unshuffled) and sets the token order of pass p over it. */
  #load(k: number, p: number): void {
    if (k !== this.#index) {
      const R = this.#cfg.rows_per_buffer;
      const rows: Int32Array[] = [];
      for (let g = k * R; g < (k + 1) * R; g++) {
        this.#loadEpoch(Math.floor(g / this.rowsPerEpoch));
        rows.push(this.#rows[g % this.rowsPerEpoch] as Int32Array);
      }
      this.#acts = harvestActivations(this.#model, rows, this.#hook, this.#cfg.harvest_rows);
      this.#index = k;
      this.#pass = -1;
    }
    if (p !== this.#pass) {
      const n = this.#acts.length / this.#model.cfg.d_model;
      const order = Array.from({ length: n }, (_, i) => i);
      new Rng(this.#cfg.seed, `sae/buffer/${this.#hook}/${k}/${p}`).shuffle(order);
      this.#order = Int32Array.from(order);
      this.#pass = p;
    }
  }

  /** Batch `[batch_size, d_model]` of 0-based SAE step `step` (host copy). */
  batch(step: number): Float32Array {
    const perBuffer = this.batchesPerBuffer * this.#cfg.buffer_reuse;
    const k = Math.floor(step / perBuffer);
    this.#load(k, Math.floor((step % perBuffer) / this.batchesPerBuffer));
    const d = this.#model.cfg.d_model;
    const B = this.#cfg.batch_size;
    const at = (step % this.batchesPerBuffer) * B;
    const out = new Float32Array(B * d);
    for (let i = 0; i < B; i++) {
      const q = this.#order[at + i] as number;
      out.set(this.#acts.subarray(q * d, (q + 1) * d), i * d);
    }
    return out;
  }

  /** The first `n` tokens of buffer 0 in its first pass order (for b_dec and the norm scale): `[n, d_model]`. */
  initSamples(n: number): Float32Array {
    this.#load(0, 0);
    const d = this.#model.cfg.d_model;
    const m = Math.min(n, this.#order.length);
    const out = new Float32Array(m * d);
    for (let i = 0; i < m; i++) {
      const q = this.#order[i] as number;
      out.set(this.#acts.subarray(q * d, (q + 1) * d), i * d);
    }
    return out;
  }
}

/**
 * SAE training rows of one epoch: documents shuffled by `Rng(seed, "sae/epoch/<e>")`,
 * packed SAELens-style (BOS at each row start), rows shuffled.
 *
 * @example
 * ```ts
 * import { saeRows } from "./sae_training.ts";
 * saeRows([Int32Array.from({ length: 300 }, (_, i) => 1 + (i % 9))], 0, 128, 0, 0)[0]![0]; // 0 (BOS)
 * ```
 */
export function saeRows(
  docs: readonly Int32Array[],
  bos: number,
  contextSize: number,
  seed: number,
  epoch: number,
): Int32Array[] {
  const rng = new Rng(seed, `sae/epoch/${epoch}`);
  const order = docs.map((_, i) => i);
  rng.shuffle(order);
  const rows = [...packRowsSaeLens(order.map((i) => docs[i] as Int32Array), contextSize, { bos, maxDocTokens: null })];
  rng.shuffle(rows);
  return rows;
}

/** Held-out quality of one SAE at its training context. */
export interface SaeQuality {
  /** Mean L0 over non-BOS tokens. */
  l0: number;
  /** SAELens explained variance over non-BOS tokens. */
  explained_variance: number;
  /** Mean next-token CE, clean / spliced / zero-ablated / mean-ablated (all positions replaced). */
  ce_clean: number;
  ce_spliced: number;
  ce_zero: number;
  ce_mean: number;
  /** (CE_zero − CE_spliced) / (CE_zero − CE_clean). */
  ce_loss_recovered: number;
  /**
   * (CE_mean − CE_spliced) / (CE_mean − CE_clean): against replacing the
   * activation at every position (BOS included) by its held-out mean over
   * non-BOS tokens. Where zeros do far more damage than the mean (v1 model,
   * `blocks.3.hook_resid_pre`: 33 nats against 7.7) this is the stricter
   * score; it is not always (at the last `hook_resid_post` a constant mean
   * residual gives confidently wrong logits, 18 nats against 8.5 for zeros).
   */
  ce_loss_recovered_mean: number;
  /** Fraction of latents that never fire on the held-out tokens. */
  dead_fraction: number;
  /** Held-out tokens (non-BOS) used. */
  tokens: number;
  /** Firing frequency per latent over the held-out non-BOS tokens. */
  density: Float64Array;
  /** Fraction of latents silent on the first `tokens` held-out tokens, for each count asked for (`silentAt`). */
  silent_at: { tokens: number; silent_fraction: number }[];
}

/**
 * Evaluates `sae` (one instance, or several for a sweep: per-instance L0 and EV only)
 * on held-out rows; CE numbers only for one-instance SAEs and when `withCe` (default true).
 * `silentAt` lists token counts (non-BOS, in row order) at which the silent
 * fraction is also recorded, from the same pass (counts beyond the rows' tokens are left out).
 */
export function evaluateModelSae(
  model: LanguageModel,
  sae: Sae,
  rows: readonly Int32Array[],
  bos: number,
  chunkRows = 32,
  withCe = true,
  silentAt: readonly number[] = [],
): SaeQuality[] {
  const hook = sae.cfg.hook_name;
  const n = sae.cfg.n_inst;
  const d = model.cfg.d_model;
  const s = sae.cfg.d_sae;
  const acts = harvestActivations(model, rows, hook, chunkRows);
  const keep: number[] = [];
  rows.forEach((r, i) => r.forEach((t, j) => t !== bos && keep.push(i * r.length + j)));
  const N = keep.length;
  const sse = new Float64Array(n), l0 = new Float64Array(n), fired = new Float64Array(n * s);
  let sumSq = 0;
  const mean = new Float64Array(d);
  // chunks of at most 2048 tokens that also end exactly at each count of silentAt
  const stops = [...new Set(silentAt.filter((t) => t > 0 && t < N))].sort((a, b) => a - b);
  const silent: { tokens: number; silent_fraction: number }[][] = Array.from({ length: n }, () => []);
  const snapshot = (tokens: number) => {
    for (let i = 0; i < n; i++) {
      let z = 0;
      for (let q = i * s; q < (i + 1) * s; q++) if (fired[q] === 0) z++;
      (silent[i] as { tokens: number; silent_fraction: number }[]).push({ tokens, silent_fraction: z / s });
    }
  };
  for (let c0 = 0, c1 = 0; c0 < N; c0 = c1) {
    c1 = Math.min(N, c0 + 2048, stops.find((t) => t > c0) ?? N);
    const idx = keep.slice(c0, c1);
    const x = new Float32Array(idx.length * d);
    idx.forEach((q, i) => x.set(acts.subarray(q * d, (q + 1) * d), i * d));
    for (let i = 0; i < x.length; i++) {
      sumSq += (x[i] as number) ** 2;
      mean[i % d] = (mean[i % d] as number) + (x[i] as number);
    }
    const [e, f, cnt] = tf.tidy(() => {
      const xt = tf.tensor3d(x, [1, idx.length, d]);
      const out = sae.forward(xt);
      const err = tf.sum(tf.square(tf.sub(out.recon, xt)), [1, 2]); // [n]
      const pos = tf.cast(tf.greater(out.acts, 0), "float32"); // [n, batch, d_sae]
      return [err, tf.sum(pos, [1, 2]), tf.sum(pos, 1)];
    });
    const eh = e.dataSync(), fh = f.dataSync(), ch = cnt.dataSync();
    tf.dispose([e, f, cnt]);
    for (let i = 0; i < n; i++) {
      sse[i] = (sse[i] as number) + (eh[i] as number);
      l0[i] = (l0[i] as number) + (fh[i] as number);
    }
    for (let q = 0; q < n * s; q++) fired[q] = (fired[q] as number) + (ch[q] as number);
    if (stops.includes(c1)) snapshot(c1);
  }
  if (silentAt.includes(N)) snapshot(N);
  let meanSq = 0;
  for (let k = 0; k < d; k++) meanSq += ((mean[k] as number) / N) ** 2;
  const variance = sumSq / N - meanSq;
  let ce = { clean: NaN, spliced: NaN, zero: NaN, mean: NaN };
  if (n === 1 && withCe) {
    ce = ceByAblation(model, sae, rows, chunkRows, Float32Array.from(mean, (v) => v / N));
  }
  return Array.from({ length: n }, (_, i) => {
    const density = Float64Array.from(fired.subarray(i * s, (i + 1) * s), (v) => v / N);
    return {
      l0: (l0[i] as number) / N,
      explained_variance: 1 - (sse[i] as number) / N / variance,
      ce_clean: ce.clean,
      ce_spliced: ce.spliced,
      ce_zero: ce.zero,
      ce_mean: ce.mean,
      ce_loss_recovered: (ce.zero - ce.spliced) / (ce.zero - ce.clean),
      ce_loss_recovered_mean: (ce.mean - ce.spliced) / (ce.mean - ce.clean),
      dead_fraction: density.filter((v) => v === 0).length / s,
      tokens: N,
      density,
      silent_at: silent[i] as { tokens: number; silent_fraction: number }[],
    };
  });
}

/**
 * Mean next-token CE over all predictions of the rows: clean, SAE spliced at
 * every position, zero-ablated, and mean-ablated (every position replaced by
 * `meanAct`, `[d_model]`).
 */
function ceByAblation(
  model: LanguageModel,
  sae: Sae,
  rows: readonly Int32Array[],
  chunkRows: number,
  meanAct: Float32Array,
): { clean: number; spliced: number; zero: number; mean: number } {
  const hook = sae.cfg.hook_name;
  const sums = { clean: 0, spliced: 0, zero: 0, mean: 0 };
  let count = 0;
  const meanSplice = constantSplice("mean", hook, meanAct);
  const splices = [saeSplice("spliced", sae), zeroSplice("zero", hook), meanSplice];
  try {
    for (const batch of rowBatches(rows, chunkRows)) {
      for (const pass of splicedPasses(model, batch.tokens, splices)) {
        const key = (pass.kind === "clean" ? "clean" : pass.splice.key) as keyof typeof sums;
        const v = tf.tidy(() => tf.sum(model.lossPerToken(pass.logits!, batch.tokens)));
        sums[key] += v.dataSync()[0] as number;
        v.dispose();
      }
      count += batch.B * (batch.T - 1);
    }
  } finally {
    meanSplice.dispose();
  }
  return { clean: sums.clean / count, spliced: sums.spliced / count, zero: sums.zero / count, mean: sums.mean / count };
}

/** Outcome of training one hook's SAE. */
export interface HookSaeResult {
  hook: string;
  /** λ used (after the norm scale and the sweep's multiplier). */
  l1_coefficient: number;
  /** Multiplier of the base coefficient the sweep chose (1 without a sweep). */
  l1_multiplier: number;
  /** Mean ‖x‖ at the hook (the λ scale). */
  mean_norm: number;
  /** Final held-out L0, explained variance and dead fraction of every swept instance. */
  sweep: SweepInstance[];
  /** Held-out quality. */
  quality: Omit<SaeQuality, "density" | "silent_at"> & {
    /** Fraction of latents that fired on fewer than 1e-6 of the training tokens (the trainer's count). */
    dead_fraction_train: number;
    /** Fraction of latents silent for the last `dead_feature_window` training steps (SAELens' dead features). */
    dead_fraction_window: number;
    /** Held-out tokens (non-BOS) of `dead_fraction` (silent on all of them); `tokens` is the other numbers'. */
    dead_tokens: number;
  };
  /** Last logged training loss, L0 and step. */
  final_loss: number;
  steps: number;
  /** Training history: step, loss, mse, l0, explained variance, dead latents. */
  curve: { step: number; loss: number; mse: number; l0: number; explained_variance: number; dead: number }[];
  /** Folder the SAELens files were written to. */
  dir: string;
  /** Seconds spent on this hook. */
  seconds: number;
}

/** Options of {@link trainModelSaes}. */
export interface TrainModelSaesOptions {
  /** Where the SAELens folders go: `<outDir>/<hook>/`. */
  outDir: string;
  /** Folder for resumable checkpoints and per-hook results. */
  checkpointDir: string;
  /** `model_name` in cfg.json. */
  modelName: string;
  /** `dataset_path` in cfg.json. */
  datasetPath?: string;
  /** Extra cfg.json metadata (e.g. `model_from_pretrained_kwargs`). */
  metadata?: Record<string, unknown>;
  /** Show progress bars (default true). */
  progress?: boolean;
  /** Stop each SAE's training after this step (checkpointing it), as an interruption would. */
  stopAtStep?: number;
}

/** Data for {@link trainModelSaes}: web-like token documents in model ids. */
export interface SaeData {
  train: readonly Int32Array[];
  validation: readonly Int32Array[];
  bos: number;
}

function slug(hook: string): string {
  return hook.replace(/[^A-Za-z0-9]+/g, "_");
}

function baseL1(cfg: SaeTrainingConfig, hook: string): number {
  if (typeof cfg.l1_coefficient === "number") return cfg.l1_coefficient;
  const v = cfg.l1_coefficient[hook];
  if (v === undefined) throw new RangeError(`SaeTrainingConfig.l1_coefficient has no entry for hook "${hook}"`);
  return v;
}

/** The lib/sae recipe used for every hook. */
export function saeRecipe(cfg: SaeTrainingConfig, steps: number, l1: number | number[]): SaeTrainConfig {
  return defaultSaeTrainConfig({
    lr: l1 instanceof Array ? l1.map(() => cfg.lr) : cfg.lr,
    l1_coefficient: l1,
    batch_size: cfg.batch_size,
    total_steps: steps,
    adam_beta1: 0.9,
    adam_beta2: 0.999,
    lr_warm_up_fraction: 0.05,
    lr_decay_fraction: cfg.lr_decay_fraction,
    mse_loss: "l2_normalized",
    normalize_decoder: true,
    remove_decoder_parallel_grad: true,
    b_dec_init_method: "geometric_median",
    b_dec_init_samples: cfg.b_dec_init_samples,
    use_ghost_grads: true,
    ghost_grads_cooldown: 0,
    dead_feature_window: cfg.dead_feature_window,
    l1_warm_up_steps: Math.floor(cfg.l1_warm_up_fraction * steps),
    seed: cfg.seed,
  });
}

function meanNorm(x: Float32Array, d: number): number {
  let s = 0;
  const n = x.length / d;
  for (let i = 0; i < n; i++) {
    let q = 0;
    for (let k = 0; k < d; k++) q += (x[i * d + k] as number) ** 2;
    s += Math.sqrt(q);
  }
  return s / n;
}

/** No instance of a hook's ℓ1 sweep met the quality bars; nothing was written to the output folder. */
export class SaeQualityError extends Error {
  readonly hook: string;
  constructor(hook: string, detail: string) {
    super(`SAE training at ${hook}: no instance of the ℓ1 sweep meets the bars (${detail}); nothing was written`);
    this.name = "SaeQualityError";
    this.hook = hook;
  }
}

/**
 * Trains one SAE per hook (see the module notes) and returns the per-hook
 * results. Fail-stop: each hook's shipped instance must meet the bars —
 * held-out L0 in `target_l0`, explained variance ≥ `min_explained_variance`,
 * dead fraction < `max_dead_fraction` on `dead_eval_tokens` held-out tokens,
 * CE recovered (zero-ablation baseline) ≥ `min_ce_recovered`; among the
 * instances meeting the first three, the best-reconstructing one whose CE
 * recovered also passes is shipped. If none does, {@link SaeQualityError} is
 * thrown. Each hook's SAELens folder is first staged under
 * `<checkpointDir>/staged/`, and all are copied to `<outDir>/<hook>/` only
 * once every hook has passed, so a failed run writes nothing to `outDir`. A
 * hook whose result and staged folder exist is not retrained; an interrupted
 * hook resumes from its checkpoint.
 */
export async function trainModelSaes(
  model: LanguageModel,
  data: SaeData,
  cfg: SaeTrainingConfig,
  opts: TrainModelSaesOptions,
): Promise<HookSaeResult[]> {
  validateSaeTrainingConfig(cfg);
  const hooks = cfg.hooks ?? studyHooks(model.cfg.n_layer);
  const allRows = saeRows(data.validation, data.bos, cfg.context_size, cfg.seed, 0);
  const evalRows = allRows.slice(0, cfg.eval_rows);
  if (evalRows.length === 0) throw new RangeError(`SAE validation data do not fill one ${cfg.context_size}-token row`);
  // the dead-latent bar's rows: the first rows holding dead_eval_tokens non-BOS tokens
  const deadRows: Int32Array[] = [];
  let deadTokens = 0;
  for (const r of allRows) {
    if (deadTokens >= cfg.dead_eval_tokens) break;
    deadRows.push(r);
    for (const t of r) if (t !== data.bos) deadTokens++;
  }
  if (deadTokens < cfg.dead_eval_tokens) {
    throw new RangeError(
      `SaeTrainingConfig.dead_eval_tokens: the validation documents hold ${deadTokens} non-BOS tokens in ` +
        `${cfg.context_size}-token rows, fewer than ${cfg.dead_eval_tokens}`,
    );
  }
  await Deno.mkdir(opts.checkpointDir, { recursive: true });
  const staged = join(opts.checkpointDir, "staged");
  const results: HookSaeResult[] = [];
  for (const hook of hooks) {
    const resultPath = join(opts.checkpointDir, `result-${slug(hook)}.json`);
    // a finished hook is skipped while its staged SAELens files are still there (else it is re-evaluated
    // and re-staged from its final checkpoint)
    try {
      const done = JSON.parse(await Deno.readTextFile(resultPath)) as HookSaeResult;
      await Deno.stat(join(staged, hook, SAE_WEIGHTS_FILE));
      results.push(done);
      continue;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const r = await trainHookSae(model, data, cfg, hook, evalRows, deadRows, staged, opts);
    if (r === null) return results; // stopped early (stopAtStep)
    await writeJsonAtomic(resultPath, r);
    results.push(r);
  }
  // every hook passed: publish
  for (const r of results) {
    const dir = join(opts.outDir, r.hook);
    await Deno.mkdir(dir, { recursive: true });
    for (const f of [SAE_CFG_FILE, SAE_WEIGHTS_FILE, SAE_SPARSITY_FILE]) {
      await Deno.copyFile(join(staged, r.hook, f), join(dir, f));
    }
    r.dir = dir;
  }
  return results;
}

async function trainHookSae(
  model: LanguageModel,
  data: SaeData,
  cfg: SaeTrainingConfig,
  hook: string,
  evalRows: Int32Array[],
  deadRows: Int32Array[],
  stagedRoot: string,
  opts: TrainModelSaesOptions,
): Promise<HookSaeResult | null> {
  const t0 = performance.now();
  const d = model.cfg.d_model;
  const d_sae = cfg.expansion_factor * d;
  const buffer = new ActivationBuffer(model, data.train, data.bos, cfg, hook);
  const init = buffer.initSamples(cfg.b_dec_init_samples);
  const norm = meanNorm(init, d);
  const base = baseL1(cfg, hook) / norm;
  const saeCfg = defaultSaeConfig({
    d_in: d,
    d_sae,
    n_inst: 1,
    architecture: "standard",
    apply_b_dec_to_input: true,
    hook_name: hook,
    context_size: cfg.context_size,
    model_name: opts.modelName,
    prepend_bos: true,
    dataset_path: opts.datasetPath ?? "",
  });
  const source = (step: number) => tf.tensor2d(buffer.batch(step), [cfg.batch_size, d]);
  const initBatch = () => tf.tensor2d(init, [init.length / d, d]);

  // the ℓ1 sweep: one instance per multiplier, all on the same batches, for the whole run
  const mults = cfg.l1_search ? cfg.l1_multipliers : [1];
  const l1s = mults.map((m) => base * m);
  const recipe = saeRecipe(cfg, cfg.total_steps, l1s.length === 1 ? (l1s[0] as number) : l1s);
  const sae = createSae({ ...saeCfg, n_inst: mults.length }, cfg.seed, { scheme: "saelens" });
  const prefix = `sae-${slug(hook)}`;
  const done = await listCheckpoints(opts.checkpointDir, { prefix });
  const start = done.length ? Math.max(...done) : 0;
  const stopAt = Math.min(opts.stopAtStep ?? cfg.total_steps, cfg.total_steps);
  const label = mults.length > 1 ? `SAE ${hook} (ℓ1 ×${mults.join("/")})` : `SAE ${hook}`;
  const bar = (opts.progress ?? true) ? progress({ total: cfg.total_steps - start, label }) : null;
  const controller = new AbortController();
  try {
    const result = await trainSae(sae, recipe, source, {
      initBatch,
      logEvery: Math.max(1, Math.min(25, Math.floor(cfg.total_steps / 50))),
      checkpoint: { dir: opts.checkpointDir, every: cfg.checkpoint_every, prefix },
      signal: controller.signal,
      onLog: (e) => {
        bar?.set(e.step - start, {
          loss: Math.min(...e.loss),
          l0_min: Math.min(...e.l0),
          l0_max: Math.max(...e.l0),
          ev_max: Math.max(...e.explained_variance),
        });
        if (e.step >= stopAt && stopAt < cfg.total_steps) controller.abort();
      },
    });
    await bar?.done();
    disposeTrainState(result.state);
    // stopped early: the checkpoints (every `checkpoint_every` steps) let a later call resume exactly
    if (result.aborted || result.state.step < cfg.total_steps) return null;
    const last = result.history.at(-1) as SaeLogEntry;
    const evals = evaluateModelSae(model, sae, evalRows, data.bos, cfg.harvest_rows, false);
    const held = evaluateModelSae(model, sae, deadRows, data.bos, cfg.harvest_rows, false);
    const sweep: SweepInstance[] = mults.map((m, i) => ({
      multiplier: m,
      l0: evals[i]!.l0,
      explained_variance: evals[i]!.explained_variance,
      dead_fraction: (last.dead[i] as number) / d_sae,
      dead_fraction_heldout: held[i]!.dead_fraction,
    }));
    const dir = join(stagedRoot, hook);
    const [lo, hi] = cfg.target_l0;
    const fails = (p: SweepInstance): string[] => [
      ...(p.l0 >= lo && p.l0 <= hi ? [] : [`L0 ${p.l0.toFixed(1)} outside [${lo}, ${hi}]`]),
      ...(p.explained_variance >= cfg.min_explained_variance
        ? []
        : [`explained variance ${p.explained_variance.toFixed(3)} < ${cfg.min_explained_variance}`]),
      ...((p.dead_fraction_heldout as number) < cfg.max_dead_fraction ? [] : [
        `dead ${(100 * (p.dead_fraction_heldout as number)).toFixed(1)}% of latents on ${held[0]!.tokens} ` +
        `held-out tokens ≥ ${100 * cfg.max_dead_fraction}%`,
      ]),
    ];
    const why = sweep.map((p) => fails(p));
    // candidates meeting L0, EV and dead bars, best reconstruction first; CE recovered is checked on each in turn
    const order = sweep.map((_, i) => i).filter((i) => why[i]!.length === 0)
      .sort((a, b) => sweep[b]!.explained_variance - sweep[a]!.explained_variance);
    let k = -1;
    let quality: SaeQuality | null = null;
    for (const i of order) {
      await saveSaeLens(sae, dir, {
        instance: i,
        sparsity: Float32Array.from(held[i]!.density, (v) => Math.log10(v + 1e-10)),
        metadata: {
          ...opts.metadata,
          l1_coefficient: l1s[i],
          training_steps: cfg.total_steps,
          batch_size: cfg.batch_size,
        },
      });
      // the staged instance, re-read from its folder, with the CE numbers
      const { sae: shipped } = await loadSaeLens(dir);
      let q: SaeQuality;
      try {
        q = evaluateModelSae(model, shipped, evalRows, data.bos, cfg.harvest_rows)[0] as SaeQuality;
      } finally {
        shipped.dispose();
      }
      if (q.ce_loss_recovered >= cfg.min_ce_recovered) {
        k = i;
        quality = q;
        break;
      }
      why[i]!.push(`CE recovered ${q.ce_loss_recovered.toFixed(3)} < ${cfg.min_ce_recovered}`);
    }
    if (quality === null) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw new SaeQualityError(hook, sweep.map((p, i) => `ℓ1 ×${p.multiplier}: ${why[i]!.join(", ")}`).join("; "));
    }
    const l1 = l1s[k] as number;
    const history = result.history.map((e) => curvePoint(e, k));
    const { density: _density, silent_at: _silent, ...qualityOut } = quality;
    return {
      hook,
      l1_coefficient: l1,
      l1_multiplier: mults[k] as number,
      mean_norm: norm,
      sweep,
      quality: {
        ...qualityOut,
        dead_fraction: held[k]!.dead_fraction,
        dead_tokens: held[k]!.tokens,
        dead_fraction_train: last.below_1e_6[k] ?? NaN,
        dead_fraction_window: (last.dead[k] as number) / d_sae,
      },
      final_loss: history.at(-1)?.loss ?? NaN,
      steps: cfg.total_steps,
      curve: history,
      dir,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    sae.dispose();
  }
}

/** One instance of the ℓ1 sweep at the end of training. */
export interface SweepInstance {
  multiplier: number;
  /** Held-out L0 and explained variance. */
  l0: number;
  explained_variance: number;
  /** Fraction of latents silent for the last `dead_feature_window` steps. */
  dead_fraction: number;
  /** Fraction of latents silent on all `dead_eval_tokens` held-out tokens (the bar; absent in older records). */
  dead_fraction_heldout?: number;
}

/**
 * The sweep's choice (an index): among instances with L0 in `[lo, hi]` and a
 * dead fraction below `maxDead`, the one with the highest explained variance;
 * when none qualifies, the one failing fewest of the two conditions, then
 * nearest the L0 range in log, then the highest explained variance.
 *
 * @example
 * ```ts
 * import { chooseSweepInstance } from "./sae_training.ts";
 * chooseSweepInstance([
 *   { multiplier: 1, l0: 120, explained_variance: 0.95, dead_fraction: 0.01 },
 *   { multiplier: 2, l0: 60, explained_variance: 0.9, dead_fraction: 0.03 },
 *   { multiplier: 4, l0: 20, explained_variance: 0.8, dead_fraction: 0.2 },
 * ], [10, 80], 0.1); // 1
 * ```
 */
export function chooseSweepInstance(
  sweep: readonly SweepInstance[],
  [lo, hi]: [number, number],
  maxDead: number,
): number {
  if (sweep.length === 0) throw new RangeError("chooseSweepInstance: no instances");
  const distance = (p: SweepInstance) => {
    const l = Math.log(Math.max(p.l0, 1e-3));
    return l < Math.log(lo) ? Math.log(lo) - l : Math.max(0, l - Math.log(hi));
  };
  const fails = (p: SweepInstance) => (p.l0 >= lo && p.l0 <= hi ? 0 : 1) + (p.dead_fraction < maxDead ? 0 : 1);
  let best = 0;
  for (let i = 1; i < sweep.length; i++) {
    const a = sweep[best] as SweepInstance, b = sweep[i] as SweepInstance;
    const key = (p: SweepInstance) => [fails(p), distance(p), -p.explained_variance];
    const ka = key(a), kb = key(b);
    const j = ka.findIndex((v, q) => v !== kb[q]);
    if (j >= 0 && (kb[j] as number) < (ka[j] as number)) best = i;
  }
  return best;
}

/** SAE training throughput. */
export interface SaeThroughput {
  stepsPerSecond: number;
  tokensPerSecond: number;
  stepsPerCpuSecond: number;
  stepMs: number[];
}

/**
 * Times `steps` SAE training steps (the {@link saeRecipe} recipe) of a
 * d_in × d_sae SAE on random batches of `batch` tokens.
 *
 * @example
 * ```ts
 * // measureSaeThroughput(128, 2048, 4096, 5).stepsPerSecond
 * ```
 */
export function measureSaeThroughput(d_in: number, d_sae: number, batch: number, steps = 5): SaeThroughput {
  const cfg = defaultSaeTrainingConfig({ batch_size: batch, rows_per_buffer: Math.ceil(batch / 128) });
  const sae = createSae(defaultSaeConfig({ d_in, d_sae, apply_b_dec_to_input: true }), 0, { scheme: "saelens" });
  const state = createTrainState(sae, saeRecipe(cfg, steps + 1, 1e-3));
  const rng = new Rng(0, "sae/measure");
  const x = () => tf.tensor2d(rng.fillNormal(new Float32Array(batch * d_in)), [batch, d_in]);
  try {
    const warm = x();
    trainStep(sae, state, warm);
    warm.dispose();
    const stepMs: number[] = [];
    const c0 = processCpuMs();
    for (let i = 0; i < steps; i++) {
      const b = x();
      const t = performance.now();
      trainStep(sae, state, b);
      stepMs.push(performance.now() - t);
      b.dispose();
    }
    const cpu = c0 === null ? NaN : (processCpuMs() as number) - c0;
    const wall = stepMs.reduce((a, b) => a + b, 0) / 1000;
    return {
      stepsPerSecond: steps / wall,
      tokensPerSecond: (steps * batch) / wall,
      stepsPerCpuSecond: steps / (cpu / 1000),
      stepMs,
    };
  } finally {
    disposeTrainState(state);
    sae.dispose();
  }
}

/** One point of a hook SAE's training curve, from instance `k` of a trainer log entry. */
function curvePoint(e: SaeLogEntry, k: number): HookSaeResult["curve"][number] {
  return {
    step: e.step,
    loss: e.loss[k] as number,
    mse: e.mse[k] as number,
    l0: e.l0[k] as number,
    explained_variance: e.explained_variance[k] as number,
    dead: e.dead[k] as number,
  };
}
