/**
 * SIMD (f32x4) row kernels of the fused language-model ops, assembled at
 * start-up with `wasm_asm.ts` and run in place on the tfjs wasm backend's heap
 * (the module imports that very `WebAssembly.Memory`): causal softmax and its
 * gradient (attention), softmax cross-entropy with its gradient (the
 * unembedding), LayerNorm forward and backward, `gelu_new` forward and
 * backward. All pointers are byte offsets into the heap; all rows are
 * contiguous float32.
 *
 * `exp` is Cephes's `expf` scheme (range reduction by ln 2 in two parts, a
 * degree-5 polynomial, the exponent built in the integer lanes): relative
 * error below 2e-7 on [−87.3, 88.3], arguments clamped to that range.
 * `tanh u = 1 − 2 / (e^{2u} + 1)` (absolute error a few 1e-8).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { lmSimd } from "./lm_simd.ts";
 * // after initBackend() on wasm:
 * const k = lmSimd(tf.backend());
 * // k?.softmaxCausal(ptr, rows, e, len0) …
 * ```
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import { buildModule, F32, Fn, I32, OP, SIMD, V128 } from "./wasm_asm.ts";

/** The kernels (pointers are heap byte offsets). */
export interface LmSimd {
  /**
   * In place, for rows r < `rows` of a `[rows, e]` block at `p`: softmax over
   * columns `[0, min(len0 + r, e))`, zeros after (the causal mask of a query block).
   */
  softmaxCausal(p: number, rows: number, e: number, len0: number): void;
  /** In place: `dp ← p ⊙ (dp − rowsum(p ⊙ dp))` over `[rows, e]` (the softmax gradient). */
  softmaxBackward(p: number, dp: number, rows: number, e: number): void;
  /**
   * Softmax cross-entropy over `[rows, V]` logits at `x` with int32 targets at
   * `tgt`: writes (max, Σexp(x − max), x_target) per row to `aux` (`[rows, 3]`)
   * and replaces the logits by the gradient `gscale · (softmax − onehot)`.
   */
  crossEntropy(x: number, rows: number, V: number, tgt: number, aux: number, gscale: number): void;
  /** LayerNorm over rows of `d`: y = x̂·g + b; writes x̂ `[rows, d]` and 1/σ `[rows]`. */
  layerNormForward(
    x: number,
    y: number,
    xhat: number,
    rstd: number,
    g: number,
    b: number,
    rows: number,
    d: number,
    eps: number,
  ): void;
  /** LayerNorm gradient: writes dx; adds Σ dy·x̂ to dg and Σ dy to db (zero them first). */
  layerNormBackward(
    dy: number,
    xhat: number,
    rstd: number,
    g: number,
    dx: number,
    dg: number,
    db: number,
    rows: number,
    d: number,
  ): void;
  /** y = gelu_new(x) over n floats. */
  geluForward(x: number, y: number, n: number): void;
  /** dx = dy · gelu_new′(x) over n floats. */
  geluBackward(x: number, dy: number, dx: number, n: number): void;
}

const LOG2E = 1.44269504088896341;
const ROUND_MAGIC = 12582912; // 1.5·2^23
const EXP_P = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_K = 0.044715;

