/**
 * The sparse autoencoder: `n_inst` independent instances in one set of
 * tensors, of any registered architecture (`registry.ts`; each one a spec in
 * `arch/`, read here for its activation σ and its extra parameter θ).
 *
 * ```
 * pre   = (x − b_dec·[apply_b_dec_to_input]) · W_enc + b_enc   // [n_inst, batch, d_sae]
 * acts  = σ(pre)                                               // [n_inst, batch, d_sae]
 * recon = acts · W_dec + b_dec                                 // [n_inst, batch, d_in]
 * ```
 *
 * Inputs are `[n_inst, batch, d_in]`, or `[1, batch, d_in]` (one batch shared
 * by every instance), or — when `n_inst = 1` — plain `[batch, d_in]`, in which
 * case outputs are 2-D too. Parameter names and shapes follow SAELens with a
 * leading instance axis; {@link Sae.toArrays} writes them as SAELens files name
 * them (architectures with a threshold, such as JumpReLU and BatchTopK, carry
 * `threshold`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createSae } from "./sae.ts";
 * import { defaultSaeConfig } from "./config.ts";
 * const sae = createSae(defaultSaeConfig({ d_in: 2, d_sae: 4, n_inst: 5 }), 0);
 * const { acts, recon } = sae.forward(tf.randomUniform([1, 8, 2]) as tf.Tensor3D); // [5, 8, 4], [5, 8, 2]
 * sae.dispose();
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { Rng } from "../engine/rng.ts";
import type { SaeArchitectureSpec } from "./architecture.ts";
import { type SaeConfig, SaeConfigError } from "./config.ts";
import { saeArchitecture, validateSaeConfig } from "./registry.ts";

/** Trainable (and state) tensors of an SAE, each with a leading instance axis. */
export interface SaeParams {
  /** Encoder weights. */
  W_enc: tf.Variable; // [n_inst, d_in, d_sae]
  /** Encoder bias. */
  b_enc: tf.Variable; // [n_inst, d_sae]
  /** Decoder weights; row j is latent j's direction. */
  W_dec: tf.Variable; // [n_inst, d_sae, d_in]
  /** Decoder bias. */
  b_dec: tf.Variable; // [n_inst, d_in]
  /**
   * Per-latent threshold θ of architectures that have one (their spec's `threshold`): trained in log space
   * for `jumprelu` (like SAELens's `log_threshold`), set after each step for `batchtopk` (the moving average
   * of the smallest kept activation). Absent for `standard` and `topk`.
   */
  threshold?: tf.Variable; // [n_inst, d_sae]
}

/** A host copy of one parameter. */
export interface SaeArray {
  /** Elements in C order. */
  data: Float32Array;
  /** Dimensions. */
  shape: number[];
}

/** Result of {@link Sae.forward}. */
export interface SaeForward<T extends tf.Tensor> {
  /** Latent activations `[n_inst, batch, d_sae]` (2-D for 2-D input). */
  acts: T;
  /** Pre-activations `x·W_enc + b_enc` (same shape as `acts`). */
  preActs: T;
  /** Reconstruction `[n_inst, batch, d_in]` (2-D for 2-D input). */
  recon: T;
}

/** Options of the encoding functions. */
export interface EncodeOptions {
  /** BatchTopK only: `true` selects the top `k·batch` of the batch (training), `false` (default) uses the threshold. */
  training?: boolean;
}

/** Initialisation schemes of {@link createSae}. */
export interface SaeInitOptions {
  /**
   * `"study_a"`: `W_enc`, `W_dec` ~ U(±√(6/(d_in·d_sae))) — torch's `kaiming_uniform_` on the 3-D
   * `[n_inst, d_in, d_sae]` tensors, fan-in `d_in·d_sae` — biases 0, then decoder rows scaled to unit norm.
   * `"saelens"`: `W_dec` ~ U(±√(6/d_in)) per instance (kaiming on `[d_sae, d_in]`), rows scaled to
   * `decoder_init_norm`, `W_enc = W_decᵀ`, biases 0.
   */
  scheme: "study_a" | "saelens";
  /** Row norm of the initial decoder (`"saelens"` only; SAELens default 0.1). */
  decoder_init_norm: number;
}

