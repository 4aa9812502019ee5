/**
 * Fast training of many tiny SAEs (study A: d_in = 2, d_sae = 4, 125 instances
 * = a 5 × 5 lr × ℓ1 grid × 5 instances) with the fused pure-TypeScript kernel
 * (`fused_state.ts`, `fused_kernels.ts`), split across Web Workers.
 *
 * The kernel implements the SAE core's recipe (`train.ts`/`loss.ts`/`ghost.ts`,
 * study A §6.4–6.7) with the core's config types, schedule and (through the
 * caller) its initialisation and geometric-median `b_dec`; the result converts
 * back into the core's {@link Sae} ({@link fusedResultToSae}) so metrics and
 * figures share one code path. `tests/fused_sae_test.ts` checks it against the
 * core trainer step for step.
 *
 * Determinism: instances never interact and every worker regenerates the same
 * batch stream from its seed, so the numbers do not depend on `workers`.
 *
 * @example
 * ```ts
 * import { createSae } from "../sae/sae.ts";
 * import { defaultSaeConfig, defaultSaeTrainConfig } from "../sae/config.ts";
 * import { fusedResultToSae, trainFusedSmall } from "./fused_small.ts";
 * import { datasetConfig } from "./data.ts";
 * import { initToyModel } from "./model.ts";
 * import { Rng } from "../engine/rng.ts";
 * const cfg = defaultSaeConfig({ d_in: 2, d_sae: 4, n_inst: 10 });
 * const train = defaultSaeTrainConfig({ total_steps: 100, lr: 1e-3, l1_coefficient: 0.1 });
 * const init = createSae(cfg, 0);
 * const arrays = init.toArrays();
 * init.dispose();
 * const toy = initToyModel(4, 2, new Rng(0, "toy/init"));
 * const result = await trainFusedSmall(cfg, train, {
 *   W_enc: arrays.W_enc!.data, b_enc: arrays.b_enc!.data, W_dec: arrays.W_dec!.data, b_dec: arrays.b_dec!.data,
 * }, { kind: "toy", data: datasetConfig("D1"), toy, seed: 0, stream: "sae/batches" }, { workers: 2 });
 * const sae = fusedResultToSae(result);
 * sae.dispose();
 * ```
 *
 * @module
 */

import { type SaeConfig, type SaeTrainConfig, validateSaeTrainConfig } from "../sae/config.ts";
import { validateSaeConfig } from "../sae/registry.ts";
import { type Sae, saeFromArrays } from "../sae/sae.ts";
import { checkFusedSupport, type FusedKernelChoice } from "./fused_state.ts";
import {
  type FusedChunkJob,
  type FusedChunkLog,
  type FusedChunkResult,
  type FusedParams,
  runFusedChunk,
  type ToyBatchSource,
} from "./fused_run.ts";
import type { FusedWorkerMessage } from "./fused_worker.ts";

export type { FusedChunkLog, FusedParams, ToyBatchSource };
export { checkFusedSupport, FusedSmallSae } from "./fused_state.ts";

/** Options of {@link trainFusedSmall}. */
export interface FusedTrainOptions {
  /** Web Workers to split the instances over; 0 trains in this thread. Default: min(2, cores, n_inst). */
  workers?: number;
  /** Log per-instance statistics every this many steps (default: total_steps / 250, at least 1). */
  logEvery?: number;
  /** Batch loop choice (default "auto"). */
  kernel?: FusedKernelChoice;
  /** Called with (finished steps of the slowest chunk, total steps). */
  onProgress?: (done: number, total: number) => void;
}

/** Result of {@link trainFusedSmall}. */
export interface FusedTrainResult {
  /** Shape trained. */
  cfg: SaeConfig;
  /** Recipe trained with. */
  train: SaeTrainConfig;
  /** Final parameters in the core's layout (float32, as `Sae.toArrays` gives them). */
  params: { W_enc: Float32Array; b_enc: Float32Array; W_dec: Float32Array; b_dec: Float32Array };
  /** Fraction of training samples on which each latent was > 0, [n_inst, d_sae]. */
  fireFraction: Float64Array;
  /** Latents in the ghost-grad dead mask after the last step (not fired for > window steps), per instance. */
  deadAtEnd: Int32Array;
  /** Training log, [rows × n_inst] per statistic. */
  log: FusedChunkLog;
  /** Workers used (0 = in thread). */
  workers: number;
  /** Wall time in milliseconds. */
  ms: number;
  /** Wall time per step in milliseconds. */
  msPerStep: number;
}

