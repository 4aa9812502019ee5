/**
 * `deno task train-saes`: trains one SAE per residual hook of the embedded
 * model (`data/embedded/model/`, trained by `deno task train-lm`) on 128-token
 * rows, resuming interrupted hooks from their checkpoints, then writes the
 * SAELens folders under `data/embedded/saes/`, the record, figures and
 * `data/manifest.json`. `QUICK=1` runs the QUICK configuration.
 *
 * Flags: `--root DIR`, `--stop-at-step N`, `--no-figures` (as `train-lm`);
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

import { initBackend } from "../lib/engine/backend.ts";
import { embeddedConfig, runEmbeddedSaeTraining } from "../lib/lm/embedded.ts";
import { measureSaeThroughput } from "../lib/lm/sae_training.ts";
import { parseArgs } from "./train_lm.ts";

async function measure(out: string | undefined, steps: number): Promise<void> {
  const report = await initBackend();
  console.log(report.summary);
  const rows = [];
  for (const d_in of [128, 192, 256]) {
    for (const expansion of [16, 32]) {
      const t = measureSaeThroughput(d_in, expansion * d_in, 4096, steps);
      const row = {
        d_in,
        d_sae: expansion * d_in,
        batch: 4096,
        steps_per_s: Number(t.stepsPerSecond.toFixed(3)),
        steps_per_cpu_s: Number(t.stepsPerCpuSecond.toFixed(3)),
        step_ms: t.stepMs.map(Math.round),
      };
      console.log(JSON.stringify(row));
      rows.push(row);
    }
  }
  if (out) await Deno.writeTextFile(out, JSON.stringify({ backend: report.summary, rows }, null, 2) + "\n");
}

if (import.meta.main) {
  const args = parseArgs(Deno.args);
  if (args.has("measure")) {
    await measure(args.get("out") as string | undefined, Number(args.get("steps") ?? 3));
  } else {
    const report = await initBackend();
    console.log(report.summary);
    const stop = args.get("stop-at-step");
    const record = await runEmbeddedSaeTraining(embeddedConfig(), {
      root: args.get("root") as string | undefined,
      figures: !args.has("no-figures"),
      stopAtStep: stop === undefined ? undefined : Number(stop),
    });
    if (record === null) console.log("train-saes: stopped early; run again to resume from the checkpoints");
    else {
      for (const h of record.hooks) {
        const q = h.quality;
        console.log(
          `${h.hook}: L0 ${q.l0.toFixed(1)}, explained variance ${q.explained_variance.toFixed(3)}, ` +
            `CE recovered ${q.ce_loss_recovered.toFixed(3)}, dead ${(100 * q.dead_fraction).toFixed(1)}% held-out / ` +
            `${(100 * q.dead_fraction_train).toFixed(1)}% training`,
        );
      }
    }
  }
}
