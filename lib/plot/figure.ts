/**
 * Assembles, styles, validates, serialises and summarises figures.
 *
 * @example
 * ```ts
 * import { figure } from "./figure.ts";
 * import { lineTrace } from "./traces.ts";
 * const fig = figure([lineTrace([1, 2, 3], [1, 4, 9], { name: "x²" })], {
 *   title: { text: "squares" },
 *   xaxis: { title: { text: "x" } },
 *   yaxis: { title: { text: "x²" }, type: "log" },
 * });
 * ```
 *
 * @module
 */

import { DARK2 } from "./colors.ts";
import { getAxis } from "./layout.ts";
import { withLogTicks } from "./log_ticks.ts";
import type { Axis, Figure, Layout, Legend, Trace, XAxisId, YAxisId } from "./types.ts";

/** Default figure size in px when the layout sets none. */
export const DEFAULT_WIDTH = 760;
/** See {@link DEFAULT_WIDTH}. */
export const DEFAULT_HEIGHT = 460;

/** The project's axis style: plain white panels, dark axis lines, outside ticks, light grid. */
export const AXIS_STYLE: Readonly<Axis> = {
  showline: true,
  linecolor: "rgb(60,60,60)",
  linewidth: 1,
  ticks: "outside",
  ticklen: 4,
  showgrid: true,
  gridcolor: "rgb(232,232,232)",
  zeroline: false,
  automargin: true,
};

/** Options of {@link figure}. */
export interface FigureOptions {
  /**
   * Apply {@link AXIS_STYLE}, the default font/size, Dark2 as the colour cycle, legend in trace order, a legend
   * whenever two or more named series are drawn ({@link legendSeries}), and readable log-axis ticks
   * (`withLogTicks`) (default true).
   */
  style?: boolean;
}

/** Where the automatic legend goes: outside the plotting area, right of the panels, top-aligned. */
export const LEGEND_RIGHT: Readonly<Legend> = { x: 1.02, xanchor: "left", y: 1, yanchor: "top" };
/** Where it goes when a colour bar takes the right-hand side: a row above the panels. */
export const LEGEND_TOP: Readonly<Legend> = { orientation: "h", x: 0, xanchor: "left", y: 1.02, yanchor: "bottom" };

/**
 * The legend entries a figure asks for: the distinct names of visible traces
 * that carry a non-empty `name` and do not set `showlegend: false` (heatmaps
 * only when they set `showlegend: true`, as in plotly).
 *
 * @example
 * ```ts
 * import { legendSeries } from "./figure.ts";
 * legendSeries({ data: [{ type: "scatter", x: [1], y: [1], name: "a" }, { type: "scatter", x: [1], y: [2] }] }); // ["a"]
 * ```
 */
export function legendSeries(fig: Pick<Figure, "data">): string[] {
  const names = new Set<string>();
  for (const t of fig.data) {
    if (!t.name || t.visible === false) continue;
    if (t.type === "heatmap" ? t.showlegend !== true : t.showlegend === false) continue;
    names.add(t.name);
  }
  return [...names];
}

/**
 * Throws when a figure draws two or more named series ({@link legendSeries})
 * but hides its legend (`layout.showlegend: false`). A figure whose series are
 * keyed another way (panel titles, text labels, a colour bar) says so by
 * marking those traces `showlegend: false`.
 *
 * @example
 * ```ts
 * import { checkLegend } from "./figure.ts";
 * const two = [{ type: "scatter" as const, x: [1], y: [1], name: "a" }, { type: "scatter" as const, x: [1], y: [2], name: "b" }];
 * checkLegend({ data: two, layout: { showlegend: true } }); // fine
 * // checkLegend({ data: two, layout: { showlegend: false } }); // throws
 * ```
 * @throws {Error} naming the series
 */
export function checkLegend(fig: Figure): void {
  const names = legendSeries(fig);
  if (names.length >= 2 && fig.layout.showlegend === false) {
    const title = fig.layout.title?.text ? ` "${stripTags(fig.layout.title.text)}"` : "";
    const shown = names.slice(0, 6).map((n) => `"${n}"`).join(", ") + (names.length > 6 ? ", …" : "");
    throw new Error(
      `figure${title} draws ${names.length} named series (${shown}) but sets layout.showlegend: false; ` +
        `show a legend, or mark traces keyed another way (panel titles, labels, a colour bar) with showlegend: false`,
    );
  }
}

