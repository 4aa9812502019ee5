/**
 * Trains a {@link Gpt2} language model from scratch on token documents.
 *
 * Recipe (every choice a field of {@link LmTrainConfig}):
 * - **rows:** each epoch the training documents are shuffled
 *   (`Rng(seed, "lm/epoch/<e>")`), joined with EOS and cut into rows of
 *   `n_ctx + 1` tokens with BOS first (TransformerLens `tokenize_and_concatenate`),
 *   and the rows shuffled; the inputs are a row's first `n_ctx` tokens and the
 *   targets its last `n_ctx`, so every position 0 … n_ctx − 1 is trained;
 * - **batches:** step `s` takes rows `s·batch_rows … (s+1)·batch_rows − 1` of
 *   the endless sequence of epochs: a pure function of (seed, s), so a resumed
 *   run sees exactly the batches an uninterrupted run sees;
 * - **loss:** mean next-token cross-entropy with a fused softmax-CE gradient
 *   (`softmax − onehot`), avoiding the slow generic `logSumExp` gradient;
 *   `micro_batch_rows` rows per forward/backward, gradients summed over the
 *   micro-batches of a step;
 * - **optimiser:** AdamW — decoupled weight decay `p ← p·(1 − lr·wd)` on
 *   matrices (rank ≥ 2), then Adam (`engine` fused Adam); global-norm gradient
 *   clipping; learning rate with linear warm-up then cosine or linear decay to
 *   `min_lr_fraction · lr`;
 * - **checkpoints** (`lib/io/checkpoint.ts`, atomic): parameters, Adam moments,
 *   history; written every `checkpoint_every` steps and at the end; training
 *   resumes from the newest one;
 * - **divergence:** a non-finite loss or gradient norm, or a loss above
 *   `divergence_factor ×` the running minimum for `divergence_patience`
 *   consecutive steps, throws {@link LmDivergenceError} naming the step; no
 *   checkpoint is written while the loss is suspicious, so the last good one stays.
 *
 * @example
 * ```ts
 * import { initBackend } from "../engine/backend.ts";
 * import { defaultGpt2Config } from "./config.ts";
 * import { Gpt2 } from "./gpt2.ts";
 * import { defaultLmTrainConfig, trainLm } from "./train.ts";
 * await initBackend();
 * const model = Gpt2.random(defaultGpt2Config({ n_layer: 1, d_model: 16, n_head: 2, n_ctx: 16, d_vocab: 50 }), 0);
 * const docs = [Int32Array.from({ length: 400 }, (_, i) => 1 + (i % 49))];
 * const cfg = defaultLmTrainConfig({ n_ctx: 16, total_steps: 20, batch_rows: 4, micro_batch_rows: 4 });
 * const result = await trainLm(model, { train: docs, validation: docs, bos: 0 }, cfg);
 * console.log(result.history.at(-1)?.loss);
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { Rng } from "../engine/rng.ts";
import { fusedAdam, type FusedAdamOptimizer } from "../engine/kernels/adam.ts";
import { softmaxCrossEntropy } from "../engine/kernels/lm_layer_ops.ts";
import {
  activeAttentionPool,
  attentionWorkerRequested,
  attentionWorkerSetting,
  sharedAttentionPool,
  usingAttentionPool,
} from "../engine/kernels/attention_pool.ts";
import { fusedLmOps } from "../engine/kernels/fused_ops.ts";
import { loadLatestCheckpoint, saveCheckpoint } from "../io/checkpoint.ts";
import type { TensorInput } from "../io/safetensors.ts";
import { progress } from "../progress.ts";
import type { Gpt2 } from "./gpt2.ts";
import { tokenizeAndConcatenate } from "../tokenizer/tokenizer.ts";

/** Training recipe of {@link trainLm}. */
export interface LmTrainConfig {
  /** Seed of the row shuffles (the model's initialisation has its own seed). */
  seed: number;
  /** Optimiser steps. */
  total_steps: number;
  /** Positions per row (inputs); rows hold n_ctx + 1 tokens. At most the model's n_ctx. */
  n_ctx: number;
  /** Rows per optimiser step. */
  batch_rows: number;
  /** Rows per forward/backward pass (must divide batch_rows). */
  micro_batch_rows: number;
  /** Peak learning rate. */
  lr: number;
  /** Final learning rate as a fraction of `lr`. */
  min_lr_fraction: number;
  /** Linear warm-up steps (multiplier (s+1)/W). */
  warmup_steps: number;
  /** Decay after warm-up: cosine or linear, to min_lr_fraction·lr at the last step. */
  schedule: "cosine" | "linear";
  /** Decoupled (AdamW) weight decay on matrices; 0 disables it. */
  weight_decay: number;
  /** Adam β1. */
  adam_beta1: number;
  /** Adam β2. */
  adam_beta2: number;
  /** Adam ε. */
  adam_epsilon: number;
  /** Clip the global gradient norm to this value; 0 disables clipping. */
  grad_clip: number;
  /** Evaluate the validation loss every this many steps (and at the end); 0 only at the end. */
  eval_every: number;
  /** Validation rows used by the periodic evaluation. */
  eval_rows: number;
  /** Checkpoint every this many steps (and at the end) when a checkpoint folder is given. */
  checkpoint_every: number;
  /** A loss above this multiple of the running minimum counts as exploding. */
  divergence_factor: number;
  /** Consecutive exploding steps that stop training. */
  divergence_patience: number;
  /**
   * Fraction of training rows in which one span of the row's own text is
   * copied to a later place in the row (see {@link repeatSpan}); 0 disables it.
   * A copy task on natural text: it teaches the model to look back up to n_ctx
   * tokens (induction), which plain text of a few million tokens does not.
   */
  repeat_fraction: number;
  /** Inclusive range of copied-span lengths, in tokens. */
  repeat_span: [number, number];
  /**
   * Longest copied span as a fraction of the row's positions (a drawn length
   * above it is cut to it); in (0, 0.5]. Absent: 0.5, the rule before the
   * field existed. At 0.5 a short row degenerates: on rows of 128 positions
   * with spans of at least 64 tokens every copy is cut to 64 tokens, starts at
   * position 1 and lands at 65, so the copy distance is always half the row
   * and a fixed-offset attention head predicts it without reading content
   * (the project's pilots learned exactly that; see notebook 09). At 0.25 the
   * span's start and the copy distance vary on every row length.
   */
  repeat_max_fraction?: number;
  /**
   * Most back-to-back copies of the span (each row draws 1 … this many, as
   * many as fit); absent: 1. More copies make more of each row predictable by
   * copying, at a distance that still varies from row to row.
   */
  repeat_copies?: number;
  /**
   * Token ids `[lo, hi)` of synthetic copied spans: when present, the source
   * span of every copy is first overwritten with ids drawn uniformly from this
   * range (then copied as usual), so its first occurrence is unpredictable and
   * the copies are predictable only by induction; absent: the row's own text is
   * copied. Must lie inside the model's vocabulary and leave out the BOS id
   * (checked by {@link trainLm}). Optional and absent from
   * {@link defaultLmTrainConfig}, so configs written before it keep their hashes.
   */
  repeat_random_ids?: [number, number];
  /**
   * How a drawn span length above the cap `⌊(len − 1) · repeat_max_fraction⌋`
   * is handled: `"cut"` (absent: the same) cuts it to the cap, so on short rows
   * most spans have exactly the cap's length and back-to-back copies sit exactly
   * that far back (with spans of 16–256 at a quarter of rows of 128, 93% of spans
   * are 32 long, so their later copies sit 32 back, where a fixed-offset head
   * predicts them); `"within"` draws the
   * length uniformly from `[min, min(max, cap)]`, so the distance varies on every
   * row length. Optional and absent from {@link defaultLmTrainConfig}.
   */
  repeat_span_draw?: "cut" | "within";
  /**
   * Sequence-length curriculum: stages `[until_step, ctx]`, ascending, each
   * `ctx` dividing `n_ctx`. Steps before `until_step` (and after the previous
   * stage) train on rows of `ctx` positions, `batch_rows · n_ctx / ctx` of them
   * per step, so every step trains on the same number of tokens; steps from the
   * last `until_step` on use full rows of `n_ctx`. Empty: full rows throughout.
   */
  ctx_curriculum: [number, number][];
  /**
   * Absolute positions of the curriculum's short rows: `"zero"` (absent: the
   * same) puts every row at positions 0 … ctx − 1, so positions ≥ ctx are not
   * trained until full rows start; `"random"` puts each short row at an offset
   * uniform in `[0, n_ctx − ctx]` (one `Rng` stream per global row, so a
   * resumed run draws the same offsets), so every positional embedding is
   * trained with short attention spans. Full-length rows always start at 0.
   * Optional and absent from {@link defaultLmTrainConfig}, so configs written
   * before it (and their hashes) are unchanged.
   */
  ctx_offsets?: "zero" | "random";
  /**
   * Steps at the start of every curriculum stage whose rows are longer than
   * the previous stage's (the full-row stage included) during which only the
   * positional embedding `wpe.weight` is updated; the rest of the network is
   * held. Under `ctx_offsets` "zero" a stage of longer rows brings positions
   * that were never trained; fitting their embeddings first lets the circuits
   * learned on short rows (copying) work there before their gradients reach
   * the shared weights. Absent: 0 (every parameter is updated on every step).
   */
  wpe_warmup_steps?: number;
  /**
   * Steps at the start of training during which the positional embedding
   * `wpe.weight` is held at its initialisation (every other parameter is
   * updated). With sinusoidal starting embeddings (`wpe_init` "sinusoid")
   * and short rows early in a curriculum, circuits learned then can read
   * relative position from a structure that is the same at the positions not
   * yet trained. A `wpe_warmup_steps` step may not fall inside the hold.
   * Absent: 0.
   */
  wpe_hold_steps?: number;
}

