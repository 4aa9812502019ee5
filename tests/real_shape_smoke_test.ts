// The real-shape smoke test (scripts/real_shape_smoke.ts) in CI: a random 2-layer gpt2-small-shaped model in the hub's
// layout and three 151 MB SAELens folders with legacy cfg keys, through SAE_ARTIFACTS and the notebook-11 sweep.

import { runRealShapeSmoke } from "../scripts/real_shape_smoke.ts";
import { assert, assertEquals } from "./helpers.ts";

Deno.test({
  name: "real-shape smoke: SAE_ARTIFACTS with gpt2-small's layout and d_sae 24576 runs the study-B sweep",
  // the sweep's progress bar keeps a timer; the files are removed in the script's finally
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const lines: string[] = [];
    const r = await runRealShapeSmoke({ log: (l) => lines.push(l) });
    console.log(lines.join("\n"));
    assertEquals(r.trained, false);
    assertEquals(r.saes, 3);
    assert(r.saeMb > 140 && r.modelMb > 180, `file sizes ${r.saeMb} MB, ${r.modelMb} MB`);
    assertEquals(r.guards.map((g) => g.status), ["skipped"]);
    assert(lines.some((l) => l.startsWith("SKIPPED (untrained model): bug guard")), lines.join("\n"));
  },
});
