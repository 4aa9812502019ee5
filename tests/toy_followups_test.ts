import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { Rng } from "../lib/engine/rng.ts";
import { ComposedFeatureData, datasetConfig, defaultComposedDataConfig, eventFrequencies } from "../lib/toy/data.ts";
import {
  classifyInstance,
  defaultFollowupSaeConfig,
  latentCounts,
  trainToySaes,
  wilson,
} from "../lib/toy/followup_train.ts";
import { composedPairBasis, generatorToy } from "../lib/toy/geometry_study.ts";
import { onehotSweepData, responseAndCosine } from "../lib/toy/scale_study.ts";
import {
  createSae,
  createTrainState,
  defaultSaeConfig,
  defaultSaeTrainConfig,
  disposeTrainState,
  lossAndGradients,
  trainStep,
} from "../lib/sae/mod.ts";
import { checkFusedSupport } from "../lib/toy/fused_small.ts";
import { hiddenActivations } from "../lib/toy/model.ts";

await initBackend();

const CROSS = { n_in: 4, n_hid: 2, W: new Float64Array([1, 0, -1, 0, 0, 1, 0, -1]), b: new Float64Array(4) };

Deno.test("an identity input basis leaves samples unchanged; a rotated basis gives x = c·B", () => {
  const eye = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
  const plain = new ComposedFeatureData(datasetConfig("D1")).sample(50, new Rng(1, "t"));
  const same = new ComposedFeatureData({ ...datasetConfig("D1"), input_basis: eye }).sample(50, new Rng(1, "t"));
  if (plain.some((v, i) => v !== same[i])) throw new Error("identity basis changed the samples");
  const B = composedPairBasis();
  const rot = new ComposedFeatureData({ ...datasetConfig("D1"), input_basis: B }).sample(50, new Rng(1, "t"));
  for (let r = 0; r < 50; r++) {
    for (let k = 0; k < 4; k++) {
      let want = 0;
      for (let i = 0; i < 4; i++) want += plain[r * 4 + i]! * B[i]![k]!;
      if (Math.abs(rot[r * 4 + k]! - want) > 1e-12) throw new Error(`row ${r} col ${k}: ${rot[r * 4 + k]} vs ${want}`);
    }
    // the rotation is orthonormal: norms are preserved
    let a = 0, b = 0;
    for (let k = 0; k < 4; k++) {
      a += plain[r * 4 + k]! ** 2;
      b += rot[r * 4 + k]! ** 2;
    }
    if (Math.abs(a - b) > 1e-12) throw new Error("the composed-pair basis is not orthonormal");
  }
  // a D1 pair (x1, y1) with amplitude a is √2·a·e_x1 in the rotated basis
  const pair = new Float64Array([1, 0, 1, 0]);
  const gen = generatorToy(CROSS, B);
  let h0 = 0;
  for (let i = 0; i < 4; i++) h0 += pair[i]! * gen.W[i * 2]!;
  if (Math.abs(h0 - Math.SQRT2 * CROSS.W[0]!) > 1e-12) throw new Error(`generator toy: ${h0}`);
});

