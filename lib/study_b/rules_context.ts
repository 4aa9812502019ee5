/**
 * The rules of notebook 11 (F1/F2): R1–R6, R9, acceptance tests A3 and A5, the
 * KL versions of R5/R6 (FU2), and the bug guard (A4, which makes R8 true by
 * construction: a sanity check, not evidence). Every statistic is a ratio or
 * difference of window means per layer; intervals are percentile bootstraps
 * over prompts (rows) from the per-prompt position bins of the sweep.
 *
 * Windows (ctx = the SAE training context, w = ctx/8; for ctx 128: w 16):
 *
 * | name | positions | use |
 * | --- | --- | --- |
 * | in | 1 … ctx−1 | inside the training context |
 * | late | ctx/2 … ctx−1 | the in-context baseline a "holds" ratio divides by |
 * | first | ctx … ctx+w−1 | right after the context (128–143) |
 * | near | ctx … ctx+5w−1 | "up to ~200" (128–207, the nearest bin edge to 200) |
 * | pow2 | 2ctx … 2ctx+w−1 | the first power of two past ctx (256–271) |
 * | out | ctx … T−1 | beyond the training context |
 *
 * "Degraded" means a window mean more than 2× the late in-context mean, the
 * same factor everywhere (the old hold-position rule's factor).
 *
 * @example
 * ```ts
 * import { contextRuleData, contextRules } from "./rules_context.ts";
 * import { evaluateRules } from "./rules.ts";
 * // const rules = contextRules(128, 1024);
 * // const out = evaluateRules(rules, contextRuleData(result), { trained: true });
 * ```
 *
 * @module
 */

import { type BootstrapConfig, bootstrapRows, type Interval } from "../metrics/bootstrap.ts";
import { type RowBinStats, type RowWindow, weightedMean } from "../metrics/row_bins.ts";
import type { SpliceMetricName } from "../metrics/splice_metrics.ts";
import type { ContextSweepResult } from "./context_sweep.ts";
import { fromParts, ivText, num, part, type Rule, type RuleOutcome } from "./rules.ts";

/** Per-layer per-prompt bins, the input of the context rules. */
export interface ContextRuleData {
  saeContext: number;
  T: number;
  layers: { label: number; bins: Partial<Record<SpliceMetricName, RowBinStats>> }[];
  boot?: Partial<BootstrapConfig>;
}

/**
 * The rule input of a sweep (its per-prompt bins).
 *
 * @throws {Error} when the sweep kept no per-prompt bins
 */
export function contextRuleData(res: ContextSweepResult, boot: Partial<BootstrapConfig> = {}): ContextRuleData {
  return {
    saeContext: res.saeContext,
    T: res.T,
    layers: res.layers.map((l) => {
      if (!l.metrics.rowBins) throw new Error(`layer ${l.label}: the sweep kept no per-prompt bins (rowBinEdges)`);
      return { label: l.label, bins: l.metrics.rowBins };
    }),
    boot,
  };
}

/** The windows of the module documentation as [from, to). */
export function contextWindows(ctx: number, T: number) {
  const w = Math.max(1, Math.round(ctx / 8));
  const half = Math.round(ctx / 2 / w) * w;
  return {
    w,
    in: [0, ctx] as const,
    late: [half, ctx] as const,
    first: [ctx, Math.min(T, ctx + w)] as const,
    near: [ctx, Math.min(T, ctx + 5 * w)] as const,
    pow2: [2 * ctx, Math.min(T, 2 * ctx + w)] as const,
    out: [ctx, T] as const,
  };
}

type Win = readonly [number, number];

/** Per-row sums of one metric of one layer over a window. */
function rowWin(d: ContextRuleData, layer: number, metric: SpliceMetricName, win: Win): RowWindow {
  const st = d.layers[layer]!.bins[metric];
  if (!st) throw new Error(`layer ${d.layers[layer]!.label}: no per-prompt bins of ${metric}`);
  return st.window(win[0], win[1]);
}

function nRows(d: ContextRuleData): number {
  return d.layers[0]!.bins.delta_ce?.nRows ?? d.layers[0]!.bins.mse_normalised?.nRows ?? 0;
}

