// Recipe pilots: the extrapolation of a curve to a target, the pilots file's validation, evenly spread rows.

import {
  chooseRecipe,
  chooseRecipeByAperiodicCopying,
  chooseRecipeOnFullRows,
  extrapolateTokens,
  loadPilots,
  PILOT_RECIPES,
  type PilotPoint,
  pilotRecipe,
  type PilotRun,
  sameLmRecipe,
  spreadValidationRows,
} from "../lib/study_b/pilots.ts";
import { join } from "../lib/path.ts";

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

Deno.test("extrapolation follows the log-linear trend, in the goal's direction only", () => {
  const t = extrapolateTokens([[1e5, 0], [1e6, -0.1], [1e7, -0.2]], -0.3, "at_most");
  assert(t !== null && !t.met && Math.abs(Math.log10(t.tokens) - 8) < 1e-9, `1e8 expected, got ${JSON.stringify(t)}`);
  assert(extrapolateTokens([[1e5, -0.2], [1e6, -0.1], [1e7, 0]], -0.3, "at_most") === null, "moving away: null");
  assert(extrapolateTokens([[1e5, 0], [1e6, -0.1]], -0.3, "at_most") === null, "two points: null");
  // only the last 4 points count: an early dip does not set the trend
  const late = extrapolateTokens([[1e3, -5], [1e4, 0], [1e5, 0.1], [1e6, 0.2], [1e7, 0.3]], 1, "at_least");
  assert(late !== null && !late.met && Math.abs(Math.log10(late.tokens) - 14) < 1e-9, `1e14: ${JSON.stringify(late)}`);
  // a last point past the target has met it: its tokens, not the line's crossing on its way back
  const rising = [[1e6, -0.3], [1e7, -0.2], [1e8, -0.1]] as [number, number][];
  const met = extrapolateTokens(rising, -0.05, "at_most");
  assert(met !== null && met.met && met.tokens === 1e8, `met at the last point: ${JSON.stringify(met)}`);
  const atLeast = extrapolateTokens(rising, -0.2, "at_least");
  assert(atLeast !== null && atLeast.met && atLeast.tokens === 1e8, "at least −0.2: met at the last point");
  const up = extrapolateTokens(rising, 0, "at_least");
  assert(
    up !== null && !up.met && Math.abs(Math.log10(up.tokens) - 9) < 1e-9,
    `rising to 0 at 1e9: ${JSON.stringify(up)}`,
  );
  assert(extrapolateTokens(rising, -0.5, "at_most") === null, "rising, at most −0.5: moving away");
});