/**
 * One SAE of `cfg.n_inst` instances. Create with {@link createSae} or
 * {@link saeFromArrays}; call {@link Sae.dispose} when done.
 */
export class Sae {
  /** Shape and architecture. */
  readonly cfg: SaeConfig;
  /** The tensors (owned by this object). */
  readonly params: SaeParams;
  /** The architecture's spec (`registry.ts`), looked up from `cfg.architecture`. */
  readonly arch: SaeArchitectureSpec;

  /** Wraps existing variables (shapes are checked). Prefer {@link createSae} / {@link saeFromArrays}. */
  constructor(cfg: SaeConfig, params: SaeParams) {
    validateSaeConfig(cfg);
    const arch = saeArchitecture(cfg.architecture);
    const { n_inst: n, d_in: d, d_sae: s } = cfg;
    const expect: [keyof SaeParams, number[]][] = [["W_enc", [n, d, s]], ["b_enc", [n, s]], ["W_dec", [n, s, d]], [
      "b_dec",
      [n, d],
    ]];
    if (arch.threshold) expect.push(["threshold", [n, s]]);
    for (const [name, shape] of expect) {
      const t = params[name];
      if (t === undefined) throw new SaeConfigError(`Sae: parameter ${name} is missing for a ${cfg.architecture} SAE`);
      if (t.shape.length !== shape.length || t.shape.some((v, i) => v !== shape[i])) {
        throw new SaeConfigError(`Sae: parameter ${name} has shape [${t.shape}], expected [${shape}]`);
      }
    }
    this.cfg = cfg;
    this.params = params;
    this.arch = arch;
  }

  /** The variables gradient descent updates (W_enc, b_enc, W_dec, b_dec, and θ when the architecture trains it). */
  trainableVariables(): tf.Variable[] {
    const p = this.params;
    const vs = [p.W_enc, p.b_enc, p.W_dec, p.b_dec];
    if (this.arch.threshold?.trained && p.threshold) vs.push(p.threshold);
    return vs;
  }

  /** Pre-activations `[n_inst, batch, d_sae]` of a 3-D input (see the module notes for shapes). */
  preActs3d(x: tf.Tensor3D): tf.Tensor3D {
    this.#checkInput(x);
    const p = this.params;
    return tf.tidy(() => {
      const xin = this.cfg.apply_b_dec_to_input ? tf.sub(x, tf.expandDims(p.b_dec, 1)) : x;
      return addBias(tf.matMul(xin as tf.Tensor3D, p.W_enc), p.b_enc);
    });
  }

  /** Activations from pre-activations: the architecture's σ. */
  activate(pre: tf.Tensor3D, options: EncodeOptions = {}): tf.Tensor3D {
    return this.arch.activate(pre, {
      cfg: this.cfg,
      threshold: this.params.threshold ?? null,
      training: options.training ?? false,
    });
  }

  /** Latent activations of `x` (rank follows the input: 3-D, or 2-D when `n_inst = 1`). */
  encode(x: tf.Tensor2D, options?: EncodeOptions): tf.Tensor2D;
  encode(x: tf.Tensor3D, options?: EncodeOptions): tf.Tensor3D;
  encode(x: tf.Tensor2D | tf.Tensor3D, options: EncodeOptions = {}): tf.Tensor {
    return this.forward(x as tf.Tensor3D, options, true).acts;
  }

