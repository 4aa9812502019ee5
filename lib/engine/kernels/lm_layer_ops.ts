/**
 * Fused LayerNorm, `gelu_new` and unembedding + softmax cross-entropy, each
 * one op with its own backward pass. On the fused path (`fused_ops.ts`: wasm
 * backend, native BLAS, SIMD module) each is one or two passes over the heap
 * (`lm_simd.ts`) where tfjs runs a dozen element-wise kernels forward and
 * more backward; elsewhere each computes the same function with plain tfjs
 * ops. The unembedding + cross-entropy never materialises all logits: rows
 * are processed in chunks (logits of a chunk by BLAS, then softmax, loss and
 * gradient in one SIMD pass, then the two gradient products by BLAS).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { gelu, layerNorm } from "./lm_layer_ops.ts";
 * const x = tf.randomNormal([2, 3, 8]) as tf.Tensor3D;
 * const y = gelu(layerNorm(x, tf.ones([8]), tf.zeros([8]), 1e-5)); // [2, 3, 8]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { type FusedLm, fusedLmOps, heapTensor, heapView, recordingGradients, timed } from "./fused_ops.ts";

type CustomGradFn = Parameters<typeof tf.customGrad>[0];

/** LayerNorm over the last axis by plain tfjs ops: `(x − mean)/√(var + eps)·g + b`. */
export function layerNormPlain<T extends tf.Tensor>(x: T, g: tf.Tensor, b: tf.Tensor, eps: number): T {
  return tf.tidy(() => {
    const xc = tf.sub(x, tf.mean(x, -1, true));
    const variance = tf.mean(tf.square(xc), -1, true);
    const normed = tf.mul(xc, tf.rsqrt(tf.add(variance, eps)));
    return tf.add(tf.mul(normed, g), b) as T;
  });
}

/** LayerNorm over the last axis of `x` with gain `g` and bias `b` (`[d]`); fused when possible. */
export function layerNorm<T extends tf.Tensor>(x: T, g: tf.Tensor, b: tf.Tensor, eps: number): T {
  const d = x.shape[x.rank - 1] as number;
  if (g.size !== d || b.size !== d) {
    throw new Error(`layerNorm: gain [${g.shape}] and bias [${b.shape}] must have d = ${d} values`);
  }
  const fused = fusedLmOps();
  if (fused === null || x.size === 0) return layerNormPlain(x, g, b, eps);
  const rows = x.size / d;
  const f = tf.customGrad(
    ((xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor, save: tf.GradSaveFunc) => {
      const { backend, simd } = fused;
      const y = heapTensor(backend, [...xi.shape]);
      const xhat = heapTensor(backend, [rows, d]);
      const rstd = heapTensor(backend, [rows]);
      const p = (t: tf.TensorInfo) => heapView(backend, t).byteOffset;
      timed("layer_norm", () => simd.layerNormForward(p(xi), p(y), p(xhat), p(rstd), p(gi), p(bi), rows, d, eps));
      save([xhat, rstd, gi]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
          timed("layer_norm.grad", () => layerNormBackward(fused, dy, saved, xi.shape, rows, d)),
      };
    }) as unknown as CustomGradFn,
  );
  return f(x, g, b) as T;
}

function layerNormBackward(
  { backend, simd }: FusedLm,
  dy: tf.Tensor,
  [xhat, rstd, g]: tf.Tensor[],
  shape: number[],
  rows: number,
  d: number,
): tf.Tensor[] {
  const dx = heapTensor(backend, shape);
  const dg = heapTensor(backend, [d]);
  const db = heapTensor(backend, [d]);
  const dgv = heapView(backend, dg), dbv = heapView(backend, db);
  dgv.fill(0);
  dbv.fill(0);
  const p = (t: tf.TensorInfo) => heapView(backend, t).byteOffset;
  simd.layerNormBackward(p(dy), p(xhat!), p(rstd!), p(g!), p(dx), p(dg), p(db), rows, d);
  return [dx, dg, db];
}

