// %% [markdown]
// # 04 · Follow-ups II: one-hot fraction, dictionary size and hidden dimensions, other SAE architectures
//
// Three more of the comment thread's questions, with the toy models of notebooks `01`/`02` (same seeds and recipe):
//
// 4. **One-hot fraction sweep.** How often do SAEs recover the true axes as the one-hot fraction p grows, against the
//    ℓ1 break-even fractions p* ≈ 0.22 (independent pair amplitudes) and ≈ 0.59 (equal)?
// 5. **Larger dictionaries and more hidden dimensions.** Latents near true axes, near composed directions, dead; L0.
// 6. **Other SAE architectures.** Do TopK, BatchTopK or JumpReLU escape the composed solution?

// %%
import pl from "nodejs-polars";
import { initBackend } from "@lib/engine";
import { check, checkClose, isQuick, progress } from "@lib/core";
import { show, showText } from "@lib/plot";
import {
  archFigures,
  archPredictions,
  type ArchRun,
  archStudyConfig,
  breakEvenOnehot,
  columns,
  dictSizeFigures,
  onehotFigure,
  runArchitecture,
  runDictSizes,
  runHighDim,
  runOnehotControls,
  runOnehotSweep,
  saveArchFigures,
  saveScaleFigures,
  scaleStudyConfig,
  STUDY_REPO_HIGHDIM,
  studyToys,
} from "@lib/toy";

const t0 = performance.now();
const backend = await initBackend();
const cfg = scaleStudyConfig(isQuick());
const arch = archStudyConfig(isQuick());
await showText(`backend: ${backend.summary}\nmode: ${cfg.quick ? "QUICK (reduced)" : "full"}`);
({ scale: cfg, architectures: arch });

// %% [markdown]
// **Run sizes.** Full mode: the four study toy models exactly as in `01`/`02`; the fused-kernel SAEs of questions 4–5
// for 8,000 steps of 1,024 samples (8M samples instead of the study's 32M — enough for 2-D SAEs to settle; the
// questions are about where they settle) at lr $10^{-3}$; the tfjs-trained architectures of question 6 for 2,000
// steps of 512. QUICK mode shortens every schedule and uses fewer instances. Derived values are checked in both
// modes; statements about trained SAEs are reported, not enforced.

// %%
const toys = studyToys(cfg.seed, cfg.toy_restarts, cfg.toy_steps);
for (const t of toys.values()) {
  check(t.antipodal!.x < -0.95 && t.antipodal!.y < -0.95, `${t.name}: antipodal toy cross`);
  check(t.antipodal!.xyMaxAbs < 0.1, `${t.name}: x ⟂ y`);
}
pl.DataFrame(columns([...toys.values()].map((t) => ({ dataset: t.name, seed: t.seed, final_loss: t.final_loss }))));

// %% [markdown]
// ## Q4 · One-hot fraction sweep
//
// With a fraction p of one-hot samples, the zero-MSE ℓ1 of the true axes is $1 - p/2$ and that of the diagonals
// $(1-p)D + p/\sqrt2$ ($D = 2\sqrt2/3$ for independent, $1/\sqrt2$ for equal pair amplitudes), so the axes win above
// $p^* = (1 - D)/(1/2 + 1/\sqrt2 - D)$. The SAEs (lr $10^{-3}$, λ 0.1, random initialisation) train on one fixed toy
// per amplitude setting (the D3u and D3c toys), so only the data distribution changes along the sweep. p = 1 is
// generated as one set of four mutually exclusive features (the generator rejects p = 1; the distribution is the same).

