// An SAE architecture is one spec plus one registration: this file defines a toy architecture (a shifted ReLU with a
// trained per-latent shift and an ℓ1 penalty), registers it, trains it with the shared trainer, and writes and reads
// it through the SAELens file format; the compiler must reject a spec with a missing piece.

import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { Rng } from "../lib/engine/rng.ts";
import type { SaeArchitectureSpec } from "../lib/sae/architecture.ts";
import { defaultSaeConfig, defaultSaeTrainConfig, SaeConfigError } from "../lib/sae/config.ts";
import { registerSaeArchitecture, saeArchitecture, saeArchitectureNames } from "../lib/sae/registry.ts";
import { createSae } from "../lib/sae/sae.ts";
import { loadSaeLens, saveSaeLens } from "../lib/sae/saelens.ts";
import { trainSae } from "../lib/sae/train.ts";
import { assert, assertEquals, maxAbsDiff } from "./helpers.ts";

await initBackend();

/** The toy architecture: a = ReLU(pre − θ) with a trained shift θ > 0 per latent, ℓ1 penalty on a. */
const shiftedRelu: SaeArchitectureSpec = {
  name: "shifted_relu",
  validate: (cfg) => {
    if (cfg.apply_b_dec_to_input) throw new SaeConfigError("SaeConfig.apply_b_dec_to_input: shifted_relu needs false");
  },
  activate: (pre, { threshold }) => tf.relu(tf.sub(pre, tf.expandDims(threshold as tf.Variable, 1))) as tf.Tensor3D,
  threshold: { trained: true, initial: () => 0.05 },
  penalty: { penalised: ({ acts }) => acts, decoderNormWeighted: false },
  auxK: false,
  postStep: null,
  saeLens: { name: "shifted_relu", reads: true, read: () => ({}), write: () => ({}) },
};

registerSaeArchitecture(shiftedRelu);

// A spec without one of its pieces does not compile (deno test type-checks this file: an unused directive fails).
// @ts-expect-error: postStep is missing
const incomplete: SaeArchitectureSpec = {
  name: "incomplete",
  validate: () => {},
  activate: (pre) => pre,
  threshold: null,
  penalty: null,
  auxK: false,
  saeLens: { name: "incomplete", reads: false, read: () => ({}), write: () => ({}) },
};
void incomplete;

const D_IN = 4;
const D_SAE = 8;

/** Sparse toy data: each sample is Σ_i f_i·u_i over 8 fixed unit directions, f_i ~ U(0, 1) with probability 0.2. */
function sparseBatch(seed: number, batch: number): tf.Tensor2D {
  const dirs = new Rng(1, "registry-test/dirs").fillNormal(new Float32Array(D_SAE * D_IN));
  for (let i = 0; i < D_SAE; i++) {
    const row = dirs.subarray(i * D_IN, (i + 1) * D_IN);
    const norm = Math.hypot(...row);
    for (let d = 0; d < D_IN; d++) row[d] = (row[d] as number) / norm;
  }
  const rng = new Rng(seed, "registry-test/batch");
  const out = new Float32Array(batch * D_IN);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < D_SAE; i++) {
      if (rng.uniform() >= 0.2) continue;
      const f = rng.uniform();
      for (let d = 0; d < D_IN; d++) {
        out[b * D_IN + d] = (out[b * D_IN + d] as number) + f * (dirs[i * D_IN + d] as number);
      }
    }
  }
  return tf.tensor2d(out, [batch, D_IN]);
}

Deno.test("a registered architecture is listed, looked up, and named in the error for an unknown one", () => {
  assertEquals(saeArchitectureNames(), ["standard", "topk", "batchtopk", "jumprelu", "shifted_relu"]);
  assert(saeArchitecture("shifted_relu") === shiftedRelu, "lookup returns the registered spec");
  let msg = "";
  try {
    createSae(defaultSaeConfig({ architecture: "gated" }), 0);
  } catch (e) {
    msg = e instanceof SaeConfigError ? e.message : String(e);
  }
  assert(
    msg === 'SaeConfig.architecture: expected one of standard, topk, batchtopk, jumprelu, shifted_relu, got "gated"',
    msg,
  );
  let validated = "";
  try {
    createSae(defaultSaeConfig({ architecture: "shifted_relu", apply_b_dec_to_input: true }), 0);
  } catch (e) {
    validated = String(e);
  }
  assert(validated.includes("shifted_relu needs false"), `the spec's validate runs: ${validated}`);
});

