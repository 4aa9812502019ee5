// %% [markdown]
// # 00 · Quickstart: the stack at work
//
// This collection reproduces two studies of sparse autoencoders (SAEs) in TypeScript, run by Deno's Jupyter kernel:
//
// - **Study A** — SAEs trained on small toy models whose features come in composed pairs: do they recover the
//   underlying features or their compositions? (notebooks `01`–`04`)
// - **Study B** — how well GPT-2-small residual-stream SAEs trained on 128-token contexts reconstruct activations at
//   later positions, and what that does to the language model's loss (notebooks `10`–`1x`).
//
// Each notebook is prose, a few calls into the typed library in `lib/` (tfjs for tensors, nodejs-polars for tables,
// plotly JSON for figures) and top-level checks that stop the run when a number is wrong.
//
// This first notebook only shows that the pieces work here: the compute backend, a tfjs computation checked against
// calculus, a polars table, a progress bar, and a figure saved to `figures/` as SVG, PNG, HTML and data JSON.

// %%
import * as tf from "@tensorflow/tfjs";
import pl from "nodejs-polars";
import { initBackend, Rng } from "@lib/engine";
import { check, checkClose, isQuick, progress } from "@lib/core";
import {
  bandTraces,
  barTrace,
  DARK2_GREEN,
  DARK2_ORANGE,
  figure,
  gridLayout,
  lineTrace,
  mergeLayout,
  saveAndShow,
  showText,
  vline,
} from "@lib/plot";

const backend = await initBackend();
await showText(
  [`backend: ${backend.summary}`, ...backend.skipped.map((s) => `  skipped ${s.name}: ${s.why}`)].join("\n"),
);

// %% [markdown]
// ## A tfjs computation with a check
//
// Automatic differentiation of $f(x) = x^2 \sin x$ on the chosen backend, compared with the derivative by hand,
// $f'(x) = 2x \sin x + x^2 \cos x$, on 201 points of $[-4, 4]$. The tensor count must not grow: every intermediate
// tensor is released.

// %%
const tensorsBefore = tf.memory().numTensors;
const xs = Array.from({ length: 201 }, (_, i) => -4 + (8 * i) / 200);
const gradAuto = tf.tidy(() => {
  const f = (x: tf.Tensor) => x.square().mul(x.sin());
  return tf.grad(f)(tf.tensor1d(xs));
});
const autodiff = Array.from(gradAuto.dataSync());
gradAuto.dispose();
const byHand = xs.map((x) => 2 * x * Math.sin(x) + x * x * Math.cos(x));
const maxGradError = Math.max(...autodiff.map((g, i) => Math.abs(g - byHand[i]!)));
await showText(`max |autodiff − by hand| over ${xs.length} points: ${maxGradError.toExponential(2)}`);
check(maxGradError < 1e-4, `autodiff matches the analytic derivative to float32 precision (error ${maxGradError})`);
check(tf.memory().numTensors === tensorsBefore, "no tensors leaked");

// %% [markdown]
// ## A seeded simulation with a progress bar
//
// Random walks of $N = 256$ steps of $\pm 1$, drawn from the project's seeded generator and summed with tfjs
// (`cumsum`). For a walk $S_n$, the mean squared displacement is exactly $\mathbb{E}[S_n^2] = n$ and
// $\operatorname{Var}(S_n^2) = 2n^2 - 2n$; the end point $S_N = 2K - N$ with $K \sim \mathrm{Binomial}(N, 1/2)$.
// The same seed gives the same numbers on every run.

// %%
const N = 256;
const WALKS = isQuick() ? 2_000 : 8_000;
const BATCH = 500;
const rng = new Rng(20240314, "quickstart/random-walk");
const sumSq = new Float64Array(N); // Σ S_n² over walks
const sumQuad = new Float64Array(N); // Σ S_n⁴ over walks
const finals: number[] = [];
const bar = progress({ total: WALKS, label: "random walks" });
for (let done = 0; done < WALKS; done += BATCH) {
  const b = Math.min(BATCH, WALKS - done);
  const steps = new Float32Array(b * N);
  for (let i = 0; i < steps.length; i++) steps[i] = rng.uniform() < 0.5 ? -1 : 1;
  const [sq, quad, last] = tf.tidy(() => {
    const pos = tf.tensor2d(steps, [b, N]).cumsum(1); // [walk, step]
    const sq = pos.square();
    return [sq.sum(0), sq.square().sum(0), pos.slice([0, N - 1], [b, 1]).reshape([b])];
  });
  const sqv = sq.dataSync(), quadv = quad.dataSync();
  for (let n = 0; n < N; n++) {
    sumSq[n]! += sqv[n]!;
    sumQuad[n]! += quadv[n]!;
  }
  finals.push(...last.dataSync());
  tf.dispose([sq, quad, last]);
  bar.tick(b, { "MSD(N)/N": sumSq[N - 1]! / (done + b) / N });
}
await bar.done();
const ns = Array.from({ length: N }, (_, i) => i + 1);
const msd = ns.map((_, i) => sumSq[i]! / WALKS);
const msdSe = ns.map((_, i) => Math.sqrt(Math.max(0, sumQuad[i]! / WALKS - msd[i]! ** 2) / WALKS));

// %% [markdown]
// ## A polars table
//
// The simulated mean squared displacement against the exact value at a few lengths; `z` is the difference in
// standard errors of the exact variance $\sqrt{(2n^2 - 2n)/W}$.