Deno.test("a malformed input basis is rejected naming the field", () => {
  for (
    const [basis, needle] of [[[[1, 0]], "input_basis: expected 4 rows"], [
      [[1, 0, 0, 0], [0, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
      "input_basis[1]",
    ], [[[1, 0, 0, NaN], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], "non-finite"]] as const
  ) {
    let msg = "";
    try {
      new ComposedFeatureData({ ...datasetConfig("D1"), input_basis: basis as unknown as number[][] });
    } catch (e) {
      msg = String(e);
    }
    if (!msg.includes(needle)) throw new Error(`expected an error containing "${needle}", got "${msg}"`);
  }
});

Deno.test("the p = 1 sweep point is every true feature alone with probability 1/4, same column order", () => {
  const data = new ComposedFeatureData(onehotSweepData(1, 0));
  const n = 40_000;
  const freq = eventFrequencies(data, data.sample(n, new Rng(2, "t")), n);
  for (const [label, f] of freq) {
    if (Math.abs(f - 0.25) > 0.01) throw new Error(`${label}: ${f}`);
  }
  if (data.nIn !== 4 || [...freq.keys()].length !== 4) throw new Error("expected four one-hot events");
  if (onehotSweepData(0.3, 1).onehot_probability !== 0.3) throw new Error("p < 1 keeps the generator's option");
  if (JSON.stringify(defaultComposedDataConfig()) !== JSON.stringify(datasetConfig("D1"))) {
    throw new Error("defaults changed");
  }
});

Deno.test("instance and latent classification, and Wilson intervals", () => {
  if (classifyInstance({ axis_cos: 0.99, diag_cos: 0.72 }) !== "axes") throw new Error("axes");
  if (classifyInstance({ axis_cos: 0.7, diag_cos: 0.97 }) !== "composed") throw new Error("composed");
  if (classifyInstance({ axis_cos: 0.9, diag_cos: 0.9 }) !== "mixed") throw new Error("mixed");
  const rows = [
    { axisCos: 1, axisLabel: "x1", diagCos: 0.7, diagLabel: "x1+y1" },
    { axisCos: 0.7, axisLabel: "x1", diagCos: 1, diagLabel: "x1+y1" },
    { axisCos: 0.9, axisLabel: "y1", diagCos: 0.9, diagLabel: "x1+y1" },
    { axisCos: 1, axisLabel: "y2", diagCos: 0.7, diagLabel: "x2+y2" },
  ];
  const c = latentCounts({ index: 1, rows }, new Float64Array([1, 1, 1, 1, 0.2, 0.3, 0.1, 0]), 4);
  if (JSON.stringify(c) !== JSON.stringify({ near_axis: 1, near_composed: 1, dead: 1, other: 1 })) {
    throw new Error(`counts ${JSON.stringify(c)}`);
  }
  const w = wilson(5, 50);
  if (!(w.lo < 0.1 && w.hi > 0.1 && w.lo > 0.03 && w.hi < 0.23)) throw new Error(`wilson ${JSON.stringify(w)}`);
  const z = wilson(0, 64);
  if (z.lo !== 0 || !(z.hi > 0.04 && z.hi < 0.07)) throw new Error(`wilson(0, 64) ${JSON.stringify(z)}`);
});

Deno.test("latent response and cosine heat-map matrices of a hand-built SAE", () => {
  const p = {
    W_enc: new Float32Array([1, 0, 0, 1]), // [d_in 2, d_sae 2]
    b_enc: new Float32Array([-0.5, 0]),
    W_dec: new Float32Array([1, 0, 0, -1]),
  };
  const r = responseAndCosine(new Float64Array([2, 0, 0, 1]), 2, 2, p, 0, 2);
  if (JSON.stringify(r.response) !== JSON.stringify([[1.5, 0], [0, 1]])) throw new Error(JSON.stringify(r.response));
  if (JSON.stringify(r.cosine) !== JSON.stringify([[1, 0], [0, -1]])) throw new Error(JSON.stringify(r.cosine));
});

Deno.test("SAEs started exactly at the diagonal dictionary of D1 stay there through the fused kernel", async () => {
  const r = Math.SQRT1_2;
  const dec = [r, r, -r, r, -r, -r, r, -r]; // four diagonals
  const n = 2;
  const W_dec = new Float32Array(n * 8), W_enc = new Float32Array(n * 8);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 4; k++) {
      for (let d = 0; d < 2; d++) {
        W_dec[i * 8 + k * 2 + d] = dec[k * 2 + d]!;
        W_enc[i * 8 + d * 4 + k] = dec[k * 2 + d]!;
      }
    }
  }
  const run = await trainToySaes(
    datasetConfig("D1"),
    CROSS,
    [2, 2],
    n,
    defaultFollowupSaeConfig({
      steps: 300,
      batch_size: 128,
      eval_samples: 2000,
      workers: 0,
      seed: 3,
    }),
    { init: { W_enc, b_enc: new Float32Array(n * 4), W_dec, b_dec: new Float32Array(n * 2) } },
  );
  for (const e of run.evals) {
    if (classifyInstance(e) !== "composed") throw new Error(`instance ${e.index}: ${e.axis_cos} / ${e.diag_cos}`);
  }
  if (run.density.length !== n * 4) throw new Error("density per latent");
});

