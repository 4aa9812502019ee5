/**
 * Figure builders of F1, F2 (fixed and the H1 reconstruction of the bug) and
 * F2-pow2, plus the shared caption and reference-line helpers of every study-B
 * figure. Each builder returns a {@link FigureSpec}: the plotly figure, the data
 * object saved next to it (`save(fig, name, data)`; the data is the source of
 * truth checks read) and its caption. Captions state the BOS policy, the SAE
 * training context and the model context; the SAE context is a dashed vertical
 * line, the model context a dotted one when it lies inside the x range.
 *
 * @example
 * ```ts
 * import { contextLossFixedFigure } from "./figures.ts";
 * import { saveAndShow } from "../plot/mod.ts";
 * // const f = contextLossFixedFigure(result);
 * // await saveAndShow(f.fig, f.name, f.data);
 * ```
 *
 * @module
 */

import {
  bandTraces,
  gridLayout,
  hline,
  label,
  layerColor,
  lineTrace,
  meanIntervalTraces,
  mergeLayout,
  normalInterval,
  saveAndShow,
  vline,
} from "../plot/mod.ts";
import { figure } from "../plot/figure.ts";
import type { AxisPair } from "../plot/traces.ts";
import type { Figure, Layout, Shape, Trace } from "../plot/types.ts";
import type { SpliceMetricName } from "../metrics/splice_metrics.ts";
import type { ContextSweepResult } from "./context_sweep.ts";
import { binCurve, type BinnedCurve, figurePositionBins, metricTerm } from "./figure_bins.ts";

/** A figure with its data and caption. */
export interface FigureSpec {
  name: string;
  fig: Figure;
  data: Record<string, unknown>;
  caption: string;
}

/** Breaks `text` into lines of at most `width` characters joined by `<br>` (plotly does not wrap). */
export function wrapCaption(text: string, width = 150): string {
  const lines: string[] = [];
  let cur = "";
  for (const word of text.split(/\s+/)) {
    if (cur.length > 0 && cur.length + 1 + word.length > width) {
      lines.push(cur);
      cur = word;
    } else cur = cur.length > 0 ? `${cur} ${word}` : word;
  }
  if (cur) lines.push(cur);
  return lines.join("<br>");
}

/** Adds `caption` under the plotting area (and room for it in the bottom margin). */
export function withCaption(layout: Layout, caption: string, width = 150): Layout {
  const wrapped = wrapCaption(caption, width);
  const nLines = wrapped.split("<br>").length;
  const b0 = layout.margin?.b ?? 60;
  const bottom = b0 + 16 * nLines + 30;
  const height = (layout.height ?? 460) + 16 * nLines + 30 + 40;
  return mergeLayout(layout, {
    height,
    margin: { b: bottom, t: (layout.margin?.t ?? 50) + 40 },
    annotations: [
      {
        ...label(wrapped, 0, 0, { xanchor: "left", yanchor: "top", align: "left", font: { size: 10.5 } }),
        yshift: -(b0 + 6),
      } as ReturnType<typeof label>,
    ],
  });
}

/** Dashed line at the SAE training context, dotted at the model context when `xMax` reaches it. */
export function contextLines(axes: AxisPair, saeContext: number, modelContext: number, xMax: number): Shape[] {
  const out = [vline(saeContext, { axes, dash: "dash" })];
  if (modelContext <= xMax) out.push(vline(modelContext, { axes, dash: "dot" }));
  return out;
}

/**
 * The caption sentence shared by the per-position figures of a sweep. `bands` says what the figure's shaded bands
 * are: "positions" (95% intervals at each position, the default), or "none" (the figure has none, or describes its
 * own).
 */
