import { check, checkClose } from "../lib/check.ts";
import { Rng } from "../lib/engine/rng.ts";
import { defaultSaeConfig, defaultSaeTrainConfig } from "../lib/sae/config.ts";
import { FusedSmallSae } from "../lib/toy/fused_state.ts";

interface Frozen {
  /** ghost rescale s_b (detached) */
  sc: Float64Array;
  /** ghost loss factor k_b = mse_b/(1e-6 + m_b) (detached) */
  k: Float64Array;
}

/**
 * Reference loss of one instance written directly from study A §6.4/§6.6, with the
 * detached factors either computed (frozen === null, returned) or held fixed.
 */
function referenceLoss(
  p: Float64Array,
  dIn: number,
  dSae: number,
  h: Float64Array,
  batch: number,
  lam: number,
  c: number[],
  dead: boolean[],
  frozen: Frozen | null,
): { loss: number; frozen: Frozen } {
  const oWe = 0, obe = dIn * dSae, oWd = obe + dSae, obd = oWd + dSae * dIn;
  const out: Frozen = { sc: new Float64Array(batch), k: new Float64Array(batch) };
  let total = 0;
  for (let b = 0; b < batch; b++) {
    const x = Array.from({ length: dIn }, (_, d) => h[b * dIn + d]!);
    const xn = Math.hypot(...x) || 1;
    const pre = Array.from(
      { length: dSae },
      (_, j) => p[obe + j]! + x.reduce((s, xd, d) => s + xd * p[oWe + d * dSae + j]!, 0),
    );
    const a = pre.map((v) => Math.max(v, 0));
    const xh = x.map((_, d) => p[obd + d]! + a.reduce((s, aj, j) => s + aj * p[oWd + j * dIn + d]!, 0));
    const mse = xh.reduce((s, v, d) => s + ((v - x[d]!) / xn) ** 2, 0);
    const l1 = lam * a.reduce((s, aj, j) => s + Math.abs(c[j]! * aj), 0);
    let ghost = 0;
    if (dead.some((v) => v)) {
      const r = x.map((xd, d) => (xd - xh[d]!) / xn);
      const g = x.map((_, d) => pre.reduce((s, pj, j) => s + (dead[j] ? Math.exp(pj) * p[oWd + j * dIn + d]! : 0), 0));
      const sc = frozen ? frozen.sc[b]! : Math.hypot(...r) / (1e-6 + 2 * Math.hypot(...g));
      const m = r.reduce((s, rd, d) => s + (rd - sc * g[d]!) ** 2, 0);
      const k = frozen ? frozen.k[b]! : mse / (1e-6 + m);
      out.sc[b] = sc;
      out.k[b] = k;
      ghost = m * k;
    }
    total += mse + l1 + ghost;
  }
  return { loss: total / batch, frozen: out };
}

function makeSae(nInst: number, seed: number, kernel: "auto" | "generic" = "auto"): FusedSmallSae {
  const sae = new FusedSmallSae(
    defaultSaeConfig({ n_inst: nInst, d_in: 2, d_sae: 4 }),
    // the linear ℓ1 cool-down shape, so the finite-difference test also covers a fractional weight (c = 0.5)
    defaultSaeTrainConfig({
      lr: 1e-3,
      l1_coefficient: [0.3, 0.05, 1.0].slice(0, nInst),
      loss_instance_divisor: 1,
      l1_cooldown_shape: "linear",
    }),
    kernel,
  );
  const rng = new Rng(seed, "sae/init");
  const bound = Math.sqrt(6 / 8);
  sae.setParams({
    W_enc: rng.fillUniform(new Float64Array(nInst * 8), -bound, bound),
    b_enc: rng.fillUniform(new Float64Array(nInst * 4), -0.2, 0.4),
    W_dec: rng.fillUniform(new Float64Array(nInst * 8), -bound, bound),
    b_dec: rng.fillUniform(new Float64Array(nInst * 2), -0.1, 0.1),
  });
  return sae;
}

