/**
 * Analysis of toy models and of the SAEs trained on them (study A §7–§9.5):
 * the figure rotation, the toy model's antipodal geometry, the alignment of SAE
 * decoder rows with the true feature axes and with the composed (diagonal)
 * directions, per-instance evaluation through the SAE core's metrics, instance
 * selection, hidden-activation covariance, and the ℓ1 of hand-built
 * dictionaries.
 *
 * **Rotation convention.** θ = arctan(W[x1,1] / W[x1,0]) — `Math.atan`, as the
 * study's figure code (`np.arctan`), not atan2 — and vectors are drawn as v·R
 * with R = [[cos θ, −sin θ], [sin θ, cos θ]]. This puts x1 on the horizontal
 * axis, pointing right when W[x1,0] > 0 and left otherwise (the study's
 * behaviour, kept on purpose). `rotationFor(toy, "atan2")` always points x1 right.
 *
 * @example
 * ```ts
 * import { initToyModel } from "./model.ts";
 * import { antipodalCosines, rotationFor, rotateVec } from "./analysis.ts";
 * import { Rng } from "../engine/rng.ts";
 * const toy = initToyModel(4, 2, new Rng(0));
 * const rot = rotationFor(toy);
 * rotateVec([toy.W[0]!, toy.W[1]!], rot)[1]; // ≈ 0: x1 lies on the horizontal axis
 * antipodalCosines(toy).x; // cos(W_x1, W_x2)
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { Sae } from "../sae/sae.ts";
import { decoderCosineSimilarity, monosemanticity } from "../sae/metrics.ts";
import { featureNames } from "./data.ts";
import type { ToyModel } from "./model.ts";

/** How θ is computed from W[x1]: the study's `arctan` of the ratio, or `atan2`. */
export type RotationMode = "arctan" | "atan2";

/** The project's choice: the study's arctan (x1 may point left). */
export const DEFAULT_ROTATION: RotationMode = "arctan";

/** A plane rotation for figures. */
export interface Rotation {
  /** Angle in radians. */
  theta: number;
  /** Which formula gave θ. */
  mode: RotationMode;
  /** R = [[cos θ, −sin θ], [sin θ, cos θ]], row-major. */
  R: [number, number, number, number];
}

/**
 * The figure rotation that puts feature `ref` (x1) on the horizontal axis.
 *
 * @throws {RangeError} when the toy model's hidden size is not 2
 *
 * @example
 * ```ts
 * import { rotationFor } from "./analysis.ts";
 * const toy = { n_in: 4, n_hid: 2, W: new Float64Array([0, 1, 0, -1, -1, 0, 1, 0]), b: new Float64Array(4) };
 * rotationFor(toy, "atan2").theta; // π/2
 * ```
 */
export function rotationFor(toy: ToyModel, mode: RotationMode = DEFAULT_ROTATION, ref = 0): Rotation {
  if (toy.n_hid !== 2) throw new RangeError(`rotationFor: needs a 2-D hidden space, the toy model has ${toy.n_hid}`);
  const a = toy.W[ref * 2]!;
  const b = toy.W[ref * 2 + 1]!;
  const theta = mode === "atan2" ? Math.atan2(b, a) : Math.atan(b / a);
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  return { theta, mode, R: [c, -s, s, c] };
}

/**
 * v·R for a 2-D row vector v.
 *
 * @example
 * ```ts
 * import { rotateVec } from "./analysis.ts";
 * rotateVec([0, 1], { theta: Math.PI / 2, mode: "atan2", R: [0, -1, 1, 0] }); // [1, 0]
 * ```
 */
export function rotateVec(v: readonly [number, number], rot: Rotation): [number, number] {
  const [r00, r01, r10, r11] = rot.R;
  return [v[0] * r00 + v[1] * r10, v[0] * r01 + v[1] * r11];
}