// %%
const pStarU = breakEvenOnehot(0);
const pStarC = breakEvenOnehot(1);
checkClose(pStarU, 0.217, 0.002, "break-even one-hot fraction, independent pair amplitudes");
checkClose(pStarC, 0.586, 0.002, "break-even one-hot fraction, equal pair amplitudes");
const sweepBar = progress({ total: 2 * cfg.onehot.ps.length, label: "Q4 one-hot sweep" });
let sweepDone = 0;
const sweep = await runOnehotSweep(toys, cfg, (_l, d, t) => {
  if (d === t) sweepBar.set(++sweepDone);
});
await sweepBar.done();
const sweepRows = sweep.map((q) => ({
  setting: q.setting,
  p: q.p,
  n: q.n,
  frac_axes: q.axes.p,
  axes_ci: `${q.axes.lo.toFixed(2)}–${q.axes.hi.toFixed(2)}`,
  frac_composed: q.composed.p,
  l1_axis: q.l1_measured.axis,
  l1_axis_expected: q.l1_expected.axis,
  l1_diagonal: q.l1_measured.diagonal,
  l1_diagonal_expected: q.l1_expected.diagonal,
  mean_axis_cos: q.mean_axis_cos,
}));
for (const r of sweepRows) {
  checkClose(r.l1_axis, r.l1_axis_expected, 0.01, `${r.setting} p=${r.p}: axis-dictionary ℓ1`);
  checkClose(r.l1_diagonal, r.l1_diagonal_expected, 0.01, `${r.setting} p=${r.p}: diagonal-dictionary ℓ1`);
}
await show(onehotFigure(sweep).fig, { scale: 1 });
pl.DataFrame(columns(sweepRows));

// %%
const sweepText = (["uncorrelated", "correlated"] as const).map((s) => {
  const pts = sweep.filter((q) => q.setting === s);
  const pStar = s === "correlated" ? pStarC : pStarU;
  const below = pts.filter((q) => q.p < pStar), above = pts.filter((q) => q.p > pStar);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const first = pts.find((q) => q.axes.p >= 0.5);
  return `${s} amplitudes (p* = ${pStar.toFixed(3)}): on average ${
    (100 * mean(below.map((q) => q.axes.p))).toFixed(0)
  }% ` +
    `of instances recover the true axes below p* and ${
      (100 * mean(above.map((q) => q.axes.p))).toFixed(0)
    }% above it; ` +
    (first ? `a majority first recovers them at p = ${first.p}` : "no p gives a majority at the true axes") +
    ` (at p = 0.75: ${(100 * pts.find((q) => q.p === 0.75)!.axes.p).toFixed(0)}%).`;
});
await showText(
  "Q4 answer: " + sweepText.join(" ") +
    " The objective switches sides at p*; whether training follows it is the measured fraction above.",
);

// %% [markdown]
// ### p = 1: why do SAEs miss an exact, L0 = 1 dictionary?
//
// At p = 1 every sample is one true feature: the hidden data lie on the four rays $\pm W_x, \pm W_y$, and the
// true-axis dictionary reconstructs them exactly with one active latent. Yet in the sweep only a minority of
// instances end there. Candidate causes: the per-sample ‖h‖ normalisation (near-zero samples dominate the gradient
// and, through Adam with β1 = 0, move parameters in jumps), a schedule too short to leave a mixed code, and an ℓ1
// term too weak to prefer the axes strongly enough. The controls below change one of these at a time (same toys,
// same number of instances). **Rule:** a configuration *solves* p = 1 when at least 80% of its instances end at the
// true axes (mean max |cos| > 0.95); "exact" additionally counts instances with a decoder row within cos 0.99 of
// each of the four true features. A configuration whose instances sit at the axes but reconstruct poorly (median
// Σ error / Σ‖h‖² well above the sweep recipe's) finds the right directions at the price of shrinkage.

// %%
const ctrlBar = progress({ total: 10, label: "Q4 p = 1 controls" }); // 2 settings × 5 controls
let ctrlDone = 0;
const controls = await runOnehotControls(toys, cfg, (_l, d, t) => {
  if (d === t) ctrlBar.set(++ctrlDone);
});
await ctrlBar.done();
const controlRows = controls.map((c) => ({
  setting: c.setting,
  control: c.label,
  steps: c.steps,
  lambda: c.l1,
  n: c.n,
  frac_axes: c.axes.p,
  axes_ci: `${c.axes.lo.toFixed(2)}–${c.axes.hi.toFixed(2)}`,
  exact_axes: c.exact_axes,
  median_mse_ratio: c.median_mse_ratio,
  solves: c.axes.p >= 0.8,
}));
pl.DataFrame(columns(controlRows));

// %%
const solved = controlRows.filter((r) => r.solves);
await showText(
  "p = 1 controls: " +
    controlRows.map((r) =>
      `${r.setting}, ${r.control}: ${
        (100 * r.frac_axes).toFixed(0)
      }% at the axes (${r.axes_ci}), ${r.exact_axes}/${r.n} ` +
      `exact, median ratio ${r.median_mse_ratio.toExponential(1)}`
    ).join("; ") + ". " +
    (solved.length > 0
      ? `Solved (≥ 80% at the axes) by: ${solved.map((r) => `${r.setting} ${r.control}`).join(", ")}.`
      : "No control reaches 80% at the axes: see the reading below."),
);