/** Emits exp of the f32x4 on the stack (result on the stack); `x`, `n` are v128 scratch locals. */
function exp4(f: Fn, x: number, n: number): void {
  // pmin/pmax (plain minps/maxps) rather than min/max, whose NaN rules cost long instruction sequences
  f.f32x4(88.3762626647949).v(SIMD.f32x4_pmin).f32x4(-87.3365447505531).v(SIMD.f32x4_pmax).set(x);
  // k = round(x·log2 e) by adding 1.5·2^23: the sum's low mantissa bits hold k as an integer
  f.get(x).f32x4(LOG2E).v(SIMD.f32x4_mul).f32x4(ROUND_MAGIC).v(SIMD.f32x4_add).set(n);
  const k = () => f.get(n).f32x4(ROUND_MAGIC).v(SIMD.f32x4_sub); // k as a float
  f.get(x);
  k();
  f.f32x4(0.693359375).v(SIMD.f32x4_mul).v(SIMD.f32x4_sub);
  k();
  f.f32x4(-2.12194440e-4).v(SIMD.f32x4_mul).v(SIMD.f32x4_sub).set(x); // x ← r = x − k·ln 2
  f.get(x).f32x4(EXP_P[0]!).v(SIMD.f32x4_mul);
  for (const c of EXP_P.slice(1)) f.f32x4(c).v(SIMD.f32x4_add).get(x).v(SIMD.f32x4_mul);
  // Horner through P5, times r; then y·r² + r + 1 (Cephes expf)
  f.get(x).v(SIMD.f32x4_mul).get(x).v(SIMD.f32x4_add).f32x4(1).v(SIMD.f32x4_add);
  // 2^k from the integer bits: (bits − bits(1.5·2^23) + 127) << 23
  f.get(n).i32x4(127 - 0x4b400000).v(SIMD.i32x4_add).i32(23).v(SIMD.i32x4_shl);
  f.v(SIMD.f32x4_mul);
}

/** Emits `extract_lane 0 (exp4 (splat s))` for the f32 on the stack. */
function exp1(f: Fn, x: number, n: number): void {
  f.v(SIMD.f32x4_splat);
  exp4(f, x, n);
  f.v(SIMD.f32x4_extract_lane, 0);
}

/** Pushes a v128 that is (s, 0, 0, 0) for the f32 `s` pushed by `push`. */
function lane0(f: Fn, push: () => void): void {
  f.f32x4(0);
  push();
  f.v(32, 0); // f32x4.replace_lane 0
}

function softmaxCausalFn(): Fn {
  const f = new Fn("softmax_causal", [I32, I32, I32, I32]);
  const [p, rows, e, len0] = [0, 1, 2, 3];
  const r = f.local(I32), L = f.local(I32), row = f.local(I32), j = f.local(I32);
  const acc = f.local(V128), vm = f.local(V128), x = f.local(V128), n = f.local(V128), t = f.local(V128);
  const m = f.local(F32), inv = f.local(F32), s = f.local(F32);
  f.forRange(r, () => f.get(rows), 1, () => {
    f.get(p).get(r).get(e).op(OP.i32_mul).i32(2).op(OP.i32_shl, OP.i32_add).set(row);
    // L = min(len0 + r, e)
    f.get(len0).get(r).op(OP.i32_add).get(e).get(len0).get(r).op(OP.i32_add).get(e).op(OP.i32_lt_s, OP.select).set(L);
    f.f32x4(-Infinity).set(acc);
    f.forVec(j, () => f.get(L), () => {
      f.get(acc).addr(row, j).vLoad().v(SIMD.f32x4_pmax).set(acc);
    }, () => {
      f.get(acc).addr(row, j).f32Load().v(SIMD.f32x4_splat).v(SIMD.f32x4_pmax).set(acc);
    });
    f.hmax(acc).tee(m).v(SIMD.f32x4_splat).set(vm);
    f.f32x4(0).set(acc);
    f.forVec(j, () => f.get(L), () => {
      f.addr(row, j).addr(row, j).vLoad().get(vm).v(SIMD.f32x4_sub);
      exp4(f, x, n);
      f.tee(t).vStore().get(acc).get(t).v(SIMD.f32x4_add).set(acc);
    }, () => {
      f.addr(row, j).addr(row, j).f32Load().get(m).op(OP.f32_sub);
      exp1(f, x, n);
      f.tee(s).f32Store();
      f.get(acc);
      lane0(f, () => f.get(s));
      f.v(SIMD.f32x4_add).set(acc);
    });
    f.f32(1).hsum(acc).op(OP.f32_div).tee(inv).v(SIMD.f32x4_splat).set(vm);
    f.forVec(j, () => f.get(L), () => {
      f.addr(row, j).addr(row, j).vLoad().get(vm).v(SIMD.f32x4_mul).vStore();
    }, () => {
      f.addr(row, j).addr(row, j).f32Load().get(inv).op(OP.f32_mul).f32Store();
    });
    f.forRange(j, () => f.get(e), 1, () => {
      f.addr(row, j).f32(0).f32Store();
    }, () => f.get(L));
  });
  return f;
}

