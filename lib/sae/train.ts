/**
 * Trains an SAE (all instances at once) with study A's recipe, every choice a
 * field of {@link SaeTrainConfig}. One {@link trainStep}, in the study's exact
 * order (§6.5):
 *
 * 1. normalise the decoder rows to unit norm (`normalize_decoder`);
 * 2. dead mask: latents that have not fired (activation > `dead_feature_threshold`
 *    on any sample of a batch) for more than `dead_feature_window` steps;
 * 3. ℓ1 cool-down counters: dead → `ghost_grads_cooldown`, others −1 (floor 0);
 *    weights `c = 1 − counter/cooldown` (`l1_cooldown_shape` "linear") or
 *    `[counter = 0]` ("step", what the study's integer tensor computes);
 * 4. forward pass and loss (`loss.ts`: MSE + λ·Σ c·a + ghost term + aux-k);
 * 5. steps-since-fired counters from this batch's activations;
 * 6. backward pass (tfjs autodiff, detached where the study detaches);
 * 7. remove each decoder row's gradient component along the row
 *    (`remove_decoder_parallel_grad`);
 * 8. Adam (per-instance lr × the shared schedule multiplier of `schedule.ts`);
 * 9. the architecture's post-step update, if its spec has one (BatchTopK:
 *    threshold ← (1 − r)·threshold + r·(smallest kept activation)).
 *
 * Divergence guard: if any instance's loss or gradient is not finite, the step
 * throws {@link SaeDivergenceError} (naming the step and instance) before
 * anything is updated, so the SAE keeps its last good parameters. (Finite
 * gradients give finite Adam updates, so parameters cannot turn non-finite
 * otherwise.)
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createSae } from "./sae.ts";
 * import { defaultSaeConfig, defaultSaeTrainConfig } from "./config.ts";
 * import { trainSae } from "./train.ts";
 * const sae = createSae(defaultSaeConfig({ d_in: 2, d_sae: 4, n_inst: 5 }), 0);
 * const cfg = defaultSaeTrainConfig({ total_steps: 100, batch_size: 256 });
 * const result = await trainSae(sae, cfg, () => tf.randomUniform([1, 256, 2]), {
 *   initBatch: () => tf.randomUniform([5000, 2]),
 * });
 * console.log(result.history.at(-1)?.loss); // per-instance losses at the last step
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { type SaeTrainConfig, validateSaeTrainConfig } from "./config.ts";
import { perInstance, SaeConfigError } from "./config.ts";
import type { Sae, SaeParams } from "./sae.ts";
import { AdamPerInstance } from "./adam.ts";
import { l1WarmUpMultiplier, lrMultiplier, type ScheduleLengths, scheduleLengths } from "./schedule.ts";
import { geometricMedian } from "./geometric_median.ts";
import { LOSS_ROWS, lossTerms } from "./loss.ts";
import { explainedVariancePerSample, l0PerInstance, strongL0PerInstance } from "./metrics.ts";
import { loadLatestCheckpoint, saveCheckpoint } from "../io/checkpoint.ts";

/** Training stopped on a non-finite loss or gradient. */
export class SaeDivergenceError extends Error {
  /** 1-based step that failed. */
  readonly step: number;
  /** Instance whose loss or gradient was not finite. */
  readonly instance: number;
  constructor(step: number, instance: number, what: string) {
    super(
      `SAE training diverged at step ${step}, instance ${instance}: ${what} is not finite ` +
        `(parameters kept from step ${step - 1}; check the learning rate and the input batch for NaN/inf)`,
    );
    this.name = "SaeDivergenceError";
    this.step = step;
    this.instance = instance;
  }
}

/** Everything training carries from step to step besides the parameters. */
export interface SaeTrainState {
  /** The recipe. */
  readonly trainCfg: SaeTrainConfig;
  /** Completed steps. */
  step: number;
  /** Samples seen (sum of batch sizes). */
  samplesSeen: number;
  /** Steps since each latent last fired, `[n_inst · d_sae]` (instance-major). */
  stepsSinceFired: Int32Array;
  /** ℓ1 cool-down counter of each latent. */
  cooldown: Int32Array;
  /** Number of samples on which each latent was > 0, over all training. */
  firedCounts: Float64Array;
  /**
   * The running per-instance value of the architecture's post-step update (float64, as SAELens keeps it):
   * BatchTopK's threshold; unused (zeros) for architectures without one. Checkpoints keep its old name.
   */
  topkThreshold: Float64Array;
  /** The optimiser. */
  readonly adam: AdamPerInstance;
  /** Per-instance base learning rates. */
  readonly lr: number[];
  /** Per-instance sparsity coefficients. */
  readonly l1: number[];
  /** Warm-up / cool-down lengths. */
  readonly lengths: ScheduleLengths;
}

