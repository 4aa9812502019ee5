/**
 * The SAE objective at hand-built dictionaries (follow-up F1, issue question 1):
 * four unit decoder rows `{±R_φ u, ±R_φ v}` rotated by φ from the toy model's
 * true axes (φ = 0°) to the composed diagonals (φ = 45°), in the orthonormal
 * frame `(u, v)` of the toy's hidden plane (u along W_x1 − W_x2, v ⟂ u on the
 * side of W_y1 − W_y2). The encoder of latent k is `s_k·d_k` (its decoder row
 * scaled) with bias `b_k`; for every φ the scales, biases and `b_dec` are
 * optimised (full-batch Adam on hand-derived gradients) for the study's
 * objective `mean_b [Σ_d ((ĥ − h)/‖h‖)² + λ Σ_j a_j]` — the selection loss of
 * the grid, without ghost or cooldown terms.
 *
 * The zero-MSE ℓ1 of the rotated dictionary with `s = 1, b = 0` (exact
 * reconstruction, §9.5 items 3–5) is `|α cosφ + β sinφ| + |−α sinφ + β cosφ|`
 * per sample for the ideal embedding `h = αu + βv` (α = x1 − x2, β = y1 − y2);
 * at 0° and 45° it is the axis and diagonal columns of the §9.5 table.
 *
 * @example
 * ```ts
 * import { hiddenFrame, rotatedDictionary } from "./landscape.ts";
 * const toy = { n_in: 4, n_hid: 2, W: new Float64Array([1, 0, -1, 0, 0, 1, 0, -1]), b: new Float64Array(4) };
 * rotatedDictionary(hiddenFrame(toy), Math.PI / 4); // rows (±1 ± 1)/√2
 * ```
 *
 * @module
 */

import type { ToyModel } from "./model.ts";

/** An orthonormal frame of a 2-D hidden plane. */
export interface HiddenFrame {
  /** Unit vector along W_x1 − W_x2. */
  u: [number, number];
  /** Unit vector ⟂ u, on the side of W_y1 − W_y2. */
  v: [number, number];
}

/**
 * The frame `(u, v)` of a (2, 2) toy model with a 2-D hidden space.
 *
 * @throws {RangeError} for other shapes or a degenerate toy model
 *
 * @example
 * ```ts
 * import { hiddenFrame } from "./landscape.ts";
 * hiddenFrame({ n_in: 4, n_hid: 2, W: new Float64Array([0, 2, 0, -2, -1, 0, 1, 0]), b: new Float64Array(4) });
 * // u = [0, 1], v = [−1, 0]
 * ```
 */
export function hiddenFrame(toy: ToyModel): HiddenFrame {
  if (toy.n_hid !== 2 || toy.n_in !== 4) {
    throw new RangeError(`hiddenFrame: needs 4 features in 2 hidden dims, got ${toy.n_in} in ${toy.n_hid}`);
  }
  const W = toy.W;
  const ux = W[0]! - W[2]!, uy = W[1]! - W[3]!;
  const un = Math.hypot(ux, uy);
  const vx = W[4]! - W[6]!, vy = W[5]! - W[7]!;
  if (!(un > 1e-9)) throw new RangeError("hiddenFrame: W_x1 − W_x2 is zero");
  const u: [number, number] = [ux / un, uy / un];
  let v: [number, number] = [-u[1], u[0]];
  if (v[0] * vx + v[1] * vy < 0) v = [u[1], -u[0]];
  return { u, v };
}

/**
 * Decoder rows `[R_φu, R_φv, −R_φu, −R_φv]` ([4, 2] row-major) with `R_φu = cosφ·u + sinφ·v`,
 * `R_φv = −sinφ·u + cosφ·v`.
 *
 * @example
 * ```ts
 * import { rotatedDictionary } from "./landscape.ts";
 * rotatedDictionary({ u: [1, 0], v: [0, 1] }, 0); // [1, 0, 0, 1, -1, 0, 0, -1]
 * ```
 */
export function rotatedDictionary(frame: HiddenFrame, phi: number): Float64Array {
  const c = Math.cos(phi), s = Math.sin(phi);
  const { u, v } = frame;
  const a: [number, number] = [c * u[0] + s * v[0], c * u[1] + s * v[1]];
  const b: [number, number] = [-s * u[0] + c * v[0], -s * u[1] + c * v[1]];
  return new Float64Array([a[0], a[1], b[0], b[1], -a[0], -a[1], -b[0], -b[1]]);
}