/**
 * Default {@link LmTrainConfig}: n_ctx 1024, 8 rows (8k tokens) per step in
 * micro-batches of 1, lr 2e-3 with 100 warm-up steps and cosine decay to 10%,
 * AdamW (0.9, 0.95, 1e-8, weight decay 0.1), clipping at 1, evaluation every
 * 100 steps on 8 rows, checkpoints every 50 steps, divergence at 3× for 5 steps.
 *
 * @example
 * ```ts
 * import { defaultLmTrainConfig } from "./train.ts";
 * defaultLmTrainConfig({ total_steps: 500 }).schedule; // "cosine"
 * ```
 */
export function defaultLmTrainConfig(overrides: Partial<LmTrainConfig> = {}): LmTrainConfig {
  const cfg: LmTrainConfig = {
    seed: 0,
    total_steps: 1000,
    n_ctx: 1024,
    batch_rows: 8,
    micro_batch_rows: 1,
    lr: 2e-3,
    min_lr_fraction: 0.1,
    warmup_steps: 100,
    schedule: "cosine",
    weight_decay: 0.1,
    adam_beta1: 0.9,
    adam_beta2: 0.95,
    adam_epsilon: 1e-8,
    grad_clip: 1,
    eval_every: 100,
    eval_rows: 8,
    checkpoint_every: 50,
    divergence_factor: 3,
    divergence_patience: 5,
    repeat_fraction: 0,
    repeat_span: [64, 384],
    repeat_max_fraction: 0.25,
    ctx_curriculum: [],
    ...overrides,
  };
  validateLmTrainConfig(cfg);
  return cfg;
}

/**
 * What an optional field of {@link LmTrainConfig} means when absent (configs and checkpoints written before the
 * field existed): the one place the trainer, the batch stream and the resume check read these defaults from.
 */
const ABSENT = {
  ctx_offsets: "zero",
  repeat_max_fraction: 0.5,
  repeat_copies: 1,
  repeat_span_draw: "cut",
  wpe_warmup_steps: 0,
  wpe_hold_steps: 0,
} as const;

/**
 * Throws naming the field when a config is invalid.
 *
 * @example
 * ```ts
 * import { defaultLmTrainConfig, validateLmTrainConfig } from "./train.ts";
 * validateLmTrainConfig(defaultLmTrainConfig());
 * ```
 */
export function validateLmTrainConfig(c: LmTrainConfig): void {
  const int = (k: keyof LmTrainConfig, min: number) => {
    const v = c[k] as number;
    if (!Number.isSafeInteger(v) || v < min) {
      throw new RangeError(`LmTrainConfig.${k}: expected an integer ≥ ${min}, got ${v}`);
    }
  };
  int("total_steps", 1);
  int("n_ctx", 1);
  int("batch_rows", 1);
  int("micro_batch_rows", 1);
  int("warmup_steps", 0);
  int("eval_every", 0);
  int("eval_rows", 1);
  int("checkpoint_every", 1);
  int("divergence_patience", 1);
  if (c.batch_rows % c.micro_batch_rows !== 0) {
    throw new RangeError(
      `LmTrainConfig.micro_batch_rows: ${c.micro_batch_rows} does not divide batch_rows ${c.batch_rows}`,
    );
  }
  const pos = (k: keyof LmTrainConfig) => {
    const v = c[k] as number;
    if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`LmTrainConfig.${k}: expected a number > 0, got ${v}`);
  };
  pos("lr");
  pos("adam_epsilon");
  pos("divergence_factor");
  const unit = (k: keyof LmTrainConfig, open: boolean) => {
    const v = c[k] as number;
    if (!(v >= 0 && (open ? v < 1 : v <= 1))) {
      throw new RangeError(`LmTrainConfig.${k}: expected a number in [0, 1${open ? ")" : "]"}, got ${v}`);
    }
  };
  unit("min_lr_fraction", false);
  unit("adam_beta1", true);
  unit("adam_beta2", true);
  if (!(c.weight_decay >= 0)) throw new RangeError(`LmTrainConfig.weight_decay: expected ≥ 0, got ${c.weight_decay}`);
  if (!(c.grad_clip >= 0)) throw new RangeError(`LmTrainConfig.grad_clip: expected ≥ 0, got ${c.grad_clip}`);
  if (c.schedule !== "cosine" && c.schedule !== "linear") {
    throw new RangeError(`LmTrainConfig.schedule: expected "cosine" or "linear", got "${c.schedule}"`);
  }
  unit("repeat_fraction", false);
  const [lo, hi] = c.repeat_span;
  if (!(Number.isSafeInteger(lo) && Number.isSafeInteger(hi) && lo >= 1 && hi >= lo)) {
    throw new RangeError(`LmTrainConfig.repeat_span: expected integers 1 ≤ min ≤ max, got [${lo}, ${hi}]`);
  }
  if (c.repeat_fraction > 0 && 2 * hi > c.n_ctx) {
    throw new RangeError(
      `LmTrainConfig.repeat_span: a span of ${hi} tokens and its copy do not fit in n_ctx ${c.n_ctx} (max ≤ n_ctx / 2)`,
    );
  }
  const f = c.repeat_max_fraction ?? ABSENT.repeat_max_fraction;
  if (!(f > 0 && f <= 0.5)) {
    throw new RangeError(`LmTrainConfig.repeat_max_fraction: expected a number in (0, 0.5], got ${f}`);
  }
  const k = c.repeat_copies ?? ABSENT.repeat_copies;
  if (!(Number.isSafeInteger(k) && k >= 1)) {
    throw new RangeError(`LmTrainConfig.repeat_copies: expected an integer ≥ 1, got ${k}`);
  }
  const draw = c.repeat_span_draw ?? ABSENT.repeat_span_draw;
  if (draw !== "cut" && draw !== "within") {
    throw new RangeError(`LmTrainConfig.repeat_span_draw: expected "cut" or "within", got ${JSON.stringify(draw)}`);
  }
  if (c.repeat_random_ids !== undefined) {
    const [a, b] = c.repeat_random_ids;
    if (!(Number.isSafeInteger(a) && Number.isSafeInteger(b) && a >= 0 && b > a)) {
      throw new RangeError(`LmTrainConfig.repeat_random_ids: expected integers 0 ≤ lo < hi, got [${a}, ${b}]`);
    }
  }
  for (const key of ["wpe_warmup_steps", "wpe_hold_steps"] as const) {
    const w = c[key] ?? ABSENT[key];
    if (!(Number.isSafeInteger(w) && w >= 0)) {
      throw new RangeError(`LmTrainConfig.${key}: expected an integer ≥ 0, got ${w}`);
    }
  }
  const hold = c.wpe_hold_steps ?? ABSENT.wpe_hold_steps;
  if (hold > 0 && (c.wpe_warmup_steps ?? ABSENT.wpe_warmup_steps) > 0) {
    // a step cannot both hold wpe and update wpe alone
    for (let step = 0; step < hold; step++) {
      if (lmWpeOnly(c, step)) {
        throw new RangeError(
          `LmTrainConfig.wpe_warmup_steps: step ${step} would update only wpe.weight while wpe_hold_steps ` +
            `(${hold}) holds it; start the warm-up after the hold`,
        );
      }
    }
  }
  if (!Number.isFinite(c.seed)) throw new RangeError(`LmTrainConfig.seed: expected a finite number, got ${c.seed}`);
  let prev = 0;
  for (const [k, stage] of (c.ctx_curriculum ?? []).entries()) {
    const [until, ctx] = stage;
    const where = `LmTrainConfig.ctx_curriculum[${k}]`;
    if (!(Number.isSafeInteger(until) && until > prev)) {
      throw new RangeError(`${where}: until_step must be an integer above ${prev}, got ${until}`);
    }
    if (!(Number.isSafeInteger(ctx) && ctx >= 2 && ctx < c.n_ctx && c.n_ctx % ctx === 0)) {
      throw new RangeError(`${where}: ctx must divide n_ctx ${c.n_ctx} and be below it, got ${ctx}`);
    }
    prev = until;
  }
  if (c.ctx_offsets !== undefined && c.ctx_offsets !== "zero" && c.ctx_offsets !== "random") {
    throw new RangeError(
      `LmTrainConfig.ctx_offsets: expected "zero" or "random", got ${JSON.stringify(c.ctx_offsets)}`,
    );
  }
}

