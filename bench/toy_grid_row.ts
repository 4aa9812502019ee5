/**
 * Benchmark row `toy_grid_step`: one training step of a whole study-A grid —
 * 125 SAEs (5 learning rates × 5 ℓ1 coefficients × 5 instances, d_in 2,
 * d_sae 4) on a shared batch of 1,024 hidden activations — with the fused
 * kernel (`lib/toy/fused_state.ts`) in this thread, batch generation
 * (composed-feature sampling and the toy model's `h = xW`) included. The full
 * study runs it 31,250 times per data set, split over 2 Web Workers.
 * `bench/torch_bench.py` has the PyTorch twin (all 125 instances in one tensor).
 *
 * @example
 * ```ts
 * import { toyGridStepRow } from "./toy_grid_row.ts";
 * const row = toyGridStepRow();
 * const p = await row.prepare();
 * p.run();
 * p.dispose();
 * ```
 *
 * @module
 */

import { Rng } from "../lib/engine/rng.ts";
import { defaultSaeConfig, defaultSaeTrainConfig } from "../lib/sae/config.ts";
import { FusedSmallSae } from "../lib/toy/fused_state.ts";
import { makeBatchStream } from "../lib/toy/fused_run.ts";
import { datasetConfig } from "../lib/toy/data.ts";
import { STUDY_L1S, STUDY_LRS } from "../lib/toy/grid.ts";
import type { RowSpec } from "./row_spec.ts";

/** The `toy_grid_step` row (ms per step, lower is better). */
export function toyGridStepRow(): RowSpec {
  return {
    name: "toy_grid_step",
    unit: "ms",
    reps: 50,
    warmup: 20,
    target: { op: "<=", ratio: 1 },
    prepare() {
      const lr: number[] = [];
      const l1: number[] = [];
      for (const a of STUDY_LRS) for (const b of STUDY_L1S) for (let k = 0; k < 5; k++) lr.push(a), l1.push(b);
      const n = lr.length;
      const sae = new FusedSmallSae(
        defaultSaeConfig({ n_inst: n, d_in: 2, d_sae: 4 }),
        defaultSaeTrainConfig({ lr, l1_coefficient: l1, loss_instance_divisor: 5 }),
      );
      const rng = new Rng(0, "bench/toy_grid/init");
      const bound = Math.sqrt(6 / 8);
      sae.setParams({
        W_enc: rng.fillUniform(new Float64Array(n * 8), -bound, bound),
        b_enc: new Float64Array(n * 4),
        W_dec: rng.fillUniform(new Float64Array(n * 8), -bound, bound),
        b_dec: new Float64Array(n * 2),
      });
      // an ideal antipodal cross, the geometry the toy model learns
      const c = Math.cos(0.5), s = Math.sin(0.5);
      const toy = { n_in: 4, n_hid: 2, W: new Float64Array([c, s, -c, -s, -s, c, s, -c]), b: new Float64Array(4) };
      const next = makeBatchStream({ kind: "toy", data: datasetConfig("D1"), toy, seed: 0, stream: "bench" }, 1024, 2);
      const h = new Float64Array(1024 * 2);
      return {
        run() {
          next(h);
          sae.step(h, 1024, 1);
        },
        dispose() {},
        notes: "125 SAEs 2→4, batch 1024, study recipe, 1 thread (the grid run splits it over 2 workers)",
      };
    },
  };
}