/**
 * Mean zero-MSE ℓ1 of the rotated dictionary in the ideal embedding, from data samples `x` ([n, 4], sets (2, 2)).
 *
 * @example
 * ```ts
 * import { exactL1AtAngle } from "./landscape.ts";
 * exactL1AtAngle(new Float64Array([0.5, 0, 0.5, 0]), 1, Math.PI / 4); // √2 · 0.5
 * ```
 */
export function exactL1AtAngle(x: ArrayLike<number>, n: number, phi: number): number {
  if (x.length < n * 4) throw new RangeError(`exactL1AtAngle: expected ${n} rows of 4 features, got ${x.length}`);
  const c = Math.cos(phi), s = Math.sin(phi);
  let acc = 0;
  for (let r = 0; r < n; r++) {
    const al = (x[r * 4] as number) - (x[r * 4 + 1] as number);
    const be = (x[r * 4 + 2] as number) - (x[r * 4 + 3] as number);
    acc += Math.abs(al * c + be * s) + Math.abs(-al * s + be * c);
  }
  return acc / n;
}

/** Encoder scales, biases and b_dec of a hand-built SAE with a fixed dictionary. */
export interface HandBuiltParams {
  /** Encoder scale per latent (encoder row k = s_k · decoder row k). */
  s: number[];
  /** Encoder bias per latent. */
  b: number[];
  /** Decoder bias. */
  b_dec: [number, number];
}

/** The objective's parts at one parameter setting (means over the samples). */
export interface ObjectiveValue {
  /** normalised MSE + λ·ℓ1. */
  loss: number;
  normalized_mse: number;
  /** mean Σ_j a_j. */
  l1: number;
  /** mean #(a_j > 0). */
  l0: number;
}

/**
 * The objective (and, when `grad` is given, its gradient with respect to `[s_0..s_3, b_0..b_3, b_dec_0, b_dec_1]`,
 * written into `grad`) of a hand-built SAE with decoder rows `dict` ([4, 2]) on hidden samples `h` ([n, 2]).
 *
 * @example
 * ```ts
 * import { handBuiltObjective } from "./landscape.ts";
 * const dict = new Float64Array([1, 0, 0, 1, -1, 0, 0, -1]);
 * const p = { s: [1, 1, 1, 1], b: [0, 0, 0, 0], b_dec: [0, 0] as [number, number] };
 * handBuiltObjective(dict, p, new Float64Array([0.3, 0.4]), 1, 0.1).normalized_mse; // 0 (exact)
 * ```
 */
export function handBuiltObjective(
  dict: Float64Array,
  p: HandBuiltParams,
  h: ArrayLike<number>,
  n: number,
  lambda: number,
  grad?: Float64Array,
  normalization: "per_sample" | "ratio" = "per_sample",
): ObjectiveValue {
  const K = dict.length / 2;
  let ratioInv = 0;
  if (normalization === "ratio") {
    let sum = 0;
    for (let r = 0; r < n; r++) sum += (h[r * 2] as number) ** 2 + (h[r * 2 + 1] as number) ** 2;
    ratioInv = sum > 0 ? n / sum : 1;
  }
  if (p.s.length !== K || p.b.length !== K) {
    throw new RangeError(`handBuiltObjective: ${K} latents but ${p.s.length} scales and ${p.b.length} biases`);
  }
  if (grad) grad.fill(0);
  const a = new Float64Array(K);
  const proj = new Float64Array(K);
  let mse = 0, l1 = 0, l0 = 0;
  for (let r = 0; r < n; r++) {
    const h0 = h[r * 2] as number, h1 = h[r * 2 + 1] as number;
    const nn = h0 * h0 + h1 * h1;
    const inv = normalization === "ratio" ? ratioInv : nn > 0 ? 1 / nn : 1;
    let r0 = p.b_dec[0] - h0, r1 = p.b_dec[1] - h1;
    for (let k = 0; k < K; k++) {
      const pk = h0 * dict[k * 2]! + h1 * dict[k * 2 + 1]!;
      proj[k] = pk;
      const pre = p.s[k]! * pk + p.b[k]!;
      const ak = pre > 0 ? pre : 0;
      a[k] = ak;
      r0 += ak * dict[k * 2]!;
      r1 += ak * dict[k * 2 + 1]!;
      l1 += ak;
      if (ak > 0) l0++;
    }
    mse += (r0 * r0 + r1 * r1) * inv;
    if (!grad) continue;
    for (let k = 0; k < K; k++) {
      if (!(a[k]! > 0)) continue;
      const g = (2 * inv * (r0 * dict[k * 2]! + r1 * dict[k * 2 + 1]!) + lambda) / n;
      grad[k] = grad[k]! + g * proj[k]!;
      grad[K + k] = grad[K + k]! + g;
    }
    grad[2 * K] = grad[2 * K]! + 2 * inv * r0 / n;
    grad[2 * K + 1] = grad[2 * K + 1]! + 2 * inv * r1 / n;
  }
  return { loss: mse / n + lambda * l1 / n, normalized_mse: mse / n, l1: l1 / n, l0: l0 / n };
}

