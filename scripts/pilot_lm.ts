/**
 * Runs one recipe pilot of the embedded default (see `lib/study_b/pilots.ts`):
 * trains in stretches of `eval_every` steps and appends one curve point per
 * stretch to `<dir>/<name>/curve.jsonl`. Resumable: run it again and it
 * continues from the newest checkpoint in `<dir>/<name>/ckpt/`, skipping points
 * already written.
 *
 * Flags: `--recipe NAME` (one of `PILOT_RECIPES`), `--dir DIR` (default
 * `.scratch/pilots`), `--until-step N` (stop after step N; default the
 * recipe's total_steps).
 *
 * Two more modes: `--reference` measures the shipped model in `data/` the
 * same way (one point, at its training tokens) into `<dir>/shipped-v1/`;
 * `--export FILE` collects every pilot's recipe and curve under `<dir>` into
 * one JSON file (`data/embedded/pilots.json`, read by notebook 09); with
 * `--merge`, the pilots already in FILE whose folders are not under `<dir>`
 * are kept as they are (pilot folders do not outlive a session); `--also
 * NAME=FILE` (repeatable) adds the points of a longer run of pilot NAME's
 * recipe, such as the embedded default's own `curve.jsonl`.
 *
 * @example
 * ```ts
 * // nice -n 5 deno run -A scripts/pilot_lm.ts --recipe copy > .scratch/pilots/copy.log 2>&1 &
 * ```
 *
 * @module
 */

import { initBackend } from "../lib/engine/backend.ts";
import { embeddedLmData, loadEmbedded, randomEmbeddedModel, splitDocs } from "../lib/study_b/embedded.ts";
import { bitsPerByte } from "../lib/study_b/embedded_report.ts";
import type { LmRecord } from "../lib/study_b/embedded.ts";
import { pilotRecipe, probePoint, spreadValidationRows } from "../lib/study_b/pilots.ts";
import { pointAfterTraining, readCurve } from "../lib/study_b/context_probe.ts";
import { trainLm } from "../lib/lm/train.ts";
import { join } from "../lib/path.ts";
import { parseArgs } from "./train_cli.ts";

const args = parseArgs(Deno.args);
/** Every value of a repeatable flag (`parseArgs` keeps the last; this reads them all). */
const stringArgs = (name: string): string[] =>
  Deno.args.flatMap((v, i) => (Deno.args[i - 1] === `--${name}` ? [v] : []));
const root = String(args.get("dir") ?? ".scratch/pilots");

if (args.has("export")) {
  const out = String(args.get("export"));
  const pilots: unknown[] = [];
  const folders = [...Deno.readDirSync(root)].filter((e) => e.isDirectory).map((e) => e.name).sort();
  for (const entry of folders) {
    const curve = await readCurve(join(root, entry, "curve.jsonl"));
    // --also NAME=FILE: points of a longer run of the same recipe (the embedded default's own curve) join NAME's curve
    const also = stringArgs("also").filter((v) => v.startsWith(`${entry}=`)).map((v) => v.slice(entry.length + 1));
    for (const file of also) {
      for (const q of await readCurve(file)) if (!curve.some((c) => c.step === q.step)) curve.push(q);
    }
    if (curve.length === 0) continue;
    const recipe = JSON.parse(await Deno.readTextFile(join(root, entry, "recipe.json")));
    pilots.push({ ...recipe, curve: curve.sort((a, b) => a.step - b.step) });
  }
  if (args.has("merge")) {
    // pilots measured in earlier sessions, whose folders are gone, stay as they are in FILE
    const before = JSON.parse(await Deno.readTextFile(out)) as { format: string; pilots: { name: string }[] };
    if (before.format !== "pilots/1") throw new Error(`${out}: format: expected "pilots/1", got ${before.format}`);
    const kept = before.pilots.filter((p) => !folders.includes(p.name));
    pilots.push(...kept);
    (pilots as { name: string }[]).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    console.log(`kept ${kept.length} pilots of ${out} without a folder under ${root}`);
  }
  await Deno.writeTextFile(out, JSON.stringify({ format: "pilots/1", pilots }, null, 1) + "\n");
  console.log(`wrote ${pilots.length} pilots to ${out}`);
  Deno.exit(0);
}