function cosine(a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, d: number): number {
  let ab = 0, aa = 0, bb = 0;
  for (let k = 0; k < d; k++) {
    const x = a[ao + k] as number;
    const y = b[bo + k] as number;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return ab / Math.sqrt(aa * bb);
}

/** cos(W_x1, W_x2), cos(W_y1, W_y2) and the largest |cos(W_xi, W_yj)| of a (2, 2) toy model. */
export interface AntipodalCosines {
  x: number;
  y: number;
  /** max over i, j of |cos(W_xi, W_yj)|. */
  xyMaxAbs: number;
}

/**
 * The antipodal-cross check of §14 item 2, for feature sets (2, 2).
 *
 * @example
 * ```ts
 * import { antipodalCosines } from "./analysis.ts";
 * const toy = { n_in: 4, n_hid: 2, W: new Float64Array([1, 0, -1, 0, 0, 1, 0, -1]), b: new Float64Array(4) };
 * antipodalCosines(toy); // { x: -1, y: -1, xyMaxAbs: 0 }
 * ```
 */
export function antipodalCosines(toy: ToyModel): AntipodalCosines {
  if (toy.n_in !== 4) throw new RangeError(`antipodalCosines: needs 4 features (sets 2, 2), got ${toy.n_in}`);
  const d = toy.n_hid;
  const W = toy.W;
  let xy = 0;
  for (const i of [0, 1]) for (const j of [2, 3]) xy = Math.max(xy, Math.abs(cosine(W, i * d, W, j * d, d)));
  return { x: cosine(W, 0, W, d, d), y: cosine(W, 2 * d, W, 3 * d, d), xyMaxAbs: xy };
}

/** Named directions in the hidden space. */
export interface Directions {
  labels: string[];
  /** Unit vectors, row-major [count, n_hid]. */
  dirs: Float64Array;
}

function unitRows(rows: Float64Array, count: number, d: number): Float64Array {
  const out = new Float64Array(rows.length);
  for (let r = 0; r < count; r++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += rows[r * d + k]! ** 2;
    const n = Math.sqrt(s) || 1;
    for (let k = 0; k < d; k++) out[r * d + k] = rows[r * d + k]! / n;
  }
  return out;
}

/**
 * The true feature directions (unit rows of W), labelled x1, x2, y1, y2, ….
 *
 * @example
 * ```ts
 * import { featureAxes } from "./analysis.ts";
 * const toy = { n_in: 4, n_hid: 2, W: new Float64Array([2, 0, -1, 0, 0, 1, 0, -1]), b: new Float64Array(4) };
 * featureAxes(toy, [2, 2]).dirs.slice(0, 2); // [1, 0]
 * ```
 */
export function featureAxes(toy: ToyModel, featSets: readonly number[]): Directions {
  return { labels: featureNames(featSets), dirs: unitRows(toy.W, toy.n_in, toy.n_hid) };
}

/**
 * The composed directions x_i + y_j (unit vectors of W_xi + W_yj: the direction
 * of a D1 sample with equal amplitudes), labelled "x1+y2", ….
 *
 * @example
 * ```ts
 * import { composedDirections } from "./analysis.ts";
 * const toy = { n_in: 4, n_hid: 2, W: new Float64Array([1, 0, -1, 0, 0, 1, 0, -1]), b: new Float64Array(4) };
 * composedDirections(toy, [2, 2]).labels; // ["x1+y1", "x1+y2", "x2+y1", "x2+y2"]
 * ```
 */
export function composedDirections(toy: ToyModel, featSets: readonly number[]): Directions {
  if (featSets.length !== 2) throw new RangeError(`composedDirections: needs two feature sets, got ${featSets.length}`);
  const [s0, s1] = featSets as [number, number];
  const names = featureNames(featSets);
  const d = toy.n_hid;
  const labels: string[] = [];
  const rows = new Float64Array(s0 * s1 * d);
  for (let i = 0; i < s0; i++) {
    for (let j = 0; j < s1; j++) {
      const r = i * s1 + j;
      labels.push(`${names[i]}+${names[s0 + j]}`);
      for (let k = 0; k < d; k++) rows[r * d + k] = toy.W[i * d + k]! + toy.W[(s0 + j) * d + k]!;
    }
  }
  return { labels, dirs: unitRows(rows, s0 * s1, d) };
}

/** How one decoder row lines up with the true axes and the composed directions. */
export interface RowAlignment {
  /** max |cos| to a true feature direction. */
  axisCos: number;
  /** That feature's label. */
  axisLabel: string;
  /** max |cos| to a composed direction. */
  diagCos: number;
  /** That direction's label. */
  diagLabel: string;
}

/**
 * Summaries of per-sample squared reconstruction errors e_b = ‖ĥ_b − h_b‖² against n_b = ‖h_b‖².
 * Outputting zero scores 1 on all three.
 */
export interface ReconstructionSummary {
  /** Σ_b e_b / Σ_b n_b: no single sample can decide it unless its ‖h‖² is a large share of the sum. */
  mse_ratio: number;
  /** median_b e_b / n_b (n_b = 0 replaced by 1, as the study's loss does). */
  median_normalized_mse: number;
  /** mean_b e_b / n_b: the study's normalised MSE; one near-zero h_b can decide it. */
  normalized_mse: number;
}

/**
 * Reduces per-sample squared errors `err2` and squared input norms `norm2` to the
 * three {@link ReconstructionSummary} measures.
 *
 * @throws {RangeError} when the arrays are empty or differ in length
 *
 * @example
 * ```ts
 * import { summarizeReconstruction } from "./analysis.ts";
 * // a constant error of 0.01 on inputs of norm² 1, 1 and 1e-12: the mean explodes, the ratio and median do not
 * summarizeReconstruction([1e-4, 1e-4, 1e-4], [1, 1, 1e-12]); // { mse_ratio ≈ 1.5e-4, median 1e-4, mean ≈ 3.3e7 }
 * ```
 */
export function summarizeReconstruction(err2: ArrayLike<number>, norm2: ArrayLike<number>): ReconstructionSummary {
  const n = err2.length;
  if (n === 0 || norm2.length !== n) {
    throw new RangeError(`summarizeReconstruction: ${n} errors and ${norm2.length} norms (need equal, ≥ 1)`);
  }
  let se = 0, sn = 0, mean = 0;
  const per = new Float64Array(n);
  for (let b = 0; b < n; b++) {
    const e = err2[b] as number;
    const q = norm2[b] as number;
    se += e;
    sn += q;
    per[b] = e / (q > 0 ? q : 1);
    mean += per[b]!;
  }
  per.sort();
  const median = n % 2 === 1 ? per[(n - 1) / 2]! : (per[n / 2 - 1]! + per[n / 2]!) / 2;
  return { mse_ratio: sn > 0 ? se / sn : Infinity, median_normalized_mse: median, normalized_mse: mean / n };
}

/**
 * An instance whose reconstruction is worse than outputting zero on either robust
 * measure (Σ error / Σ ‖h‖² > 1 or median per-sample normalised MSE > 1).
 *
 * @example
 * ```ts
 * import { isBroken } from "./analysis.ts";
 * isBroken({ mse_ratio: 0.02, median_normalized_mse: 1.3 }); // true
 * ```
 */
export function isBroken(s: Pick<ReconstructionSummary, "mse_ratio" | "median_normalized_mse">): boolean {
  return !(s.mse_ratio <= 1) || !(s.median_normalized_mse <= 1);
}

/** Per-instance evaluation of a grid SAE. */
export interface InstanceEval extends ReconstructionSummary {
  /** Instance index in the SAE. */
  index: number;
  /**
   * The study's selection loss on the evaluation set: mean per-sample normalised MSE + λ·ℓ1
   * (no ghost term, no cooldown weights). One near-zero sample can decide it.
   */
  loss: number;
  /** The robust loss: Σ error / Σ ‖h‖² + λ·ℓ1 (what the project selects on). */
  robust_loss: number;
  /** Worse than outputting zero ({@link isBroken}). */
  broken: boolean;
  /** ‖ĥ(0)‖: the SAE's output at h = 0. */
  offset_at_zero: number;
  /** Encoder bias [d_sae]. */
  b_enc: number[];
  /** Decoder bias [d_in]. */
  b_dec: number[];
  /** mean_b Σ_j a_j (unweighted). */
  l1: number;
  l0: number;
  explained_variance: number;
  /** arXiv:2211.09169 eqn 7 on the unit true features. */
  monosemanticity: number;
  /** Latents with zero response to every unit true feature (the study's "true" dead count). */
  dead_true: number;
  /** Latents that never fired on the evaluation samples. */
  dead_eval: number;
  /** Per decoder row. */
  rows: RowAlignment[];
  /** Mean over rows of the max |cos| to a true axis. */
  axis_cos: number;
  /** Mean over rows of the max |cos| to a composed direction. */
  diag_cos: number;
  /** Decoder rows [d_sae × d_in], row-major. */
  W_dec: number[];
}

/** Per-instance reconstruction statistics of an SAE on a set of inputs. */
export interface ReconstructionStats {
  /** {@link ReconstructionSummary} per instance. */
  summaries: ReconstructionSummary[];
  /** mean_b Σ_j a_bj per instance. */
  l1: Float64Array;
  /** mean_b #{j: a_bj > 0} per instance. */
  l0: Float64Array;
  /** 1 − Σ error / Σ ‖h − mean h‖² per instance. */
  explained_variance: Float64Array;
  /** 1 where latent j of instance i fired (> 0) on some input, [n_inst, d_sae]. */
  fired: Uint8Array;
  /** ‖ĥ(0)‖ per instance. */
  offset: Float64Array;
}

/**
 * Runs every instance of `sae` (any architecture) over `h` ([n, d_in]) in chunks
 * of `chunk` rows and reduces the per-sample errors ({@link summarizeReconstruction}).
 *
 * @example
 * ```ts
 * import { reconstructionStats } from "./analysis.ts";
 * // reconstructionStats(sae, hFresh).summaries[0].mse_ratio
 * ```
 */
export function reconstructionStats(sae: Sae, h: Float32Array, chunk = 8192): ReconstructionStats {
  const { n_inst: n, d_in: d, d_sae: s } = sae.cfg;
  if (h.length % d !== 0 || h.length === 0) {
    throw new RangeError(`reconstructionStats: h has ${h.length} values, not a positive multiple of ${d}`);
  }
  const rows = h.length / d;
  const err2 = Array.from({ length: n }, () => new Float64Array(rows));
  const norm2 = new Float64Array(rows);
  const mean = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    let q = 0;
    for (let k = 0; k < d; k++) {
      q += h[r * d + k]! ** 2;
      mean[k]! += h[r * d + k]! / rows;
    }
    norm2[r] = q;
  }
  let centred = 0;
  for (let r = 0; r < rows; r++) for (let k = 0; k < d; k++) centred += (h[r * d + k]! - mean[k]!) ** 2;
  const l1 = new Float64Array(n), l0 = new Float64Array(n);
  const fired = new Uint8Array(n * s);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const m = Math.min(chunk, rows - r0);
    const x = tf.tensor3d(h.subarray(r0 * d, (r0 + m) * d), [1, m, d]);
    const f = sae.forward(x);
    const recon = f.recon.dataSync(); // [n, m, d]
    const acts = f.acts.dataSync(); // [n, m, s]
    tf.dispose([x, f.acts, f.preActs, f.recon]);
    for (let i = 0; i < n; i++) {
      const e = err2[i]!;
      for (let b = 0; b < m; b++) {
        let q = 0;
        for (let k = 0; k < d; k++) q += (recon[(i * m + b) * d + k]! - h[(r0 + b) * d + k]!) ** 2;
        e[r0 + b] = q;
        for (let j = 0; j < s; j++) {
          const a = acts[(i * m + b) * s + j]!;
          if (a > 0) {
            l0[i]! += 1 / rows;
            fired[i * s + j] = 1;
          }
          l1[i]! += Math.abs(a) / rows;
        }
      }
    }
  }
  const zero = tf.zeros([1, 1, d]) as tf.Tensor3D;
  const f0 = sae.forward(zero);
  const r0 = f0.recon.dataSync();
  tf.dispose([zero, f0.acts, f0.preActs, f0.recon]);
  const offset = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let q = 0;
    for (let k = 0; k < d; k++) q += r0[i * d + k]! ** 2;
    offset[i] = Math.sqrt(q);
  }
  const summaries = err2.map((e) => summarizeReconstruction(e, norm2));
  const explained_variance = Float64Array.from(
    err2,
    (e) => 1 - e.reduce((a, v) => a + v, 0) / (centred || 1),
  );
  return { summaries, l1, l0, explained_variance, fired, offset };
}

