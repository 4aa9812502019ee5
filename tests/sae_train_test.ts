import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { Rng } from "../lib/engine/rng.ts";
import {
  createSae,
  createTrainState,
  defaultSaeConfig,
  defaultSaeTrainConfig,
  disposeTrainState,
  geometricLogSteps,
  monosemanticity,
  type Sae,
  SaeDivergenceError,
  type SaeTrainConfig,
  trainSae,
  trainStep,
} from "../lib/sae/mod.ts";

await initBackend();

const D = 2;
const S = 4;
function batches(seed: number) {
  const rng = new Rng(seed, "sae-batches");
  return (_step: number) => tf.tensor3d(rng.fillUniform(new Float32Array(128 * D), -1, 1), [1, 128, D]);
}

async function run(n: number, steps: number, t: Partial<SaeTrainConfig> = {}, seed = 1): Promise<Sae> {
  const sae = createSae(defaultSaeConfig({ d_in: D, d_sae: S, n_inst: n }), seed);
  const src = batches(seed);
  const cfg = defaultSaeTrainConfig({ total_steps: steps, batch_size: 128, lr: 3e-3, ...t });
  const r = await trainSae(sae, cfg, src, { initBatch: () => src(-1), logEvery: steps });
  disposeTrainState(r.state);
  return sae;
}

Deno.test("same seed → identical parameters after N steps; another seed differs", async () => {
  const a = (await run(3, 40)).toArrays();
  const b = (await run(3, 40)).toArrays();
  const c = (await run(3, 40, {}, 2)).toArrays();
  for (const k of Object.keys(a)) {
    if (a[k]!.data.some((v, i) => v !== b[k]!.data[i])) throw new Error(`${k} differs between identical runs`);
  }
  if (a.W_dec!.data.every((v, i) => v === c.W_dec!.data[i])) throw new Error("different seeds gave identical decoders");
});

Deno.test("training steps leak no tensors (tf.memory().numTensors flat across steps, all architectures)", () => {
  for (const architecture of ["standard", "topk", "batchtopk", "jumprelu"] as const) {
    const sae = createSae(defaultSaeConfig({ d_in: D, d_sae: S, n_inst: 3, architecture, k: 2 }), 0);
    const state = createTrainState(
      sae,
      defaultSaeTrainConfig({ total_steps: 30, dead_feature_window: 2, aux_k_coefficient: 0.1 }),
    );
    const src = batches(0);
    const counts: number[] = [];
    for (let s = 0; s < 12; s++) {
      const x = src(s);
      trainStep(sae, state, x, { metrics: s % 3 === 0 });
      x.dispose();
      counts.push(tf.memory().numTensors);
    }
    if (new Set(counts.slice(2)).size !== 1) throw new Error(`${architecture}: tensor counts ${counts}`);
    disposeTrainState(state);
    sae.dispose();
  }
});

Deno.test("the ghost term appears only for instances with dead latents, and dead latents lose their ℓ1 weight", () => {
  const sae = createSae(defaultSaeConfig({ d_in: D, d_sae: S, n_inst: 2 }), 0);
  // kill latent 0 of instance 1: a large negative encoder bias means it never fires
  const b = sae.params.b_enc.arraySync() as number[][];
  b[1]![0] = -100;
  sae.params.b_enc.assign(tf.tensor2d(b));
  const state = createTrainState(sae, defaultSaeTrainConfig({ total_steps: 20, dead_feature_window: 3, lr: 1e-4 }));
  const src = batches(3);
  let seenGhost = false;
  for (let s = 0; s < 8; s++) {
    const x = src(s);
    const r = trainStep(sae, state, x);
    x.dispose();
    // dead after not firing for more than 3 steps: the counter is 4 before step index 4
    const expectDead = s >= 4 ? 1 : 0;
    if (r.dead[1] !== expectDead || r.dead[0] !== 0) throw new Error(`step ${s}: dead counts ${r.dead}`);
    if (r.ghost[0] !== 0) throw new Error(`instance 0 has no dead latents but ghost = ${r.ghost[0]}`);
    if (expectDead ? !(r.ghost[1]! > 0) : r.ghost[1] !== 0) throw new Error(`step ${s}: ghost ${r.ghost}`);
    seenGhost ||= r.ghost[1]! > 0;
  }
  if (!seenGhost) throw new Error("no ghost term was ever applied");
  // the dead latent's cool-down counter is at its maximum
  if (state.cooldown[S] !== 1000) throw new Error(`cool-down counter ${state.cooldown[S]}`);
  disposeTrainState(state);
  sae.dispose();
});

Deno.test("divergence guard: a NaN batch stops training naming step and instance, parameters unchanged", () => {
  const sae = createSae(defaultSaeConfig({ d_in: D, d_sae: S, n_inst: 2 }), 0);
  const state = createTrainState(sae, defaultSaeTrainConfig({ total_steps: 10 }));
  const good = batches(1)(0);
  trainStep(sae, state, good);
  const before = sae.toArrays();
  const badData = new Float32Array(2 * 8 * D).fill(0.5);
  badData[8 * D + 3] = NaN; // instance 1 only
  const bad = tf.tensor3d(badData, [2, 8, D]);
  let err: unknown = null;
  try {
    trainStep(sae, state, bad);
  } catch (e) {
    err = e;
  }
  if (!(err instanceof SaeDivergenceError) || err.step !== 2 || err.instance !== 1) {
    throw new Error(`expected SaeDivergenceError at step 2 instance 1, got ${err}`);
  }
  const after = sae.toArrays();
  for (const k of Object.keys(before)) {
    if (before[k]!.data.some((v, i) => v !== after[k]!.data[i])) throw new Error(`${k} changed by the failed step`);
  }
  if (state.step !== 1) throw new Error(`state.step ${state.step}`);
  tf.dispose([good, bad]);
  disposeTrainState(state);
  sae.dispose();
});

