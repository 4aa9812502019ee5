/**
 * Opt-in two-thread attention for training (`SAE_ATTENTION_WORKER=1`): the
 * fused causal attention's (row, head) pairs split between the main thread
 * and one Worker, both calling OpenBLAS (one thread each) and the SIMD row
 * kernels on a shared `WebAssembly.Memory` arena. The tfjs heap cannot be
 * shared, so q·k·v and dz are copied into the arena and z and dqkv back;
 * the probabilities stay in the arena from forward to backward.
 *
 * Lifetime: {@link withAttentionPool} starts the Worker, runs its callback
 * (one optimiser step: `lib/lm/train.ts` `trainStep`), and stops the Worker,
 * so no Worker outlives the step (a live Worker keeps Deno from exiting). The
 * arena is a bump allocator that the caller resets after each backward pass.
 * A Worker that fails to start makes the callback run without it; one that
 * fails or hangs mid-job raises an error naming the cause.
 *
 * @module
 */

import type { Blas } from "../blas_ffi.ts";
import { JOB_FIELDS, type PairJob, runPairs } from "./attention_pairs.ts";
import { type LmSimd, lmSimdOn, SHARED_MAX_PAGES } from "./lm_simd.ts";

const READY_TIMEOUT_MS = 20_000;
/** A Worker idle this long closes itself (and is started again on the next job). */
const IDLE_MS = 5_000;
const JOB_TIMEOUT_MS = 600_000;

/** A started Worker with its arena. */
export class AttentionPool {
  readonly memory: WebAssembly.Memory;
  readonly blas: Blas;
  readonly simd: LmSimd;
  #ctl: Int32Array;
  #worker: Worker;
  #seq = 0;
  #top = 0;

  private constructor(blas: Blas, memory: WebAssembly.Memory, ctl: Int32Array, worker: Worker) {
    this.blas = blas;
    this.memory = memory;
    this.simd = lmSimdOn(memory, true);
    this.#ctl = ctl;
    this.#worker = worker;
  }

  /** Starts the Worker and waits for it; null (and no Worker left) when it does not come up. */
  static start(blas: Blas): AttentionPool | null {
    const memory = new WebAssembly.Memory({ initial: 16, maximum: SHARED_MAX_PAGES, shared: true });
    const w = spawn(memory);
    return w === null ? null : new AttentionPool(blas, memory, w.ctl, w.worker);
  }

  /** Claims the Worker for a job, starting a new one (same arena) when the last closed itself. */
  #claim(): void {
    if (Atomics.compareExchange(this.#ctl, 2, 1, 3) === 1) return;
    this.#worker.terminate();
    const w = spawn(this.memory);
    if (w === null) throw new Error("attention worker: could not restart it");
    this.#ctl = w.ctl;
    this.#worker = w.worker;
    this.#seq = 0;
    if (Atomics.compareExchange(this.#ctl, 2, 1, 3) !== 1) throw new Error("attention worker: not idle after start");
  }

  /** Float offset of `floats` new floats in the arena (64-byte aligned), growing it as needed. */
  alloc(floats: number): number {
    const at = this.#top;
    this.#top = at + Math.ceil(floats / 16) * 16;
    const need = this.#top * 4 - this.memory.buffer.byteLength;
    if (need > 0) {
      const pages = Math.ceil(need / 65536);
      if (this.memory.buffer.byteLength / 65536 + pages > SHARED_MAX_PAGES) {
        throw new RangeError(
          `attention arena: ${this.#top * 4} bytes exceed wasm32's 4 GiB; use smaller micro-batches`,
        );
      }
      this.memory.grow(pages);
    }
    return at;
  }

  /** The arena as floats (take it after the last {@link alloc}). */
  view(): Float32Array {
    return new Float32Array(this.memory.buffer);
  }

  /** Frees the whole arena (after a backward pass). */
  reset(): void {
    this.#top = 0;
  }

  /** Runs `job` with the Worker taking the odd (row, head) pairs and this thread the even ones. */
  run(job: PairJob): void {
    this.#claim();
    const c = this.#ctl;
    JOB_FIELDS.forEach((k, i) => (c[8 + i] = job[k]));
    const seq = ++this.#seq;
    Atomics.store(c, 0, seq);
    Atomics.notify(c, 0);
    runPairs(this.view(), this.blas, this.simd, job, 0, 2);
    const t0 = performance.now();
    while (Atomics.load(c, 1) !== seq) {
      if (Atomics.load(c, 1) === -1) throw new Error("attention worker failed (see its message above)");
      if (performance.now() - t0 > JOB_TIMEOUT_MS) throw new Error("attention worker did not finish its job");
      Atomics.wait(c, 1, Atomics.load(c, 1), 1000);
    }
    Atomics.store(c, 2, 1); // idle again
  }

  /** Stops the Worker. */
  close(): void {
    Atomics.store(this.#ctl, 0, -1);
    Atomics.notify(this.#ctl, 0);
    this.#worker.terminate();
  }
}

function spawn(memory: WebAssembly.Memory): { ctl: Int32Array; worker: Worker } | null {
  const ctl = new Int32Array(new SharedArrayBuffer(4 * (8 + JOB_FIELDS.length)));
  ctl[3] = IDLE_MS;
  const worker = new Worker(new URL("./attention_worker.ts", import.meta.url).href, { type: "module" });
  worker.postMessage({ ctl: ctl.buffer, memory });
  Atomics.wait(ctl, 2, 0, READY_TIMEOUT_MS);
  if (Atomics.load(ctl, 2) !== 1) {
    worker.terminate();
    return null;
  }
  return { ctl, worker };
}

let active: AttentionPool | null = null;
let kept: AttentionPool | null = null;

/**
 * The process's pool for training steps (started on first use, kept between steps: its Worker closes itself
 * after 5 s without work and restarts on the next job), or null when the Worker cannot start.
 */
export function sharedAttentionPool(blas: Blas): AttentionPool | null {
  kept ??= AttentionPool.start(blas);
  return kept;
}

/** The pool of the enclosing {@link withAttentionPool}, or null. */
export function activeAttentionPool(): AttentionPool | null {
  return active;
}

/** `SAE_ATTENTION_WORKER`: true for `1`, false for `0`, null when unset, something else, or not readable. */
export function attentionWorkerSetting(): boolean | null {
  let v: string | undefined;
  try {
    v = Deno.env.get("SAE_ATTENTION_WORKER");
  } catch {
    return null;
  }
  return v === "1" ? true : v === "0" ? false : null;
}

/** Whether `SAE_ATTENTION_WORKER=1` asks for the two-thread attention. */
export function attentionWorkerRequested(): boolean {
  return attentionWorkerSetting() === true;
}

/** Runs `fn` with a started pool when `blas` is given and the Worker comes up (else with null), then stops it. */
export function withAttentionPool<T>(blas: Blas | null, fn: (pool: AttentionPool | null) => T): T {
  if (blas === null || active !== null) return fn(active);
  const pool = AttentionPool.start(blas);
  if (pool === null) return fn(null);
  active = pool;
  try {
    return fn(pool);
  } finally {
    active = null;
    pool.close();
  }
}

/** Runs `fn` with `pool` (not started or stopped here) as the active pool; the arena is reset after. */
export function usingAttentionPool<T>(pool: AttentionPool | null, fn: () => T): T {
  if (pool === null || active !== null) return fn();
  active = pool;
  try {
    return fn();
  } finally {
    active = null;
    pool.reset();
  }
}
