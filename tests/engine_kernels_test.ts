/**
 * The wasm kernel overrides (matmul in every transpose and batch form, fused
 * matmul, UnsortedSegmentSum) and the broadcasting matmul gradient, checked
 * against tfjs's cpu backend (the reference implementation) and against the
 * stock wasm kernels, in both the native-BLAS and the pure-wasm mode.
 */

import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { installEngineKernels, uninstallEngineKernels } from "../lib/engine/kernels/install.ts";
import { broadcastBatchIndex } from "../lib/engine/kernels/kernel_util.ts";
import { blasStatus } from "../lib/engine/blas_ffi.ts";
import { adamUpdate, fusedAdam } from "../lib/engine/kernels/adam.ts";
import { Rng } from "../lib/engine/rng.ts";

await initBackend();

/** Relative tolerance for float32 products with inner dimension ≤ 64 (sums of ≤ 64 terms). */
const RTOL = 1e-5;
const ATOL = 1e-5;

function randn(rng: Rng, shape: number[]): { values: Float32Array; shape: number[] } {
  const n = shape.reduce((p, d) => p * d, 1);
  return { values: rng.fillNormal(new Float32Array(n)), shape };
}

type Arr = { values: Float32Array | Int32Array; shape: number[]; dtype?: "float32" | "int32" };

function t(a: Arr): tf.Tensor {
  return tf.tensor(a.values, a.shape, a.dtype ?? (a.values instanceof Int32Array ? "int32" : "float32"));
}

/** Runs `fn` on `backend` and returns its outputs' values and shapes. */
async function runOn(
  backend: "cpu" | "wasm",
  fn: () => tf.Tensor | tf.Tensor[],
): Promise<{ values: Float32Array; shape: number[] }[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(() => {
    const r = fn();
    return Array.isArray(r) ? r : [r];
  });
  const res = outs.map((o) => ({ values: Float32Array.from(o.dataSync()), shape: o.shape }));
  tf.dispose(outs);
  await tf.setBackend("wasm");
  return res;
}

function assertClose(
  actual: { values: Float32Array; shape: number[] },
  expected: { values: Float32Array; shape: number[] },
  what: string,
  rtol = RTOL,
  atol = ATOL,
): void {
  if (actual.shape.join(",") !== expected.shape.join(",")) {
    throw new Error(`${what}: shape [${actual.shape}] != expected [${expected.shape}]`);
  }
  let scale = 0;
  for (const v of expected.values) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < expected.values.length; i++) {
    const a = actual.values[i]!, e = expected.values[i]!;
    if (!(Math.abs(a - e) <= atol + rtol * Math.max(Math.abs(e), scale))) {
      throw new Error(`${what}: element ${i} is ${a}, expected ${e} (rtol ${rtol}, atol ${atol})`);
    }
  }
}