for (const kernel of ["auto", "generic"] as const) {
  Deno.test(`fused SAE gradients (MSE, ℓ1 cooldown weights, ghost term, decoder projection) match finite differences (${kernel} loop)`, () => {
    const nInst = 3;
    const sae = makeSae(nInst, 2, kernel);
    const batch = 16;
    const h = new Rng(3, "h").fillUniform(new Float64Array(batch * 2), -1, 1);
    // force dead latents (ghost grads active) in instances 0 and 2, and a latent in its ℓ1 cooldown ramp
    sae.sinceFired[0 * 4 + 1] = 401;
    sae.sinceFired[0 * 4 + 3] = 401;
    sae.sinceFired[2 * 4 + 0] = 401;
    sae.cooldown[1 * 4 + 2] = 501; // instance 1, latent 2: c = 1 − 500/1000 after this step's decrement
    const before = Float64Array.from(sae.params);
    // the kernel normalises decoder rows first; do the same to the reference parameters
    const ref = makeSae(nInst, 2);
    ref.normalizeDecoder();
    const grads = new Float64Array(nInst * sae.P);
    sae.step(h, batch, 0, grads); // lr multiplier 0: parameters stay, the gradient is reported
    for (let k = 0; k < before.length; k++) {
      // only decoder rows may differ from `before` (normalisation); lr 0 leaves the rest
      check(Number.isFinite(sae.params[k]!), `param ${k} finite`);
    }
    check(sae.last.dead[0] === 2 && sae.last.dead[1] === 0 && sae.last.dead[2] === 1, `dead counts ${sae.last.dead}`);
    check(sae.last.ghost[0]! > 0 && sae.last.ghost[1] === 0, `ghost losses ${sae.last.ghost}`);
    const cooldowns = [[1, 0, 1, 0], [1, 1, 0.5, 1], [0, 1, 1, 1]];
    const deads = [[false, true, false, true], [false, false, false, false], [true, false, false, false]];
    const P = sae.P;
    for (let i = 0; i < nInst; i++) {
      const p = ref.params.slice(i * P, (i + 1) * P);
      const lam = sae.l1[i]!;
      const base = referenceLoss(p, 2, 4, h, batch, lam, cooldowns[i]!, deads[i]!, null);
      checkClose(base.loss, sae.last.mse[i]! + sae.last.l1[i]! + sae.last.ghost[i]!, 1e-12, `instance ${i} loss`);
      const fd = new Float64Array(P);
      const eps = 1e-6;
      for (let k = 0; k < P; k++) {
        const keep = p[k]!;
        p[k] = keep + eps;
        const up = referenceLoss(p, 2, 4, h, batch, lam, cooldowns[i]!, deads[i]!, base.frozen).loss;
        p[k] = keep - eps;
        const down = referenceLoss(p, 2, 4, h, batch, lam, cooldowns[i]!, deads[i]!, base.frozen).loss;
        p[k] = keep;
        fd[k] = (up - down) / (2 * eps);
      }
      // project decoder-row gradients onto the tangent space of the unit row
      for (let j = 0; j < 4; j++) {
        const o = sae.oWd + j * 2;
        const dot = fd[o]! * p[o]! + fd[o + 1]! * p[o + 1]!;
        fd[o] = fd[o]! - dot * p[o]!;
        fd[o + 1] = fd[o + 1]! - dot * p[o + 1]!;
      }
      for (let k = 0; k < P; k++) checkClose(grads[i * P + k]!, fd[k]!, 1e-6, `instance ${i} gradient[${k}]`);
    }
  });
}