  /** Reconstruction from activations: `acts · W_dec + b_dec`. */
  decode(acts: tf.Tensor2D): tf.Tensor2D;
  decode(acts: tf.Tensor3D): tf.Tensor3D;
  decode(acts: tf.Tensor2D | tf.Tensor3D): tf.Tensor {
    const two = acts.rank === 2;
    if (two) this.#checkTwoD("decode");
    const a3 = (two ? tf.expandDims(acts, 0) : acts) as tf.Tensor3D;
    const s = a3.shape[2];
    if (s !== this.cfg.d_sae || (a3.shape[0] !== this.cfg.n_inst && a3.shape[0] !== 1)) {
      if (two) a3.dispose();
      throw new SaeConfigError(
        `Sae.decode: expected activations [${this.cfg.n_inst}, batch, ${this.cfg.d_sae}], got [${acts.shape}]`,
      );
    }
    return tf.tidy(() => {
      const r = addBias(tf.matMul(a3, this.params.W_dec), this.params.b_dec);
      return two ? tf.squeeze(r, [0]) : r;
    });
  }

  /** Encodes and decodes `x`, returning activations, pre-activations and reconstruction. */
  forward(x: tf.Tensor2D, options?: EncodeOptions, skipRecon?: boolean): SaeForward<tf.Tensor2D>;
  forward(x: tf.Tensor3D, options?: EncodeOptions, skipRecon?: boolean): SaeForward<tf.Tensor3D>;
  forward(x: tf.Tensor2D | tf.Tensor3D, options: EncodeOptions = {}, skipRecon = false): SaeForward<tf.Tensor> {
    const two = x.rank === 2;
    if (two) this.#checkTwoD("forward");
    return tf.tidy(() => {
      const x3 = (two ? tf.expandDims(x, 0) : x) as tf.Tensor3D;
      const preActs = this.preActs3d(x3);
      const acts = this.activate(preActs, options);
      const recon = skipRecon ? tf.zeros([0]) : addBias(tf.matMul(acts, this.params.W_dec), this.params.b_dec);
      const out = two
        ? {
          acts: tf.squeeze(acts, [0]),
          preActs: tf.squeeze(preActs, [0]),
          recon: skipRecon ? recon : tf.squeeze(recon, [0]),
        }
        : { acts, preActs, recon };
      return out as unknown as Record<string, tf.Tensor>;
    }) as unknown as SaeForward<tf.Tensor>;
  }

  /** `decode(encode(x))` for a 2-D batch `[batch, d_in]` of a one-instance SAE (splicing into a model). */
  reconstruct(x: tf.Tensor2D): tf.Tensor2D {
    this.#checkTwoD("reconstruct");
    const f = this.forward(x);
    f.acts.dispose();
    f.preActs.dispose();
    return f.recon;
  }

  /** Host copies of the parameters under their SAELens names (`threshold` for jumprelu/batchtopk). */
  toArrays(): Record<string, SaeArray> {
    const out: Record<string, SaeArray> = {};
    for (const [name, v] of Object.entries(this.params) as [string, tf.Variable | undefined][]) {
      if (v) out[name] = { data: v.dataSync() as Float32Array, shape: [...v.shape] };
    }
    return out;
  }

  /** Frees the variables. */
  dispose(): void {
    for (const v of Object.values(this.params) as (tf.Variable | undefined)[]) v?.dispose();
  }

  #checkTwoD(what: string): void {
    if (this.cfg.n_inst !== 1) {
      throw new SaeConfigError(`Sae.${what}: 2-D input needs n_inst = 1, this SAE has n_inst = ${this.cfg.n_inst}`);
    }
  }

  #checkInput(x: tf.Tensor3D): void {
    const { n_inst, d_in } = this.cfg;
    if (x.rank !== 3 || x.shape[2] !== d_in || (x.shape[0] !== n_inst && x.shape[0] !== 1)) {
      throw new SaeConfigError(
        `Sae: expected input [${n_inst} or 1, batch, ${d_in}]${
          n_inst === 1 ? ` or [batch, ${d_in}]` : ""
        }, got [${x.shape}]`,
      );
    }
    if (x.dtype !== "float32") throw new SaeConfigError(`Sae: expected float32 input, got ${x.dtype}`);
  }
}

