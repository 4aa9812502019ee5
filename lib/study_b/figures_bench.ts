/**
 * Figure builders of F4 (`bench_lambada_*`) and F5 (`bench_cbt_*`): accuracy
 * per SAE layer with the clean model as a horizontal line, accuracy per
 * prompt-length bin, clean→spliced outcome transitions, and ΔCE / KL at the
 * LAMBADA target. Error bars are 95% Wilson intervals (accuracies) or ±1 s.e.
 *
 * @example
 * ```ts
 * import { benchLayerFigure } from "./figures_bench.ts";
 * // const f = benchLayerFigure("lambada", lambadaSummary(lam), lam);
 * ```
 *
 * @module
 */

import {
  barTrace,
  gridLayout,
  hline,
  intervalErrorBars,
  layerColor,
  meanIntervalTraces,
  mergeLayout,
  normalInterval,
  scatterTrace,
  vline,
} from "../plot/mod.ts";
import { dark2 } from "../plot/colors.ts";
import { figure } from "../plot/figure.ts";
import type { Trace } from "../plot/types.ts";
import type { AccuracyRow, BinRow, LambadaRow, TransitionRow } from "./bench_summary.ts";
import type { CbtEval, LambadaEval } from "./benchmarks_eval.ts";
import { type FigureSpec, withCaption } from "./figures.ts";

type Bench = "lambada" | "cbt";

function facts(bench: Bench, ev: LambadaEval | CbtEval): string {
  const long = ev.items.filter((it) => it.promptLength > ev.saeContext).length;
  const over = ev.items.filter((it) => it.truncated > 0).length;
  const dropped = "unknownTargetToken" in ev.dropped ? ev.dropped.unknownTargetToken : ev.dropped.unknownOptionToken;
  return `${ev.items.length} ${bench === "lambada" ? "LAMBADA" : "CBT"}-style items (${long} with prompts longer ` +
    `than the SAE training context ${ev.saeContext}, ${over} left-truncated to the model context ${ev.modelContext}` +
    `${dropped > 0 ? `; ${dropped} dropped because a scored token is outside the model's vocabulary` : ""}). ` +
    `Prompts start with BOS; each SAE is spliced at every position, BOS included.`;
}

/** F4a / F5a (`bench_<bench>_layers`): accuracy vs SAE layer, clean as a horizontal line. */
export function benchLayerFigure(
  bench: Bench,
  rows: readonly (AccuracyRow | LambadaRow)[],
  ev: LambadaEval | CbtEval,
): FigureSpec {
  const clean = rows.find((r) => r.layer === null)!;
  const layers = rows.filter((r) => r.layer !== null);
  const x = layers.map((r) => r.layer!);
  const xr: [number, number] = [Math.min(...x) - 0.5, Math.max(...x) + 0.5];
  // the clean model as a legend entry: its accuracy across the panel, its 95% interval as a band
  const traces: Trace[] = [
    ...meanIntervalTraces(xr, [clean.accuracy, clean.accuracy], [clean.lo, clean.lo], [clean.hi, clean.hi], {
      name: `clean model (${(clean.accuracy * 100).toFixed(1)}%)`,
      color: "black",
      width: 1.5,
      alpha: 0.08,
      hovertemplate: "clean %{y:.3f}<extra></extra>",
    }),
  ];
  const main = scatterTrace(x, layers.map((r) => r.accuracy), {
    name: bench === "lambada" ? "first target token (primary)" : "spliced",
    color: dark2(0),
    markerSize: 8,
  });
  main.error_y = intervalErrorBars(layers.map((r) => r.accuracy), layers.map((r) => r.lo), layers.map((r) => r.hi), {
    color: dark2(0),
  });
  traces.push(main);
  if (bench === "lambada") {
    const lr = layers as LambadaRow[];
    // beside the primary markers (the two often coincide)
    traces.push(scatterTrace(x.map((v) => v + 0.15), lr.map((r) => r.fullWordAccuracy), {
      name: "full word (greedy), no interval",
      color: dark2(1),
      markerSymbol: "diamond-open",
      markerSize: 8,
    }));
  }
  const caption = `${bench === "lambada" ? "F4a" : "F5a"}: accuracy with each SAE spliced (95% Wilson intervals); ` +
    `the black line is the clean model (${(clean.accuracy * 100).toFixed(1)}%, grey band its 95% interval). ` +
    facts(bench, ev);
  const layout = withCaption(
    mergeLayout(gridLayout(1, 1, { width: 820, height: 440 }).layout, {
      title: { text: `${bench === "lambada" ? "LAMBADA" : "CBT"}-style accuracy by spliced SAE layer` },
      yaxis: { title: { text: "accuracy" }, rangemode: "tozero" },
      xaxis: { title: { text: "spliced SAE (layer label)" }, dtick: 1, range: xr },
    }),
    caption,
    130,
  );
  return {
    name: `bench_${bench}_layers`,
    fig: figure(traces, layout),
    data: { rows, sae_context: ev.saeContext },
    caption,
  };
}

