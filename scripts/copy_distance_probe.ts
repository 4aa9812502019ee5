/**
 * Copying by segment length for one checkpoint (see
 * `lib/study_b/copy_distance.ts`): the induction test at segment lengths
 * 16–128 within the first 512 positions, and the mean cosine of positional
 * rows p and p + lag over positions 1–511. Appends one JSON line to `--out`.
 *
 * Flags: `--recipe NAME` and `--record FILE` (a pilot's checkpoint record
 * `lm-<step>.json`), or `--shipped` (the embedded default in `data/`);
 * `--label TEXT`, `--out FILE`, `--within N` (default 512: the positions
 * probed and the rows whose lag cosines are taken; below 512 for a checkpoint
 * trained only on shorter rows, with the lengths that fit twice).
 *
 * @example
 * ```ts
 * // deno run -A scripts/copy_distance_probe.ts --recipe wide-sin-doubling-dense \
 * //   --record ckpt/lm-0000000600.json --label "dense, step 600" --out data/embedded/copy_distance_probe.jsonl
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import type { Gpt2 } from "../lib/lm/gpt2.ts";
import {
  COPY_POSITIONS,
  COPY_SEGMENTS,
  copyDistance,
  type CopyDistanceProbe,
  copyVerdict,
  lagCosines,
} from "../lib/study_b/copy_distance.ts";
import { loadEmbedded } from "../lib/study_b/embedded.ts";
import { loadPilotCheckpoint, pilotRecipe } from "../lib/study_b/pilots.ts";
import { parseArgs } from "./train_cli.ts";

const args = parseArgs(Deno.args);
const out = String(args.get("out") ?? "copy_distance_probe.jsonl");
const LAGS = [1, 2, 32, 64, 100, 127, 128, 129, 256];

const within = Number(args.get("within") ?? COPY_POSITIONS);
if (!(Number.isSafeInteger(within) && within >= 100 && within <= COPY_POSITIONS)) {
  throw new Error(`--within: expected an integer in [100, ${COPY_POSITIONS}], got ${args.get("within")}`);
}
const [WPE_FROM, WPE_TO] = [1, within];

console.log((await initBackend()).summary);
let model: Gpt2, recipe: string, step: number;
if (args.has("shipped")) {
  const emb = await loadEmbedded();
  const lm = JSON.parse(await Deno.readTextFile("data/embedded/training/lm_record.json"));
  [model, recipe, step] = [emb.model, "shipped-v1", lm.history.at(-1).step];
} else {
  recipe = String(args.get("recipe") ?? "");
  ({ model, step } = await loadPilotCheckpoint(pilotRecipe(recipe), String(args.get("record") ?? "")));
}
try {
  const label = String(args.get("label") ?? `${recipe}, step ${step}`);
  const wpe = (model.params.get("wpe.weight") as tf.Variable).dataSync() as Float32Array;
  const line: CopyDistanceProbe = {
    label,
    recipe,
    step,
    by_segment: copyDistance(model, COPY_SEGMENTS.filter((L) => 2 * L <= within), within),
    wpe_lag_cosine: lagCosines(wpe, model.cfg.d_model, LAGS.filter((lag) => lag < WPE_TO - WPE_FROM), WPE_FROM, WPE_TO),
    wpe_from: WPE_FROM,
    wpe_to: WPE_TO,
  };
  await Deno.writeTextFile(out, JSON.stringify(line) + "\n", { append: true });
  const v = copyVerdict(line.by_segment, undefined, label);
  console.log(
    `${label}: ${v.verdict} (64-token gain ${v.gain64.toFixed(2)}, smallest aperiodic gain ${
      v.aperiodic_min.toFixed(2)
    })\n  gain by segment ${
      line.by_segment.map((r) => `${r.segment}:${r.gain.toFixed(2)}`).join(" ")
    }\n  wpe lag cosine ${line.wpe_lag_cosine.map((c) => `${c.lag}:${c.cosine.toFixed(2)}`).join(" ")}`,
  );
} finally {
  model.dispose();
}
