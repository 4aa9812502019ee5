/**
 * Composed one-hot feature data (study A §4): the `ComposedFeatureTMS.get_batch`
 * generator of the study's code, rebuilt over typed arrays.
 *
 * Features come in sets (`feat_sets = [2, 2]` gives `[x1, x2, y1, y2]`). A sample
 * is an "event" drawn from a joint probability table: a pair (one feature of set
 * 0, one of set 1), or, with `onehot_probability = p > 0`, a single feature
 * alone. Magnitudes are U[0,1); set 1's magnitude is `(1 − f)·r1 + f·r0` with
 * `f = set_magnitude_correlation`. Values are written, not added, so a one-hot
 * event (both indices on one feature) carries the last set's magnitude.
 *
 * Differences from the study's code (documented on purpose):
 * - **Pair mapping.** The flat pair index k maps to `(k // s1, s0 + k % s1)`. The
 *   study's code uses `(k // s0, s0 + k % s0)`, which is wrong when `s0 ≠ s1`.
 * - **One-hot works on its own.** The study's code rescales the table for
 *   one-hot events only inside `if correlated_feature_indices is not None`, so
 *   `onehot_probability > 0` without a correlated pair silently produced D1/D2.
 *   Here `onehot_probability` always applies.
 * - The optional correlated-pair boost (§4.4) is reproduced as written,
 *   including the crossed row/column scale factors and no renormalisation (the
 *   sampler, like torch's `Categorical`, normalises by the total mass).
 *
 * @example
 * ```ts
 * import { ComposedFeatureData, datasetConfig } from "./data.ts";
 * import { Rng } from "../engine/rng.ts";
 * const data = new ComposedFeatureData(datasetConfig("D3u"));
 * const x = data.sample(1000, new Rng(0, "toy/batches")); // [1000, 4] row-major
 * data.events.map((e) => e.label); // ["x1y1", "x1y2", "x2y1", "x2y2", "x1", "x2", "y1", "y2"]
 * ```
 *
 * @module
 */

import type { Rng } from "../engine/rng.ts";

/** Configuration of a composed-feature data set (names follow the study's `ToyModelConfig`). */
export interface ComposedDataConfig {
  /** Sizes of the feature sets; one or two sets (the study's code supports these). */
  feat_sets: number[];
  /** Relative frequency weight of each feature within its set (the study's `sparsity(i)`); null = uniform. */
  feature_weights: number[][] | null;
  /** f ∈ [0, 1]: set 1's magnitude is (1 − f)·r1 + f·r0. 1 = D1 (a = b), 0 = D2 (independent). */
  set_magnitude_correlation: number;
  /** p ∈ [0, 1): probability of a one-hot event (a single feature alone). 0.75 for D3. */
  onehot_probability: number;
  /** (i0 in set 0, j0 in set 1) whose pair probability is boosted; null for none. */
  correlated_feature_indices: [number, number] | null;
  /** β ∈ [0, 1]: the boost of §4.4 (0 is an exact no-op). */
  correlated_feature_boost: number;
  /** Events drawn per sample and added together (the study uses 1). */
  active_features_per_draw: number;
  /**
   * Optional input basis (follow-up F10): an `n_in × n_in` matrix whose row i is the input vector of generator
   * feature i, so a sample is `x = c·B` for the generator's coefficients `c`. Absent or null = the standard basis
   * (the study's data). {@link ComposedFeatureData.classify} reads coefficients, so it is meaningless with a basis.
   */
  input_basis?: number[][] | null;
}

/**
 * The default configuration (D1: two sets of two, correlated magnitudes), overridden by `overrides`.
 *
 * @example
 * ```ts
 * import { defaultComposedDataConfig } from "./data.ts";
 * defaultComposedDataConfig({ set_magnitude_correlation: 0 }).feat_sets; // [2, 2]
 * ```
 */
export function defaultComposedDataConfig(overrides: Partial<ComposedDataConfig> = {}): ComposedDataConfig {
  return {
    feat_sets: [2, 2],
    feature_weights: null,
    set_magnitude_correlation: 1,
    onehot_probability: 0,
    correlated_feature_indices: null,
    correlated_feature_boost: 0,
    active_features_per_draw: 1,
    ...overrides,
  };
}

/** The study's data sets: D1, D2 and the two amplitude settings of D3. */
export type DatasetName = "D1" | "D2" | "D3u" | "D3c";

/** All data set names in figure order. */
export const DATASET_NAMES: readonly DatasetName[] = ["D1", "D2", "D3u", "D3c"];

