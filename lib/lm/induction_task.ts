/**
 * A synthetic check of when induction heads form: a small GPT-2 trained from
 * scratch on rows of uniformly random tokens whose second half repeats the
 * first. The first half cannot be predicted (loss ≈ ln(vocab − 1)); the second
 * half can, by copying, once a previous-token head and an induction head have
 * formed, and its loss then falls by several nats within a few hundred steps.
 *
 * The project uses it to separate two explanations of a language model that
 * does not learn to copy: a defect in the trainer (then even short rows fail)
 * or the difficulty of forming the heads over 1024 learned positions (then
 * short rows succeed and long rows do not). Conditions vary the row length,
 * the positional-embedding start ({@link Gpt2InitOptions}) and a short-row
 * curriculum; `scripts/induction_formation.ts` runs them into
 * `data/embedded/induction_formation.json`, which notebook 09 shows.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { fusedAdam } from "../engine/kernels/adam.ts";
import { Rng } from "../engine/rng.ts";
import { defaultGpt2Config } from "./config.ts";
import { Gpt2, type Gpt2InitOptions } from "./gpt2.ts";
import { defaultLmTrainConfig, repeatSpan, trainStep } from "./train.ts";
import { figure, lineTrace } from "../plot/mod.ts";
import type { Figure } from "../plot/types.ts";

/** One earlier stage of a condition: steps up to `until_step` (inclusive) train on rows of `2 · half` tokens. */
export interface InductionStage {
  until_step: number;
  half: number;
}

/** One condition of the experiment. */
export interface InductionCondition {
  /** Name (legend). */
  name: string;
  /** Length of the repeated half after the stages; rows hold 2·half tokens (+1 target). */
  half: number;
  /**
   * Rows per step after the stages. Tokens per step (rows · 2 · half) are the
   * same in every stage: a stage of half h trains rows · half / h rows.
   */
  rows: number;
  /** Shorthand for one stage of rows of 64 tokens up to this step (`stages` wins when both are set); 0/absent: none. */
  short_steps?: number;
  /** Earlier stages with shorter rows, `until_step` increasing, each `half` dividing `rows · half`. */
  stages?: readonly InductionStage[];
  /**
   * Absolute positions of the stage rows: `"zero"` (absent: the same) at
   * positions 0 … 2·h − 1; `"random"`: each stage row at an offset uniform in
   * `[0, n_ctx − 2·h]` (`Rng(seed, "induction-task/<name>/offsets")`), so every
   * positional embedding of the long rows is trained during the stages.
   */
  short_offsets?: "zero" | "random";
  /** Initial positional embeddings. */
  wpe: NonNullable<Gpt2InitOptions["wpe"]>;
  /** Model width for this condition (absent: the config's). */
  d_model?: number;
  /** Heads for this condition (absent: the config's). */
  n_head?: number;
  /** Layers for this condition (absent: the config's). */
  n_layer?: number;
  /** Vocabulary for this condition, training and evaluation rows alike (absent: the config's). */
  vocab?: number;
  /** Peak learning rate for this condition (absent: the config's). */
  lr?: number;
  /**
   * Training rows: `"repeat"` (absent: the same) repeat their first half, a
   * copy always `half` back; `"varied"`: uniformly random rows in which one span
   * of half/2 tokens is copied to a later place ({@link repeatSpan} at a
   * quarter of the row), so the copy distance varies from row to row and only a
   * head that finds the earlier occurrence by content can predict it. The
   * evaluation rows are the repeated rows in every case. `"periodic"`: a
   * random segment of p tokens repeated to fill the row, p uniform in
   * [half/4, half] per row, so most targets are copies but the distance back
   * varies from row to row.
   */
  copies?: "repeat" | "varied" | "periodic";
}

/** The stages a condition trains before its final rows (from `stages`, else from `short_steps`). */
export function inductionStages(cond: InductionCondition): readonly InductionStage[] {
  const stages = cond.stages ?? ((cond.short_steps ?? 0) > 0 ? [{ until_step: cond.short_steps!, half: 32 }] : []);
  let prev = 0;
  for (const st of stages) {
    if (!(Number.isInteger(st.until_step) && st.until_step > prev)) {
      throw new Error(`induction condition "${cond.name}": stages: until_step must increase, got ${st.until_step}`);
    }
    if ((cond.rows * cond.half) % st.half !== 0 || st.half > cond.half) {
      throw new Error(
        `induction condition "${cond.name}": stage half ${st.half} must divide rows·half = ${cond.rows * cond.half} ` +
          `and not exceed half ${cond.half}`,
      );
    }
    prev = st.until_step;
  }
  return stages;
}

