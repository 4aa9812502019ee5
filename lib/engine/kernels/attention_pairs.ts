/**
 * The per-(row, head) work of the fused causal attention on a flat float
 * arena, for the two-thread path (`attention_pool.ts`): the main thread and a
 * Worker each run the pairs of one parity over the same shared memory. Pure
 * computation (BLAS + SIMD row kernels), no tfjs; the layout is
 * `causal_attention.ts`'s (query blocks, probabilities kept block by block).
 *
 * @module
 */

import type { Blas } from "../blas_ffi.ts";
import type { LmSimd } from "./lm_simd.ts";

/** One attention job: sizes and float offsets into the arena. */
export interface PairJob {
  /** 0 forward, 1 backward. */
  kind: number;
  B: number;
  T: number;
  d: number;
  H: number;
  block: number;
  /** `[B, T, 3d]` input. */
  qkv: number;
  /** `[B, T, d]` output (forward). */
  z: number;
  /** Probabilities of every (row, head), `blockLayout(T, block).size` floats each. */
  p: number;
  /** `[B, T, d]` output gradient (backward). */
  dz: number;
  /** `[B, T, 3d]` input gradient, zeroed by the caller (backward). */
  dqkv: number;
  /** Two scratch blocks of `block · T` floats, one per thread (backward). */
  scratch: number;
}

/** Field order of a {@link PairJob} in the control block. */
export const JOB_FIELDS = ["kind", "B", "T", "d", "H", "block", "qkv", "z", "p", "dz", "dqkv", "scratch"] as const;

/** Query blocks of `T` positions: rows, key ends and probability offsets per (row, head). */
export function blockLayout(
  T: number,
  block: number,
): { rows: number[]; ends: number[]; offsets: number[]; size: number } {
  const rows: number[] = [], ends: number[] = [], offsets: number[] = [];
  let size = 0;
  for (let q0 = 0; q0 < T; q0 += block) {
    const r = Math.min(block, T - q0);
    rows.push(r);
    ends.push(q0 + r);
    offsets.push(size);
    size += r * (q0 + r);
  }
  return { rows, ends, offsets, size };
}

/** Runs the (row, head) pairs with `(b·H + h) % threads === part` of `job` on arena `A`. */
export function runPairs(A: Float32Array, blas: Blas, simd: LmSimd, job: PairJob, part: number, threads: number): void {
  const { B, T, d, H, block } = job;
  const dh = d / H, ld = 3 * d, scale = 1 / Math.sqrt(dh);
  const bl = blockLayout(T, block);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      if ((b * H + h) % threads !== part) continue;
      const kAt = job.qkv + b * T * ld + d + h * dh, vAt = kAt + d;
      const dkAt = job.dqkv + b * T * ld + d + h * dh, dvAt = dkAt + d;
      const S = job.scratch + part * block * T;
      for (let i = 0; i < bl.rows.length; i++) {
        const rows = bl.rows[i]!, e = bl.ends[i]!, q0 = e - rows;
        const pAt = job.p + (b * H + h) * bl.size + bl.offsets[i]!;
        const qAt = job.qkv + (b * T + q0) * ld + h * dh;
        if (job.kind === 0) {
          blas.gemm(false, true, rows, e, dh, scale, A.subarray(qAt), ld, A.subarray(kAt), ld, 0, A.subarray(pAt), e);
          simd.softmaxCausal(pAt * 4, rows, e, q0 + 1);
          const zAt = job.z + (b * T + q0) * d + h * dh;
          blas.gemm(false, false, rows, dh, e, 1, A.subarray(pAt), e, A.subarray(vAt), ld, 0, A.subarray(zAt), d);
        } else {
          const dZ = A.subarray(job.dz + (b * T + q0) * d + h * dh);
          blas.gemm(false, true, rows, e, dh, 1, dZ, d, A.subarray(vAt), ld, 0, A.subarray(S), e); // dP
          simd.softmaxBackward(pAt * 4, S * 4, rows, e); // dS in place
          const dqAt = job.dqkv + (b * T + q0) * ld + h * dh;
          blas.gemm(false, false, rows, dh, e, scale, A.subarray(S), e, A.subarray(kAt), ld, 0, A.subarray(dqAt), ld);
          blas.gemm(true, false, e, dh, rows, scale, A.subarray(S), e, A.subarray(qAt), ld, 1, A.subarray(dkAt), ld);
          blas.gemm(true, false, e, dh, rows, 1, A.subarray(pAt), e, dZ, d, 1, A.subarray(dvAt), ld);
        }
      }
    }
  }
}