/**
 * F4b / F5b (`bench_<bench>_length`): accuracy per prompt-length bin, one marker per variant and bin with its 95%
 * Wilson interval, variants side by side within a bin (no lines: bins hold few items). Bins with no items are left
 * out; the items per bin are printed under the axis.
 */
export function benchLengthFigure(bench: Bench, bins: readonly BinRow[], ev: LambadaEval | CbtEval): FigureSpec {
  const variants = [...new Set(bins.map((b) => b.variant))];
  const labels = [...new Set(bins.map((b) => b.label))];
  const nLayers = variants.length - 1;
  const counts = labels.map((l) => bins.find((b) => b.label === l && b.variant === "clean")?.n ?? 0);
  const traces: Trace[] = [];
  const spread = 0.7; // the variants of one bin share this much of the unit between bins
  let li = 0;
  variants.forEach((v, vi) => {
    const rows = bins.filter((b) => b.variant === v && b.n > 0);
    const clean = v === "clean";
    const offset = variants.length > 1 ? (vi / (variants.length - 1) - 0.5) * spread : 0;
    const x = rows.map((r) => labels.indexOf(r.label) + offset);
    const t = scatterTrace(x, rows.map((r) => r.p), {
      name: clean ? "clean" : `layer ${rows[0]?.layer ?? v}`,
      color: clean ? "black" : layerColor(li++, Math.max(1, nLayers)),
      markerSize: clean ? 8 : 6,
      markerSymbol: clean ? "diamond" : "circle",
    });
    t.error_y = intervalErrorBars(rows.map((r) => r.p), rows.map((r) => r.lo), rows.map((r) => r.hi), {
      color: clean ? "black" : layerColor(li - 1, Math.max(1, nLayers)),
      width: 0,
      thickness: 1.2,
    });
    traces.push(t);
  });
  const ctxBin = labels.findIndex((l) => Number(l.split(/[–+]/)[0]) > ev.saeContext);
  const caption = `${bench === "lambada" ? "F4b" : "F5b"}: accuracy by prompt length in tokens (BOS included; ` +
    `${bench === "lambada" ? "context before the target word" : "the answer option's full prompt"}), bins ` +
    `relative to the SAE training context ${ev.saeContext} (dashed line between the bins); error bars: 95% Wilson ` +
    `intervals. Items per bin: ${labels.map((l, i) => `${l}: ${counts[i]}`).join(", ")}. ${facts(bench, ev)}`;
  const shapes = ctxBin > 0 ? [vline(ctxBin - 0.5, { dash: "dash" })] : [];
  const layout = withCaption(
    mergeLayout(gridLayout(1, 1, { width: 1000, height: 460 }).layout, {
      title: { text: `${bench === "lambada" ? "LAMBADA" : "CBT"}-style accuracy by prompt length` },
      xaxis: {
        title: { text: "prompt length in tokens (items per bin)" },
        tickvals: labels.map((_, i) => i),
        ticktext: labels.map((l, i) => `${l}<br>(n = ${counts[i]})`),
        range: [-0.6, labels.length - 0.4],
        showgrid: false,
      },
      yaxis: { title: { text: "accuracy" }, rangemode: "tozero" },
      shapes,
    }),
    caption,
    140,
  );
  return {
    name: `bench_${bench}_length`,
    fig: figure(traces, layout),
    data: { bins, counts: Object.fromEntries(labels.map((l, i) => [l, counts[i]])), sae_context: ev.saeContext },
    caption,
  };
}

