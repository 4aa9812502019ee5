import { geometricMedian } from "../lib/sae/geometric_median.ts";
import { Rng } from "../lib/engine/rng.ts";

function close(a: ArrayLike<number>, b: number[], tol: number, what: string) {
  for (let i = 0; i < b.length; i++) {
    if (!(Math.abs((a[i] as number) - b[i]!) <= tol)) throw new Error(`${what}: got [${Array.from(a)}], want [${b}]`);
  }
}

Deno.test("geometric median of an odd number of collinear points is the middle point", () => {
  // points on the line y = 2x at t = 0, 1, 3, 7, 20 (middle: t = 3); the mean (t = 6.2) is far off
  const ts = [0, 1, 3, 7, 20];
  const pts = new Float64Array(ts.flatMap((t) => [t, 2 * t]));
  close(geometricMedian(pts, 2, { maxIter: 1000 }).median, [3, 6], 1e-3, "collinear");
});

Deno.test("geometric median of a symmetric point set is its centre", () => {
  const pts = new Float64Array([3, 1, 1, 3, -1, 1, 1, -1, 2, 2, 0, 0]); // square around (1, 1) plus mirrored pair
  close(geometricMedian(pts, 2).median, [1, 1], 1e-6, "symmetric");
});

Deno.test("geometric median resists a far outlier that drags the mean", () => {
  const rng = new Rng(1, "gm");
  const n = 200;
  const pts = new Float64Array(n * 3);
  for (let i = 0; i < n - 1; i++) {
    pts[i * 3] = 1 + 0.1 * rng.normal();
    pts[i * 3 + 1] = -2 + 0.1 * rng.normal();
    pts[i * 3 + 2] = 0.5 + 0.1 * rng.normal();
  }
  pts.set([1e4, 1e4, 1e4], (n - 1) * 3);
  const m = geometricMedian(pts, 3).median;
  close(m, [1, -2, 0.5], 0.05, "outlier");
  const meanX = pts.filter((_, i) => i % 3 === 0).reduce((a, b) => a + b, 0) / n;
  if (!(meanX > 40)) throw new Error(`the mean should be dragged away, got ${meanX}`);
});

Deno.test("geometric median stops early by the ftol test and reports iterations", () => {
  const r = geometricMedian(new Float64Array([1, 1, 1, 1]), 2); // identical points: objective 0 at once
  if (!r.converged || r.iterations !== 1) {
    throw new Error(`expected convergence after 1 iteration, got ${JSON.stringify(r)}`);
  }
  close(r.median, [1, 1], 0, "identical points");
});

Deno.test("geometric median rejects ragged input and non-finite values, naming them", () => {
  for (
    const [pts, needle] of [[new Float64Array([1, 2, 3]), "n·2"], [new Float64Array([1, NaN]), "non-finite"]] as const
  ) {
    let msg = "";
    try {
      geometricMedian(pts, 2);
    } catch (e) {
      msg = (e as Error).message;
    }
    if (!msg.includes(needle)) throw new Error(`expected an error mentioning "${needle}", got "${msg}"`);
  }
});