/**
 * Evaluates every instance of `sae` on the hidden activations `h` ([n, d_in],
 * fresh samples) with the core's metrics, and measures decoder alignment.
 *
 * @param lambdas ℓ1 coefficient of each instance (for the selection loss)
 *
 * @example
 * ```ts
 * import { evaluateInstances } from "./analysis.ts";
 * // const evals = evaluateInstances(sae, toy, [2, 2], hFresh, lambdas); evals[0].axis_cos, evals[0].loss
 * ```
 */
export function evaluateInstances(
  sae: Sae,
  toy: ToyModel,
  featSets: readonly number[],
  h: Float32Array,
  lambdas: readonly number[],
): InstanceEval[] {
  const { n_inst: n, d_in: d, d_sae: s } = sae.cfg;
  if (lambdas.length !== n) throw new RangeError(`evaluateInstances: ${lambdas.length} λ values for ${n} instances`);
  if (h.length % d !== 0) throw new RangeError(`evaluateInstances: h has ${h.length} values, not a multiple of ${d}`);
  if (toy.n_hid !== d) throw new RangeError(`evaluateInstances: toy hidden size ${toy.n_hid} ≠ SAE d_in ${d}`);
  const st = reconstructionStats(sae, h);
  // probe: each unit true feature through the toy model (h = W row) and the SAE
  const probe = tf.tensor3d(Float32Array.from(toy.W), [1, toy.n_in, d]);
  const f = sae.forward(probe);
  probe.dispose();
  const mono = monosemanticity(f.acts);
  const probeActs = f.acts.dataSync();
  f.acts.dispose();
  f.preActs.dispose();
  f.recon.dispose();
  const axes = featureAxes(toy, featSets);
  const diag = composedDirections(toy, featSets);
  const nAx = axes.labels.length;
  const allDirs = new Float32Array(axes.dirs.length + diag.dirs.length);
  allDirs.set(axes.dirs, 0);
  allDirs.set(diag.dirs, axes.dirs.length);
  const dirT = tf.tensor2d(allDirs, [nAx + diag.labels.length, d]);
  const cos = decoderCosineSimilarity(sae, dirT);
  dirT.dispose();
  const wDec = sae.params.W_dec.dataSync();
  const bEnc = sae.params.b_enc.dataSync();
  const bDec = sae.params.b_dec.dataSync();
  const out: InstanceEval[] = [];
  for (let i = 0; i < n; i++) {
    const rows: RowAlignment[] = [];
    for (let j = 0; j < s; j++) {
      const c = cos[i]![j]!;
      let ai = 0, di = 0;
      for (let q = 0; q < nAx; q++) if (Math.abs(c[q]!) > Math.abs(c[ai]!)) ai = q;
      for (let q = 0; q < diag.labels.length; q++) if (Math.abs(c[nAx + q]!) > Math.abs(c[nAx + di]!)) di = q;
      rows.push({
        axisCos: Math.abs(c[ai]!),
        axisLabel: axes.labels[ai]!,
        diagCos: Math.abs(c[nAx + di]!),
        diagLabel: diag.labels[di]!,
      });
    }
    let deadTrue = 0, deadEval = 0;
    for (let j = 0; j < s; j++) {
      let sum = 0;
      for (let q = 0; q < toy.n_in; q++) sum += probeActs[(i * toy.n_in + q) * s + j]!;
      if (sum === 0) deadTrue++;
      if (st.fired[i * s + j] === 0) deadEval++;
    }
    const l1 = st.l1[i]!;
    const rs = st.summaries[i]!;
    out.push({
      index: i,
      ...rs,
      loss: rs.normalized_mse + lambdas[i]! * l1,
      robust_loss: rs.mse_ratio + lambdas[i]! * l1,
      broken: isBroken(rs),
      offset_at_zero: st.offset[i]!,
      b_enc: Array.from(bEnc.subarray(i * s, (i + 1) * s)),
      b_dec: Array.from(bDec.subarray(i * d, (i + 1) * d)),
      l1,
      l0: st.l0[i]!,
      explained_variance: st.explained_variance[i]!,
      monosemanticity: mono[i]!,
      dead_true: deadTrue,
      dead_eval: deadEval,
      rows,
      axis_cos: rows.reduce((a, r) => a + r.axisCos, 0) / s,
      diag_cos: rows.reduce((a, r) => a + r.diagCos, 0) / s,
      W_dec: Array.from(wDec.subarray(i * s * d, (i + 1) * s * d)),
    });
  }
  return out;
}

