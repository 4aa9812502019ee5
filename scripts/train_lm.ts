/**
 * `deno task train-lm`: trains the embedded default's language model (or, with
 * `QUICK=1`, the tiny QUICK one), resuming from its latest checkpoint, then
 * saves it in Hugging Face layout under `data/embedded/model/` and writes
 * `data/manifest.json`, the training record and figures.
 *
 * Flags:
 * - `--root DIR` data root (default `data/`, or `.quick/data` under `QUICK=1`); the
 *   checkpoints and the curve go to `DIR/.checkpoints/` (default root: `.cache/embedded_ckpt/`).
 *   A long run should use a root outside the work tree, which survives a fresh clone
 *   (`data/README.md`: `--root /work/runs/embedded_v2/data`);
 * - `--stop-at-step N` stop (checkpointed) after step N, as an interruption would;
 * - `--no-figures` skip the figures;
 * - `--measure` instead of training, time forward + backward + AdamW at n_ctx 1024
 *   for candidate sizes and print tokens/s with 60-minute token budgets (JSON to `--out FILE`).
 *
 * @example
 * ```ts
 * // deno task train-lm
 * // QUICK=1 deno task train-lm --root /tmp/embedded
 * // deno task train-lm --measure --out .scratch/lm_measure.json
 * ```
 *
 * @module
 */

import { defaultGpt2Config, gpt2ParamCount } from "../lib/lm/config.ts";
import { embeddedConfig, runEmbeddedLmTraining } from "../lib/study_b/embedded.ts";
import { Gpt2 } from "../lib/lm/gpt2.ts";
import { defaultLmTrainConfig, measureLmThroughput } from "../lib/lm/train.ts";
import { runTrainingCli } from "./train_cli.ts";

/** Candidate sizes measured by `--measure`: [n_layer, d_model, n_head, d_vocab]. */
export const LM_CANDIDATES: readonly [number, number, number, number][] = [
  [4, 128, 4, 8192],
  [6, 192, 6, 8192],
  [4, 256, 4, 12288],
];

function* measureRows(steps: number): Generator<Record<string, unknown>> {
  for (const [n_layer, d_model, n_head, d_vocab] of LM_CANDIDATES) {
    const cfg = defaultGpt2Config({ n_layer, d_model, n_head, n_ctx: 1024, d_vocab });
    const model = Gpt2.random(cfg, 0);
    const t = measureLmThroughput(
      model,
      defaultLmTrainConfig({ n_ctx: 1024, batch_rows: 1, micro_batch_rows: 1 }),
      steps,
    );
    model.dispose();
    yield {
      size: `${n_layer}×${d_model}×${n_head}h, vocab ${d_vocab}`,
      params: gpt2ParamCount(cfg),
      tokens_per_s: Math.round(t.tokensPerSecond),
      tokens_per_cpu_s: Math.round(t.tokensPerCpuSecond),
      tokens_in_60_min: Math.round(t.tokensPerSecond * 3600),
      step_ms: t.stepMs.map(Math.round),
      load_average: t.loadAverage,
    };
  }
}

if (import.meta.main) {
  await runTrainingCli(Deno.args, {
    measureRows,
    async train(opts) {
      const record = await runEmbeddedLmTraining(embeddedConfig(), opts);
      if (record === null) console.log("train-lm: stopped early; run again to resume from the checkpoint");
      else {
        console.log(
          `train-lm: done — final train loss ${record.final_train_loss.toFixed(4)}, validation ${
            record.final_val_loss.toFixed(4)
          }, positions 1–32 ${record.val_loss_pos_1_32.toFixed(4)}, 512–1023 ${
            record.val_loss_pos_512_1023?.toFixed(4) ?? "n/a"
          }`,
        );
      }
    },
  });
}