function showsColorBar(t: Trace): boolean {
  if (t.type === "heatmap") return t.showscale !== false && t.visible !== false;
  return t.marker?.showscale === true;
}

/**
 * Builds a figure from traces and a layout, filling in the project's style
 * (explicit layout settings win) and validating axis references and the legend.
 *
 * Legend: unless the layout sets `showlegend`, it is shown exactly when two or
 * more named series are drawn, at {@link LEGEND_RIGHT} (or {@link LEGEND_TOP}
 * when a colour bar is drawn) unless the layout places it; unnamed traces are
 * kept out of it.
 *
 * @throws {Error} when a trace, annotation or shape refers to an axis the layout lacks, or a figure with two or
 *   more named series hides its legend ({@link checkLegend})
 */
export function figure(data: Trace[], layout: Layout = {}, opts: FigureOptions = {}): Figure {
  let out: Layout = { ...layout };
  if (opts.style ?? true) {
    data = data.map((
      t,
    ) => (!t.name && t.showlegend === undefined && t.type !== "heatmap" ? { ...t, showlegend: false } : t));
    if (out.showlegend === undefined) out.showlegend = legendSeries({ data }).length >= 2;
    out.width ??= DEFAULT_WIDTH;
    out.height ??= DEFAULT_HEIGHT;
    out.font = {
      family: "Liberation Sans, Arial, Helvetica, sans-serif",
      size: 13,
      color: "rgb(30,30,30)",
      ...out.font,
    };
    out.paper_bgcolor ??= "white";
    out.plot_bgcolor ??= "white";
    out.margin ??= { l: 70, r: 30, t: out.title ? 60 : 30, b: 60 };
    if (out.showlegend && out.legend?.x === undefined && out.legend?.y === undefined) {
      const top = data.some(showsColorBar);
      out.legend = { ...(top ? LEGEND_TOP : LEGEND_RIGHT), ...out.legend };
      // a row of legend entries above the panels needs room under the title
      if (top) out.margin = { ...out.margin, t: (out.margin.t ?? 30) + 30 };
    }
    out.colorway ??= [...DARK2];
    // plotly reverses the legend when a trace fills to its neighbour; keep the trace order instead
    out.legend = { traceorder: "normal", ...out.legend };
    for (const id of axisIds(out)) {
      (out as Record<string, Axis>)[axisName(id)] = { ...AXIS_STYLE, ...getAxis(out, id) };
    }
    out = withLogTicks({ data, layout: out });
  }
  const fig: Figure = { data, layout: out };
  validateFigure(fig);
  return fig;
}

function axisName(id: XAxisId | YAxisId): string {
  return `${id[0]}axis${id.slice(1)}`;
}

/** The ids of the axes the layout defines, plus the default x and y. */
function axisIds(layout: Layout): (XAxisId | YAxisId)[] {
  const ids = new Set<XAxisId | YAxisId>(["x", "y"]);
  for (const key of Object.keys(layout)) {
    const m = /^([xy])axis(\d*)$/.exec(key);
    if (m) ids.add(`${m[1]}${m[2]}` as XAxisId | YAxisId);
  }
  return [...ids];
}

function refAxis(ref: string | undefined): string | null {
  if (ref === undefined || ref === "paper" || ref === "pixel") return null;
  return ref.replace(/ domain$/, "");
}

/**
 * Checks that every axis referenced by a trace, annotation or shape exists in
 * the layout, that x/y lengths agree, and that a figure with two or more named
 * series does not hide its legend ({@link checkLegend}).
 *
 * @example
 * ```ts
 * import { validateFigure } from "./figure.ts";
 * validateFigure({ data: [{ type: "scatter", x: [1], y: [2] }], layout: {} }); // fine
 * try {
 *   validateFigure({ data: [{ type: "scatter", x: [1], y: [2], xaxis: "x2" }], layout: {} });
 * } catch (e) {
 *   console.log((e as Error).message); // "trace 0 uses axis x2, but the layout has no xaxis2"
 * }
 * ```
 * @throws {Error} naming the trace/annotation/shape and the missing axis
 */
