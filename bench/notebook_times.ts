/**
 * Notebook run-time budgets, checked by `deno task bench` from the timings
 * `scripts/run_notebooks.ts` records after every executed notebook
 * (`notebooks/timings.json` for full runs, `.quick/notebooks/timings.json`
 * for QUICK ones). Study B's budget: at most 10 minutes per notebook on the
 * embedded default, under 2 minutes in QUICK mode.
 *
 * @example
 * ```ts
 * import { checkNotebookTimes } from "./notebook_times.ts";
 * const rows = await checkNotebookTimes();
 * rows.filter((r) => r.status === "missed").length; // 0 when every budget holds
 * ```
 *
 * @module
 */

import { PROJECT_ROOT } from "../lib/env.ts";
import { join } from "../lib/path.ts";

/** One recorded notebook run (the value type of `timings.json`). */
export interface NotebookTiming {
  seconds: number;
  mode: "full" | "quick";
  finished: string;
}

/** Budget in seconds per notebook-name prefix and mode. */
export const NOTEBOOK_BUDGETS: { prefix: string; full: number; quick: number }[] = [
  { prefix: "11_", full: 600, quick: 120 },
  { prefix: "12_", full: 600, quick: 120 },
  { prefix: "13_", full: 600, quick: 120 },
  { prefix: "14_", full: 600, quick: 120 },
];

/** One checked timing. */
export interface NotebookTimeRow {
  notebook: string;
  mode: "full" | "quick";
  seconds: number | null;
  budget: number;
  status: "met" | "missed" | "not run";
}

async function readTimings(path: string): Promise<Record<string, NotebookTiming>> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as Record<string, NotebookTiming>;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return {};
    throw new Error(`${path}: unreadable notebook timings (${(e as Error).message})`);
  }
}

/** Compares the recorded timings with {@link NOTEBOOK_BUDGETS}. */
export async function checkNotebookTimes(
  files: { full: string; quick: string } = {
    full: join(PROJECT_ROOT, "notebooks", "timings.json"),
    quick: join(PROJECT_ROOT, ".quick", "notebooks", "timings.json"),
  },
): Promise<NotebookTimeRow[]> {
  const rows: NotebookTimeRow[] = [];
  for (const mode of ["full", "quick"] as const) {
    const timings = await readTimings(files[mode]);
    for (const b of NOTEBOOK_BUDGETS) {
      const hits = Object.entries(timings).filter(([name]) => name.startsWith(b.prefix));
      const budget = b[mode];
      if (hits.length === 0) rows.push({ notebook: `${b.prefix}*`, mode, seconds: null, budget, status: "not run" });
      for (const [name, t] of hits) {
        rows.push({ notebook: name, mode, seconds: t.seconds, budget, status: t.seconds <= budget ? "met" : "missed" });
      }
    }
  }
  return rows;
}

/** The rows as a Markdown table. */
export function notebookTimesTable(rows: readonly NotebookTimeRow[]): string {
  return [
    "| notebook | mode | seconds | budget | status |",
    "| --- | --- | ---: | ---: | --- |",
    ...rows.map((r) =>
      `| ${r.notebook} | ${r.mode} | ${r.seconds === null ? "—" : r.seconds.toFixed(0)} | ${r.budget} | ${r.status} |`
    ),
  ].join("\n");
}
