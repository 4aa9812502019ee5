// %% [markdown]
// # 01 · SAEs on composed features in a toy model (data sets D1 and D2)
//
// The study (LessWrong, March 2024) trains sparse autoencoders on the hidden activations of a tiny ReLU-output toy
// model whose input features come in **composed pairs**, and reports:
//
// > SAEs trained on the activations of these small toy models find composed features rather than the true features,
// > regardless of learning rate or ℓ1 coefficient used in SAE training.
//
// This notebook reruns that experiment for the two data sets of the main result:
//
// - **D1**, correlated amplitudes: every sample is $a\,(e_{x_i} + e_{y_j})$ with one feature of each set and the same
//   amplitude $a \sim U[0,1)$;
// - **D2**, uncorrelated amplitudes: $a\,e_{x_i} + b\,e_{y_j}$ with $a, b$ independent.
//
// The steps: check the data generator, train the toy model and look at its geometry, train a 5 × 5 grid of SAEs
// (learning rate × ℓ1 coefficient, 5 instances per cell) on its hidden activations, and compare the SAEs' decoder
// directions with the true feature axes and with the composed (diagonal) directions. Notebook `02` does the same
// with one-hot samples mixed in (D3).

// %%
import pl from "nodejs-polars";
import { initBackend } from "@lib/engine";
import { check, checkClose, isQuick, progress } from "@lib/core";
import { show, showText } from "@lib/plot";
import {
  cellRows,
  checkDictionaryRows,
  columns,
  datasetConfig,
  dictionaryRows,
  fisherExactTwoSided,
  generatorStats,
  gridFigure,
  lrRowSummaries,
  rotationFor,
  runGridStage,
  runToyStage,
  schematicFigure,
  smallestNormSamples,
  STUDY_CODE_REFERENCE,
  toyModelFigure,
  toyStudyConfig,
} from "@lib/toy";

const backend = await initBackend();
const cfg = toyStudyConfig(isQuick());
await showText(`backend: ${backend.summary}\nmode: ${cfg.quick ? "QUICK (reduced SAE training)" : "full"}`);
cfg;

// %% [markdown]
// The configuration above is everything this notebook runs with. One base seed feeds separate named random streams:
// `toy/init` and `toy/batches` for the toy model, `sae/init` (one draw per grid cell, seed + cell index),
// `sae/bdec`, `sae/batches/group{c}` (one training stream per cell), `sae/select/{c}` (one fresh selection batch per
// cell), `sae/eval` (the held-out set) for the SAEs, and `check/*` for the checks, so each part is
// reproducible on its own (the study's code reseeded one global generator, which tied them together).
//
// **QUICK mode** (`QUICK=1`) keeps the data, the toy model (10,000 steps × 1,000) and the full 5 × 5 × 5 grid, but
// trains each SAE for 3,000 steps of 256 samples instead of 31,250 steps of 1,024 (32M samples, the study's
// recommended length). All checks run in both modes except the grid-direction checks (D1: true axes in a minority
// of cells; D2: composed directions in a majority), which are statements about trained SAEs: in QUICK mode they are
// reported, not enforced.
//
// ## 1 · The data
//
// Four true features `[x1, x2, y1, y2]` in two sets. Each sample draws one event from a joint probability table —
// here the four pairs $(x_i, y_j)$, each with probability 1/4 — and writes U[0,1) magnitudes into the two features.
// Nothing is ever all-zero, and $x_1, x_2$ never occur together (nor $y_1, y_2$).

// %%
const genRows = ["D1", "D2"].flatMap((name) =>
  generatorStats(name as "D1" | "D2", cfg.check_samples, cfg.seed).map((r) => ({ dataset: name, ...r }))
);
pl.DataFrame(columns(genRows));

