/**
 * Batch loops of the fused tiny-SAE kernel ({@link FusedSmallSae}): for one
 * instance, the forward pass, loss sums and hand-derived gradients over a
 * shared batch. `accumulateGeneric` handles any d_in/d_sae; `accumulate2x4` is
 * the same arithmetic unrolled into scalars for study A's d_in = 2, d_sae = 4
 * (about 3× faster because every parameter stays in a register).
 *
 * Gradients (per sample b, scaled by `gscale` = 1/(batch · divisor)):
 * - e = ĥ − h; d mse/dĥ = 2e/‖h‖²;
 * - ghost (dead latents, when on): r = −e/‖h‖, g = Σ_dead exp(pre_j) W_dec[j],
 *   s = ‖r‖/(1e-6 + 2‖g‖) and k = mse/(1e-6 + m) detached, diff = r − s·g:
 *   dĥ −= 2k·diff/‖h‖; dW_dec[j] += s·exp(pre_j)·(−2k·diff); dpre_j += s·exp(pre_j)·W_dec[j]·(−2k·diff);
 * - dW_dec[j] += a_j·dĥ; db_dec += dĥ; dpre_j += [pre_j > 0]·(W_dec[j]·dĥ + λ c_j);
 * - dW_enc[:, j] += h·dpre_j; db_enc[j] += dpre_j.
 *
 * @example
 * ```ts
 * import { accumulateGeneric, type KernelArgs } from "./fused_kernels.ts";
 * // normally called by FusedSmallSae.step; see fused_small.ts
 * const f: (a: KernelArgs) => void = accumulateGeneric;
 * ```
 *
 * @module
 */

/** Inputs and outputs of one instance's batch loop. */
export interface KernelArgs {
  /** Packed parameters of all instances. */
  p: Float64Array;
  /** Offset of this instance in `p`. */
  base: number;
  /** Gradient of this instance (length P, zeroed by the caller, accumulated here). */
  g: Float64Array;
  /** Shared batch [batch, d_in]. */
  h: Float64Array;
  batch: number;
  /** 1/‖h_b‖ per sample. */
  invN: Float64Array;
  /** 1/‖h_b‖² per sample. */
  invN2: Float64Array;
  /** ℓ1 coefficient. */
  lam: number;
  /** ℓ1 cooldown weight per latent. */
  c: Float64Array;
  /** 1 for dead latents. */
  dead: Uint8Array;
  /** Whether the ghost term is added. */
  ghostOn: boolean;
  /** Firing threshold. */
  thr: number;
  /** Gradient scale 1/(batch · divisor). */
  gscale: number;
  /** Out: 1 if the latent fired (> thr) on any sample. */
  fired: Uint8Array;
  /** Out: samples with activation > 0, per latent. */
  fireCnt: Float64Array;
  d_in: number;
  d_sae: number;
  oWe: number;
  obe: number;
  oWd: number;
  obd: number;
  /** Out: sums over the batch of [mse, λ·Σ c·a, ghost]. */
  sums: Float64Array;
}

/**
 * The batch loop for any d_in, d_sae.
 *
 * @example
 * ```ts
 * import { accumulateGeneric } from "./fused_kernels.ts";
 * // called by FusedSmallSae.step for each instance: accumulateGeneric(args)
 * ```
 */
