/**
 * The training loop of the fused tiny-SAE kernel for one chunk of instances,
 * shared by the Web Worker (`fused_worker.ts`) and the in-thread path of
 * `trainFusedSmall` (`fused_small.ts`). Everything in a {@link FusedChunkJob}
 * is structured-cloneable, so the same job runs anywhere.
 *
 * The batch stream is regenerated from its seed in every chunk: each step
 * draws `batch_size` samples of the toy data from `new Rng(seed, stream)` and
 * maps them through the frozen toy model (`h = x W`). All chunks therefore see
 * the same batches, and the result does not depend on the number of workers.
 *
 * @example
 * ```ts
 * import { runFusedChunk } from "./fused_run.ts";
 * // see fused_small.ts: trainFusedSmall builds the jobs and calls this (or a worker does)
 * const run: typeof runFusedChunk = runFusedChunk;
 * ```
 *
 * @module
 */

import { Rng } from "../engine/rng.ts";
import { type ComposedDataConfig, ComposedFeatureData } from "./data.ts";
import { hiddenActivations, type ToyModel } from "./model.ts";
import type { SaeConfig, SaeTrainConfig } from "../sae/config.ts";
import { type FusedKernelChoice, FusedSmallSae } from "./fused_state.ts";
import { lrMultiplier, scheduleLengths } from "../sae/schedule.ts";

/** Batches of hidden activations of a frozen toy model on composed-feature data. */
export interface ToyBatchSource {
  kind: "toy";
  /** The data generator's configuration. */
  data: ComposedDataConfig;
  /** The frozen toy model. */
  toy: ToyModel;
  /** Seed of the batch stream. */
  seed: number;
  /** Stream name (e.g. "sae/batches"). */
  stream: string;
  /**
   * Instances per independent batch stream: instance i (global index) trains on stream
   * `${stream}/group${⌊i / group_size⌋}`, as the study trained each config (its 5 instances) on its own draws.
   * 0 or absent: one stream `stream` shared by every instance.
   */
  group_size?: number;
}

/** Initial parameters in the core's layout (see `Sae.toArrays`), float32 or float64. */
export interface FusedParams {
  W_enc: ArrayLike<number>; // [n_inst, d_in, d_sae]
  b_enc: ArrayLike<number>; // [n_inst, d_sae]
  W_dec: ArrayLike<number>; // [n_inst, d_sae, d_in]
  b_dec: ArrayLike<number>; // [n_inst, d_in]
}

/** One chunk of instances to train. */
export interface FusedChunkJob {
  /** Shape with `n_inst` = this chunk's instance count. */
  cfg: SaeConfig;
  /** Recipe with this chunk's lr / l1 arrays and an explicit `loss_instance_divisor`. */
  train: SaeTrainConfig;
  /** The chunk's initial parameters. */
  init: FusedParams;
  /** Where batches come from. */
  source: ToyBatchSource;
  /** Log per-instance statistics every this many steps (and at the last step). */
  logEvery: number;
  /** Post progress every this many steps. */
  progressEvery: number;
  /** Batch loop choice. */
  kernel: FusedKernelChoice;
  /** Global index of this chunk's first instance (selects its batch-stream groups; default 0). */
  first_instance?: number;
}

/** Logged statistics of a chunk (instance-major within each logged step). */
export interface FusedChunkLog {
  /** 1-based step numbers of the log rows. */
  steps: number[];
  /** [rows × n_inst] normalised MSE, batch mean. */
  mse: Float64Array;
  /** [rows × n_inst] cooldown-weighted λ·ℓ1, batch mean. */
  l1: Float64Array;
  /** [rows × n_inst] ghost term, batch mean. */
  ghost: Float64Array;
  /** [rows × n_inst] dead (ghost-mask) latents. */
  dead: Float64Array;
}

/** What a chunk returns. */
export interface FusedChunkResult {
  /** Final parameters, packed per instance as in `FusedSmallSae.params`. */
  params: Float64Array;
  /** Samples on which each latent was > 0, [n_inst, d_sae]. */
  fireCount: Float64Array;
  /** Steps since each latent last fired, [n_inst, d_sae]. */
  sinceFired: Float64Array;
  /** Logged statistics. */
  log: FusedChunkLog;
  /** Samples seen per instance. */
  samples: number;
  /** Wall time of the loop in milliseconds. */
  ms: number;
}

