import { check, checkClose } from "../lib/check.ts";
import { Rng } from "../lib/engine/rng.ts";
import { ComposedFeatureData, datasetConfig } from "../lib/toy/data.ts";
import {
  AdamW,
  defaultToyTrainConfig,
  initToyModel,
  toyLossAndGrad,
  trainToyModel,
  trainToyModelRestarts,
} from "../lib/toy/model.ts";

Deno.test("toy-model gradients match central finite differences", () => {
  const data = new ComposedFeatureData(datasetConfig("D2"));
  const rng = new Rng(4, "grad");
  const model = initToyModel(4, 2, rng);
  rng.fillUniform(model.b, -0.2, 0.2);
  const n = 64;
  const x = data.sample(n, new Rng(4, "batch"));
  const imp = [1, 0.7, 0.5, 0.3];
  const gW = new Float64Array(8);
  const gb = new Float64Array(4);
  toyLossAndGrad(model, x, n, imp, gW, gb);
  const eps = 1e-6;
  const fd = (p: Float64Array, i: number) => {
    const keep = p[i]!;
    p[i] = keep + eps;
    const up = toyLossAndGrad(model, x, n, imp);
    p[i] = keep - eps;
    const down = toyLossAndGrad(model, x, n, imp);
    p[i] = keep;
    return (up - down) / (2 * eps);
  };
  for (let i = 0; i < 8; i++) checkClose(gW[i]!, fd(model.W, i), 1e-7, `dL/dW[${i}]`);
  for (let i = 0; i < 4; i++) checkClose(gb[i]!, fd(model.b, i), 1e-7, `dL/db[${i}]`);
});

Deno.test("AdamW applies decoupled weight decay as torch does", () => {
  const opt = new AdamW(1, 0.1, 0.5);
  const p = new Float64Array([2]);
  opt.step(p, new Float64Array([3]));
  // p·(1 − lr·wd) − lr · m̂/(√v̂ + ε) with m̂ = g, v̂ = g²
  checkClose(p[0]!, 2 * (1 - 0.05) - 0.1 * 3 / (3 + 1e-8), 1e-12, "first AdamW step");
});

Deno.test("the toy model learns the antipodal cross on D1 (cos(x1,x2) and cos(y1,y2) near −1, x ⟂ y)", () => {
  const data = new ComposedFeatureData(datasetConfig("D1"));
  const { model, losses } = trainToyModel(data, defaultToyTrainConfig({ steps: 3000, seed: 5 }));
  const W = model.W;
  const cos = (i: number, j: number) =>
    (W[2 * i]! * W[2 * j]! + W[2 * i + 1]! * W[2 * j + 1]!) /
    (Math.hypot(W[2 * i]!, W[2 * i + 1]!) * Math.hypot(W[2 * j]!, W[2 * j + 1]!));
  check(cos(0, 1) < -0.95, `cos(x1, x2) = ${cos(0, 1)}`);
  check(cos(2, 3) < -0.95, `cos(y1, y2) = ${cos(2, 3)}`);
  check(Math.abs(cos(0, 2)) < 0.1, `cos(x1, y1) = ${cos(0, 2)}`);
  check(losses[2999]! < 0.1 * losses[0]!, `loss fell from ${losses[0]} to ${losses[2999]}`);
});

Deno.test("toy training is deterministic for a seed", () => {
  const data = new ComposedFeatureData(datasetConfig("D3u"));
  const a = trainToyModel(data, defaultToyTrainConfig({ steps: 20, batch_size: 100, seed: 9 }));
  const b = trainToyModel(data, defaultToyTrainConfig({ steps: 20, batch_size: 100, seed: 9 }));
  check(a.model.W.every((v, i) => v === b.model.W[i]), "same seed, same weights");
  check(a.losses.every((v, i) => v === b.losses[i]), "same seed, same losses");
});

Deno.test("toy training rejects a bad config naming the field", () => {
  let msg = "";
  try {
    trainToyModel(new ComposedFeatureData(datasetConfig("D1")), defaultToyTrainConfig({ steps: 0 }));
  } catch (e) {
    msg = (e as Error).message;
  }
  check(msg.includes("ToyTrainConfig.steps"), msg);
});

Deno.test("restarts keep the lowest-loss toy model: on D3u seed 5 lands in the x–y antipodal local minimum, seed 6 in the cross", () => {
  const data = new ComposedFeatureData(datasetConfig("D3u"));
  const runs = trainToyModelRestarts(data, defaultToyTrainConfig({ seed: 5 }), 2);
  const cos = (W: Float64Array, i: number, j: number) =>
    (W[2 * i]! * W[2 * j]! + W[2 * i + 1]! * W[2 * j + 1]!) /
    (Math.hypot(W[2 * i]!, W[2 * i + 1]!) * Math.hypot(W[2 * j]!, W[2 * j + 1]!));
  const local = runs.restarts[0]!.result.model.W;
  check(Math.abs(cos(local, 0, 1)) < 0.1, `seed 5: x1 ⟂ x2 in the local minimum (cos ${cos(local, 0, 1)})`);
  check(runs.restarts[0]!.final_loss > 1e-3, `seed 5: final loss ${runs.restarts[0]!.final_loss}`);
  check(runs.bestIndex === 1, `the lower-loss restart is chosen (index ${runs.bestIndex})`);
  check(cos(runs.best.model.W, 0, 1) < -0.95, "the chosen model is the antipodal cross");
});
