/**
 * The FU1 + FU2 run of notebook 14 in one pass over the data: every positional
 * variant at layer 0 (V0–V3) and V0/V3 at every later SAE, with ΔCE against
 * clean-model-sampled targets accumulated for each, plus the window summaries
 * (the verdicts follow rules_positional.ts).
 *
 * @example
 * ```ts
 * import { runPositionalFollowUp } from "./positional_run.ts";
 * // const fu = await runPositionalFollowUp(setup, rows.rows, { seed: 0 });
 * // fu.summary.filter((r) => r.layer === 0);
 * ```
 *
 * @module
 */

import { describeBosPolicy } from "../metrics/per_position.ts";
import type { Sae } from "../sae/sae.ts";
import {
  type ContextSweepConfig,
  type ContextSweepResult,
  runSpliceSweep,
  studyBinEdges,
  type SweepOutput,
} from "./context_sweep.ts";
import { parseVariantKey, positionalSpecs, type PositionalVariant } from "./positional.ts";
import { loadStudySae, type StudySetup } from "./setup.ts";

/** Output of {@link runPositionalFollowUp}. */
export interface PositionalFollowUp {
  out: SweepOutput;
  /** The V0 splices as a context sweep (for the KL-vs-ΔCE figures). */
  v0: ContextSweepResult;
  summary: PositionalRow[];
}

/** Window means of one variant. */
export interface PositionalRow {
  layer: number;
  variant: PositionalVariant;
  window: "in" | "out";
  nmse: number;
  dce: number;
  dce_se: number;
  kl: number;
  kl_se: number;
  /** ΔCE against targets sampled from the clean model (estimates KL). */
  dce_sampled: number;
  dce_sampled_se: number;
  l0: number;
}

/**
 * Runs the variants (all SAEs held at once) and summarises them inside (1 … ctx−1)
 * and beyond (ctx … T−1) the training context.
 */
export async function runPositionalFollowUp(
  setup: StudySetup,
  rows: readonly Int32Array[],
  config: Partial<ContextSweepConfig> = {},
): Promise<PositionalFollowUp> {
  const saes: Sae[] = [];
  try {
    const specs = [];
    for (const e of setup.saes) {
      const sae = await loadStudySae(e);
      saes.push(sae);
      const variants: PositionalVariant[] = e.hook === "blocks.0.hook_resid_pre"
        ? ["V0", "V1", "V2", "V3"]
        : ["V0", "V3"];
      specs.push(...positionalSpecs(setup.model, sae, e.label, variants));
    }
    const cfg = {
      ...config,
      sampledTargets: true,
      bosId: setup.bosId,
      rowBinEdges: config.rowBinEdges ?? studyBinEdges(rows[0]!.length, setup.saeContext),
    };
    const out = await runSpliceSweep(setup.model, rows, specs, cfg, "positional variants");
    const ctx = setup.saeContext;
    const summary: PositionalRow[] = [];
    for (const s of out.splices) {
      const { layer, variant } = parseVariantKey(s.key);
      for (const [window, a, b] of [["in", 1, ctx], ["out", ctx, out.T]] as const) {
        const st = s.metrics.stats;
        const samp = s.sampledDeltaCe!.pooled(a, b);
        summary.push({
          layer,
          variant,
          window,
          nmse: st.mse_normalised.pooled(a, b).mean,
          dce: st.delta_ce.pooled(a, b).mean,
          dce_se: st.delta_ce.pooled(a, b).se,
          kl: st.kl.pooled(a, b).mean,
          kl_se: st.kl.pooled(a, b).se,
          dce_sampled: samp.mean,
          dce_sampled_se: samp.se,
          l0: st.l0.pooled(a, b).mean,
        });
      }
    }
    const v0Splices = out.splices.filter((s) => parseVariantKey(s.key).variant === "V0");
    const bosPolicy = config.bosPolicy ?? "exclude-position-0";
    const v0: ContextSweepResult = {
      config: { ...(config as ContextSweepConfig) },
      layers: v0Splices.map((s) => ({
        label: parseVariantKey(s.key).layer,
        hook: s.hook,
        metrics: s.metrics,
        sampledDeltaCe: s.sampledDeltaCe,
      })),
      clean: out.clean,
      nRows: out.rows,
      T: out.T,
      saeContext: ctx,
      modelContext: setup.modelContext,
      bosPolicy,
      bosPolicyText: describeBosPolicy(bosPolicy, setup.bosId),
      seconds: out.seconds,
      batchRows: out.batchRows,
    };
    return { out, v0, summary };
  } finally {
    for (const s of saes) s.dispose();
  }
}