/** F4c (`bench_<bench>_transitions`): per layer, fractions clean-correct→SAE-wrong and clean-wrong→SAE-correct. */
export function benchTransitionFigure(
  bench: Bench,
  rows: readonly TransitionRow[],
  ev: LambadaEval | CbtEval,
): FigureSpec {
  const x = rows.map((r) => `L${r.layer}`);
  const traces: Trace[] = [
    barTrace(x, rows.map((r) => r.fracBroken), { name: "clean correct → SAE wrong", color: dark2(1) }),
    barTrace(x, rows.map((r) => r.fracFixed), { name: "clean wrong → SAE correct", color: dark2(0) }),
  ];
  const caption = `${bench === "lambada" ? "F4c" : "F5c"}: outcome changes when each SAE is spliced, as fractions of ` +
    `all items. ${facts(bench, ev)}`;
  const layout = withCaption(
    mergeLayout(gridLayout(1, 1, { width: 820, height: 420 }).layout, {
      title: { text: "Which answers splicing changes" },
      xaxis: { title: { text: "spliced SAE" } },
      yaxis: { title: { text: "fraction of items" } },
      barmode: "group",
      showlegend: true,
    }),
    caption,
    130,
  );
  return { name: `bench_${bench}_transitions`, fig: figure(traces, layout), data: { rows }, caption };
}

/**
 * F4d (`bench_lambada_dce_kl`): per spliced SAE, mean ΔCE of the first target token and mean KL at the last context
 * position, side by side with 95% intervals (mean ± 1.96 s.e. over items), one legend entry each.
 */
export function lambadaDceKlFigure(rows: readonly LambadaRow[], ev: LambadaEval): FigureSpec {
  const layers = rows.filter((r) => r.layer !== null);
  const x = layers.map((r) => `L${r.layer}`);
  const bars = (name: string, color: string, mean: number[], se: number[]) => {
    const { lo, hi } = normalInterval(mean, se);
    const t = barTrace(x, mean, { name, color });
    t.error_y = intervalErrorBars(mean, lo, hi, { color: "rgb(40,40,40)" });
    return { trace: t, lo, hi };
  };
  const dce = bars(
    "ΔCE at the first target token",
    dark2(2),
    layers.map((r) => r.deltaCe),
    layers.map((r) => r.deltaCeSe),
  );
  const kl = bars(
    "KL(clean ‖ spliced) at the last context position",
    dark2(3),
    layers.map((r) => r.kl),
    layers.map((r) => r.klSe),
  );
  const caption = `F4d: per spliced SAE, mean ΔCE = ln p_clean(target) − ln q_spliced(target) of the first target ` +
    `token and mean KL(clean ‖ spliced) at the prediction position; error bars are 95% intervals (mean ± 1.96 s.e. ` +
    `over items). ${facts("lambada", ev)}`;
  const layout = withCaption(
    mergeLayout(gridLayout(1, 1, { width: 1000, height: 440 }).layout, {
      title: { text: "LAMBADA-style: loss change at the target" },
      xaxis: { title: { text: "spliced SAE" } },
      yaxis: { title: { text: "nats" } },
      barmode: "group",
      // above the panel: the right-hand side would take a third of the width for two long names
      legend: { orientation: "h", x: 0, xanchor: "left", y: 1.02, yanchor: "bottom" },
      margin: { t: 60 },
      shapes: [hline(0, { color: "black", dash: "solid", width: 1 })],
    }),
    caption,
    150,
  );
  return {
    name: "bench_lambada_dce_kl",
    fig: figure([dce.trace, kl.trace], layout),
    data: {
      layers: layers.map((r) => r.layer),
      delta_ce: layers.map((r) => r.deltaCe),
      delta_ce_se: layers.map((r) => r.deltaCeSe),
      delta_ce_lo95: dce.lo,
      delta_ce_hi95: dce.hi,
      kl: layers.map((r) => r.kl),
      kl_se: layers.map((r) => r.klSe),
      kl_lo95: kl.lo,
      kl_hi95: kl.hi,
      n_items: ev.items.length,
    },
    caption,
  };
}