// %% [markdown]
// **Reading.** In the instances inspected while preparing this notebook, the ones that miss the axes are not random:
// two latents sit between two neighbouring rays (|cos| 0.7–0.85 to each) and reconstruct both as sums — the
// composed code restricted to a pair of rays, exact but with √2 more ℓ1 on those rays. Every latent still fires, so
// ghost gradients (which act only on latents silent for 400 steps) never move them; the ℓ1 difference between the two
// exact codes is the only force, and the ‖h‖ normalisation weakens it where the data are (it makes the reconstruction
// term scale-free while ℓ1 grows with ‖h‖, and it lets near-zero samples dominate the steps). So the longer schedule
// hardly helps, dropping the normalisation helps, and dropping it with a larger λ helps most — at the price of
// shrinkage (a larger ratio). Measured then (16 instances each, correlated amplitudes, own seeds): sweep recipe 4/16,
// 4× longer 4/16, samples with $\lVert h\rVert < 0.05$ dropped 2/16, no normalisation 7/16, with λ = 0.3 9/16,
// λ = 0.5 15/16, λ = 1 12/16. The table above is this execution's answer.

// %% [markdown]
// ## Q5 · Larger dictionaries and more hidden dimensions
//
// **(a) More latents in the 2-D plane.** d_sae ∈ {4, 6, 8, 16, 64} on every study toy. A latent is "near an axis"
// (or "near a composed direction") when its decoder row has |cos| > 0.95 with one; "dead" when it never fires on the
// evaluation samples. In the large-width limit latents can tile the circle, L0 → 1 and ℓ1 → E‖h‖ (spec §9.6).
// Reconstruction is reported as in notebook `01`: the held-out ratio Σ error / Σ‖h‖² and median per-sample
// normalised MSE (robust), the study's mean (which one near-zero sample can decide: an earlier version of this table
// showed a mean of 424 for D1 at d_sae 64, an SAE whose ratio is below 0.01), and the count of broken instances.

// %%
const dictBar = progress({ total: cfg.dict.sizes.length * cfg.dict.datasets.length, label: "Q5a dictionary sizes" });
let dictDone = 0;
const dictRows = await runDictSizes(toys, cfg, (_l, d, t) => {
  if (d === t) dictBar.set(++dictDone);
});
await dictBar.done();
const dictTable = dictRows.map((r) => ({
  dataset: r.dataset,
  d_sae: r.d_sae,
  near_axis: r.counts.near_axis,
  near_composed: r.counts.near_composed,
  other: r.counts.other,
  dead: r.counts.dead,
  l0: r.l0,
  l1: r.l1,
  l1_bound: r.l1_bound,
  mse_ratio: r.mse_ratio,
  median_nmse: r.median_normalized_mse,
  mean_nmse: r.normalized_mse,
  broken: r.broken,
  loss: r.loss,
}));
for (const r of dictTable) {
  checkClose(r.near_axis + r.near_composed + r.other + r.dead, r.d_sae, 1e-9, `${r.dataset} d_sae=${r.d_sae}: counts`);
  check(Number.isFinite(r.loss), `${r.dataset} d_sae=${r.d_sae}: finite loss`);
}
pl.DataFrame(columns(dictTable));

// %% [markdown]
// **(b) More features per set, more hidden dimensions.** Feature sets (4, 4) in 2, 3, 4 hidden dimensions and (8, 8)
// in 4, 6, 8 (independent amplitudes, as the study's April follow-up notebook), one latent per true feature, λ 0.3.
// Toy models are trained for fewer steps than the 2-D ones (stated in the configuration). The heat maps show the
// lowest-loss instance: each latent's response to each unit true feature, and the cosine between true feature
// directions and decoder rows.