/** Compares `fn` on wasm (with the overrides in `mode`) against the cpu backend. */
async function compareWithCpu(
  mode: { blas: boolean },
  what: string,
  fn: () => tf.Tensor | tf.Tensor[],
  rtol = RTOL,
  atol = ATOL,
): Promise<void> {
  installEngineKernels(mode);
  const want = await runOn("cpu", fn);
  const got = await runOn("wasm", fn);
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} outputs, expected ${want.length}`);
  got.forEach((g, i) => assertClose(g, want[i]!, `${what} [blas=${mode.blas}] output ${i}`, rtol, atol));
}

const MODES = blasStatus().available ? [{ blas: true }, { blas: false }] : [{ blas: false }];
const TRANSPOSES: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];

/** Stored shape of an operand given its logical [rows, cols] and a transpose flag. */
function stored(batch: number[], rows: number, cols: number, transpose: boolean): number[] {
  return transpose ? [...batch, cols, rows] : [...batch, rows, cols];
}

Deno.test("matMul matches the cpu backend in all four transpose forms, 2-D and batched", async () => {
  const rng = new Rng(1, "matmul forms");
  for (const mode of MODES) {
    for (const [ta, tb] of TRANSPOSES) {
      for (const batch of [[], [3], [2, 2]]) {
        const a = randn(rng, stored(batch, 37, 53, ta));
        const b = randn(rng, stored(batch, 53, 29, tb));
        await compareWithCpu(mode, `matMul [${batch}] ta=${ta} tb=${tb}`, () => tf.matMul(t(a), t(b), ta, tb));
      }
    }
  }
});

Deno.test("matMul broadcasts batch dimensions like tfjs (size-1 and missing batch dims)", async () => {
  const rng = new Rng(2, "matmul broadcast");
  // Cases the cpu reference handles directly (one side's batch is 1 or missing).
  const cases: [number[], number[]][] = [[[4, 5, 6], [6, 3]], [[5, 6], [4, 6, 3]], [[1, 5, 6], [4, 6, 3]], [
    [3, 2, 5, 6],
    [6, 7],
  ]];
  for (const mode of MODES) {
    for (const [as, bs] of cases) {
      for (const [ta, tb] of TRANSPOSES) {
        const sa = [...as], sb = [...bs];
        if (ta) [sa[sa.length - 2], sa[sa.length - 1]] = [sa[sa.length - 1]!, sa[sa.length - 2]!];
        if (tb) [sb[sb.length - 2], sb[sb.length - 1]] = [sb[sb.length - 1]!, sb[sb.length - 2]!];
        const a = randn(rng, sa), b = randn(rng, sb);
        await compareWithCpu(mode, `matMul [${sa}]@[${sb}] ta=${ta} tb=${tb}`, () => tf.matMul(t(a), t(b), ta, tb));
      }
    }
    // General broadcast [2,1] × [1,3]: the reference tiles both operands first.
    const a = randn(rng, [2, 1, 5, 6]), b = randn(rng, [1, 3, 6, 4]);
    installEngineKernels(mode);
    const got = await runOn("wasm", () => tf.matMul(t(a), t(b)));
    const want = await runOn("cpu", () => tf.matMul(tf.tile(t(a), [1, 3, 1, 1]), tf.tile(t(b), [2, 1, 1, 1])));
    assertClose(got[0]!, want[0]!, `matMul [2,1,5,6]@[1,3,6,4] blas=${mode.blas}`);
  }
});

Deno.test("matMul with an empty inner dimension gives zeros and an empty output gives an empty tensor", async () => {
  for (const mode of MODES) {
    installEngineKernels(mode);
    const z = await runOn("wasm", () => tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 4])));
    assertClose(z[0]!, { values: new Float32Array(12), shape: [3, 4] }, `k=0 blas=${mode.blas}`);
    const e = await runOn("wasm", () => tf.matMul(tf.zeros([0, 5]), tf.ones([5, 4])));
    if (e[0]!.shape.join(",") !== "0,4") throw new Error(`empty output shape [${e[0]!.shape}]`);
  }
});

Deno.test("matMul rejects mismatched inner dimensions with both shapes in the message", () => {
  installEngineKernels({ blas: MODES[0]!.blas });
  let message = "";
  try {
    tf.matMul(tf.ones([2, 3]), tf.ones([4, 5]));
  } catch (err) {
    message = String(err);
  }
  if (!message.includes("2,3") || !message.includes("4,5")) throw new Error(`unexpected error: "${message}"`);
});

Deno.test("patched matMul matches the stock wasm kernel in every transpose form", async () => {
  const rng = new Rng(3, "matmul stock");
  for (const mode of MODES) {
    for (const [ta, tb] of TRANSPOSES) {
      const a = randn(rng, stored([2], 33, 40, ta)), b = randn(rng, stored([2], 40, 17, tb));
      uninstallEngineKernels();
      const want = await runOn("wasm", () => tf.matMul(t(a), t(b), ta, tb));
      installEngineKernels(mode);
      const got = await runOn("wasm", () => tf.matMul(t(a), t(b), ta, tb));
      assertClose(got[0]!, want[0]!, `stock vs patched ta=${ta} tb=${tb} blas=${mode.blas}`);
    }
  }
});

Deno.test("fused matMul with bias and each activation matches the cpu backend", async () => {
  const rng = new Rng(4, "fused");
  const activations = ["linear", "relu", "relu6", "elu", "sigmoid", "leakyrelu", "prelu"] as const;
  for (const mode of MODES) {
    for (const [ta, tb] of TRANSPOSES) {
      for (const activation of activations) {
        const a = randn(rng, stored([2], 9, 12, ta)), b = randn(rng, stored([2], 12, 7, tb));
        const bias = randn(rng, [7]), alpha = randn(rng, [7]);
        await compareWithCpu(mode, `fused ${activation} ta=${ta} tb=${tb}`, () =>
          tf.fused.matMul({
            a: t(a) as tf.Tensor3D,
            b: t(b) as tf.Tensor3D,
            transposeA: ta,
            transposeB: tb,
            bias: t(bias),
            activation,
            preluActivationWeights: activation === "prelu" ? t(alpha) : undefined,
            leakyreluAlpha: 0.1,
          }));
      }
    }
  }
});

Deno.test("matMul gradients match the cpu backend in all transpose forms", async () => {
  const rng = new Rng(5, "matmul grads");
  for (const mode of MODES) {
    for (const [ta, tb] of TRANSPOSES) {
      const a = randn(rng, stored([3], 21, 18, ta)), b = randn(rng, stored([3], 18, 11, tb));
      const w = randn(rng, [3, 21, 11]);
      await compareWithCpu(mode, `matMul grads ta=${ta} tb=${tb}`, () => {
        const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, ta, tb), t(w)));
        return tf.grads(f)([t(a), t(b)]);
      });
    }
  }
});

Deno.test("matMul gradient sums over broadcast batch dimensions ([B,T,d] @ [d,n] and friends)", async () => {
  const rng = new Rng(6, "broadcast grads");
  const cases: [number[], number[], boolean, boolean][] = [
    [[4, 5, 6], [6, 3], false, false],
    [[4, 5, 6], [3, 6], false, true],
    [[5, 6], [4, 6, 3], false, false],
    [[2, 1, 5, 6], [3, 6, 4], false, false],
    [[4, 6, 5], [6, 3], true, false],
  ];
  for (const mode of MODES) {
    for (const [as, bs, ta, tb] of cases) {
      const a = randn(rng, as), b = randn(rng, bs);
      installEngineKernels(mode);
      const got = await runOn("wasm", () => {
        const out = tf.matMul(t(a), t(b), ta, tb);
        const w = tf.tensor(randn(new Rng(7, "w"), out.shape).values, out.shape);
        return tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, ta, tb), w)))([t(a), t(b)]);
      });
      // Reference: the same product with both operands explicitly broadcast to the output batch (cpu),
      // gradients summed back over the broadcast dimensions by tile's own gradient.
      const want = await runOn("cpu", () => {
        const outBatch = broadcastBatchIndex(as.slice(0, -2), bs.slice(0, -2)).outShape;
        const expand = (x: tf.Tensor): tf.Tensor => {
          const r = outBatch.length + 2;
          const x2 = tf.reshape(x, [...Array(r - x.rank).fill(1), ...x.shape]);
          const reps = x2.shape.map((d, i) => (i < outBatch.length && d === 1 ? outBatch[i]! : 1));
          return tf.tile(x2, reps);
        };
        const out = tf.matMul(expand(t(a)), expand(t(b)), ta, tb);
        const w = tf.tensor(randn(new Rng(7, "w"), out.shape).values, out.shape);
        return tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(expand(x), expand(y), ta, tb), w)))(
          [t(a), t(b)],
        );
      });
      got.forEach((g, i) => assertClose(g, want[i]!, `broadcast grad ${i} [${as}]@[${bs}] blas=${mode.blas}`));
    }
  }
});

Deno.test("unsortedSegmentSum on wasm matches the cpu backend with repeated, out-of-order and negative ids", async () => {
  const rng = new Rng(8, "segments");
  const x = randn(rng, [9, 4, 3]);
  const ids: Arr = { values: new Int32Array([5, 0, 5, 2, -1, 0, 7, 5, 2]), shape: [9] };
  await compareWithCpu(
    { blas: false },
    "segment sum rank-1 ids",
    () => tf.unsortedSegmentSum(t(x), t(ids) as tf.Tensor1D, 8),
  );
  const xi: Arr = { values: new Int32Array([1, 2, 3, 4, 5, 6]), shape: [6] };
  const ids2: Arr = { values: new Int32Array([2, 2, 0, 1, 0, 2]), shape: [6] };
  await compareWithCpu(
    { blas: false },
    "segment sum int32",
    () => tf.unsortedSegmentSum(t(xi), t(ids2) as tf.Tensor1D, 4),
  );
});

Deno.test("unsortedSegmentSum on wasm names an out-of-range segment id", () => {
  installEngineKernels({ blas: false });
  let message = "";
  try {
    tf.unsortedSegmentSum(tf.ones([3, 2]), tf.tensor1d([0, 3, 1], "int32"), 3).dataSync();
  } catch (err) {
    message = String(err);
  }
  if (!message.includes("segment id 3") || !message.includes("[0, 3)")) throw new Error(`unexpected: "${message}"`);
});

Deno.test("embedding gradient (gather of [vocab, d] by int32 [batch, pos]) matches one-hot matmul and the cpu backend", async () => {
  const rng = new Rng(9, "embedding");
  const vocab = 50, d = 8, batch = 3, pos = 7;
  const table = randn(rng, [vocab, d]);
  const idx = new Int32Array(batch * pos);
  for (let i = 0; i < idx.length; i++) idx[i] = rng.int(vocab);
  idx[0] = idx[1] = idx[5] = 13; // repeated ids accumulate
  const ids: Arr = { values: idx, shape: [batch, pos] };
  const w = randn(rng, [batch, pos, d]);
  const gatherLoss = (e: tf.Tensor) => tf.sum(tf.mul(tf.gather(e, t(ids)), t(w)));
  await compareWithCpu({ blas: MODES[0]!.blas }, "embedding grad vs cpu", () => tf.grad(gatherLoss)(t(table)));
  installEngineKernels({ blas: MODES[0]!.blas });
  const got = await runOn("wasm", () => tf.grad(gatherLoss)(t(table)));
  const viaOneHot = await runOn("wasm", () =>
    tf.grad((e: tf.Tensor) => {
      const oneHot = tf.oneHot(tf.reshape(t(ids), [batch * pos]), vocab); // [batch·pos, vocab]
      return tf.sum(tf.mul(tf.reshape(tf.matMul(oneHot, e), [batch, pos, d]), t(w)));
    })(t(table)));
  assertClose(got[0]!, viaOneHot[0]!, "embedding grad vs one-hot matmul");
});

Deno.test("kernel overrides leak no tensors across repeated gradient steps", async () => {
  for (const mode of MODES) {
    installEngineKernels(mode);
    await tf.setBackend("wasm");
    const emb = tf.variable(tf.randomNormal([20, 6], 0, 1, "float32", 1));
    const w = tf.variable(tf.randomNormal([6, 5], 0, 1, "float32", 2));
    const ids = tf.tensor2d([[1, 2, 3], [3, 2, 19]], [2, 3], "int32");
    const opt = tf.train.adam(1e-2);
    const step = () =>
      tf.tidy(() => {
        opt.minimize(() => {
          const h = tf.gather(emb, ids); // [batch, pos, d]
          const y = tf.fused.matMul({ a: tf.reshape(h, [6, 6]), b: w, transposeB: false, activation: "relu" });
          return tf.sum(tf.square(tf.sub(tf.matMul(h, w), tf.reshape(y, [2, 3, 5])))).add(tf.sum(tf.square(w)));
        });
      });
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step();
    const after = tf.memory().numTensors;
    const dataBefore = tf.backend().numDataIds();
    step();
    const dataAfter = tf.backend().numDataIds();
    tf.dispose([emb, w, ids]);
    opt.dispose();
    if (after !== before) throw new Error(`tensor count grew from ${before} to ${after} (blas=${mode.blas})`);
    if (dataAfter !== dataBefore) throw new Error(`backend buffers grew from ${dataBefore} to ${dataAfter}`);
  }
});

Deno.test("sum, mean, max and min over any axes match the cpu backend (keepDims, negative axes)", async () => {
  const rng = new Rng(12, "reduce");
  const x = randn(rng, [3, 6, 5, 7]);
  const axesList: (number | number[])[] = [0, 1, 2, 3, -1, -3, [0, 1], [1, 2], [2, 1], [0, 1, 2], [1, 3], [0, 2], [
    0,
    1,
    2,
    3,
  ]];
  for (const mode of MODES) {
    for (const axis of axesList) {
      for (const keepDims of [false, true]) {
        await compareWithCpu(mode, `reductions axis=${JSON.stringify(axis)} keepDims=${keepDims}`, () => [
          tf.sum(t(x), axis, keepDims),
          tf.mean(t(x), axis, keepDims),
          tf.max(t(x), axis, keepDims),
          tf.min(t(x), axis, keepDims),
        ]);
      }
    }
  }
  // a size-1 leading dimension before the reduced axis (the SAE trainer's [n_inst = 1, batch, d_sae])
  const y = randn(rng, [1, 9, 4]);
  await compareWithCpu(MODES[0]!, "reductions [1,9,4] axis 1", () => [tf.sum(t(y), 1), tf.max(t(y), 1)]);
});

Deno.test("max over a middle axis propagates NaN like the stock kernel", async () => {
  installEngineKernels();
  for (const data of [[1, 2, NaN, 4, 5, 6], [NaN, 2, 1, 4, 5, 6]]) {
    const got = await runOn("wasm", () => tf.max(tf.tensor3d(data, [1, 3, 2]), 1));
    if (!Number.isNaN(got[0]!.values[0]) || got[0]!.values[1] !== 6) throw new Error(`got ${got[0]!.values}`);
  }
});

Deno.test("fused Adam matches tf.train.adam over several steps: wasm (each matmul path, stock kernels) and cpu", async () => {
  const rng = new Rng(13, "adam");
  const w0 = randn(rng, [17, 9]), b0 = randn(rng, [9]), x = randn(rng, [5, 17]);
  // The stock wasm matmul caches packed weights by tensor id: an optimiser that changed a parameter in
  // place would train on stale weights there, so that configuration is part of the check.
  const configs: { label: string; backend: "wasm" | "cpu"; setup: () => void }[] = [
    ...MODES.map((mode) => ({
      label: `wasm blas=${mode.blas}`,
      backend: "wasm" as const,
      setup: () => installEngineKernels(mode),
    })),
    { label: "wasm stock kernels", backend: "wasm", setup: () => uninstallEngineKernels() },
    { label: "cpu", backend: "cpu", setup: () => installEngineKernels() },
  ];
  for (const cfg of configs) {
    cfg.setup();
    const run = (make: () => tf.Optimizer) =>
      runOn(cfg.backend, () => {
        const w = tf.variable(t(w0)), b = tf.variable(t(b0));
        const opt = make();
        for (let i = 0; i < 6; i++) {
          // A smooth loss: Adam's normalised step amplifies float noise in near-zero gradients (ReLU kinks).
          tf.tidy(() =>
            void opt.minimize(() => tf.sum(tf.square(tf.sub(tf.add(tf.matMul(t(x), w), b), 1))) as tf.Scalar)
          );
        }
        const out = [tf.clone(w), tf.clone(b)];
        opt.dispose();
        tf.dispose([w, b]);
        return out;
      });
    const want = await run(() => tf.train.adam(0.01, 0.9, 0.999, 1e-7));
    const got = await run(() => fusedAdam(0.01, 0.9, 0.999, 1e-7));
    got.forEach((g, i) => assertClose(g, want[i]!, `fused Adam param ${i} (${cfg.label})`, 1e-5, 1e-6));
  }
  installEngineKernels();
});

Deno.test("adamUpdate with per-instance rates, β1 = 0 and log-space matches a float64 reference on wasm and cpu", async () => {
  const rng = new Rng(14, "adam update");
  const shape = [3, 4, 5];
  const n = 60;
  const p0 = randn(rng, shape), steps = [randn(rng, shape), randn(rng, shape), randn(rng, shape)];
  const pos = { values: p0.values.map((x) => Math.abs(x) + 0.5), shape }; // log-space needs p > 0
  const lr = [1e-2, 3e-2, 1e-1];
  for (const [beta1, logSpace] of [[0, false], [0.9, false], [0, true], [0.9, true]] as const) {
    // float64 reference of torch's rule
    const p = Float64Array.from(logSpace ? pos.values : p0.values), m = new Float64Array(n), v = new Float64Array(n);
    steps.forEach((gArr, s) => {
      const t1 = s + 1, c1 = 1 - beta1 ** t1, c2 = 1 - 0.999 ** t1;
      for (let i = 0; i < n; i++) {
        const g = logSpace ? gArr.values[i]! * p[i]! : gArr.values[i]!;
        m[i] = beta1 > 0 ? beta1 * m[i]! + (1 - beta1) * g : g;
        v[i] = 0.999 * v[i]! + 0.001 * g * g;
        const d = (lr[Math.floor(i / 20)]! / c1) * m[i]! / (Math.sqrt(v[i]!) / Math.sqrt(c2) + 1e-8);
        p[i] = logSpace ? p[i]! * Math.exp(-d) : p[i]! - d;
      }
    });
    for (const backend of ["wasm", "cpu"] as const) {
      installEngineKernels();
      const got = await runOn(backend, () => {
        const w = tf.variable(t(logSpace ? pos : p0));
        let mt: tf.Tensor | null = beta1 > 0 ? tf.zerosLike(w) : null, vt: tf.Tensor = tf.zerosLike(w);
        steps.forEach((g, s) => {
          const r = adamUpdate({
            variable: w,
            grad: t(g),
            m: mt,
            v: vt,
            lr,
            beta1,
            beta2: 0.999,
            epsilon: 1e-8,
            step: s + 1,
            logSpace,
          });
          mt = r.m;
          vt = r.v;
        });
        const out = tf.clone(w);
        tf.dispose([w, vt, ...(mt ? [mt] : [])]);
        return out;
      });
      assertClose(
        got[0]!,
        { values: Float32Array.from(p), shape },
        `adamUpdate β1=${beta1} log=${logSpace} ${backend}`,
      );
    }
  }
});

Deno.test("tanh on wasm matches the cpu backend within 2e-7 absolute, saturation and gradient included", async () => {
  const rng = new Rng(15, "tanh");
  const x = randn(rng, [4, 257]);
  for (let i = 0; i < x.values.length; i++) x.values[i] = x.values[i]! * (i % 3 === 0 ? 10 : 1); // saturated entries too
  x.values[0] = 0;
  x.values[1] = 1e-6;
  x.values[2] = -30;
  await compareWithCpu(MODES[0]!, "tanh", () => tf.tanh(t(x)), 0, 2e-7);
  await compareWithCpu(MODES[0]!, "tanh grad", () => tf.grad((v: tf.Tensor) => tf.sum(tf.tanh(v)))(t(x)), 0, 5e-7);
});

Deno.test("tf.clone on wasm shares memory, survives disposing either side and frees the data at the end", async () => {
  installEngineKernels();
  await tf.setBackend("wasm");
  const ids = () => tf.backend().numDataIds();
  const before = ids();
  const a = tf.tensor1d([1, 2, 3]);
  const b = tf.clone(a);
  a.dispose();
  const values = Array.from(b.dataSync());
  const c = tf.clone(b);
  b.dispose();
  const valuesC = Array.from(c.dataSync());
  c.dispose();
  if (values.join() !== "1,2,3" || valuesC.join() !== "1,2,3") throw new Error(`got ${values} and ${valuesC}`);
  if (ids() !== before) throw new Error(`backend data ids ${before} → ${ids()}: memory not freed`);
});

Deno.test("adamUpdate copies a moment that another tensor shares before writing it", async () => {
  installEngineKernels();
  await tf.setBackend("wasm");
  const w = tf.variable(tf.ones([4]));
  const v = tf.zerosLike(w);
  const snapshot = tf.clone(v); // shares v's memory
  const r = adamUpdate({
    variable: w,
    grad: tf.onesLike(w),
    m: null,
    v,
    lr: 0.1,
    beta1: 0,
    beta2: 0.999,
    epsilon: 1e-8,
    step: 1,
  });
  const snap = Array.from(snapshot.dataSync()), vNew = Array.from(r.v.dataSync());
  tf.dispose([w, r.v, snapshot]);
  if (snap.some((x) => x !== 0)) throw new Error(`the shared snapshot changed: ${snap}`);
  if (vNew.some((x) => Math.abs(x - 0.001) > 1e-9)) throw new Error(`second moment ${vNew}, expected 0.001`);
});

Deno.test("fused Adam never changes a tensor that shares memory with the variable", async () => {
  await tf.setBackend("wasm");
  const init = tf.ones([4]);
  const w = tf.variable(init); // shares memory with `init`
  const opt = fusedAdam(0.1);
  opt.minimize(() => tf.sum(w) as tf.Scalar);
  const kept = Array.from(init.dataSync()), moved = Array.from(w.dataSync());
  tf.dispose([init, w]);
  opt.dispose();
  if (kept.some((v) => v !== 1)) throw new Error(`the initial tensor changed: ${kept}`);
  if (moved.some((v) => Math.abs(v - 0.9) > 1e-6)) throw new Error(`expected 0.9 after one step, got ${moved}`);
});

Deno.test("fused Adam keeps its state across tf.tidy scopes, leaks no tensors and rejects a bad learning rate", async () => {
  await tf.setBackend("wasm");
  const w = tf.variable(tf.randomNormal([8, 8], 0, 1, "float32", 3));
  const opt = fusedAdam(1e-2);
  // inside tf.tidy, as training loops do: the optimiser state must survive the scope
  const step = () => tf.tidy(() => void opt.minimize(() => tf.sum(tf.square(w)) as tf.Scalar));
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 4; i++) step();
  const after = tf.memory().numTensors;
  opt.dispose();
  w.dispose();
  if (after !== before) throw new Error(`tensor count grew from ${before} to ${after}`);
  let message = "";
  try {
    fusedAdam(Number.NaN);
  } catch (err) {
    message = String(err);
  }
  if (!message.includes("learningRate")) throw new Error(`unexpected: "${message}"`);
});

Deno.test("initBackend reports the matmul path and installs the overrides", async () => {
  const report = await initBackend();
  if (report.tfjsName !== "wasm") return; // the overrides are wasm-only
  if (!report.summary.includes("matmul")) throw new Error(`summary lacks the matmul path: ${report.summary}`);
  const expect = blasStatus().available ? "openblas-ffi" : "wasm";
  if (!report.matmul.startsWith(expect)) throw new Error(`matmul path "${report.matmul}", expected ${expect}…`);
});