/**
 * The configuration of one of the study's data sets (§4.2, §4.3).
 *
 * @example
 * ```ts
 * import { datasetConfig } from "./data.ts";
 * datasetConfig("D3c").onehot_probability; // 0.75
 * ```
 */
export function datasetConfig(name: DatasetName): ComposedDataConfig {
  switch (name) {
    case "D1":
      return defaultComposedDataConfig({ set_magnitude_correlation: 1 });
    case "D2":
      return defaultComposedDataConfig({ set_magnitude_correlation: 0 });
    case "D3u":
      return defaultComposedDataConfig({ set_magnitude_correlation: 0, onehot_probability: 0.75 });
    case "D3c":
      return defaultComposedDataConfig({ set_magnitude_correlation: 1, onehot_probability: 0.75 });
    default:
      throw new Error(`datasetConfig: unknown data set "${name}", expected one of ${DATASET_NAMES.join(", ")}`);
  }
}

/** One event of the joint table: the features it writes (in set order) and its probability. */
export interface DataEvent {
  /** Human-readable name, e.g. "x1y2" (pair) or "y1" (one-hot). */
  label: string;
  /** Global feature index written by each set's magnitude, in set order (a one-hot event repeats its index). */
  indices: number[];
  /** Normalised probability of the event. */
  probability: number;
  /** True for a single feature alone. */
  onehot: boolean;
}

/**
 * Feature names `x1, x2, …, y1, …` for the given set sizes (set k uses letter x, y, z, …).
 *
 * @example
 * ```ts
 * import { featureNames } from "./data.ts";
 * featureNames([2, 3]); // ["x1", "x2", "y1", "y2", "y3"]
 * ```
 */
export function featureNames(featSets: readonly number[]): string[] {
  const letters = "xyzuvw";
  const out: string[] = [];
  featSets.forEach((s, k) => {
    for (let i = 0; i < s; i++) out.push(`${letters[k] ?? `s${k}_`}${i + 1}`);
  });
  return out;
}

function validate(cfg: ComposedDataConfig): void {
  const fs = cfg.feat_sets;
  if (!Array.isArray(fs) || fs.length < 1 || fs.length > 2) {
    throw new RangeError(
      `ComposedDataConfig.feat_sets: expected one or two set sizes, got ${JSON.stringify(fs)}`,
    );
  }
  for (const s of fs) {
    if (!Number.isInteger(s) || s < 1) {
      throw new RangeError(`ComposedDataConfig.feat_sets: sizes must be positive integers, got ${JSON.stringify(fs)}`);
    }
  }
  const f = cfg.set_magnitude_correlation;
  if (!(f >= 0 && f <= 1)) {
    throw new RangeError(`ComposedDataConfig.set_magnitude_correlation: expected a value in [0, 1], got ${f}`);
  }
  const p = cfg.onehot_probability;
  if (!(p >= 0 && p < 1)) {
    throw new RangeError(`ComposedDataConfig.onehot_probability: expected a value in [0, 1), got ${p}`);
  }
  if (p > 0 && fs.length !== 2) {
    throw new RangeError(
      `ComposedDataConfig.onehot_probability: one-hot events need two feature sets, got ${fs.length}`,
    );
  }
  const beta = cfg.correlated_feature_boost;
  if (!(beta >= 0 && beta <= 1)) {
    throw new RangeError(`ComposedDataConfig.correlated_feature_boost: expected a value in [0, 1], got ${beta}`);
  }
  if (!Number.isInteger(cfg.active_features_per_draw) || cfg.active_features_per_draw < 1) {
    throw new RangeError(
      `ComposedDataConfig.active_features_per_draw: expected a positive integer, got ${cfg.active_features_per_draw}`,
    );
  }
  if (cfg.feature_weights !== null) {
    if (cfg.feature_weights.length !== fs.length) {
      throw new RangeError(
        `ComposedDataConfig.feature_weights: expected ${fs.length} lists (one per set), got ${cfg.feature_weights.length}`,
      );
    }
    cfg.feature_weights.forEach((w, k) => {
      if (w.length !== fs[k]) {
        throw new RangeError(
          `ComposedDataConfig.feature_weights[${k}]: expected ${fs[k]} weights, got ${w.length}`,
        );
      }
      for (const v of w) {
        if (!(v > 0) || !Number.isFinite(v)) {
          throw new RangeError(`ComposedDataConfig.feature_weights[${k}]: weights must be finite and > 0, got ${v}`);
        }
      }
    });
  }
  validateBasis(cfg.input_basis ?? null, fs.reduce((a, b) => a + b, 0));
  const ci = cfg.correlated_feature_indices;
  if (ci !== null) {
    const [i0, j0] = ci;
    const s1 = fs.length === 2 ? fs[1] as number : 0;
    if (!Number.isInteger(i0) || i0 < 0 || i0 >= (fs[0] as number)) {
      throw new RangeError(`ComposedDataConfig.correlated_feature_indices[0]: expected 0…${fs[0]! - 1}, got ${i0}`);
    }
    if (fs.length === 2 && (!Number.isInteger(j0) || j0 < 0 || j0 >= s1)) {
      throw new RangeError(`ComposedDataConfig.correlated_feature_indices[1]: expected 0…${s1 - 1}, got ${j0}`);
    }
  }
}

