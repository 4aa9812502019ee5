/**
 * `deno task train-lm`: trains the embedded default's language model (or, with
 * `QUICK=1`, the tiny QUICK one), resuming from its latest checkpoint, then
 * saves it in Hugging Face layout under `data/embedded/model/` and writes
 * `data/manifest.json`, the training record and figures.
 *
 * Flags:
 * - `--root DIR` data root (default `data/`, or `.quick/data` under `QUICK=1`);
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

import { initBackend } from "../lib/engine/backend.ts";
import { defaultGpt2Config, gpt2ParamCount } from "../lib/lm/config.ts";
import { embeddedConfig, runEmbeddedLmTraining } from "../lib/lm/embedded.ts";
import { Gpt2 } from "../lib/lm/gpt2.ts";
import { defaultLmTrainConfig, measureLmThroughput } from "../lib/lm/train.ts";

/** Parses `--name value` and `--flag` arguments. */
export function parseArgs(args: string[]): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (!a.startsWith("--")) throw new Error(`unexpected argument "${a}" (flags start with --)`);
    const next = args[i + 1];
    if (next !== undefined && !next.startsWith("--")) {
      out.set(a.slice(2), next);
      i++;
    } else out.set(a.slice(2), true);
  }
  return out;
}

/** Candidate sizes measured by `--measure`: [n_layer, d_model, n_head, d_vocab]. */
export const LM_CANDIDATES: readonly [number, number, number, number][] = [
  [4, 128, 4, 8192],
  [6, 192, 6, 8192],
  [4, 256, 4, 12288],
];

async function measure(out: string | undefined, steps: number): Promise<void> {
  const report = await initBackend();
  console.log(report.summary);
  const rows = [];
  for (const [n_layer, d_model, n_head, d_vocab] of LM_CANDIDATES) {
    const cfg = defaultGpt2Config({ n_layer, d_model, n_head, n_ctx: 1024, d_vocab });
    const model = Gpt2.random(cfg, 0);
    const t = measureLmThroughput(
      model,
      defaultLmTrainConfig({ n_ctx: 1024, batch_rows: 1, micro_batch_rows: 1 }),
      steps,
    );
    model.dispose();
    const row = {
      size: `${n_layer}×${d_model}×${n_head}h, vocab ${d_vocab}`,
      params: gpt2ParamCount(cfg),
      tokens_per_s: Math.round(t.tokensPerSecond),
      tokens_per_cpu_s: Math.round(t.tokensPerCpuSecond),
      tokens_in_60_min: Math.round(t.tokensPerSecond * 3600),
      step_ms: t.stepMs.map(Math.round),
      load_average: t.loadAverage,
    };
    console.log(JSON.stringify(row));
    rows.push(row);
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
    const cfg = embeddedConfig();
    const stop = args.get("stop-at-step");
    const record = await runEmbeddedLmTraining(cfg, {
      root: args.get("root") as string | undefined,
      figures: !args.has("no-figures"),
      stopAtStep: stop === undefined ? undefined : Number(stop),
    });
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
  }
}