export function validateFigure(fig: Figure): void {
  if (!Array.isArray(fig.data)) throw new Error(`figure.data must be an array of traces, got ${typeof fig.data}`);
  const { layout } = fig;
  const usesGrid = layout.grid !== undefined;
  const has = (id: string) => id === "x" || id === "y" || usesGrid || getAxis(layout, id as XAxisId) !== undefined;
  fig.data.forEach((t, i) => {
    const who = `trace ${i}${t.name ? ` ("${t.name}")` : ""}`;
    for (const id of [t.xaxis, t.yaxis]) {
      if (id !== undefined && !has(id)) {
        throw new Error(`${who} uses axis ${id}, but the layout has no ${axisName(id as XAxisId)}`);
      }
    }
    if (t.type === "scatter" || t.type === "bar") {
      if (t.x.length !== t.y.length) throw new Error(`${who}: x has ${t.x.length} values, y has ${t.y.length}`);
    } else if (t.type === "heatmap") {
      const w = t.z[0]?.length ?? 0;
      t.z.forEach((row, r) => {
        if (row.length !== w) throw new Error(`${who}: heatmap row ${r} has ${row.length} values, row 0 has ${w}`);
      });
    } else {
      throw new Error(`${who}: unsupported trace type ${(t as { type: string }).type}`);
    }
  });
  (layout.annotations ?? []).forEach((a, i) => {
    for (const ref of [a.xref, a.yref, a.axref, a.ayref]) {
      const id = refAxis(ref);
      if (id !== null && !has(id)) {
        throw new Error(`annotation ${i} ("${a.text}") refers to ${ref}, which the layout lacks`);
      }
    }
  });
  (layout.shapes ?? []).forEach((s, i) => {
    for (const ref of [s.xref, s.yref]) {
      const id = refAxis(ref);
      if (id !== null && !has(id)) throw new Error(`shape ${i} (${s.type}) refers to ${ref}, which the layout lacks`);
    }
  });
  checkLegend(fig);
}

/**
 * Serialises a figure to JSON for plotly.js: typed arrays become plain arrays
 * and non-finite numbers become `null` (gaps), so hand-built figures are safe too.
 *
 * @example
 * ```ts
 * import { figureToJson } from "./figure.ts";
 * figureToJson({ data: [{ type: "scatter", x: [1, 2], y: [NaN, 2] }], layout: {} }); // y becomes [null, 2]
 * ```
 */
export function figureToJson(fig: Figure, indent?: number): string {
  return JSON.stringify(fig, (_key, value) => {
    if (typeof value === "number") return Number.isFinite(value) ? value : null;
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      return Array.from(value as unknown as ArrayLike<number>);
    }
    return value;
  }, indent);
}

/**
 * A one-line description: title, size, and trace counts by type.
 *
 * @example
 * ```ts
 * import { describeFigure } from "./figure.ts";
 * describeFigure({ data: [], layout: { title: { text: "empty" } } }); // 'Figure "empty" (0 traces)'
 * ```
 */
export function describeFigure(fig: Figure): string {
  const counts = new Map<string, number>();
  for (const t of fig.data) counts.set(t.type, (counts.get(t.type) ?? 0) + 1);
  const kinds = [...counts].map(([k, n]) => `${n} ${k}`).join(", ");
  const title = fig.layout.title?.text ? ` "${stripTags(fig.layout.title.text)}"` : "";
  const size = fig.layout.width && fig.layout.height ? ` ${fig.layout.width}×${fig.layout.height}px` : "";
  const n = fig.data.length;
  return `Figure${title}${size} (${n} trace${n === 1 ? "" : "s"}${kinds ? `: ${kinds}` : ""})`;
}

function stripTags(s: string): string {
  return s.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();
}

/** The export size of a figure: its layout size or the defaults. */
export function figureSize(fig: Figure): { width: number; height: number } {
  return { width: fig.layout.width ?? DEFAULT_WIDTH, height: fig.layout.height ?? DEFAULT_HEIGHT };
}