function softmaxBackwardFn(): Fn {
  const f = new Fn("softmax_backward", [I32, I32, I32, I32]);
  const [p, dp, rows, e] = [0, 1, 2, 3];
  const r = f.local(I32), prow = f.local(I32), drow = f.local(I32), j = f.local(I32);
  const acc = f.local(V128), vd = f.local(V128);
  const D = f.local(F32);
  f.forRange(r, () => f.get(rows), 1, () => {
    f.get(r).get(e).op(OP.i32_mul).i32(2).op(OP.i32_shl).tee(prow).get(dp).op(OP.i32_add).set(drow);
    f.get(prow).get(p).op(OP.i32_add).set(prow);
    f.f32x4(0).set(acc);
    f.forVec(j, () => f.get(e), () => {
      f.get(acc).addr(prow, j).vLoad().addr(drow, j).vLoad().v(SIMD.f32x4_mul).v(SIMD.f32x4_add).set(acc);
    }, () => {
      f.get(acc);
      lane0(f, () => f.addr(prow, j).f32Load().addr(drow, j).f32Load().op(OP.f32_mul));
      f.v(SIMD.f32x4_add).set(acc);
    });
    f.hsum(acc).tee(D).v(SIMD.f32x4_splat).set(vd);
    f.forVec(j, () => f.get(e), () => {
      f.addr(drow, j).addr(prow, j).vLoad().addr(drow, j).vLoad().get(vd).v(SIMD.f32x4_sub).v(SIMD.f32x4_mul).vStore();
    }, () => {
      f.addr(drow, j).addr(prow, j).f32Load().addr(drow, j).f32Load().get(D).op(OP.f32_sub).op(OP.f32_mul).f32Store();
    });
  });
  return f;
}

function crossEntropyFn(): Fn {
  const f = new Fn("cross_entropy", [I32, I32, I32, I32, I32, F32]);
  const [xp, rows, V, tgt, aux, gscale] = [0, 1, 2, 3, 4, 5];
  const r = f.local(I32), row = f.local(I32), j = f.local(I32), ta = f.local(I32), ap = f.local(I32);
  const acc = f.local(V128), vm = f.local(V128), x = f.local(V128), n = f.local(V128), t = f.local(V128);
  const m = f.local(F32), s = f.local(F32), sc = f.local(F32);
  f.forRange(r, () => f.get(rows), 1, () => {
    f.get(xp).get(r).get(V).op(OP.i32_mul).i32(2).op(OP.i32_shl, OP.i32_add).set(row);
    // ta = row + 4·tgt[r]; ap = aux + 12·r
    f.get(row).get(tgt).get(r).i32(2).op(OP.i32_shl, OP.i32_add).i32Load().i32(2).op(OP.i32_shl, OP.i32_add).set(ta);
    f.get(aux).get(r).i32(12).op(OP.i32_mul, OP.i32_add).set(ap);
    f.f32x4(-Infinity).set(acc);
    f.forVec(j, () => f.get(V), () => {
      f.get(acc).addr(row, j).vLoad().v(SIMD.f32x4_pmax).set(acc);
    }, () => {
      f.get(acc).addr(row, j).f32Load().v(SIMD.f32x4_splat).v(SIMD.f32x4_pmax).set(acc);
    });
    f.hmax(acc).tee(m).v(SIMD.f32x4_splat).set(vm);
    f.get(ap).get(m).f32Store(0);
    f.get(ap).get(ta).f32Load().f32Store(8);
    f.f32x4(0).set(acc);
    f.forVec(j, () => f.get(V), () => {
      f.addr(row, j).addr(row, j).vLoad().get(vm).v(SIMD.f32x4_sub);
      exp4(f, x, n);
      f.tee(t).vStore().get(acc).get(t).v(SIMD.f32x4_add).set(acc);
    }, () => {
      f.addr(row, j).addr(row, j).f32Load().get(m).op(OP.f32_sub);
      exp1(f, x, n);
      f.tee(s).f32Store();
      f.get(acc);
      lane0(f, () => f.get(s));
      f.v(SIMD.f32x4_add).set(acc);
    });
    f.get(ap).hsum(acc).tee(s).f32Store(4);
    f.get(gscale).get(s).op(OP.f32_div).tee(sc).v(SIMD.f32x4_splat).set(vm);
    f.forVec(j, () => f.get(V), () => {
      f.addr(row, j).addr(row, j).vLoad().get(vm).v(SIMD.f32x4_mul).vStore();
    }, () => {
      f.addr(row, j).addr(row, j).f32Load().get(sc).op(OP.f32_mul).f32Store();
    });
    f.get(ta).get(ta).f32Load().get(gscale).op(OP.f32_sub).f32Store();
  });
  return f;
}