/** One stage of a run: steps `[from, until)` train on `rows` rows of `ctx` positions, `micro` rows per pass. */
export interface LmStage {
  from: number;
  until: number;
  ctx: number;
  rows: number;
  micro: number;
}

/**
 * The stage of 0-based step `step` under `ctx_curriculum` (the last stage,
 * full rows, runs to infinity).
 *
 * @example
 * ```ts
 * import { defaultLmTrainConfig, lmStage } from "./train.ts";
 * const c = defaultLmTrainConfig({ n_ctx: 1024, batch_rows: 8, ctx_curriculum: [[100, 256]] });
 * lmStage(c, 50); // { from: 0, until: 100, ctx: 256, rows: 32, micro: 4 }
 * lmStage(c, 100).ctx; // 1024
 * ```
 */
export function lmStage(c: LmTrainConfig, step: number): LmStage {
  let from = 0;
  for (const [until, ctx] of c.ctx_curriculum ?? []) {
    const f = c.n_ctx / ctx;
    if (step < until) return { from, until, ctx, rows: c.batch_rows * f, micro: c.micro_batch_rows * f };
    from = until;
  }
  return { from, until: Infinity, ctx: c.n_ctx, rows: c.batch_rows, micro: c.micro_batch_rows };
}

/**
 * Whether 0-based step `step` updates only the positional embedding (see
 * `wpe_warmup_steps`): within the first `wpe_warmup_steps` steps of a stage
 * whose rows are longer than the previous stage's.
 *
 * @example
 * ```ts
 * import { defaultLmTrainConfig, lmWpeOnly } from "./train.ts";
 * const c = defaultLmTrainConfig({ ctx_curriculum: [[100, 256]], wpe_warmup_steps: 10 });
 * lmWpeOnly(c, 5); // false: the first stage has no shorter stage before it
 * lmWpeOnly(c, 105); // true
 * lmWpeOnly(c, 110); // false
 * ```
 */
export function lmWpeOnly(c: LmTrainConfig, step: number): boolean {
  const w = c.wpe_warmup_steps ?? ABSENT.wpe_warmup_steps;
  if (w === 0) return false;
  const st = lmStage(c, step);
  if (st.from === 0 || step - st.from >= w) return false;
  return lmStage(c, st.from - 1).ctx < st.ctx;
}

/**
 * Learning rate of 0-based step `step`: linear warm-up `lr·(s+1)/W`, then a
 * cosine (or linear) decay from `lr` to `min_lr_fraction·lr` at the last step.
 *
 * @example
 * ```ts
 * import { defaultLmTrainConfig, lmLearningRate } from "./train.ts";
 * const c = defaultLmTrainConfig({ total_steps: 1000, warmup_steps: 100, lr: 1e-3 });
 * lmLearningRate(c, 0); // 1e-5
 * lmLearningRate(c, 999); // 1e-4
 * ```
 */
export function lmLearningRate(c: LmTrainConfig, step: number): number {
  if (step < c.warmup_steps) return (c.lr * (step + 1)) / c.warmup_steps;
  const span = c.total_steps - 1 - c.warmup_steps;
  const t = span <= 0 ? 1 : Math.min(1, (step - c.warmup_steps) / span);
  const shape = c.schedule === "cosine" ? 0.5 * (1 + Math.cos(Math.PI * t)) : 1 - t;
  return c.lr * (c.min_lr_fraction + (1 - c.min_lr_fraction) * shape);
}

/** Token documents in model ids. */
export interface LmData {
  /** Training documents (no BOS/EOS). */
  train: readonly Int32Array[];
  /** Validation documents (no BOS/EOS). */
  validation: readonly Int32Array[];
  /** The BOS/EOS model id. */
  bos: number;
}

/**
 * Rows of `n_ctx + 1` tokens of one epoch: documents shuffled by
 * `Rng(seed, "lm/epoch/<epoch><stream>")`, joined with EOS, cut, BOS first, rows shuffled.
 *
 * @example
 * ```ts
 * import { epochRows } from "./train.ts";
 * const rows = epochRows([Int32Array.from({ length: 50 }, (_, i) => i + 1)], 0, 8, 0, 0); // 7 rows of 9 ids
 * ```
 */
export function epochRows(
  docs: readonly Int32Array[],
  bos: number,
  n_ctx: number,
  seed: number,
  epoch: number,
  stream = "",
): Int32Array[] {
  const rng = new Rng(seed, `lm/epoch/${epoch}${stream}`);
  const order = docs.map((_, i) => i);
  rng.shuffle(order);
  const rows = [...tokenizeAndConcatenate(order.map((i) => docs[i] as Int32Array), n_ctx + 1, { eos: bos })];
  rng.shuffle(rows);
  return rows;
}

/**
 * Validation rows of `n_ctx + 1` tokens in document order (no shuffling), the
 * first `maxRows` (all when omitted).
 *
 * @example
 * ```ts
 * import { validationRows } from "./train.ts";
 * validationRows([Int32Array.from({ length: 50 }, (_, i) => i + 1)], 0, 8, 2).length; // 2
 * ```
 */
export function validationRows(
  docs: readonly Int32Array[],
  bos: number,
  n_ctx: number,
  maxRows?: number,
): Int32Array[] {
  const out: Int32Array[] = [];
  for (const row of tokenizeAndConcatenate(docs, n_ctx + 1, { eos: bos })) {
    if (maxRows !== undefined && out.length >= maxRows) break;
    out.push(row);
  }
  return out;
}