/** The model and optimiser settings shared by every condition. */
export interface InductionTaskConfig {
  vocab: number;
  n_layer: number;
  d_model: number;
  n_head: number;
  lr: number;
  steps: number;
  eval_every: number;
  eval_rows: number;
  seed: number;
}

/**
 * 2 layers × d_model 64 × 2 heads, 2048 tokens, lr 1e-3 (the LM trainer's other defaults: AdamW weight decay
 * 0.1, gradient clipping at 1), 800 steps, evaluated every 100 on 32 rows.
 */
export function defaultInductionTaskConfig(overrides: Partial<InductionTaskConfig> = {}): InductionTaskConfig {
  return {
    vocab: 2048,
    n_layer: 2,
    d_model: 64,
    n_head: 2,
    lr: 1e-3,
    steps: 800,
    eval_every: 100,
    eval_rows: 32,
    seed: 0,
    ...overrides,
  };
}

/** One evaluation: mean loss on the first half (unpredictable) and on the repeated half. */
export interface InductionPoint {
  step: number;
  tokens: number;
  first_half: number;
  second_half: number;
  /** first_half − second_half, nats. */
  gain: number;
}

/** A random row of `2·half + 1` tokens in 1..vocab−1 with one span of half/2 tokens copied `d` back, d varying. */
function variedCopyRow(rng: Rng, half: number, vocab: number): Int32Array {
  const r = Int32Array.from({ length: 2 * half + 1 }, () => 1 + rng.int(vocab - 1));
  const len = Math.max(1, Math.floor(half / 2));
  return repeatSpan(r, [len, len], rng, { maxFraction: 0.25 }).row;
}

/** A random segment of p tokens (p uniform in [half/4, half]) repeated to fill `2·half + 1` tokens. */
function periodicRow(rng: Rng, half: number, vocab: number): Int32Array {
  const lo = Math.max(1, Math.floor(half / 4));
  const p = lo + rng.int(half - lo + 1);
  const seg = Int32Array.from({ length: p }, () => 1 + rng.int(vocab - 1));
  return Int32Array.from({ length: 2 * half + 1 }, (_, i) => seg[i % p] as number);
}

/** A random row: `half` tokens in 1..vocab−1, the same `half` again, one more random target. */
function repeatedRow(rng: Rng, half: number, vocab: number): Int32Array {
  const r = new Int32Array(2 * half + 1);
  for (let i = 0; i < half; i++) r[i] = r[i + half] = 1 + rng.int(vocab - 1);
  r[2 * half] = 1 + rng.int(vocab - 1);
  return r;
}

/**
 * Mean loss over the first half (targets 1 … half−1, which no copy can
 * predict) and over the repeat (targets half+1 … 2·half−1, each the copy of
 * a token seen earlier; target `half` starts the repeat and is in neither).
 * Only the target log-probs leave the model (`lossPerToken`), 8 rows at a time.
 */
function halfLosses(model: Gpt2, rows: Int32Array[], half: number): { first: number; second: number } {
  const T = 2 * half;
  let first = 0, second = 0;
  for (let r0 = 0; r0 < rows.length; r0 += 8) {
    const chunk = rows.slice(r0, r0 + 8);
    const input = new Int32Array(chunk.length * T);
    chunk.forEach((r, i) => input.set(r.subarray(0, T), i * T));
    const loss = tf.tidy(() => {
      const tokens = tf.tensor2d(input, [chunk.length, T], "int32");
      return model.lossPerToken(model.forward(tokens), tokens); // [rows, T-1]
    });
    const l = loss.dataSync() as Float32Array;
    loss.dispose();
    for (let i = 0; i < chunk.length; i++) {
      for (let t = 0; t < T - 1; t++) {
        const v = l[i * (T - 1) + t] as number;
        if (t < half - 1) first += v;
        else if (t >= half) second += v;
      }
    }
  }
  return { first: first / (rows.length * (half - 1)), second: second / (rows.length * (half - 1)) };
}