function layerNormForwardFn(): Fn {
  const f = new Fn("layer_norm_forward", [I32, I32, I32, I32, I32, I32, I32, I32, F32]);
  const [xp, yp, hp, rp, gp, bp, rows, d, eps] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const r = f.local(I32), off = f.local(I32), xr = f.local(I32), yr = f.local(I32), hr = f.local(I32);
  const j = f.local(I32);
  const acc = f.local(V128), vmean = f.local(V128), vrs = f.local(V128), h = f.local(V128);
  const mean = f.local(F32), rs = f.local(F32), hs = f.local(F32), c = f.local(F32);
  f.forRange(r, () => f.get(rows), 1, () => {
    f.get(r).get(d).op(OP.i32_mul).i32(2).op(OP.i32_shl).set(off);
    f.get(xp).get(off).op(OP.i32_add).set(xr);
    f.get(yp).get(off).op(OP.i32_add).set(yr);
    f.get(hp).get(off).op(OP.i32_add).set(hr);
    f.f32x4(0).set(acc);
    f.forVec(j, () => f.get(d), () => {
      f.get(acc).addr(xr, j).vLoad().v(SIMD.f32x4_add).set(acc);
    }, () => {
      f.get(acc);
      lane0(f, () => f.addr(xr, j).f32Load());
      f.v(SIMD.f32x4_add).set(acc);
    });
    f.hsum(acc).get(d).op(0xb2).op(OP.f32_div).tee(mean).v(SIMD.f32x4_splat).set(vmean); // f32.convert_i32_s
    f.f32x4(0).set(acc);
    f.forVec(j, () => f.get(d), () => {
      f.addr(xr, j).vLoad().get(vmean).v(SIMD.f32x4_sub).set(h);
      f.get(acc).get(h).get(h).v(SIMD.f32x4_mul).v(SIMD.f32x4_add).set(acc);
    }, () => {
      f.addr(xr, j).f32Load().get(mean).op(OP.f32_sub).set(c);
      f.get(acc);
      lane0(f, () => f.get(c).get(c).op(OP.f32_mul));
      f.v(SIMD.f32x4_add).set(acc);
    });
    f.f32(1).hsum(acc).get(d).op(0xb2).op(OP.f32_div).get(eps).op(OP.f32_add).op(OP.f32_sqrt).op(OP.f32_div);
    f.tee(rs).v(SIMD.f32x4_splat).set(vrs);
    f.get(rp).get(r).i32(2).op(OP.i32_shl, OP.i32_add).get(rs).f32Store();
    f.forVec(j, () => f.get(d), () => {
      f.addr(xr, j).vLoad().get(vmean).v(SIMD.f32x4_sub).get(vrs).v(SIMD.f32x4_mul).set(h);
      f.addr(hr, j).get(h).vStore();
      f.addr(yr, j).get(h).addr(gp, j).vLoad().v(SIMD.f32x4_mul).addr(bp, j).vLoad().v(SIMD.f32x4_add).vStore();
    }, () => {
      f.addr(xr, j).f32Load().get(mean).op(OP.f32_sub).get(rs).op(OP.f32_mul).set(hs);
      f.addr(hr, j).get(hs).f32Store();
      f.addr(yr, j).get(hs).addr(gp, j).f32Load().op(OP.f32_mul).addr(bp, j).f32Load().op(OP.f32_add).f32Store();
    });
  });
  return f;
}