/**
 * The instance with the lowest loss and the one with the highest monosemanticity
 * (first index wins ties), as the study's grid figure picks them.
 *
 * @example
 * ```ts
 * import { selectInstances } from "./analysis.ts";
 * selectInstances([0.3, 0.1, 0.2], [0.5, 0.6, 0.9]); // { lowestLoss: 1, mostMonosemantic: 2 }
 * ```
 */
export function selectInstances(
  losses: readonly number[],
  monos: readonly number[],
): { lowestLoss: number; mostMonosemantic: number } {
  if (losses.length === 0 || losses.length !== monos.length) {
    throw new RangeError(`selectInstances: got ${losses.length} losses and ${monos.length} monosemanticity scores`);
  }
  let lo = 0, mo = 0;
  for (let k = 1; k < losses.length; k++) {
    if (losses[k]! < losses[lo]!) lo = k;
    if (monos[k]! > monos[mo]!) mo = k;
  }
  return { lowestLoss: lo, mostMonosemantic: mo };
}

/** Covariance of hidden activations and its eigenvalues. */
export interface CovarianceSummary {
  /** Mean [d]. */
  mean: number[];
  /** Covariance [d × d], row-major (divides by n). */
  cov: number[];
  /** Eigenvalues, largest first. */
  eigenvalues: number[];
  /** Smallest / largest eigenvalue (1 = isotropic). */
  ratio: number;
}

