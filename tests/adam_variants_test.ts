/**
 * The SAE trainer's Adam (`lib/sae/adam.ts`) and the engine's fused update
 * (`lib/engine/kernels/adam.ts` `adamUpdate`) implement one formula and differ
 * only in rounding (see the note in `lib/sae/adam.ts`). Rule: after 50 steps
 * on the same gradients, with per-instance learning rates and ε = 1e-3 (large
 * enough that its placement matters), each parameter's displacement from its
 * start agrees to 3e-3 of the largest displacement of its instance. Measured:
 * rounding leaves at most 2.8e-5 (3.9e-4 in log space), while the same run with
 * ε = 1e-8 on one side gives 3.9e-2, so a change to either formula (ε value or
 * placement, bias correction, β handling) fails.
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { adamUpdate } from "../lib/engine/kernels/adam.ts";
import { Rng } from "../lib/engine/rng.ts";
import { AdamPerInstance } from "../lib/sae/adam.ts";
import { assert } from "./helpers.ts";

await initBackend();
const EPS = 1e-3;
const TOL = 3e-3;

for (const beta1 of [0, 0.9]) {
  for (const logSpace of [false, true]) {
    Deno.test(`AdamPerInstance and adamUpdate agree on every displacement (beta1 ${beta1}, log space ${logSpace})`, () => {
      const n = 4, P = 512, lr = [1e-4, 1e-3, 3e-3, 1e-2];
      const rng = new Rng(1, "adam-variants");
      const p0 = Float32Array.from({ length: n * P }, () => logSpace ? 0.5 + rng.uniform() : rng.normal());
      const before = tf.memory().numTensors;
      const wA = tf.tidy(() => tf.variable(tf.tensor2d(p0, [n, P])));
      const wB = tf.tidy(() => tf.variable(tf.tensor2d(p0, [n, P])));
      const adam = new AdamPerInstance([{ variable: wA, logSpace }], { beta1, beta2: 0.999, epsilon: EPS });
      let m: tf.Tensor | null = beta1 > 0 ? tf.zerosLike(wB) : null;
      let v: tf.Tensor = tf.zerosLike(wB);
      for (let step = 1; step <= 50; step++) {
        const g = tf.tensor2d(Float32Array.from({ length: n * P }, () => rng.normal() * 0.1), [n, P]);
        adam.apply(new Map([[wA.name, g]]), lr);
        ({ m, v } = adamUpdate({
          variable: wB,
          grad: g,
          m,
          v,
          lr,
          beta1,
          beta2: 0.999,
          epsilon: EPS,
          step,
          logSpace,
        }));
        g.dispose();
      }
      const a = wA.dataSync(), b = wB.dataSync();
      let worst = 0, moved = 0;
      for (let r = 0; r < n; r++) {
        let scale = 0;
        for (let i = r * P; i < (r + 1) * P; i++) scale = Math.max(scale, Math.abs(b[i]! - p0[i]!));
        for (let i = r * P; i < (r + 1) * P; i++) {
          worst = Math.max(worst, Math.abs((a[i]! - p0[i]!) - (b[i]! - p0[i]!)) / scale);
          if (a[i] !== p0[i]) moved++;
        }
      }
      adam.dispose();
      tf.dispose([wA, wB, v, ...(m ? [m] : [])]);
      assert(moved === a.length, `every parameter moves in 50 steps (${moved} of ${a.length} did)`);
      assert(worst <= TOL, `displacements differ by ${worst.toExponential(2)} of the largest, above ${TOL}`);
      assert(tf.memory().numTensors === before, `${tf.memory().numTensors - before} tensors leaked`);
    });
  }
}