/** Per-instance numbers of one step. */
export interface SaeStepResult {
  /** 1-based index of the step just taken. */
  step: number;
  /** Learning-rate multiplier used. */
  lrMultiplier: number;
  /** Per-instance mean losses: total, reconstruction, sparsity penalty, ghost, aux-k. */
  loss: number[];
  /** Reconstruction term. */
  mse: number[];
  /** Sparsity penalty as added to the loss (λ included). */
  sparsity: number[];
  /** Ghost-gradient term. */
  ghost: number[];
  /** Auxiliary-k term (coefficient included). */
  auxk: number[];
  /** Latents treated as dead this step, per instance. */
  dead: number[];
  /** Extra metrics, when requested. */
  metrics?: SaeStepMetrics;
}

/** Metrics computed at log steps from the step's own batch. */
export interface SaeStepMetrics {
  /** mean_b Σ_j c_j·a_j — the study's logged ℓ1 (its `l1_loss / l1_coeff`). */
  l1: number[];
  /** mean_b #(a_j > 0). */
  l0: number[];
  /** mean_b #(a_j > 0.01·max a), max over the instance's batch. */
  strong_l0: number[];
  /** Study A's explained variance: mean_b of 1 − ‖x̂ − x‖² / ‖x + 1e-8‖². */
  explained_variance: number[];
  /** Its standard deviation over the batch. */
  explained_variance_std: number[];
}

/** One row of the training history. */
export interface SaeLogEntry extends SaeStepResult, SaeStepMetrics {
  /** Samples seen after this step. */
  samples: number;
  /** Fraction of latents whose training firing frequency is below 1e-5. */
  below_1e_5: number[];
  /** … below 1e-6. */
  below_1e_6: number[];
  /** Fraction below `dead_feature_threshold` (the study's `dead_features`). */
  dead_fraction: number[];
}

/** Checkpointing of {@link trainSae}. */
export interface SaeCheckpointOptions {
  /** Folder for the checkpoint files. */
  dir: string;
  /** Save after every this many steps (and at the end). */
  every: number;
  /** File prefix (default "sae"). */
  prefix?: string;
  /** Checkpoints kept (default 2). */
  keepLast?: number;
  /** Resume from the newest checkpoint in `dir` when there is one (default true). */
  resume?: boolean;
}

/** Options of {@link trainSae}. */
export interface TrainSaeOptions {
  /** Called at every log step with the new history row. */
  onLog?: (entry: SaeLogEntry, sae: Sae) => void;
  /** Log every this many steps (and the last step); default: the study's geometric steps. */
  logEvery?: number;
  /** Geometric log-step factor: next = ceil(factor · current) (study: 1.02). */
  logBump?: number;
  /** Print a progress line (at most every 10 s) to the console. */
  progress?: boolean;
  /**
   * Samples for the `b_dec` initialisation: `[n, d_in]` or `[1, n, d_in]` (one median for all
   * instances, as the study) or `[n_inst, n, d_in]` (one per instance). Required unless
   * `b_dec_init_method` is "zeros" or training resumes. The tensor is disposed by the trainer.
   */
  initBatch?: () => tf.Tensor;
  /** Save resumable checkpoints through `lib/io/checkpoint.ts`. */
  checkpoint?: SaeCheckpointOptions;
  /** Stops training (between steps) when aborted. */
  signal?: AbortSignal;
}

/** What {@link trainSae} returns. */
export interface SaeTrainResult {
  /** One row per log step. */
  history: SaeLogEntry[];
  /** The final training state (its Adam moments belong to the caller: {@link disposeTrainState}). */
  state: SaeTrainState;
  /** True when `signal` stopped training early. */
  aborted: boolean;
}

/**
 * A fresh training state for `sae` under `trainCfg` (validated).
 *
 * @example
 * ```ts
 * import { createSae } from "./sae.ts";
 * import { defaultSaeConfig, defaultSaeTrainConfig } from "./config.ts";
 * import { createTrainState, disposeTrainState } from "./train.ts";
 * const sae = createSae(defaultSaeConfig(), 0);
 * const state = createTrainState(sae, defaultSaeTrainConfig({ total_steps: 10 }));
 * disposeTrainState(state);
 * ```
 */
export function createTrainState(sae: Sae, trainCfg: SaeTrainConfig): SaeTrainState {
  validateSaeTrainConfig(trainCfg, sae.cfg);
  const { n_inst, d_sae } = sae.cfg;
  const slots = sae.trainableVariables().map((variable) => ({
    variable,
    logSpace: variable === sae.params.threshold,
  }));
  return {
    trainCfg,
    step: 0,
    samplesSeen: 0,
    stepsSinceFired: new Int32Array(n_inst * d_sae),
    cooldown: new Int32Array(n_inst * d_sae),
    firedCounts: new Float64Array(n_inst * d_sae),
    topkThreshold: new Float64Array(n_inst),
    adam: new AdamPerInstance(slots, {
      beta1: trainCfg.adam_beta1,
      beta2: trainCfg.adam_beta2,
      epsilon: trainCfg.adam_epsilon,
    }),
    lr: perInstance(trainCfg.lr, n_inst, "SaeTrainConfig.lr"),
    l1: perInstance(trainCfg.l1_coefficient, n_inst, "SaeTrainConfig.l1_coefficient"),
    lengths: scheduleLengths(trainCfg.total_steps, trainCfg.lr_warm_up_fraction, trainCfg.lr_decay_fraction),
  };
}

