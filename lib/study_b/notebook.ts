/**
 * The opening cells every study-B notebook (11–14) shares: the backend, the
 * artefacts (model, token map, SAE list), the notebook's run configuration and
 * a summary shown to the reader; then the evaluation rows (11, 12, 14) or the
 * benchmark items (13).
 *
 * @example
 * ```ts
 * import { loadNotebookRows, prepareStudyBNotebook } from "./notebook.ts";
 * const { setup, cfg } = await prepareStudyBNotebook("context");
 * const rows = await loadNotebookRows(setup, cfg);
 * ```
 *
 * @module
 */

import { loadCbt, loadLambadaJsonl } from "../data/formats.ts";
import type { CbtItem, LambadaItem } from "../data/benchmarks.ts";
import { loadStudyBenchmarks } from "../data/study_data.ts";
import { type BackendReport, initBackend } from "../engine/backend.ts";
import { isQuick } from "../env.ts";
import { showText } from "../plot/jupyter.ts";
import { type EvalRows, loadEvalRows } from "./rows.ts";
import { type StudyBNotebook, type StudyBRunConfig, studyBRunConfig } from "./run_config.ts";
import { loadStudySetup, type StudySetup, type StudySetupOptions } from "./setup.ts";
import { cbtItemUsable } from "./benchmarks_eval.ts";
import type { ClaimRow } from "./summary.ts";

/** What {@link prepareStudyBNotebook} returns. */
export interface StudyBNotebookStart {
  backend: BackendReport;
  setup: StudySetup;
  cfg: StudyBRunConfig;
}

/**
 * The lines shown at the top of a study-B notebook: backend, artefacts, their
 * source, the SAEs and the run mode (with the QUICK sizes for the per-position notebooks).
 *
 * @example
 * ```ts
 * import { notebookHeader } from "./notebook.ts";
 * // notebookHeader(backend, setup, cfg).join("\n");
 * ```
 */
export function notebookHeader(backend: BackendReport, setup: StudySetup, cfg: StudyBRunConfig): string[] {
  const quick = cfg.mode === "quick" && cfg.nRows > 0
    ? ` (QUICK: ${cfg.nRows} rows of T = ${cfg.T} = 3 × the SAE context)`
    : "";
  return [
    `backend: ${backend.summary}`,
    `artefacts: ${setup.description}`,
    `source: ${
      setup.artifacts.source === "embedded" ? "the embedded default (trained by this project)" : "SAE_ARTIFACTS"
    }`,
    `SAEs: ${setup.saes.map((s) => `${s.label} = ${s.hook}`).join(", ")}`,
    `mode: ${cfg.mode}${quick}`,
  ];
}

/**
 * Starts a study-B notebook: initialises the backend, loads the artefacts
 * (`SAE_ARTIFACTS` or the embedded default), builds the notebook's run
 * configuration (QUICK from the environment) and shows {@link notebookHeader}.
 *
 * @example
 * ```ts
 * import { prepareStudyBNotebook } from "./notebook.ts";
 * const { setup, cfg } = await prepareStudyBNotebook("propagation", { minSaes: 2 });
 * ```
 */
export async function prepareStudyBNotebook(
  notebook: StudyBNotebook,
  opts: StudySetupOptions = {},
): Promise<StudyBNotebookStart> {
  const backend = await initBackend();
  const setup = await loadStudySetup(opts);
  const cfg = studyBRunConfig(notebook, { quick: isQuick(), ...setup });
  await showText(notebookHeader(backend, setup, cfg).join("\n"));
  return { backend, setup, cfg };
}

/**
 * The notebook's evaluation rows (at most `cfg.nRows` rows of `cfg.T` tokens,
 * seed `cfg.seed`), with their source and procedure shown.
 *
 * @example
 * ```ts
 * import { loadNotebookRows, prepareStudyBNotebook } from "./notebook.ts";
 * const { setup, cfg } = await prepareStudyBNotebook("positional");
 * const rows = await loadNotebookRows(setup, cfg); // rows.rows: Int32Array[]
 * ```
 */
export async function loadNotebookRows(setup: StudySetup, cfg: StudyBRunConfig): Promise<EvalRows> {
  const rows = await loadEvalRows(setup, { nRows: cfg.nRows, T: cfg.T, seed: cfg.seed });
  await showText(`${rows.source}\n${rows.procedure} (${rows.documents} documents)`);
  return rows;
}

/** Benchmark items of notebook 13 and where they came from. */
export interface NotebookBenchmarks {
  lambada: LambadaItem[];
  cbt: CbtItem[];
  /** Item counts per source of the built sets. */
  builtCounts: Record<string, number>;
}

/**
 * Notebook 13's items: the official LAMBADA / CBT files of the artefacts when
 * present (every LAMBADA passage, the first `2 · cbtItemsPerSource` CBT
 * questions), else the sets built from held-out npm text with the sizes of
 * `cfg`; shows the counts and sources.
 *
 * @example
 * ```ts
 * import { loadNotebookBenchmarks, prepareStudyBNotebook } from "./notebook.ts";
 * const { setup, cfg } = await prepareStudyBNotebook("benchmarks");
 * const items = await loadNotebookBenchmarks(setup, cfg); // items.lambada, items.cbt
 * ```
 */
export async function loadNotebookBenchmarks(setup: StudySetup, cfg: StudyBRunConfig): Promise<NotebookBenchmarks> {
  // CBT candidates: many per source (few items have all 10 options in a compact vocabulary), then the first usable ones
  const built = await loadStudyBenchmarks({
    lambada: { itemsPerBin: cfg.lambadaItemsPerBin },
    cbt: { maxItems: Math.max(100, 40 * cfg.cbtItemsPerSource) },
  });
  const { lambada: lambadaPath, cbt: cbtPath } = setup.artifacts;
  const lambada = lambadaPath ? await loadLambadaJsonl(lambadaPath) : built.benchmarks.lambada;
  const perSource = new Map<string, number>();
  const cbt = cbtPath
    ? (await loadCbt(cbtPath)).slice(0, 2 * cfg.cbtItemsPerSource)
    : built.benchmarks.cbt.filter((item) => {
      // item.source is "<corpus>:<document>"; the quota is per corpus (the book, the addresses)
      const corpus = item.source.split(":")[0] as string;
      const n = perSource.get(corpus) ?? 0;
      if (n >= cfg.cbtItemsPerSource || !cbtItemUsable(setup, item)) return false;
      perSource.set(corpus, n + 1);
      return true;
    });
  const builtCounts = built.benchmarks.provenance.counts;
  await showText(
    `LAMBADA: ${lambada.length} items (${lambadaPath ?? "built from held-out npm text"})\n` +
      `CBT: ${cbt.length} items (${cbtPath ?? "built from held-out npm text"})\n` +
      `built-set provenance: ${JSON.stringify(builtCounts)}`,
  );
  return { lambada, cbt, builtCounts };
}

/**
 * One line per claim, `id: verdict — measured`, for the closing cell of a notebook.
 *
 * @example
 * ```ts
 * import { claimsText } from "./notebook.ts";
 * claimsText([{ id: "R1", claim: "…", measured: "holds to 200", verdict: "reproduced" }]); // "R1: reproduced — holds to 200"
 * ```
 */
export function claimsText(claims: readonly ClaimRow[]): string {
  return claims.map((c) => `${c.id}: ${c.verdict} — ${c.measured}`).join("\n");
}