export function sweepCaption(
  res: Pick<ContextSweepResult, "nRows" | "T" | "saeContext" | "modelContext" | "bosPolicyText">,
  bands: "positions" | "none" = "positions",
): string {
  return `${res.nRows} prompts of ${res.T} tokens. SAE training context ${res.saeContext} tokens (dashed line); ` +
    `model context n_ctx = ${res.modelContext}` + (res.modelContext < res.T ? " (dotted line)" : "") +
    `. x = position j of the residual stream where the prediction is made (it has seen j+1 tokens, BOS included); ` +
    `CE-based values exist for j ≤ ${res.T - 2}. Every position, BOS too, is spliced; averages: ${res.bosPolicyText}.` +
    (bands === "positions"
      ? ` Shaded bands (drawn for up to 6 layers): 95% intervals at each position (mean ± 1.96 s.e. over prompts); ` +
        `the data file holds every standard error.`
      : "");
}

/** Mean and SE arrays of a layer's metric over positions `from … to−1`, NaN → null in the data. */
function series(mean: Float64Array, se: Float64Array, from: number, to: number) {
  const x: number[] = [];
  const m: number[] = [];
  const s: number[] = [];
  for (let j = from; j < to; j++) {
    x.push(j);
    m.push(mean[j]!);
    s.push(se[j]!);
  }
  return { x, m, s };
}

/** Lines (with ±1 SE bands) of one metric for every layer of a sweep, on `axes`. */
function layerTraces(
  res: ContextSweepResult,
  metric: (l: ContextSweepResult["layers"][number]) => { mean: Float64Array; se: Float64Array },
  axes: AxisPair,
  to: number,
  opts: { showlegend?: boolean; transform?: (v: number) => number; bands?: boolean } = {},
): { traces: Trace[]; data: Record<string, { mean: number[]; se: number[] }> } {
  const traces: Trace[] = [];
  const data: Record<string, { mean: number[]; se: number[] }> = {};
  const n = res.layers.length;
  const tr = opts.transform ?? ((v: number) => v);
  res.layers.forEach((l, i) => {
    const { mean, se } = metric(l);
    const { x, m, s } = series(mean, se, 1, to);
    const mm = m.map(tr);
    const color = layerColor(i, n);
    if (opts.bands ?? n <= 6) {
      // 95% interval at each position; where the s.e. is missing the band closes onto the mean
      const { lo, hi } = normalInterval(mm, s.map((v) => (Number.isFinite(v) ? v : 0)));
      traces.push(...bandTraces(x, lo, hi, { color, axes, alpha: 0.15, legendgroup: `L${l.label}` }));
    }
    traces.push(lineTrace(x, mm, {
      name: `layer ${l.label}`,
      color,
      width: 1.2,
      axes,
      legendgroup: `L${l.label}`,
      showlegend: opts.showlegend ?? true,
    }));
    data[`layer_${l.label}`] = { mean: mm, se: s };
  });
  return { traces, data };
}

/** The F1 panels: name suffix, metric, axis title, log y. */
export const RECON_PANELS: readonly { suffix: string; metric: SpliceMetricName; title: string; log: boolean }[] = [
  { suffix: "mse", metric: "mse_element_mean", title: "MSE ‖x̂ − x‖² / d_model", log: true },
  { suffix: "l1", metric: "l1", title: "L1 of SAE features Σ f", log: true },
  { suffix: "l0", metric: "l0", title: "L0 (active features)", log: false },
  { suffix: "nmse", metric: "mse_normalised", title: "normalised MSE ‖x̂ − x‖² / ‖x‖²", log: true },
  { suffix: "norm", metric: "act_norm", title: "activation norm ‖x‖ (clean)", log: true },
];

/**
 * F1: one figure per reconstruction metric (`context_recon_mse`, `_l1`, `_l0`,
 * `_nmse`, `_norm`), one line per layer against position.
 */