// %%
const highBar = progress({ total: cfg.highdim.cases.length, label: "Q5b higher-dimensional toys" });
let highDone = 0;
const high = await runHighDim(cfg, (_l, d, t) => {
  if (d === t) highBar.set(++highDone);
});
await highBar.done();
await saveScaleFigures(sweep, dictRows, high);
const dsf = dictSizeFigures(dictRows, high);
await show(dsf.latents.fig, { scale: 1 });
await show(dsf.heatmaps.fig, { scale: 1 });
const highTable = high.map((h) => {
  const n = h.instances.length;
  const m = (f: (i: (typeof h.instances)[number]) => number) => h.instances.reduce((a, i) => a + f(i), 0) / n;
  return {
    toy: `(${h.feat_sets.join(",")}) in ${h.n_hidden}D`,
    toy_final_loss: h.toy_final_loss,
    d_sae: h.feat_sets[0] + h.feat_sets[1],
    near_axis: m((i) => i.counts.near_axis),
    near_composed: m((i) => i.counts.near_composed),
    dead: m((i) => i.counts.dead),
    other: m((i) => i.counts.other),
    monosemanticity: m((i) => i.monosemanticity),
    l0: m((i) => i.l0),
  };
});
pl.DataFrame(columns(highTable));

// %% [markdown]
// **Against the study's repository runs (spec §12).** The study's April notebook trained (4, 4) and (8, 8) toys in
// more hidden dimensions with a longer SAE recipe (lr 3×10⁻⁴, 64M–128M samples, and for some cases λ 0.5–0.8 and
// β1 0.9); its saved outputs give the monosemanticity per instance. This notebook's recipe is shorter (8M samples,
// lr 10⁻³, λ 0.3, β1 0), so a lower score here may be training length rather than a disagreement; the comparison
// below says which cases agree within the study's range.

// %%
const repoRows = highTable.map((h) => {
  const ref = STUDY_REPO_HIGHDIM.find((r) => r.toy === h.toy);
  return {
    toy: h.toy,
    monosemanticity_here: h.monosemanticity,
    study_repo_range: ref ? `${ref.min.toFixed(2)}–${ref.max.toFixed(2)}` : "not run",
    study_recipe: ref?.recipe ?? "",
    within_study_range: ref ? h.monosemanticity >= ref.min - 0.05 && h.monosemanticity <= ref.max + 0.05 : null,
  };
});
pl.DataFrame(columns(repoRows));

// %%
const by = (name: string) => dictRows.filter((r) => r.dataset === name);
await showText(
  "Q5 answer: " + [...new Set(dictRows.map((r) => r.dataset))].map((name) => {
    const rs = by(name);
    const a = rs[0]!, z = rs[rs.length - 1]!;
    return `${name}: from d_sae ${a.d_sae} to ${z.d_sae}, latents near the axes ${a.counts.near_axis.toFixed(1)} → ` +
      `${z.counts.near_axis.toFixed(1)}, near composed directions ${a.counts.near_composed.toFixed(1)} → ` +
      `${z.counts.near_composed.toFixed(1)}, dead ${a.counts.dead.toFixed(1)} → ${z.counts.dead.toFixed(1)}, ` +
      `L0 ${a.l0.toFixed(2)} → ${z.l0.toFixed(2)}, ℓ1 ${a.l1.toFixed(3)} → ${z.l1.toFixed(3)} (bound E‖h‖ ${
        z.l1_bound.toFixed(3)
      }).`;
  }).join(" ") + " Higher dimensions: " +
    highTable.map((h) =>
      `${h.toy}: ${h.near_axis.toFixed(1)}/${h.d_sae} latents near true axes, ${
        h.near_composed.toFixed(1)
      } near composed ` +
      `directions, ${h.dead.toFixed(1)} dead (monosemanticity ${h.monosemanticity.toFixed(2)})`
    ).join("; ") + ".",
);

// %% [markdown]
// ## Q6 · Other SAE architectures
//
// TopK (k = 1, 2), BatchTopK (k = 1 per sample on average) and JumpReLU (L0 penalty 0.1, threshold 0.05, kernel
// bandwidth 0.05) from the SAE core, with the ReLU+ℓ1 SAE as reference (at the same budget, and trained 8× longer,
// since at the shared budget it is undertrained: an earlier execution had 1/20 of its instances at the axes and
// 15/20 mixed), all trained with the core tfjs trainer
// (study recipe: normalised MSE, unit-norm decoder rows, geometric-median $b_\text{dec}$, Adam β1 = 0, lr 3×10⁻³;
// ghost grads for ReLU, the auxiliary-k loss for the TopK family). One SAE per architecture holds every data set ×
// seed as an instance, each fed its own data set's activations.
//
// **Derived predictions.** TopK with k = 1 must reconstruct each sample from one latent; with the exact dictionaries
// the axes lose $\min(\alpha^2,\beta^2)/(\alpha^2+\beta^2)$ and the diagonals $(|\alpha|-|\beta|)^2/(2(\alpha^2+\beta^2))$
// per sample (computed below on samples). With k = 2 both reconstruct exactly, so the objective has no preference.
// An L0 penalty compares the zero-MSE L0: axes $2(1-p)+p$, diagonals $(1-p)\cdot\{2, 1\} + 2p$.