/** gelu_new by plain tfjs ops: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function geluPlain<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.square(x), x), 0.044715)), Math.sqrt(2 / Math.PI));
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1)) as T;
  });
}

/** gelu_new (GPT-2's tanh approximation); fused when possible. */
export function gelu<T extends tf.Tensor>(x: T): T {
  const fused = fusedLmOps();
  if (fused === null || x.size === 0) return geluPlain(x);
  const f = tf.customGrad(
    ((xi: tf.Tensor, save: tf.GradSaveFunc) => {
      const { backend, simd } = fused;
      const y = heapTensor(backend, [...xi.shape]);
      timed("gelu", () => simd.geluForward(heapView(backend, xi).byteOffset, heapView(backend, y).byteOffset, xi.size));
      save([xi]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const x0 = saved[0] as tf.Tensor;
          const dx = heapTensor(backend, [...x0.shape]);
          const p = (t: tf.TensorInfo) => heapView(backend, t).byteOffset;
          timed("gelu.grad", () => simd.geluBackward(p(x0), p(dy), p(dx), x0.size));
          return dx;
        },
      };
    }) as unknown as CustomGradFn,
  );
  return f(x) as T;
}

function checkTargets(targets: Int32Array, N: number, V: number, op: string): void {
  if (targets.length !== N) throw new RangeError(`${op}: ${targets.length} targets for ${N} rows`);
  for (let i = 0; i < N; i++) {
    const t = targets[i] as number;
    if (!(t >= 0 && t < V)) throw new RangeError(`${op}: target ${t} at ${i} is outside [0, ${V})`);
  }
}

/**
 * Mean softmax cross-entropy of `logits` `[N, V]` against `targets` with the
 * fused gradient `(softmax − onehot)/N` (plain tfjs ops; differentiable with
 * respect to the logits). The loss reads −log of the picked probability,
 * floored at the smallest normal float32 (an underflow reads as an 87-nat loss, not inf).
 */
export function softmaxCrossEntropy(logits: tf.Tensor2D, targets: Int32Array): tf.Scalar {
  const [N, V] = logits.shape;
  checkTargets(targets, N, V, "softmaxCrossEntropy");
  const flat = new Int32Array(N);
  for (let i = 0; i < N; i++) flat[i] = i * V + (targets[i] as number);
  const f = tf.customGrad(
    ((x: tf.Tensor, save: tf.GradSaveFunc) => {
      const probs = tf.softmax(x as tf.Tensor2D);
      const picked = tf.maximum(tf.gather(tf.reshape(probs, [-1]), flat), 1.1754944e-38);
      const value = tf.neg(tf.mean(tf.log(picked))) as tf.Scalar;
      save([probs]);
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const oneHot = tf.oneHot(tf.tensor1d(targets, "int32"), V);
          return tf.mul(tf.sub(saved[0] as tf.Tensor, oneHot), tf.div(dy, N));
        },
      };
    }) as unknown as CustomGradFn,
  );
  return f(logits) as tf.Scalar;
}

/** Rows of logits the fused unembedding computes at once (`rows × V` floats of scratch: 32 MB at V = 8192). */
export const UNEMBED_CHUNK_ROWS = 1024;

/**
 * Mean next-token cross-entropy of the tied unembedding: logits
 * `x [N, d] · wteᵀ` (`wte [V, d]`) against `targets` (length N); differentiable
 * with respect to `x` and `wte`. Fused: chunks of `chunkRows` rows, never all
 * N × V logits; plain: `matMul` then {@link softmaxCrossEntropy}.
 */