export function contextReconFigures(res: ContextSweepResult): FigureSpec[] {
  return RECON_PANELS.map((p) => {
    const axes: AxisPair = { xaxis: "x", yaxis: "y" };
    const { traces, data } = layerTraces(
      res,
      (l) => ({
        mean: l.metrics.stats[p.metric].mean(),
        se: l.metrics.stats[p.metric].se(),
      }),
      axes,
      res.T,
    );
    const caption = `F1 (${p.title}) per SAE layer. ${sweepCaption(res)}`;
    const layout = withCaption(
      mergeLayout(gridLayout(1, 1, { width: 900, height: 460 }).layout, {
        title: { text: `Reconstruction vs context position: ${p.title}` },
        xaxis: { title: { text: "context position j" } },
        yaxis: { title: { text: p.title }, type: p.log ? "log" : "linear" },
        showlegend: true,
        shapes: contextLines(axes, res.saeContext, res.modelContext, res.T - 1),
      }),
      caption,
    );
    return {
      name: `context_recon_${p.suffix}`,
      fig: figure(traces, layout),
      data: { metric: p.metric, positions_from: 1, ...meta(res), layers: data },
      caption,
    };
  });
}

function meta(res: ContextSweepResult) {
  return {
    n_prompts: res.nRows,
    T: res.T,
    sae_context: res.saeContext,
    model_context: res.modelContext,
    bos_policy: res.bosPolicy,
  };
}

/** Caption sentence of the binned curves: bin width and how the intervals were computed. */
function binCaption(edges: readonly number[], interval: BinnedCurve["interval"], nRows: number): string {
  const w = edges.length > 2 ? edges[2]! - edges[1]! : edges[1]! - edges[0]!;
  return `Curves: means over position bins of ${w} tokens (the SAE training context is a bin edge), plotted at the ` +
    `bin centre; bands: 95% intervals, ` +
    (interval === "prompts"
      ? `mean ± 1.96 s.e. over the ${nRows} prompts' own bin means.`
      : `± 1.96 × the mean per-position s.e. over prompts (conservative: an upper bound on the bin mean's s.e. ` +
        `whatever the correlation between positions).`);
}

