/**
 * Benchmark rows `lm_train_step` and `lm_train_step_d256`: one optimiser step of the project's language-model
 * trainer (`lib/lm/train.ts` `trainStep`: forward, backward over micro-batches, gradient clipping, AdamW) on
 * random weights and random tokens, 8 rows of 1024 tokens per step, reported as achieved GFLOP/s
 * ({@link lmTrainFlops}). `lm_train_step` has the embedded default's shape of 2026-11 (4 layers, d_model 128,
 * 4 heads, vocabulary 8192); `lm_train_step_d256` the candidate new default (4 layers, d_model 256, 8 heads).
 * Each row also times a 1024³ matmul in the same process right before and right after its steps (the machine's
 * practical peak under the same load: the better of the two) and reports the step's fraction of it in its notes.
 *
 * FLOP convention ({@link lmTrainFlops}): 6 FLOPs per matmul parameter per token (forward 2, backward 4:
 * c_attn, attn c_proj, mlp c_fc, mlp c_proj, the tied unembedding; embeddings, LayerNorm, biases, softmax,
 * gelu and Adam are not counted), plus attention's q·kᵀ and P·v over the causal pairs only
 * (T(T+1)/2 per row, layer and head: 4·d_head FLOPs per pair forward, 12 forward + backward).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { fusedAdam } from "../lib/engine/kernels/adam.ts";
import { Rng } from "../lib/engine/rng.ts";
import { defaultGpt2Config } from "../lib/lm/config.ts";
import { Gpt2 } from "../lib/lm/gpt2.ts";
import { defaultLmTrainConfig, trainStep, useAttentionWorker } from "../lib/lm/train.ts";
import type { RowSpec } from "./row_spec.ts";

/** The shape of an LM benchmark step. */
export interface LmBenchShape {
  n_layer: number;
  d_model: number;
  n_head: number;
  d_vocab: number;
  /** Positions per row. */
  n_ctx: number;
  /** Rows per optimiser step. */
  rows: number;
  /** Rows per forward/backward pass. */
  micro: number;
}

/** The shipped embedded default's shape (2026-11): 4 layers, d_model 128, 4 heads, vocabulary 8192, 8 × 1024 tokens. */
export const LM_BENCH_D128: LmBenchShape = {
  n_layer: 4,
  d_model: 128,
  n_head: 4,
  d_vocab: 8192,
  n_ctx: 1024,
  rows: 8,
  micro: 8,
};

/** The candidate new default: d_model 256, 8 heads, otherwise as {@link LM_BENCH_D128}. */
export const LM_BENCH_D256: LmBenchShape = { ...LM_BENCH_D128, d_model: 256, n_head: 8 };

/**
 * Training FLOPs (forward + backward) of `tokens` tokens in rows of `n_ctx`
 * for a GPT-2 of this shape (d_mlp = 4·d_model): `6·N_matmul` per token, with
 * N_matmul = n_layer·(3d² + d² + 2·d·d_mlp) + d·d_vocab, plus
 * `12·d_model·(T + 1)/2` per token per layer for the causal half of attention.
 *
 * @example
 * ```ts
 * import { lmTrainFlops } from "./lm_train_row.ts";
 * lmTrainFlops({ n_layer: 4, d_model: 128, n_ctx: 1024, d_vocab: 8192 }, 8192) / 1e9; // ≈ 116
 * ```
 */
export function lmTrainFlops(
  s: { n_layer: number; d_model: number; n_ctx: number; d_vocab: number; d_mlp?: number },
  tokens: number,
): number {
  const d = s.d_model, dMlp = s.d_mlp ?? 4 * d;
  const nMatmul = s.n_layer * (4 * d * d + 2 * d * dMlp) + d * s.d_vocab;
  const attention = s.n_layer * 12 * d * (s.n_ctx + 1) / 2; // per token: causal pairs T(T+1)/2 per row of T
  return tokens * (6 * nMatmul + attention);
}

/** GFLOP/s of a 1024³ matmul, best of `reps` after one warm-up (the practical peak under the current load). */
export function matmulPeakGflops(reps = 5): number {
  const a = tf.randomNormal([1024, 1024], 0, 1, "float32", 1), b = tf.randomNormal([1024, 1024], 0, 1, "float32", 2);
  try {
    tf.matMul(a, b).dispose();
    let best = Infinity;
    for (let i = 0; i < reps; i++) {
      const t = performance.now();
      tf.matMul(a, b).dispose();
      best = Math.min(best, performance.now() - t);
    }
    return 2 * 1024 ** 3 / (best * 1e6);
  } finally {
    tf.dispose([a, b]);
  }
}

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

/** A GFLOP/s row of one LM training step at `shape`. */
export function lmTrainStepRow(name = "lm_train_step", shape: LmBenchShape = LM_BENCH_D128): RowSpec {
  return {
    name,
    unit: "GFLOP/s",
    reps: 3,
    warmup: 1,
    prepare() {
      const s = shape;
      const model = Gpt2.random(
        defaultGpt2Config({
          n_layer: s.n_layer,
          d_model: s.d_model,
          n_head: s.n_head,
          n_ctx: s.n_ctx,
          d_vocab: s.d_vocab,
        }),
        0,
      );
      const cfg = defaultLmTrainConfig({ n_ctx: s.n_ctx, batch_rows: s.rows, micro_batch_rows: s.micro });
      const optimizer = fusedAdam(cfg.lr, cfg.adam_beta1, cfg.adam_beta2, cfg.adam_epsilon);
      const rng = new Rng(0, `bench/${name}`);
      const rows = Array.from({ length: s.rows }, () => {
        const r = new Int32Array(s.n_ctx + 1);
        for (let i = 0; i < r.length; i++) r[i] = rng.int(s.d_vocab);
        return r;
      });
      const flops = lmTrainFlops(s, s.rows * s.n_ctx);
      // the embedded trainer's rule: two-thread attention for full-size rows on ≥ 2 cores (SAE_ATTENTION_WORKER=0/1)
      const worker = useAttentionWorker(cfg);
      const peakBefore = matmulPeakGflops();
      let best = Infinity;
      return {
        run() {
          const t = performance.now();
          trainStep(model, optimizer, rows, cfg, cfg.lr, worker);
          best = Math.min(best, performance.now() - t);
        },
        dispose() {
          optimizer.dispose();
          model.dispose();
        },
        flops,
        // read after the timed runs: the fraction of the matmul peak measured in this process just before and now
        get notes() {
          const g = flops / (best * 1e6), peak = Math.max(peakBefore, matmulPeakGflops());
          return `${s.n_layer} layers × d_model ${s.d_model}, ${s.n_head} heads, n_ctx ${s.n_ctx}, vocab ${s.d_vocab}, ` +
            `${s.rows} rows × ${s.n_ctx} tokens per step in micro-batches of ${s.micro}, attention on ` +
            `${worker ? "two threads" : "one thread"}; ` +
            `${(flops / 1e9).toFixed(1)} GFLOP per step (bench/lm_train_row.ts convention); ` +
            `step ${best.toFixed(0)} ms = ${(100 * g / peak).toFixed(0)}% of a 1024³ matmul's ` +
            `${peak.toFixed(0)} GFLOP/s (best of before and after the steps); load average ${loadAverage()}`;
        },
      };
    },
  };
}