/**
 * `y + bias` for `y` `[n, batch, k]` and `bias` `[n, k]`, written as `y + 1·biasᵀ`
 * (an outer-product matmul) so that the forward add has equal shapes and the
 * bias gradient is a matmul rather than a slow strided reduction over the batch.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { addBias } from "./sae.ts";
 * addBias(tf.zeros([1, 2, 3]) as tf.Tensor3D, tf.tensor2d([[1, 2, 3]])).arraySync(); // [[[1, 2, 3], [1, 2, 3]]]
 * ```
 */
export function addBias(y: tf.Tensor3D, bias: tf.Tensor2D | tf.Variable): tf.Tensor3D {
  return tf.tidy(() => {
    const ones = tf.ones([1, y.shape[1], 1]) as tf.Tensor3D;
    return tf.add(y, tf.matMul(ones, tf.expandDims(bias, 1) as tf.Tensor3D)) as tf.Tensor3D;
  });
}

/**
 * A freshly initialised SAE. The random numbers come from `new Rng(seed, "sae/init")`
 * (a xoshiro128** stream); torch's exact numbers are not reproduced, only their
 * distribution (see {@link SaeInitOptions}). A threshold starts at its spec's
 * `initial(cfg)` (JumpReLU: `cfg.jumprelu_init_threshold`; BatchTopK: 0). `b_dec` starts at 0; the
 * trainer re-initialises it from data (geometric median) unless told not to.
 *
 * @example
 * ```ts
 * import { createSae } from "./sae.ts";
 * import { defaultSaeConfig } from "./config.ts";
 * const toy = createSae(defaultSaeConfig({ d_in: 2, d_sae: 4, n_inst: 125 }), 1);
 * const lm = createSae(defaultSaeConfig({ d_in: 768, d_sae: 24576, architecture: "topk", k: 32 }), 1, {
 *   scheme: "saelens",
 * });
 * toy.dispose();
 * lm.dispose();
 * ```
 */
export function createSae(cfg: SaeConfig, seed: number, init: Partial<SaeInitOptions> = {}): Sae {
  validateSaeConfig(cfg);
  const { scheme = "study_a", decoder_init_norm = 0.1 } = init;
  const { n_inst: n, d_in: d, d_sae: s } = cfg;
  const rng = new Rng(seed, "sae/init");
  const wEnc = new Float32Array(n * d * s);
  const wDec = new Float32Array(n * s * d);
  if (scheme === "study_a") {
    const bound = Math.sqrt(6 / (d * s));
    rng.fillUniform(wEnc, -bound, bound);
    rng.fillUniform(wDec, -bound, bound);
    normaliseRows(wDec, n * s, d, 1);
  } else if (scheme === "saelens") {
    if (!(decoder_init_norm > 0)) {
      throw new SaeConfigError(`createSae: decoder_init_norm must be > 0, got ${decoder_init_norm}`);
    }
    const bound = Math.sqrt(6 / d);
    rng.fillUniform(wDec, -bound, bound);
    normaliseRows(wDec, n * s, d, decoder_init_norm);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < s; j++) {
        for (let k = 0; k < d; k++) wEnc[i * d * s + k * s + j] = wDec[i * s * d + j * d + k] as number;
      }
    }
  } else {
    throw new SaeConfigError(`createSae: init scheme must be "study_a" or "saelens", got "${scheme}"`);
  }
  const arrays: Record<string, SaeArray> = {
    W_enc: { data: wEnc, shape: [n, d, s] },
    b_enc: { data: new Float32Array(n * s), shape: [n, s] },
    W_dec: { data: wDec, shape: [n, s, d] },
    b_dec: { data: new Float32Array(n * d), shape: [n, d] },
  };
  const threshold = saeArchitecture(cfg.architecture).threshold;
  if (threshold) arrays.threshold = { data: new Float32Array(n * s).fill(threshold.initial(cfg)), shape: [n, s] };
  return saeFromArrays(cfg, arrays);
}

/** Scales each of `rows` rows of length `d` to norm `target` (float64 arithmetic; zero rows stay zero). */
function normaliseRows(w: Float32Array, rows: number, d: number, target: number): void {
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let k = 0; k < d; k++) ss += (w[r * d + k] as number) ** 2;
    const norm = Math.sqrt(ss);
    if (norm === 0) continue;
    for (let k = 0; k < d; k++) w[r * d + k] = ((w[r * d + k] as number) / norm) * target;
  }
}