Deno.test("the unrolled 2×4 loop and the generic loop agree over 800 steps with dead latents", () => {
  const fast = makeSae(3, 5, "auto");
  const slow = makeSae(3, 5, "generic");
  // kill latent 0 of instance 0 (cannot fire on positive inputs) so ghost grads run after step 401
  for (const s of [fast, slow]) {
    s.params[s.oWe + 0] = -1;
    s.params[s.oWe + 4] = -1;
    s.params[s.obe + 0] = -3;
  }
  const rng = new Rng(9, "h");
  const h = new Float64Array(2 * 128);
  let sawGhost = false;
  for (let t = 0; t < 800; t++) {
    rng.fillUniform(h, 0.05, 1);
    fast.step(h, 128, 1);
    slow.step(h, 128, 1);
    sawGhost ||= fast.last.dead[0]! > 0;
  }
  check(sawGhost, "the ghost path ran");
  for (let k = 0; k < fast.params.length; k++) {
    checkClose(fast.params[k]!, slow.params[k]!, 1e-9, `parameter ${k}`);
  }
});

Deno.test("fused SAE instances are independent: a subset trained alone matches the same instances trained together", () => {
  const all = makeSae(3, 7);
  const one = new FusedSmallSae(
    defaultSaeConfig({ n_inst: 1, d_in: 2, d_sae: 4 }),
    defaultSaeTrainConfig({ lr: 1e-3, l1_coefficient: all.l1[1]!, loss_instance_divisor: 1 }),
  );
  one.params.set(all.params.subarray(all.P, 2 * all.P));
  const rng = new Rng(1, "h");
  const h = new Float64Array(2 * 256);
  for (let s = 0; s < 600; s++) {
    rng.fillUniform(h, -1, 1);
    all.step(h, 256, 1);
    one.step(h, 256, 1);
  }
  for (let k = 0; k < one.P; k++) check(one.params[k] === all.params[all.P + k], `parameter ${k} identical`);
});

Deno.test("a latent that never fires becomes dead after more than 400 steps and gets ghost gradients", () => {
  const sae = makeSae(1, 3);
  // make latent 0 unable to fire on positive inputs: encoder column negative, bias very negative
  sae.params[sae.oWe + 0] = -1;
  sae.params[sae.oWe + 4] = -1;
  sae.params[sae.obe + 0] = -50;
  for (let j = 1; j < 4; j++) sae.params[sae.obe + j] = 5; // the other latents always fire
  const h = new Rng(2, "h").fillUniform(new Float64Array(2 * 64), 0.1, 1);
  const deadNow = (): number => sae.last.dead[0]!;
  for (let s = 0; s < 401; s++) sae.step(h, 64, 0);
  check(deadNow() === 0, `not dead at step 401 (window is "more than 400"), got ${deadNow()}`);
  sae.step(h, 64, 0);
  check(deadNow() === 1, `dead at step 402, got ${deadNow()}`);
  check(sae.last.ghost[0]! > 0, "ghost term active");
});

Deno.test("fused SAE rejects a wrong number of per-instance learning rates, naming the field", () => {
  let msg = "";
  try {
    new FusedSmallSae(defaultSaeConfig({ n_inst: 3 }), defaultSaeTrainConfig({ lr: [1e-3, 2e-3] }));
  } catch (e) {
    msg = (e as Error).message;
  }
  check(msg.includes("SaeTrainConfig.lr") && msg.includes("3"), msg);
});

Deno.test("fused SAE refuses architectures it does not implement", () => {
  let msg = "";
  try {
    new FusedSmallSae(defaultSaeConfig({ architecture: "topk", k: 1 }), defaultSaeTrainConfig());
  } catch (e) {
    msg = (e as Error).message;
  }
  check(msg.includes("SaeConfig.architecture"), msg);
});