// %%
for (const r of genRows) {
  check(r.expected > 0, `${r.dataset}: unexpected event "${r.event}" (frequency ${r.observed})`);
  check(
    Math.abs(r.z) < 4.5,
    `${r.dataset} ${r.event}: frequency ${r.observed} vs ${r.expected} is ${r.z.toFixed(2)} SE off`,
  );
  checkClose(r.expected, 0.25, 1e-12, `${r.dataset} ${r.event} table probability`);
}

// %% [markdown]
// Every pair has probability 0.25 and the sampled frequencies agree within 4.5 standard errors (the check above
// throws otherwise).
//
// **What the ℓ1 penalty prefers** (derived, spec §9.5). Write $\alpha = x_1 - x_2$ and $\beta = y_1 - y_2$; with an
// ideal toy embedding ($W_{x_1} = -W_{x_2} = u$, $W_{y_1} = -W_{y_2} = v$, $u \perp v$) the hidden vector is
// $h = \alpha u + \beta v$. Two dictionaries reconstruct it exactly with unit-norm decoder rows: the true **axes**
// $\{\pm u, \pm v\}$ with ℓ1 $= |\alpha| + |\beta|$, and the **diagonals** $\{(\pm u \pm v)/\sqrt2\}$ with ℓ1
// $= \sqrt2 \max(|\alpha|, |\beta|)$. No unit-norm dictionary can beat $\lVert h \rVert$.

// %%
const dictRows = dictionaryRows(["D1", "D2"], cfg.check_samples, cfg.seed);
checkDictionaryRows(dictRows);
pl.DataFrame(columns(dictRows));

// %% [markdown]
// At zero reconstruction error the diagonal (composed) dictionary has 29% less ℓ1 than the true axes on D1 — it
// meets the lower bound — and about 6% less on D2. So on these two data sets the SAE objective itself favours
// composed features; finding them is not a training failure. (The comment thread made this point; it is checked
// here on samples, within 5 standard errors.)
//
// ## 2 · The toy model
//
// Anthropic's ReLU-output model with tied weights: $h = xW$ ($W$ is 4 × 2), $\hat x = \mathrm{ReLU}(hW^\top + b)$,
// trained with AdamW (lr $10^{-3}$, weight decay 0.01 on $W$ and $b$) for 10,000 steps of 1,000 samples on the
// squared error. Four toy models are trained per data set (seeds $s, \ldots, s+3$) and the one with the lowest
// final loss is kept: the toy objective has local minima (notebook `02` meets one), and the study's figures show the
// converged cross. The figure rotates the hidden plane so that $x_1$ lies on the horizontal axis
// ($\theta = \arctan(W_{x_1,1}/W_{x_1,0})$, the study's `arctan`, which may point $x_1$ left).

// %%
const toyD1 = await runToyStage("D1", cfg);
const toyD2 = await runToyStage("D2", cfg);
await show(toyModelFigure(toyD1.result.model, toyD1.result.losses, [2, 2], "D1: toy model"), { scale: 1 });
await show(toyModelFigure(toyD2.result.model, toyD2.result.losses, [2, 2], "D2: toy model"), { scale: 1 });
const toyRows = [["D1", toyD1], ["D2", toyD2]].map(([name, t]) => {
  const s = t as typeof toyD1;
  return {
    dataset: name as string,
    cos_x1_x2: s.antipodal.x,
    cos_y1_y2: s.antipodal.y,
    max_abs_cos_x_y: s.antipodal.xyMaxAbs,
    final_loss: s.result.losses[s.result.losses.length - 1]!,
    cov_eig_1: s.covariance.eigenvalues[0]!,
    cov_eig_2: s.covariance.eigenvalues[1]!,
    eig_ratio: s.covariance.ratio,
  };
});
pl.DataFrame(columns(toyRows));

// %%
pl.DataFrame(columns([
  ...toyD1.restarts.map((r) => ({ dataset: "D1", ...r })),
  ...toyD2.restarts.map((r) => ({ dataset: "D2", ...r })),
]));

