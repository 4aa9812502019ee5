/**
 * Comparing a grid with the study's own code: per-learning-rate-row summaries
 * of a grid run, the reference numbers measured with the study's repository
 * code, and a two-sided Fisher exact test for "same rate within sampling error".
 *
 * **Reference provenance.** The study's repository code at commit `cfbf16e` was
 * run unmodified (the full 31,250-step schedule, 5 instances per config, one
 * config at a time on its own draws) on all 25 cells of D1 and D2, and its
 * instances were chosen as its `plot_grid` chooses them (a fresh
 * 10,000-sample batch per cell, lowest normalised MSE + λ·ℓ1). The counts
 * below are that run's, as recorded in the project's issue 15; they are
 * reference measurements, not outputs of this code.
 *
 * @example
 * ```ts
 * import { fisherExactTwoSided } from "./reference.ts";
 * fisherExactTwoSided(2, 8, 9, 1); // ≈ 0.0055: 2/10 against 9/10
 * ```
 *
 * @module
 */

import { makeBatchStream } from "./fused_run.ts";
import type { ComposedDataConfig } from "./data.ts";
import type { GridRun } from "./grid.ts";
import type { ToyModel } from "./model.ts";

/** Counts measured with the study's code (see the module notes), per data set. */
export interface StudyCodeReference {
  /** Composed cells (mean diagonal |cos| > mean axis |cos| of the selected instance) per lr row, top to bottom. */
  composed_per_row: number[];
  /** Cells whose selected instance has mean diagonal |cos| > 0.95. */
  diag_cells: number;
  /** Median normalised MSE of the selected instances. */
  median_selected_nmse: number | null;
  /** Range of the output offset ‖ĥ(0)‖ over the lr rows, where recorded. */
  offset_range: [number, number] | null;
}

/** The study's code on D1 and D2 (issue 15's measurement of commit cfbf16e). */
export const STUDY_CODE_REFERENCE: Record<"D1" | "D2", StudyCodeReference> = {
  D1: { composed_per_row: [3, 4, 5, 5, 4], diag_cells: 8, median_selected_nmse: null, offset_range: [0.002, 0.013] },
  D2: { composed_per_row: [], diag_cells: 15, median_selected_nmse: 0.0195, offset_range: null },
};

/** Total composed cells of the study's code on D2 (issue 15). */
export const STUDY_CODE_D2_COMPOSED = 17;