function lossFigure(res: ContextSweepResult, bug: boolean): FigureSpec {
  const g = gridLayout(1, 2, {
    width: 1100,
    height: 470,
    gapX: 80,
    panelTitles: bug
      ? ["“SAE log loss” as a sign-flipped script draws it", "“ΔCE” with the published sign: ln q − ln p"]
      : ["next-token loss CE(j): clean (black) and spliced", "ΔCE(j) = CE_spliced − CE_clean (positive = SAE hurts)"],
  });
  const a0 = g.axes(0, 0);
  const a1 = g.axes(0, 1);
  const to = res.T - 1; // CE exists for j ≤ T−2
  const sign = bug ? -1 : 1;
  const edges = figurePositionBins(res.T, res.saeContext);
  const cleanTerm = { coef: 1, stats: res.clean, rowBins: metricTerm(res.layers[0]!.metrics, "ce_clean").rowBins };
  const cleanBins = binCurve([cleanTerm], edges);
  const n = res.layers.length;
  const traces: Trace[] = [];
  const leftData: Record<string, { mean: number[]; se: number[] }> = {};
  const rightData: Record<string, { mean: number[]; se: number[] }> = {};
  const leftBins: Record<string, { mean: number[]; lo: number[]; hi: number[] }> = {};
  const rightBins: Record<string, { mean: number[]; lo: number[]; hi: number[] }> = {};
  const cleanMean = res.clean.mean();
  let interval = cleanBins.interval;
  const curve = (c: BinnedCurve, name: string, color: string, axes: AxisPair, showlegend: boolean, width = 1.5) =>
    meanIntervalTraces(c.x, c.mean, c.lo, c.hi, {
      name,
      color,
      axes,
      width,
      alpha: 0.18,
      mode: "lines+markers",
      markerSize: 3,
      showlegend,
      legendgroup: name,
    });
  res.layers.forEach((l, i) => {
    const color = layerColor(i, n);
    const name = `layer ${l.label}`;
    const left = binCurve(
      bug ? [cleanTerm, metricTerm(l.metrics, "delta_ce", -1)] : [metricTerm(l.metrics, "ce_spliced")],
      edges,
    );
    const right = binCurve([metricTerm(l.metrics, "delta_ce", sign)], edges);
    if (left.interval !== "prompts" || right.interval !== "prompts") interval = "positions (conservative)";
    traces.push(...curve(left, name, color, a0, true), ...curve(right, name, color, a1, false));
    const d = l.metrics.stats.delta_ce.mean();
    const lp = series(Float64Array.from(d, (v, j) => cleanMean[j]! + sign * v), l.metrics.stats.ce_spliced.se(), 1, to);
    leftData[`layer_${l.label}`] = { mean: lp.m, se: lp.s };
    const rp = series(d, l.metrics.stats.delta_ce.se(), 1, to);
    rightData[`layer_${l.label}`] = { mean: rp.m.map((v) => sign * v), se: rp.s };
    leftBins[`layer_${l.label}`] = { mean: left.mean, lo: left.lo, hi: left.hi };
    rightBins[`layer_${l.label}`] = { mean: right.mean, lo: right.lo, hi: right.hi };
  });
  traces.push(...curve(cleanBins, "clean model", "black", a0, true, 2.2));
  const c = series(cleanMean, res.clean.se(), 1, to);
  const bins = binCaption(edges, interval, res.nRows);
  const caption = bug
    ? `HYPOTHETICAL RECONSTRUCTION of the pre-fix plot (hypothesis H1; the exact bug was not published): the same data ` +
      `as context_loss_fixed with the ΔCE sign flipped, as the formula written in the comment thread, ΔCE_j = (1/N) Σ_i ` +
      `(ln q_ij − ln p_ij), gives. Left: clean CE (black) and CE_clean − ΔCE, which is what a plot of "clean + ΔCE" ` +
      `then shows: every spliced curve below the clean model. Right: the flipped ΔCE, below zero. ${bins} ` +
      sweepCaption(res, "none")
    : `F2, fixed: left, next-token cross-entropy of the clean model (black) and with each SAE spliced; ` +
      `right, ΔCE = CE_spliced − CE_clean (TransformerLens sign: positive means the SAE raises the loss). ${bins} ` +
      sweepCaption(res, "none");
  const layout = withCaption(
    mergeLayout(g.layout, {
      title: {
        text: bug
          ? "HYPOTHETICAL reconstruction of the buggy loss plot (H1: sign error) — not a result"
          : "Next-token loss vs context position (fixed)",
      },
      xaxis: { title: { text: "context position j" } },
      xaxis2: { title: { text: "context position j" } },
      yaxis: { title: { text: bug ? "CE_clean − ΔCE (nats)" : "CE (nats)" } },
      yaxis2: { title: { text: bug ? "ln q − ln p (nats)" : "ΔCE (nats)" } },
      shapes: [
        ...contextLines(a0, res.saeContext, res.modelContext, to),
        ...contextLines(a1, res.saeContext, res.modelContext, to),
        hline(0, { axes: a1, color: "black", dash: "solid", width: 1 }),
      ],
    }),
    caption,
    170,
  );
  return {
    name: bug ? "context_loss_bug" : "context_loss_fixed",
    fig: figure(traces, layout),
    data: {
      ...meta(res),
      hypothetical_reconstruction: bug,
      delta_ce_sign: bug ? "published formula ln q − ln p (sign error, hypothesis H1)" : "CE_spliced − CE_clean",
      positions_from: 1,
      clean_ce: { mean: c.m, se: c.s },
      left_panel: leftData,
      right_panel: rightData,
      binned: {
        edges,
        x: cleanBins.x,
        interval,
        clean_ce: { mean: cleanBins.mean, lo: cleanBins.lo, hi: cleanBins.hi },
        left_panel: leftBins,
        right_panel: rightBins,
      },
    },
    caption,
  };
}

