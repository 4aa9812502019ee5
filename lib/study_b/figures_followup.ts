/**
 * Figure builders of F3 (`error_propagation_*`), FU1 (`positional_addback_*`)
 * and FU2 (`kl_vs_dce_*`). See `figures.ts` for the conventions (data saved with
 * every figure; captions state the BOS policy and both context numbers).
 *
 * @example
 * ```ts
 * import { errorPropagationFigures } from "./figures_followup.ts";
 * // for (const f of errorPropagationFigures(prop, setup.bosId)) await saveAndShow(f.fig, f.name, f.data);
 * ```
 *
 * @module
 */

import {
  gridLayout,
  heatmapTrace,
  hline,
  intervalErrorBars,
  layerColor,
  lineTrace,
  mergeLayout,
  scatterTrace,
} from "../plot/mod.ts";
import { dark2 } from "../plot/colors.ts";
import { figure } from "../plot/figure.ts";
import type { Layout, Shape, Trace } from "../plot/types.ts";
import { describeBosPolicy } from "../metrics/per_position.ts";
import type { ErrorPropagationResult } from "./error_propagation.ts";
import { summarisePropagation } from "./error_propagation.ts";
import type { ContextSweepResult, SweepOutput } from "./context_sweep.ts";
import { contextLines, type FigureSpec, sweepCaption, withCaption } from "./figures.ts";
import { parseVariantKey, VARIANT_DESCRIPTIONS } from "./positional.ts";
import { binCurve, type BinnedCurve, type BinTerm, metricTerm } from "./figure_bins.ts";

function windowsText(ctx: number, T: number): [string, string] {
  return [`positions 1…${ctx - 1} (inside the SAE training context)`, `positions ${ctx}…${T - 1} (beyond it)`];
}

/**
 * F3 heat maps (`error_propagation_deviation`, `error_propagation_sae_mse`) and
 * lines (`error_propagation_lines`): source SAE rows × downstream hook columns,
 * averaged inside and beyond the training context.
 */
