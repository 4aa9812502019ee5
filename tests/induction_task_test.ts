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
