/**
 * Causal multi-head self-attention as one op, with its own backward pass:
 * `qkv [batch, pos, 3·d_model]` (q, k, v side by side, each head a block of
 * `d_head` columns, as GPT-2's `c_attn` writes them) →
 * `z [batch, pos, d_model]` (the heads' outputs side by side, the input of `c_proj`):
 * `z_h = softmax(q_h k_hᵀ / √d_head + causal mask) v_h`.
 *
 * **Fused path** (wasm backend with native BLAS, `fused_ops.ts`): queries in
 * blocks of `block` rows; block i attends to keys `[0, end_i)` only, so the
 * masked upper triangle is skipped except inside the diagonal block. Per
 * block and head: `S = q kᵀ/√d_head` (BLAS, reading q and k in place through
 * their row stride), the masked softmax in place (SIMD, `lm_simd.ts`), then
 * `z = P v` (BLAS, written in place into z's columns). The probabilities P are
 * kept for the backward pass only while a gradient is being taken:
 * `dP = dz vᵀ`, `dS = P ⊙ (dP − rowsum(P ⊙ dP))`, `dq = dS k/√d_head`,
 * `dk += dSᵀ q/√d_head`, `dv += Pᵀ dz` (BLAS with β = 1 for the sums over
 * query blocks). FLOPs: 4·T_q·T_k·d_head per head and row forward over the
 * computed blocks, which is ≈ (T² + T·block)/2 pairs instead of T².
 *
 * **Plain path** (every other backend, or the fused path switched off): the
 * same function with tfjs ops (additive −1e9 mask, `tf.softmax`), differentiated by tfjs.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { causalAttention } from "./causal_attention.ts";
 * const qkv = tf.randomNormal([1, 5, 3 * 8]) as tf.Tensor3D; // [batch, pos, 3·d_model], d_model 8
 * const z = causalAttention(qkv, 2); // [1, 5, 8], two heads of 4
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { type FusedLm, fusedLmOps, heapTensor, heapView, recordingGradients, timed } from "./fused_ops.ts";
import { activeAttentionPool, type AttentionPool } from "./attention_pool.ts";

function envInt(name: string, fallback: number): number {
  let raw: string | undefined;
  try {
    raw = Deno.env.get(name);
  } catch {
    return fallback;
  }
  if (raw === undefined || raw === "") return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1 || v > 4096) {
    throw new Error(`${name}: expected an integer from 1 to 4096, got "${raw}"`);
  }
  return v;
}

/** Query rows per block of the fused path (a multiple of 4 keeps rows vector-aligned); `SAE_ATTENTION_BLOCK` overrides. */
export const ATTENTION_BLOCK = envInt("SAE_ATTENTION_BLOCK", 128);

/**
 * OpenBLAS threads for attention's products. They are small and thin (k or n = d_head = 32): measured on the
 * 2-core build machine while one core was busy, one thread ran them 3× faster than two (thread start and barrier
 * costs dominate), and at load average 12 two threads with 64-row blocks were 10× slower than one. Not yet measured
 * on a quiet machine, where two threads may win for 128-row blocks: `SAE_ATTENTION_THREADS` overrides it.
 */
export const ATTENTION_BLAS_THREADS = envInt("SAE_ATTENTION_THREADS", 1);

/** Runs `fn` with OpenBLAS set to {@link ATTENTION_BLAS_THREADS} threads, restoring the count after. */
function withAttentionThreads<T>(blas: FusedLm["blas"], fn: () => T): T {
  const before = blas.threads;
  if (before === ATTENTION_BLAS_THREADS) return fn();
  blas.setThreads(ATTENTION_BLAS_THREADS);
  try {
    return fn();
  } finally {
    blas.setThreads(before);
  }
}

/** Block layout of one (row, head): block i has `rows[i]` queries and attends to keys `[0, ends[i])`. */
interface Blocks {
  rows: number[];
  ends: number[];
  /** Float offset of block i's probabilities inside one (row, head). */
  offsets: number[];
  /** Floats of probabilities per (row, head). */
  size: number;
}