function defaultWorkers(nInst: number): number {
  const cores = typeof navigator !== "undefined" && navigator.hardwareConcurrency ? navigator.hardwareConcurrency : 1;
  return Math.max(1, Math.min(2, cores, nInst));
}

function sliceInit(init: FusedParams, cfg: SaeConfig, start: number, count: number): FusedParams {
  const { d_in: d, d_sae: s } = cfg;
  const take = (a: ArrayLike<number>, size: number, what: string) => {
    if (a.length !== cfg.n_inst * size) {
      throw new RangeError(`trainFusedSmall: init.${what} has ${a.length} values, expected ${cfg.n_inst}·${size}`);
    }
    return Float64Array.from({ length: count * size }, (_, k) => a[start * size + k] as number);
  };
  return {
    W_enc: take(init.W_enc, d * s, "W_enc"),
    b_enc: take(init.b_enc, s, "b_enc"),
    W_dec: take(init.W_dec, s * d, "W_dec"),
    b_dec: take(init.b_dec, d, "b_dec"),
  };
}

function runInWorker(job: FusedChunkJob, onProgress: (done: number) => void): {
  promise: Promise<FusedChunkResult>;
  stop: () => void;
} {
  const worker = new Worker(new URL("./fused_worker.ts", import.meta.url), { type: "module" });
  const promise = new Promise<FusedChunkResult>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<FusedWorkerMessage>) => {
      const msg = e.data;
      if (msg.type === "progress") onProgress(msg.done);
      else if (msg.type === "done") {
        worker.terminate();
        resolve(msg.result);
      } else {
        worker.terminate();
        reject(new Error(`fused SAE worker failed: ${msg.message}`));
      }
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      worker.terminate();
      reject(new Error(`fused SAE worker crashed: ${e.message}`));
    };
  });
  worker.postMessage(job);
  return { promise, stop: () => worker.terminate() };
}

/**
 * Trains `cfg.n_inst` tiny SAEs from `init` on batches from `source` for
 * `train.total_steps` steps, splitting instances over `options.workers` workers.
 *
 * @throws {SaeConfigError} naming the field when the configuration is invalid or not supported by the kernel
 *
 * @example
 * ```ts
 * import { trainFusedSmall } from "./fused_small.ts";
 * // see the module example: const result = await trainFusedSmall(cfg, train, init, source, { workers: 2 });
 * ```
 */
export async function trainFusedSmall(
  cfg: SaeConfig,
  train: SaeTrainConfig,
  init: FusedParams,
  source: ToyBatchSource,
  options: FusedTrainOptions = {},
): Promise<FusedTrainResult> {
  validateSaeConfig(cfg);
  validateSaeTrainConfig(train, cfg);
  checkFusedSupport(cfg, train);
  const n = cfg.n_inst;
  const T = train.total_steps;
  const workers = options.workers ?? defaultWorkers(n);
  if (!Number.isInteger(workers) || workers < 0) {
    throw new RangeError(`trainFusedSmall: workers must be an integer ≥ 0, got ${workers}`);
  }
  const logEvery = options.logEvery ?? Math.max(1, Math.floor(T / 250));
  const chunks = Math.max(1, Math.min(workers, n));
  const lr = typeof train.lr === "number" ? new Array<number>(n).fill(train.lr) : [...train.lr];
  const l1 = typeof train.l1_coefficient === "number"
    ? new Array<number>(n).fill(train.l1_coefficient)
    : [...train.l1_coefficient];
  const divisor = train.loss_instance_divisor ?? n;
  const jobs: FusedChunkJob[] = [];
  const starts: number[] = [];
  for (let c = 0, start = 0; c < chunks; c++) {
    const count = Math.floor(n / chunks) + (c < n % chunks ? 1 : 0);
    starts.push(start);
    jobs.push({
      cfg: { ...cfg, n_inst: count },
      train: {
        ...train,
        lr: lr.slice(start, start + count),
        l1_coefficient: l1.slice(start, start + count),
        loss_instance_divisor: divisor,
      },
      init: sliceInit(init, cfg, start, count),
      source,
      logEvery,
      progressEvery: Math.max(1, Math.floor(T / 200)),
      kernel: options.kernel ?? "auto",
      first_instance: start,
    });
    start += count;
  }
  const done = new Array<number>(chunks).fill(0);
  const report = (c: number, d: number) => {
    done[c] = d;
    options.onProgress?.(Math.min(...done), T);
  };
  const t0 = performance.now();
  let results: FusedChunkResult[];
  if (workers === 0) {
    results = jobs.map((job, c) => runFusedChunk(job, (d) => report(c, d)));
  } else {
    const running = jobs.map((job, c) => runInWorker(job, (d) => report(c, d)));
    try {
      results = await Promise.all(running.map((r) => r.promise));
    } catch (e) {
      for (const r of running) r.stop();
      throw e;
    }
  }
  const ms = performance.now() - t0;
  return merge(cfg, train, results, starts, workers, ms);
}

