/**
 * The Worker of the two-thread attention path (`attention_pool.ts`): runs the
 * odd (row, head) pairs of each job over the shared arena. Control block
 * (Int32): [0] job sequence (−1: stop), [1] done sequence, [2] state (0
 * starting, 1 idle, 3 claimed by the main thread for a job, 2 closed, −1
 * failed), [3] idle milliseconds before the Worker closes itself, [8…] the
 * job's fields (`JOB_FIELDS`). Closing when idle lets the process exit.
 *
 * @module
 */

import { loadBlas } from "../blas_ffi.ts";
import { JOB_FIELDS, type PairJob, runPairs } from "./attention_pairs.ts";
import { lmSimdOn } from "./lm_simd.ts";

const scope = self as unknown as { onmessage: ((e: MessageEvent) => void) | null; close(): void };

scope.onmessage = (e: MessageEvent) => {
  const { ctl, memory } = e.data as { ctl: SharedArrayBuffer; memory: WebAssembly.Memory };
  const c = new Int32Array(ctl);
  let seen = 0;
  try {
    const blas = loadBlas();
    if (blas === null) throw new Error("no BLAS in the worker");
    const simd = lmSimdOn(memory, true);
    Atomics.store(c, 2, 1);
    Atomics.notify(c, 2);
    for (;;) {
      if (Atomics.wait(c, 0, seen, c[3]) === "timed-out" && Atomics.compareExchange(c, 2, 1, 2) === 1) break;
      const seq = Atomics.load(c, 0);
      if (seq < 0) break;
      if (seq === seen) continue; // claimed, job not posted yet
      const job = Object.fromEntries(JOB_FIELDS.map((k, i) => [k, c[8 + i] as number])) as unknown as PairJob;
      runPairs(new Float32Array(memory.buffer), blas, simd, job, 1, 2);
      seen = seq;
      Atomics.store(c, 1, seq);
      Atomics.notify(c, 1);
    }
  } catch (err) {
    console.error(`attention worker: ${err instanceof Error ? err.message : String(err)}`);
    Atomics.store(c, 2, -1);
    Atomics.notify(c, 2);
    Atomics.store(c, 1, -1);
    Atomics.notify(c, 1);
  }
  scope.close();
};
