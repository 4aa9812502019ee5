// Copy locality: content-based copying against a head fixed at half the trained row, and where it cannot judge.
import { copyLocality, repeatLossFigure } from "../lib/study_b/copy_locality.ts";

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

const point = (losses: number[]) => ({
  step: 1,
  tokens: 1e6,
  induction_positions: 64 * losses.length,
  induction_loss_by_repeat: losses,
});

Deno.test("copy locality tells a fixed-offset head from induction, and says none or mixed otherwise", () => {
  const v = (losses: number[], T = 512) => copyLocality(point(losses), T)?.verdict;
  assert(v([11, 10.9, 10.8, 10.8, 5, 5, 5, 5]) === "fixed-offset", "far only");
  assert(v([11, 6, 4, 4, 3, 3, 3, 3]) === "content", "second occurrence already copied");
  assert(v([11, 10.8, 10.8, 10.8, 10.5, 10.5, 10.5, 10.5]) === "none", "no gain");
  // near gain 2.5, far gain 7: above a quarter of it, below a half
  assert(v([11, 8.5, 9, 9, 4, 4, 4, 4]) === "mixed", "mixed");
  // rows of 256: the far repeats start at 128
  const r = copyLocality(point([11, 10.9, 3, 3]), 256)!;
  assert(r.far_gain === 8 && Math.abs(r.near_gain - 0.1) < 1e-12 && r.verdict === "fixed-offset", JSON.stringify(r));
  assert(copyLocality(point([11, 4]), 128) === null, "rows of 128 have one repeat: no judgement");
  assert(copyLocality(point([11, 4, 4, 4, 4, 4, 4, 4]), 1024) === null, "512 positions do not reach past 1024 / 2");
});

Deno.test("the repeat-loss figure has one named line per (pilot, step)", () => {
  const fig = repeatLossFigure([
    { pilot: "a", point: point([11, 5]) },
    { pilot: "b", point: point([11, 9, 4, 4]) },
  ]);
  assert(fig.data.length === 2 && fig.data.every((t) => typeof t.name === "string" && t.name.length > 0), "named");
});