// %%
const shown = [1, 4, 16, 64, 256];
const table = pl.DataFrame({
  n: shown,
  msd_simulated: shown.map((n) => msd[n - 1]!),
  msd_exact: shown.map((n) => n),
  std_error: shown.map((n) => Math.sqrt((2 * n * n - 2 * n) / WALKS)),
  z: shown.map((n) => (n === 1 ? 0 : (msd[n - 1]! - n) / Math.sqrt((2 * n * n - 2 * n) / WALKS))),
});
table;

// %% [markdown]
// ## A figure, saved and shown
//
// Left: the mean squared displacement on log–log axes, with a ±2 standard-error band, against the exact line $n$.
// Right: the distribution of end points against the exact binomial probabilities (divided by 2, the spacing of
// the possible end points); the dashed lines mark one standard deviation, $\pm\sqrt{N}$.

// %%
function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}
const support = Array.from({ length: N + 1 }, (_, k) => 2 * k - N); // possible end points
const exactDensity = support.map((_, k) => Math.exp(logChoose(N, k) - N * Math.LN2) / 2);
const counts = new Map<number, number>();
for (const s of finals) counts.set(s, (counts.get(s) ?? 0) + 1);
const endPoints = support.filter((s) => Math.abs(s) <= 4 * Math.sqrt(N));
const empiricalDensity = endPoints.map((s) => (counts.get(s) ?? 0) / WALKS / 2);
const windowExact = endPoints.map((s) => exactDensity[(s + N) / 2]!);

const grid = gridLayout(1, 2, {
  width: 940,
  height: 400,
  gapX: 80,
  panelTitles: ["mean squared displacement", `end point after N = ${N} steps`],
});
const fig = figure(
  [
    ...bandTraces(ns, msd.map((m, i) => m - 2 * msdSe[i]!), msd.map((m, i) => m + 2 * msdSe[i]!), {
      color: DARK2_GREEN,
      name: "±2 s.e.",
      axes: grid.axes(0, 0),
    }),
    lineTrace(ns, msd, { name: `simulated (${WALKS} walks)`, color: DARK2_GREEN, axes: grid.axes(0, 0) }),
    lineTrace(ns, ns, { name: "exact: n", color: DARK2_ORANGE, dash: "dash", axes: grid.axes(0, 0) }),
    barTrace(endPoints, empiricalDensity, {
      name: "simulated end points",
      color: DARK2_GREEN,
      axes: grid.axes(0, 1),
      width: 1.6,
    }),
    lineTrace(endPoints, windowExact, {
      name: "exact: binomial / 2",
      color: DARK2_ORANGE,
      mode: "lines+markers",
      markerSize: 4,
      axes: grid.axes(0, 1),
    }),
  ],
  mergeLayout(grid.layout, {
    showlegend: true,
    legend: { orientation: "h", x: 0.5, xanchor: "center", y: -0.22 },
    margin: { b: 110 },
    xaxis: { type: "log", title: { text: "steps n" } },
    yaxis: { type: "log", title: { text: "E[S<sub>n</sub><sup>2</sup>]" } },
    xaxis2: { title: { text: "end point S<sub>N</sub>" } },
    yaxis2: { title: { text: "probability per unit" } },
    shapes: [
      vline(-Math.sqrt(N), { axes: grid.axes(0, 1) }),
      vline(Math.sqrt(N), { axes: grid.axes(0, 1) }),
    ],
  }),
);
const saved = await saveAndShow(fig, "quickstart_random_walk", {
  seed: 20240314,
  walks: WALKS,
  steps: N,
  n: ns,
  msd,
  msd_standard_error: msdSe,
  end_point: endPoints,
  end_point_density: empiricalDensity,
  end_point_density_exact: windowExact,
});
await showText(`saved ${saved.name}.{svg,png,html,data.json} in ${saved.dir}`);

// %% [markdown]
// ## Checks
//
// The run stops here if the simulation disagrees with the exact results: the mean squared displacement must lie
// within 5 standard errors of $n$ at every length, and the share of end points within one standard deviation must
// match the binomial probability within 5 standard errors. The saved data file must hold the plotted numbers.

// %%
const worstZ = Math.max(
  ...ns.slice(1).map((n, i) => Math.abs(msd[i + 1]! - n) / Math.sqrt((2 * n * n - 2 * n) / WALKS)),
);
check(worstZ < 5, `MSD within 5 s.e. of n at every length (worst |z| = ${worstZ.toFixed(2)})`);
const inside = finals.filter((s) => Math.abs(s) <= Math.sqrt(N)).length / WALKS;
const insideExact = support.reduce((acc, s, k) => acc + (Math.abs(s) <= Math.sqrt(N) ? 2 * exactDensity[k]! : 0), 0);
checkClose(inside, insideExact, 5 * Math.sqrt((insideExact * (1 - insideExact)) / WALKS), "P(|S_N| ≤ √N)");
const reread = JSON.parse(await Deno.readTextFile(saved.data)) as { msd: number[] };
check(reread.msd.length === N && reread.msd[N - 1] === msd[N - 1], `${saved.data} holds the plotted MSD`);
await showText(
  `checks passed: worst |z| = ${worstZ.toFixed(2)}, P(|S_N| ≤ √N) = ${inside.toFixed(4)} ` +
    `(exact ${insideExact.toFixed(4)}); figure files in ${saved.dir}`,
);