/** Frees the optimiser tensors of a state. */
export function disposeTrainState(state: SaeTrainState): void {
  state.adam.dispose();
}

/** The batch as `[n_inst or 1, batch, d_in]` float32 (a 2-D batch gains a leading 1), checked. */
function asBatch(sae: Sae, x: tf.Tensor): tf.Tensor3D {
  const { n_inst, d_in } = sae.cfg;
  const x3 = x.rank === 2 ? tf.expandDims(x, 0) as tf.Tensor3D : x as tf.Tensor3D;
  if (x3.rank !== 3 || x3.shape[2] !== d_in || (x3.shape[0] !== 1 && x3.shape[0] !== n_inst) || x3.shape[1] < 1) {
    if (x3 !== x) x3.dispose();
    throw new SaeConfigError(
      `SAE training batch: expected [${n_inst} or 1, batch, ${d_in}] or [batch, ${d_in}], got [${x.shape}]`,
    );
  }
  if (x3.dtype !== "float32") throw new SaeConfigError(`SAE training batch: expected float32, got ${x3.dtype}`);
  return x3;
}

/**
 * One training step on batch `x` (`[n_inst or 1, batch, d_in]` or `[batch, d_in]`;
 * not disposed). Updates the SAE's variables and `state` in place.
 *
 * @throws {SaeDivergenceError} when a loss or gradient is not finite (nothing is updated then)
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createSae } from "./sae.ts";
 * import { defaultSaeConfig, defaultSaeTrainConfig } from "./config.ts";
 * import { createTrainState, trainStep } from "./train.ts";
 * const sae = createSae(defaultSaeConfig({ n_inst: 3 }), 0);
 * const state = createTrainState(sae, defaultSaeTrainConfig({ lr: [1e-3, 3e-4, 1e-4], total_steps: 10 }));
 * const x = tf.randomUniform([1, 64, 2]);
 * const r = trainStep(sae, state, x);
 * r.loss; // three numbers
 * ```
 */
export function trainStep(
  sae: Sae,
  state: SaeTrainState,
  x: tf.Tensor,
  options: { metrics?: boolean } = {},
): SaeStepResult {
  const t = state.trainCfg;
  const { n_inst: n, d_sae: s } = sae.cfg;
  const p = sae.params;
  const x3 = asBatch(sae, x);
  const batch = x3.shape[1];
  const stepIndex = state.step; // 0-based

  // 1. unit-norm decoder rows
  const decoderBefore = t.normalize_decoder ? p.W_dec.clone() : null; // restored if the step fails
  if (t.normalize_decoder) normaliseDecoder(p);

  // 2–3. dead mask and ℓ1 cool-down weights (host side)
  const masks = stepMasks(state, n, s);

  // 4–6. forward, loss and gradients; one host read of everything the host needs
  const { grads, tensors } = forwardAndGradients(sae, t, x3, masks);
  const host = readStepSummary(sae, t, grads, tensors);
  const rows = LOSS_ROWS.map((_, r) => Array.from(host.subarray(r * n, (r + 1) * n)));
  const bad = firstNonFinite(host, n);
  if (bad) {
    for (const g of Object.values(grads)) g.dispose();
    disposeStepTensors(tensors, x);
    if (decoderBefore) {
      p.W_dec.assign(decoderBefore);
      decoderBefore.dispose();
    }
    throw new SaeDivergenceError(stepIndex + 1, bad.i, bad.what);
  }
  decoderBefore?.dispose();

  // metrics need this step's cool-down weights and activations
  let metrics: SaeStepMetrics | undefined;
  if (options.metrics) metrics = stepMetrics(x3, tensors.acts, tensors.recon, masks.cWeights, n, s);
  disposeStepTensors(tensors, x);

  // 5. firing counters (study: counted after the forward pass)
  updateFiring(state, host, masks.cooldown, n, s);

  // 7. decoder-parallel gradient removal; 8. Adam
  const gradMap = new Map<string, tf.Tensor>(Object.entries(grads));
  if (t.remove_decoder_parallel_grad) projectDecoderGradient(gradMap, p.W_dec);
  const mult = lrMultiplier(stepIndex, t.total_steps, state.lengths);
  state.adam.apply(gradMap, state.lr.map((v) => v * mult));
  for (const g of gradMap.values()) g.dispose();

  // 9. the architecture's post-step update (BatchTopK: the inference threshold)
  const postStep = sae.arch.postStep;
  if (postStep && p.threshold) {
    const statOff = SUMMARY_ROWS * n + 2 * n * s;
    postStep.apply(state.topkThreshold, host.subarray(statOff, statOff + n), t, p.threshold, s);
  }

  state.step++;
  state.samplesSeen += batch;
  return {
    step: state.step,
    lrMultiplier: mult,
    loss: rows[0] as number[],
    mse: rows[1] as number[],
    sparsity: rows[2] as number[],
    ghost: rows[3] as number[],
    auxk: rows[4] as number[],
    dead: masks.deadCount,
    metrics,
  };
}