/**
 * Trains one condition from scratch and returns its curve (one point per
 * `eval_every` steps, on fixed evaluation rows of the condition's length).
 * Same config and condition, same numbers.
 *
 * @example
 * ```ts
 * import { defaultInductionTaskConfig, runInductionCondition } from "./induction_task.ts";
 * const cfg = defaultInductionTaskConfig({ vocab: 16, d_model: 16, steps: 2, eval_every: 2, eval_rows: 2 });
 * const curve = runInductionCondition(cfg, { name: "tiny", half: 4, rows: 2, short_steps: 0, wpe: "normal" });
 * curve.length; // 1
 * ```
 */
export function runInductionCondition(
  cfg: InductionTaskConfig,
  cond: InductionCondition,
  onPoint?: (p: InductionPoint) => void,
): InductionPoint[] {
  const T = 2 * cond.half;
  const stages = inductionStages(cond);
  const vocab = cond.vocab ?? cfg.vocab, lr = cond.lr ?? cfg.lr;
  const model = Gpt2.random(
    defaultGpt2Config({
      n_layer: cond.n_layer ?? cfg.n_layer,
      d_model: cond.d_model ?? cfg.d_model,
      n_head: cond.n_head ?? cfg.n_head,
      n_ctx: T,
      d_vocab: vocab,
    }),
    cfg.seed,
    { wpe: cond.wpe },
  );
  const optimizer = fusedAdam(lr, 0.9, 0.95, 1e-8);
  const lm = defaultLmTrainConfig({ n_ctx: T, batch_rows: cond.rows, micro_batch_rows: cond.rows, lr });
  const trainRng = new Rng(cfg.seed, `induction-task/${cond.name}/train`);
  const evalRng = new Rng(cfg.seed, "induction-task/eval");
  const evalRows = Array.from({ length: cfg.eval_rows }, () => repeatedRow(evalRng, cond.half, vocab));
  const offsetRng = (cond.short_offsets ?? "zero") === "random"
    ? new Rng(cfg.seed, `induction-task/${cond.name}/offsets`)
    : null;
  const makeRow = { repeat: repeatedRow, varied: variedCopyRow, periodic: periodicRow }[cond.copies ?? "repeat"];
  const curve: InductionPoint[] = [];
  let tokens = 0;
  try {
    for (let s = 1; s <= cfg.steps; s++) {
      const stage = stages.find((st) => s <= st.until_step);
      const short = stage !== undefined;
      const half = stage?.half ?? cond.half;
      const n = (cond.rows * cond.half) / half;
      const rows = Array.from({ length: n }, () => makeRow(trainRng, half, vocab));
      const stepCfg = short ? { ...lm, n_ctx: 2 * half, batch_rows: n, micro_batch_rows: n } : lm;
      // stage rows at random absolute positions [offset, offset + 2·half) of the model's n_ctx, when asked
      const offsets = short && offsetRng !== null
        ? Int32Array.from({ length: n }, () => offsetRng.int(T - 2 * half + 1))
        : undefined;
      const { loss } = trainStep(model, optimizer, rows, stepCfg, lr, undefined, offsets);
      if (!Number.isFinite(loss)) throw new Error(`induction task "${cond.name}": loss ${loss} at step ${s}`);
      tokens += n * 2 * half;
      if (s % cfg.eval_every === 0) {
        const { first, second } = halfLosses(model, evalRows, cond.half);
        const p = { step: s, tokens, first_half: first, second_half: second, gain: first - second };
        curve.push(p);
        onPoint?.(p);
      }
    }
    return curve;
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

/** Rows of 128 whose segment of 16–64 random tokens repeats to fill the row (copying by content only). */
const PERIODIC_128: InductionCondition = {
  name: "rows of 128, segments of 16-64 repeated",
  half: 64,
  rows: 32,
  wpe: "normal",
  copies: "periodic",
};

/**
 * {@link PERIODIC_128} and one change at a time toward the LM pilots' settings (added after those pilots formed no
 * copying on rows of 128 of random-token copies): the pilots' learning rate and sinusoidal start. Single runs of one
 * seed each: where formation falls near the 800-step end, a later or earlier point is not resolved. The per-condition
 * `vocab`, `n_layer` and `d_model` overrides allow the pilots' vocabulary, depth and width as further conditions.
 */
const PERIODIC_128_VARIANTS: readonly InductionCondition[] = [
  PERIODIC_128,
  { ...PERIODIC_128, name: `${PERIODIC_128.name}, lr 2e-3`, lr: 2e-3 },
  { ...PERIODIC_128, name: `${PERIODIC_128.name}, sinusoidal start`, wpe: "sinusoid" },
];

/**
 * The conditions the project runs: short rows (64 tokens) as the control that
 * the trainer can form the heads at all, then rows of 1024 tokens with the
 * same tokens per step: GPT-2's normal positional start, the sinusoidal start,
 * 400 short-row steps first, and both; last, 400 short-row steps with each
 * short row at a random absolute position (every positional embedding trained).
 * Added later: gentler row growth, rows of 64 whose copies sit at varying
 * distances, and rows of 128 of repeated segments with one pilot setting
 * changed at a time.
 */
export const INDUCTION_CONDITIONS: readonly InductionCondition[] = [
  { name: "rows of 64", half: 32, rows: 64, wpe: "normal" },
  { name: "rows of 1024", half: 512, rows: 4, wpe: "normal" },
  { name: "rows of 1024, sinusoidal start", half: 512, rows: 4, wpe: "sinusoid" },
  { name: "rows of 1024 after 400 short-row steps", half: 512, rows: 4, short_steps: 400, wpe: "normal" },
  {
    name: "rows of 1024 after 400 short-row steps, sinusoidal start",
    half: 512,
    rows: 4,
    short_steps: 400,
    wpe: "sinusoid",
  },
  {
    name: "rows of 1024 after 400 short-row steps at random positions",
    half: 512,
    rows: 4,
    short_steps: 400,
    short_offsets: "random",
    wpe: "normal",
  },
  {
    name: "rows of 1024 after 400 steps of rows of 512",
    half: 512,
    rows: 4,
    stages: [{ until_step: 400, half: 256 }],
    wpe: "normal",
  },
  {
    name: "rows doubling 64, 128, 256, 512 (100 steps each), then 1024",
    half: 512,
    rows: 4,
    stages: [
      { until_step: 100, half: 32 },
      { until_step: 200, half: 64 },
      { until_step: 300, half: 128 },
      { until_step: 400, half: 256 },
    ],
    wpe: "normal",
  },
  { name: "rows of 64, copies at varied distances", half: 32, rows: 64, wpe: "normal", copies: "varied" },
  { name: "rows of 64, segments of 8-32 repeated", half: 32, rows: 64, wpe: "normal", copies: "periodic" },
  ...PERIODIC_128_VARIANTS,
];

/** The file `scripts/induction_formation.ts` writes. */
export interface InductionFormationRecord {
  format: "induction-formation/2";
  config: InductionTaskConfig;
  runs: { condition: InductionCondition; curve: InductionPoint[]; seconds: number }[];
}

/**
 * Reads `induction_formation.json`; throws naming the file and field when it
 * is not the format `scripts/induction_formation.ts` writes.
 */
export async function loadInductionFormation(path: string): Promise<InductionFormationRecord> {
  const raw = JSON.parse(await Deno.readTextFile(path)) as Partial<InductionFormationRecord>;
  if (raw.format !== "induction-formation/2") {
    throw new Error(`${path}: format: expected "induction-formation/2", got ${JSON.stringify(raw.format)}`);
  }
  if (!Array.isArray(raw.runs) || raw.runs.length === 0) throw new Error(`${path}: runs: expected a non-empty array`);
  raw.runs.forEach((r, i) => {
    if (!Array.isArray(r.curve) || r.curve.length === 0) throw new Error(`${path}: runs[${i}].curve: empty`);
    r.curve.forEach((q, k) => {
      for (const f of ["step", "tokens", "first_half", "second_half", "gain"] as const) {
        if (!Number.isFinite(q[f])) throw new Error(`${path}: runs[${i}].curve[${k}].${f}: not a number`);
      }
    });
  });
  return raw as InductionFormationRecord;
}

/** Copying gain (first half − repeated half) against training steps, one line per condition. */
export function inductionFormationFigure(rec: InductionFormationRecord): Figure {
  return figure(
    rec.runs.map((r, i) =>
      lineTrace(r.curve.map((q) => q.step), r.curve.map((q) => q.gain), {
        name: r.condition.name,
        mode: "lines+markers",
        markerSize: 6,
        // the colour cycle has 8 colours: later conditions repeat one, so they are dashed
        ...(i >= 8 ? { dash: "dash" as const } : {}),
      })
    ),
    {
      title: {
        text: `synthetic copying task: ${rec.config.n_layer} layers × d_model ${rec.config.d_model}, ` +
          `${rec.config.vocab} random tokens`,
      },
      xaxis: { title: { text: "training step" } },
      yaxis: { title: { text: "copying gain: loss on first half − loss on repeat (nats)" } },
      height: 480,
    },
  );
}
