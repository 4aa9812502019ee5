// Copy locality: content-based copying against a head fixed at half the trained row, and where it cannot judge.
import { copyLocality, repeatLossFigure } from "../lib/study_b/copy_locality.ts";
import { loadLongCopyProbes, loadSwitchPoints, longCopyFigure, switchFigure } from "../lib/study_b/switch_arms.ts";

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
  assert(r.mid_gain === null, "rows of 256: no repeat between the second and T/2");
  // rows of 512: repeats 3-4 (positions 128-255) copied, the first repeat weak: mid gain reported beside the verdict
  const m = copyLocality(point([11, 9.8, 3.7, 3.5, 3.6, 3.6, 3.5, 3.6]), 512)!;
  assert(m.verdict === "fixed-offset" && Math.abs(m.mid_gain! - 7.4) < 1e-9, JSON.stringify(m));
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

Deno.test("switch points are validated naming the line and field, and drawn one line per arm", async () => {
  const dir = await Deno.makeTempDir({ prefix: "switch_" });
  try {
    const f = `${dir}/s.jsonl`;
    const q = { from: 600, step: 625, tokens: 1, train_loss: 4, val_loss: 5, induction_gain: 2 };
    await Deno.writeTextFile(f, [{ arm: "a", ...q }, { arm: "b", ...q }].map((x) => JSON.stringify(x)).join("\n"));
    const pts = await loadSwitchPoints(f);
    const fig = switchFigure(pts, { step: 600, induction_gain: 6 });
    assert(fig.data.length === 2, "two arms, two lines");
    await Deno.writeTextFile(f, JSON.stringify({ arm: "a", ...q, val_loss: "x" }));
    let msg = "";
    try {
      await loadSwitchPoints(f);
    } catch (e) {
      msg = (e as Error).message;
    }
    assert(msg.includes(f) && msg.includes("line 1") && msg.includes("val_loss"), msg);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the whole-context copying probe reads its lines, draws one line per checkpoint and names a bad field", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const f = `${dir}/p.jsonl`;
    const w = { mean_norm: 0.7, mean_neighbour_cosine: 0.5 };
    const q = {
      label: "a",
      recipe: "r",
      step: 600,
      segment: 64,
      gain_early: 7,
      gain_late: -0.1,
      wpe: { before: w, from: w },
    };
    const losses = [11, 10, 3, 3, 11, 11, 11, 11];
    await Deno.writeTextFile(
      f,
      [{ ...q, loss_by_repeat: losses }, { ...q, label: "b", loss_by_repeat: losses }].map((x) => JSON.stringify(x))
        .join("\n"),
    );
    const probes = await loadLongCopyProbes(f);
    const fig = longCopyFigure(probes);
    assert(fig.data.length === 2, "two checkpoints, two lines");
    const x = (fig.data[0] as { x: number[] }).x;
    assert(x.join() === "0,64,128,192,256,320,384,448", `x = first position of each repeat, got ${x}`);
    for (
      const [bad, field] of [[{ ...q, loss_by_repeat: [1, 2] }, "loss_by_repeat"], [
        { ...q, gain_late: null },
        "gain_late",
      ]] as const
    ) {
      await Deno.writeTextFile(f, JSON.stringify(bad));
      let msg = "";
      try {
        await loadLongCopyProbes(f);
      } catch (e) {
        msg = (e as Error).message;
      }
      assert(msg.includes(f) && msg.includes("line 1") && msg.includes(field), msg);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
