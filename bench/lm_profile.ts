/**
 * Where the time of one language-model training step goes: wraps every
 * registered wasm kernel with a timer and reads the fused ops' timers
 * (`lib/engine/kernels/fused_ops.ts` `setFusedOpTimer`), runs one warm-up
 * step and one timed step of `trainStep` on random tokens, and prints the
 * wall time per kernel / fused op, grouped, with the rest (JS, autodiff,
 * allocation) as the remainder.
 *
 * Usage: `deno run -A bench/lm_profile.ts [--d-model 128] [--heads 4] [--layers 4] [--vocab 8192] [--ctx 1024]
 * [--rows 8] [--micro 8]`; `SAE_FUSED=off` profiles the plain tfjs path.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { fusedAdam } from "../lib/engine/kernels/adam.ts";
import { setFusedOpTimer } from "../lib/engine/kernels/fused_ops.ts";
import { Rng } from "../lib/engine/rng.ts";
import { defaultGpt2Config } from "../lib/lm/config.ts";
import { Gpt2 } from "../lib/lm/gpt2.ts";
import { defaultLmTrainConfig, trainStep } from "../lib/lm/train.ts";
import { lmTrainFlops } from "./lm_train_row.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(Deno.args[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name}: expected a positive integer, got ${Deno.args[i + 1]}`);
  return v;
}

const report = await initBackend();
const d = arg("d-model", 128), H = arg("heads", 4), L = arg("layers", 4), V = arg("vocab", 8192), T = arg("ctx", 1024);
const rowsN = arg("rows", 8), micro = arg("micro", 8);
const times = new Map<string, { ms: number; n: number }>();
const add = (key: string, ms: number) => {
  const e = times.get(key) ?? { ms: 0, n: 0 };
  e.ms += ms;
  e.n++;
  times.set(key, e);
};
for (const k of tf.getKernelsForBackend(tf.getBackend())) {
  const f = k.kernelFunc;
  tf.unregisterKernel(k.kernelName, k.backendName);
  tf.registerKernel({
    ...k,
    kernelFunc: (args) => {
      const t = performance.now();
      const out = f(args);
      const shapes = Deno.env.get("SHAPES")
        ? " " + Object.values(args.inputs).map((x) => `[${x?.shape}]`).join("x")
        : "";
      add(`kernel ${k.kernelName}${shapes}`, performance.now() - t);
      return out;
    },
  });
}
setFusedOpTimer((name, ms) => add(`fused ${name}`, ms));
const model = Gpt2.random(defaultGpt2Config({ n_layer: L, d_model: d, n_head: H, n_ctx: T, d_vocab: V }), 0);
const cfg = defaultLmTrainConfig({ n_ctx: T, batch_rows: rowsN, micro_batch_rows: micro });
const opt = fusedAdam(cfg.lr, cfg.adam_beta1, cfg.adam_beta2, cfg.adam_epsilon);
const rng = new Rng(0, "bench/lm_profile");
const rows = Array.from({ length: rowsN }, () => Int32Array.from({ length: T + 1 }, () => rng.int(V)));
trainStep(model, opt, rows, cfg, cfg.lr);
times.clear();
const t0 = performance.now();
trainStep(model, opt, rows, cfg, cfg.lr);
const total = performance.now() - t0;
const flops = lmTrainFlops({ n_layer: L, d_model: d, n_ctx: T, d_vocab: V }, rowsN * T);
const load = await Deno.readTextFile("/proc/loadavg").then((s) => s.split(" ")[0]).catch(() => "?");
console.log(`${report.summary}`);
console.log(
  `step: ${L} layers, d_model ${d}, ${H} heads, vocab ${V}, ${rowsN} rows × ${T} in micro-batches of ${micro}: ` +
    `${total.toFixed(0)} ms, ${(flops / total / 1e6).toFixed(1)} GFLOP/s (load average ${load})`,
);
let listed = 0;
console.log("| part | ms | share | calls |\n| --- | ---: | ---: | ---: |");
for (const [k, v] of [...times].sort((a, b) => b[1].ms - a[1].ms)) {
  if (v.ms < 0.005 * total) continue;
  listed += v.ms;
  console.log(`| ${k} | ${v.ms.toFixed(0)} | ${(100 * v.ms / total).toFixed(1)}% | ${v.n} |`);
}
const rest = total - [...times.values()].reduce((s, v) => s + v.ms, 0);
console.log(
  `| other (JS, autodiff bookkeeping, small kernels) | ${(total - listed).toFixed(0)} | ${
    (100 * (total - listed) / total).toFixed(1)
  }% | |`,
);
if (rest < 0) console.log("(kernels called inside fused ops are counted twice)");
opt.dispose();
model.dispose();