// %%
for (const r of toyRows) {
  check(r.cos_x1_x2 < -0.95, `${r.dataset}: x1 and x2 antipodal (cos ${r.cos_x1_x2})`);
  check(r.cos_y1_y2 < -0.95, `${r.dataset}: y1 and y2 antipodal (cos ${r.cos_y1_y2})`);
  check(r.max_abs_cos_x_y < 0.1, `${r.dataset}: x ⟂ y (max |cos| ${r.max_abs_cos_x_y})`);
  // ideal embedding: covariance I/3; the bound allows unequal ‖W_x‖, ‖W_y‖ up to ~5% and sampling error
  check(r.eig_ratio > 0.9, `${r.dataset}: hidden covariance near-isotropic (eigenvalue ratio ${r.eig_ratio})`);
  checkClose(r.cov_eig_1, 1 / 3, 0.05, `${r.dataset}: covariance eigenvalue vs the ideal 1/3`);
}

// %% [markdown]
// The toy model stores each set antipodally — $W_{x_2} \approx -W_{x_1}$, $W_{y_2} \approx -W_{y_1}$ — and the two
// sets on perpendicular axes: the "plus" shape the study describes ("the same antipodal feature storage as Anthropic
// observed for anticorrelated features"). The loss falls to ~$10^{-10}$: the cross reconstructs every sample exactly.
//
// The hidden covariance is isotropic (both eigenvalues ≈ 1/3, ratio above the stated bound 0.9), as derived for an
// ideal cross: principal components cannot single out the diagonals. What distinguishes the diagonals in D1 is
// the support of the data (all of D1 lies on them), not its second moments.
//
// ## 3 · The SAE recipe and the grid
//
// Each SAE has 2 inputs, 4 latents (as many as true features) and untied weights:
// $a = \mathrm{ReLU}(hW_\text{enc} + b_\text{enc})$, $\hat h = aW_\text{dec} + b_\text{dec}$, trained with the study's
// recipe: loss $= \sum_d ((\hat h - h)_d/\lVert h\rVert)^2 + \lambda \sum_j c_j a_j$ (the MSE normalised by the input
// norm), decoder rows renormalised to unit length before each step and the gradient component along each row
// removed, $b_\text{dec}$ started at the geometric median of 5,000 activations, Adam with β1 = 0, 10% warm-up and 20%
// linear cool-down, and ghost gradients for latents that have not fired for more than 400 steps — with the study's
// ℓ1 "cooldown" $c_j$ that switches a dead latent's ℓ1 off and keeps it off until 1,000 steps after the latent
// revives, then switches it back on at once (the study's code writes $1 - n/1000$ into an integer tensor, which
// truncates to 0 until the counter $n$ reaches 0: a step, not a ramp; the configuration uses the step).
//
// The grid: learning rates $3\times10^{-5} \ldots 3\times10^{-3}$ (rows) × $\lambda = 0.01 \ldots 1$ (columns), 5
// instances per cell. All 125 SAEs of a data set train together in the project's fused TypeScript kernel (two Web
// Workers); each cell's 5 instances share one stream of batches and each cell has its own stream, as the study
// trained one configuration at a time on its own draws; each instance's loss is averaged over 5 × batch as in the
// study's 5-instance runs. The kernel is checked against the project's tfjs SAE trainer step for step in the test
// suite. (An earlier version trained all 125 SAEs on one shared stream; section 5 shows what that did.)
//
// **Evaluation and selection.** The training objective divides each sample's error by $\lVert h\rVert^2$, and on D1
// $\lVert h\rVert = \sqrt2\,a$ with $a \sim U[0,1)$, so $\mathbb E[1/\lVert h\rVert^2]$ diverges: the mean of the
// per-sample normalised MSE over any finite set is decided by its smallest sample whenever the SAE's output at
// $h = 0$ is not exactly 0 (one evaluation sample with $\lVert h\rVert \approx 4.6\times10^{-6}$ has weight
// $\approx 5\times10^{10}$). So every instance is reported on a 100,000-sample held-out set with two measures no
// single sample can decide — the **ratio** $\sum_b\lVert\hat h_b - h_b\rVert^2 / \sum_b\lVert h_b\rVert^2$ and the
// **median** per-sample normalised MSE — besides the study's mean. The instance drawn in black ("lowest loss") is the
// one with the lowest **ratio + λ·ℓ1** on a fresh 10,000-sample batch of its cell (the study's `plot_grid` drew a
// fresh batch per cell and took the lowest mean normalised MSE + λ·ℓ1; that pick is kept in the data as
// `lowest_loss_study_instance`). An instance whose ratio or median exceeds 1 reconstructs worse than outputting zero:
// it is flagged **broken** in the tables and marked with a red ✕ in the figures.