/** Settings of {@link optimiseHandBuilt}. */
export interface HandBuiltOptimiserConfig {
  /** Adam iterations per start. */
  iterations: number;
  /** Initial Adam step size (cosine-decayed to 1% over the iterations). */
  lr: number;
  /**
   * Reconstruction term: "per_sample" = mean_b ‖ĥ_b − h_b‖²/‖h_b‖² (the study's, whose value on a finite set is
   * decided by its smallest ‖h‖ whenever ĥ(0) ≠ 0), "ratio" = Σ_b ‖ĥ_b − h_b‖² / Σ_b ‖h_b‖² (no single sample decides).
   */
  normalization?: "per_sample" | "ratio";
}

/**
 * Default optimiser settings (800 iterations from lr 0.02), overridden.
 *
 * @example
 * ```ts
 * import { defaultHandBuiltOptimiserConfig } from "./landscape.ts";
 * defaultHandBuiltOptimiserConfig({ iterations: 200 }).lr; // 0.02
 * ```
 */
export function defaultHandBuiltOptimiserConfig(
  overrides: Partial<HandBuiltOptimiserConfig> = {},
): HandBuiltOptimiserConfig {
  return { iterations: 800, lr: 0.02, normalization: "per_sample", ...overrides };
}

function adamRun(
  dict: Float64Array,
  start: HandBuiltParams,
  h: ArrayLike<number>,
  n: number,
  lambda: number,
  cfg: HandBuiltOptimiserConfig,
): { params: HandBuiltParams; value: ObjectiveValue } {
  const K = dict.length / 2;
  const P = 2 * K + 2;
  const theta = new Float64Array([...start.s, ...start.b, ...start.b_dec]);
  const m = new Float64Array(P), v = new Float64Array(P), g = new Float64Array(P);
  const unpack = (t: Float64Array): HandBuiltParams => ({
    s: Array.from(t.subarray(0, K)),
    b: Array.from(t.subarray(K, 2 * K)),
    b_dec: [t[2 * K]!, t[2 * K + 1]!],
  });
  let best = {
    params: unpack(theta),
    value: handBuiltObjective(dict, unpack(theta), h, n, lambda, undefined, cfg.normalization),
  };
  for (let it = 0; it < cfg.iterations; it++) {
    const value = handBuiltObjective(dict, unpack(theta), h, n, lambda, g, cfg.normalization);
    if (value.loss < best.value.loss) best = { params: unpack(theta), value };
    const lr = cfg.lr * (0.01 + 0.99 * 0.5 * (1 + Math.cos(Math.PI * it / cfg.iterations)));
    const t = it + 1;
    for (let q = 0; q < P; q++) {
      m[q] = 0.9 * m[q]! + 0.1 * g[q]!;
      v[q] = 0.999 * v[q]! + 0.001 * g[q]! * g[q]!;
      const mh = m[q]! / (1 - 0.9 ** t), vh = v[q]! / (1 - 0.999 ** t);
      theta[q] = theta[q]! - lr * mh / (Math.sqrt(vh) + 1e-12);
    }
  }
  const last = handBuiltObjective(dict, unpack(theta), h, n, lambda, undefined, cfg.normalization);
  if (last.loss < best.value.loss) best = { params: unpack(theta), value: last };
  return best;
}

/**
 * Optimises scales, biases and b_dec of the hand-built SAE with decoder rows `dict`, from the exact
 * reconstruction `s = 1, b = 0, b_dec = 0` and (when given) from `warm`; returns the better of the two.
 *
 * @example
 * ```ts
 * import { hiddenFrame, optimiseHandBuilt, rotatedDictionary } from "./landscape.ts";
 * // const best = optimiseHandBuilt(rotatedDictionary(hiddenFrame(toy), 0), h, n, 0.1);
 * ```
 */