/** Bootstrap over prompts of a statistic built from window means. */
function boot(d: ContextRuleData, stat: (w: Float64Array | undefined) => number, seedOffset = 0): Interval {
  const cfg = d.boot ?? {};
  return bootstrapRows(nRows(d), (w) => stat(w), { ...cfg, seed: (cfg.seed ?? 0) + seedOffset });
}

/** Ratio of two window means of a metric for every layer, as a function of the bootstrap weights. */
function layerRatios(d: ContextRuleData, metric: SpliceMetricName, num: Win, den: Win) {
  const wins = d.layers.map((_, i) => [rowWin(d, i, metric, num), rowWin(d, i, metric, den)] as const);
  return (w?: ArrayLike<number>) => wins.map(([a, b]) => weightedMean(a, w) / weightedMean(b, w));
}

function layerMeans(d: ContextRuleData, metric: SpliceMetricName, win: Win) {
  const wins = d.layers.map((_, i) => rowWin(d, i, metric, win));
  return (w?: ArrayLike<number>) => wins.map((a) => weightedMean(a, w));
}

const avg = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Indices of the early and late halves of the layers (the middle one of an odd count is left out). */
export function layerHalves(n: number): { early: number[]; late: number[] } {
  const h = Math.floor(n / 2);
  return {
    early: Array.from({ length: h }, (_, i) => i),
    late: Array.from({ length: h }, (_, i) => n - h + i),
  };
}

function labels(d: ContextRuleData, idx: readonly number[]): string {
  return idx.map((i) => d.layers[i]!.label).join(",");
}

const BOOT_TEXT = "95% percentile bootstrap over prompts (2000 resamples of whole prompts)";

/** One rule evaluated on windows; `ok` false when the run lacks a window. */
function windowsFit(T: number, ...wins: Win[]): boolean {
  return wins.every(([a, b]) => b > a && b <= T);
}

function notInRun(what: string): Omit<RuleOutcome, "id"> {
  return { verdict: "inconclusive", parts: [], measured: `${what} lies beyond this run's prompts` };
}

/**
 * The rules of notebook 11 for SAE context `ctx` and prompt length `T` (their
 * text names the windows in positions).
 */