export function errorPropagationFigures(prop: ErrorPropagationResult, bosId: number): FigureSpec[] {
  const ctx = prop.saeContext;
  const T = prop.T;
  const inside = summarisePropagation(prop, 1, ctx);
  const beyond = summarisePropagation(prop, ctx, T);
  const targets = prop.labels.filter((l) => l > Math.min(...prop.sources));
  const [wIn, wOut] = windowsText(ctx, T);
  const policy = describeBosPolicy(prop.config.bosPolicy, bosId);
  const base =
    `${prop.nRows} prompts of ${T} tokens; SAE training context ${ctx}, model context ${prop.modelContext}; ` +
    `the source SAE is spliced at every position; averages: ${policy}.`;
  const grid = (pick: (s: ReturnType<typeof summarisePropagation>[number]) => number, rows: typeof inside) =>
    prop.sources.map((s) =>
      targets.map((d) => {
        const c = rows.find((r) => r.source === s && r.target === d);
        return c ? pick(c) : NaN;
      })
    );
  const heat = (
    name: string,
    title: string,
    pick: (s: ReturnType<typeof summarisePropagation>[number]) => number,
    bar: string,
    log: boolean,
    caption: string,
  ): FigureSpec => {
    const g = gridLayout(1, 2, { width: 1050, height: 480, gapX: 110, panelTitles: [wIn, wOut] });
    const zin = grid(pick, inside);
    const zout = grid(pick, beyond);
    const tf = (z: number[][]) => z.map((r) => r.map((v) => (log ? Math.log10(v) : v)));
    const all = [...tf(zin).flat(), ...tf(zout).flat()].filter(Number.isFinite);
    const zmin = Math.min(...all);
    const zmax = Math.max(...all);
    const common = {
      x: targets.map((d) => `→ ${d}`),
      y: prop.sources.map((s) => `SAE ${s}`),
      zmin,
      zmax,
      texttemplate: log ? "" : "%{z:.3g}",
      gap: 1,
    };
    const traces: Trace[] = [
      heatmapTrace(tf(zin), { ...common, axes: g.axes(0, 0), showscale: false }),
      heatmapTrace(tf(zout), { ...common, axes: g.axes(0, 1), colorbarTitle: log ? `log10 ${bar}` : bar }),
    ];
    const full = `${caption} ${base}`;
    const layout = withCaption(
      mergeLayout(g.layout, {
        title: { text: title },
        xaxis: { title: { text: "downstream hook (layer label)" } },
        xaxis2: { title: { text: "downstream hook (layer label)" } },
        yaxis: { title: { text: "spliced source SAE" }, autorange: "reversed" },
        yaxis2: { autorange: "reversed" },
      }),
      full,
      160,
    );
    return {
      name,
      fig: figure(traces, layout),
      data: { sources: prop.sources, targets, inside: zin, beyond: zout, sae_context: ctx, T, n_prompts: prop.nRows },
      caption: full,
    };
  };
  const figs = [
    heat(
      "error_propagation_deviation",
      "How far splicing one SAE moves later activations",
      (s) => s.relDev,
      "‖Δx‖²/‖x‖²",
      true,
      "F3a: mean relative deviation ‖x_d^spliced − x_d^clean‖² / ‖x_d^clean‖² of each downstream hook d when SAE s " +
        "is spliced (log10 colour scale).",
    ),
    heat(
      "error_propagation_sae_mse",
      "Downstream SAEs on the perturbed stream: error relative to the clean stream",
      (s) => s.sseRatio,
      "MSE ratio",
      false,
      "F3b: mean ‖SAE_d(x_d^spliced) − x_d^spliced‖² divided by the same on the clean stream (1 = the later SAE " +
        "reconstructs the perturbed stream as well as the clean one; above 1 = errors compound).",
    ),
  ];
  // lines: relative deviation at the last hook vs position, one line per source
  const lastTarget = prop.labels[prop.labels.length - 1]!;
  const traces: Trace[] = [];
  const data: Record<string, number[]> = {};
  const n = prop.sources.length;
  prop.sources.forEach((s, i) => {
    const p = prop.pairs.find((q) => q.source === s && q.target === lastTarget);
    if (!p) return;
    const m = p.relDev.mean();
    const x: number[] = [];
    const y: number[] = [];
    for (let j = 1; j < T; j++) {
      x.push(j);
      y.push(m[j]!);
    }
    traces.push(lineTrace(x, y, { name: `SAE ${s} spliced`, color: layerColor(i, n), width: 1.2 }));
    data[`source_${s}`] = y;
  });
  const cap = `F3c: relative deviation of the last SAE hook (layer ${lastTarget}) against position when each source ` +
    `SAE is spliced. ${base}`;
  const axes = { xaxis: "x", yaxis: "y" } as const;
  figs.push({
    name: "error_propagation_lines",
    fig: figure(
      traces,
      withCaption(
        mergeLayout(gridLayout(1, 1, { width: 900, height: 460 }).layout, {
          title: { text: `Deviation at layer ${lastTarget} vs position` },
          xaxis: { title: { text: "context position j" } },
          yaxis: { title: { text: "‖Δx‖² / ‖x‖²" }, type: "log" },
          showlegend: true,
          shapes: contextLines(axes, ctx, prop.modelContext, T - 1),
        }),
        cap,
      ),
    ),
    data: { target: lastTarget, positions_from: 1, sources: data, sae_context: ctx, T },
    caption: cap,
  });
  return figs;
}

/**
 * FU1 (`positional_addback_layer<L>`): normalised MSE, ΔCE and KL against
 * position for each positional variant of one layer.
 */