/** The host-side masks and weights of one step (steps 2–3 of the module notes). */
interface StepMasks {
  /** 1 for a latent treated as dead this step, `[n_inst · d_sae]`. */
  deadMask: Float32Array;
  /** Dead latents per instance, `[n_inst]`. */
  deadCount: number[];
  /** Whether any instance has a dead latent (the dead-mask tensor is built only then). */
  anyDead: boolean;
  /** The cool-down counters after this step, `[n_inst · d_sae]` (stored once the step is known to be finite). */
  cooldown: Int32Array;
  /** ℓ1 cool-down weights c_nj, `[n_inst · d_sae]`. */
  cWeights: Float32Array;
  /** Sparsity weights λ_n · c_nj, `[n_inst · d_sae]`. */
  weights: Float32Array;
}

/** Dead mask, cool-down counters and sparsity weights from the state before the step (changes nothing). */
function stepMasks(state: SaeTrainState, n: number, s: number): StepMasks {
  const t = state.trainCfg;
  const ns = n * s;
  const deadMask = new Float32Array(ns);
  const deadCount = new Array<number>(n).fill(0);
  const cooldown = state.cooldown.slice();
  const cWeights = new Float32Array(ns); // c_nj
  const weights = new Float32Array(ns); // λ_n · c_nj
  const l1Mult = l1WarmUpMultiplier(state.step, t.l1_warm_up_steps);
  for (let i = 0; i < n; i++) {
    const lam = (state.l1[i] as number) * l1Mult;
    for (let j = 0; j < s; j++) {
      const k = i * s + j;
      const dead = (state.stepsSinceFired[k] as number) > t.dead_feature_window;
      if (dead) {
        deadMask[k] = 1;
        deadCount[i] = (deadCount[i] as number) + 1;
        cooldown[k] = t.ghost_grads_cooldown;
      } else cooldown[k] = Math.max(0, (cooldown[k] as number) - 1);
      const c = t.ghost_grads_cooldown > 0 ? cooldownWeight(t, cooldown[k] as number) : 1;
      cWeights[k] = c;
      weights[k] = lam * c;
    }
  }
  return { deadMask, deadCount, anyDead: deadCount.some((c) => c > 0), cooldown, cWeights, weights };
}

/** The tensors one step holds until its metrics are read: the batch, the loss inputs and the kept outputs. */
interface StepTensors {
  /** The batch as `[n_inst or 1, batch, d_in]` (disposed only when it is not the caller's tensor). */
  x3: tf.Tensor3D;
  /** λ_n · c_nj, `[n_inst, d_sae, 1]`. */
  weightT: tf.Tensor3D;
  /** Dead mask `[n_inst, 1, d_sae]`, or null when no latent is dead. */
  deadT: tf.Tensor3D | null;
  /** Per-instance loss rows `[5, n_inst]`. */
  perInstance: tf.Tensor2D;
  /** Activations `[n_inst, batch, d_sae]`. */
  acts: tf.Tensor3D;
  /** Reconstructions `[n_inst, batch, d_in]`. */
  recon: tf.Tensor3D;
}

/** The one disposal list of a step's tensors (`x`: the caller's batch, never disposed here). */
function disposeStepTensors(st: StepTensors, x: tf.Tensor): void {
  st.perInstance.dispose();
  st.acts.dispose();
  st.recon.dispose();
  st.weightT.dispose();
  st.deadT?.dispose();
  if (st.x3 !== x) st.x3.dispose();
}

/** Forward pass, loss and gradients (steps 4 and 6); the loss scalar is freed, its parts kept. */
function forwardAndGradients(
  sae: Sae,
  t: SaeTrainConfig,
  x3: tf.Tensor3D,
  masks: StepMasks,
): { grads: tf.NamedTensorMap; tensors: StepTensors } {
  const { n_inst: n, d_sae: s } = sae.cfg;
  const weightT = tf.tensor3d(masks.weights, [n, s, 1]);
  const deadT = masks.anyDead ? tf.tensor3d(masks.deadMask, [n, 1, s]) : null;
  let kept: { perInstance: tf.Tensor2D; acts: tf.Tensor3D; recon: tf.Tensor3D } | null = null;
  const { value, grads } = tf.variableGrads(() => {
    const out = lossTerms(sae, t, { x: x3, sparsityWeight: weightT, dead: deadT, deadCount: masks.deadCount });
    kept = { perInstance: out.perInstance, acts: out.acts, recon: out.recon };
    return out.loss;
  }, sae.trainableVariables());
  value.dispose();
  const k = kept as unknown as { perInstance: tf.Tensor2D; acts: tf.Tensor3D; recon: tf.Tensor3D };
  return { grads, tensors: { x3, weightT, deadT, ...k } };
}