/** How {@link repeatSpan} draws its copies (each field's default in brackets). */
export interface RepeatSpanOptions {
  /** Longest span as a fraction of the row's `len − 1` tokens [0.5]. */
  maxFraction?: number;
  /** Most back-to-back copies [1]. */
  maxCopies?: number;
  /** Overwrite the source span with ids uniform in `[lo, hi)` before copying it [absent: keep the text]. */
  randomIds?: readonly [number, number];
  /** Span lengths above the cap: "cut" to it, or drawn "within" it ["cut"]. */
  draw?: "cut" | "within";
}

/**
 * A copy of `row` (n_ctx + 1 tokens, BOS at 0) in which the span
 * `[s, s + L)` is written again at `[d, d + L)`: L uniform in `span` and cut
 * to `⌊(len − 1) · maxFraction⌋` (`opts`; see `repeat_max_fraction`), s
 * uniform in `[1, len − 2L]`, d uniform in `[s + L, len − L]`. The copy
 * overwrites text, so the row keeps its length and its document boundaries
 * inside the span. Positions of the copy after its first token are predictable
 * only by looking back `d − s` tokens. With `maxCopies` > 1, k copies (k
 * uniform in `[1, maxCopies]`, as many as fit) are written back to back from
 * d, s and d drawn so that all fit; the later copies are L after the previous.
 * With `randomIds` `[lo, hi)`, the source span is first overwritten with ids
 * uniform in that range (drawn after s and d), so only its copies are
 * predictable. With `draw` "within", L is uniform in
 * `[span[0], min(span[1], cap)]` instead of cut to the cap (a cap below
 * `span[0]` still cuts).
 *
 * @example
 * ```ts
 * import { Rng } from "../engine/rng.ts";
 * import { repeatSpan } from "./train.ts";
 * const row = Int32Array.from({ length: 33 }, (_, i) => i);
 * const out = repeatSpan(row, [4, 8], new Rng(0, "doc"));
 * // out.span: { src, dst, len } with out.row[dst + k] === row[src + k]
 * ```
 */
export function repeatSpan(
  row: Int32Array,
  span: readonly [number, number],
  rng: Rng,
  opts: RepeatSpanOptions = {},
): { row: Int32Array; span: { src: number; dst: number; len: number; copies: number } } {
  const { maxFraction = 0.5, maxCopies = 1, randomIds, draw = "cut" } = opts;
  const n = row.length;
  const cap = Math.floor((n - 1) * maxFraction);
  const top = draw === "within" && cap >= span[0] ? Math.min(span[1], cap) : span[1];
  const len = Math.min(span[0] + rng.int(top - span[0] + 1), cap);
  if (len < 1) return { row, span: { src: 0, dst: 0, len: 0, copies: 0 } };
  // k back-to-back copies (drawn only when more than one is allowed, so one copy keeps its random stream)
  const k = maxCopies > 1 ? Math.min(1 + rng.int(maxCopies), Math.floor((n - 1) / len) - 1) : 1;
  const src = 1 + rng.int(n - (k + 1) * len);
  const dst = src + len + rng.int(n - src - (k + 1) * len + 1);
  const out = row.slice();
  if (randomIds) { for (let i = src; i < src + len; i++) out[i] = randomIds[0] + rng.int(randomIds[1] - randomIds[0]); }
  for (let j = 0; j < k; j++) out.copyWithin(dst + j * len, src, src + len);
  return { row: out, span: { src, dst, len, copies: k } };
}

/** The `Rng` name suffix of a curriculum stage's rows: none for full rows, `/ctx<len>` for shorter ones. */
function stageStream(c: LmTrainConfig, ctx: number): string {
  return ctx === c.n_ctx ? "" : `/ctx${ctx}`;
}

/**
 * The copied-span augmentation of global row `g` of the stage with rows of
 * `ctx` tokens: with probability `repeat_fraction`, {@link repeatSpan} with
 * the config's options, from one `Rng` stream per global row (so the same
 * step gives the same rows after a resume). `span` is null when the row is
 * left as it is.
 */
function augmentRow(
  c: LmTrainConfig,
  ctx: number,
  g: number,
  row: Int32Array,
): { row: Int32Array; span: ReturnType<typeof repeatSpan>["span"] | null } {
  if (!(c.repeat_fraction > 0)) return { row, span: null };
  const rng = new Rng(c.seed, `lm/repeat${stageStream(c, ctx)}/${g}`);
  if (!(rng.uniform() < c.repeat_fraction)) return { row, span: null };
  return repeatSpan(row, c.repeat_span, rng, {
    maxFraction: c.repeat_max_fraction ?? ABSENT.repeat_max_fraction,
    maxCopies: c.repeat_copies ?? ABSENT.repeat_copies,
    randomIds: c.repeat_random_ids,
    draw: c.repeat_span_draw ?? ABSENT.repeat_span_draw,
  });
}

/** What {@link augmentedTokenShare} counts. */
export interface AugmentedShare {
  /** Fraction of all training tokens (positions 1 … ctx of every row of every step) the augmentation wrote. */
  share: number;
  /** The same per curriculum row length. */
  by_ctx: Record<number, number>;
  /** Training tokens counted. */
  tokens: number;
}

/**
 * How much of a run's training text the copied-span augmentation replaced:
 * the copies, plus the source span when `repeat_random_ids` overwrites it with
 * random ids, over every row of all `total_steps` steps. It replays the
 * spans {@link LmBatches} draws (they depend on the seed, the stage and the
 * row index, not on the text), so it needs no corpus.
 *
 * @example
 * ```ts
 * import { augmentedTokenShare, defaultLmTrainConfig } from "./train.ts";
 * const c = defaultLmTrainConfig({ n_ctx: 64, batch_rows: 2, total_steps: 10, repeat_fraction: 1, repeat_span: [4, 8] });
 * const a = augmentedTokenShare(c); // one copy of 4–8 tokens per row of 64
 * a.share > 4 / 64 && a.share <= 8 / 64; // true
 * ```
 */
export function augmentedTokenShare(c: LmTrainConfig): AugmentedShare {
  const written = new Map<number, number>(), seen = new Map<number, number>();
  for (let step = 0; step < c.total_steps; step++) {
    const st = lmStage(c, step);
    const blank = new Int32Array(st.ctx + 1);
    for (let g = (step - st.from) * st.rows; g < (step - st.from + 1) * st.rows; g++) {
      const { span } = augmentRow(c, st.ctx, g, blank);
      const w = span === null ? 0 : span.len * (span.copies + (c.repeat_random_ids ? 1 : 0));
      written.set(st.ctx, (written.get(st.ctx) ?? 0) + w);
      seen.set(st.ctx, (seen.get(st.ctx) ?? 0) + st.ctx);
    }
  }
  let w = 0, t = 0;
  const by_ctx: Record<number, number> = {};
  for (const [ctx, n] of seen) {
    by_ctx[ctx] = (written.get(ctx) ?? 0) / n;
    w += written.get(ctx) ?? 0;
    t += n;
  }
  return { share: w / t, by_ctx, tokens: t };
}

/**
 * The deterministic batch stream of {@link trainLm}: step → rows. Each
 * curriculum stage (see {@link lmStage}) has its own stream of epochs (rows
 * cut at its length, `Rng` names suffixed `/ctx<len>`; the full-length stage
 * keeps the plain names), counted from the stage's first step.
 */
export class LmBatches {
  readonly #docs: readonly Int32Array[];
  readonly #cfg: LmTrainConfig;
  readonly #bos: number;
  #key = "";
  #rows: Int32Array[] = [];
  readonly #perEpoch = new Map<number, number>();
  /** Rows per epoch of full-length rows (constant: the same tokens are cut each epoch). */
  readonly rowsPerEpoch: number;