function merge(
  cfg: SaeConfig,
  train: SaeTrainConfig,
  results: FusedChunkResult[],
  starts: number[],
  workers: number,
  ms: number,
): FusedTrainResult {
  const { n_inst: n, d_in: d, d_sae: s } = cfg;
  const P = d * s + s + s * d + d;
  const W_enc = new Float32Array(n * d * s);
  const b_enc = new Float32Array(n * s);
  const W_dec = new Float32Array(n * s * d);
  const b_dec = new Float32Array(n * d);
  const fireFraction = new Float64Array(n * s);
  const deadAtEnd = new Int32Array(n);
  const first = results[0]!;
  const rows = first.log.steps.length;
  const log: FusedChunkLog = {
    steps: [...first.log.steps],
    mse: new Float64Array(rows * n),
    l1: new Float64Array(rows * n),
    ghost: new Float64Array(rows * n),
    dead: new Float64Array(rows * n),
  };
  results.forEach((r, c) => {
    const start = starts[c]!;
    const count = r.params.length / P;
    for (let k = 0; k < count; k++) {
      const i = start + k;
      const o = k * P;
      for (let q = 0; q < d * s; q++) W_enc[i * d * s + q] = r.params[o + q]!;
      for (let q = 0; q < s; q++) b_enc[i * s + q] = r.params[o + d * s + q]!;
      for (let q = 0; q < s * d; q++) W_dec[i * s * d + q] = r.params[o + d * s + s + q]!;
      for (let q = 0; q < d; q++) b_dec[i * d + q] = r.params[o + 2 * d * s + s + q]!;
      for (let j = 0; j < s; j++) {
        fireFraction[i * s + j] = r.fireCount[k * s + j]! / r.samples;
        if (r.sinceFired[k * s + j]! > train.dead_feature_window) deadAtEnd[i] = deadAtEnd[i]! + 1;
      }
      for (let row = 0; row < rows; row++) {
        log.mse[row * n + i] = r.log.mse[row * count + k]!;
        log.l1[row * n + i] = r.log.l1[row * count + k]!;
        log.ghost[row * n + i] = r.log.ghost[row * count + k]!;
        log.dead[row * n + i] = r.log.dead[row * count + k]!;
      }
    }
  });
  return {
    cfg,
    train,
    params: { W_enc, b_enc, W_dec, b_dec },
    fireFraction,
    deadAtEnd,
    log,
    workers,
    ms,
    msPerStep: ms / train.total_steps,
  };
}

/**
 * The trained instances as the core's {@link Sae} (float32 tfjs variables; call `dispose()`).
 * See the module example: `fusedResultToSae(await trainFusedSmall(…))`.
 *
 * @example
 * ```ts
 * import { fusedResultToSae } from "./fused_small.ts";
 * // const sae = fusedResultToSae(await trainFusedSmall(cfg, train, init, source)); … sae.dispose();
 * ```
 */
export function fusedResultToSae(result: FusedTrainResult): Sae {
  const { n_inst: n, d_in: d, d_sae: s } = result.cfg;
  const p = result.params;
  return saeFromArrays(result.cfg, {
    W_enc: { data: p.W_enc, shape: [n, d, s] },
    b_enc: { data: p.b_enc, shape: [n, s] },
    W_dec: { data: p.W_dec, shape: [n, s, d] },
    b_dec: { data: p.b_dec, shape: [n, d] },
  });
}