export function unembedCrossEntropy(
  x: tf.Tensor2D,
  wte: tf.Tensor2D,
  targets: Int32Array,
  chunkRows = UNEMBED_CHUNK_ROWS,
): tf.Scalar {
  const [N, d] = x.shape;
  const [V, dw] = wte.shape;
  if (dw !== d) throw new Error(`unembedCrossEntropy: x [${x.shape}] and wte [${wte.shape}] disagree on d_model`);
  checkTargets(targets, N, V, "unembedCrossEntropy");
  const fused = fusedLmOps();
  if (fused === null || N === 0) {
    return tf.tidy(() => softmaxCrossEntropy(tf.matMul(x, wte, false, true), targets));
  }
  const f = tf.customGrad(
    ((xi: tf.Tensor, wi: tf.Tensor, save: tf.GradSaveFunc) => {
      const keep = recordingGradients();
      const { loss, dx, dw } = timed(
        "unembed_cross_entropy",
        () => unembedForward(fused, xi as tf.Tensor2D, wi as tf.Tensor2D, targets, chunkRows, keep),
      );
      if (dx !== null && dw !== null) save([dx, dw]);
      return {
        value: loss,
        gradFunc: (
          dy: tf.Tensor,
          saved: tf.Tensor[],
        ) => [tf.mul(saved[0] as tf.Tensor, dy), tf.mul(saved[1] as tf.Tensor, dy)],
      };
    }) as unknown as CustomGradFn,
  );
  return f(x, wte) as tf.Scalar;
}

function unembedForward(
  { backend, blas, simd }: FusedLm,
  x: tf.Tensor2D,
  wte: tf.Tensor2D,
  targets: Int32Array,
  chunkRows: number,
  keep: boolean,
): { loss: tf.Scalar; dx: tf.Tensor | null; dw: tf.Tensor | null } {
  const [N, d] = x.shape;
  const V = wte.shape[0];
  const chunk = Math.max(1, Math.min(chunkRows, N));
  const tgt = tf.tensor1d(targets, "int32");
  const logits = heapTensor(backend, [chunk, V]);
  const aux = heapTensor(backend, [chunk, 3]);
  const dx = keep ? heapTensor(backend, [N, d]) : null;
  const dw = keep ? heapTensor(backend, [V, d]) : null;
  try {
    const H = new Float32Array(heapView(backend, logits).buffer);
    const at = (t: tf.TensorInfo) => (backend.typedArrayFromHeap(t) as Float32Array | Int32Array).byteOffset / 4;
    const xOff = at(x), wOff = at(wte), lOff = at(logits), aOff = at(aux), tOff = at(tgt);
    const W = H.subarray(wOff), L = H.subarray(lOff);
    let loss = 0;
    for (let r0 = 0; r0 < N; r0 += chunk) {
      const rows = Math.min(chunk, N - r0);
      const X = H.subarray(xOff + r0 * d);
      blas.gemm(false, true, rows, V, d, 1, X, d, W, d, 0, L, V); // logits [rows, V]
      simd.crossEntropy(lOff * 4, rows, V, (tOff + r0) * 4, aOff * 4, 1 / N); // → gradient
      for (let r = 0; r < rows; r++) {
        const m = H[aOff + 3 * r]!, s = H[aOff + 3 * r + 1]!, xt = H[aOff + 3 * r + 2]!;
        loss += Math.log(s) + m - xt;
      }
      if (dx !== null && dw !== null) {
        blas.gemm(false, false, rows, d, V, 1, L, V, W, d, 0, H.subarray(at(dx) + r0 * d), d);
        blas.gemm(true, false, V, d, rows, 1, L, V, X, d, r0 === 0 ? 0 : 1, H.subarray(at(dw)), d);
      }
    }
    return { loss: tf.scalar(loss / N), dx, dw };
  } finally {
    tf.dispose([tgt, logits, aux]);
  }
}

/**
 * Token plus position embeddings `[batch, pos, d]`: `wte[ids[b, t]] + wpe[o_b + t]`
 * for `ids` (`batch · pos` row-major, each in `[0, V)`), differentiable with
 * respect to `wte [V, d]` and `wpe [n_ctx, d]`. Row b occupies absolute
 * positions `o_b … o_b + T − 1`, `o_b = offsets[b]` (all 0 when `offsets` is
 * omitted; then the result is bit for bit the one without offsets). Fused: one
 * pass over the heap forward and one scatter-add backward (no gather, tile,
 * slice or segment-sum kernels); plain: a gather of the wpe rows.
 *
 * @throws {RangeError} when an offset puts a row outside `[0, n_ctx)` of `wpe`
 */