  constructor(docs: readonly Int32Array[], bos: number, cfg: LmTrainConfig) {
    this.#docs = docs;
    this.#cfg = cfg;
    this.#bos = bos;
    this.rowsPerEpoch = this.#epochRows(cfg.n_ctx, 0).length;
    if (this.rowsPerEpoch < 1) {
      const tokens = docs.reduce((s, d) => s + d.length, 0);
      throw new RangeError(`LM training data: ${tokens} tokens do not fill one row of ${cfg.n_ctx + 1} tokens`);
    }
  }

  #stream(ctx: number): string {
    return stageStream(this.#cfg, ctx);
  }

  #epochRows(ctx: number, epoch: number): Int32Array[] {
    const key = `${ctx}/${epoch}`;
    if (key !== this.#key) {
      this.#rows = epochRows(this.#docs, this.#bos, ctx, this.#cfg.seed, epoch, this.#stream(ctx));
      this.#key = key;
      this.#perEpoch.set(ctx, this.#rows.length);
    }
    return this.#rows;
  }

  /** Rows of 0-based step `step`, `[rows][ctx + 1]` of its curriculum stage. */
  rows(step: number): Int32Array[] {
    const c = this.#cfg;
    const st = lmStage(c, step);
    const perEpoch = this.#perEpoch.get(st.ctx) ?? this.#epochRows(st.ctx, 0).length;
    const out: Int32Array[] = [];
    for (let g = (step - st.from) * st.rows; g < (step - st.from + 1) * st.rows; g++) {
      const row = this.#epochRows(st.ctx, Math.floor(g / perEpoch))[g % perEpoch] as Int32Array;
      out.push(augmentRow(c, st.ctx, g, row).row);
    }
    return out;
  }

  /**
   * Absolute position of each row's first token at 0-based step `step`
   * (`[rows]`, parallel to {@link rows}): all 0 for full-length rows and under
   * `ctx_offsets` "zero" (or absent); under "random", for short rows of `ctx`
   * positions, uniform in `[0, n_ctx − ctx]` from `Rng(seed, "lm/offset/ctx<ctx>/<g>")`
   * of global row g, so the same step gives the same offsets after a resume.
   */
  offsets(step: number): Int32Array {
    const c = this.#cfg;
    const st = lmStage(c, step);
    const out = new Int32Array(st.rows);
    if ((c.ctx_offsets ?? ABSENT.ctx_offsets) === "zero" || st.ctx === c.n_ctx) return out;
    const g0 = (step - st.from) * st.rows;
    for (let i = 0; i < st.rows; i++) {
      out[i] = new Rng(c.seed, `lm/offset${this.#stream(st.ctx)}/${g0 + i}`).int(c.n_ctx - st.ctx + 1);
    }
    return out;
  }

  /** Epoch (fractional) reached after `step` steps: tokens trained on over tokens per epoch. */
  epochAt(step: number): number {
    return (step * this.#cfg.batch_rows) / this.rowsPerEpoch;
  }
}

/** Inputs `[rows, n_ctx]` and flat targets of some rows of n_ctx + 1 tokens. */
function splitRows(rows: readonly Int32Array[]): { input: Int32Array; target: Int32Array; T: number } {
  const T = (rows[0]?.length ?? 1) - 1;
  const input = new Int32Array(rows.length * T);
  const target = new Int32Array(rows.length * T);
  rows.forEach((r, i) => {
    if (r.length !== T + 1) throw new RangeError(`LM rows: row ${i} has ${r.length} tokens, expected ${T + 1}`);
    input.set(r.subarray(0, T), i * T);
    target.set(r.subarray(1), i * T);
  });
  return { input, target, T };
}

/**
 * Mean next-token cross-entropy of `logits` `[N, V]` against `targets` (length
 * N), with the fused gradient `(softmax − onehot)/N`. Differentiable
 * with respect to the logits.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { fusedCrossEntropy } from "./train.ts";
 * const loss = fusedCrossEntropy(tf.zeros([2, 4]), new Int32Array([1, 3])); // ln 4
 * ```
 */
export function fusedCrossEntropy(logits: tf.Tensor2D, targets: Int32Array): tf.Scalar {
  return softmaxCrossEntropy(logits, targets);
}

/**
 * Sums of the next-token loss per position over some rows of n_ctx + 1 tokens
 * (position j predicts token j + 1), evaluated `chunkRows` rows at a time;
 * `onRow` also receives each row's losses.
 *
 * @example
 * ```ts
 * // const { sum, count } = lossByPosition(model, validationRows(docs, 0, 1024, 16));
 * // const meanAt = (j: number) => sum[j] / count;
 * ```
 */
export function lossByPosition(
  model: Gpt2,
  rows: readonly Int32Array[],
  chunkRows = 1,
  onRow?: (row: number, losses: Float32Array) => void,
): { sum: Float64Array; count: number } {
  const T = (rows[0]?.length ?? 1) - 1;
  const sum = new Float64Array(T);
  for (let r0 = 0; r0 < rows.length; r0 += chunkRows) {
    const chunk = rows.slice(r0, r0 + chunkRows);
    const { input, target } = splitRows(chunk);
    const n = chunk.length;
    const losses = tf.tidy(() => {
      const logits = model.forward(tf.tensor2d(input, [n, T], "int32"));
      const V = logits.shape[2];
      const logp = tf.logSoftmax(tf.reshape(logits, [n * T, V]) as tf.Tensor2D);
      const flat = new Int32Array(n * T);
      for (let i = 0; i < n * T; i++) flat[i] = i * V + (target[i] as number);
      return tf.neg(tf.gather(tf.reshape(logp, [-1]), flat));
    });
    const host = losses.dataSync();
    losses.dispose();
    for (let i = 0; i < n * T; i++) sum[i % T] = (sum[i % T] as number) + (host[i] as number);
    if (onRow) { for (let r = 0; r < n; r++) onRow(r0 + r, (host as Float32Array).slice(r * T, (r + 1) * T)); }
  }
  return { sum, count: rows.length };
}

/** One training-history row. */
export interface LmLogEntry {
  /** 1-based step just taken. */
  step: number;
  /** Training tokens seen after it. */
  tokens: number;
  /** Mean training loss of the step's batch. */
  loss: number;
  /** Learning rate used. */
  lr: number;
  /** Global gradient norm before clipping. */
  grad_norm: number;
  /** Seconds of training (this run and previous runs of the same checkpoint). */
  elapsed_s: number;
}

/** One validation evaluation. */
export interface LmEvalEntry {
  step: number;
  /** Mean validation loss over `eval_rows` rows. */
  val_loss: number;
}

/** Checkpointing and run control of {@link trainLm}. */
export interface TrainLmOptions {
  /** Folder of resumable checkpoints (none when omitted). */
  checkpointDir?: string;
  /** Checkpoint file prefix (default "lm"). */
  prefix?: string;
  /** Resume from the newest checkpoint in `checkpointDir` (default true). */
  resume?: boolean;
  /** Stop after this step (checkpointing it), as an interrupted run would; default total_steps. */
  stopAtStep?: number;
  /** Stops between steps (checkpointing the current step). */
  signal?: AbortSignal;
  /** Show a progress bar (default true). */
  progress?: boolean;
  /** Label of the progress bar. */
  label?: string;
  /** Called after every step. */
  onStep?: (entry: LmLogEntry) => void;
  /**
   * Called after each periodic validation (every `eval_every` steps and at
   * the end), before the checkpoint of that step is written, with the model
   * in its trained state (e.g. to measure more than the validation loss).
   */
  onEval?: (step: number, model: Gpt2) => void | Promise<void>;
  /**
   * Split the fused attention between this thread and a Worker (see
   * {@link trainStep}); default: {@link useAttentionWorker}. Results are
   * bit-for-bit the same either way, so it is not part of the config.
   */
  attentionWorker?: boolean;
}