export function positionalFigure(
  out: SweepOutput,
  layer: number,
  facts: { saeContext: number; modelContext: number; bosPolicyText: string },
): FigureSpec {
  const splices = out.splices.filter((s) => parseVariantKey(s.key).layer === layer);
  const g = gridLayout(1, 3, {
    width: 1250,
    height: 440,
    gapX: 70,
    panelTitles: ["normalised MSE ‖x̂ − x‖²/‖x‖²", "ΔCE (nats)", "KL(clean ‖ spliced) (nats)"],
  });
  const traces: Trace[] = [];
  const data: Record<string, unknown> = {};
  const metrics = ["mse_normalised", "delta_ce", "kl"] as const;
  splices.forEach((s, i) => {
    const v = parseVariantKey(s.key).variant;
    const entry: Record<string, number[]> = {};
    metrics.forEach((m, c) => {
      const mean = s.metrics.stats[m].mean();
      const to = m === "delta_ce" ? out.T - 1 : out.T;
      const x: number[] = [];
      const y: number[] = [];
      for (let j = 1; j < to; j++) {
        x.push(j);
        y.push(mean[j]!);
      }
      traces.push(lineTrace(x, y, {
        name: `${v}: ${VARIANT_DESCRIPTIONS[v]}`,
        color: dark2(i),
        width: 1.2,
        axes: g.axes(0, c),
        legendgroup: v,
        showlegend: c === 0,
      }));
      entry[m] = y;
    });
    data[v] = entry;
  });
  const shapes: Shape[] = [];
  for (let c = 0; c < 3; c++) {
    shapes.push(...contextLines(g.axes(0, c), facts.saeContext, facts.modelContext, out.T - 1));
  }
  shapes.push(hline(0, { axes: g.axes(0, 1), color: "black", dash: "solid", width: 1 }));
  const caption = `FU1 at layer ${layer}: the positional-embedding add-back variants (W_pos = the model's centred ` +
    `positional embedding). ${sweepCaption({ ...facts, nRows: out.rows, T: out.T }, "none")}${
      layer === 0
        ? " At layer 0, V1 and V3 are the same computation (x = W_E[t] + W_pos[j]) and their lines coincide."
        : ""
    }`;
  const layout = withCaption(
    mergeLayout(g.layout, {
      title: { text: `Positional add-back at layer ${layer}` },
      xaxis: { title: { text: "position j" } },
      xaxis2: { title: { text: "position j" } },
      xaxis3: { title: { text: "position j" } },
      yaxis: { type: "log" },
      yaxis3: { type: "log" },
      showlegend: true,
      legend: { orientation: "h", x: 0, y: -0.22 },
      margin: { b: 130 },
      shapes,
    }),
    caption,
    180,
  );
  return {
    name: `positional_addback_layer${layer}`,
    fig: figure(traces, layout),
    data: { layer, positions_from: 1, T: out.T, n_prompts: out.rows, sae_context: facts.saeContext, variants: data },
    caption,
  };
}

/** A window mean with its 95% interval ({@link binCurve} over one bin). */
interface WindowMean {
  mean: number;
  lo: number;
  hi: number;
  interval: BinnedCurve["interval"];
}

function windowMean(terms: BinTerm[], from: number, to: number): WindowMean {
  const c = binCurve(terms, [from, to]);
  return { mean: c.mean[0]!, lo: c.lo[0]!, hi: c.hi[0]!, interval: c.interval };
}

/**
 * FU2 (`kl_vs_dce_windows`): per layer, window means of ΔCE against KL inside and beyond the training context, with
 * 95% intervals on both axes and the line ΔCE = KL; and, when the sweep sampled targets from the clean model, the
 * sampled-target ΔCE against KL. Intervals are over prompts when the sweep kept per-prompt bins, else the
 * conservative per-position bound of {@link binCurve}.
 */