/** F2 fixed (`context_loss_fixed`): absolute CE per layer with clean in black, and ΔCE per layer. */
export function contextLossFixedFigure(res: ContextSweepResult): FigureSpec {
  return lossFigure(res, false);
}

/**
 * The same data with the ΔCE sign flipped (`context_loss_bug`): a clearly
 * labelled reconstruction of the pre-fix plot under hypothesis H1.
 */
export function contextLossBugFigure(res: ContextSweepResult): FigureSpec {
  return lossFigure(res, true);
}

/** Powers of two below `T − 1`, plus `T − 2` (the last CE position). */
export function pow2Positions(T: number): number[] {
  const out: number[] = [];
  for (let p = 1; p <= T - 2; p *= 2) out.push(p);
  if (out[out.length - 1] !== T - 2) out.push(T - 2);
  return out;
}

/**
 * F2-pow2 and FU3 (`context_loss_pow2`): ΔCE and normalised MSE sampled at
 * powers of two (left) and overlaid on every position (right), log x.
 */
export function contextLossPow2Figure(res: ContextSweepResult): FigureSpec {
  const g = gridLayout(2, 2, {
    width: 1100,
    height: 800,
    gapX: 80,
    gapY: 120,
    panelTitles: [
      "ΔCE at powers of two only",
      "ΔCE at every position (lines) and at powers of two (markers)",
      "normalised MSE at powers of two only",
      "normalised MSE at every position and at powers of two",
    ],
  });
  const ps = pow2Positions(res.T);
  const n = res.layers.length;
  const traces: Trace[] = [];
  const data: Record<string, unknown> = {};
  const metrics: [SpliceMetricName, number][] = [["delta_ce", 0], ["mse_normalised", 1]];
  for (const [metric, row] of metrics) {
    res.layers.forEach((l, i) => {
      const mean = l.metrics.stats[metric].mean();
      const color = layerColor(i, n);
      const at = ps.map((p) => mean[p]!);
      const common = { color, legendgroup: `L${l.label}` };
      traces.push(lineTrace(ps, at, {
        ...common,
        name: `layer ${l.label}`,
        mode: "lines+markers",
        markerSize: 6,
        axes: g.axes(row, 0),
        showlegend: row === 0,
      }));
      const all = series(mean, l.metrics.stats[metric].se(), 1, metric === "delta_ce" ? res.T - 1 : res.T);
      traces.push(lineTrace(all.x, all.m, { ...common, width: 0.8, axes: g.axes(row, 1), showlegend: false }));
      traces.push(lineTrace(ps, at, {
        ...common,
        mode: "markers",
        markerSize: 7,
        axes: g.axes(row, 1),
        showlegend: false,
      }));
      data[`${metric}_layer_${l.label}`] = { pow2: at, all: all.m };
    });
  }
  const caption = `F2-pow2 / FU3: the early analysis looked only at positions ${ps.join(", ")}; the curves between ` +
    `them (right) show where each layer actually starts to degrade. ${sweepCaption(res, "none")}`;
  const shapes: Shape[] = [];
  for (let r = 0; r < 2; r++) {
    for (let c = 0; c < 2; c++) shapes.push(...contextLines(g.axes(r, c), res.saeContext, res.modelContext, res.T - 1));
  }
  const axesPatch: Record<string, unknown> = {};
  for (const k of ["xaxis", "xaxis2", "xaxis3", "xaxis4"]) {
    axesPatch[k] = { type: "log", title: { text: "position j" } };
  }
  axesPatch.yaxis = { title: { text: "ΔCE (nats)" } };
  axesPatch.yaxis2 = { title: { text: "ΔCE (nats)" } };
  axesPatch.yaxis3 = { type: "log", title: { text: "‖x̂ − x‖² / ‖x‖²" } };
  axesPatch.yaxis4 = { type: "log", title: { text: "‖x̂ − x‖² / ‖x‖²" } };
  const layout = withCaption(
    mergeLayout(g.layout, axesPatch as Partial<Layout>, {
      title: { text: "Powers of two vs every position" },
      showlegend: true,
      shapes,
    }),
    caption,
    170,
  );
  return {
    name: "context_loss_pow2",
    fig: figure(traces, layout),
    data: { ...meta(res), pow2_positions: ps, series: data },
    caption,
  };
}