/** What {@link trainLm} returns. */
export interface LmTrainResult {
  /** One row per step (including steps of earlier runs restored from the checkpoint). */
  history: LmLogEntry[];
  /** Validation evaluations. */
  evals: LmEvalEntry[];
  /** Steps completed. */
  step: number;
  /** Step this run started from (0 unless resumed). */
  startStep: number;
  /** True when stopped before total_steps (stopAtStep or signal). */
  stopped: boolean;
  /** Rows per epoch of the training data. */
  rowsPerEpoch: number;
}

/** Training stopped because the loss diverged. */
export class LmDivergenceError extends Error {
  /** 1-based step that diverged. */
  readonly step: number;
  /** Step of the last good checkpoint, or null. */
  readonly lastCheckpoint: number | null;
  constructor(step: number, what: string, lastCheckpoint: number | null) {
    super(
      `LM training diverged at step ${step}: ${what}; ` +
        (lastCheckpoint === null
          ? "no checkpoint was written"
          : `the last good checkpoint (step ${lastCheckpoint}) is kept`) +
        " — lower the learning rate or raise warmup_steps",
    );
    this.name = "LmDivergenceError";
    this.step = step;
    this.lastCheckpoint = lastCheckpoint;
  }
}

interface LmCheckpointState {
  format: "lm-train/1";
  step: number;
  config: LmTrainConfig;
  history: LmLogEntry[];
  evals: LmEvalEntry[];
  elapsed_s: number;
  min_loss: number;
}

/**
 * Trains `model` in place (see the module notes). Resumes from the newest
 * checkpoint in `opts.checkpointDir` when there is one, after checking that it
 * was written with the same config and model shape.
 *
 * @throws {LmDivergenceError} when the loss diverges (the last good checkpoint is kept)
 */
export async function trainLm(
  model: Gpt2,
  data: LmData,
  cfg: LmTrainConfig,
  opts: TrainLmOptions = {},
): Promise<LmTrainResult> {
  validateLmTrainConfig(cfg);
  if (cfg.n_ctx > model.cfg.n_ctx) {
    throw new RangeError(`LmTrainConfig.n_ctx ${cfg.n_ctx} exceeds the model's n_ctx ${model.cfg.n_ctx}`);
  }
  if (cfg.repeat_random_ids) {
    const [a, b] = cfg.repeat_random_ids;
    if (b > model.cfg.d_vocab || (data.bos >= a && data.bos < b)) {
      throw new RangeError(
        `LmTrainConfig.repeat_random_ids: expected a range inside the vocabulary [0, ${model.cfg.d_vocab}) ` +
          `that leaves out BOS ${data.bos}, got [${a}, ${b})`,
      );
    }
  }
  const batches = new LmBatches(data.train, data.bos, cfg);
  const evalRows = validationRows(data.validation, data.bos, cfg.n_ctx, cfg.eval_rows);
  if (evalRows.length === 0) throw new RangeError(`LM validation data do not fill one row of ${cfg.n_ctx + 1} tokens`);
  const prefix = opts.prefix ?? "lm";
  const names = [...model.params.keys()];
  const optimizer = fusedAdam(cfg.lr, cfg.adam_beta1, cfg.adam_beta2, cfg.adam_epsilon);
  let history: LmLogEntry[] = [];
  let evals: LmEvalEntry[] = [];
  let step = 0;
  let elapsedBefore = 0;
  let minLoss = Infinity;
  let lastCheckpoint: number | null = null;
  try {
    const resumed = opts.checkpointDir && (opts.resume ?? true)
      ? await resumeLm(opts.checkpointDir, prefix, cfg, model, optimizer, names)
      : null;
    if (resumed) {
      ({ history, evals, step, min_loss: minLoss, elapsed_s: elapsedBefore } = resumed);
      lastCheckpoint = step;
    }
    const watch = new DivergenceWatch(cfg, minLoss);
    const startStep = step;
    const worker = opts.attentionWorker ?? useAttentionWorker(cfg);
    const stopAt = Math.min(opts.stopAtStep ?? cfg.total_steps, cfg.total_steps);
    const bar = (opts.progress ?? true)
      ? progress({ total: Math.max(0, stopAt - startStep), label: opts.label ?? `train-lm from step ${startStep}` })
      : null;
    const t0 = performance.now();
    const elapsed = () => elapsedBefore + (performance.now() - t0) / 1000;
    const save = async () => {
      if (!opts.checkpointDir) return;
      const state: LmCheckpointState = {
        format: "lm-train/1",
        step,
        config: cfg,
        history,
        evals,
        elapsed_s: elapsed(),
        min_loss: watch.minLoss,
      };
      await saveCheckpoint(opts.checkpointDir, { step, tensors: await snapshot(model, optimizer, names), state }, {
        prefix,
      });
      lastCheckpoint = step;
    };
    let stopped = false;
    while (step < stopAt) {
      if (opts.signal?.aborted) {
        stopped = true;
        break;
      }
      const lr = lmLearningRate(cfg, step);
      const stage = lmStage(cfg, step);
      const stepCfg = stage.ctx === cfg.n_ctx ? cfg : { ...cfg, micro_batch_rows: stage.micro };
      const offsets = (cfg.ctx_offsets ?? ABSENT.ctx_offsets) === "zero" ? undefined : batches.offsets(step);
      const only = lmWpeOnly(cfg, step)
        ? ["wpe.weight"]
        : step < (cfg.wpe_hold_steps ?? ABSENT.wpe_hold_steps)
        ? names.filter((n) => n !== "wpe.weight")
        : undefined;
      const { loss, gradNorm } = trainStep(model, optimizer, batches.rows(step), stepCfg, lr, worker, offsets, only);
      // parameters were updated only after the finiteness check (see trainStep)
      watch.observe(step + 1, loss, gradNorm, lastCheckpoint);
      step++;
      const entry: LmLogEntry = {
        step,
        tokens: step * cfg.batch_rows * cfg.n_ctx,
        loss,
        lr,
        grad_norm: gradNorm,
        elapsed_s: elapsed(),
      };
      history.push(entry);
      opts.onStep?.(entry);
      if ((cfg.eval_every > 0 && step % cfg.eval_every === 0) || step === cfg.total_steps) {
        evals.push({ step, val_loss: validationLoss(model, evalRows, cfg.micro_batch_rows) });
        await opts.onEval?.(step, model);
      }
      bar?.tick(1, { step, loss, lr, ...(evals.length ? { val: (evals.at(-1) as LmEvalEntry).val_loss } : {}) });
      if (watch.suspicious === 0 && (step % cfg.checkpoint_every === 0 || step === stopAt)) await save();
      if (step % 8 === 0) await new Promise((res) => setTimeout(res, 0)); // let abort signals arrive
    }
    if (stopped && watch.suspicious === 0 && lastCheckpoint !== step) await save();
    await bar?.done();
    return {
      history,
      evals,
      step,
      startStep,
      stopped: stopped || step < cfg.total_steps,
      rowsPerEpoch: batches.rowsPerEpoch,
    };
  } finally {
    optimizer.dispose();
  }
}

/**
 * The divergence rule of the module notes: a non-finite loss or gradient norm
 * throws at once; a loss above `divergence_factor ×` the running minimum for
 * `divergence_patience` consecutive steps throws too.
 */
class DivergenceWatch {
  /** Consecutive suspicious steps so far (no checkpoint is written while > 0). */
  suspicious = 0;
  /** The running minimum of the loss. */
  minLoss: number;
  readonly #cfg: LmTrainConfig;

  constructor(cfg: LmTrainConfig, minLoss: number) {
    this.#cfg = cfg;
    this.minLoss = minLoss;
  }

