/**
 * The rules of notebook 12 (F3, downstream error propagation) and the per-bin
 * table behind the upstream-splice analysis; they read an `ErrorPropagationResult`. Intervals are percentile
 * bootstraps over prompts from the per-prompt bins of `runErrorPropagation`.
 *
 * Two error ratios answer different questions, so both are reported:
 *
 * - `sseRatio` = ‖SAE_d(x_d^s) − x_d^s‖² / ‖SAE_d(x_d^c) − x_d^c‖²: how well the later SAE reconstructs **its own
 *   input** when that input was perturbed upstream. The spec's F3(b) wording ("downstream SAE degradation", "apply
 *   SAE_d to x_d^spliced … relative to SAE_d on x_d^clean") implies this one.
 * - `sseVsCleanRatio` = ‖SAE_d(x_d^s) − x_d^c‖² / ‖SAE_d(x_d^c) − x_d^c‖²: how far the two-SAE stream ends up from
 *   the clean one: the upstream deviation plus the later SAE's own error, i.e. whether errors **add up**.
 *
 * @example
 * ```ts
 * import { propagationRules } from "./rules_propagation.ts";
 * import { evaluateRules } from "./rules.ts";
 * // evaluateRules(propagationRules(128), prop);
 * ```
 *
 * @module
 */

import { type BootstrapConfig, bootstrapRows, type Interval } from "../metrics/bootstrap.ts";
import { type RowBinStats, weightedMean } from "../metrics/row_bins.ts";
import { fromParts, num, part, type Rule } from "./rules.ts";

/** What the rules read of an {@link ErrorPropagationResult} (per-prompt bins), plus bootstrap settings. */
export interface PropagationRuleData {
  pairs: {
    source: number;
    target: number;
    rows: { relDev: RowBinStats; sseSpliced: RowBinStats; sseVsClean: RowBinStats };
  }[];
  clean: { target: number; rows: { sse: RowBinStats; nmse: RowBinStats } }[];
  sources: number[];
  saeContext: number;
  T: number;
  boot?: Partial<BootstrapConfig>;
}

type Win = readonly [number, number];

function mean(st: RowBinStats, win: Win) {
  const rw = st.window(win[0], win[1]);
  return (w?: ArrayLike<number>) => weightedMean(rw, w);
}

function boot(d: PropagationRuleData, stat: (w: Float64Array) => number, seed: number): Interval {
  const n = d.pairs[0]?.rows.relDev.nRows ?? 0;
  return bootstrapRows(n, stat, { ...(d.boot ?? {}), seed: (d.boot?.seed ?? 0) + seed });
}

const geo = (xs: readonly number[]) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);

/** Geometric mean over pairs of a ratio of window means (numerator from the pair, denominator from the clean target). */
function pairRatio(
  d: PropagationRuleData,
  numOf: (p: PropagationRuleData["pairs"][number]) => RowBinStats,
  denOf: (p: PropagationRuleData["pairs"][number]) => RowBinStats,
  winNum: Win,
  winDen: Win,
) {
  const fs = d.pairs.map((p) => [mean(numOf(p), winNum), mean(denOf(p), winDen)] as const);
  return (w?: ArrayLike<number>) => geo(fs.map(([a, b]) => a(w) / b(w)));
}