export function accumulateGeneric(A: KernelArgs): void {
  const { p, base, g, h, batch, invN, invN2, lam, c, dead, ghostOn, thr, gscale, fired, fireCnt } = A;
  const { d_in, d_sae, oWe, obe, oWd, obd } = A;
  const pre = new Float64Array(d_sae);
  const a = new Float64Array(d_sae);
  const dpre = new Float64Array(d_sae);
  const ex = new Float64Array(d_sae);
  const e = new Float64Array(d_in);
  const dh = new Float64Array(d_in);
  const gv = new Float64Array(d_in);
  const diff = new Float64Array(d_in);
  let sumMse = 0;
  let sumL1 = 0;
  let sumGhost = 0;
  for (let b = 0; b < batch; b++) {
    const hb = b * d_in;
    for (let j = 0; j < d_sae; j++) {
      let s = p[base + obe + j]!;
      for (let d = 0; d < d_in; d++) s += h[hb + d]! * p[base + oWe + d * d_sae + j]!;
      pre[j] = s;
      const aj = s > 0 ? s : 0;
      a[j] = aj;
      if (aj > thr) fired[j] = 1;
      if (aj > 0) fireCnt[j] = fireCnt[j]! + 1;
    }
    let mse = 0;
    for (let d = 0; d < d_in; d++) {
      let s = p[base + obd + d]!;
      for (let j = 0; j < d_sae; j++) s += a[j]! * p[base + oWd + j * d_in + d]!;
      const ed = s - h[hb + d]!;
      e[d] = ed;
      mse += ed * ed;
    }
    const in2 = invN2[b]!;
    mse *= in2;
    sumMse += mse;
    let l1 = 0;
    for (let j = 0; j < d_sae; j++) l1 += c[j]! * a[j]!;
    sumL1 += lam * l1;
    for (let d = 0; d < d_in; d++) dh[d] = 2 * e[d]! * in2 * gscale;
    for (let j = 0; j < d_sae; j++) dpre[j] = 0;
    if (ghostOn) {
      const inv = invN[b]!;
      let rr = 0;
      for (let d = 0; d < d_in; d++) {
        rr += e[d]! * e[d]!;
        gv[d] = 0;
      }
      const rNorm = Math.sqrt(rr) * inv;
      for (let j = 0; j < d_sae; j++) {
        if (dead[j] === 0) continue;
        const x = Math.exp(pre[j]!);
        ex[j] = x;
        for (let d = 0; d < d_in; d++) gv[d] = gv[d]! + x * p[base + oWd + j * d_in + d]!;
      }
      let gg = 0;
      for (let d = 0; d < d_in; d++) gg += gv[d]! * gv[d]!;
      const sc = rNorm / (1e-6 + 2 * Math.sqrt(gg));
      let m = 0;
      for (let d = 0; d < d_in; d++) {
        const df = -e[d]! * inv - sc * gv[d]!;
        diff[d] = df;
        m += df * df;
      }
      const kf = mse / (1e-6 + m);
      sumGhost += m * kf;
      const k2 = 2 * kf * gscale;
      for (let d = 0; d < d_in; d++) dh[d] = dh[d]! - k2 * diff[d]! * inv;
      for (let j = 0; j < d_sae; j++) {
        if (dead[j] === 0) continue;
        const w = sc * ex[j]!;
        let dot = 0;
        for (let d = 0; d < d_in; d++) {
          const gd = -k2 * diff[d]!;
          const o = oWd + j * d_in + d;
          g[o] = g[o]! + w * gd;
          dot += p[base + o]! * gd;
        }
        dpre[j] = w * dot;
      }
    }
    for (let d = 0; d < d_in; d++) g[obd + d] = g[obd + d]! + dh[d]!;
    for (let j = 0; j < d_sae; j++) {
      const aj = a[j]!;
      let da = 0;
      for (let d = 0; d < d_in; d++) {
        const o = oWd + j * d_in + d;
        if (aj !== 0) g[o] = g[o]! + aj * dh[d]!;
        da += p[base + o]! * dh[d]!;
      }
      if (pre[j]! > 0) dpre[j] = dpre[j]! + da + lam * c[j]! * gscale;
    }
    for (let j = 0; j < d_sae; j++) {
      const dp = dpre[j]!;
      if (dp === 0) continue;
      g[obe + j] = g[obe + j]! + dp;
      for (let d = 0; d < d_in; d++) g[oWe + d * d_sae + j] = g[oWe + d * d_sae + j]! + h[hb + d]! * dp;
    }
  }
  A.sums[0] = sumMse;
  A.sums[1] = sumL1;
  A.sums[2] = sumGhost;
}

/**
 * The batch loop unrolled for d_in = 2, d_sae = 4 (same arithmetic as {@link accumulateGeneric}).
 *
 * @example
 * ```ts
 * import { accumulate2x4 } from "./fused_kernels.ts";
 * // called by FusedSmallSae.step when d_in = 2 and d_sae = 4: accumulate2x4(args)
 * ```
 */