  /**
   * Takes the result of 1-based step `step`.
   *
   * @throws {LmDivergenceError} naming `step` and the last good checkpoint
   */
  observe(step: number, loss: number, gradNorm: number, lastCheckpoint: number | null): void {
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      throw new LmDivergenceError(step, `the loss is ${loss} and the gradient norm ${gradNorm}`, lastCheckpoint);
    }
    const { divergence_factor: factor, divergence_patience: patience } = this.#cfg;
    if (loss > factor * this.minLoss) this.suspicious++;
    else this.suspicious = 0;
    this.minLoss = Math.min(this.minLoss, loss);
    if (this.suspicious >= patience) {
      throw new LmDivergenceError(
        step,
        `the loss ${loss.toFixed(4)} stayed above ${factor}× the running minimum ` +
          `${this.minLoss.toFixed(4)} for ${this.suspicious} steps`,
        lastCheckpoint,
      );
    }
  }
}

/** The newest checkpoint's state after restoring its parameters and Adam moments, or null when there is none. */
async function resumeLm(
  dir: string,
  prefix: string,
  cfg: LmTrainConfig,
  model: Gpt2,
  optimizer: FusedAdamOptimizer,
  names: string[],
): Promise<LmCheckpointState | null> {
  const loaded = await loadLatestCheckpoint<LmCheckpointState>(dir, { prefix });
  if (!loaded) return null;
  checkResumable(loaded.state, cfg, loaded.recordPath);
  await restore(model, optimizer, names, loaded.tensors, loaded.tensorsPath, loaded.state.step);
  return loaded.state;
}

/** Mean next-token loss over the validation rows (every position weighted equally). */
function validationLoss(model: Gpt2, evalRows: Int32Array[], microRows: number): number {
  const { sum, count } = lossByPosition(model, evalRows, microRows);
  return sum.reduce((a, b) => a + b, 0) / (count * sum.length);
}

/**
 * Whether full-size LM training splits attention over two threads: on for
 * rows of ≥ 512 tokens on a machine with ≥ 2 cores (bit-for-bit the same
 * result; `bench/README.md` has the speed-up), off with
 * `SAE_ATTENTION_WORKER=0` or for small rows, where the Worker costs more than
 * it saves.
 *
 * @example
 * ```ts
 * import { defaultLmTrainConfig, useAttentionWorker } from "./train.ts";
 * useAttentionWorker(defaultLmTrainConfig({ n_ctx: 128 })); // false
 * ```
 */
export function useAttentionWorker(lm: LmTrainConfig): boolean {
  return attentionWorkerSetting() ?? (lm.n_ctx >= 512 && (navigator.hardwareConcurrency ?? 1) >= 2);
}

/**
 * One optimiser step on `rows` (`[batch_rows][n_ctx + 1]`): gradients summed
 * over micro-batches, clipped, then AdamW — unless the loss or the gradient
 * norm is not finite, in which case nothing is updated. `offsets` (`[rows]`,
 * optional): the absolute position of each row's first input token (see
 * {@link LmBatches.offsets}); omitted: 0. `only` (optional): the names of the
 * parameters to update (their gradient norm is the one clipped and
 * returned); omitted: all.
 */
export function trainStep(
  model: Gpt2,
  optimizer: FusedAdamOptimizer,
  rows: Int32Array[],
  cfg: LmTrainConfig,
  lr: number,
  attentionWorker: boolean = attentionWorkerRequested(),
  offsets?: Int32Array,
  only?: readonly string[],
): { loss: number; gradNorm: number } {
  if (offsets !== undefined && offsets.length !== rows.length) {
    throw new RangeError(`trainStep: ${offsets.length} position offsets for ${rows.length} rows`);
  }
  // attention's (row, head) pairs on two threads (engine/kernels/attention_pool.ts): SAE_ATTENTION_WORKER=1 or
  // TrainLmOptions.attentionWorker; bit-for-bit the one-thread result
  const blas = attentionWorker ? fusedLmOps()?.blas ?? null : null;
  const pool = blas === null ? null : sharedAttentionPool(blas);
  return usingAttentionPool(pool, () => trainStepOn(model, optimizer, rows, cfg, lr, offsets, only));
}

function trainStepOn(
  model: Gpt2,
  optimizer: FusedAdamOptimizer,
  rows: Int32Array[],
  cfg: LmTrainConfig,
  lr: number,
  offsets: Int32Array | undefined,
  only: readonly string[] | undefined,
): { loss: number; gradNorm: number } {
  const nMicro = rows.length / cfg.micro_batch_rows;
  const vars = only === undefined ? model.trainableVariables() : only.map((n) => {
    const v = model.params.get(n);
    if (v === undefined) throw new RangeError(`trainStep: the model has no parameter "${n}"`);
    return v;
  });
  const { grads, lossSum } = summedGradients(model, rows, cfg.micro_batch_rows, vars, offsets);
  try {
    const gradNorm = globalNorm(grads) / nMicro;
    const loss = lossSum / nMicro;
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) return { loss, gradNorm };
    const scale = (cfg.grad_clip > 0 && gradNorm > cfg.grad_clip ? cfg.grad_clip / gradNorm : 1) / nMicro;
    adamW(optimizer, vars, grads, scale, lr, cfg.weight_decay);
    return { loss, gradNorm };
  } finally {
    for (const g of Object.values(grads)) g.dispose();
  }
}

/**
 * Loss and gradients summed over the micro-batches of `rows` (`[rows][n_ctx + 1]`, `micro` rows each):
 * forward with the fused unembedding + cross-entropy (no `[micro·pos, d_vocab]` logits on the fused path),
 * backward. The gradients belong to the caller (freed here only when a micro-batch throws).
 */
function summedGradients(
  model: Gpt2,
  rows: Int32Array[],
  micro: number,
  vars: tf.Variable[],
  offsets: Int32Array | undefined,
): { grads: tf.NamedTensorMap; lossSum: number } {
  const nMicro = rows.length / micro;
  let acc: tf.NamedTensorMap | null = null;
  let lossSum = 0;
  try {
    for (let m = 0; m < nMicro; m++) {
      const { input, target, T } = splitRows(rows.slice(m * micro, (m + 1) * micro));
      const tokens = tf.tensor2d(input, [micro, T], "int32");
      const off = offsets?.subarray(m * micro, (m + 1) * micro); // [micro]
      const { value, grads } = tf.variableGrads(() => model.nextTokenLoss(tokens, target, off), vars);
      activeAttentionPool()?.reset(); // the backward pass is done with the arena
      tokens.dispose();
      lossSum += value.dataSync()[0] as number;
      value.dispose();
      if (acc === null) acc = grads;
      else {
        const prev: tf.NamedTensorMap = acc;
        acc = {};
        for (const [k, g] of Object.entries(grads)) {
          acc[k] = tf.add(prev[k] as tf.Tensor, g);
          g.dispose();
          (prev[k] as tf.Tensor).dispose();
        }
      }
    }
  } catch (e) {
    if (acc) { for (const g of Object.values(acc)) g.dispose(); }
    throw e;
  }
  return { grads: acc as tf.NamedTensorMap, lossSum };
}

