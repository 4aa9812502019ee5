/**
 * Copying across the whole context of one LM checkpoint of a pilot: the
 * induction rows of the pilot probe (a random 64-token segment of mid-vocabulary
 * ids, repeated), but filling all n_ctx positions instead of at most the
 * trained row length, so the repeats at positions 512–1023 show whether copying
 * learned on short rows works at positions the model has not trained on yet.
 * Appends one JSON line `{label, recipe, step, segment, loss_by_repeat,
 * gain_early, gain_late, wpe}` to `--out`: `gain_early` is the first
 * occurrence's loss minus the mean over the repeats before position n_ctx/2,
 * `gain_late` the same over the repeats from n_ctx/2 on; `wpe` describes the
 * positional embeddings before and from n_ctx/2 (mean row norm, mean cosine
 * of neighbouring rows: how distinct adjacent positions are).
 *
 * Flags: `--recipe NAME` (a pilot recipe; its model shape and vocabulary),
 * `--record FILE` (a checkpoint record `lm-<step>.json` of that pilot),
 * `--label TEXT`, `--out FILE`.
 *
 * @example
 * ```ts
 * // deno run -A scripts/long_copy_probe.ts --recipe wide-sin-doubling-dense \
 * //   --record ckpt/lm-0000000600.json --label "dense at the switch" --out data/embedded/long_copy_probe.jsonl
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { inductionScore, pilotInductionIds } from "../lib/study_b/embedded_report.ts";
import { loadPilotCheckpoint, pilotRecipe } from "../lib/study_b/pilots.ts";
import { parseArgs } from "./train_cli.ts";

const args = parseArgs(Deno.args);
const name = String(args.get("recipe") ?? "");
const recipe = pilotRecipe(name);
const record = String(args.get("record") ?? "");
const out = String(args.get("out") ?? "long_copy_probe.jsonl");
const label = String(args.get("label") ?? name);

console.log((await initBackend()).summary);
const { model, step } = await loadPilotCheckpoint(recipe, record);
try {
  const V = model.cfg.d_vocab, T = model.cfg.n_ctx, L = 64;
  // the pilot probe's ids and seed
  const s = inductionScore(model, { segment: L, positions: T, ids: pilotInductionIds(V) });
  const half = T / 2 / L;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = s.loss_by_repeat[0] as number;
  const w = (model.params.get("wpe.weight") as tf.Variable).dataSync() as Float32Array, d = model.cfg.d_model;
  const row = (i: number) => w.subarray(i * d, (i + 1) * d);
  const dot = (a: Float32Array, b: Float32Array) => a.reduce((acc, x, k) => acc + x * (b[k] as number), 0);
  const stats = (from: number, to: number) => {
    let norm = 0, cos = 0;
    for (let i = from; i < to; i++) {
      const a = row(i), b = row(i + 1 < T ? i + 1 : i - 1);
      norm += Math.sqrt(dot(a, a));
      cos += dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
    }
    return { mean_norm: norm / (to - from), mean_neighbour_cosine: cos / (to - from) };
  };
  const line = {
    label,
    recipe: name,
    step,
    segment: L,
    loss_by_repeat: s.loss_by_repeat,
    gain_early: first - mean(s.loss_by_repeat.slice(1, half)),
    gain_late: first - mean(s.loss_by_repeat.slice(half)),
    wpe: { before: stats(1, T / 2), from: stats(T / 2, T) },
  };
  await Deno.writeTextFile(out, JSON.stringify(line) + "\n", { append: true });
  console.log(
    `${label} step ${line.step}: gain before ${T / 2} ${line.gain_early.toFixed(2)}, from ${T / 2} on ${
      line.gain_late.toFixed(2)
    }; wpe norm ${line.wpe.before.mean_norm.toFixed(3)} / ${line.wpe.from.mean_norm.toFixed(3)}, neighbour cosine ${
      line.wpe.before.mean_neighbour_cosine.toFixed(3)
    } / ${line.wpe.from.mean_neighbour_cosine.toFixed(3)}; by repeat ${
      s.loss_by_repeat.map((v) => v.toFixed(2)).join(" ")
    }`,
  );
} finally {
  model.dispose();
}