/** The F3 rules for SAE context `ctx`. */
export function propagationRules(ctx: number): Rule<PropagationRuleData>[] {
  const IN: Win = [0, ctx];
  const BOOT = "95% percentile bootstrap over prompts";
  const cleanSse = (d: PropagationRuleData) => (p: PropagationRuleData["pairs"][number]) =>
    d.clean.find((c) => c.target === p.target)!.rows.sse;
  return [
    {
      id: "F3-a",
      claim: "errors of an early-layer SAE propagate: they persist at later layers rather than dying out",
      statistic: `retention: relative deviation ‖x^s − x^c‖² / ‖x^c‖² at the last hook when the first SAE is ` +
        `spliced, divided by that SAE's own normalised error at its hook (positions 1–${ctx - 1})`,
      threshold: "reproduced when the retention is above 0.5 (at least half the injected relative error remains); " +
        "not reproduced when below",
      uncertainty: BOOT,
      note: 'the old check (deviation > 0) could not fail; a researcher reads "propagate" as the error not dying ' +
        "out relative to the stream, so the injected error is the yardstick",
      kind: "claim",
      needsTrainedModel: false,
      evaluate(d) {
        const s = Math.min(...d.sources);
        const last = Math.max(...d.pairs.map((p) => p.target));
        const p = d.pairs.find((q) => q.source === s && q.target === last)!;
        const dev = mean(p.rows.relDev, IN);
        const own = mean(d.clean.find((c) => c.target === s)!.rows.nmse, IN);
        const iv = boot(d, (w) => dev(w) / own(w), 1);
        return fromParts(
          [part(`retention ${s}→${last}`, iv, 0.5, "above")],
          `relDev ${num(dev())}, SAE ${s}'s own NMSE ${num(own())}`,
        );
      },
    },
    {
      id: "F3-b",
      claim: "later SAEs reconstruct the perturbed stream worse than the clean one (the spec's F3(b) reading)",
      statistic: `geometric mean over (source, target) pairs of sseRatio = SSE of SAE_d on its spliced input / on ` +
        `its clean input, positions 1–${ctx - 1}`,
      threshold: "reproduced when above 1, not reproduced when below",
      uncertainty: BOOT,
      note: "sseRatio is what the spec's wording implies; F3-b′ reports sseVsCleanRatio, which can disagree",
      kind: "claim",
      needsTrainedModel: false,
      evaluate(d) {
        const f = pairRatio(d, (p) => p.rows.sseSpliced, cleanSse(d), IN, IN);
        return fromParts([part("geo-mean sseRatio", boot(d, (w) => f(w), 2), 1, "above")], `${d.pairs.length} pairs`);
      },
    },
    {
      id: "F3-b′",
      claim: "errors add up: with an upstream SAE spliced, the later SAE's output is further from the clean stream",
      statistic: `geometric mean over pairs of sseVsCleanRatio = ‖SAE_d(x^s) − x^c‖² / ‖SAE_d(x^c) − x^c‖², ` +
        `positions 1–${ctx - 1}`,
      threshold: "reproduced when above 1, not reproduced when below",
      uncertainty: BOOT,
      kind: "claim",
      needsTrainedModel: false,
      evaluate(d) {
        const f = pairRatio(d, (p) => p.rows.sseVsClean, cleanSse(d), IN, IN);
        return fromParts([part("geo-mean sseVsCleanRatio", boot(d, (w) => f(w), 3), 1, "above")], "");
      },
    },
    {
      id: "F3-c",
      claim: "the downstream perturbation is larger beyond the training context",
      statistic: `geometric mean over pairs of relDev(${ctx}–T−1) / relDev(1–${ctx - 1})`,
      threshold: "reproduced when above 1, not reproduced when below",
      uncertainty: BOOT,
      kind: "claim",
      needsTrainedModel: false,
      evaluate(d) {
        const f = pairRatio(d, (p) => p.rows.relDev, (p) => p.rows.relDev, [ctx, d.T], IN);
        return fromParts([part("geo-mean relDev out/in", boot(d, (w) => f(w), 4), 1, "above")], "");
      },
    },
  ];
}

/** One position bin of the upstream-splice table. */
export interface SpliceEffectRow {
  from: number;
  to: number;
  /** SAE_d's normalised-free SSE on the clean stream, on the spliced stream, and their ratio with its interval. */
  sseClean: number;
  sseSpliced: number;
  ratio: number;
  ratioLo: number;
  ratioHi: number;
  /** Relative deviation of the spliced stream from the clean one at hook d. */
  relDev: number;
}

/**
 * Per position bin: the target SAE's error on the clean and on the spliced
 * stream of one (source, target) pair, their ratio (bootstrap interval over
 * prompts), and the relative deviation.
 */
export function spliceEffectRows(
  d: PropagationRuleData,
  source: number,
  target: number,
  binsPerRow = 1,
): SpliceEffectRow[] {
  const p = d.pairs.find((q) => q.source === source && q.target === target);
  if (!p) throw new RangeError(`no propagation pair ${source}→${target}`);
  const c = d.clean.find((x) => x.target === target)!.rows.sse;
  const edges = c.edges.filter((_, i) => i % binsPerRow === 0 || i === c.edges.length - 1);
  const out: SpliceEffectRow[] = [];
  for (let k = 0; k + 1 < edges.length; k++) {
    const win: Win = [edges[k]!, edges[k + 1]!];
    const a = mean(p.rows.sseSpliced, win);
    const b = mean(c, win);
    const iv = boot(d, (w) => a(w) / b(w), 100 + k);
    out.push({
      from: win[0] === 0 ? 1 : win[0],
      to: win[1] - 1,
      sseClean: b(),
      sseSpliced: a(),
      ratio: iv.estimate,
      ratioLo: iv.lo,
      ratioHi: iv.hi,
      relDev: mean(p.rows.relDev, win)(),
    });
  }
  return out;
}