console.log((await initBackend()).summary);

if (args.has("reference")) {
  // the shipped model, measured as a pilot point at its training tokens
  const emb = await loadEmbedded();
  const lm = JSON.parse(await Deno.readTextFile("data/embedded/training/lm_record.json")) as LmRecord;
  const cfg = lm.config;
  const { data } = await embeddedLmData(cfg);
  const rows = spreadValidationRows(data.validation, data.bos, cfg.lm.n_ctx, 24);
  const last = lm.history.at(-1)!;
  const point = probePoint(emb.model, rows, cfg.lm.n_ctx, {
    step: last.step,
    tokens: last.tokens,
    train_seconds: lm.train_seconds,
    train_loss: lm.final_train_loss,
  });
  // validation bits per byte of the shipped model on the pooled validation text (every full row)
  const { docs: gptDocs } = await splitDocs(cfg.lm_corpora, "validation");
  const bpb = bitsPerByte(emb.model, emb.tokenMap, gptDocs, cfg.lm.n_ctx);
  console.log(`shipped-v1 bits per byte: ${JSON.stringify(bpb)}`);
  const dir = join(root, "shipped-v1");
  await Deno.mkdir(dir, { recursive: true });
  const recipe = {
    bits_per_byte: bpb,
    name: "shipped-v1",
    description: "the shipped model (v1): plain text, 4 rows × 1024 tokens per step, 2400 steps, lr 3e-3",
    config: cfg,
    eval_every: cfg.lm.total_steps,
    ctx_rows: 24,
  };
  await Deno.writeTextFile(join(dir, "recipe.json"), JSON.stringify(recipe, null, 2) + "\n");
  await Deno.writeTextFile(join(dir, "curve.jsonl"), JSON.stringify(point) + "\n");
  console.log(JSON.stringify(point));
  emb.model.dispose();
  Deno.exit(0);
}

const name = String(args.get("recipe") ?? "");
const recipe = pilotRecipe(name);
const dir = join(root, name);
const cfg = recipe.config;
const until = Math.min(Number(args.get("until-step") ?? cfg.lm.total_steps), cfg.lm.total_steps);
const { data, tokenMap } = await embeddedLmData(cfg);
const model = randomEmbeddedModel(cfg, tokenMap.modelVocab);
const rows = spreadValidationRows(data.validation, data.bos, cfg.lm.n_ctx, recipe.ctx_rows);
await Deno.mkdir(dir, { recursive: true });
const curveFile = join(dir, "curve.jsonl");
const done = new Set((await readCurve(curveFile)).map((p) => p.step));
await Deno.writeTextFile(join(dir, "recipe.json"), JSON.stringify(recipe, null, 2) + "\n");
for (let target = recipe.eval_every; target <= until; target += recipe.eval_every) {
  const result = await trainLm(model, data, cfg.lm, {
    checkpointDir: join(dir, "ckpt"),
    stopAtStep: target,
    progress: false,
    onStep: (e) => {
      if (e.step % 10 === 0) {
        console.log(`${name} step ${e.step} loss ${e.loss.toFixed(3)} ${e.elapsed_s.toFixed(0)} s`);
      }
    },
  });
  if (done.has(target)) continue;
  const point = pointAfterTraining(model, rows, cfg.lm, result.history, target, recipe.eval_every);
  await Deno.writeTextFile(curveFile, JSON.stringify(point) + "\n", { append: true });
  console.log(
    `${name} POINT step ${target} tokens ${point.tokens} train ${point.train_seconds.toFixed(0)} s val ${
      point.val_loss.toFixed(3)
    } induction ${point.induction_gain.toFixed(3)} ctx ${point.ctx_diff.toFixed(3)} [${
      point.ctx_diff_ci95.map((v) => v.toFixed(3))
    }] load ${point.load_average}`,
  );
}
model.dispose();