Deno.test("registration refuses a taken name and a post-step update with no threshold to set", () => {
  const refused = (f: () => void, want: string) => {
    try {
      f();
    } catch (e) {
      assert(e instanceof SaeConfigError && e.message.includes(want), `${e}`);
      return;
    }
    throw new Error(`expected a SaeConfigError containing "${want}"`);
  };
  refused(() => registerSaeArchitecture(shiftedRelu), 'named "shifted_relu" is already registered');
  refused(
    () =>
      registerSaeArchitecture({
        ...shiftedRelu,
        name: "orphan_update",
        threshold: null,
        postStep: { statistic: (acts) => tf.max(acts, [1, 2]), apply: () => {} },
      }),
    "no threshold parameter",
  );
});

Deno.test("the toy architecture trains with the shared trainer: its shift is trained and the loss falls", async () => {
  const cfg = defaultSaeConfig({ d_in: D_IN, d_sae: D_SAE, n_inst: 2, architecture: "shifted_relu" });
  const sae = createSae(cfg, 5);
  assert(sae.params.threshold !== undefined, "the spec's threshold parameter exists");
  assert(sae.trainableVariables().includes(sae.params.threshold as tf.Variable), "and is trained");
  const before = sae.params.threshold?.dataSync().slice() as Float32Array;
  assert(before.every((v) => v === Math.fround(0.05)), "it starts at the spec's initial value");
  const t = defaultSaeTrainConfig({
    total_steps: 300,
    batch_size: 128,
    lr: 1e-2,
    l1_coefficient: 0.01,
    seed: 3,
    mse_loss: "sum",
  });
  const { history, state } = await trainSae(sae, t, (step) => sparseBatch(100 + step, 128), {
    initBatch: () => sparseBatch(7, 500),
    logEvery: 50,
  });
  state.adam.dispose();
  const first = history[0] as (typeof history)[number];
  const last = history.at(-1) as (typeof history)[number];
  for (let i = 0; i < 2; i++) {
    assert(Number.isFinite(last.loss[i] as number), `instance ${i}: finite loss`);
    // rule, fixed before running: the final loss is below half the loss at step 50 for both instances
    assert(
      (last.loss[i] as number) < 0.5 * (first.loss[i] as number),
      `instance ${i}: ${first.loss[i]} → ${last.loss[i]}`,
    );
    assert((last.sparsity[i] as number) > 0, `instance ${i}: the ℓ1 penalty is in the loss`);
  }
  const after = sae.params.threshold?.dataSync() as Float32Array;
  assert(maxAbsDiff(before, after) > 1e-3, `the shift moved (max change ${maxAbsDiff(before, after)})`);
  assert(after.every((v) => v > 0), "log-space Adam keeps the shift positive");
  sae.dispose();
});

Deno.test("the toy architecture round-trips through the SAELens format: its name, its threshold, the same outputs", async () => {
  const sae = createSae(
    defaultSaeConfig({ d_in: D_IN, d_sae: D_SAE, architecture: "shifted_relu", hook_name: "blocks.0.hook_resid_pre" }),
    9,
  );
  sae.params.threshold?.assign(tf.randomUniform([1, D_SAE], 0.01, 0.3, "float32", 4));
  const dir = await Deno.makeTempDir();
  try {
    await saveSaeLens(sae, dir);
    const written = JSON.parse(await Deno.readTextFile(`${dir}/cfg.json`));
    assertEquals(written.architecture, "shifted_relu");
    const back = await loadSaeLens(dir);
    assertEquals(back.sae.cfg.architecture, "shifted_relu");
    const x = sparseBatch(11, 64);
    const a = sae.encode(x);
    const b = back.sae.encode(x);
    const diff = maxAbsDiff(a.dataSync(), b.dataSync());
    assert(diff === 0, `activations after the round trip differ by ${diff}`);
    assert(a.dataSync().some((v) => v > 0) && a.dataSync().some((v) => v === 0), "some latents fire, some do not");
    tf.dispose([x, a, b]);
    back.sae.dispose();
  } finally {
    sae.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