/** Rows of the step summary before the per-latent counts: the loss rows and the gradient sums. */
const SUMMARY_ROWS = LOSS_ROWS.length + 1;

/**
 * One host read of the step: loss rows `[5·n]`, gradient sums `[n]`, firing counts `[n·s]`,
 * positive counts `[n·s]`, then the post-step statistic `[n]` when the architecture has one.
 */
function readStepSummary(sae: Sae, t: SaeTrainConfig, grads: tf.NamedTensorMap, st: StepTensors): Float32Array {
  const n = sae.cfg.n_inst;
  const batch = st.x3.shape[1];
  const postStep = sae.arch.postStep;
  const summary = tf.tidy(() => {
    let gsum: tf.Tensor = tf.zeros([n]);
    for (const v of sae.trainableVariables()) {
      const g = grads[v.name] as tf.Tensor;
      gsum = tf.add(gsum, tf.sum(g, g.shape.slice(1).map((_, i) => i + 1)));
    }
    // batch-axis counts as matmuls with a ones row (strided reductions are slow on wasm):
    // samples above the firing threshold (did it fire?) and samples > 0 (density)
    const ones = tf.ones([1, 1, batch]) as tf.Tensor3D;
    const firedN = tf.matMul(ones, tf.step(tf.sub(st.acts, t.dead_feature_threshold)) as tf.Tensor3D);
    const positiveN = tf.matMul(ones, tf.step(st.acts) as tf.Tensor3D);
    const parts = [tf.reshape(st.perInstance, [-1]), gsum, tf.reshape(firedN, [-1]), tf.reshape(positiveN, [-1])];
    if (postStep) parts.push(postStep.statistic(st.acts));
    return tf.concat(parts);
  });
  const host = summary.dataSync() as Float32Array;
  summary.dispose();
  return host;
}

/** The first instance whose loss or gradient sum is not finite, or null. */
function firstNonFinite(host: Float32Array, n: number): { i: number; what: string } | null {
  const at = LOSS_ROWS.length * n;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(host[i] as number)) return { i, what: "the loss" };
    if (!Number.isFinite(host[at + i] as number)) return { i, what: "a gradient" };
  }
  return null;
}

/** Step 5: steps-since-fired and firing counts from the summary; the step's cool-down counters stored. */
function updateFiring(state: SaeTrainState, host: Float32Array, cooldown: Int32Array, n: number, s: number): void {
  const ns = n * s;
  const maxOff = SUMMARY_ROWS * n;
  const cntOff = maxOff + ns;
  for (let q = 0; q < ns; q++) {
    const fired = (host[maxOff + q] as number) > 0; // some sample had activation > dead_feature_threshold
    state.stepsSinceFired[q] = fired ? 0 : (state.stepsSinceFired[q] as number) + 1;
    state.firedCounts[q] = (state.firedCounts[q] as number) + (host[cntOff + q] as number);
  }
  state.cooldown.set(cooldown);
}

/** Replaces the W_dec gradient g by g − (g·w)w, row by row (w = the current decoder rows). */
function projectDecoderGradient(gradMap: Map<string, tf.Tensor>, W_dec: tf.Variable): void {
  const gDec = gradMap.get(W_dec.name) as tf.Tensor;
  const projected = tf.tidy(() => tf.sub(gDec, tf.mul(tf.sum(tf.mul(gDec, W_dec), -1, true), W_dec)));
  gDec.dispose();
  gradMap.set(W_dec.name, projected);
}

/**
 * The loss and the gradients one {@link trainStep} would apply (after the
 * decoder projection when configured), without changing anything: for
 * gradient checks and benchmarks. `sparsityWeight` is λ_n·c_nj (`n_inst·d_sae`),
 * `deadMask` 0/1 per latent or null.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createSae } from "./sae.ts";
 * import { defaultSaeConfig, defaultSaeTrainConfig } from "./config.ts";
 * import { lossAndGradients } from "./train.ts";
 * const sae = createSae(defaultSaeConfig({ d_in: 2, d_sae: 4 }), 0);
 * const r = lossAndGradients(sae, defaultSaeTrainConfig(), tf.randomUniform([1, 8, 2]), new Float32Array(4).fill(0.1), null);
 * r.grads.W_dec; // Float32Array of 8
 * ```
 */
