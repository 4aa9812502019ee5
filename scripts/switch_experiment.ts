/**
 * What happens to a pilot's copying when its rows grow from 512 to 1024
 * positions: from one saved checkpoint of a pilot (taken at its switch), each
 * arm trains `--steps` more steps with one setting changed and measures the
 * pilot curve point (induction gain, context difference, validation loss)
 * every `--every` steps. Arms (names for `--arms`, comma-separated):
 *
 * - `recipe`: the pilot's own recipe (rows of 1024 from the switch);
 * - `stay512`: rows of 512 continue (a causal model's positions < 512 do not
 *   see later tokens, so this is also "rows of 1024 with the loss counted on
 *   positions < 512 only");
 * - `lr10`: rows of 1024 at a tenth of the learning rate;
 * - `offset512`: rows of 512 at uniform random absolute offsets in [0, 512],
 *   training positions 512–1023 without contexts longer than 512;
 * - `wpe1024`: the recipe (rows of 1024) with its first `--wpe` steps (default
 *   50) updating only the positional embedding (`wpe_warmup_steps`), so the
 *   never-trained positions 512–1023 are fitted before their gradients reach
 *   the rest of the network;
 * - `copies<k>` (e.g. `copies12`): the recipe with up to k back-to-back copies
 *   per row (`repeat_copies`), so more of each row of 1024 is a copy;
 * - `span<m>` (e.g. `span128`): the recipe with copied spans of at most m
 *   tokens, so the copy distances on rows of 1024 stay those of the rows
 *   before (`span<m>wpe` adds the `wpe1024` warm-up);
 * - `offset512x<n>` (e.g. `offset512x200`): rows of 512 at random offsets for
 *   n steps, then the recipe's rows of 1024 (run it with `--steps` above n).
 *
 * Each arm runs in a copy of the checkpoint folder whose saved config is set to
 * the arm's (the trainer refuses to resume a checkpoint of another config), so
 * every arm starts from the same weights and optimiser state. Output: one JSON
 * line per point, `{arm, step, ...PilotPoint}`, appended to `--out`.
 *
 * @example
 * ```ts
 * // deno run -A scripts/switch_experiment.ts --recipe wide-sin-doubling-dense \
 * //   --ckpt /work/runs/switch/wide-sin-doubling-dense/ckpt --arms recipe,stay512 --out switch.jsonl
 * ```
 *
 * @module
 */

import { initBackend } from "../lib/engine/backend.ts";
import { embeddedLmData, randomEmbeddedModel } from "../lib/study_b/embedded.ts";
import { pilotRecipe, spreadValidationRows } from "../lib/study_b/pilots.ts";
import { pointAfterTraining } from "../lib/study_b/context_probe.ts";
import { type LmTrainConfig, trainLm } from "../lib/lm/train.ts";
import { join } from "../lib/path.ts";
import { parseArgs } from "./train_cli.ts";

const args = parseArgs(Deno.args);
const name = String(args.get("recipe") ?? "");
const recipe = pilotRecipe(name);
const src = String(args.get("ckpt") ?? "");
const out = String(args.get("out") ?? "switch_experiment.jsonl");
const steps = Number(args.get("steps") ?? 100);
const every = Number(args.get("every") ?? 25);
const wpeSteps = Number(args.get("wpe") ?? 50);
const arms = String(args.get("arms") ?? "recipe,stay512,lr10,offset512").split(",");

const latest = JSON.parse(await Deno.readTextFile(join(src, "lm-latest.json"))) as { step: number; record: string };
const from = latest.step;
const base = recipe.config.lm;
const stages = base.ctx_curriculum.filter(([until]) => until <= from);
// rows of 512 continue: the stage of 512 ending at the switch is lengthened (its row stream goes on, no row repeats)
const last = stages.at(-1);
const withLast512 = (until: number): [number, number][] =>
  last !== undefined && last[0] === from && last[1] === 512
    ? [...stages.slice(0, -1), [until, 512]]
    : [...stages, [until, 512]];
const longer512 = withLast512(from + steps);

function armConfig(arm: string): LmTrainConfig {
  switch (arm) {
    case "recipe":
      return base;
    case "stay512":
      return { ...base, ctx_curriculum: longer512 };
    case "lr10":
      return { ...base, lr: base.lr / 10 };
    case "offset512":
      return { ...base, ctx_curriculum: longer512, ctx_offsets: "random" };
    case "wpe1024":
      return { ...base, wpe_warmup_steps: wpeSteps };
    default: {
      const copies = /^copies([1-9][0-9]*)$/.exec(arm);
      if (copies) return { ...base, repeat_copies: Number(copies[1]) };
      const span = /^span([1-9][0-9]*)(wpe)?$/.exec(arm);
      if (span) {
        const cfg: LmTrainConfig = { ...base, repeat_span: [base.repeat_span[0], Number(span[1])] };
        return span[2] ? { ...cfg, wpe_warmup_steps: wpeSteps } : cfg;
      }
      const then = /^offset512x([1-9][0-9]*)$/.exec(arm);
      if (then) return { ...base, ctx_curriculum: withLast512(from + Number(then[1])), ctx_offsets: "random" };
      throw new Error(
        `--arms: unknown arm "${arm}" (recipe, stay512, lr10, offset512, wpe1024, copies<k>, span<m>[wpe], offset512x<n>)`,
      );
    }
  }
}

console.log((await initBackend()).summary);
const { data, tokenMap } = await embeddedLmData(recipe.config);
const rows = spreadValidationRows(data.validation, data.bos, base.n_ctx, recipe.ctx_rows);
for (const arm of arms) {
  const cfg = armConfig(arm);
  const dir = await Deno.makeTempDir({ prefix: `switch_${arm}_` });
  try {
    // the checkpoint pair of the switch step, its saved config replaced by the arm's
    const rec = JSON.parse(await Deno.readTextFile(join(src, latest.record)));
    rec.state.config = cfg;
    await Deno.copyFile(join(src, rec.tensors_file), join(dir, rec.tensors_file));
    await Deno.writeTextFile(join(dir, latest.record), JSON.stringify(rec));
    await Deno.copyFile(join(src, "lm-latest.json"), join(dir, "lm-latest.json"));
    const model = randomEmbeddedModel(recipe.config, tokenMap.modelVocab);
    try {
      for (let target = from + every; target <= from + steps; target += every) {
        const t0 = performance.now();
        const result = await trainLm(model, data, cfg, { checkpointDir: dir, stopAtStep: target, progress: false });
        const point = pointAfterTraining(model, rows, cfg, result.history, target, every);
        await Deno.writeTextFile(out, JSON.stringify({ arm, from, ...point }) + "\n", { append: true });
        console.log(
          `${arm} step ${target}: train ${point.train_loss.toFixed(3)} val ${point.val_loss.toFixed(3)} induction ${
            point.induction_gain.toFixed(3)
          } by repeat [${point.induction_loss_by_repeat.map((v) => v.toFixed(2))}] (${
            ((performance.now() - t0) / 1000).toFixed(0)
          } s)`,
        );
      }
    } finally {
      model.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