function blocksOf(T: number, block: number): Blocks {
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

/**
 * Query-key pairs the fused path computes for `T` positions (per row and
 * head): the causal half plus the masked part of the diagonal blocks.
 */
export function attentionPairsComputed(T: number, block = ATTENTION_BLOCK): number {
  return blocksOf(T, block).size;
}

function checkShape(qkv: tf.Tensor3D, nHead: number): [number, number, number, number] {
  const [B, T, three] = qkv.shape;
  if (qkv.rank !== 3 || three % 3 !== 0) {
    throw new Error(`causalAttention: qkv must be [batch, pos, 3·d_model], got [${qkv.shape}]`);
  }
  const d = three / 3;
  if (!Number.isInteger(nHead) || nHead < 1 || d % nHead !== 0) {
    throw new Error(`causalAttention: n_head ${nHead} must divide d_model ${d}`);
  }
  return [B, T, d, d / nHead];
}

/** Causal self-attention by plain tfjs ops (the reference the fused path is tested against). */
export function causalAttentionPlain(qkv: tf.Tensor3D, nHead: number): tf.Tensor3D {
  const [B, T, d, dh] = checkShape(qkv, nHead);
  return tf.tidy(() => {
    const part = (i: number, perm: number[]) =>
      tf.transpose(tf.reshape(tf.slice(qkv, [0, 0, i * d], [B, T, d]), [B, T, nHead, dh]), perm);
    const q = tf.mul(part(0, [0, 2, 1, 3]), 1 / Math.sqrt(dh)); // [batch, head, pos_q, d_head]
    const kT = part(1, [0, 2, 3, 1]); // [batch, head, d_head, pos_k]
    const v = part(2, [0, 2, 1, 3]); // [batch, head, pos_k, d_head]
    const scores = tf.add(tf.matMul(q, kT), causalMask(T)); // [batch, head, pos_q, pos_k]
    const z = tf.matMul(tf.softmax(scores), v); // [batch, head, pos_q, d_head]
    return tf.reshape(tf.transpose(z, [0, 2, 1, 3]), [B, T, d]);
  });
}

/** Additive causal mask `[pos_q, pos_k]`: 0 where k ≤ q, −1e9 above the diagonal. */
export function causalMask(T: number): tf.Tensor2D {
  const m = new Float32Array(T * T);
  for (let q = 0; q < T; q++) m.fill(-1e9, q * T + q + 1, (q + 1) * T);
  return tf.tensor2d(m, [T, T]);
}

/**
 * Causal self-attention of `qkv` `[batch, pos, 3·d_model]` with `nHead`
 * heads → `[batch, pos, d_model]`; fused when {@link fusedLmOps} allows, else
 * {@link causalAttentionPlain}. `block` sets the fused path's query block.
 */
export function causalAttention(qkv: tf.Tensor3D, nHead: number, block = ATTENTION_BLOCK): tf.Tensor3D {
  checkShape(qkv, nHead);
  if (!Number.isInteger(block) || block < 1) throw new Error(`causalAttention: block must be ≥ 1, got ${block}`);
  const fused = fusedLmOps();
  if (fused === null) return causalAttentionPlain(qkv, nHead);
  const pool = recordingGradients() ? activeAttentionPool() : null;
  if (pool !== null) return pooledAttention(fused, pool, qkv, nHead, block);
  const f = tf.customGrad(
    ((x: tf.Tensor, save: tf.GradSaveFunc) => {
      const keep = recordingGradients();
      const { z, probs } = timed(
        "attention",
        () => withAttentionThreads(fused.blas, () => forward(fused, x as tf.Tensor3D, nHead, block, keep)),
      );
      if (probs !== null) save([x, probs]);
      return {
        value: z,
        gradFunc: (dz: tf.Tensor, saved: tf.Tensor[]) =>
          timed(
            "attention.grad",
            () =>
              withAttentionThreads(
                fused.blas,
                () => backward(fused, saved[0] as tf.Tensor3D, saved[1] as tf.Tensor, dz as tf.Tensor3D, nHead, block),
              ),
          ),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return f(qkv) as tf.Tensor3D;
}

function forward(
  { backend, blas, simd }: FusedLm,
  qkv: tf.Tensor3D,
  nHead: number,
  block: number,
  keep: boolean,
): { z: tf.Tensor3D; probs: tf.Tensor | null } {
  const [B, T, d, dh] = checkShape(qkv, nHead);
  const bl = blocksOf(T, block);
  const z = heapTensor(backend, [B, T, d]) as tf.Tensor3D;
  // all probabilities when the backward pass needs them, else one block's worth reused
  const probs = heapTensor(backend, [keep ? B * nHead * bl.size : block * T]);
  const heap = heapView(backend, z);
  const zOff = heap.byteOffset / 4;
  const qOff = heapView(backend, qkv).byteOffset / 4;
  const pOff = heapView(backend, probs).byteOffset / 4;
  const H = new Float32Array(heap.buffer);
  const ld = 3 * d, scale = 1 / Math.sqrt(dh);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nHead; h++) {
      const kAt = qOff + b * T * ld + d + h * dh, vAt = kAt + d;
      for (let i = 0; i < bl.rows.length; i++) {
        const rows = bl.rows[i]!, e = bl.ends[i]!, q0 = e - rows;
        const pAt = pOff + (keep ? (b * nHead + h) * bl.size + bl.offsets[i]! : 0);
        const P = H.subarray(pAt);
        blas.gemm(
          false,
          true,
          rows,
          e,
          dh,
          scale,
          H.subarray(qOff + (b * T + q0) * ld + h * dh),
          ld,
          H.subarray(kAt),
          ld,
          0,
          P,
          e,
        );
        simd.softmaxCausal(pAt * 4, rows, e, q0 + 1);
        blas.gemm(
          false,
          false,
          rows,
          dh,
          e,
          1,
          P,
          e,
          H.subarray(vAt),
          ld,
          0,
          H.subarray(zOff + (b * T + q0) * d + h * dh),
          d,
        );
      }
    }
  }
  if (!keep) {
    probs.dispose();
    return { z, probs: null };
  }
  return { z, probs };
}

function backward(
  { backend, blas, simd }: FusedLm,
  qkv: tf.Tensor3D,
  probs: tf.Tensor,
  dz: tf.Tensor3D,
  nHead: number,
  block: number,
): tf.Tensor3D {
  const [B, T, d, dh] = checkShape(qkv, nHead);
  const bl = blocksOf(T, block);
  const dqkv = heapTensor(backend, [B, T, 3 * d]) as tf.Tensor3D;
  const scratch = heapTensor(backend, [Math.min(block, T) * T]);
  try {
    const H = new Float32Array(heapView(backend, dqkv).buffer);
    const at = (t: tf.TensorInfo) => heapView(backend, t).byteOffset / 4;
    const gOff = at(dqkv), qOff = at(qkv), pOff = at(probs), dzOff = at(dz), sOff = at(scratch);
    H.fill(0, gOff, gOff + B * T * 3 * d); // dk and dv accumulate over query blocks
    const S = H.subarray(sOff);
    const ld = 3 * d, scale = 1 / Math.sqrt(dh);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < nHead; h++) {
        const kAt = qOff + b * T * ld + d + h * dh, vAt = kAt + d;
        const dkAt = gOff + b * T * ld + d + h * dh, dvAt = dkAt + d;
        for (let i = 0; i < bl.rows.length; i++) {
          const rows = bl.rows[i]!, e = bl.ends[i]!, q0 = e - rows;
          const pAt = pOff + (b * nHead + h) * bl.size + bl.offsets[i]!;
          const P = H.subarray(pAt);
          const dZ = H.subarray(dzOff + (b * T + q0) * d + h * dh);
          const Q = H.subarray(qOff + (b * T + q0) * ld + h * dh);
          blas.gemm(false, true, rows, e, dh, 1, dZ, d, H.subarray(vAt), ld, 0, S, e); // dP
          simd.softmaxBackward(pAt * 4, sOff * 4, rows, e); // dS in place
          blas.gemm(
            false,
            false,
            rows,
            dh,
            e,
            scale,
            S,
            e,
            H.subarray(kAt),
            ld,
            0,
            H.subarray(gOff + (b * T + q0) * ld + h * dh),
            ld,
          );
          blas.gemm(true, false, e, dh, rows, scale, S, e, Q, ld, 1, H.subarray(dkAt), ld);
          blas.gemm(true, false, e, dh, rows, 1, P, e, dZ, d, 1, H.subarray(dvAt), ld);
        }
      }
    }
    return dqkv;
  } finally {
    scratch.dispose();
  }
}

/**
 * The two-thread path (`attention_pool.ts`, training only): q·k·v copied into the pool's shared arena, the
 * (row, head) pairs split with its Worker, z copied back; P stays in the arena until the backward pass, which
 * copies dz in and dqkv out the same way.
 */
function pooledAttention(fused: FusedLm, pool: AttentionPool, qkv: tf.Tensor3D, nHead: number, block: number) {
  const { backend, blas } = fused;
  const [B, T, d] = checkShape(qkv, nHead);
  const size = blocksOf(T, block).size;
  const f = tf.customGrad(
    ((x: tf.Tensor) => {
      const qA = pool.alloc(B * T * 3 * d), zA = pool.alloc(B * T * d), pA = pool.alloc(B * nHead * size);
      const z = heapTensor(backend, [B, T, d]) as tf.Tensor3D;
      timed("attention", () => {
        pool.view().set(heapView(backend, x), qA);
        const job = { kind: 0, B, T, d, H: nHead, block, qkv: qA, z: zA, p: pA, dz: 0, dqkv: 0, scratch: 0 };
        withAttentionThreads(blas, () => pool.run(job));
        heapView(backend, z).set(pool.view().subarray(zA, zA + B * T * d));
      });
      return {
        value: z,
        gradFunc: (dz: tf.Tensor) =>
          timed("attention.grad", () => {
            const dzA = pool.alloc(B * T * d), gA = pool.alloc(B * T * 3 * d), sA = pool.alloc(2 * block * T);
            const A = pool.view();
            A.set(heapView(backend, dz), dzA);
            A.fill(0, gA, gA + B * T * 3 * d);
            const job = { kind: 1, B, T, d, H: nHead, block, qkv: qA, z: zA, p: pA, dz: dzA, dqkv: gA, scratch: sA };
            withAttentionThreads(blas, () => pool.run(job));
            const dqkv = heapTensor(backend, [B, T, 3 * d]);
            heapView(backend, dqkv).set(pool.view().subarray(gA, gA + B * T * 3 * d));
            return dqkv;
          }),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return f(qkv) as tf.Tensor3D;
}
