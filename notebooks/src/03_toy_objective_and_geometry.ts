// %% [markdown]
// # 03 · Follow-ups I: the objective, its basins, the geometry of the data, and the choice of basis
//
// The comment thread on the study asked sharp questions about notebooks `01`/`02`. This notebook answers four of them
// with the same toy models (same seeds and recipe) and the same SAE recipe:
//
// 1. **Is the composed basis optimal or a local minimum?** The SAE objective at hand-built dictionaries rotated from
//    the true axes (0°) to the composed diagonals (45°), with biases and scales optimised per angle.
// 2. **Initialise at the optimum.** SAEs started at the perturbed axis and diagonal optima, and from ≥ 50 random
//    initialisations (basin sizes).
// 3. **PCA and kurtosis of the hidden space.** Covariance eigenvalues and the kurtosis of projections vs angle.
// 7. **Basis (non-)identifiability.** The same generator written in a rotated input basis.
//
// Questions 4–6 are in notebook `04`.

// %%
import pl from "nodejs-polars";
import { initBackend, Rng } from "@lib/engine";
import { check, checkClose, isQuick, progress } from "@lib/core";
import { show, showText } from "@lib/plot";
import {
  basinFigure,
  type BasinRun,
  basisFigure,
  columns,
  ComposedFeatureData,
  datasetConfig,
  dictionaryL1,
  fisherExactTwoSided,
  landscapeFigures,
  momentsFigure,
  objectiveStudyConfig,
  runBasins,
  runBasis,
  runLandscapes,
  runMoments,
  saveBasisFigure,
  saveMomentsFigure,
  saveObjectiveFigures,
  studyToys,
} from "@lib/toy";

const t0 = performance.now();
const backend = await initBackend();
const cfg = objectiveStudyConfig(isQuick());
await showText(`backend: ${backend.summary}\nmode: ${cfg.quick ? "QUICK (reduced)" : "full"}`);
cfg;

// %% [markdown]
// **Run sizes.** Full mode trains the toy models exactly as notebooks `01`/`02` (10,000 × 1,000, best of 4 restarts,
// same seeds — so they are the same models) and every SAE for 10,000 steps of 1,024 samples (10M samples; the study's
// grid used 32M, but 2-D SAEs settle long before — and the questions here are about *where* they settle) at lr
// $10^{-3}$, λ 0.1. QUICK mode shortens the toy training to 2,500 steps, SAEs to 1,500 steps of 256, and uses 16
// instead of 64 random seeds. Checks against derived values run in both modes; statements about trained SAEs are
// reported, not enforced.

// %%
const toys = studyToys(cfg.seed, cfg.toy_restarts, cfg.toy_steps, cfg.datasets);
const toyRows = [...toys.values()].map((t) => ({
  dataset: t.name,
  seed: t.seed,
  final_loss: t.final_loss,
  cos_x1_x2: t.antipodal!.x,
  cos_y1_y2: t.antipodal!.y,
  max_abs_cos_x_y: t.antipodal!.xyMaxAbs,
}));
for (const r of toyRows) {
  check(r.cos_x1_x2 < -0.95 && r.cos_y1_y2 < -0.95, `${r.dataset}: antipodal pairs (${r.cos_x1_x2}, ${r.cos_y1_y2})`);
  check(r.max_abs_cos_x_y < 0.1, `${r.dataset}: x ⟂ y (max |cos| ${r.max_abs_cos_x_y})`);
}
pl.DataFrame(columns(toyRows));

