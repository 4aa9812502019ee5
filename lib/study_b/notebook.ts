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
import { type CbtItem, type LambadaItem, selectBalanced, type Selection } from "../data/benchmarks.ts";
import { encodeText } from "../tokenizer/tokenizer.ts";
import { lengthEdges } from "./bench_summary.ts";
import { loadStudyBenchmarks } from "../data/study_data.ts";
import { type BackendReport, initBackend } from "../engine/backend.ts";
import { isQuick } from "../env.ts";
import { showText } from "../jupyter.ts";
import { type EvalRows, loadEvalRows } from "./rows.ts";
import { type StudyBNotebook, type StudyBRunConfig, studyBRunConfig } from "./run_config.ts";
import { loadStudySetup, type StudySetup, type StudySetupOptions, toModelIds } from "./setup.ts";
import { cbtItemUsable } from "./benchmarks_eval.ts";

/**
 * Notebooks whose computations read tensors back only asynchronously, so that
 * the automatic backend choice may take WebGPU on a hardware GPU (notebook 13's
 * benchmark scoring still reads synchronously).
 */
export const WEBGPU_READY_NOTEBOOKS: ReadonlySet<StudyBNotebook> = new Set(["context", "propagation", "positional"]);

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
  const backend = await initBackend({ webgpu: WEBGPU_READY_NOTEBOOKS.has(notebook) });
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
  /** Item counts per source of the candidate pools. */
  builtCounts: Record<string, number>;
  /** How the items were chosen from each pool: rejected candidates by reason, usable ones left over. */
  selection: { lambada: SelectionReport; cbt: SelectionReport };
}

/** A {@link Selection} without its items. */
export type SelectionReport = Omit<Selection<unknown>, "items"> & { selected: number };

/** Why a LAMBADA item cannot be scored by this model, or null. */
export function lambadaRejectReason(setup: StudySetup, item: LambadaItem): string | null {
  const unk = setup.tokenMap?.unkId;
  if (unk === undefined) return null;
  return toModelIds(setup, encodeText(item.target)).includes(unk) ? "target token outside the vocabulary" : null;
}

/** Why a CBT item cannot be scored by this model, or null. */
export function cbtRejectReason(setup: StudySetup, item: CbtItem): string | null {
  return cbtItemUsable(setup, item) ? null : "an option token outside the vocabulary";
}

function report<T>(s: Selection<T>): SelectionReport {
  const { items, ...rest } = s;
  return { ...rest, selected: items.length };
}

/**
 * Notebook 13's items, chosen **before scoring**: from a candidate pool (the
 * official LAMBADA / CBT files of the artefacts when present, else large sets
 * built from held-out npm text), every candidate the model cannot represent
 * (a target or option token outside a compact vocabulary) is rejected with its
 * reason counted, and `cfg.lambadaItems` / `cfg.cbtItems` usable items are
 * taken, LAMBADA balanced over the prompt-length bins, sources taking turns.
 *
 * @example
 * ```ts
 * import { loadNotebookBenchmarks, prepareStudyBNotebook } from "./notebook.ts";
 * const { setup, cfg } = await prepareStudyBNotebook("benchmarks");
 * const items = await loadNotebookBenchmarks(setup, cfg); // items.lambada, items.cbt, items.selection
 * ```
 */
export async function loadNotebookBenchmarks(setup: StudySetup, cfg: StudyBRunConfig): Promise<NotebookBenchmarks> {
  const quick = cfg.mode === "quick";
  const built = await loadStudyBenchmarks({
    lambada: { itemsPerBin: quick ? 40 : 400 },
    cbt: { maxItems: quick ? 200 : 5000 },
  });
  const { lambada: lambadaPath, cbt: cbtPath } = setup.artifacts;
  const lamPool = lambadaPath ? await loadLambadaJsonl(lambadaPath) : built.benchmarks.lambada;
  const cbtPool = cbtPath ? await loadCbt(cbtPath) : built.benchmarks.cbt;
  const edges = lengthEdges(setup.saeContext);
  const corpus = (source: string) => source.split(":")[0] as string;
  const lam = selectBalanced(lamPool, {
    total: cfg.lambadaItems,
    stratum: (it) => {
      const n = encodeText(it.context).length + 1; // BOS included, as the prompt length of the scores
      return String(edges.filter((e) => n >= e).length);
    },
    source: (it) => corpus(it.source),
    reject: (it) => lambadaRejectReason(setup, it),
  });
  const cbt = selectBalanced(cbtPool, {
    total: cfg.cbtItems,
    stratum: () => "all",
    source: (it) => corpus(it.source),
    reject: (it) => cbtRejectReason(setup, it),
  });
  const builtCounts = built.benchmarks.provenance.counts;
  const line = (name: string, s: Selection<unknown>, path: string | null | undefined) =>
    `${name}: ${s.items.length} items selected of ${s.candidates} candidates (${
      path ?? "built from held-out npm text"
    }); rejected before scoring: ${
      Object.entries(s.rejected).map(([k, v]) => `${v} (${k})`).join(", ") || "none"
    }; usable but not needed: ${s.unused}`;
  await showText(
    `${line("LAMBADA", lam, lambadaPath)}\n${line("CBT", cbt, cbtPath)}\n` +
      `candidate pools by source: ${JSON.stringify(builtCounts)}`,
  );
  return {
    lambada: lam.items,
    cbt: cbt.items,
    builtCounts,
    selection: { lambada: report(lam), cbt: report(cbt) },
  };
}

/**
 * Whether the setup's model is trained (`setup.trained` when the setup provides
 * it); undefined when unknown (rules then treat it as trained).
 *
 * @example
 * ```ts
 * import { setupTrained } from "./notebook.ts";
 * setupTrained({ trained: false } as never); // false
 * ```
 */
export function setupTrained(setup: StudySetup): boolean | undefined {
  const t = (setup as StudySetup & { trained?: unknown }).trained;
  return typeof t === "boolean" ? t : undefined;
}