// %%
cfg.grid;

// %%
const bar1 = progress({ total: cfg.grid.total_steps, label: "D1 SAE grid (125 SAEs)" });
const gridD1 = await runGridStage("D1", toyD1, cfg, (done) => bar1.set(done));
await bar1.done();
await showText(
  `D1 grid: ${gridD1.timing.ms_per_step.toFixed(2)} ms per step for 125 SAEs ` +
    `(${(gridD1.timing.ms / 1000).toFixed(1)} s, ${gridD1.timing.workers} workers)`,
);

// %% [markdown]
// ### The schematic (D1)
//
// Panel A: the toy model's features (x in green, y in orange). Panel B: the SAE decoder directions (black) of the
// lowest-loss instance of the centre cell (lr $3\times10^{-4}$, λ 0.1, the study's code defaults); panels C–F: the
// other four instances, by increasing loss. (The study's plotting code drew instance 0 in the large panel whatever
// its loss; this project draws the lowest-loss instance there.)

// %%
const modelD1 = toyD1.result.model;
const centreD1 = gridD1.cells.find((c) => c.lr === cfg.schematic_cell.lr && c.l1 === cfg.schematic_cell.l1)!;
await show(schematicFigure(gridD1, centreD1, modelD1, rotationFor(modelD1)).fig, { scale: 1 });

// %% [markdown]
// ### The learning-rate × ℓ1 grid (D1)
//
// Each panel: the toy features, the lowest-loss instance (black) and, when it is another instance, the most
// monosemantic one (grey); a red ✕ marks a broken selected instance. The table after it lists the lowest-loss
// instance of each cell: its selection loss (ratio + λ·ℓ1 on the cell's fresh batch), its held-out ratio, median and
// mean normalised MSE, its output at $h = 0$, L0, monosemanticity (1 = each latent answers one true feature), and the
// mean over its 4 decoder rows of |cos| to the nearest true axis and to the nearest composed direction $x_i + y_j$. A
// cell counts as **composed** when the second is larger.

// %%
await show(gridFigure(gridD1, modelD1, rotationFor(modelD1)).fig, { scale: 1 });
const rowsD1 = cellRows(gridD1);
pl.DataFrame(columns(rowsD1));

// %%
const composedD1 = rowsD1.filter((r) => r.composed).length;
const trueAxesD1 = rowsD1.filter((r) => r.axis_cos > 0.95).length;
await showText(
  `D1: ${composedD1} of ${rowsD1.length} cells composed (lowest-loss instance closer to the diagonals); ` +
    `${trueAxesD1} cells recover the true axes (mean |cos| to the nearest axis > 0.95)`,
);
if (cfg.quick) {
  await showText("QUICK mode: the grid checks need fully trained SAEs (31,250 steps); reported only.");
} else {
  // The robust half of the study's claim on D1: SAEs do not find the true features. Whether they lean diagonal
  // is close to a coin flip on D1 in this reproduction (see section 5), so it is reported, not asserted.
  check(trueAxesD1 < rowsD1.length / 2, `D1: true axes recovered in a minority of cells (${trueAxesD1}/25)`);
}
for (const r of rowsD1) check(Number.isFinite(r.loss) && r.loss >= 0, `D1 lr=${r.lr} λ=${r.l1}: finite loss ${r.loss}`);
// the selection keeps broken SAEs out of the figure unless a whole cell is broken (it can fail: the selection batch
// is not the held-out set)
for (const c of gridD1.cells) {
  check(!c.broken || c.instances.every((e) => e.broken), `D1 lr=${c.lr} λ=${c.l1}: a broken instance was selected`);
}

