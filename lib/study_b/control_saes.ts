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

/** What a hook's control says about its main SAE's beyond-context degradation (see {@link controlEffects}). */
export type ControlVerdict = "no degradation" | "removed" | "reduced" | "not reduced";

/** The rule of {@link controlEffects}, as notebook 11 states it before its numbers. */
export const CONTROL_RULE =
  "Per hook, r = NMSE beyond / inside the main SAEs' training context, for the main SAE and for its control " +
  "(same width, trained on full rows), on the same prompts. No degradation: the main r's 95% interval reaches 1 " +
  "(nothing to explain). Otherwise the paired bootstrap interval of r_main − r_control (the same resampled prompts " +
  "for both) decides: above 0 and the control's r interval reaching 1 or below: removed; above 0 otherwise: " +
  "reduced; reaching 0: not reduced.";

/** One hook's paired comparison of its main SAE and its control. */
export interface ControlEffect {
  label: number;
  hook: string;
  /** NMSE beyond / inside for the main SAE and the control. */
  mainRatio: Interval;
  controlRatio: Interval;
  /** r_main − r_control, paired over the same resampled prompts. */
  ratioDrop: Interval;
  /** ΔCE gap (beyond − inside) of the main SAE minus the control's, paired. */
  dceGapDrop: Interval;
  /** Mean L0 inside and beyond the main SAEs' context, main and control (the two need not be equally sparse). */
  l0: { main: [number, number]; control: [number, number] };
  verdict: ControlVerdict;
}

/**
 * The verdict of {@link CONTROL_RULE} from the three intervals.
 *
 * @example
 * ```ts
 * import { controlVerdict } from "./control_saes.ts";
 * const iv = (lo: number, hi: number) => ({ estimate: (lo + hi) / 2, lo, hi, level: 0.95, n: 10, method: "" });
 * controlVerdict(iv(1.5, 2), iv(0.9, 1.1), iv(0.5, 1)); // "removed"
 * controlVerdict(iv(1.5, 2), iv(1.2, 1.4), iv(0.2, 0.7)); // "reduced"
 * controlVerdict(iv(1.5, 2), iv(1.4, 2.1), iv(-0.3, 0.4)); // "not reduced"
 * controlVerdict(iv(0.95, 1.2), iv(0.9, 1.1), iv(-0.1, 0.2)); // "no degradation"
 * ```
 */
export function controlVerdict(main: Interval, control: Interval, drop: Interval): ControlVerdict {
  if (main.lo <= 1) return "no degradation";
  if (!(drop.lo > 0)) return "not reduced";
  return control.lo <= 1 ? "removed" : "reduced";
}

/**
 * Per hook with a control: both SAEs' beyond-context NMSE ratios, their paired
 * difference and the ΔCE-gap difference (bootstrap over prompts, one set of
 * resampling weights for both SAEs in each replicate), and the verdict of
 * {@link CONTROL_RULE}.
 */
export function controlEffects(
  main: readonly LayerSweep[],
  control: readonly LayerSweep[],
  setup: Pick<StudySetup, "saeContext">,
  T: number,
  boot: Partial<BootstrapConfig> = {},
): ControlEffect[] {
  const W = contextWindows(setup.saeContext, T);
  const bins = (l: LayerSweep, which: string) => {
    const b = l.metrics.rowBins;
    if (!b) throw new Error(`layer ${l.label} (${which}): no per-prompt bins`);
    return {
      n: b.mse_normalised.nRows,
      nOut: b.mse_normalised.window(...W.out),
      nIn: b.mse_normalised.window(...W.in),
      dOut: b.delta_ce.window(...W.out),
      dIn: b.delta_ce.window(...W.in),
      l0In: b.l0.window(...W.in),
      l0Out: b.l0.window(...W.out),
    };
  };
  const out: ControlEffect[] = [];
  control.forEach((c, i) => {
    const m = main.find((x) => x.hook === c.hook);
    if (!m) return;
    const a = bins(m, "main"), b = bins(c, "control");
    if (a.n !== b.n) {
      throw new Error(`${c.hook}: main over ${a.n} prompts, control over ${b.n}; the same prompts needed`);
    }
    const ratio = (x: typeof a, w: Float64Array) => weightedMean(x.nOut, w) / weightedMean(x.nIn, w);
    const gap = (x: typeof a, w: Float64Array) => weightedMean(x.dOut, w) - weightedMean(x.dIn, w);
    const seed = (boot.seed ?? 0) + 100 * i;
    const mainRatio = bootstrapRows(a.n, (w) => ratio(a, w), { ...boot, seed });
    const controlRatio = bootstrapRows(a.n, (w) => ratio(b, w), { ...boot, seed });
    const ratioDrop = bootstrapRows(a.n, (w) => ratio(a, w) - ratio(b, w), { ...boot, seed });
    const dceGapDrop = bootstrapRows(a.n, (w) => gap(a, w) - gap(b, w), { ...boot, seed });
    const ones = new Float64Array(a.n).fill(1);
    const l0 = (x: typeof a): [number, number] => [weightedMean(x.l0In, ones), weightedMean(x.l0Out, ones)];
    out.push({
      label: c.label,
      hook: c.hook,
      mainRatio,
      controlRatio,
      ratioDrop,
      dceGapDrop,
      l0: { main: l0(a), control: l0(b) },
      verdict: controlVerdict(mainRatio, controlRatio, ratioDrop),
    });
  });
  return out;
}