export function klVsDceFigure(res: ContextSweepResult): FigureSpec {
  const sampled = res.layers.every((l) => l.sampledDeltaCe !== null);
  const g = gridLayout(1, sampled ? 2 : 1, {
    width: sampled ? 1100 : 700,
    height: 500,
    gapX: 90,
    panelTitles: sampled
      ? ["ΔCE on the real next token vs KL", "ΔCE on a next token sampled from the clean model vs KL"]
      : ["ΔCE on the real next token vs KL"],
  });
  const ctx = res.saeContext;
  const T = res.T;
  // position 0 follows the sweep's BOS policy (excluded by default)
  const windows: [string, number, number][] = [["in", 0, ctx], ["out", ctx, T]];
  const kl: Record<string, WindowMean[]> = {};
  const dce: Record<string, WindowMean[]> = {};
  const sdce: Record<string, WindowMean[]> = {};
  for (const [w, a, b] of windows) {
    kl[w] = res.layers.map((l) => windowMean([metricTerm(l.metrics, "kl")], a, b));
    dce[w] = res.layers.map((l) => windowMean([metricTerm(l.metrics, "delta_ce")], a, b));
    if (sampled) {
      sdce[w] = res.layers.map((l) =>
        windowMean(
          [{
            coef: 1,
            stats: l.sampledDeltaCe!,
            rowBins: (l as unknown as { sampledRowBins?: BinTerm["rowBins"] }).sampledRowBins ?? null,
          }],
          a,
          b,
        )
      );
    }
  }
  const traces: Trace[] = [];
  const text = res.layers.map((l) => `L${l.label}`);
  const pts = (axes: ReturnType<typeof g.axes>, ys: Record<string, WindowMean[]>, legend: boolean) => {
    const all: number[] = [];
    windows.forEach(([w], i) => {
      const xs = kl[w]!;
      const yv = ys[w]!;
      const t = scatterTrace(xs.map((v) => v.mean), yv.map((v) => v.mean), {
        name: i === 0 ? `positions 1…${ctx - 1} (inside the SAE context)` : `positions ${ctx}…${T - 1} (beyond it)`,
        color: dark2(i),
        mode: "markers+text",
        markerSize: 7,
        text,
        textposition: i === 0 ? "top left" : "bottom right",
        axes,
        showlegend: legend,
        legendgroup: w,
      });
      t.error_x = intervalErrorBars(xs.map((v) => v.mean), xs.map((v) => v.lo), xs.map((v) => v.hi), {
        color: dark2(i),
        width: 2,
      });
      t.error_y = intervalErrorBars(yv.map((v) => v.mean), yv.map((v) => v.lo), yv.map((v) => v.hi), {
        color: dark2(i),
        width: 2,
      });
      traces.push(t);
      for (const v of [...xs, ...yv]) all.push(v.lo, v.hi, v.mean);
    });
    const finite = all.filter(Number.isFinite);
    const lo = Math.min(0, ...finite);
    const hi = Math.max(...finite);
    traces.push(lineTrace([lo, hi], [lo, hi], {
      name: "ΔCE = KL",
      color: "black",
      dash: "dot",
      width: 1,
      axes,
      showlegend: legend,
      legendgroup: "identity",
    }));
  };
  pts(g.axes(0, 0), dce, true);
  if (sampled) pts(g.axes(0, 1), sdce, false);
  const interval = [...Object.values(kl), ...Object.values(dce), ...Object.values(sdce)].flat()
      .every((v) => v.interval === "prompts")
    ? "prompts"
    : "positions (conservative)";
  const pick = (r: Record<string, WindowMean[]>, w: string, f: keyof WindowMean) => r[w]!.map((v) => v[f]);
  const data: Record<string, unknown> = {
    layers: res.layers.map((l) => l.label),
    interval,
  };
  for (const [w] of windows) {
    data[`kl_${w}`] = pick(kl, w, "mean");
    data[`kl_${w}_lo95`] = pick(kl, w, "lo");
    data[`kl_${w}_hi95`] = pick(kl, w, "hi");
    data[`dce_${w}`] = pick(dce, w, "mean");
    data[`dce_${w}_lo95`] = pick(dce, w, "lo");
    data[`dce_${w}_hi95`] = pick(dce, w, "hi");
    if (sampled) {
      data[`sampled_dce_${w}`] = pick(sdce, w, "mean");
      data[`sampled_dce_${w}_lo95`] = pick(sdce, w, "lo");
      data[`sampled_dce_${w}_hi95`] = pick(sdce, w, "hi");
    }
  }
  const how = interval === "prompts"
    ? `mean ± 1.96 s.e. over the ${res.nRows} prompts' own window means`
    : `± 1.96 × the mean per-position s.e. over prompts (conservative)`;
  const caption = `FU2: per-layer window means of ΔCE against KL(clean ‖ spliced), with 95% intervals on both axes ` +
    `(${how}); dotted: ΔCE = KL. ΔCE on real text is a difference of two cross-entropies against the data, ` +
    `KL(δ_y ‖ q) − KL(δ_y ‖ p); it equals KL(p ‖ q) in expectation only over next tokens drawn from the clean model ` +
    `itself${sampled ? " (right panel, one sample per position)" : ""}, so points off the line on real text are ` +
    `possible, not implied. ${sweepCaption(res, "none")}`;
  const patch: Partial<Layout> = {
    title: { text: "Window means of ΔCE against KL per SAE layer, inside and beyond the SAE context" },
    xaxis: { title: { text: "KL (nats)" } },
    yaxis: { title: { text: "ΔCE (nats)" } },
    legend: { orientation: "h", x: 0, xanchor: "left", y: -0.2, yanchor: "top" },
  };
  if (sampled) {
    patch.xaxis2 = { title: { text: "KL (nats)" } };
    patch.yaxis2 = { title: { text: "ΔCE, sampled targets (nats)" } };
  }
  const layout = withCaption(mergeLayout(g.layout, patch, { margin: { b: 120 } }), caption, sampled ? 170 : 110);
  return {
    name: "kl_vs_dce_windows",
    fig: figure(traces, layout),
    data: { ...data, sae_context: ctx, T, n_prompts: res.nRows, bos_policy: res.bosPolicy },
    caption,
  };
}