function validateBasis(basis: number[][] | null, nIn: number): void {
  if (basis === null) return;
  if (!Array.isArray(basis) || basis.length !== nIn) {
    throw new RangeError(
      `ComposedDataConfig.input_basis: expected ${nIn} rows (one per feature), got ${
        Array.isArray(basis) ? basis.length : typeof basis
      }`,
    );
  }
  basis.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== nIn) {
      throw new RangeError(`ComposedDataConfig.input_basis[${i}]: expected ${nIn} values, got ${row?.length}`);
    }
    for (const v of row) {
      if (!Number.isFinite(v)) throw new RangeError(`ComposedDataConfig.input_basis[${i}]: non-finite value ${v}`);
    }
  });
}

/** The pair table of two sets (s0 × s1, row-major), with the correlated-pair boost applied as the study's code does. */
function pairTable(cfg: ComposedDataConfig, w0: number[], w1: number[]): Float64Array {
  const s0 = w0.length;
  const s1 = w1.length;
  const t = new Float64Array(s0 * s1);
  let total = 0;
  for (let i = 0; i < s0; i++) {
    for (let j = 0; j < s1; j++) {
      const v = (w1[j] as number) * ((w0[i] as number) / (w1[0] as number));
      t[i * s1 + j] = v;
      total += v;
    }
  }
  for (let k = 0; k < t.length; k++) t[k] = (t[k] as number) / total;
  const ci = cfg.correlated_feature_indices;
  if (ci === null) return t;
  const [i0, j0] = ci;
  const at = (i: number, j: number) => t[i * s1 + j] as number;
  const rowSum = (i: number) => {
    let s = 0;
    for (let j = 0; j < s1; j++) s += at(i, j);
    return s;
  };
  const orig = Float64Array.from(t);
  const origRowSum = (i: number) => {
    let s = 0;
    for (let j = 0; j < s1; j++) s += orig[i * s1 + j] as number;
    return s;
  };
  const rowProb = rowSum(i0);
  let colProb = 0;
  for (let i = 0; i < s0; i++) colProb += at(i, j0);
  const priorRow = rowProb - at(i0, j0);
  const priorCol = colProb - at(i0, j0);
  t[i0 * s1 + j0] = at(i0, j0) + cfg.correlated_feature_boost * Math.min(priorRow, priorCol);
  const remRow = rowProb - at(i0, j0);
  const remCol = colProb - at(i0, j0);
  // as written in the study's code: the row of i0 is scaled by the column ratio and vice versa
  for (let j = 0; j < s1; j++) if (j !== j0) t[i0 * s1 + j] = at(i0, j) * (priorCol > 0 ? remCol / priorCol : 1);
  for (let i = 0; i < s0; i++) if (i !== i0) t[i * s1 + j0] = at(i, j0) * (priorRow > 0 ? remRow / priorRow : 1);
  for (let i = 0; i < s0; i++) {
    if (i === i0) continue;
    const newRow = rowSum(i);
    const adjustable = newRow - at(i, j0);
    if (adjustable <= 0) continue;
    const factor = 1 + (origRowSum(i) - newRow) / adjustable;
    for (let j = 0; j < s1; j++) if (j !== j0) t[i * s1 + j] = at(i, j) * factor;
  }
  return t;
}

/**
 * Builds the list of events and their (normalised) probabilities.
 *
 * @example
 * ```ts
 * import { buildEvents, datasetConfig } from "./data.ts";
 * buildEvents(datasetConfig("D3u")).map((e) => e.probability); // 4 × 0.0625, 4 × 0.1875
 * ```
 */