// %% [markdown]
// ## Q1 · Is the composed basis optimal, or a local minimum?
//
// Take the toy's hidden plane with the orthonormal frame $u \propto W_{x_1} - W_{x_2}$, $v \perp u$. A hand-built SAE
// at angle φ has the four unit decoder rows $\{\pm R_\varphi u, \pm R_\varphi v\}$ (φ = 0: the true axes; φ = 45°:
// the composed diagonals $x_i + y_j$), encoder rows $s_k \cdot d_k$ and biases $b_k$, $b_\text{dec}$. For every φ the
// scales and biases are optimised (Adam on exact gradients, from the exact reconstruction and warm-started from the
// previous angle) for the objective with the reconstruction term in its ratio form,
// $\sum_b\lVert\hat h_b - h_b\rVert^2/\sum_b\lVert h_b\rVert^2$ + λ·ℓ1 with λ = 0.1. (The study's per-sample form
// $\mathrm{mean}_b\,\lVert\hat h_b - h_b\rVert^2/\lVert h_b\rVert^2$ has an infinite expectation for any output
// offset at $h = 0$; on a fixed sample set its optimised value was decided by the set's smallest sample,
// $\lVert h\rVert = 3.9\times10^{-7}$. Trained SAEs are placed on the curve by the same ratio form on their
// evaluation samples.)
//
// First the derived check. With $s = 1, b = 0$ every rotated dictionary reconstructs exactly, and its ℓ1 per sample
// is $|\alpha\cos\varphi + \beta\sin\varphi| + |-\alpha\sin\varphi + \beta\cos\varphi|$ (α = x1 − x2, β = y1 − y2). At
// 0° and 45° this must give the §9.5 table — D1: axes 1.000, diagonals 0.707; D3 at 75% one-hot: axes 0.625,
// diagonals ≈ 0.766 (independent pair amplitudes) or 0.707 (equal).

// %%
const lands = runLandscapes(toys, cfg);
const exactRows = lands.map((l) => {
  const x = new ComposedFeatureData(datasetConfig(l.dataset)).sample(
    cfg.landscape.samples,
    new Rng(cfg.seed, "landscape/samples"),
  );
  const d = dictionaryL1(x, cfg.landscape.samples);
  const p0 = l.points.find((p) => p.angle_deg === 0)!;
  const p45 = l.points.find((p) => p.angle_deg === 45)!;
  return {
    dataset: l.dataset,
    axes_l1: p0.exact_l1_ideal,
    diagonal_l1: p45.exact_l1_ideal,
    axes_expected: l.expected.axis,
    diagonal_expected: l.expected.diagonal,
    se: Math.max(d.se.axis, d.se.diagonal),
    axes_l1_through_toy: p0.exact_l1_toy,
    diagonal_l1_through_toy: p45.exact_l1_toy,
    dictionaryL1_axis: d.axis,
    dictionaryL1_diagonal: d.diagonal,
  };
});
for (const r of exactRows) {
  checkClose(r.axes_l1, r.dictionaryL1_axis, 1e-9, `${r.dataset}: rotated dictionary at 0° = the axis dictionary`);
  checkClose(r.diagonal_l1, r.dictionaryL1_diagonal, 1e-9, `${r.dataset}: rotated dictionary at 45° = the diagonals`);
  checkClose(r.axes_l1, r.axes_expected, 5 * r.se, `${r.dataset}: zero-MSE ℓ1 of the axes vs §9.5`);
  checkClose(r.diagonal_l1, r.diagonal_expected, 5 * r.se, `${r.dataset}: zero-MSE ℓ1 of the diagonals vs §9.5`);
}
pl.DataFrame(columns(exactRows));

// %% [markdown]
// The curves agree with the table within 5 standard errors (checked). Now the full objective with scales and biases
// optimised at each angle:

// %%
const landRows = lands.flatMap((l) =>
  l.points.map((p) => ({
    dataset: l.dataset,
    angle_deg: p.angle_deg,
    loss: p.loss,
    normalized_mse: p.normalized_mse,
    l1: p.l1,
    l0: p.l0,
    mean_scale: p.params.s.reduce((a, b) => a + b, 0) / 4,
    mean_bias: p.params.b.reduce((a, b) => a + b, 0) / 4,
  }))
);
for (const r of landRows) check(Number.isFinite(r.loss) && r.loss >= 0, `${r.dataset} ${r.angle_deg}°: finite loss`);
pl.DataFrame(columns(landRows));

// %% [markdown]
// ## Q2 · Initialise at the optimum; basin sizes
//
// For every data set, SAEs start at the optimised hand-built axis (0°) and diagonal (45°) solutions above, perturbed
// by Gaussian noise of standard deviation σ on every encoder and decoder weight and encoder bias, and train with the
// study's recipe. In the same run, random initialisations (the study's init) estimate the size of each basin. An
// instance "ends at the axes" when the mean |cos| of its decoder rows to the nearest true axis exceeds 0.95, "at the
// composed diagonals" likewise, and "mixed" otherwise. These trained SAEs are also the points overlaid on the Q1
// landscape.