/**
 * Covariance of `n` rows of `h` ([n, d]) and its eigenvalues (Jacobi rotations).
 *
 * @example
 * ```ts
 * import { hiddenCovariance } from "./analysis.ts";
 * hiddenCovariance(new Float64Array([1, 0, -1, 0, 0, 1, 0, -1]), 4, 2).ratio; // 1
 * ```
 */
export function hiddenCovariance(h: ArrayLike<number>, n: number, d: number): CovarianceSummary {
  if (!(n > 1) || h.length < n * d) {
    throw new RangeError(`hiddenCovariance: need ≥ 2 rows of ${d}, got ${h.length} values`);
  }
  const mean = new Array<number>(d).fill(0);
  for (let r = 0; r < n; r++) for (let k = 0; k < d; k++) mean[k]! += (h[r * d + k] as number) / n;
  const cov = new Array<number>(d * d).fill(0);
  for (let r = 0; r < n; r++) {
    for (let a = 0; a < d; a++) {
      const va = (h[r * d + a] as number) - mean[a]!;
      for (let b = 0; b < d; b++) cov[a * d + b]! += va * ((h[r * d + b] as number) - mean[b]!) / n;
    }
  }
  const eig = symmetricEigenvalues(cov, d).sort((a, b) => b - a);
  return { mean, cov, eigenvalues: eig, ratio: eig[eig.length - 1]! / eig[0]! };
}

