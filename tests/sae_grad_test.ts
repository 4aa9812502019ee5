// Gradients of the full SAE training loss (tfjs autodiff, float32) against
// central finite differences of an independent float64 implementation of the
// same loss, in which the study's detached factors are held at their values at
// the base point (that is what "detached" means for a gradient).

import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { Rng } from "../lib/engine/rng.ts";
import { createSae, defaultSaeConfig, defaultSaeTrainConfig, lossAndGradients, type Sae } from "../lib/sae/mod.ts";
import type { SaeTrainConfig } from "../lib/sae/config.ts";

await initBackend();

interface P {
  W_enc: Float64Array;
  b_enc: Float64Array;
  W_dec: Float64Array;
  b_dec: Float64Array;
}
interface Frozen {
  scale: Float64Array;
  factor: Float64Array;
}

/** Float64 reference loss (standard architecture), mirroring study A's code line by line. */
function refLoss(
  p: P,
  x: Float64Array,
  dims: { n: number; b: number; d: number; s: number },
  w: Float64Array, // λ·c, n·s
  dead: Float64Array | null, // n·s
  t: SaeTrainConfig,
  frozen: Frozen | null,
  record: Frozen | null,
): number {
  const { n, b, d, s } = dims;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const hasDead = dead ? dead.subarray(i * s, (i + 1) * s).some((v) => v > 0) : false;
    let inst = 0;
    for (let q = 0; q < b; q++) {
      const xb = x.subarray(q * d, (q + 1) * d); // shared batch
      const pre = new Float64Array(s);
      const a = new Float64Array(s);
      for (let j = 0; j < s; j++) {
        let v = p.b_enc[i * s + j]!;
        for (let k = 0; k < d; k++) v += xb[k]! * p.W_enc[i * d * s + k * s + j]!;
        pre[j] = v;
        a[j] = Math.max(0, v);
      }
      const xh = new Float64Array(d);
      for (let k = 0; k < d; k++) {
        let v = p.b_dec[i * d + k]!;
        for (let j = 0; j < s; j++) v += a[j]! * p.W_dec[i * s * d + j * d + k]!;
        xh[k] = v;
      }
      let nrm = 1;
      if (t.mse_loss === "l2_normalized") {
        nrm = Math.hypot(...xb);
        if (nrm === 0) nrm = 1;
      }
      let mse = 0;
      for (let k = 0; k < d; k++) mse += ((xh[k]! - xb[k]!) / nrm) ** 2;
      let sparse = 0;
      for (let j = 0; j < s; j++) {
        let wj = w[i * s + j]!;
        if (t.l1_weighted_by_decoder_norm) {
          let ss = 0;
          for (let k = 0; k < d; k++) ss += p.W_dec[i * s * d + j * d + k]! ** 2;
          wj *= Math.sqrt(ss);
        }
        sparse += wj * a[j]!;
      }
      let ghost = 0;
      if (t.use_ghost_grads && dead && hasDead) {
        const r = new Float64Array(d);
        const g0 = new Float64Array(d);
        for (let k = 0; k < d; k++) {
          r[k] = (xb[k]! - xh[k]!) / nrm;
          for (let j = 0; j < s; j++) {
            if (dead[i * s + j]! > 0) g0[k] = g0[k]! + Math.exp(pre[j]!) * p.W_dec[i * s * d + j * d + k]!;
          }
        }
        const scale = frozen ? frozen.scale[i * b + q]! : Math.hypot(...r) / (1e-6 + 2 * Math.hypot(...g0));
        let m = 0;
        for (let k = 0; k < d; k++) m += (r[k]! - scale * g0[k]!) ** 2;
        const factor = frozen ? frozen.factor[i * b + q]! : mse / (1e-6 + m);
        if (record) {
          record.scale[i * b + q] = scale;
          record.factor[i * b + q] = factor;
        }
        ghost = m * factor;
      }
      inst += (mse + sparse + ghost) / b;
    }
    total += inst;
  }
  return total / (t.loss_instance_divisor ?? n);
}

function params64(sae: Sae): P {
  const a = sae.toArrays();
  const f = (k: string) => Float64Array.from(a[k]!.data);
  return { W_enc: f("W_enc"), b_enc: f("b_enc"), W_dec: f("W_dec"), b_dec: f("b_dec") };
}

