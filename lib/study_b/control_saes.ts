/**
 * Control SAEs: per hook, a second SAE of the same width trained on full
 * 1,024-token rows (SAELens `context_size` 1024), shipped beside the 128-token
 * one. With both, notebook 11 shows whether the degradation past the training
 * context comes from the training context: the control should not degrade.
 *
 * Where they are looked for, in order:
 * 1. `setup.controlSaes` when the setup provides it (an array of study SAEs);
 * 2. a folder `saes_control/` beside the SAEs' folder (`<root>/saes_control/<hook>/cfg.json` next to
 *    `<root>/saes/<hook>/`), one SAELens folder per hook.
 *
 * A control must read a hook of the main SAEs, fit the model, and have a
 * training context longer than the main SAEs'. When none is found the notebook
 * says so; nothing is substituted.
 *
 * @example
 * ```ts
 * import { findControlSaes } from "./control_saes.ts";
 * // const found = await findControlSaes(setup);
 * // found.saes.length === 0 ? found.reason : found.saes.map((s) => s.hook);
 * ```
 *
 * @module
 */

import { type BootstrapConfig, bootstrapRows, type Interval } from "../metrics/bootstrap.ts";
import { weightedMean } from "../metrics/row_bins.ts";
import { dirname, join } from "../path.ts";
import { assertSaeFitsModel } from "../splice/sae_fit.ts";
import { SAE_CFG_FILE, saeConfigFromSaeLens } from "../sae/saelens.ts";
import type { Sae } from "../sae/sae.ts";
import { type ContextSweepConfig, type LayerSweep, runSpliceSweep, studyBinEdges } from "./context_sweep.ts";
import { saeSplice } from "../splice/splice.ts";
import { contextWindows } from "./rules_context.ts";
import { loadStudySae, residLabel, saeBytes, type StudySae, type StudySetup } from "./setup.ts";

/** What {@link findControlSaes} found. */
export interface ControlSaes {
  saes: StudySae[];
  /** Where they came from, or why there are none. */
  reason: string;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await Deno.stat(p)).isFile;
  } catch {
    return false;
  }
}

/**
 * Finds the control SAEs (see the module documentation).
 *
 * @throws {Error} when a control exists but does not fit (wrong hook, width or context)
 */
export async function findControlSaes(setup: StudySetup): Promise<ControlSaes> {
  const given = (setup as StudySetup & { controlSaes?: StudySae[] }).controlSaes;
  let saes: StudySae[] = [];
  let reason: string;
  if (Array.isArray(given) && given.length > 0) {
    saes = [...given];
    reason = "from setup.controlSaes";
  } else {
    const first = setup.saes[0];
    const root = first ? join(dirname(dirname(first.folder)), "saes_control") : null;
    if (root === null) return { saes: [], reason: "no SAEs in the setup" };
    for (const main of setup.saes) {
      const folder = join(root, main.hook);
      const path = join(folder, SAE_CFG_FILE);
      if (!await isFile(path)) continue;
      const cfg = saeConfigFromSaeLens(JSON.parse(await Deno.readTextFile(path)), path);
      assertSaeFitsModel(cfg, setup.model.cfg, `control SAE ${folder}`);
      const label = residLabel(cfg.hook_name, setup.model.cfg.n_layer);
      saes.push({ label, hook: cfg.hook_name, folder, cfg, bytes: saeBytes(cfg) });
    }
    reason = saes.length > 0 ? `from ${root}` : `not yet shipped: no SAELens folders under ${root}`;
  }
  for (const c of saes) {
    const main = setup.saes.find((m) => m.hook === c.hook);
    if (!main) throw new Error(`control SAE ${c.folder} reads ${c.hook}, which no main SAE reads`);
    if (c.cfg.context_size <= setup.saeContext) {
      throw new Error(
        `control SAE ${c.folder}: context_size ${c.cfg.context_size}, expected more than the main SAEs' ${setup.saeContext}`,
      );
    }
    if (c.cfg.d_sae !== main.cfg.d_sae) {
      throw new Error(
        `control SAE ${c.folder}: d_sae ${c.cfg.d_sae}, the main SAE has ${main.cfg.d_sae} (same width needed)`,
      );
    }
  }
  return { saes: saes.sort((a, b) => a.label - b.label), reason };
}

/**
 * Runs the control SAEs over the same rows as the main sweep (each spliced at
 * every position), with per-prompt bins; the layers come back in label order.
 */
export async function runControlSweep(
  setup: StudySetup,
  rows: readonly Int32Array[],
  controls: readonly StudySae[],
  config: Partial<ContextSweepConfig> = {},
): Promise<LayerSweep[]> {
  const saes: Sae[] = [];
  try {
    for (const c of controls) saes.push(await loadStudySae(c));
    const specs = controls.map((c, i) => saeSplice(`C${c.label}`, saes[i]!));
    const out = await runSpliceSweep(setup.model, rows, specs, {
      ...config,
      bosId: setup.bosId,
      rowBinEdges: config.rowBinEdges ?? studyBinEdges(rows[0]!.length, setup.saeContext),
    }, "control SAEs");
    return out.splices.map((s, i) => ({
      label: controls[i]!.label,
      hook: s.hook,
      metrics: s.metrics,
      sampledDeltaCe: s.sampledDeltaCe,
    }));
  } finally {
    for (const s of saes) s.dispose();
  }
}

/** One hook of the side-by-side comparison. */
export interface ControlRow {
  label: number;
  hook: string;
  which: "main" | "control";
  contextSize: number;
  /** NMSE beyond / inside the main SAEs' training context, with its interval. */
  nmseRatio: Interval;
  /** ΔCE beyond minus inside, with its interval. */
  dceGap: Interval;
}

/**
 * Beyond-context degradation of the main SAEs and their controls, side by side
 * (intervals: bootstrap over prompts, the same prompts for both).
 */
export function controlComparisonRows(
  main: readonly LayerSweep[],
  control: readonly LayerSweep[],
  setup: Pick<StudySetup, "saeContext" | "saes">,
  controls: readonly StudySae[],
  T: number,
  boot: Partial<BootstrapConfig> = {},
): ControlRow[] {
  const W = contextWindows(setup.saeContext, T);
  const row = (l: LayerSweep, which: "main" | "control", contextSize: number, seed: number): ControlRow => {
    const b = l.metrics.rowBins;
    if (!b) throw new Error(`layer ${l.label} (${which}): no per-prompt bins`);
    const nOut = b.mse_normalised.window(...W.out), nIn = b.mse_normalised.window(...W.in);
    const dOut = b.delta_ce.window(...W.out), dIn = b.delta_ce.window(...W.in);
    const n = b.mse_normalised.nRows;
    return {
      label: l.label,
      hook: l.hook,
      which,
      contextSize,
      nmseRatio: bootstrapRows(n, (w) => weightedMean(nOut, w) / weightedMean(nIn, w), { ...boot, seed: seed }),
      dceGap: bootstrapRows(n, (w) => weightedMean(dOut, w) - weightedMean(dIn, w), { ...boot, seed: seed + 1 }),
    };
  };
  const out: ControlRow[] = [];
  control.forEach((c, i) => {
    const m = main.find((x) => x.hook === c.hook);
    if (!m) return;
    const ctxMain = setup.saes.find((s) => s.hook === c.hook)!.cfg.context_size;
    out.push(row(m, "main", ctxMain, 10 * i), row(c, "control", controls[i]!.cfg.context_size, 10 * i + 5));
  });
  return out;
}