Deno.test("trainFusedSmall gives identical numbers in this thread, with one worker and with two workers", async () => {
  const { trainFusedSmall } = await import("../lib/toy/fused_small.ts");
  const { datasetConfig } = await import("../lib/toy/data.ts");
  const { initToyModel } = await import("../lib/toy/model.ts");
  const cfg = defaultSaeConfig({ n_inst: 5, d_in: 2, d_sae: 4 });
  const train = defaultSaeTrainConfig({
    total_steps: 300,
    batch_size: 128,
    lr: [3e-3, 1e-3, 3e-4, 1e-4, 3e-3],
    l1_coefficient: [0.01, 0.1, 0.3, 1, 0.03],
  });
  const rng = new Rng(1, "init");
  const init = {
    W_enc: rng.fillUniform(new Float64Array(40), -0.8, 0.8),
    b_enc: new Float64Array(20),
    W_dec: rng.fillUniform(new Float64Array(40), -0.8, 0.8),
    b_dec: new Float64Array(10),
  };
  const toy = initToyModel(4, 2, new Rng(0, "toy/init"));
  const source = { kind: "toy" as const, data: datasetConfig("D2"), toy, seed: 3, stream: "sae/batches" };
  const a = await trainFusedSmall(cfg, train, init, source, { workers: 0, logEvery: 50 });
  const b = await trainFusedSmall(cfg, train, init, source, { workers: 1, logEvery: 50 });
  const c = await trainFusedSmall(cfg, train, init, source, { workers: 2, logEvery: 50 });
  for (const r of [b, c]) {
    for (const k of ["W_enc", "b_enc", "W_dec", "b_dec"] as const) {
      check(r.params[k].every((v, i) => v === a.params[k][i]), `${k} identical with ${r.workers} worker(s)`);
    }
    check(r.log.mse.every((v, i) => v === a.log.mse[i]), `logged MSE identical with ${r.workers} worker(s)`);
  }
  check(a.log.steps.join() === "50,100,150,200,250,300", `log steps ${a.log.steps}`);
});

Deno.test("trainFusedSmall with group_size: each group of instances trains on its own stream, independent of workers", async () => {
  const { trainFusedSmall } = await import("../lib/toy/fused_small.ts");
  const { datasetConfig } = await import("../lib/toy/data.ts");
  const { initToyModel } = await import("../lib/toy/model.ts");
  const train = defaultSaeTrainConfig({
    total_steps: 200,
    batch_size: 64,
    lr: 3e-3,
    l1_coefficient: 0.1,
    loss_instance_divisor: 1,
  });
  const rng = new Rng(2, "init");
  const one = {
    W_enc: rng.fillUniform(new Float64Array(8), -0.8, 0.8),
    b_enc: new Float64Array(4),
    W_dec: rng.fillUniform(new Float64Array(8), -0.8, 0.8),
    b_dec: new Float64Array(2),
  };
  // four identical instances in two groups of two
  const four = {
    W_enc: Float64Array.from({ length: 32 }, (_, k) => one.W_enc[k % 8]!),
    b_enc: new Float64Array(16),
    W_dec: Float64Array.from({ length: 32 }, (_, k) => one.W_dec[k % 8]!),
    b_dec: new Float64Array(8),
  };
  const toy = initToyModel(4, 2, new Rng(0, "toy/init"));
  const base = { kind: "toy" as const, data: datasetConfig("D1"), toy, seed: 5, stream: "sae/batches" };
  const cfg4 = defaultSaeConfig({ n_inst: 4, d_in: 2, d_sae: 4 });
  const grouped = { ...base, group_size: 2 };
  const a = await trainFusedSmall(cfg4, train, four, grouped, { workers: 0 });
  const b = await trainFusedSmall(cfg4, train, four, grouped, { workers: 2 });
  check(a.params.W_dec.every((v, i) => v === b.params.W_dec[i]), "grouped W_dec identical with 0 and 2 workers");
  const same = (i: number, j: number) =>
    a.params.W_dec.slice(8 * i, 8 * i + 8).every((v, k) => v === a.params.W_dec[8 * j + k]);
  check(same(0, 1) && same(2, 3), "instances of one group (same init, same stream) end identical");
  check(!same(0, 2), "instances of different groups (same init) end different: their streams differ");
  // group 1 equals a lone instance trained on stream "sae/batches/group1"
  const cfg1 = defaultSaeConfig({ n_inst: 1, d_in: 2, d_sae: 4 });
  const lone = await trainFusedSmall(cfg1, train, one, {
    ...base,
    stream: "sae/batches/group1",
  }, { workers: 0 });
  check(lone.params.W_dec.every((v, k) => v === a.params.W_dec[16 + k]), "group 1 = a lone run on its stream");
});