function checkGradients(t: SaeTrainConfig, withDead: boolean, label: string) {
  const dims = { n: 2, b: 6, d: 3, s: 4 };
  const cfg = defaultSaeConfig({ d_in: dims.d, d_sae: dims.s, n_inst: dims.n });
  const sae = createSae(cfg, 11);
  const rng = new Rng(5, "grad-test");
  // non-zero biases so that every parameter matters
  sae.params.b_enc.assign(tf.tensor2d(rng.fillUniform(new Float32Array(dims.n * dims.s), -0.3, 0.3), [dims.n, dims.s]));
  sae.params.b_dec.assign(tf.tensor2d(rng.fillUniform(new Float32Array(dims.n * dims.d), -0.2, 0.2), [dims.n, dims.d]));
  const x32 = rng.fillUniform(new Float32Array(dims.b * dims.d), -1, 1);
  const x = tf.tensor3d(x32, [1, dims.b, dims.d]);
  const w32 = rng.fillUniform(new Float32Array(dims.n * dims.s), 0, 0.3);
  // instance 0 has two dead latents, instance 1 none: the ghost term must apply to instance 0 only
  const dead32 = withDead ? new Float32Array([1, 0, 1, 0, 0, 0, 0, 0]) : null;
  const got = lossAndGradients(sae, t, x, w32, dead32);

  const p = params64(sae);
  const xs = Float64Array.from(x32);
  const w = Float64Array.from(w32);
  const dead = dead32 ? Float64Array.from(dead32) : null;
  const frozen: Frozen = { scale: new Float64Array(dims.n * dims.b), factor: new Float64Array(dims.n * dims.b) };
  const base = refLoss(p, xs, dims, w, dead, t, null, frozen);
  if (Math.abs(base - got.loss) > 1e-5 * Math.abs(base) + 1e-7) {
    throw new Error(`${label}: loss ${got.loss} (tfjs) vs ${base} (float64 reference)`);
  }
  const h = 1e-6;
  const wDec = p.W_dec.slice();
  for (const key of ["W_enc", "b_enc", "W_dec", "b_dec"] as const) {
    const arr = p[key];
    const fd = new Float64Array(arr.length);
    for (let q = 0; q < arr.length; q++) {
      const keep = arr[q]!;
      arr[q] = keep + h;
      const up = refLoss(p, xs, dims, w, dead, t, frozen, null);
      arr[q] = keep - h;
      const down = refLoss(p, xs, dims, w, dead, t, frozen, null);
      arr[q] = keep;
      fd[q] = (up - down) / (2 * h);
    }
    if (key === "W_dec" && t.remove_decoder_parallel_grad) {
      // expected: the finite-difference gradient minus its component along each (unit) decoder row
      for (let r = 0; r < dims.n * dims.s; r++) {
        let dot = 0;
        for (let k = 0; k < dims.d; k++) dot += fd[r * dims.d + k]! * wDec[r * dims.d + k]!;
        for (let k = 0; k < dims.d; k++) fd[r * dims.d + k] = fd[r * dims.d + k]! - dot * wDec[r * dims.d + k]!;
      }
    }
    const g = got.grads[key]!;
    const scale = Math.max(...Array.from(fd, Math.abs), 1e-3);
    for (let q = 0; q < fd.length; q++) {
      const err = Math.abs(g[q]! - fd[q]!);
      if (err > 2e-4 * scale + 1e-6) {
        throw new Error(`${label}: d loss/d ${key}[${q}] autodiff ${g[q]} vs finite difference ${fd[q]} (|Δ| ${err})`);
      }
    }
  }
  x.dispose();
  sae.dispose();
  return got;
}

Deno.test("SAE loss gradients (normalised MSE, ℓ1 with cool-down weights, ghost term, decoder projection) match finite differences", () => {
  const got = checkGradients(defaultSaeTrainConfig(), true, "study-A recipe");
  // ghost term present for instance 0 only
  const ghostRow = got.perInstance[3]!;
  if (!(ghostRow[0]! > 0) || ghostRow[1] !== 0) {
    throw new Error(`ghost per instance: expected [>0, 0], got ${ghostRow}`);
  }
});

Deno.test("SAE loss gradients without dead latents have no ghost term and still match finite differences", () => {
  const got = checkGradients(defaultSaeTrainConfig(), false, "no dead latents");
  if (got.perInstance[3]!.some((v) => v !== 0)) throw new Error(`ghost should be 0, got ${got.perInstance[3]}`);
});

Deno.test("SAE loss gradients for the SAELens-style loss (sum MSE, decoder-norm-weighted ℓ1, no projection) match finite differences", () => {
  checkGradients(
    defaultSaeTrainConfig({
      mse_loss: "sum",
      l1_weighted_by_decoder_norm: true,
      remove_decoder_parallel_grad: false,
      use_ghost_grads: false,
    }),
    true,
    "SAELens-style",
  );
});

Deno.test("ghost gradients with the unnormalised loss and a loss divisor match finite differences", () => {
  checkGradients(defaultSaeTrainConfig({ mse_loss: "sum", loss_instance_divisor: 5 }), true, "sum + ghost");
});