/** One learning-rate row of a grid. */
export interface LrRowSummary {
  lr: number;
  /** Cells whose selected instance is composed. */
  composed_cells: number;
  /** Cells whose selected instance has mean diagonal |cos| > 0.95. */
  diag_cells: number;
  /** Cells whose selected instance has mean axis |cos| > 0.95. */
  axis_cells: number;
  /** Cells whose selected instance reconstructs worse than zero. */
  broken_cells: number;
  /** Instances (all of the row) closer to the diagonals. */
  composed_instances: number;
  /** Instances of the row. */
  instances: number;
  /** Median ‖ĥ(0)‖ over the row's instances. */
  median_offset: number;
  /** Median Σ error / Σ‖h‖² over the row's instances (held-out set). */
  median_mse_ratio: number;
  /** Cells where the study's measure would have drawn another instance. */
  study_pick_differs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/**
 * Per-lr-row summary of a grid run (rows top to bottom).
 *
 * @example
 * ```ts
 * import { lrRowSummaries } from "./reference.ts";
 * // lrRowSummaries(run).map((r) => r.composed_cells)
 * ```
 */
export function lrRowSummaries(run: GridRun): LrRowSummary[] {
  return run.config.lrs.map((lr, row) => {
    const cells = run.cells.filter((c) => c.row === row);
    const inst = cells.flatMap((c) => c.instances);
    return {
      lr,
      composed_cells: cells.filter((c) => c.composed).length,
      diag_cells: cells.filter((c) => c.diag_cos > 0.95).length,
      axis_cells: cells.filter((c) => c.axis_cos > 0.95).length,
      broken_cells: cells.filter((c) => c.broken).length,
      composed_instances: inst.filter((e) => e.diag_cos > e.axis_cos).length,
      instances: inst.length,
      median_offset: median(inst.map((e) => e.offset_at_zero)),
      median_mse_ratio: median(inst.map((e) => e.mse_ratio)),
      study_pick_differs: cells.filter((c) => c.lowest_loss_study !== c.lowest_loss).length,
    };
  });
}

function logFactorial(n: number): number {
  let s = 0;
  for (let k = 2; k <= n; k++) s += Math.log(k);
  return s;
}

/**
 * Two-sided Fisher exact test of the 2×2 table [[a, b], [c, d]] (rows: two
 * groups; columns: success, failure): the probability, under equal rates with
 * the margins fixed, of a table at most as likely as the observed one.
 *
 * @throws {RangeError} on negative or non-integer counts
 *
 * @example
 * ```ts
 * import { fisherExactTwoSided } from "./reference.ts";
 * fisherExactTwoSided(12, 13, 21, 4); // ≈ 0.016: 12/25 against 21/25
 * ```
 */
export function fisherExactTwoSided(a: number, b: number, c: number, d: number): number {
  for (const [v, name] of [[a, "a"], [b, "b"], [c, "c"], [d, "d"]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`fisherExactTwoSided: ${name} = ${v}, expected a count`);
  }
  const r1 = a + b, r2 = c + d, c1 = a + c, n = a + b + c + d;
  const base = logFactorial(r1) + logFactorial(r2) + logFactorial(c1) + logFactorial(n - c1) - logFactorial(n);
  const logP = (x: number) =>
    base - logFactorial(x) - logFactorial(r1 - x) - logFactorial(c1 - x) - logFactorial(r2 - c1 + x);
  const observed = logP(a);
  let p = 0;
  for (let x = Math.max(0, c1 - r2); x <= Math.min(r1, c1); x++) {
    const lp = logP(x);
    if (lp <= observed + 1e-7) p += Math.exp(lp);
  }
  return Math.min(1, p);
}

/** A training sample with a small ‖h‖: where it falls in the schedule. */
export interface SmallSample {
  /** 0-based optimiser step. */
  step: number;
  /** ‖h‖ of the sample. */
  norm: number;
}

/**
 * The `k` samples of smallest ‖h‖ in a training stream (`steps` batches of `batch` from
 * `new Rng(seed, stream)` through the frozen toy model), smallest first — the samples whose
 * 1/‖h‖² weight dominates the normalised MSE's gradient at their step.
 *
 * @example
 * ```ts
 * import { smallestNormSamples } from "./reference.ts";
 * import { datasetConfig } from "./data.ts";
 * const toy = { n_in: 4, n_hid: 2, W: new Float64Array([1, 0, -1, 0, 0, 1, 0, -1]), b: new Float64Array(4) };
 * smallestNormSamples(datasetConfig("D1"), toy, 0, "sae/batches", 100, 64, 3); // 3 × { step, norm }
 * ```
 */
export function smallestNormSamples(
  data: ComposedDataConfig,
  toy: ToyModel,
  seed: number,
  stream: string,
  steps: number,
  batch: number,
  k: number,
): SmallSample[] {
  const next = makeBatchStream({ kind: "toy", data, toy, seed, stream }, batch, toy.n_hid);
  const h = new Float64Array(batch * toy.n_hid);
  const d = toy.n_hid;
  let out: SmallSample[] = [];
  let worst = Infinity;
  for (let s = 0; s < steps; s++) {
    next(h);
    for (let b = 0; b < batch; b++) {
      let q = 0;
      for (let j = 0; j < d; j++) q += h[b * d + j]! ** 2;
      const norm = Math.sqrt(q);
      if (out.length < k || norm < worst) {
        out.push({ step: s, norm });
        out.sort((x, y) => x.norm - y.norm);
        if (out.length > k) out = out.slice(0, k);
        worst = out[out.length - 1]!.norm;
      }
    }
  }
  return out;
}

/** One higher-dimensional case of the study's April notebook (spec §12): monosemanticity range over its instances. */
export interface StudyRepoHighDim {
  /** "(4,4) in 4D" etc., as notebook 04 labels its cases. */
  toy: string;
  min: number;
  max: number;
  /** The study's SAE recipe for this case. */
  recipe: string;
}

/** Spec §12's saved outputs of `experiment_more_hid_dim.ipynb` (commit 5bd93dd), the cases notebook 04 also runs. */
export const STUDY_REPO_HIGHDIM: StudyRepoHighDim[] = [
  { toy: "(4,4) in 4D", min: 1.0, max: 1.0, recipe: "lr 3e-4, λ 0.3, 64M samples, β1 0" },
  { toy: "(4,4) in 3D", min: 0.5, max: 0.52, recipe: "lr 3e-4, λ 0.3, 64M samples, β1 0" },
  { toy: "(8,8) in 8D", min: 1.0, max: 1.0, recipe: "lr 3e-4, λ 0.3, 64M samples, β1 0" },
  { toy: "(8,8) in 6D", min: 0.72, max: 0.91, recipe: "lr 3e-4, λ 0.8, 128M samples, β1 0.9" },
  { toy: "(8,8) in 4D", min: 0.33, max: 0.39, recipe: "lr 3e-4, λ 0.5, 128M samples, β1 0.9 (toy 50k steps)" },
];