// %% [markdown]
// ## 4 · D2: independent amplitudes
//
// The same toy recipe and grid on D2. Here the data fill the square $[-1, 1]^2$ (in the $\alpha, \beta$
// coordinates) instead of lying on its diagonals, and the ℓ1 advantage of the diagonal dictionary is only ~6%.

// %%
const bar2 = progress({ total: cfg.grid.total_steps, label: "D2 SAE grid (125 SAEs)" });
const gridD2 = await runGridStage("D2", toyD2, cfg, (done) => bar2.set(done));
await bar2.done();
const modelD2 = toyD2.result.model;
const centreD2 = gridD2.cells.find((c) => c.lr === cfg.schematic_cell.lr && c.l1 === cfg.schematic_cell.l1)!;
await show(schematicFigure(gridD2, centreD2, modelD2, rotationFor(modelD2)).fig, { scale: 1 });

// %%
await show(gridFigure(gridD2, modelD2, rotationFor(modelD2)).fig, { scale: 1 });
const rowsD2 = cellRows(gridD2);
for (const r of rowsD2) check(Number.isFinite(r.loss) && r.loss >= 0, `D2 lr=${r.lr} λ=${r.l1}: finite loss ${r.loss}`);
for (const c of gridD2.cells) {
  check(!c.broken || c.instances.every((e) => e.broken), `D2 lr=${c.lr} λ=${c.l1}: a broken instance was selected`);
}
if (!cfg.quick) {
  const composedCellsD2 = rowsD2.filter((r) => r.composed).length;
  check(
    composedCellsD2 > rowsD2.length / 2,
    `D2: composed directions in the majority of cells (${composedCellsD2}/25)`,
  );
}
pl.DataFrame(columns(rowsD2));

// %% [markdown]
// ## 5 · The study's claims against this run

// %%
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const composedD2 = rowsD2.filter((r) => r.composed).length;
const summary = [
  { dataset: "D1", rows: rowsD1, composed: composedD1 },
  { dataset: "D2", rows: rowsD2, composed: composedD2 },
].map(({ dataset, rows, composed }) => ({
  dataset,
  composed_cells: composed,
  cells: rows.length,
  mean_axis_cos: mean(rows.map((r) => r.axis_cos)),
  mean_diag_cos: mean(rows.map((r) => r.diag_cos)),
  cells_diag_cos_above_0_95: rows.filter((r) => r.diag_cos > 0.95).length,
  cells_axis_cos_above_0_95: rows.filter((r) => r.axis_cos > 0.95).length,
  broken_cells: rows.filter((r) => r.broken).length,
  cells_where_study_pick_differs: rows.filter((r) => r.study_pick_differs).length,
  median_selected_mse_ratio: [...rows.map((r) => r.mse_ratio)].sort((a, b) => a - b)[12]!,
  mean_monosemanticity: mean(rows.map((r) => r.monosemanticity)),
  sae_steps: cfg.grid.total_steps,
}));
await showText(
  summary.map((s) =>
    `${s.dataset}: ${s.composed_cells}/${s.cells} cells composed; mean |cos| to nearest axis ${
      s.mean_axis_cos.toFixed(3)
    }, to nearest diagonal ${s.mean_diag_cos.toFixed(3)}; ${s.cells_diag_cos_above_0_95} cells with every row ` +
    `within ~18° of a diagonal on average (mean |cos| > 0.95), ${s.cells_axis_cos_above_0_95} at the true axes; ` +
    `${s.broken_cells} selected instances broken; the study's per-sample-mean measure would have drawn another ` +
    `instance in ${s.cells_where_study_pick_differs} cells`
  ).join("\n"),
);
pl.DataFrame(columns(summary));

