// %% [markdown]
// # 12 · SAE downstream error propagation (F3)
//
// The study has a section "SAE Downstream Error Propagation" whose text and figures were not recovered; later papers
// describe it as studying how splicing an **early** SAE affects **later layers and later SAEs**, and a third-party
// summary lists "errors in early layer SAEs negatively affect the performance of later layers". This notebook
// reconstructs that analysis (study spec F3) and tests three readings of it:
//
// - **F3-a** splicing an early SAE moves every later activation;
// - **F3-b** later SAEs reconstruct the perturbed stream worse than the clean one — errors compound;
// - **F3-c** the perturbation is larger beyond the SAE training context (where the spliced SAE itself is worse).
//
// For a source SAE s spliced at its hook (at every position) and every later SAE hook d, per position j: the relative
// deviation ‖x_d^spliced − x_d^clean‖² / ‖x_d^clean‖², and the later SAE's error on the perturbed stream
// ‖SAE_d(x_d^spliced) − x_d^spliced‖² against its error on the clean stream. **What runs here:** the embedded default
// (a small model and SAEs trained by this project, not GPT-2 small) unless `SAE_ARTIFACTS` points at the real files
// (`data/README.md`); then the same notebook runs on GPT-2 small with the gpt2-small-res-jb SAEs (all 13 SAEs are
// held in memory, ~2 GB).

// %%
import pl from "nodejs-polars";
import { check, checkFinite } from "@lib/check.ts";
import { showText } from "@lib/plot/mod.ts";
import {
  claimsText,
  errorPropagationFigures,
  loadNotebookRows,
  prepareStudyBNotebook,
  propagationClaims,
  runErrorPropagation,
  saveSpec,
  summarisePropagation,
  tableColumns,
} from "@lib/study_b/mod.ts";

const { setup, cfg } = await prepareStudyBNotebook("propagation", { minSaes: 2 });
cfg;

// %% [markdown]
// The prompts are built exactly as in notebook 11 (held-out text, TransformerLens `tokenize_and_concatenate`, fixed
// seed); QUICK mode uses fewer rows of three times the SAE context. Averages exclude position 0 (BOS).

// %%
const rows = await loadNotebookRows(setup, cfg);
const prop = await runErrorPropagation(setup, rows.rows, { bosPolicy: cfg.bosPolicy });
await showText(
  `${prop.nRows} rows × ${prop.T} tokens, sources ${prop.sources.join(", ")}, targets up to ${
    prop.labels[prop.labels.length - 1]
  }: ${prop.seconds.toFixed(0)} s`,
);

// %% [markdown]
// ## Checks
//
// Every relative deviation and error ratio must be finite, and a later hook cannot be exactly unchanged when an
// earlier SAE with non-zero reconstruction error is spliced.

// %%
const inside = summarisePropagation(prop, 1, prop.saeContext);
const beyond = summarisePropagation(prop, prop.saeContext, prop.T);
for (const r of [...inside, ...beyond]) {
  checkFinite([r.relDev, r.sseRatio, r.sseVsCleanRatio, r.l0Ratio], `pair ${r.source}→${r.target}`);
  check(r.relDev > 0, `splicing SAE ${r.source} left hook ${r.target} exactly unchanged`);
}

// %% [markdown]
// ## F3: heat maps and lines
//
// Rows: the spliced source SAE; columns: the downstream hook. Left panels average positions inside the training
// context, right panels beyond it. The first map is the relative deviation of the activation (log scale); the second
// the later SAE's reconstruction error on the perturbed stream divided by its error on the clean stream. The line plot
// follows the deviation at the last hook across positions.

// %%
for (const f of errorPropagationFigures(prop, setup.bosId)) await saveSpec(f);

// %% [markdown]
// ## The numbers
//
// One row per (source, target) pair and window: `relDev` (± `relDevSe`), `sseRatio` (later SAE's error on the spliced
// stream / on the clean stream), `sseVsCleanRatio` (‖SAE_d(x^spliced) − x^clean‖² / clean error) and `l0Ratio`.

// %%
pl.DataFrame(tableColumns([
  ...inside.map((r) => ({ window: `1…${prop.saeContext - 1}`, ...r })),
  ...beyond.map((r) => ({ window: `${prop.saeContext}…${prop.T - 1}`, ...r })),
]));

// %% [markdown]
// ## Which readings this model reproduces
//
// The verdicts are computed from the table above.

// %%
const claims = propagationClaims(inside, beyond, prop.saeContext);
pl.DataFrame(tableColumns(claims));

// %%
await showText(claimsText(claims));