/** FU2 (`kl_vs_dce_kl_lines`): KL(clean ‖ spliced)(j) per layer — the KL version of F2. */
export function klLinesFigure(res: ContextSweepResult): FigureSpec {
  const axes: AxisPair = { xaxis: "x", yaxis: "y" };
  const { traces, data } = layerTraces(
    res,
    (l) => ({
      mean: l.metrics.stats.kl.mean(),
      se: l.metrics.stats.kl.se(),
    }),
    axes,
    res.T,
  );
  const caption = `FU2: KL(p_clean ‖ q_spliced) over the full vocabulary at each position, per SAE layer. ` +
    sweepCaption(res);
  const layout = withCaption(
    mergeLayout(gridLayout(1, 1, { width: 900, height: 460 }).layout, {
      title: { text: "KL divergence vs context position" },
      xaxis: { title: { text: "context position j" } },
      yaxis: { title: { text: "KL (nats)" }, type: "log" },
      showlegend: true,
      shapes: contextLines(axes, res.saeContext, res.modelContext, res.T - 1),
    }),
    caption,
  );
  return { name: "kl_vs_dce_kl_lines", fig: figure(traces, layout), data: { ...meta(res), layers: data }, caption };
}

/**
 * A deep copy of figure data with every non-finite number (NaN: no values at a
 * position, an undefined ratio) replaced by null, as the data JSON requires.
 *
 * @example
 * ```ts
 * import { jsonSafe } from "./figures.ts";
 * jsonSafe({ a: [1, NaN], b: new Float64Array([Infinity]) }); // { a: [1, null], b: [null] }
 * ```
 */
export function jsonSafe(data: unknown): unknown {
  if (typeof data === "number") return Number.isFinite(data) ? data : null;
  if (ArrayBuffer.isView(data) && !(data instanceof DataView)) {
    return Array.from(data as unknown as ArrayLike<number>, (v) => (Number.isFinite(v) ? v : null));
  }
  if (Array.isArray(data)) return data.map(jsonSafe);
  if (data !== null && typeof data === "object") {
    return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, jsonSafe(v)]));
  }
  return data;
}

/**
 * Saves a {@link FigureSpec} (figure files + its data with non-finite numbers as null) and shows it. The PNG in
 * figures/ is at least 2× and 1,600 px wide; the notebook embeds one at pixel ratio `displayScale` (default 1, so
 * notebooks stay small).
 *
 * @example
 * ```ts
 * import { saveSpec } from "./figures.ts";
 * // for (const f of contextReconFigures(result)) await saveSpec(f);
 * ```
 */
export async function saveSpec(spec: FigureSpec, displayScale = 1): Promise<void> {
  await saveAndShow(compactFigure(spec.fig), spec.name, jsonSafe(spec.data), { displayScale });
}

/**
 * The figure with every plotted x/y value rounded to `digits` significant digits (plot JSON only — the saved data
 * keep full precision), which keeps notebooks with many per-position curves small.
 *
 * @example
 * ```ts
 * import { compactFigure } from "./figures.ts";
 * compactFigure({ data: [{ type: "scatter", x: [1], y: [0.123456789] }], layout: {} }).data[0]!.y; // [0.12346]
 * ```
 */
export function compactFigure(fig: Figure, digits = 5): Figure {
  const r = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? Number(v.toPrecision(digits)) : v);
  return {
    ...fig,
    data: fig.data.map((t) => {
      if (t.type === "heatmap") return { ...t, z: t.z.map((row) => row.map((v) => r(v) as number | null)) };
      return { ...t, x: t.x.map(r) as typeof t.x, y: t.y.map(r) as typeof t.y };
    }),
  };
}