/**
 * Eigenvalues of a symmetric d×d matrix by cyclic Jacobi rotations.
 *
 * @example
 * ```ts
 * import { symmetricEigenvalues } from "./analysis.ts";
 * symmetricEigenvalues([2, 1, 1, 2], 2); // [1, 3] in some order
 * ```
 */
export function symmetricEigenvalues(m: readonly number[], d: number): number[] {
  const a = [...m];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += a[p * d + q]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * d + q]! - a[p * d + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = a[k * d + p]!, akq = a[k * d + q]!;
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = a[p * d + k]!, aqk = a[q * d + k]!;
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
      }
    }
  }
  return Array.from({ length: d }, (_, k) => a[k * d + k]!);
}

/** Expected ℓ1 per sample at zero MSE of three exact-reconstruction codes (§9.5 items 3–5). */
export interface DictionaryL1 {
  /** Axis (true-feature) dictionary {±u, ±v}: |α| + |β|. */
  axis: number;
  /** Diagonal (composed) dictionary {(±u ± v)/√2}: √2·max(|α|, |β|). */
  diagonal: number;
  /** The bound ‖h‖ (any unit-norm dictionary). */
  bound: number;
  /** Standard errors of the three means. */
  se: { axis: number; diagonal: number; bound: number };
}