// %% [markdown]
// ### D1 per learning rate, against the study's own code
//
// The study's repository code (commit `cfbf16e`, run unmodified with the full schedule, 5 instances per config, one
// config at a time, instances picked as its `plot_grid` picks them) gave these D1 composed-cell counts per learning
// rate, lowest first: 3, 4, 5, 5, 4 (21/25), with outputs at $h = 0$ of 0.002–0.013 (reference measurements recorded
// with the project, `STUDY_CODE_REFERENCE`). **Rule, fixed before the numbers:** the reproduction agrees with the
// study's code within sampling error when a two-sided Fisher exact test of composed cells gives p > 0.05 both in
// total (25 cells each) and for the two highest learning rates pooled (10 cells each); otherwise it disagrees.

// %%
const lrRowsD1 = lrRowSummaries(gridD1);
const refD1 = STUDY_CODE_REFERENCE.D1;
const lrTable = lrRowsD1.map((r, i) => ({ ...r, study_code_composed_cells: refD1.composed_per_row[i]! }));
const hereTotal = lrRowsD1.reduce((a, r) => a + r.composed_cells, 0);
const thereTotal = refD1.composed_per_row.reduce((a, b) => a + b, 0);
const hereHigh = lrRowsD1.slice(-2).reduce((a, r) => a + r.composed_cells, 0);
const thereHigh = refD1.composed_per_row.slice(-2).reduce((a, b) => a + b, 0);
const pTotal = fisherExactTwoSided(hereTotal, 25 - hereTotal, thereTotal, 25 - thereTotal);
const pHigh = fisherExactTwoSided(hereHigh, 10 - hereHigh, thereHigh, 10 - thereHigh);
const agrees = pTotal > 0.05 && pHigh > 0.05;
await showText(
  `D1 composed cells: ${hereTotal}/25 here against ${thereTotal}/25 with the study's code (Fisher p = ${
    pTotal.toFixed(3)
  }); lr ≥ 1e-3: ${hereHigh}/10 against ${thereHigh}/10 (p = ${pHigh.toFixed(3)}). Verdict: ${
    agrees ? "agrees within sampling error" : "differs"
  }. Median output at h = 0 per lr row: ${lrRowsD1.map((r) => r.median_offset.toExponential(1)).join(", ")}.`,
);
pl.DataFrame(columns(lrTable));

// %% [markdown]
// **Why one shared stream broke the high-learning-rate rows.** With β1 = 0, Adam's step is $g/\sqrt{v}$ and $v$ is
// an average of recent squared gradients. The normalised MSE puts a weight $1/\lVert h\rVert^2$ on each sample, so
// a sample with tiny $\lVert h\rVert$ gives a gradient many orders of magnitude above the usual: every parameter it
// touches jumps by up to $\mathrm{lr}/\sqrt{1-\beta_2} \approx 32\,\mathrm{lr}$ at once (≈ 0.1 at lr
// $3\times10^{-3}$), and the inflated $v$ then freezes those parameters for thousands of steps. A jump shortly
// before the learning-rate cool-down is never undone. When all 125 SAEs shared one stream, one such sample hit every
// cell at the same step. Below: the smallest samples of that former shared D1 stream (`sae/batches`, seed as
// configured); the controlled experiment that identified the cause is in the note after the table.