function layerNormBackwardFn(): Fn {
  const f = new Fn("layer_norm_backward", [I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [dyp, hp, rp, gp, dxp, dgp, dbp, rows, d] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const r = f.local(I32), off = f.local(I32), dyr = f.local(I32), hr = f.local(I32), dxr = f.local(I32);
  const j = f.local(I32);
  const a1 = f.local(V128), a2 = f.local(V128), g = f.local(V128), va = f.local(V128), vb = f.local(V128);
  const vrs = f.local(V128), dy = f.local(V128), hv = f.local(V128);
  const sa = f.local(F32), sb = f.local(F32), rs = f.local(F32), gs = f.local(F32), dys = f.local(F32);
  const hs = f.local(F32);
  f.forRange(r, () => f.get(rows), 1, () => {
    f.get(r).get(d).op(OP.i32_mul).i32(2).op(OP.i32_shl).set(off);
    f.get(dyp).get(off).op(OP.i32_add).set(dyr);
    f.get(hp).get(off).op(OP.i32_add).set(hr);
    f.get(dxp).get(off).op(OP.i32_add).set(dxr);
    f.f32x4(0).set(a1);
    f.f32x4(0).set(a2);
    // a1 = Σ dy·g, a2 = Σ dy·g·x̂
    f.forVec(j, () => f.get(d), () => {
      f.addr(dyr, j).vLoad().addr(gp, j).vLoad().v(SIMD.f32x4_mul).set(g);
      f.get(a1).get(g).v(SIMD.f32x4_add).set(a1);
      f.get(a2).get(g).addr(hr, j).vLoad().v(SIMD.f32x4_mul).v(SIMD.f32x4_add).set(a2);
    }, () => {
      f.addr(dyr, j).f32Load().addr(gp, j).f32Load().op(OP.f32_mul).set(gs);
      f.get(a1);
      lane0(f, () => f.get(gs));
      f.v(SIMD.f32x4_add).set(a1);
      f.get(a2);
      lane0(f, () => f.get(gs).addr(hr, j).f32Load().op(OP.f32_mul));
      f.v(SIMD.f32x4_add).set(a2);
    });
    f.hsum(a1).get(d).op(0xb2).op(OP.f32_div).tee(sa).v(SIMD.f32x4_splat).set(va);
    f.hsum(a2).get(d).op(0xb2).op(OP.f32_div).tee(sb).v(SIMD.f32x4_splat).set(vb);
    f.get(rp).get(r).i32(2).op(OP.i32_shl, OP.i32_add).f32Load().tee(rs).v(SIMD.f32x4_splat).set(vrs);
    f.forVec(j, () => f.get(d), () => {
      f.addr(dyr, j).vLoad().set(dy);
      f.addr(hr, j).vLoad().set(hv);
      // dx = rs·(dy·g − a − x̂·b)
      f.addr(dxr, j).get(dy).addr(gp, j).vLoad().v(SIMD.f32x4_mul).get(va).v(SIMD.f32x4_sub);
      f.get(hv).get(vb).v(SIMD.f32x4_mul).v(SIMD.f32x4_sub).get(vrs).v(SIMD.f32x4_mul).vStore();
      f.addr(dgp, j).addr(dgp, j).vLoad().get(dy).get(hv).v(SIMD.f32x4_mul).v(SIMD.f32x4_add).vStore();
      f.addr(dbp, j).addr(dbp, j).vLoad().get(dy).v(SIMD.f32x4_add).vStore();
    }, () => {
      f.addr(dyr, j).f32Load().set(dys);
      f.addr(hr, j).f32Load().set(hs);
      f.addr(dxr, j).get(dys).addr(gp, j).f32Load().op(OP.f32_mul).get(sa).op(OP.f32_sub);
      f.get(hs).get(sb).op(OP.f32_mul).op(OP.f32_sub).get(rs).op(OP.f32_mul).f32Store();
      f.addr(dgp, j).addr(dgp, j).f32Load().get(dys).get(hs).op(OP.f32_mul).op(OP.f32_add).f32Store();
      f.addr(dbp, j).addr(dbp, j).f32Load().get(dys).op(OP.f32_add).f32Store();
    });
  });
  return f;
}

/** Emits tanh(u) for the f32x4 u on the stack: 1 − 2/(exp(2u) + 1). */
function tanh4(f: Fn, x: number, n: number): void {
  f.f32x4(2).v(SIMD.f32x4_mul);
  exp4(f, x, n);
  f.f32x4(1).v(SIMD.f32x4_add).set(x);
  f.f32x4(1).f32x4(2).get(x).v(SIMD.f32x4_div).v(SIMD.f32x4_sub);
}

/** Pushes u = c·(x + k·x³) for the f32x4 in local `xv`. */
function geluInner(f: Fn, xv: number): void {
  f.get(xv).get(xv).get(xv).v(SIMD.f32x4_mul).get(xv).v(SIMD.f32x4_mul).f32x4(GELU_K).v(SIMD.f32x4_mul);
  f.v(SIMD.f32x4_add).f32x4(GELU_C).v(SIMD.f32x4_mul);
}

function geluForwardFn(): Fn {
  const f = new Fn("gelu_forward", [I32, I32, I32]);
  const [xp, yp, cnt] = [0, 1, 2];
  const j = f.local(I32);
  const xv = f.local(V128), x = f.local(V128), n = f.local(V128);
  // the body works on 4 lanes; the tail splats one value and stores lane 0
  const body = (load: () => void, store: (push: () => void) => void) => {
    load();
    f.set(xv);
    store(() => {
      geluInner(f, xv);
      tanh4(f, x, n);
      f.f32x4(1).v(SIMD.f32x4_add).get(xv).v(SIMD.f32x4_mul).f32x4(0.5).v(SIMD.f32x4_mul);
    });
  };
  f.forVec(j, () => f.get(cnt), () => {
    body(() => f.addr(xp, j).vLoad(), (push) => {
      f.addr(yp, j);
      push();
      f.vStore();
    });
  }, () => {
    body(() => f.addr(xp, j).f32Load().v(SIMD.f32x4_splat), (push) => {
      f.addr(yp, j);
      push();
      f.v(SIMD.f32x4_extract_lane, 0).f32Store();
    });
  });
  return f;
}

function geluBackwardFn(): Fn {
  const f = new Fn("gelu_backward", [I32, I32, I32, I32]);
  const [xp, dyp, dxp, cnt] = [0, 1, 2, 3];
  const j = f.local(I32);
  const xv = f.local(V128), t = f.local(V128), x = f.local(V128), n = f.local(V128);
  const body = (loadX: () => void, loadDy: () => void, store: (push: () => void) => void) => {
    loadX();
    f.set(xv);
    geluInner(f, xv);
    tanh4(f, x, n);
    f.set(t);
    store(() => {
      // 0.5(1 + t) + 0.5·x·(1 − t²)·c·(1 + 3k·x²), times dy
      f.f32x4(1).get(t).v(SIMD.f32x4_add).f32x4(0.5).v(SIMD.f32x4_mul);
      f.f32x4(1).get(t).get(t).v(SIMD.f32x4_mul).v(SIMD.f32x4_sub).get(xv).v(SIMD.f32x4_mul);
      f.get(xv).get(xv).v(SIMD.f32x4_mul).f32x4(3 * GELU_K).v(SIMD.f32x4_mul).f32x4(1).v(SIMD.f32x4_add);
      f.v(SIMD.f32x4_mul).f32x4(0.5 * GELU_C).v(SIMD.f32x4_mul).v(SIMD.f32x4_add);
      loadDy();
      f.v(SIMD.f32x4_mul);
    });
  };
  f.forVec(j, () => f.get(cnt), () => {
    body(() => f.addr(xp, j).vLoad(), () => f.addr(dyp, j).vLoad(), (push) => {
      f.addr(dxp, j);
      push();
      f.vStore();
    });
  }, () => {
    body(
      () => f.addr(xp, j).f32Load().v(SIMD.f32x4_splat),
      () => f.addr(dyp, j).f32Load().v(SIMD.f32x4_splat),
      (push) => {
        f.addr(dxp, j);
        push();
        f.v(SIMD.f32x4_extract_lane, 0).f32Store();
      },
    );
  });
  return f;
}

let bytes: Uint8Array<ArrayBuffer> | null = null;
let sharedBytes: Uint8Array<ArrayBuffer> | null = null;
const instances = new WeakMap<WebAssembly.Memory, LmSimd>();
let failure: string | null = null;

const allFns = () => [
  softmaxCausalFn(),
  softmaxBackwardFn(),
  crossEntropyFn(),
  layerNormForwardFn(),
  layerNormBackwardFn(),
  geluForwardFn(),
  geluBackwardFn(),
];

/** Pages of the largest shared memory the kernels can import (4 GiB, wasm32's limit). */
export const SHARED_MAX_PAGES = 65536;

/** The module's bytes (assembled once); `shared` for a module that imports a shared memory. */
export function lmSimdModuleBytes(shared = false): Uint8Array<ArrayBuffer> {
  if (shared) return sharedBytes ??= buildModule(allFns(), { maxPages: SHARED_MAX_PAGES });
  bytes ??= buildModule(allFns());
  return bytes;
}

/** The kernels over any memory (a shared one, e.g. the attention arena, included); cached per memory. */
export function lmSimdOn(memory: WebAssembly.Memory, shared: boolean): LmSimd {
  const have = instances.get(memory);
  if (have) return have;
  const inst = new WebAssembly.Instance(new WebAssembly.Module(lmSimdModuleBytes(shared)), { env: { memory } });
  const e = inst.exports as Record<string, (...a: number[]) => void>;
  const k: LmSimd = {
    softmaxCausal: e.softmax_causal!,
    softmaxBackward: e.softmax_backward!,
    crossEntropy: e.cross_entropy!,
    layerNormForward: e.layer_norm_forward!,
    layerNormBackward: e.layer_norm_backward!,
    geluForward: e.gelu_forward!,
    geluBackward: e.gelu_backward!,
  };
  instances.set(memory, k);
  return k;
}

/** The wasm backend's heap memory, or null for another backend. */
export function wasmHeapMemory(backend: tf.KernelBackend): WebAssembly.Memory | null {
  const mem = (backend as unknown as { wasm?: { asm?: { memory?: unknown } } }).wasm?.asm?.memory;
  return mem instanceof WebAssembly.Memory ? mem : null;
}

/**
 * The kernels bound to `backend`'s heap, or null when `backend` is not the
 * wasm backend or the module does not compile (see {@link lmSimdFailure}).
 */
export function lmSimd(backend: tf.KernelBackend): LmSimd | null {
  const memory = wasmHeapMemory(backend);
  if (memory === null || failure !== null) return null;
  try {
    return lmSimdOn(memory, false);
  } catch (err) {
    failure = err instanceof Error ? err.message : String(err);
    return null;
  }
}

/** Why the SIMD module could not be built (null when it could, or was not tried). */
export function lmSimdFailure(): string | null {
  return failure;
}
