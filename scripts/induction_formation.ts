/**
 * Runs the synthetic induction-formation experiment (`lib/lm/induction_task.ts`)
 * for every condition and writes `data/embedded/induction_formation.json`
 * (read by notebook 09). Conditions already in the output file are kept, so
 * an interrupted run continues with the next condition.
 *
 * @example
 * ```ts
 * // nice -n 5 deno run -A scripts/induction_formation.ts > induction_formation.log 2>&1 &
 * ```
 *
 * @module
 */

import { initBackend } from "../lib/engine/backend.ts";
import { dataDir } from "../lib/env.ts";
import { writeJsonAtomic } from "../lib/io/atomic.ts";
import {
  defaultInductionTaskConfig,
  INDUCTION_CONDITIONS,
  type InductionPoint,
  runInductionCondition,
} from "../lib/lm/induction_task.ts";
import { join } from "../lib/path.ts";

await initBackend();
const out = join(dataDir(), "embedded", "induction_formation.json");
const config = defaultInductionTaskConfig();
let runs: { condition: (typeof INDUCTION_CONDITIONS)[number]; curve: InductionPoint[]; seconds: number }[] = [];
try {
  const prev = JSON.parse(await Deno.readTextFile(out));
  if (prev.format === "induction-formation/2" && JSON.stringify(prev.config) === JSON.stringify(config)) {
    runs = prev.runs;
  }
} catch (e) {
  if (!(e instanceof Deno.errors.NotFound)) throw new Error(`${out}: ${(e as Error).message}`);
}
for (const condition of INDUCTION_CONDITIONS) {
  if (runs.some((r) => r.condition.name === condition.name)) continue;
  const t0 = performance.now();
  const curve = runInductionCondition(config, condition, (p) =>
    console.log(
      `${condition.name}: step ${p.step}/${config.steps} first half ${p.first_half.toFixed(3)} ` +
        `repeat ${p.second_half.toFixed(3)} gain ${p.gain.toFixed(3)} (${
          ((performance.now() - t0) / 1000).toFixed(0)
        } s)`,
    ));
  runs.push({ condition, curve, seconds: (performance.now() - t0) / 1000 });
  await writeJsonAtomic(out, { format: "induction-formation/2", config, runs });
}
console.log(`wrote ${out}`);