// %%
const small = smallestNormSamples(
  datasetConfig("D1"),
  modelD1,
  cfg.grid.seed,
  "sae/batches",
  cfg.grid.total_steps,
  cfg.grid.batch_size,
  5,
).map((x) => ({ ...x, fraction_of_schedule: x.step / cfg.grid.total_steps }));
pl.DataFrame(columns(small));

// %% [markdown]
// **The controlled experiment** (run while fixing this; reproducible with `deno run -A scripts/toy_spike_control.ts`
// and `… --cut-step 24895`): the lr $3\times10^{-3}$ row of D1 (5 λ × 5 instances, full schedule) on the former
// shared stream ended with a median output at $h = 0$ of 0.094. Zeroing the single sample with
// $\lVert h\rVert = 4.4\times10^{-8}$ at step 24,895 (0.4% before the cool-down starts) — nothing else changed —
// gave 0.00033, 290 times less; other streams gave 0.004–0.013. One sample at one step set the output at $h = 0$ of
// the whole row. The row's composed cells moved less (2/5 → 3/5 by this notebook's selection; 0/5 → 2/5 by the lowest
// ratio alone): the shared stream mainly spoiled reconstruction near $h = 0$, which the study's per-sample selection
// then amplified. With one stream per cell, as in the study, such a sample hits one cell, not all of them.

// %% [markdown]
// **Claims and what this run shows** (the numbers above are this execution's — same seeds, same numbers; the figures
// are in `figures/toy_{model,schematic,grid}_{D1,D2}.*` with their data JSON):
//
// 1. *"We find the same antipodal feature storage as Anthropic observed for anticorrelated features."* — Reproduced:
//    cos(x1, x2) and cos(y1, y2) are −1 to three decimals and the sets are orthogonal (checked).
// 2. *"SAEs … find composed features rather than the true features, regardless of learning rate or ℓ1
//    coefficient."* — Read the composed-cell counts and the two grids. On D2 most cells at learning rates
//    $\ge 10^{-4}$ show four decoder rows on the four diagonals, close to exactly; the exceptions are the smallest
//    learning rate (SAEs that barely moved from their random start in 31,250 steps) and λ = 0.01 at the largest
//    learning rates; the full-mode check asserts that most D2 cells are composed, and the study's code gave 17/25
//    composed cells with 15 above 0.95 diagonal |cos| (compare the D2 row of the summary table). D1 is less tidy in
//    both codes: the per-learning-rate comparison above states whether this run's composed-cell counts agree with the
//    study's code within sampling error, and in both codes only a minority of D1 cells have every decoder row near a
//    diagonal (the study's code: 8/25 cells above 0.95; this run: the summary table). That matches what the study's
//    first author wrote in the comment thread: *"I agree that I was surprised that the decoder weights weren't
//    pointing diagonally in the case where feature occurrences were perfectly correlated"* — so the summary sentence
//    overstates D1, and this reproduction sides with the authors' later reading. What holds on D1, and is checked,
//    is the other half of the claim: the true axes are recovered in only a minority of cells.
// 3. Why D1 is harder than D2, although its objective prefers the diagonals more strongly (section 1): the study's
//    reconstruction term divides the error by $\lVert h\rVert^2$, and on D1 $\lVert h\rVert = \sqrt2\,a$ with
//    $a \sim U[0,1)$, so $\mathbb E[1/\lVert h\rVert^2]$ diverges. Any reconstruction offset at $h \to 0$ makes the
//    normalised MSE's expectation infinite, and its gradients come in spikes from the few smallest samples, which —
//    through Adam with β1 = 0 — move parameters in jumps and then freeze them (section 5, measured). On D2,
//    $\lVert h\rVert$ is small only when both amplitudes are, which tames this. The robust measures in the tables
//    (ratio, median) are what the figures select on.
// 4. The objective itself prefers the diagonals on D1 and D2 (section 1), so composed features here are what the loss
//    asks for, not an optimisation failure; notebook `02` asks the same question when the true features are
//    favoured (D3).