export function contextRules(ctx: number, T: number): Rule<ContextRuleData>[] {
  const W = contextWindows(ctx, T);
  const span = (w: Win) => `${w[0] === 0 ? 1 : w[0]}–${w[1] - 1}`;
  const ratioText = (m: string, w: Win) => `${m}(${span(w)}) / ${m}(${span(W.late)})`;
  return [
    {
      id: "R1",
      claim: `the spliced loss stays low for a while past the ${ctx}-token training context ("quite low up to ~200")`,
      statistic: `pooled over layers: mean ΔCE over positions ${span(W.near)} divided by mean ΔCE over ${
        span(W.late)
      } (ΔCE averaged over layers first)`,
      threshold: `reproduced when the ratio is below 2 (the loss increase has not doubled), not reproduced when above`,
      uncertainty: BOOT_TEXT,
      note: "the claim is about the log loss of the spliced models in general (R2 adds the layer effect), so the " +
        "statistic pools the layers; ~200 of 128 is read as the bin edge nearest to 1.56 × ctx",
      kind: "claim",
      needsTrainedModel: true,
      evaluate(d) {
        if (!windowsFit(d.T, W.near)) return notInRun("the window");
        const a = layerMeans(d, "delta_ce", W.near);
        const b = layerMeans(d, "delta_ce", W.late);
        const iv = boot(d, (w) => avg(a(w)) / avg(b(w)), 1);
        return fromParts([part("ΔCE ratio", iv, 2, "below")], "");
      },
    },
    {
      id: "R2",
      claim: `layer effect: the last SAE holds to ~200 tokens, layer 0 only to the training context (${ctx})`,
      statistic: `per layer, normalised MSE ${ratioText("NMSE", W.near)}; for the last SAE and for layer 0`,
      threshold: `reproduced when the last SAE's ratio is below 2 AND layer 0's is above 2; not reproduced when ` +
        `either is on the wrong side`,
      uncertainty: BOOT_TEXT,
      note: `"clearest in the MSE/L1 plots": normalised MSE (a within-layer ratio, so MSE and NMSE read alike)`,
      kind: "claim",
      needsTrainedModel: false,
      evaluate(d) {
        if (!windowsFit(d.T, W.near)) return notInRun("the window");
        const r = layerRatios(d, "mse_normalised", W.near, W.late);
        const last = d.layers.length - 1;
        const ivLast = boot(d, (w) => r(w)[last]!, 2);
        const ivFirst = boot(d, (w) => r(w)[0]!, 3);
        return fromParts([
          part(`L${d.layers[last]!.label} NMSE ratio`, ivLast, 2, "below"),
          part(`L${d.layers[0]!.label} NMSE ratio`, ivFirst, 2, "above"),
        ], "");
      },
    },
    {
      id: "R3",
      claim:
        `at powers of two everything looks bad past ${ctx}; every position reveals a window where some layer holds`,
      statistic: `min over layers of ${ratioText("NMSE", W.pow2)} (the first power of two past ctx), and min over ` +
        `layers of ${ratioText("NMSE", W.near)}`,
      threshold: `reproduced when every layer is degraded at ${2 * ctx} (min ratio above 2) AND some layer holds to ` +
        `~200 (min ratio below 2)`,
      uncertainty: BOOT_TEXT,
      kind: "claim",
      needsTrainedModel: false,
      evaluate(d) {
        if (!windowsFit(d.T, W.pow2, W.near)) return notInRun(`position ${2 * ctx}`);
        const p = layerRatios(d, "mse_normalised", W.pow2, W.late);
        const n = layerRatios(d, "mse_normalised", W.near, W.late);
        return fromParts([
          part(`min NMSE ratio at ${span(W.pow2)}`, boot(d, (w) => Math.min(...p(w)), 4), 2, "above"),
          part(`min NMSE ratio at ${span(W.near)}`, boot(d, (w) => Math.min(...n(w)), 5), 2, "below"),
        ], "");
      },
    },
    {
      id: "R4",
      claim: "layer-0 activations are an order of magnitude smaller than any later layer's",
      statistic: `min over later layers of mean ‖x‖ (positions ${span(W.in)}) divided by layer 0's`,
      threshold: "reproduced when the ratio is above √10 ≈ 3.16 (an order of magnitude on a log scale)",
      uncertainty: BOOT_TEXT,
      kind: "claim",
      needsTrainedModel: false,
      evaluate(d) {
        if (d.layers.length < 2 || d.layers[0]!.label !== 0) {
          return { verdict: "inconclusive", parts: [], measured: "needs layer 0 and a later layer" };
        }
        const m = layerMeans(d, "act_norm", W.in);
        const iv = boot(d, (w) => {
          const v = m(w);
          return Math.min(...v.slice(1)) / v[0]!;
        }, 6);
        return fromParts([part("norm ratio", iv, Math.sqrt(10), "above")], "");
      },
    },
    ...orderingRules("delta_ce", "ΔCE", ""),
    ...orderingRules("kl", "KL", "-KL"),
    {
      id: "R9",
      claim: "SAEs trained on short contexts fail to generalise to longer contexts (secondary source)",
      statistic: `mean over layers of NMSE(${span(W.out)}) / NMSE(${span(W.in)})`,
      threshold: "reproduced when the mean ratio is above 2 (reconstruction error at least doubles past the context)",
      uncertainty: BOOT_TEXT,
      kind: "claim",
      needsTrainedModel: false,
      evaluate(d) {
        const r = layerRatios(d, "mse_normalised", W.out, W.in);
        return fromParts([part("mean NMSE ratio", boot(d, (w) => avg(r(w)), 7), 2, "above")], "");
      },
    },
    {
      id: "A3",
      claim: "acceptance test 3: the CE-loss score is high (≫ 0.5) for every layer inside the training context",
      statistic: `min over layers of CE recovered = (CE_zero − CE_spliced) / (CE_zero − CE_clean) over positions ${
        span(W.in)
      }, on the zero-ablated prompts`,
      threshold: 'reproduced when the minimum is above 0.8 (the project\'s SAE bar for "≫ 0.5")',
      uncertainty: "95% percentile bootstrap over the zero-ablated prompts",
      kind: "claim",
      needsTrainedModel: true,
      evaluate(d) {
        const z = d.layers.map((_, i) => rowWin(d, i, "ce_zero", W.in));
        const c = d.layers.map((_, i) => rowWin(d, i, "ce_clean", W.in));
        const s = d.layers.map((_, i) => rowWin(d, i, "ce_spliced", W.in));
        const rows = Array.from(z[0]!.count.keys()).filter((r) => z[0]!.count[r]! > 0);
        if (rows.length === 0) return { verdict: "inconclusive", parts: [], measured: "zero ablation not run" };
        const sub = (win: RowWindow): RowWindow => ({
          sum: Float64Array.from(rows, (r) => win.sum[r]!),
          count: Float64Array.from(rows, (r) => win.count[r]!),
        });
        const zs = z.map(sub), cs = c.map(sub), ss = s.map(sub);
        const iv = bootstrapRows(rows.length, (w) =>
          Math.min(...zs.map((zz, i) => {
            const mz = weightedMean(zz, w);
            return (mz - weightedMean(ss[i]!, w)) / (mz - weightedMean(cs[i]!, w));
          })), { ...(d.boot ?? {}), seed: (d.boot?.seed ?? 0) + 8 });
        return fromParts([part("min CE recovered", iv, 0.8, "above")], `${rows.length} zero-ablated prompts`);
      },
    },
    {
      id: "A5",
      claim: `acceptance test 5 (first item): layer 0's reconstruction error rises sharply right after ${ctx}`,
      statistic: `layer 0: ${ratioText("NMSE", W.first)}`,
      threshold: "reproduced when the ratio is above 2 (the other items of test 5 are R2, R5 and R4)",
      uncertainty: BOOT_TEXT,
      kind: "claim",
      needsTrainedModel: false,
      evaluate(d) {
        if (d.layers[0]!.label !== 0) return { verdict: "inconclusive", parts: [], measured: "no layer-0 SAE" };
        const r = layerRatios(d, "mse_normalised", W.first, W.late);
        return fromParts([part("L0 NMSE ratio", boot(d, (w) => r(w)[0]!, 9), 2, "above")], "");
      },
    },
    {
      id: "A4/R8",
      claim: "the bug guard: mean ΔCE inside the context is positive for every layer, and KL ≥ 0 everywhere; the " +
        "published ΔCE formula's sign error (R8) then puts every curve below clean by construction",
      statistic: `mean ΔCE over positions ${span(W.in)} per layer; the smallest per-prompt KL bin mean`,
      threshold: "passes when every layer's mean ΔCE is > 0 and no KL is negative",
      uncertainty: "none: a guard on the pipeline, not a test of the study",
      kind: "sanity",
      needsTrainedModel: false,
      evaluate(d) {
        const dce = layerMeans(d, "delta_ce", W.in)();
        let minKl = Infinity;
        d.layers.forEach((_, i) => {
          const k = rowWin(d, i, "kl", [0, d.T]);
          k.sum.forEach((s) => (minKl = Math.min(minKl, s)));
        });
        const ok = dce.every((x) => x > 0) && minKl >= 0;
        return {
          verdict: ok ? "passed" : "failed",
          parts: [],
          measured: `ΔCE inside: ${d.layers.map((l, i) => `L${l.label} ${num(dce[i]!)}`).join(", ")}; ` +
            `smallest per-prompt KL sum ${num(minKl)}`,
        };
      },
    },
  ];

  function orderingRules(metric: "delta_ce" | "kl", name: string, suffix: string): Rule<ContextRuleData>[] {
    const kl = metric === "kl";
    const note = kl
      ? "FU2: the same rule on KL(clean ‖ spliced); the study's wording (log loss) implies ΔCE, which decides"
      : 'the study\'s wording ("performance", the loss plot) implies ΔCE; the KL version is reported as FU2';
    return [
      {
        id: `R5${suffix}`,
        claim: "inside the training context later layers hurt the loss more than early ones",
        statistic: `mean ${name} over positions ${span(W.in)}: mean over the later half of the layers minus mean ` +
          `over the earlier half (the middle layer of an odd count left out)`,
        threshold: "reproduced when the difference is above 0, not reproduced when below",
        uncertainty: BOOT_TEXT,
        note,
        kind: "claim",
        needsTrainedModel: true,
        evaluate(d) {
          const { early, late } = layerHalves(d.layers.length);
          if (early.length === 0) return { verdict: "inconclusive", parts: [], measured: "needs ≥ 2 layers" };
          const m = layerMeans(d, metric, W.in);
          const iv = boot(d, (w) => {
            const v = m(w);
            return avg(late.map((i) => v[i]!)) - avg(early.map((i) => v[i]!));
          }, kl ? 20 : 10);
          const v = m();
          return fromParts(
            [part(`late − early ${name}`, iv, 0, "above")],
            `early L${labels(d, early)}, late L${labels(d, late)}; by layer ${
              d.layers.map((l, i) => `L${l.label} ${num(v[i]!)}`).join(", ")
            }`,
          );
        },
      },
      {
        id: `R6${suffix}`,
        claim: "past the training context the SAEs do worse in general, worst in early layers and best in late ones",
        statistic: `(a) mean over layers of ${name}(${span(W.out)}) − ${name}(${span(W.in)}); (b) mean ${name}(${
          span(W.out)
        }) over the earlier half of the layers minus over the later half`,
        threshold: "reproduced when (a) > 0 AND (b) > 0; not reproduced when either is below 0",
        uncertainty: BOOT_TEXT,
        note: `${note}; (b) compares levels beyond the context ("poorest in earlier layers"), not gaps`,
        kind: "claim",
        needsTrainedModel: true,
        evaluate(d) {
          const { early, late } = layerHalves(d.layers.length);
          if (early.length === 0) return { verdict: "inconclusive", parts: [], measured: "needs ≥ 2 layers" };
          const o = layerMeans(d, metric, W.out);
          const i0 = layerMeans(d, metric, W.in);
          const gap = boot(d, (w) => {
            const a = o(w), b = i0(w);
            return avg(a.map((x, i) => x - b[i]!));
          }, kl ? 21 : 11);
          const order = boot(d, (w) => {
            const a = o(w);
            return avg(early.map((i) => a[i]!)) - avg(late.map((i) => a[i]!));
          }, kl ? 22 : 12);
          const v = o();
          return fromParts(
            [part(`(a) mean gap`, gap, 0, "above"), part(`(b) early − late beyond`, order, 0, "above")],
            `${name} beyond by layer ${d.layers.map((l, i) => `L${l.label} ${num(v[i]!)}`).join(", ")}`,
          );
        },
      },
    ];
  }
}

/** Per-layer window ratios with bootstrap intervals (for tables): NMSE and ΔCE, near/late and out/in. */
export function contextRatioRows(d: ContextRuleData): Record<string, string | number>[] {
  const W = contextWindows(d.saeContext, d.T);
  const out: Record<string, string | number>[] = [];
  const defs: [string, SpliceMetricName, Win, Win][] = [
    ["NMSE near/late", "mse_normalised", W.near, W.late],
    ["NMSE out/in", "mse_normalised", W.out, W.in],
    ["ΔCE near/late", "delta_ce", W.near, W.late],
    ["KL near/late", "kl", W.near, W.late],
  ];
  for (const [name, metric, a, b] of defs) {
    if (!windowsFit(d.T, a, b)) continue;
    const r = layerRatios(d, metric, a, b);
    d.layers.forEach((l, i) => {
      const iv = boot(d, (w) => r(w)[i]!, 30 + i);
      out.push({ ratio: name, layer: l.label, estimate: iv.estimate, lo: iv.lo, hi: iv.hi, text: ivText(iv) });
    });
  }
  return out;
}
