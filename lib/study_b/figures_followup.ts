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

import { gridLayout, heatmapTrace, hline, layerColor, lineTrace, mergeLayout, scatterTrace } from "../plot/mod.ts";
import { dark2 } from "../plot/colors.ts";
import { figure } from "../plot/figure.ts";
import type { Layout, Shape, Trace } from "../plot/types.ts";
import { describeBosPolicy } from "../metrics/per_position.ts";
import type { ErrorPropagationResult } from "./error_propagation.ts";
import { summarisePropagation } from "./error_propagation.ts";
import type { ContextSweepResult, SweepOutput } from "./context_sweep.ts";
import { contextLines, type FigureSpec, sweepCaption, withCaption } from "./figures.ts";
import { parseVariantKey, VARIANT_DESCRIPTIONS } from "./positional.ts";
import { layerWindowRows } from "./summary.ts";

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
    `positional embedding). ${sweepCaption({ ...facts, nRows: out.rows, T: out.T })}${
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

/**
 * FU2 (`kl_vs_dce_windows`): per layer, window means of ΔCE against KL inside and
 * beyond the training context, with the line ΔCE = KL; and, when the sweep
 * sampled targets from the clean model, the sampled-target ΔCE against KL.
 */
export function klVsDceFigure(res: ContextSweepResult): FigureSpec {
  const rows = layerWindowRows(res);
  const sampled = res.layers.every((l) => l.sampledDeltaCe !== null);
  const g = gridLayout(1, sampled ? 2 : 1, {
    width: sampled ? 1050 : 620,
    height: 480,
    gapX: 90,
    panelTitles: sampled
      ? ["ΔCE on the real next token vs KL", "ΔCE on a next token sampled from the clean model vs KL"]
      : ["ΔCE on the real next token vs KL"],
  });
  const ctx = res.saeContext;
  const traces: Trace[] = [];
  const data: Record<string, unknown> = { layers: rows.map((r) => r.layer) };
  const pts = (axes: ReturnType<typeof g.axes>, yIn: number[], yOut: number[], legend: boolean) => {
    const xin = rows.map((r) => r.kl_in);
    const xout = rows.map((r) => r.kl_out);
    const text = rows.map((r) => `L${r.layer}`);
    traces.push(scatterTrace(xin, yIn, {
      name: `1…${ctx - 1}`,
      color: dark2(0),
      mode: "markers+text",
      text,
      textposition: "top center",
      axes,
      showlegend: legend,
      legendgroup: "in",
    }));
    traces.push(scatterTrace(xout, yOut, {
      name: `${ctx}…${res.T - 1}`,
      color: dark2(1),
      mode: "markers+text",
      text,
      textposition: "bottom center",
      axes,
      showlegend: legend,
      legendgroup: "out",
    }));
    const all = [...xin, ...xout, ...yIn, ...yOut].filter(Number.isFinite);
    const lo = Math.min(0, ...all);
    const hi = Math.max(...all);
    traces.push(
      lineTrace([lo, hi], [lo, hi], {
        name: "ΔCE = KL",
        color: "black",
        dash: "dot",
        width: 1,
        axes,
        showlegend: legend,
      }),
    );
  };
  pts(g.axes(0, 0), rows.map((r) => r.dce_in), rows.map((r) => r.dce_out), true);
  data.kl_in = rows.map((r) => r.kl_in);
  data.kl_out = rows.map((r) => r.kl_out);
  data.dce_in = rows.map((r) => r.dce_in);
  data.dce_out = rows.map((r) => r.dce_out);
  if (sampled) {
    const sIn = res.layers.map((l) => l.sampledDeltaCe!.pooled(1, ctx).mean);
    const sOut = res.layers.map((l) => l.sampledDeltaCe!.pooled(ctx, res.T).mean);
    pts(g.axes(0, 1), sIn, sOut, false);
    data.sampled_dce_in = sIn;
    data.sampled_dce_out = sOut;
  }
  const caption = `FU2: per-layer window means of ΔCE against KL(clean ‖ spliced). ΔCE on real text is a difference ` +
    `of two cross-entropies against the data, KL(δ_y ‖ q) − KL(δ_y ‖ p); it equals KL(p ‖ q) only in expectation over ` +
    `next tokens drawn from the clean model itself (right panel, one sample per position). ${sweepCaption(res)}`;
  const patch: Partial<Layout> = {
    title: { text: "ΔCE is not KL: per-layer window means" },
    xaxis: { title: { text: "KL (nats)" } },
    yaxis: { title: { text: "ΔCE (nats)" } },
    showlegend: true,
  };
  if (sampled) {
    patch.xaxis2 = { title: { text: "KL (nats)" } };
    patch.yaxis2 = { title: { text: "ΔCE, sampled targets (nats)" } };
  }
  return {
    name: "kl_vs_dce_windows",
    fig: figure(traces, withCaption(mergeLayout(g.layout, patch), caption, sampled ? 160 : 95)),
    data: { ...data, sae_context: ctx, T: res.T, n_prompts: res.nRows, bos_policy: res.bosPolicy },
    caption,
  };
}