export function lossAndGradients(
  sae: Sae,
  t: SaeTrainConfig,
  x: tf.Tensor,
  sparsityWeight: Float32Array,
  deadMask: Float32Array | null,
): { loss: number; perInstance: number[][]; grads: Record<string, Float32Array> } {
  const { n_inst: n, d_sae: s } = sae.cfg;
  const x3 = asBatch(sae, x);
  const deadCount = new Array<number>(n).fill(0);
  if (deadMask) {
    deadMask.forEach((v, q) => (deadCount[Math.floor(q / s)] = (deadCount[Math.floor(q / s)] as number) + v));
  }
  const weightT = tf.tensor3d(sparsityWeight, [n, s, 1]);
  const deadT = deadMask ? tf.tensor3d(deadMask, [n, 1, s]) : null;
  let per: tf.Tensor2D | null = null;
  const vars = sae.trainableVariables();
  const { value, grads } = tf.variableGrads(() => {
    const out = lossTerms(sae, t, { x: x3, sparsityWeight: weightT, dead: deadT, deadCount });
    out.acts.dispose();
    out.recon.dispose();
    per = out.perInstance;
    return out.loss;
  }, vars);
  const gradMap = new Map<string, tf.Tensor>(Object.entries(grads));
  if (t.remove_decoder_parallel_grad) projectDecoderGradient(gradMap, sae.params.W_dec);
  const out: Record<string, Float32Array> = {};
  for (const [key, v] of Object.entries(sae.params) as [string, tf.Variable | undefined][]) {
    const g = v ? gradMap.get(v.name) : undefined;
    if (g) out[key] = g.dataSync() as Float32Array;
  }
  const loss = value.dataSync()[0] as number;
  const perHost = (per as unknown as tf.Tensor2D).arraySync();
  for (const g of gradMap.values()) g.dispose();
  (per as unknown as tf.Tensor2D).dispose();
  value.dispose();
  weightT.dispose();
  deadT?.dispose();
  if (x3 !== x) x3.dispose();
  return { loss, perInstance: perHost, grads: out };
}

function cooldownWeight(t: SaeTrainConfig, counter: number): number {
  return t.l1_cooldown_shape === "linear" ? 1 - counter / t.ghost_grads_cooldown : counter === 0 ? 1 : 0;
}

/** Scales every decoder row to unit norm (zero rows are left as they are). */
export function normaliseDecoder(p: SaeParams): void {
  const next = tf.tidy(() => {
    const norm = tf.norm(p.W_dec, "euclidean", -1, true);
    return tf.div(p.W_dec, tf.add(norm, tf.cast(tf.equal(norm, 0), "float32")));
  });
  p.W_dec.assign(next);
  next.dispose();
}

function stepMetrics(
  x: tf.Tensor3D,
  acts: tf.Tensor3D,
  recon: tf.Tensor3D,
  c: Float32Array,
  n: number,
  s: number,
): SaeStepMetrics {
  const l1 = tf.tidy(() => tf.mean(tf.squeeze(tf.matMul(acts, tf.tensor3d(c, [n, s, 1])), [2]), 1).dataSync());
  const ev = explainedVariancePerSample(x, recon);
  return {
    l1: Array.from(l1),
    l0: l0PerInstance(acts),
    strong_l0: strongL0PerInstance(acts),
    explained_variance: ev.mean,
    explained_variance_std: ev.std,
  };
}

/**
 * Sets `b_dec` from samples by `trainCfg.b_dec_init_method` (geometric median by
 * Weiszfeld, mean, or zeros). `samples` is `[n, d_in]` / `[1, n, d_in]` (one
 * value for all instances, as the study) or `[n_inst, n, d_in]` (per instance).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createSae } from "./sae.ts";
 * import { defaultSaeConfig } from "./config.ts";
 * import { initBDec } from "./train.ts";
 * const sae = createSae(defaultSaeConfig({ n_inst: 2 }), 0);
 * initBDec(sae, tf.tensor2d([[0, 0], [1, 0], [10, 0]]), "geometric_median"); // b_dec ≈ [1, 0] for both
 * ```
 */