/**
 * Makes the step function of a batch source: fills `h` ([batch, d_in]) with the next batch.
 *
 * @example
 * ```ts
 * import { makeBatchStream } from "./fused_run.ts";
 * import { datasetConfig } from "./data.ts";
 * const toy = { n_in: 4, n_hid: 2, W: new Float64Array([1, 0, -1, 0, 0, 1, 0, -1]), b: new Float64Array(4) };
 * const next = makeBatchStream({ kind: "toy", data: datasetConfig("D1"), toy, seed: 0, stream: "sae/batches" }, 64, 2);
 * const h = new Float64Array(128);
 * next(h); // the first batch of hidden activations
 * ```
 */
export function makeBatchStream(source: ToyBatchSource, batch: number, dIn: number): (h: Float64Array) => void {
  if (source.kind !== "toy") {
    throw new Error(`fused SAE: unknown batch source kind "${(source as { kind: string }).kind}"`);
  }
  if (source.toy.n_hid !== dIn) {
    throw new RangeError(
      `fused SAE: the toy model's hidden size ${source.toy.n_hid} differs from the SAE's d_in ${dIn}`,
    );
  }
  const data = new ComposedFeatureData(source.data);
  if (data.nIn !== source.toy.n_in) {
    throw new RangeError(`fused SAE: the data has ${data.nIn} features, the toy model ${source.toy.n_in}`);
  }
  const rng = new Rng(source.seed, source.stream);
  const x = new Float64Array(batch * data.nIn);
  return (h: Float64Array) => {
    data.sample(batch, rng, x);
    hiddenActivations(source.toy, x, batch, h);
  };
}

/**
 * Trains one chunk of instances for `train.total_steps` steps.
 *
 * @param onProgress called with the number of finished steps every `progressEvery` steps and at the end
 *
 * @example
 * ```ts
 * import { runFusedChunk } from "./fused_run.ts";
 * // const result = runFusedChunk(job, (done) => console.log(done)); result.params
 * ```
 */
export function runFusedChunk(job: FusedChunkJob, onProgress?: (done: number) => void): FusedChunkResult {
  const { cfg, train } = job;
  const sae = new FusedSmallSae(cfg, train, job.kernel);
  sae.setParams(job.init);
  const B = train.batch_size;
  const T = train.total_steps;
  const n = cfg.n_inst;
  const groupSize = job.source.group_size ?? 0;
  if (!Number.isInteger(groupSize) || groupSize < 0) {
    throw new RangeError(`fused SAE: ToyBatchSource.group_size must be an integer ≥ 0, got ${groupSize}`);
  }
  // one stream per group of instances (or one for all); hs[i] is instance i's batch
  const first = job.first_instance ?? 0;
  const streams: { next: (h: Float64Array) => void; h: Float64Array }[] = [];
  const hs: Float64Array[] = [];
  const byGroup = new Map<number, number>();
  for (let i = 0; i < (groupSize > 0 ? n : 1); i++) {
    const g = groupSize > 0 ? Math.floor((first + i) / groupSize) : -1;
    if (!byGroup.has(g)) {
      const source = g < 0 ? job.source : { ...job.source, stream: `${job.source.stream}/group${g}` };
      byGroup.set(g, streams.length);
      streams.push({ next: makeBatchStream(source, B, cfg.d_in), h: new Float64Array(B * cfg.d_in) });
    }
    hs.push(streams[byGroup.get(g)!]!.h);
  }
  const lengths = scheduleLengths(T, train.lr_warm_up_fraction, train.lr_decay_fraction);
  const rows = Math.floor(T / job.logEvery) + (T % job.logEvery === 0 ? 0 : 1);
  const log: FusedChunkLog = {
    steps: [],
    mse: new Float64Array(rows * n),
    l1: new Float64Array(rows * n),
    ghost: new Float64Array(rows * n),
    dead: new Float64Array(rows * n),
  };
  const t0 = performance.now();
  for (let s = 0; s < T; s++) {
    for (const st of streams) st.next(st.h);
    sae.step(groupSize > 0 ? hs : hs[0]!, B, lrMultiplier(s, T, lengths));
    const done = s + 1;
    if (done % job.logEvery === 0 || done === T) {
      const r = log.steps.length;
      log.steps.push(done);
      log.mse.set(sae.last.mse, r * n);
      log.l1.set(sae.last.l1, r * n);
      log.ghost.set(sae.last.ghost, r * n);
      for (let i = 0; i < n; i++) log.dead[r * n + i] = sae.last.dead[i]!;
    }
    if (onProgress && (done % job.progressEvery === 0 || done === T)) onProgress(done);
  }
  return {
    params: sae.params,
    fireCount: sae.fireCount,
    sinceFired: sae.sinceFired,
    log,
    samples: sae.samplesSeen,
    ms: performance.now() - t0,
  };
}
