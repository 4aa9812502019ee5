import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { Rng } from "../lib/engine/rng.ts";
import {
  batchTopkActivation,
  createSae,
  createTrainState,
  defaultSaeConfig,
  defaultSaeTrainConfig,
  disposeTrainState,
  jumpRelu,
  jumpStep,
  selectTopK,
  topkActivation,
  trainStep,
} from "../lib/sae/mod.ts";

await initBackend();

function uniform3(shape: [number, number, number], seed: number, lo = -1, hi = 1): tf.Tensor3D {
  return tf.tensor3d(
    new Rng(seed, "arch-test").fillUniform(new Float32Array(shape[0] * shape[1] * shape[2]), lo, hi),
    shape,
  );
}

Deno.test("TopK keeps exactly k latents per token (positive pre-activations) with the right values", () => {
  const pre = uniform3([3, 50, 16], 1, 0.01, 1);
  const acts = topkActivation(pre, 4);
  const counts = tf.sum(tf.step(acts), -1).dataSync();
  if (counts.some((c) => c !== 4)) throw new Error(`active counts: ${Array.from(counts).slice(0, 10)}`);
  // kept values are the 4 largest of each row
  const kth = tf.min(tf.topk(pre, 4).values, -1, true);
  const wrong = tf.sum(tf.mul(tf.cast(tf.less(pre, kth), "float32"), acts)).dataSync()[0];
  if (wrong !== 0) throw new Error("a value below the 4th largest was kept");
  tf.dispose([pre, acts, kth]);
});

Deno.test("TopK breaks ties at the boundary by latent index, deterministically", () => {
  const m = selectTopK(tf.tensor2d([[1, 3, 3, 3, 0], [2, 2, 2, 2, 2]]), 2).arraySync();
  if (JSON.stringify(m) !== JSON.stringify([[0, 1, 1, 0, 0], [1, 1, 0, 0, 0]])) {
    throw new Error(`mask ${JSON.stringify(m)}`);
  }
});

Deno.test("TopK rectifies: negative pre-activations among the top k stay 0", () => {
  const a = topkActivation(tf.tensor3d([[[-1, -2, 0.5, -3]]]), 2).arraySync();
  if (JSON.stringify(a) !== JSON.stringify([[[0, 0, 0.5, 0]]])) throw new Error(`acts ${JSON.stringify(a)}`);
});

Deno.test("BatchTopK keeps k·batch activations per instance over the whole batch", () => {
  const pre = uniform3([2, 32, 8], 2, 0.01, 1);
  const acts = batchTopkActivation(pre, 3);
  const totals = tf.sum(tf.step(acts), [1, 2]).dataSync();
  if (totals[0] !== 96 || totals[1] !== 96) throw new Error(`totals ${Array.from(totals)}`);
  const perToken = tf.sum(tf.step(acts), -1).dataSync();
  if (Math.min(...perToken) === Math.max(...perToken)) throw new Error("per-token counts should vary in BatchTopK");
  tf.dispose([pre, acts]);
});

Deno.test("TopK gradient flows only through the kept entries", () => {
  const pre = tf.tensor3d([[[0.5, 2, 1, -1]]]);
  const g = tf.grad((p: tf.Tensor) => tf.sum(tf.mul(topkActivation(p, 2), tf.tensor3d([[[1, 2, 3, 4]]]))))(pre);
  if (JSON.stringify(g.arraySync()) !== JSON.stringify([[[0, 2, 3, 0]]])) throw new Error(`grad ${g.arraySync()}`);
});

Deno.test("JumpReLU zeroes activations at or below the threshold and passes the rest", () => {
  const a = jumpRelu(tf.tensor3d([[[0.5, 1, 1.5], [2, 0.9, -1]]]), tf.tensor2d([[1, 1, 1]]), 0.01).arraySync();
  if (JSON.stringify(a) !== JSON.stringify([[[0, 0, 1.5], [2, 0, 0]]])) throw new Error(`acts ${JSON.stringify(a)}`);
});