export function initBDec(sae: Sae, samples: tf.Tensor, method: SaeTrainConfig["b_dec_init_method"]): void {
  const { n_inst, d_in } = sae.cfg;
  if (method === "zeros") {
    sae.params.b_dec.assign(tf.zeros([n_inst, d_in]));
    return;
  }
  const shape = samples.shape;
  const per = samples.rank === 3 && shape[0] === n_inst && n_inst > 1;
  const ok = (samples.rank === 2 && shape[1] === d_in) ||
    (samples.rank === 3 && (shape[0] === 1 || shape[0] === n_inst) && shape[2] === d_in);
  if (!ok || (shape.at(-2) ?? 0) < 1) {
    throw new SaeConfigError(
      `b_dec init samples: expected [n, ${d_in}] or [1 or ${n_inst}, n, ${d_in}], got [${shape}]`,
    );
  }
  const data = samples.dataSync();
  const count = shape.at(-2) as number;
  const out = new Float32Array(n_inst * d_in);
  const groups = per ? n_inst : 1;
  for (let gI = 0; gI < groups; gI++) {
    const pts = data.subarray(gI * count * d_in, (gI + 1) * count * d_in);
    let m: Float64Array;
    if (method === "geometric_median") m = geometricMedian(pts, d_in).median;
    else {
      m = new Float64Array(d_in);
      for (let r = 0; r < count; r++) {
        for (let q = 0; q < d_in; q++) m[q] = (m[q] as number) + (pts[r * d_in + q] as number) / count;
      }
    }
    for (let i = per ? gI : 0; i < (per ? gI + 1 : n_inst); i++) out.set(m, i * d_in);
  }
  const bT = tf.tensor2d(out, [n_inst, d_in]);
  sae.params.b_dec.assign(bT);
  bT.dispose();
}

/**
 * The study's geometric log steps (1-based): 1, 2, …, 50, 51, 53, 55, … with
 * next = ceil(bump · current), plus the final step.
 *
 * @example
 * ```ts
 * import { geometricLogSteps } from "./train.ts";
 * geometricLogSteps(60).slice(48); // [49, 50, 51, 53, 55, 57, 59, 60]
 * ```
 */
export function geometricLogSteps(totalSteps: number, bump = 1.02): number[] {
  const out: number[] = [];
  let next = 1;
  while (next < totalSteps) {
    out.push(next);
    next = Math.ceil(bump * next);
  }
  out.push(totalSteps);
  return out;
}

/**
 * Trains `sae` for `trainCfg.total_steps` steps on batches from `source(step)`
 * (0-based step; `[n_inst or 1, batch, d_in]` or `[batch, d_in]`; disposed by
 * the trainer). Initialises `b_dec` first (unless resuming), logs at the
 * study's geometric steps (or every `logEvery`), checkpoints if asked.
 *
 * @throws {SaeDivergenceError} on a non-finite loss or gradient (after saving a checkpoint of the last good state when checkpointing)
 */
export async function trainSae(
  sae: Sae,
  trainCfg: SaeTrainConfig,
  source: (step: number) => tf.Tensor,
  options: TrainSaeOptions = {},
): Promise<SaeTrainResult> {
  const state = createTrainState(sae, trainCfg);
  const T = trainCfg.total_steps;
  let history: SaeLogEntry[] = [];
  const ck = options.checkpoint;
  const prefix = ck?.prefix ?? "sae";
  let resumed = false;
  if (ck && (ck.resume ?? true)) {
    const loaded = await loadLatestCheckpoint<SaeCheckpointState>(ck.dir, { prefix });
    if (loaded) {
      history = restoreState(sae, state, loaded.tensors, loaded.state, loaded.tensorsPath);
      resumed = true;
    }
  }
  if (!resumed) {
    if (trainCfg.b_dec_init_method === "zeros") initBDec(sae, tf.zeros([1, 1, sae.cfg.d_in]), "zeros");
    else {
      if (!options.initBatch) {
        throw new SaeConfigError(
          `trainSae: b_dec_init_method "${trainCfg.b_dec_init_method}" needs options.initBatch ` +
            `(${trainCfg.b_dec_init_samples} samples [n, d_in]); or set b_dec_init_method "zeros"`,
        );
      }
      const samples = options.initBatch();
      try {
        initBDec(sae, samples, trainCfg.b_dec_init_method);
      } finally {
        samples.dispose();
      }
    }
  }
  const logSet = new Set(
    options.logEvery
      ? [...Array.from({ length: Math.floor(T / options.logEvery) }, (_, i) => (i + 1) * options.logEvery!), T]
      : geometricLogSteps(T, options.logBump ?? 1.02),
  );
  const save = async () => {
    if (ck) await saveCheckpoint(ck.dir, checkpointOf(sae, state, history), { prefix, keepLast: ck.keepLast ?? 2 });
  };
  let lastPrint = 0;
  let aborted = false;
  while (state.step < T) {
    if (options.signal?.aborted) {
      aborted = true;
      break;
    }
    const step1 = state.step + 1;
    const withMetrics = logSet.has(step1);
    const x = source(state.step);
    let r: SaeStepResult;
    try {
      r = trainStep(sae, state, x, { metrics: withMetrics });
    } catch (e) {
      if (e instanceof SaeDivergenceError) await save();
      disposeTrainState(state); // the caller never receives the state: free its Adam moments
      throw e;
    } finally {
      x.dispose();
    }
    if (withMetrics) {
      const entry = logEntry(sae, state, r);
      history.push(entry);
      options.onLog?.(entry, sae);
      if (options.progress && (performance.now() - lastPrint > 10_000 || step1 === T)) {
        lastPrint = performance.now();
        const mean = (a: number[]) => a.reduce((u, v) => u + v, 0) / a.length;
        console.log(
          `SAE step ${step1}/${T}: loss ${mean(r.loss).toExponential(3)} mse ${mean(r.mse).toExponential(3)} ` +
            `L0 ${mean(entry.l0).toFixed(2)} dead ${mean(r.dead).toFixed(1)} lr× ${r.lrMultiplier.toFixed(4)}`,
        );
      }
    }
    if (ck && (state.step % ck.every === 0 || state.step === T)) await save();
    if (state.step % 64 === 0) await new Promise((res) => setTimeout(res, 0)); // let abort signals arrive
  }
  return { history, state, aborted };
}