/** The global ℓ2 norm of the gradients (one host read). */
function globalNorm(grads: tf.NamedTensorMap): number {
  const sq = tf.tidy(() => tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
  const norm = Math.sqrt(sq.dataSync()[0] as number);
  sq.dispose();
  return norm;
}

/**
 * AdamW: the gradients times `scale` (clipping and the micro-batch mean), decoupled weight decay
 * `p ← p·(1 − lr·wd)` on matrices (rank ≥ 2), then fused Adam at `lr`. `grads` stay the caller's.
 */
function adamW(
  optimizer: FusedAdamOptimizer,
  vars: tf.Variable[],
  grads: tf.NamedTensorMap,
  scale: number,
  lr: number,
  weightDecay: number,
): void {
  const scaled: tf.NamedTensorMap = {};
  for (const [k, g] of Object.entries(grads)) scaled[k] = scale === 1 ? g : tf.mul(g, scale);
  if (weightDecay > 0) {
    const keep = 1 - lr * weightDecay;
    for (const v of vars) {
      if (v.rank < 2) continue;
      const next = tf.mul(v, keep);
      v.assign(next);
      next.dispose();
    }
  }
  optimizer.learningRate = lr;
  optimizer.applyGradients(scaled);
  if (scale !== 1) { for (const g of Object.values(scaled)) g.dispose(); }
}

/** Parameters and Adam moments by Hugging Face name. */
async function snapshot(
  model: Gpt2,
  optimizer: FusedAdamOptimizer,
  names: string[],
): Promise<Map<string, TensorInput>> {
  const out = new Map<string, TensorInput>();
  const byVar = new Map<string, string>();
  for (const n of names) {
    const v = model.params.get(n) as tf.Variable;
    byVar.set(v.name, n);
    out.set(`param/${n}`, { shape: [...v.shape], data: v.dataSync() as Float32Array });
  }
  for (const w of await optimizer.getWeights()) {
    const m = /^(.*)\/(m|v)$/.exec(w.name);
    if (!m) {
      w.tensor.dispose(); // the iteration count, a fresh scalar (the moments are the optimiser's own)
      continue;
    }
    const hf = byVar.get(m[1] as string);
    if (hf === undefined) throw new Error(`LM checkpoint: optimiser slot "${w.name}" belongs to no model parameter`);
    out.set(`adam_${m[2]}/${hf}`, { shape: [...w.tensor.shape], data: w.tensor.dataSync() as Float32Array });
  }
  return out;
}

function checkResumable(state: LmCheckpointState, cfg: LmTrainConfig, file: string): void {
  if (state?.format !== "lm-train/1") throw new Error(`${file}: not an LM training checkpoint (format lm-train/1)`);
  const defaults = defaultLmTrainConfig();
  const keys = new Set([...Object.keys(cfg), ...Object.keys(ABSENT)]) as Set<keyof LmTrainConfig>;
  for (const k of keys) {
    if (k === "total_steps" || k === "eval_every" || k === "checkpoint_every") continue;
    // fields added later are absent from older checkpoints: optional ones mean ABSENT's value, others had the default
    const absent = (ABSENT as Partial<Record<keyof LmTrainConfig, unknown>>)[k];
    const was = JSON.stringify(state.config[k] ?? absent ?? defaults[k]), now = JSON.stringify(cfg[k] ?? absent);
    if (was !== now) {
      throw new Error(
        `${file}: written with ${k} = ${was}, this run has ${now}; ` +
          "resume with the same config or use a fresh checkpoint folder",
      );
    }
  }
}

/** A checkpoint's tensor `key` as a float array, checked against `shape`; throws naming `file`, the key and shapes. */
function checkpointArray(
  tensors: ReadonlyMap<string, { shape: number[]; data: unknown }>,
  key: string,
  shape: readonly number[],
  file: string,
): Float32Array {
  const t = tensors.get(key);
  if (!t) throw new Error(`${file}: checkpoint has no tensor "${key}"`);
  if (t.shape.join() !== shape.join()) {
    throw new Error(`${file}: "${key}" has shape [${t.shape}], the model needs [${shape}]`);
  }
  return t.data as Float32Array;
}

/**
 * Sets the model's parameters from an LM training checkpoint's tensors
 * (`param/<name>`, as {@link trainLm} writes them; `loadCheckpoint` of
 * `lib/io/checkpoint.ts` reads them), leaving any optimiser state aside:
 * for measuring a checkpoint without resuming its training.
 *
 * @throws {Error} naming `file` and the tensor when one is missing or has another shape
 *
 * @example
 * ```ts
 * // const ckpt = await loadCheckpoint(".../lm-0000000600.json");
 * // loadLmParams(model, ckpt.tensors, ".../lm-0000000600.json");
 * ```
 */
export function loadLmParams(
  model: Gpt2,
  tensors: ReadonlyMap<string, { shape: number[]; data: unknown }>,
  file: string,
  names: readonly string[] = [...model.params.keys()],
): void {
  for (const n of names) {
    const v = model.params.get(n) as tf.Variable;
    const p = tf.tensor(checkpointArray(tensors, `param/${n}`, v.shape, file), v.shape, "float32");
    v.assign(p);
    p.dispose();
  }
}

async function restore(
  model: Gpt2,
  optimizer: FusedAdamOptimizer,
  names: string[],
  tensors: Map<string, { shape: number[]; data: unknown }>,
  file: string,
  step: number,
): Promise<void> {
  loadLmParams(model, tensors, file, names);
  const ms: { name: string; tensor: tf.Tensor }[] = [];
  const vs: { name: string; tensor: tf.Tensor }[] = [];
  for (const n of names) {
    if (!tensors.has(`adam_m/${n}`)) continue;
    const v = model.params.get(n) as tf.Variable;
    const moment = (kind: "m" | "v") =>
      tf.tensor(checkpointArray(tensors, `adam_${kind}/${n}`, v.shape, file), v.shape, "float32");
    ms.push({ name: `${v.name}/m`, tensor: moment("m") });
    vs.push({ name: `${v.name}/v`, tensor: moment("v") });
  }
  const iter = tf.scalar(step, "int32");
  await optimizer.setWeights([{ name: "iter", tensor: iter }, ...ms, ...vs]);
  iter.dispose();
  for (const w of [...ms, ...vs]) w.tensor.dispose();
}

/** Throughput of {@link measureLmThroughput}. */
export interface LmThroughput {
  /** Tokens per wall-clock second (forward + backward + AdamW). */
  tokensPerSecond: number;
  /** Tokens per second of this process's CPU time (user + system, all threads). */
  tokensPerCpuSecond: number;
  /** Wall milliseconds per step, each step. */
  stepMs: number[];
  /** Machine load average (1 min) at the end, when readable. */
  loadAverage: number | null;
}

/** This process's CPU time (user + system) in ms, from /proc (null where unavailable). */
export function processCpuMs(): number | null {
  try {
    const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

/** The 1-minute load average (`/proc/loadavg`), null where it cannot be read: timings on a shared machine need it. */
export function loadAverage(): number | null {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return null;
  }
}

/**
 * Measures training throughput of `model` on random tokens: `warmup` steps,
 * then `steps` timed steps of `cfg.batch_rows` rows of `cfg.n_ctx` positions.
 * The model's parameters are changed (use a throwaway model).
 *
 * @example
 * ```ts
 * // const t = measureLmThroughput(Gpt2.random(cfg, 0), defaultLmTrainConfig({ batch_rows: 1 }), 3);
 * // console.log(t.tokensPerSecond);
 * ```
 */
export function measureLmThroughput(model: Gpt2, cfg: LmTrainConfig, steps = 3, warmup = 1): LmThroughput {
  const optimizer = fusedAdam(cfg.lr, cfg.adam_beta1, cfg.adam_beta2, cfg.adam_epsilon);
  const rng = new Rng(cfg.seed, "lm/measure");
  const rows = () =>
    Array.from({ length: cfg.batch_rows }, () => {
      const r = new Int32Array(cfg.n_ctx + 1);
      for (let i = 0; i < r.length; i++) r[i] = rng.int(model.cfg.d_vocab);
      return r;
    });
  try {
    for (let i = 0; i < warmup; i++) trainStep(model, optimizer, rows(), cfg, cfg.lr);
    const stepMs: number[] = [];
    const c0 = processCpuMs();
    for (let i = 0; i < steps; i++) {
      const batch = rows();
      const t = performance.now();
      trainStep(model, optimizer, batch, cfg, cfg.lr);
      stepMs.push(performance.now() - t);
    }
    const wall = stepMs.reduce((a, b) => a + b, 0);
    const cpu = c0 === null ? null : (processCpuMs() as number) - c0;
    const tokens = steps * cfg.batch_rows * cfg.n_ctx;
    return {
      tokensPerSecond: tokens / (wall / 1000),
      tokensPerCpuSecond: cpu === null || cpu <= 0 ? NaN : tokens / (cpu / 1000),
      stepMs,
      loadAverage: loadAverage(),
    };
  } finally {
    optimizer.dispose();
  }
}