/**
 * An SAE from host arrays named as in SAELens files (`W_enc [d_in, d_sae]` …)
 * or with the instance axis (`[n_inst, d_in, d_sae]` …); 2-D/1-D arrays are
 * accepted when `n_inst = 1`. Architectures with a threshold need `threshold`
 * (`log_threshold` is accepted and exponentiated). Float32Array data are
 * handed to the backend as they are (the wasm backend copies them into its
 * memory, the cpu backend may keep them): do not modify them afterwards.
 *
 * @throws {SaeConfigError} naming a missing array or a shape mismatch
 *
 * @example
 * ```ts
 * import { saeFromArrays } from "./sae.ts";
 * import { defaultSaeConfig } from "./config.ts";
 * const sae = saeFromArrays(defaultSaeConfig({ d_in: 1, d_sae: 2 }), {
 *   W_enc: { data: new Float32Array([1, -1]), shape: [1, 2] },
 *   b_enc: { data: new Float32Array(2), shape: [2] },
 *   W_dec: { data: new Float32Array([1, -1]), shape: [2, 1] },
 *   b_dec: { data: new Float32Array(1), shape: [1] },
 * });
 * sae.dispose();
 * ```
 */
export function saeFromArrays(
  cfg: SaeConfig,
  arrays: Record<string, { data: ArrayLike<number>; shape: readonly number[] }>,
): Sae {
  validateSaeConfig(cfg);
  const { n_inst: n, d_in: d, d_sae: s } = cfg;
  const want: [string, number[]][] = [["W_enc", [d, s]], ["b_enc", [s]], ["W_dec", [s, d]], ["b_dec", [d]]];
  const threshold = saeArchitecture(cfg.architecture).threshold;
  if (threshold) want.push(["threshold", [s]]);
  const made: Partial<Record<keyof SaeParams, tf.Variable>> = {};
  try {
    for (const [name, inner] of want) {
      let a = arrays[name];
      let fromLog = false;
      if (a === undefined && name === "threshold" && arrays.log_threshold) {
        a = arrays.log_threshold;
        fromLog = true;
      }
      if (a === undefined) {
        throw new SaeConfigError(`saeFromArrays: array "${name}" is missing (${cfg.architecture} SAE)`);
      }
      const full = [n, ...inner];
      const ok = sameShape(a.shape, full) || (n === 1 && sameShape(a.shape, inner));
      if (!ok) {
        throw new SaeConfigError(
          `saeFromArrays: "${name}" has shape [${a.shape}], expected [${full}]${n === 1 ? ` or [${inner}]` : ""}`,
        );
      }
      const size = full.reduce((p, v) => p * v, 1);
      if (a.data.length !== size) {
        throw new SaeConfigError(`saeFromArrays: "${name}" has ${a.data.length} values, its shape needs ${size}`);
      }
      // No per-element callback (Float32Array.from with a map function took 11 s for a 768 × 24576 W_enc):
      // a Float32Array is passed on as it is (the backend copies it), anything else is copied once.
      let data: Float32Array;
      if (fromLog) {
        data = new Float32Array(size);
        for (let i = 0; i < size; i++) data[i] = Math.exp(a.data[i] as number);
      } else {
        data = a.data instanceof Float32Array ? a.data : Float32Array.from(a.data);
      }
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i] as number)) {
          throw new SaeConfigError(`saeFromArrays: "${name}" element ${i} is ${data[i]}, expected a finite number`);
        }
      }
      const trainable = name !== "threshold" || threshold?.trained === true;
      const init = tf.tensor(data, full, "float32");
      made[name as keyof SaeParams] = tf.variable(init, trainable);
      init.dispose();
    }
  } catch (e) {
    for (const v of Object.values(made)) v?.dispose();
    throw e;
  }
  return new Sae(cfg, made as SaeParams);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