function logEntry(sae: Sae, state: SaeTrainState, r: SaeStepResult): SaeLogEntry {
  const { n_inst: n, d_sae: s } = sae.cfg;
  const frac = (thr: number) => {
    const out = new Array<number>(n).fill(0);
    for (let q = 0; q < n * s; q++) {
      if ((state.firedCounts[q] as number) / state.samplesSeen < thr) out[Math.floor(q / s)]! += 1 / s;
    }
    return out;
  };
  const m = r.metrics as SaeStepMetrics;
  return {
    ...r,
    ...m,
    samples: state.samplesSeen,
    below_1e_5: frac(1e-5),
    below_1e_6: frac(1e-6),
    dead_fraction: frac(state.trainCfg.dead_feature_threshold),
  };
}

interface SaeCheckpointState {
  step: number;
  samplesSeen: number;
  adamStep: number;
  topkThreshold: number[];
  history: SaeLogEntry[];
}

function checkpointOf(sae: Sae, state: SaeTrainState, history: SaeLogEntry[]) {
  const tensors: Record<string, { shape: number[]; data: Float32Array | Int32Array | Float64Array }> = {};
  for (const [name, v] of Object.entries(sae.params) as [string, tf.Variable | undefined][]) {
    if (!v) continue;
    tensors[`param/${name}`] = { shape: [...v.shape], data: v.dataSync() as Float32Array };
    const mv = state.adam.v.get(v.name);
    if (mv) tensors[`adam_v/${name}`] = { shape: [...mv.shape], data: mv.dataSync() as Float32Array };
    const mm = state.adam.m.get(v.name);
    if (mm) tensors[`adam_m/${name}`] = { shape: [...mm.shape], data: mm.dataSync() as Float32Array };
  }
  const ns = state.stepsSinceFired.length;
  tensors["state/steps_since_fired"] = { shape: [ns], data: state.stepsSinceFired };
  tensors["state/cooldown"] = { shape: [ns], data: state.cooldown };
  tensors["state/fired_counts"] = { shape: [ns], data: state.firedCounts };
  const cstate: SaeCheckpointState = {
    step: state.step,
    samplesSeen: state.samplesSeen,
    adamStep: state.adam.step,
    topkThreshold: Array.from(state.topkThreshold),
    history,
  };
  return { step: state.step, tensors, state: cstate };
}

function restoreState(
  sae: Sae,
  state: SaeTrainState,
  tensors: Map<string, { shape: number[]; data: unknown }>,
  cs: SaeCheckpointState,
  file: string,
): SaeLogEntry[] {
  const get = (name: string, shape: readonly number[]) => {
    const t = tensors.get(name);
    if (!t) throw new SaeConfigError(`${file}: checkpoint has no tensor "${name}"`);
    if (t.shape.length !== shape.length || t.shape.some((v, i) => v !== shape[i])) {
      throw new SaeConfigError(`${file}: "${name}" has shape [${t.shape}], this SAE needs [${shape}]`);
    }
    return t.data as ArrayLike<number>;
  };
  for (const [name, v] of Object.entries(sae.params) as [string, tf.Variable | undefined][]) {
    if (!v) continue;
    const put = (data: ArrayLike<number>) => tf.tensor(Float32Array.from(data), v.shape);
    const pv = put(get(`param/${name}`, v.shape));
    v.assign(pv);
    pv.dispose();
    if (state.adam.v.has(v.name)) {
      state.adam.v.get(v.name)?.dispose();
      state.adam.v.set(v.name, put(get(`adam_v/${name}`, v.shape)));
    }
    if (state.adam.m.has(v.name)) {
      state.adam.m.get(v.name)?.dispose();
      state.adam.m.set(v.name, put(get(`adam_m/${name}`, v.shape)));
    }
  }
  const ns = state.stepsSinceFired.length;
  state.stepsSinceFired.set(get("state/steps_since_fired", [ns]));
  state.cooldown.set(get("state/cooldown", [ns]));
  state.firedCounts.set(get("state/fired_counts", [ns]));
  state.step = cs.step;
  state.samplesSeen = cs.samplesSeen;
  state.adam.step = cs.adamStep;
  state.topkThreshold.set(cs.topkThreshold);
  return cs.history;
}
