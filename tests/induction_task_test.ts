import { assert } from "./helpers.ts";
import { initBackend } from "../lib/engine/backend.ts";
import { defaultInductionTaskConfig, runInductionCondition } from "../lib/lm/induction_task.ts";

// End to end through the LM trainer (fused attention, its backward, AdamW): a 2-layer model on short rows whose
// second half repeats the first must learn to copy. A broken attention gradient leaves the repeat as hard as the
// first half (gain ≈ 0); a working trainer takes the gain above 1 nat in a few hundred steps.
Deno.test("induction task: the trainer forms copying heads on short repeated rows", async () => {
  await initBackend();
  const cfg = defaultInductionTaskConfig({
    vocab: 32,
    d_model: 32,
    lr: 3e-3,
    steps: 300,
    eval_every: 300,
    eval_rows: 16,
  });
  const curve = runInductionCondition(cfg, { name: "test", half: 8, rows: 32, short_steps: 0, wpe: "normal" });
  const last = curve.at(-1)!;
  assert(last.first_half > 3, `first half should stay near ln(31) = 3.43, got ${last.first_half}`);
  assert(last.gain > 1, `copying gain after 300 steps: expected > 1 nat, got ${last.gain.toFixed(3)}`);
});

Deno.test("induction task: stages come from short_steps or stages, and bad stages are refused by name", async () => {
  const { inductionStages } = await import("../lib/lm/induction_task.ts");
  const base = { name: "s", half: 512, rows: 4, wpe: "normal" } as const;
  assert(inductionStages(base).length === 0, "no stages without short_steps or stages");
  const short = inductionStages({ ...base, short_steps: 400 });
  assert(short.length === 1 && short[0]!.until_step === 400 && short[0]!.half === 32, JSON.stringify(short));
  const doubling = [{ until_step: 100, half: 32 }, { until_step: 200, half: 64 }];
  assert(inductionStages({ ...base, short_steps: 400, stages: doubling }) === doubling, "stages win over short_steps");
  let msg = "";
  try {
    inductionStages({ ...base, stages: [{ until_step: 200, half: 32 }, { until_step: 100, half: 64 }] });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes('"s"') && msg.includes("until_step must increase"), `got: ${msg}`);
  msg = "";
  try {
    inductionStages({ ...base, stages: [{ until_step: 100, half: 48 }] });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("stage half 48 must divide rows·half = 2048"), `got: ${msg}`);
});