export function optimiseHandBuilt(
  dict: Float64Array,
  h: ArrayLike<number>,
  n: number,
  lambda: number,
  cfg: HandBuiltOptimiserConfig = defaultHandBuiltOptimiserConfig(),
  warm?: HandBuiltParams,
): { params: HandBuiltParams; value: ObjectiveValue } {
  const K = dict.length / 2;
  const cold: HandBuiltParams = { s: new Array(K).fill(1), b: new Array(K).fill(0), b_dec: [0, 0] };
  let best = adamRun(dict, cold, h, n, lambda, cfg);
  if (warm) {
    const w = adamRun(dict, warm, h, n, lambda, cfg);
    if (w.value.loss < best.value.loss) best = w;
  }
  return best;
}

/** One angle of the landscape. */
export interface LandscapePoint {
  /** Rotation from the true axes, degrees (0 = axes, 45 = composed diagonals). */
  angle_deg: number;
  /** The optimised objective and its parts. */
  loss: number;
  normalized_mse: number;
  l1: number;
  l0: number;
  /** Optimised parameters. */
  params: HandBuiltParams;
  /** Zero-MSE ℓ1 (s = 1, b = 0) in the ideal embedding, from the data samples. */
  exact_l1_ideal: number;
  /** Zero-MSE ℓ1 (s = 1, b = 0) through the trained toy model. */
  exact_l1_toy: number;
  /** The dictionary rows [4 × 2]. */
  W_dec: number[];
}

/**
 * The landscape over `anglesDeg` for one data set: hidden samples `h` ([n, 2]) of the toy model and the data
 * samples `x` ([n, 4]) they came from. Each angle warm-starts from the previous optimum.
 *
 * @example
 * ```ts
 * import { landscape } from "./landscape.ts";
 * // const pts = landscape(toy, x, h, n, [0, 15, 30, 45], 0.1);
 * ```
 */
export function landscape(
  toy: ToyModel,
  x: ArrayLike<number>,
  h: ArrayLike<number>,
  n: number,
  anglesDeg: readonly number[],
  lambda: number,
  cfg: HandBuiltOptimiserConfig = defaultHandBuiltOptimiserConfig(),
): LandscapePoint[] {
  const frame = hiddenFrame(toy);
  const out: LandscapePoint[] = [];
  let warm: HandBuiltParams | undefined;
  const ones: HandBuiltParams = { s: [1, 1, 1, 1], b: [0, 0, 0, 0], b_dec: [0, 0] };
  for (const deg of anglesDeg) {
    const phi = deg * Math.PI / 180;
    const dict = rotatedDictionary(frame, phi);
    const best = optimiseHandBuilt(dict, h, n, lambda, cfg, warm);
    warm = best.params;
    out.push({
      angle_deg: deg,
      ...best.value,
      params: best.params,
      exact_l1_ideal: exactL1AtAngle(x, n, phi),
      exact_l1_toy: handBuiltObjective(dict, ones, h, n, 0).l1,
      W_dec: Array.from(dict),
    });
  }
  return out;
}

/**
 * Mean angular distance (degrees, 0–45) of decoder rows from the nearest true axis of `frame`, over the rows
 * with `alive[j]` (all rows when none is alive): 0 for the true axes, 45 for the composed diagonals.
 *
 * @example
 * ```ts
 * import { dictionaryAngle } from "./landscape.ts";
 * dictionaryAngle([Math.SQRT1_2, Math.SQRT1_2, 1, 0], { u: [1, 0], v: [0, 1] }); // (45 + 0) / 2
 * ```
 */
export function dictionaryAngle(wDec: ArrayLike<number>, frame: HiddenFrame, alive?: ArrayLike<boolean>): number {
  const rows = wDec.length / 2;
  const angles: number[] = [];
  const all: number[] = [];
  for (let j = 0; j < rows; j++) {
    const a = wDec[j * 2] as number, b = wDec[j * 2 + 1] as number;
    const th = Math.atan2(a * frame.v[0] + b * frame.v[1], a * frame.u[0] + b * frame.u[1]) * 180 / Math.PI;
    const m = ((th % 90) + 90) % 90;
    const d = Math.min(m, 90 - m);
    all.push(d);
    if (!alive || alive[j]) angles.push(d);
  }
  const use = angles.length > 0 ? angles : all;
  return use.reduce((s, v) => s + v, 0) / use.length;
}