Deno.test("the fused kernel runs wide toy dictionaries (d_sae 64) and refuses the TopK family, which the tfjs trainer takes", async () => {
  const run = await trainToySaes(
    datasetConfig("D2"),
    CROSS,
    [2, 2],
    1,
    defaultFollowupSaeConfig({
      steps: 50,
      batch_size: 64,
      eval_samples: 500,
      workers: 0,
    }),
    { dSae: 64 },
  );
  if (run.evals[0]!.rows.length !== 64) throw new Error("64 decoder rows expected");
  let msg = "";
  try {
    checkFusedSupport(defaultSaeConfig({ architecture: "topk", k: 1 }), defaultSaeTrainConfig());
  } catch (e) {
    msg = String(e);
  }
  if (!msg.includes("architecture")) throw new Error(`expected a refusal naming the architecture, got "${msg}"`);
});

Deno.test("TopK on toy data with per-instance batches keeps exactly k active latents and its gradients match finite differences", () => {
  const data = [new ComposedFeatureData(datasetConfig("D1")), new ComposedFeatureData(datasetConfig("D3u"))];
  const rng = new Rng(9, "t");
  const batch = (b: number) => {
    const buf = new Float32Array(2 * b * 2);
    data.forEach((d, q) => buf.set(hiddenActivations(CROSS, d.sample(b, rng), b), q * b * 2));
    return tf.tensor3d(buf, [2, b, 2]);
  };
  for (const k of [1, 2]) {
    const sae = createSae(defaultSaeConfig({ d_in: 2, d_sae: 4, n_inst: 2, architecture: "topk", k }), 4);
    const state = createTrainState(
      sae,
      defaultSaeTrainConfig({ total_steps: 40, lr: 3e-3, use_ghost_grads: false, aux_k_coefficient: 1 / 32 }),
    );
    for (let s = 0; s < 40; s++) {
      const x = batch(64);
      trainStep(sae, state, x);
      x.dispose();
    }
    const x = batch(256);
    // pre-activations of a 2-D toy can all be ≤ 0 for some latents; count kept entries where the k-th largest is positive
    const pre = sae.forward(x).preActs as tf.Tensor3D;
    const acts = sae.encode(x);
    const counts = tf.sum(tf.step(acts), -1).dataSync();
    const kth = tf.min(tf.topk(pre, k).values, -1).dataSync();
    for (let q = 0; q < counts.length; q++) {
      if (counts[q]! > k) throw new Error(`k=${k}: ${counts[q]} active`);
      if (kth[q]! > 0 && counts[q] !== k) {
        throw new Error(`k=${k}: ${counts[q]} active with a positive k-th pre-activation`);
      }
    }
    tf.dispose([x, pre, acts]);
    disposeTrainState(state);
    // gradient check on W_enc, b_enc, b_dec (W_dec's includes the decoder projection)
    const xg = batch(32);
    const w = new Float32Array(8);
    let checked = 0;
    const base = lossAndGradients(sae, defaultSaeTrainConfig({ remove_decoder_parallel_grad: false }), xg, w, null);
    for (const name of ["W_enc", "b_enc", "b_dec"] as const) {
      const v = sae.params[name];
      const vals = v.dataSync().slice();
      for (const idx of [0, 3, 5, vals.length - 1]) {
        const e = 1e-3;
        const at = (delta: number) => {
          const m = vals.slice();
          m[idx] = m[idx]! + delta;
          const t = tf.tensor(m, v.shape);
          v.assign(t);
          t.dispose();
          const mask = tf.tidy(() => tf.step(sae.encode(xg)).dataSync().join(""));
          const loss =
            lossAndGradients(sae, defaultSaeTrainConfig({ remove_decoder_parallel_grad: false }), xg, w, null)
              .loss;
          return { loss, mask };
        };
        const up = at(e), dn = at(-e);
        const t = tf.tensor(vals, v.shape);
        v.assign(t);
        t.dispose();
        if (up.mask !== dn.mask) continue; // the top-k selection switched: the loss is not differentiable here
        checked++;
        const fd = (up.loss - dn.loss) / (2 * e);
        const g = base.grads[name]![idx]!;
        if (Math.abs(fd - g) > 2e-3 + 0.02 * Math.abs(g)) throw new Error(`k=${k} ${name}[${idx}]: ${g} vs FD ${fd}`);
      }
    }
    if (checked < 6) throw new Error(`k=${k}: only ${checked} gradient entries away from a selection switch`);
    xg.dispose();
    sae.dispose();
  }
});