Deno.test("trainSae initialises b_dec at the geometric median of the init batch, the same for all instances", async () => {
  const sae = createSae(defaultSaeConfig({ d_in: D, d_sae: S, n_inst: 3 }), 0);
  const pts = tf.tensor2d([[0, 0], [1, 1], [2, 2], [3, 3], [100, 100]]);
  const r = await trainSae(sae, defaultSaeTrainConfig({ total_steps: 1, lr: 0 }), batches(0), {
    initBatch: () => pts.clone(),
  });
  const b = sae.params.b_dec.arraySync() as number[][];
  for (const row of b) if (Math.abs(row[0]! - 2) > 1e-3 || Math.abs(row[1]! - 2) > 1e-3) throw new Error(`b_dec ${b}`);
  disposeTrainState(r.state);
  let msg = "";
  try {
    await trainSae(sae, defaultSaeTrainConfig({ total_steps: 1 }), batches(0));
  } catch (e) {
    msg = (e as Error).message;
  }
  if (!msg.includes("initBatch")) throw new Error(`expected a message about initBatch, got "${msg}"`);
});

Deno.test("log steps follow the study's geometric cadence (every step to 50, then 51, 53, 55 …, plus the last)", () => {
  const steps = geometricLogSteps(100);
  const head = Array.from({ length: 50 }, (_, i) => i + 1);
  if (JSON.stringify(steps.slice(0, 53)) !== JSON.stringify([...head, 51, 53, 55])) {
    throw new Error(`${steps.slice(45, 56)}`);
  }
  if (steps.at(-1) !== 100) throw new Error("last step must be logged");
});

Deno.test("history rows carry per-instance metrics and training reduces the loss", async () => {
  const sae = createSae(defaultSaeConfig({ d_in: D, d_sae: S, n_inst: 2 }), 0);
  const src = batches(5);
  const r = await trainSae(sae, defaultSaeTrainConfig({ total_steps: 200, lr: [1e-2, 3e-3] }), src, {
    initBatch: () => src(-1),
  });
  const first = r.history[0]!;
  const last = r.history.at(-1)!;
  if (last.step !== 200 || first.step !== 1) throw new Error(`steps ${first.step} … ${last.step}`);
  for (const key of ["loss", "mse", "l1", "l0", "strong_l0", "explained_variance", "dead_fraction"] as const) {
    if (last[key].length !== 2 || last[key].some((v) => !Number.isFinite(v))) throw new Error(`${key}: ${last[key]}`);
  }
  if (!(last.loss[0]! < first.loss[0]!)) throw new Error(`loss ${first.loss[0]} → ${last.loss[0]}`);
  disposeTrainState(r.state);
  sae.dispose();
});

Deno.test("a run resumed from a checkpoint ends with the same parameters as an uninterrupted run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cfg = defaultSaeTrainConfig({ total_steps: 30, lr: 3e-3, dead_feature_window: 5 });
    const straight = createSae(defaultSaeConfig({ d_in: D, d_sae: S, n_inst: 2 }), 4);
    const src = () => batches(9);
    let s1 = src();
    const r1 = await trainSae(straight, cfg, (s) => s1(s), { initBatch: () => s1(-1) });
    disposeTrainState(r1.state);

    const resumed = createSae(defaultSaeConfig({ d_in: D, d_sae: S, n_inst: 2 }), 4);
    s1 = src();
    const stop = new AbortController();
    const r2 = await trainSae(resumed, cfg, (s) => {
      if (s === 19) stop.abort();
      return s1(s);
    }, { initBatch: () => s1(-1), checkpoint: { dir, every: 10 }, signal: stop.signal });
    disposeTrainState(r2.state);
    if (!r2.aborted) throw new Error("the first leg should have been aborted");
    // second leg: new process state, same batch stream positions
    const again = createSae(defaultSaeConfig({ d_in: D, d_sae: S, n_inst: 2 }), 99);
    s1 = src();
    for (let s = -1; s < 20; s++) s1(s).dispose(); // advance the stream past what the first leg consumed
    const r3 = await trainSae(again, cfg, (s) => s1(s), { checkpoint: { dir, every: 10 } });
    disposeTrainState(r3.state);
    const a = straight.toArrays();
    const b = again.toArrays();
    for (const k of Object.keys(a)) {
      const diff = Math.max(...a[k]!.data.map((v, i) => Math.abs(v - b[k]!.data[i]!)));
      if (diff !== 0) throw new Error(`${k} differs after resuming by ${diff}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("monosemanticity metric: 1 for one-feature latents, 1/n_features for uniform ones, 0 for dead", () => {
  const m = monosemanticity(tf.tensor3d([[[2, 0, 0], [0, 3, 0]], [[1, 1, 0], [1, 1, 0]]]));
  const want = [2 / 3, (0.5 + 0.5) / 3];
  if (m.some((v, i) => Math.abs(v - want[i]!) > 1e-6)) throw new Error(`monosemanticity ${m}`);
});