Deno.test("the pilots file is validated, naming the field", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pilots_" });
  try {
    const f = join(dir, "p.json");
    await Deno.writeTextFile(
      f,
      JSON.stringify({ format: "pilots/1", pilots: [{ name: "a", curve: [{ tokens: 1 }] }] }),
    );
    let msg = "";
    try {
      await loadPilots(f);
    } catch (e) {
      msg = (e as Error).message;
    }
    assert(msg.includes(f) && msg.includes("pilots[0].curve[0].induction_gain"), msg);
    await Deno.writeTextFile(f, JSON.stringify({ format: "x" }));
    msg = "";
    try {
      await loadPilots(f);
    } catch (e) {
      msg = (e as Error).message;
    }
    assert(msg.includes("format") && msg.includes("pilots/1"), msg);
    // the aperiodic gain is optional (older points lack it) and may be null, but not text
    const point = { tokens: 1, induction_gain: 0, ctx_diff: 0, val_loss: 5 };
    const withGain = (v: unknown) => ({
      format: "pilots/1",
      pilots: [{ name: "a", curve: [{ ...point, induction_gain_aperiodic: v }] }],
    });
    for (const ok of [undefined, null, 0.3]) {
      await Deno.writeTextFile(f, JSON.stringify(withGain(ok)));
      await loadPilots(f);
    }
    await Deno.writeTextFile(f, JSON.stringify(withGain("x")));
    msg = "";
    try {
      await loadPilots(f);
    } catch (e) {
      msg = (e as Error).message;
    }
    assert(msg.includes("curve[0].induction_gain_aperiodic") && msg.includes("x"), msg);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("validation rows are spread over all the text and every recipe is a valid config", () => {
  const docs = Array.from({ length: 10 }, (_, d) => Int32Array.from({ length: 90 }, () => d + 1));
  const rows = spreadValidationRows(docs, 0, 9, 5); // 10 tokens a row, 910 tokens: 91 rows, every 18th
  assert(rows.length === 5, "5 rows");
  // document d holds id d + 1: the rows' largest ids go 1 … 10 across the text
  const ids = rows.map((r) => Math.max(...r));
  const spread = ids.every((v, i) => i === 0 || v > ids[i - 1]!) && ids[0]! <= 2 && ids.at(-1)! >= 9;
  assert(spread, `rows from the whole text, got ${ids}`);
  for (const r of Object.values(PILOT_RECIPES)) assert(r.config.lm.n_ctx === 1024, `${r.name} trains at 1024`);
});

Deno.test("the choice rule prefers formed induction, else the lowest context difference, at the common tokens", () => {
  const pt = (tokens: number, induction_gain: number, ctx_diff: number) =>
    ({ step: 0, tokens, induction_gain, ctx_diff, ctx_diff_ci95: [ctx_diff - 0.1, ctx_diff + 0.1] }) as PilotPoint;
  const run = (name: string, curve: PilotPoint[]) => ({ ...PILOT_RECIPES.copy!, name, curve }) as PilotRun;
  // b forms induction later than the common budget (2M tokens): at 2M only the context differences decide
  const a = run("a", [pt(1e6, 0, -0.01), pt(2e6, 0.1, -0.05)]);
  const b = run("b", [pt(1e6, 0, 0), pt(2e6, 0.2, -0.02), pt(4e6, 3, -0.3)]);
  const c = run("c", [pt(1e6, 0.6, 0.01), pt(2e6, 0.7, 0.02)]);
  assert(chooseRecipe([a, b]).name === "a", "no induction by 2M: lowest context difference");
  const withC = chooseRecipe([a, b, c]);
  assert(withC.name === "c" && withC.tokens === 2e6 && withC.reason.includes("induction"), withC.reason);
  assert(sameLmRecipe(PILOT_RECIPES.copy!.config.lm, { ...PILOT_RECIPES.copy!.config.lm, total_steps: 4000 }), "same");
  assert(!sameLmRecipe(PILOT_RECIPES.copy!.config.lm, PILOT_RECIPES.base!.config.lm), "copy ≠ base");
});

Deno.test("the second choice rule judges each pilot at its last point, only after enough steps on full rows", () => {
  const pt = (step: number, induction_gain: number, ctx_diff: number) =>
    ({
      step,
      tokens: step * 8192,
      induction_gain,
      ctx_diff,
      ctx_diff_ci95: [ctx_diff - 0.1, ctx_diff + 0.1],
    }) as PilotPoint;
  const run = (name: string, base: string, curve: PilotPoint[]) =>
    ({ ...PILOT_RECIPES[base]!, name, curve }) as PilotRun;
  // doubling recipes switch to rows of 1024 at step 600; copy trains on them from step 0
  const early = run("early", "wide-sin-doubling-copy", [pt(500, 4, 0), pt(700, 3, 0)]); // 100 steps on full rows
  const lost = run("lost", "wide-sin-doubling-copy", [pt(500, 4, 0), pt(1000, 0.1, -0.02)]);
  const kept = run("kept", "wide-sin-doubling-varied", [pt(500, 1, 0), pt(1000, 2.5, -0.01)]);
  const flat = run("flat", "copy", [pt(250, 0, -0.01), pt(500, 0.2, -0.06)]);
  const c1 = chooseRecipeOnFullRows([early, lost, kept, flat]);
  assert(c1.name === "kept" && c1.reason.includes("induction"), c1.reason);
  assert(c1.candidates.join() === "lost,kept,flat", `early has 100 steps on full rows: ${c1.candidates}`);
  const c2 = chooseRecipeOnFullRows([early, lost, flat]);
  assert(c2.name === "flat" && c2.reason.includes("context difference"), c2.reason);
  let msg = "";
  try {
    chooseRecipeOnFullRows([early]);
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("200 steps"), msg);
});

Deno.test("the third choice rule counts copying only by the aperiodic gain; a point without it does not copy", () => {
  const pt = (step: number, induction_gain: number, aperiodic: number | undefined, ctx_diff: number) =>
    ({
      step,
      tokens: step * 8192,
      induction_gain,
      ...(aperiodic === undefined ? {} : { induction_gain_aperiodic: aperiodic }),
      ctx_diff,
      ctx_diff_ci95: [ctx_diff - 0.1, ctx_diff + 0.1],
    }) as PilotPoint;
  const run = (name: string, curve: PilotPoint[]) => ({ ...PILOT_RECIPES["copy"]!, name, curve }) as PilotRun;
  const offset = run("offset", [pt(400, 6, 0.1, -0.02)]); // passes the 64-token test through a fixed-offset head
  const content = run("content", [pt(400, 2.5, 2.2, -0.01)]);
  const old = run("old", [pt(400, 3, undefined, -0.05)]); // measured before the field existed
  assert(chooseRecipeOnFullRows([offset, content, old]).name === "offset", "rule 2 follows the 64-token gain");
  const c3 = chooseRecipeByAperiodicCopying([offset, content, old]);
  assert(c3.name === "content" && c3.reason.includes("aperiodic induction gain (2.20"), c3.reason);
  const none = chooseRecipeByAperiodicCopying([offset, old]);
  assert(none.name === "old" && none.reason.includes("lowest context difference"), none.reason);
});

Deno.test("a pilot recipe is looked up by name, and an unknown name lists every recipe", () => {
  assert(pilotRecipe("wide-sin-dense-full").name === "wide-sin-dense-full", "lookup");
  let msg = "";
  try {
    pilotRecipe("nope");
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.startsWith("--recipe: expected one of base, copy,") && msg.endsWith('got "nope"'), msg);
});