export function accumulate2x4(A: KernelArgs): void {
  const { p, base, g, h, batch, invN, invN2, lam, c, dead, ghostOn, thr, gscale } = A;
  // W_enc [d][j] at oWe + d*4 + j; b_enc at obe; W_dec [j][d] at oWd + j*2 + d; b_dec at obd
  const oe = base + A.oWe;
  const ob = base + A.obe;
  const od = base + A.oWd;
  const oc = base + A.obd;
  const we00 = p[oe]!, we01 = p[oe + 1]!, we02 = p[oe + 2]!, we03 = p[oe + 3]!;
  const we10 = p[oe + 4]!, we11 = p[oe + 5]!, we12 = p[oe + 6]!, we13 = p[oe + 7]!;
  const be0 = p[ob]!, be1 = p[ob + 1]!, be2 = p[ob + 2]!, be3 = p[ob + 3]!;
  const wd00 = p[od]!, wd01 = p[od + 1]!, wd10 = p[od + 2]!, wd11 = p[od + 3]!;
  const wd20 = p[od + 4]!, wd21 = p[od + 5]!, wd30 = p[od + 6]!, wd31 = p[od + 7]!;
  const bd0 = p[oc]!, bd1 = p[oc + 1]!;
  const c0 = c[0]!, c1 = c[1]!, c2 = c[2]!, c3 = c[3]!;
  const lc0 = lam * c0 * gscale, lc1 = lam * c1 * gscale, lc2 = lam * c2 * gscale, lc3 = lam * c3 * gscale;
  const dd0 = dead[0] === 1, dd1 = dead[1] === 1, dd2 = dead[2] === 1, dd3 = dead[3] === 1;
  let gwe00 = 0, gwe01 = 0, gwe02 = 0, gwe03 = 0, gwe10 = 0, gwe11 = 0, gwe12 = 0, gwe13 = 0;
  let gbe0 = 0, gbe1 = 0, gbe2 = 0, gbe3 = 0;
  let gwd00 = 0, gwd01 = 0, gwd10 = 0, gwd11 = 0, gwd20 = 0, gwd21 = 0, gwd30 = 0, gwd31 = 0;
  let gbd0 = 0, gbd1 = 0;
  let f0 = 0, f1 = 0, f2 = 0, f3 = 0;
  let n0 = 0, n1 = 0, n2 = 0, n3 = 0;
  let sumMse = 0, sumL1 = 0, sumGhost = 0;
  for (let b = 0; b < batch; b++) {
    const h0 = h[2 * b]!, h1 = h[2 * b + 1]!;
    const p0 = be0 + h0 * we00 + h1 * we10;
    const p1 = be1 + h0 * we01 + h1 * we11;
    const p2 = be2 + h0 * we02 + h1 * we12;
    const p3 = be3 + h0 * we03 + h1 * we13;
    const a0 = p0 > 0 ? p0 : 0, a1 = p1 > 0 ? p1 : 0, a2 = p2 > 0 ? p2 : 0, a3 = p3 > 0 ? p3 : 0;
    if (a0 > thr) f0 = 1;
    if (a1 > thr) f1 = 1;
    if (a2 > thr) f2 = 1;
    if (a3 > thr) f3 = 1;
    if (a0 > 0) n0++;
    if (a1 > 0) n1++;
    if (a2 > 0) n2++;
    if (a3 > 0) n3++;
    const e0 = bd0 + a0 * wd00 + a1 * wd10 + a2 * wd20 + a3 * wd30 - h0;
    const e1 = bd1 + a0 * wd01 + a1 * wd11 + a2 * wd21 + a3 * wd31 - h1;
    const in2 = invN2[b]!;
    const mse = (e0 * e0 + e1 * e1) * in2;
    sumMse += mse;
    sumL1 += lam * (c0 * a0 + c1 * a1 + c2 * a2 + c3 * a3);
    let dh0 = 2 * e0 * in2 * gscale;
    let dh1 = 2 * e1 * in2 * gscale;
    let dp0 = 0, dp1 = 0, dp2 = 0, dp3 = 0;
    if (ghostOn) {
      const inv = invN[b]!;
      const rNorm = Math.sqrt(e0 * e0 + e1 * e1) * inv;
      const x0 = dd0 ? Math.exp(p0) : 0;
      const x1 = dd1 ? Math.exp(p1) : 0;
      const x2 = dd2 ? Math.exp(p2) : 0;
      const x3 = dd3 ? Math.exp(p3) : 0;
      const gv0 = x0 * wd00 + x1 * wd10 + x2 * wd20 + x3 * wd30;
      const gv1 = x0 * wd01 + x1 * wd11 + x2 * wd21 + x3 * wd31;
      const sc = rNorm / (1e-6 + 2 * Math.sqrt(gv0 * gv0 + gv1 * gv1));
      const df0 = -e0 * inv - sc * gv0;
      const df1 = -e1 * inv - sc * gv1;
      const m = df0 * df0 + df1 * df1;
      const kf = mse / (1e-6 + m);
      sumGhost += m * kf;
      const k2 = 2 * kf * gscale;
      dh0 -= k2 * df0 * inv;
      dh1 -= k2 * df1 * inv;
      const gd0 = -k2 * df0, gd1 = -k2 * df1;
      const w0 = sc * x0, w1 = sc * x1, w2 = sc * x2, w3 = sc * x3;
      gwd00 += w0 * gd0;
      gwd01 += w0 * gd1;
      gwd10 += w1 * gd0;
      gwd11 += w1 * gd1;
      gwd20 += w2 * gd0;
      gwd21 += w2 * gd1;
      gwd30 += w3 * gd0;
      gwd31 += w3 * gd1;
      dp0 = w0 * (wd00 * gd0 + wd01 * gd1);
      dp1 = w1 * (wd10 * gd0 + wd11 * gd1);
      dp2 = w2 * (wd20 * gd0 + wd21 * gd1);
      dp3 = w3 * (wd30 * gd0 + wd31 * gd1);
    }
    gbd0 += dh0;
    gbd1 += dh1;
    gwd00 += a0 * dh0;
    gwd01 += a0 * dh1;
    gwd10 += a1 * dh0;
    gwd11 += a1 * dh1;
    gwd20 += a2 * dh0;
    gwd21 += a2 * dh1;
    gwd30 += a3 * dh0;
    gwd31 += a3 * dh1;
    if (p0 > 0) dp0 += wd00 * dh0 + wd01 * dh1 + lc0;
    if (p1 > 0) dp1 += wd10 * dh0 + wd11 * dh1 + lc1;
    if (p2 > 0) dp2 += wd20 * dh0 + wd21 * dh1 + lc2;
    if (p3 > 0) dp3 += wd30 * dh0 + wd31 * dh1 + lc3;
    gbe0 += dp0;
    gbe1 += dp1;
    gbe2 += dp2;
    gbe3 += dp3;
    gwe00 += h0 * dp0;
    gwe01 += h0 * dp1;
    gwe02 += h0 * dp2;
    gwe03 += h0 * dp3;
    gwe10 += h1 * dp0;
    gwe11 += h1 * dp1;
    gwe12 += h1 * dp2;
    gwe13 += h1 * dp3;
  }
  const ge = A.oWe, gb = A.obe, gd = A.oWd, gc = A.obd;
  g[ge] = gwe00, g[ge + 1] = gwe01, g[ge + 2] = gwe02, g[ge + 3] = gwe03;
  g[ge + 4] = gwe10, g[ge + 5] = gwe11, g[ge + 6] = gwe12, g[ge + 7] = gwe13;
  g[gb] = gbe0, g[gb + 1] = gbe1, g[gb + 2] = gbe2, g[gb + 3] = gbe3;
  g[gd] = gwd00, g[gd + 1] = gwd01, g[gd + 2] = gwd10, g[gd + 3] = gwd11;
  g[gd + 4] = gwd20, g[gd + 5] = gwd21, g[gd + 6] = gwd30, g[gd + 7] = gwd31;
  g[gc] = gbd0, g[gc + 1] = gbd1;
  A.fired[0] = f0, A.fired[1] = f1, A.fired[2] = f2, A.fired[3] = f3;
  A.fireCnt[0] = n0, A.fireCnt[1] = n1, A.fireCnt[2] = n2, A.fireCnt[3] = n3;
  A.sums[0] = sumMse;
  A.sums[1] = sumL1;
  A.sums[2] = sumGhost;
}