Deno.test("fused kernel matches the core trainer (lib/sae/train.ts) over 60 steps from identical parameters and batches, with ghost grads active", async () => {
  const tf = await import("@tensorflow/tfjs");
  const { initBackend } = await import("../lib/engine/backend.ts");
  const { createSae } = await import("../lib/sae/sae.ts");
  const { createTrainState, disposeTrainState, trainStep } = await import("../lib/sae/train.ts");
  await initBackend();
  const nInst = 5;
  const cfg = defaultSaeConfig({ n_inst: nInst, d_in: 2, d_sae: 4 });
  const train = defaultSaeTrainConfig({
    total_steps: 60,
    batch_size: 256,
    lr: [3e-3, 1e-3, 3e-3, 3e-4, 1e-3],
    l1_coefficient: [0.01, 0.1, 0.3, 1, 0.03],
  });
  const sae = createSae(cfg, 4);
  // b_dec as the trainer's geometric-median init would set it (any common value works for parity)
  const bDec = tf.tensor2d(new Float32Array(Array.from({ length: nInst * 2 }, (_, k) => (k % 2 ? -0.05 : 0.04))), [
    nInst,
    2,
  ]);
  sae.params.b_dec.assign(bDec);
  bDec.dispose();
  const arrays = sae.toArrays();
  const fused = new FusedSmallSae(cfg, train);
  fused.setParams({
    W_enc: arrays.W_enc!.data,
    b_enc: arrays.b_enc!.data,
    W_dec: arrays.W_dec!.data,
    b_dec: arrays.b_dec!.data,
  });
  const state = createTrainState(sae, train);
  // force dead latents so the ghost term and the ℓ1 cooldown run from the first step
  for (const k of [0 * 4 + 1, 2 * 4 + 0, 2 * 4 + 3, 4 * 4 + 2]) {
    state.stepsSinceFired[k] = 401;
    fused.sinceFired[k] = 401;
  }
  const rng = new Rng(8, "parity/batches");
  const { lrMultiplier, scheduleLengths } = await import("../lib/sae/schedule.ts");
  const lengths = scheduleLengths(60, 0.1, 0.2);
  let ghostSteps = 0;
  for (let s = 0; s < 60; s++) {
    const h32 = rng.fillUniform(new Float32Array(256 * 2), -1, 1);
    const x = tf.tensor3d(h32, [1, 256, 2]);
    const r = trainStep(sae, state, x);
    x.dispose();
    fused.step(Float64Array.from(h32), 256, lrMultiplier(s, 60, lengths));
    if (r.ghost.some((g) => g > 0)) ghostSteps++;
    for (let i = 0; i < nInst; i++) {
      checkClose(fused.last.mse[i]!, r.mse[i]!, 1e-4 * Math.max(1, r.mse[i]!), `step ${s + 1} instance ${i} MSE`);
      checkClose(
        fused.last.ghost[i]!,
        r.ghost[i]!,
        1e-4 * Math.max(1, r.ghost[i]!),
        `step ${s + 1} instance ${i} ghost`,
      );
      check(fused.last.dead[i] === r.dead[i], `step ${s + 1} instance ${i} dead ${fused.last.dead[i]} vs ${r.dead[i]}`);
    }
  }
  check(ghostSteps > 0, "ghost term was active");
  const out = fused.getParams();
  const core = sae.toArrays();
  // tolerance 1e-5: float32 (tfjs) vs float64 (fused) arithmetic. Measured: max |Δ| = 2.4e-7 (W_enc, W_dec)
  // and 3e-8 (biases) after 60 steps, i.e. float32 rounding of values near 1
  for (const k of ["W_enc", "b_enc", "W_dec", "b_dec"] as const) {
    const a = out[k];
    const b = core[k]!.data;
    for (let q = 0; q < a.length; q++) checkClose(a[q]!, b[q]!, 1e-5, `${k}[${q}] after 60 steps`);
  }
  disposeTrainState(state);
  sae.dispose();
});