export function buildEvents(cfg: ComposedDataConfig): DataEvent[] {
  validate(cfg);
  const fs = cfg.feat_sets;
  const names = featureNames(fs);
  const weights = cfg.feature_weights ?? fs.map((s) => new Array<number>(s).fill(0.1));
  const raw: { label: string; indices: number[]; mass: number; onehot: boolean }[] = [];
  if (fs.length === 1) {
    const s = fs[0] as number;
    const w = weights[0] as number[];
    const total = w.reduce((a, b) => a + b, 0);
    const probs = w.map((v) => v / total);
    const ci = cfg.correlated_feature_indices;
    if (ci !== null) {
      const idx = ci[0];
      const prior = 1 - (probs[idx] as number);
      probs[idx] = (probs[idx] as number) + cfg.correlated_feature_boost * prior;
      const remaining = 1 - (probs[idx] as number);
      for (let i = 0; i < s; i++) if (i !== idx) probs[i] = (probs[i] as number) * (prior > 0 ? remaining / prior : 1);
    }
    for (let i = 0; i < s; i++) {
      raw.push({ label: names[i] as string, indices: [i], mass: probs[i] as number, onehot: true });
    }
  } else {
    const s0 = fs[0] as number;
    const s1 = fs[1] as number;
    const w0 = weights[0] as number[];
    const w1 = weights[1] as number[];
    const pairs = pairTable(cfg, w0, w1);
    const p = cfg.onehot_probability;
    // intended mapping: flat pair index k -> (k // s1, s0 + k % s1)
    for (let k = 0; k < s0 * s1; k++) {
      const i = Math.floor(k / s1);
      const j = s0 + (k % s1);
      raw.push({
        label: `${names[i]}${names[j]}`,
        indices: [i, j],
        mass: (pairs[k] as number) * (1 - p),
        onehot: false,
      });
    }
    if (p > 0) {
      const t0 = w0.reduce((a, b) => a + b, 0);
      const t1 = w1.reduce((a, b) => a + b, 0);
      for (let i = 0; i < s0; i++) {
        raw.push({
          label: names[i] as string,
          indices: [i, i],
          mass: p * ((w0[i] as number) / t0) * (s0 / (s0 + s1)),
          onehot: true,
        });
      }
      for (let j = 0; j < s1; j++) {
        raw.push({
          label: names[s0 + j] as string,
          indices: [s0 + j, s0 + j],
          mass: p * ((w1[j] as number) / t1) * (s1 / (s0 + s1)),
          onehot: true,
        });
      }
    }
  }
  const total = raw.reduce((a, e) => a + e.mass, 0);
  if (!(total > 0) || !Number.isFinite(total)) {
    throw new RangeError(`buildEvents: the probability table has total mass ${total}; check feature_weights`);
  }
  return raw.map((e) => ({ label: e.label, indices: e.indices, probability: e.mass / total, onehot: e.onehot }));
}

/**
 * A composed-feature data source: samples batches `x` (row-major `[n, n_in]`)
 * from the joint event table by inverse CDF, with U[0,1) magnitudes.
 *
 * Random draws per sample, in order: for each draw, one uniform per set
 * (magnitudes), then one uniform for the event. The same `Rng` state gives the
 * same batch.
 *
 * @example
 * ```ts
 * import { ComposedFeatureData, datasetConfig } from "./data.ts";
 * import { Rng } from "../engine/rng.ts";
 * const data = new ComposedFeatureData(datasetConfig("D2"));
 * const x = data.sample(8, new Rng(0, "toy/batches")); // [8, 4]
 * ```
 */
export class ComposedFeatureData {
  /** The configuration this source was built from. */
  readonly config: ComposedDataConfig;
  /** Number of input features (sum of set sizes). */
  readonly nIn: number;
  /** Feature names, `x1, x2, y1, y2` for two sets of two. */
  readonly names: string[];
  /** The events of the joint table with normalised probabilities. */
  readonly events: DataEvent[];
  /** Set index of each feature. */
  readonly featureSet: Int32Array;
  readonly #cdf: Float64Array;
  readonly #idx: Int32Array; // [event, n_sets]

  /** @throws {RangeError} naming the config field when the configuration is invalid */
  constructor(config: ComposedDataConfig) {
    this.config = structuredClone(config);
    this.events = buildEvents(this.config);
    const fs = this.config.feat_sets;
    this.nIn = fs.reduce((a, b) => a + b, 0);
    this.names = featureNames(fs);
    this.featureSet = new Int32Array(this.nIn);
    let k = 0;
    fs.forEach((s, set) => {
      for (let i = 0; i < s; i++) this.featureSet[k++] = set;
    });
    this.#cdf = new Float64Array(this.events.length);
    let acc = 0;
    this.events.forEach((e, i) => {
      acc += e.probability;
      this.#cdf[i] = acc;
    });
    const nSets = fs.length;
    this.#idx = new Int32Array(this.events.length * nSets);
    this.events.forEach((e, i) => {
      for (let s = 0; s < nSets; s++) this.#idx[i * nSets + s] = e.indices[s] ?? (e.indices[0] as number);
    });
  }