// %%
const basins: BasinRun[] = [];
for (const l of lands) {
  const bar = progress({ total: cfg.sae.steps, label: `${l.dataset}: Q2 SAEs` });
  basins.push(await runBasins(toys.get(l.dataset)!, l, cfg, (d) => bar.set(d)));
  await bar.done();
}
await saveObjectiveFigures(lands, basins);
const figsQ1 = landscapeFigures(lands, basins);
await show(figsQ1.exact.fig, { scale: 1 });
await show(figsQ1.objective.fig, { scale: 1 });

// %%
const landAnswer = lands.map((l) => {
  const best = l.points.reduce((a, b) => (b.loss < a.loss ? b : a));
  const p0 = l.points.find((p) => p.angle_deg === 0)!;
  const p45 = l.points.find((p) => p.angle_deg === 45)!;
  const b = basins.find((x) => x.dataset === l.dataset)!;
  const trainedBest = b.instances.reduce((a, c) => (c.loss < a.loss ? c : a));
  const interior = l.points.filter((p, i) =>
    i > 0 && i < l.points.length - 1 && p.loss > l.points[i - 1]!.loss && p.loss > l.points[i + 1]!.loss
  );
  return {
    dataset: l.dataset,
    best_angle: best.angle_deg,
    loss_axes: p0.loss,
    loss_diagonals: p45.loss,
    barrier_angles: interior.map((p) => p.angle_deg).join(" ") || "none",
    trained_best_loss: trainedBest.loss,
    trained_best_angle: trainedBest.angle_deg,
    trained_best_class: trainedBest.final_class,
  };
});
pl.DataFrame(columns(landAnswer));

// %%
await showText(
  "Q1 answer (λ = 0.1): " +
    landAnswer.map((r) =>
      `${r.dataset}: the optimised hand-built objective is lowest at ${r.best_angle}° ` +
      `(axes ${r.loss_axes.toFixed(4)}, diagonals ${
        r.loss_diagonals.toFixed(4)
      }; interior maxima at: ${r.barrier_angles}); ` +
      `the best trained SAE reaches ${r.trained_best_loss.toFixed(4)} at ${
        r.trained_best_angle.toFixed(1)
      }° (${r.trained_best_class}).`
    ).join(" ") +
    " An interior maximum between 0° and 45° means the two ends are separate minima along this path; a monotone curve" +
    " means one end is the only minimum along it. Where the trained SAEs sit above the line, training has not reached" +
    " the best hand-built solution of its own objective.",
);

// %% [markdown]
// The figure `toy_init_at_optimum_outcomes` and its table: for each start condition, where the instances ended.

// %%
await show(basinFigure(basins).fig, { scale: 1 });
const basinRows = basins.flatMap((b) => {
  const starts = [...new Set(b.instances.map((r) => r.start))];
  return starts.map((s) => {
    const rs = b.instances.filter((r) => r.start === s);
    return {
      dataset: b.dataset,
      start: s,
      n: rs.length,
      stayed: rs[0]!.stayed === null ? null : rs.filter((r) => r.stayed).length / rs.length,
      axes: rs.filter((r) => r.final_class === "axes").length,
      composed: rs.filter((r) => r.final_class === "composed").length,
      mixed: rs.filter((r) => r.final_class === "mixed").length,
      mean_loss: rs.reduce((a, r) => a + r.loss, 0) / rs.length,
    };
  });
});
for (const b of basins) {
  check(b.random.n >= (cfg.quick ? 16 : 50), `${b.dataset}: ${b.random.n} random seeds (need ≥ 50 in full mode)`);
}
pl.DataFrame(columns(basinRows));

// %%
const pct = (v: number) => `${(100 * v).toFixed(0)}%`;
await showText(
  "Q2 answer: " + basins.map((b) => {
    const small = Math.min(...cfg.basin.sigmas);
    const stayA = b.instances.filter((r) => r.start_class === "axes" && r.sigma === small);
    const stayD = b.instances.filter((r) => r.start_class === "composed" && r.sigma === small);
    const frac = (rs: typeof stayA) => rs.filter((r) => r.stayed).length / rs.length;
    return `${b.dataset}: at σ = ${small}, ${pct(frac(stayA))} of axis starts and ${pct(frac(stayD))} of diagonal ` +
      `starts stay where they began; of ${b.random.n} random initialisations ${pct(b.random.axes.p)} end at the axes ` +
      `(95% CI ${pct(b.random.axes.lo)}–${pct(b.random.axes.hi)}) and ${pct(b.random.composed.p)} at the diagonals ` +
      `(${pct(b.random.composed.lo)}–${pct(b.random.composed.hi)}).`;
  }).join(" ") +
    " A start that stays put under small perturbations is a local minimum of the training dynamics; the random-seed" +
    " fractions are the relative basin sizes the study's initialisation samples.",
);