/**
 * ℓ1 of hand-built dictionaries in the idealised embedding (W_x1 = u = −W_x2,
 * W_y1 = v = −W_y2, u ⟂ v), from data samples `x` ([n, 4], sets (2, 2)):
 * α = x1 − x2, β = y1 − y2.
 *
 * @example
 * ```ts
 * import { dictionaryL1 } from "./analysis.ts";
 * dictionaryL1(new Float64Array([0.5, 0, 0.5, 0]), 1).diagonal; // √2 · 0.5
 * ```
 */
export function dictionaryL1(x: ArrayLike<number>, n: number): DictionaryL1 {
  if (x.length < n * 4) throw new RangeError(`dictionaryL1: expected ${n} rows of 4 features, got ${x.length} values`);
  const acc = { axis: [0, 0], diagonal: [0, 0], bound: [0, 0] };
  for (let r = 0; r < n; r++) {
    const a = Math.abs((x[r * 4] as number) - (x[r * 4 + 1] as number));
    const b = Math.abs((x[r * 4 + 2] as number) - (x[r * 4 + 3] as number));
    const vals = { axis: a + b, diagonal: Math.SQRT2 * Math.max(a, b), bound: Math.hypot(a, b) };
    for (const k of ["axis", "diagonal", "bound"] as const) {
      acc[k][0]! += vals[k];
      acc[k][1]! += vals[k] * vals[k];
    }
  }
  const mean = (k: "axis" | "diagonal" | "bound") => acc[k][0]! / n;
  const se = (k: "axis" | "diagonal" | "bound") => Math.sqrt(Math.max(0, acc[k][1]! / n - mean(k) ** 2) / n);
  return {
    axis: mean("axis"),
    diagonal: mean("diagonal"),
    bound: mean("bound"),
    se: { axis: se("axis"), diagonal: se("diagonal"), bound: se("bound") },
  };
}

/** The §9.5 table: expected ℓ1 at zero MSE per data set (axis, diagonal, bound). */
const E_NORM_UNIFORM_PAIR = (Math.SQRT2 + Math.log(1 + Math.SQRT2)) / 3; // E‖(a, b)‖, a, b i.i.d. U[0,1) ≈ 0.7652

export const EXPECTED_DICTIONARY_L1: Record<string, { axis: number; diagonal: number; bound: number }> = {
  D1: { axis: 1.0, diagonal: Math.SQRT1_2, bound: Math.SQRT1_2 },
  D2: { axis: 1.0, diagonal: Math.SQRT2 * 2 / 3, bound: E_NORM_UNIFORM_PAIR },
  D3u: {
    axis: 0.625,
    diagonal: 0.25 * Math.SQRT2 * 2 / 3 + 0.75 * Math.SQRT1_2,
    bound: 0.25 * E_NORM_UNIFORM_PAIR + 0.375,
  },
  D3c: { axis: 0.625, diagonal: Math.SQRT1_2, bound: 0.25 * Math.SQRT1_2 + 0.375 },
};