  /**
   * Draws `n` samples into `out` (allocated when absent) and returns it, row-major `[n, nIn]`.
   *
   * @example
   * ```ts
   * import { ComposedFeatureData, datasetConfig } from "./data.ts";
   * import { Rng } from "../engine/rng.ts";
   * const x = new ComposedFeatureData(datasetConfig("D1")).sample(4, new Rng(1, "toy/batches"));
   * x.length; // 16
   * ```
   */
  sample(n: number, rng: Rng, out?: Float64Array): Float64Array {
    if (!Number.isInteger(n) || n < 0) {
      throw new RangeError(`ComposedFeatureData.sample: n must be an integer ≥ 0, got ${n}`);
    }
    const nIn = this.nIn;
    const x = out ?? new Float64Array(n * nIn);
    if (x.length < n * nIn) {
      throw new RangeError(`ComposedFeatureData.sample: out has ${x.length} elements, expected ≥ ${n * nIn}`);
    }
    x.fill(0, 0, n * nIn);
    const nSets = this.config.feat_sets.length;
    const f = this.config.set_magnitude_correlation;
    const draws = this.config.active_features_per_draw;
    const cdf = this.#cdf;
    const idx = this.#idx;
    const r = new Float64Array(nSets);
    for (let b = 0; b < n; b++) {
      const row = b * nIn;
      for (let d = 0; d < draws; d++) {
        for (let s = 0; s < nSets; s++) r[s] = rng.uniform();
        for (let s = 1; s < nSets; s++) r[s] = (1 - f) * (r[s] as number) + f * (r[0] as number);
        const e = rng.categorical(cdf);
        if (draws === 1) {
          // write, not add: a one-hot event keeps the last set's magnitude
          for (let s = 0; s < nSets; s++) x[row + (idx[e * nSets + s] as number)] = r[s] as number;
        } else {
          const prev = new Float64Array(nIn);
          for (let s = 0; s < nSets; s++) prev[idx[e * nSets + s] as number] = r[s] as number;
          for (let i = 0; i < nIn; i++) x[row + i] = (x[row + i] as number) + (prev[i] as number);
        }
      }
    }
    const basis = this.config.input_basis ?? null;
    if (basis !== null) {
      // x_row ← c_row · B (row i of B is feature i's input vector)
      const c = new Float64Array(nIn);
      for (let b = 0; b < n; b++) {
        const row = b * nIn;
        for (let i = 0; i < nIn; i++) c[i] = x[row + i] as number;
        for (let k = 0; k < nIn; k++) {
          let v = 0;
          for (let i = 0; i < nIn; i++) v += (c[i] as number) * (basis[i]![k] as number);
          x[row + k] = v;
        }
      }
    }
    return x;
  }

  /**
   * The identity batch (`eye(nIn)`, row-major): each true feature alone with magnitude 1.
   *
   * @example
   * ```ts
   * import { ComposedFeatureData, datasetConfig } from "./data.ts";
   * new ComposedFeatureData(datasetConfig("D1")).identity()[5]; // 1 (row 1, column 1)
   * ```
   */
  identity(): Float64Array {
    const n = this.nIn;
    const x = new Float64Array(n * n);
    for (let i = 0; i < n; i++) x[i * n + i] = 1;
    return x;
  }

  /**
   * Classifies one sample (a row of a batch with one draw) as an event label: the
   * names of its nonzero features joined ("x1y2", "y1"), or "" for an all-zero row.
   */
  classify(x: ArrayLike<number>, row: number): string {
    let label = "";
    for (let i = 0; i < this.nIn; i++) if ((x[row * this.nIn + i] as number) !== 0) label += this.names[i];
    return label;
  }
}

/**
 * Empirical event frequencies of a batch (one draw per sample), keyed by event label.
 *
 * @example
 * ```ts
 * import { ComposedFeatureData, datasetConfig, eventFrequencies } from "./data.ts";
 * import { Rng } from "../engine/rng.ts";
 * const data = new ComposedFeatureData(datasetConfig("D1"));
 * const freq = eventFrequencies(data, data.sample(10_000, new Rng(0, "check")), 10_000);
 * freq.get("x1y1"); // ≈ 0.25
 * ```
 */
export function eventFrequencies(data: ComposedFeatureData, x: ArrayLike<number>, n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of data.events) counts.set(e.label, 0);
  for (let b = 0; b < n; b++) {
    const label = data.classify(x, b);
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  const out = new Map<string, number>();
  for (const [k, v] of counts) out.set(k, v / n);
  return out;
}