// %% [markdown]
// **Does staying depend on σ?** A basin picture predicts that fewer starts stay as σ grows. The table below gives, per
// data set and start, the starts that stayed at each σ and a two-sided Fisher exact test between the smallest and
// the largest σ (a previous execution had D2 axis starts staying 0/8 at σ = 0.05 but 5/8 at σ = 0.2, the opposite of
// that prediction). A difference with p < 0.05 in that direction is reported as unexplained here.

// %%
const sigmaRows = basins.flatMap((b) =>
  (["axes", "composed"] as const).map((start) => {
    const rs = b.instances.filter((r) => r.start_class === start);
    const sig = [...new Set(rs.map((r) => r.sigma!))].sort((x, y) => x - y);
    const at = (sg: number) => rs.filter((r) => r.sigma === sg);
    const lo = at(sig[0]!), hi = at(sig[sig.length - 1]!);
    const k = (x: typeof rs) => x.filter((r) => r.stayed).length;
    return {
      dataset: b.dataset,
      start,
      stayed_per_sigma: sig.map((sg) => `σ=${sg}: ${k(at(sg))}/${at(sg).length}`).join(", "),
      fisher_p_smallest_vs_largest: fisherExactTwoSided(k(lo), lo.length - k(lo), k(hi), hi.length - k(hi)),
    };
  })
);
pl.DataFrame(columns(sigmaRows));

// %% [markdown]
// ## Q3 · PCA and kurtosis of the hidden space
//
// The derived prediction (spec §9.5): for the ideal cross, the hidden covariance is isotropic, $\frac{1 - p/2}{3} I$
// (PCA has no preferred direction), while the fourth moment of the projection $z = h\cdot w$ singles out directions:
// $E z^4 = 0.2(1 - p/2)$ on an axis and $p/20 + (1-p)\cdot\{4/15, 2/5\}$ on a diagonal (independent / equal pair
// amplitudes). So kurtosis peaks on the **diagonals** for D1 and D2 and on the **axes** for D3u; for D3c the same
// formula gives 0.1375 on a diagonal against 0.125 on an axis (diagonals, narrowly).

// %%
const moments = runMoments(toys, cfg);
await saveMomentsFigure(moments);
await show(momentsFigure(moments).fig, { scale: 1 });
const momentRows = moments.map((m) => ({
  dataset: m.dataset,
  eig_1: m.covariance.eigenvalues[0]!,
  eig_2: m.covariance.eigenvalues[1]!,
  eig_ratio: m.covariance.ratio,
  ideal_m4_axis: m.ideal.find((r) => r.angle_deg === 0)!.m4,
  expected_m4_axis: m.expected.m4_axis,
  ideal_m4_diagonal: m.ideal.find((r) => r.angle_deg === 45)!.m4,
  expected_m4_diagonal: m.expected.m4_diagonal,
  predicted_max: m.predicted_max,
  measured_kurtosis_diag_over_axis: m.measured_diag_over_axis,
  measured_max: m.measured_diag_over_axis > 1 ? "diagonals" : "axes",
}));
for (const r of momentRows) {
  check(r.eig_ratio > 0.9, `${r.dataset}: covariance near-isotropic (eigenvalue ratio ${r.eig_ratio})`);
  checkClose(r.ideal_m4_axis, r.expected_m4_axis, 0.05 * r.expected_m4_axis, `${r.dataset}: ideal E z⁴ on an axis`);
  checkClose(
    r.ideal_m4_diagonal,
    r.expected_m4_diagonal,
    0.05 * r.expected_m4_diagonal,
    `${r.dataset}: ideal E z⁴ on a diagonal`,
  );
}
pl.DataFrame(columns(momentRows));