// %%
const preds = archPredictions(arch.datasets, 50_000, arch.seed);
pl.DataFrame(columns(preds.map((p) => ({
  dataset: p.dataset,
  topk1_mse_axis: p.topk1_mse.axis,
  topk1_mse_diagonal: p.topk1_mse.diagonal,
  topk1_prefers: p.topk1_prefers,
  l0_axis: p.l0.axis,
  l0_diagonal: p.l0.diagonal,
  l0_prefers: p.l0_prefers,
}))));

// %%
const archRuns: ArchRun[] = [];
for (const v of arch.variants) {
  const bar = progress({ total: v.steps ?? arch.steps, label: `Q6 ${v.label}` });
  archRuns.push(await runArchitecture(v, toys, arch, (d) => bar.set(d)));
  await bar.done();
}
await saveArchFigures(archRuns, toys, arch.datasets);
const af = archFigures(archRuns, toys, arch.datasets);
await show(af.outcomes.fig, { scale: 1 });
await show(af.dictionaries.fig, { scale: 1 });
const archTable = archRuns.flatMap((r) =>
  arch.datasets.map((d) => {
    const rs = r.instances.filter((i) => i.dataset === d);
    return {
      architecture: r.variant.label,
      dataset: d,
      n: rs.length,
      axes: rs.filter((i) => i.final_class === "axes").length,
      composed: rs.filter((i) => i.final_class === "composed").length,
      mixed: rs.filter((i) => i.final_class === "mixed").length,
      mean_mse: rs.reduce((a, i) => a + i.normalized_mse, 0) / rs.length,
      mean_mse_ratio: rs.reduce((a, i) => a + i.mse_ratio, 0) / rs.length,
      broken: rs.filter((i) => i.broken).length,
      mean_l0: rs.reduce((a, i) => a + i.l0, 0) / rs.length,
      max_active: Math.max(...rs.map((i) => i.max_active)),
      exactly_k: rs.reduce((a, i) => a + i.exactly_k, 0) / rs.length,
      seconds: r.ms / 1000,
    };
  })
);
for (const r of archRuns) {
  if (r.variant.architecture !== "topk") continue;
  for (const i of r.instances) {
    check(i.max_active <= r.variant.k, `${r.variant.label} ${i.dataset}: at most k active latents (${i.max_active})`);
  }
}
pl.DataFrame(columns(archTable));

// %%
await showText(
  "Q6 answer: " + archRuns.map((r) => {
    const rs = r.instances;
    const ax = rs.filter((i) => i.final_class === "axes").length;
    const co = rs.filter((i) => i.final_class === "composed").length;
    const perDs = arch.datasets.map((d) => {
      const s = rs.filter((i) => i.dataset === d);
      return `${d} ${s.filter((i) => i.final_class === "axes").length}/${
        s.filter((i) => i.final_class === "composed").length
      }`;
    }).join(", ");
    let pred = "";
    if (r.variant.architecture === "topk" && r.variant.k === 1) {
      pred = `; the k = 1 MSE prediction favours ${preds.map((p) => `${p.dataset}: ${p.topk1_prefers}`).join(", ")}`;
    }
    if (r.variant.architecture === "jumprelu") {
      pred = `; the L0 prediction favours ${preds.map((p) => `${p.dataset}: ${p.l0_prefers}`).join(", ")}`;
    }
    if (r.variant.architecture === "topk") {
      const exact = rs.reduce((a, i) => a + i.exactly_k, 0) / rs.length;
      pred += `; ${(100 * exact).toFixed(1)}% of samples have exactly k active latents, none more than k`;
    }
    return `${r.variant.label}: ${ax}/${rs.length} instances at the true axes, ${co} composed (axes/composed per data set: ${perDs})${pred}.`;
  }).join(" "),
);

// %%
await showText(`notebook wall time: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
