/**
 * `deno task train-saes`: trains one SAE per residual hook of the embedded
 * model (`data/embedded/model/`, trained by `deno task train-lm`) on 128-token
 * rows, resuming interrupted hooks from their checkpoints, then writes the
 * SAELens folders under `data/embedded/saes/`, the record, figures and
 * `data/manifest.json`. `QUICK=1` runs the QUICK configuration.
 *
 * A hook whose ℓ1 sweep has no instance meeting the bars (explained variance
 * ≥ 0.8, CE recovered ≥ 0.8, L0 10–80, dead < 10% on ≥ 390k held-out tokens)
 * stops training with an error, and nothing is written.
 *
 * Flags: `--root DIR`, `--stop-at-step N`, `--no-figures` (as `train-lm`);
 * `--control` trains the control SAEs instead: the same width and recipe on
 * full-length rows (context 1024), into `data/embedded/saes_control/<hook>/`;
 * `--measure` times SAE training steps for d_in ∈ {128, 192, 256} and
 * expansion ∈ {16, 32} at 4096 tokens per step (JSON to `--out FILE`).
 *
 * @example
 * ```ts
 * // deno task train-saes
 * // deno task train-saes --measure
 * ```
 *
 * @module
 */

import { embeddedConfig, runEmbeddedSaeTraining } from "../lib/study_b/embedded.ts";
import { measureSaeThroughput } from "../lib/splice/sae_training.ts";
import { runTrainingCli } from "./train_cli.ts";

function* measureRows(steps: number): Generator<Record<string, unknown>> {
  for (const d_in of [128, 192, 256]) {
    for (const expansion of [16, 32]) {
      const t = measureSaeThroughput(d_in, expansion * d_in, 4096, steps);
      yield {
        d_in,
        d_sae: expansion * d_in,
        batch: 4096,
        steps_per_s: Number(t.stepsPerSecond.toFixed(3)),
        steps_per_cpu_s: Number(t.stepsPerCpuSecond.toFixed(3)),
        step_ms: t.stepMs.map(Math.round),
      };
    }
  }
}

if (import.meta.main) {
  await runTrainingCli(Deno.args, {
    measureRows,
    async train(opts) {
      const record = await runEmbeddedSaeTraining(embeddedConfig(), opts);
      if (record === null) console.log("train-saes: stopped early; run again to resume from the checkpoints");
      else {
        for (const h of record.hooks) {
          const q = h.quality;
          console.log(
            `${h.hook}: L0 ${q.l0.toFixed(1)}, explained variance ${q.explained_variance.toFixed(3)}, ` +
              `CE recovered ${q.ce_loss_recovered.toFixed(3)} (zero ablation) / ${
                q.ce_loss_recovered_mean.toFixed(3)
              } (mean ablation), dead ${(100 * q.dead_fraction).toFixed(1)}% held-out / ` +
              `${(100 * q.dead_fraction_train).toFixed(1)}% training`,
          );
        }
      }
    },
  });
}
