/**
 * Controlled experiment behind notebook 01's section 5: one learning-rate row of the D1 grid (5 λ × 5 instances,
 * the study's full recipe) trained on the former shared batch stream `sae/batches`, with or without the samples of
 * one step whose ‖h‖ is below a threshold set to zero (h = 0 is harmless: the loss replaces its norm by 1).
 * Reports the median output at h = 0 (‖ĥ(0)‖), the median held-out Σ error / Σ‖h‖² and the composed cells (the
 * instance with the lowest ratio + λ·ℓ1 per cell on the held-out set, closer to the diagonals than to the axes).
 *
 * Usage (reads the D1 toy model from figures/toy_model_D1.data.json, written by notebook 01):
 *   deno run -A scripts/toy_spike_control.ts [--lr 3e-3] [--seed 20240314] [--cut-step 24895] [--cut-below 1e-7]
 *
 * @module
 */

import { Rng } from "../lib/engine/rng.ts";
import { defaultSaeConfig, defaultSaeTrainConfig } from "../lib/sae/config.ts";
import { FusedSmallSae } from "../lib/toy/fused_state.ts";
import { makeBatchStream } from "../lib/toy/fused_run.ts";
import { lrMultiplier, scheduleLengths } from "../lib/sae/schedule.ts";
import { composedDirections, datasetConfig, featureAxes, summarizeReconstruction } from "../lib/toy/mod.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(Deno.args[i + 1]);
  if (!Number.isFinite(v)) throw new Error(`--${name}: expected a number, got ${Deno.args[i + 1]}`);
  return v;
}

const lr = arg("lr", 3e-3);
const seed = arg("seed", 20240314);
const cutStep = arg("cut-step", -1);
const cutBelow = arg("cut-below", 1e-7);
const T = 31_250, B = 1024, K = 5;
const l1s = [0.01, 0.03, 0.1, 0.3, 1.0];
const n = l1s.length * K;
const path = "figures/toy_model_D1.data.json";
const saved = JSON.parse(Deno.readTextFileSync(path)) as { W?: number[]; b?: number[] };
if (!Array.isArray(saved.W) || saved.W.length !== 8 || !Array.isArray(saved.b)) {
  throw new Error(`${path}: field W: expected 8 numbers, got ${JSON.stringify(saved.W)?.slice(0, 80)}`);
}
const toy = { n_in: 4, n_hid: 2, W: Float64Array.from(saved.W), b: Float64Array.from(saved.b) };
const train = defaultSaeTrainConfig({
  lr: new Array<number>(n).fill(lr),
  l1_coefficient: l1s.flatMap((l) => new Array<number>(K).fill(l)),
  total_steps: T,
  batch_size: B,
  loss_instance_divisor: 5,
});
const sae = new FusedSmallSae(defaultSaeConfig({ d_in: 2, d_sae: 4, n_inst: n }), train);
const init = new Rng(seed, "init");
const bound = Math.sqrt(6 / 8);
const initWDec = init.fillUniform(new Float64Array(n * 8), -bound, bound); // drawn first, then W_enc
sae.setParams({
  W_enc: init.fillUniform(new Float64Array(n * 8), -bound, bound),
  b_enc: new Float64Array(n * 4),
  W_dec: initWDec,
  b_dec: new Float64Array(n * 2),
});
sae.normalizeDecoder();
const next = makeBatchStream({ kind: "toy", data: datasetConfig("D1"), toy, seed, stream: "sae/batches" }, B, 2);
const h = new Float64Array(B * 2);
const lengths = scheduleLengths(T, 0.1, 0.2);
let zeroed = 0;
for (let s = 0; s < T; s++) {
  next(h);
  if (s === cutStep) {
    for (let b = 0; b < B; b++) {
      if (Math.hypot(h[2 * b]!, h[2 * b + 1]!) < cutBelow) {
        h[2 * b] = 0;
        h[2 * b + 1] = 0;
        zeroed++;
      }
    }
  }
  sae.step(h, B, lrMultiplier(s, T, lengths));
}
// held-out evaluation in plain arithmetic (standard ReLU SAE)
const NE = 100_000;
const he = new Float64Array(NE * 2);
makeBatchStream({ kind: "toy", data: datasetConfig("D1"), toy, seed, stream: "control/eval" }, NE, 2)(he);
const norm2 = Float64Array.from({ length: NE }, (_, b) => he[2 * b]! ** 2 + he[2 * b + 1]! ** 2);
const axes = featureAxes(toy, [2, 2]).dirs;
const diags = composedDirections(toy, [2, 2]).dirs;
const maxCos = (v: [number, number], dirs: Float64Array) => {
  let m = 0;
  for (let q = 0; q < dirs.length / 2; q++) {
    m = Math.max(m, Math.abs(v[0] * dirs[2 * q]! + v[1] * dirs[2 * q + 1]!) / Math.hypot(v[0], v[1]));
  }
  return m;
};
const rows = Array.from({ length: n }, (_, i) => {
  const p = sae.params.subarray(i * sae.P, (i + 1) * sae.P);
  const fwd = (x0: number, x1: number): [number, number, number] => {
    let r0 = p[sae.obd]!, r1 = p[sae.obd + 1]!, l1 = 0;
    for (let j = 0; j < 4; j++) {
      const a = Math.max(0, p[sae.obe + j]! + x0 * p[j]! + x1 * p[4 + j]!);
      l1 += a;
      r0 += a * p[sae.oWd + 2 * j]!;
      r1 += a * p[sae.oWd + 2 * j + 1]!;
    }
    return [r0, r1, l1];
  };
  const err2 = new Float64Array(NE);
  let l1 = 0;
  for (let b = 0; b < NE; b++) {
    const [r0, r1, a] = fwd(he[2 * b]!, he[2 * b + 1]!);
    err2[b] = (r0 - he[2 * b]!) ** 2 + (r1 - he[2 * b + 1]!) ** 2;
    l1 += a / NE;
  }
  const s = summarizeReconstruction(err2, norm2);
  const [o0, o1] = fwd(0, 0);
  let ax = 0, dg = 0;
  for (let j = 0; j < 4; j++) {
    const v: [number, number] = [p[sae.oWd + 2 * j]!, p[sae.oWd + 2 * j + 1]!];
    ax += maxCos(v, axes) / 4;
    dg += maxCos(v, diags) / 4;
  }
  return { score: s.mse_ratio + l1s[Math.floor(i / K)]! * l1, ratio: s.mse_ratio, offset: Math.hypot(o0, o1), dg, ax };
});
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
let composed = 0;
for (let c = 0; c < l1s.length; c++) {
  const cell = rows.slice(c * K, (c + 1) * K);
  const best = cell.reduce((a, r) => (r.score < a.score ? r : a));
  if (best.dg > best.ax) composed++;
}
console.log(
  `D1 lr=${lr} seed=${seed} cut-step=${cutStep} (zeroed ${zeroed} sample(s) below ${cutBelow}): median ‖ĥ(0)‖ ${
    median(rows.map((r) => r.offset)).toExponential(2)
  }, median ratio ${median(rows.map((r) => r.ratio)).toExponential(2)}, composed cells ${composed}/${l1s.length}`,
);
