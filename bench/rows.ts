/**
 * The benchmark rows: what each one runs on tfjs, in which unit, and which
 * direction is better. `bench/torch_bench.py` defines the PyTorch twin of each
 * row that has one (same name, same shapes).
 *
 * @example
 * ```ts
 * import { ROWS } from "./rows.ts";
 * console.log(ROWS.map((r) => r.name));
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { ReferenceSaeStep } from "./reference_sae_step.ts";

/** A prepared benchmark: `run()` does one timed unit of work. */
export interface Prepared {
  run(): void;
  dispose(): void;
  /** Floating-point operations per run, for GFLOP/s rows. */
  flops?: number;
  notes?: string;
}

/** One row of the suite. */
export interface RowSpec {
  name: string;
  /** `GFLOP/s` (higher is better) or `ms` (lower is better). */
  unit: "GFLOP/s" | "ms";
  /** Timed repetitions (the minimum is reported); warm-up runs come first. */
  reps: number;
  warmup: number;
  /** Target on the tfjs / PyTorch ratio, e.g. `">= 0.7"` or `"<= 2"`. */
  target?: { op: ">=" | "<="; ratio: number };
  prepare(): Prepared | Promise<Prepared>;
}

function matmulRow(name: string, m: number, k: number, n: number, ta: boolean, tb: boolean): RowSpec {
  return {
    name,
    unit: "GFLOP/s",
    reps: 10,
    warmup: 2,
    target: { op: ">=", ratio: 0.7 },
    prepare() {
      const a = tf.randomNormal(ta ? [k, m] : [m, k], 0, 1, "float32", 1);
      const b = tf.randomNormal(tb ? [n, k] : [k, n], 0, 1, "float32", 2);
      return {
        run() {
          tf.matMul(a, b, ta, tb).dispose();
        },
        dispose() {
          tf.dispose([a, b]);
        },
        flops: 2 * m * k * n,
        notes: `[${m}×${k}]·[${k}×${n}]${ta ? " transposeA" : ""}${tb ? " transposeB" : ""}`,
      };
    },
  };
}

function saeStepRow(name: string, dIn: number, dSae: number, batch: number, reps: number): RowSpec {
  return {
    name,
    unit: "ms",
    reps,
    warmup: 2,
    target: { op: "<=", ratio: 2 },
    prepare() {
      const s = new ReferenceSaeStep(dIn, dSae, batch, 0);
      return {
        run: () => void s.step(),
        dispose: () => s.dispose(),
        notes: "bench/reference_sae_step.ts (tfjs ReLU SAE + ℓ1, engine fusedAdam)",
      };
    },
  };
}

/** All rows, in table order. */
export const ROWS: RowSpec[] = [
  matmulRow("matmul_1024", 1024, 1024, 1024, false, false),
  matmulRow("matmul_transpose_a", 1024, 1024, 1024, true, false),
  matmulRow("matmul_transpose_b", 1024, 1024, 1024, false, true),
  matmulRow("matmul_transpose_ab", 1024, 1024, 1024, true, true),
  matmulRow("matmul_1024x256x4096", 1024, 256, 4096, false, false),
  saeStepRow("sae_step_256x4096_b1024", 256, 4096, 1024, 10),
  saeStepRow("sae_step_768x24576_b512", 768, 24576, 512, 4),
];