// %%
await showText(
  "Q3 answer: " +
    momentRows.map((r) =>
      `${r.dataset}: covariance eigenvalues ${r.eig_1.toFixed(4)} and ${r.eig_2.toFixed(4)} (ratio ${
        r.eig_ratio.toFixed(3)
      }); ` +
      `kurtosis through the trained toy is ${
        r.measured_kurtosis_diag_over_axis.toFixed(3)
      }× larger on the diagonals than ` +
      `on the axes, so it peaks at the ${r.measured_max} (predicted: ${r.predicted_max}${
        r.measured_max === r.predicted_max ? ", agrees" : ", DISAGREES"
      }).`
    ).join(" ") +
    ` Second moments do not single out any direction (smallest eigenvalue ratio ${
      Math.min(...momentRows.map((r) => r.eig_ratio)).toFixed(3)
    }); the fourth moments do, and the kurtosis maximum coincides with the lower zero-MSE ℓ1 dictionary of Q1 on ${
      momentRows.filter((r) => {
        const l = lands.find((q) => q.dataset === r.dataset)!;
        const l1Prefers = l.points.find((p) => p.angle_deg === 45)!.exact_l1_ideal <
            l.points.find((p) => p.angle_deg === 0)!.exact_l1_ideal
          ? "diagonals"
          : "axes";
        return l1Prefers === r.measured_max;
      }).map((r) => r.dataset).join(", ") || "no data set"
    }.`,
);

// %% [markdown]
// ## Q7 · Basis (non-)identifiability
//
// The comment thread: nothing in the SAE's data singles out the basis the generator was written in; "you could
// generate the dataset with a different basis, e.g. [1,0,0,0] = ½[1,0,1,0] + ½[1,0,−1,0]". Here the generator's
// features are written in that rotated basis: x1 ↦ (e_x1 + e_y1)/√2, x2 ↦ (e_x2 + e_y2)/√2, y1 ↦ (e_x1 − e_y1)/√2,
// y2 ↦ (e_x2 − e_y2)/√2. A new toy model is trained on the rotated inputs (same recipe), SAEs on its hidden
// activations, and every dictionary is classified twice: against the **generator features** (rows of $BW$) and
// against the **standard-basis inputs** (rows of $W$). The ReLU-output toy cannot output the negative inputs of the
// rotated basis, so its loss floor is higher; that is part of the answer.

// %%
const basisRuns = await runBasis(toys, cfg);
await saveBasisFigure(basisRuns);
await show(basisFigure(basisRuns).fig, { scale: 1 });
const basisRows = basisRuns.map((r) => {
  const count = (key: "class_generator" | "class_standard", c: string) =>
    r.instances.filter((i) => i[key] === c).length;
  return {
    dataset: r.dataset,
    basis: r.basis,
    toy_final_loss: r.toy.final_loss,
    n: r.instances.length,
    generator_axes: count("class_generator", "axes"),
    generator_composed: count("class_generator", "composed"),
    standard_axes: count("class_standard", "axes"),
    standard_composed: count("class_standard", "composed"),
  };
});
for (const r of basisRuns) {
  for (const i of r.instances) check(Number.isFinite(i.loss), `${r.dataset} ${r.basis}: finite SAE loss`);
}
pl.DataFrame(columns(basisRows));

// %%
await showText(
  "Q7 answer: " +
    basisRows.map((r) =>
      `${r.dataset}, ${r.basis} basis (toy loss ${r.toy_final_loss.toExponential(2)}): of ${r.n} SAEs, ` +
      `${r.generator_axes} align with the generator features and ${r.generator_composed} with their composed directions; ` +
      `against the standard-basis inputs, ${r.standard_axes} are axis-aligned and ${r.standard_composed} composed.`
    ).join(" ") +
    (() => {
      const rot = basisRows.filter((r) => r.basis === "rotated");
      const differ = rot.filter((r) =>
        r.generator_axes !== r.standard_axes || r.generator_composed !== r.standard_composed
      );
      return differ.length > 0
        ? ` For ${differ.map((r) => r.dataset).join(", ")} in the rotated basis the same trained dictionaries are ` +
          "classified differently against the two descriptions: the SAE only sees hidden activations, and which " +
          "directions count as 'true features' is a choice of description, not something the activations single out."
        : " In this run both descriptions classify the rotated-basis dictionaries identically.";
    })(),
);

// %%
await showText(`notebook wall time: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