export function embedTokens(
  wte: tf.Tensor2D,
  wpe: tf.Tensor2D,
  ids: Int32Array,
  batch: number,
  T: number,
  offsets?: Int32Array,
): tf.Tensor3D {
  const [V, d] = wte.shape;
  if (wpe.shape[1] !== d || wpe.shape[0] < T) {
    throw new Error(`embedTokens: wpe [${wpe.shape}] must be [≥ ${T}, ${d}] for wte [${wte.shape}]`);
  }
  checkTargets(ids, batch * T, V, "embedTokens");
  if (offsets !== undefined) checkOffsets(offsets, batch, T, wpe.shape[0]);
  const off = (b: number) => (offsets === undefined ? 0 : offsets[b] as number);
  const fused = fusedLmOps();
  if (fused === null || ids.length === 0) {
    return tf.tidy(() => {
      const tok = tf.reshape(tf.gather(wte, tf.tensor1d(ids, "int32")), [batch, T, d]);
      if (offsets === undefined) return tf.add(tok, tf.slice(wpe, [0, 0], [T, d])) as tf.Tensor3D;
      const pos = new Int32Array(batch * T); // absolute position of each (row, t)
      for (let b = 0; b < batch; b++) for (let t = 0; t < T; t++) pos[b * T + t] = off(b) + t;
      return tf.add(tok, tf.reshape(tf.gather(wpe, tf.tensor1d(pos, "int32")), [batch, T, d])) as tf.Tensor3D;
    });
  }
  const { backend } = fused;
  const f = tf.customGrad(
    ((wt: tf.Tensor, wp: tf.Tensor, save: tf.GradSaveFunc) => {
      const out = heapTensor(backend, [batch, T, d]);
      timed("embed", () => {
        const O = heapView(backend, out), W = heapView(backend, wt), P = heapView(backend, wp);
        for (let b = 0; b < batch; b++) {
          const o0 = off(b);
          for (let t = 0; t < T; t++) {
            const o = (b * T + t) * d, w = (ids[b * T + t] as number) * d, p = (o0 + t) * d;
            for (let j = 0; j < d; j++) O[o + j] = (W[w + j] as number) + (P[p + j] as number);
          }
        }
      });
      save([]);
      return {
        value: out,
        gradFunc: (dy: tf.Tensor) =>
          timed("embed.grad", () => {
            const dW = heapTensor(backend, [V, d]), dP = heapTensor(backend, [...wp.shape]);
            const G = heapView(backend, dy), A = heapView(backend, dW), B = heapView(backend, dP);
            A.fill(0);
            B.fill(0);
            for (let b = 0; b < batch; b++) {
              const o0 = off(b);
              for (let t = 0; t < T; t++) {
                const g = (b * T + t) * d, w = (ids[b * T + t] as number) * d, p = (o0 + t) * d;
                for (let j = 0; j < d; j++) {
                  const v = G[g + j] as number;
                  A[w + j] = (A[w + j] as number) + v;
                  B[p + j] = (B[p + j] as number) + v;
                }
              }
            }
            return [dW, dP];
          }),
      };
    }) as unknown as CustomGradFn,
  );
  return f(wte, wpe) as tf.Tensor3D;
}

/**
 * Throws a RangeError naming the row when `offsets` (one per row) would put a
 * row of `T` positions outside `[0, nCtx)`.
 */
export function checkOffsets(offsets: Int32Array, batch: number, T: number, nCtx: number): void {
  if (offsets.length !== batch) {
    throw new RangeError(`position offsets: ${offsets.length} offsets for ${batch} rows`);
  }
  for (let b = 0; b < batch; b++) {
    const o = offsets[b] as number;
    if (!(o >= 0 && o + T <= nCtx)) {
      throw new RangeError(
        `position offsets: row ${b} has offset ${o}; a row of T = ${T} positions needs 0 ≤ offset ≤ ` +
          `${nCtx - T} (wpe has ${nCtx} rows)`,
      );
    }
  }
}