Deno.test("JumpReLU threshold gradient: L0 pushes θ up, a useful latent pulls θ down, zero outside the bandwidth", () => {
  const eps = 0.1;
  const theta = tf.tensor2d([[1, 1]]);
  const pre = tf.tensor3d([[[1.02, 3]]]); // latent 0 within ε/2 of θ, latent 1 far above
  // L0 penalty: ∂/∂θ Σ H(z − θ) = −(1/ε)·K → negative (descent raises θ, lowering L0)
  const gL0 = (tf.grad((t: tf.Tensor) => tf.sum(jumpStep(pre, t, eps)))(theta).arraySync() as number[][])[0]!;
  if (!(Math.abs(gL0[0]! + 1 / eps) < 1e-5) || gL0[1] !== 0) throw new Error(`L0 θ-gradient ${gL0}`);
  // loss −a: activation is useful; ∂/∂θ = −(θ/ε)·K·(−1) = +θ/ε → descent lowers θ
  const gUse = (tf.grad((t: tf.Tensor) => tf.neg(tf.sum(jumpRelu(pre, t, eps))))(theta).arraySync() as number[][])[0]!;
  if (!(Math.abs(gUse[0]! - 1 / eps) < 1e-4) || gUse[1] !== 0) throw new Error(`useful-latent θ-gradient ${gUse}`);
  // no gradient reaches z through the step
  const gz = tf.grad((z: tf.Tensor) => tf.sum(jumpStep(z, theta, eps)))(pre).arraySync();
  if (JSON.stringify(gz) !== JSON.stringify([[[0, 0]]])) throw new Error(`z-gradient of the step ${gz}`);
});

for (const architecture of ["topk", "batchtopk", "jumprelu"] as const) {
  Deno.test(`${architecture} SAE trains with the shared trainer: finite, decreasing loss and exact sparsity`, () => {
    const cfg = defaultSaeConfig({ d_in: 4, d_sae: 8, n_inst: 2, architecture, k: 2, jumprelu_init_threshold: 0.05 });
    const sae = createSae(cfg, 3);
    const state = createTrainState(
      sae,
      defaultSaeTrainConfig({ total_steps: 60, lr: 3e-3, l1_coefficient: 1e-3, aux_k_coefficient: 1 / 32 }),
    );
    const rng = new Rng(4, "arch-batches");
    const losses: number[] = [];
    for (let s = 0; s < 60; s++) {
      const x = tf.tensor3d(rng.fillNormal(new Float32Array(64 * 4)), [1, 64, 4]);
      const r = trainStep(sae, state, x);
      x.dispose();
      if (r.loss.some((v) => !Number.isFinite(v))) throw new Error(`non-finite loss at step ${s}`);
      losses.push(r.loss[0]!);
    }
    if (!(losses.at(-1)! < losses[0]!)) throw new Error(`loss did not decrease: ${losses[0]} → ${losses.at(-1)}`);
    const x = tf.tensor3d(rng.fillNormal(new Float32Array(64 * 4)), [1, 64, 4]);
    const acts = sae.encode(x, { training: true });
    const active = Array.from(tf.sum(tf.step(acts), -1).dataSync());
    if (architecture === "topk" && Math.max(...active) > 2) {
      throw new Error(`topk: more than k active (${Math.max(...active)})`);
    }
    if (architecture === "batchtopk") {
      const total = active.reduce((a, b) => a + b, 0);
      if (total > 2 * 64 * 2) throw new Error(`batchtopk: ${total} active > k·batch per instance`);
      if (!(sae.params.threshold!.dataSync()[0]! > 0)) throw new Error("batchtopk threshold was not learned");
    }
    if (architecture === "jumprelu") {
      const th = sae.params.threshold!.dataSync();
      if (th.some((v) => !(v > 0))) throw new Error("jumprelu thresholds must stay positive (log-space updates)");
    }
    tf.dispose([x, acts]);
    disposeTrainState(state);
    sae.dispose();
  });
}
