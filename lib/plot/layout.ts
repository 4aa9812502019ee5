/**
 * Layout builders: subplot grids with explicit axis domains (optionally square
 * panels with equal aspect), free-form panel boxes for schematics, and the
 * decorations the studies need — arrows from an origin to a tip, vertical and
 * horizontal reference lines, panel titles and row/column labels.
 *
 * Rows count from the top (row 0 is the top row); axis numbers run row-major
 * (cell (r, c) of a grid with C columns uses `x{rC+c+1}`/`y{rC+c+1}`).
 *
 * @example
 * ```ts
 * import { arrow, gridLayout, mergeLayout, vline } from "./layout.ts";
 * const grid = gridLayout(2, 2, { square: true, equalAspect: true, width: 500 });
 * const layout = mergeLayout(grid.layout, {
 *   annotations: [arrow([0, 0], [1, 0.5], { axes: grid.axes(0, 1) })],
 *   shapes: [vline(0.25, { axes: grid.axes(1, 0), dash: "dash" })],
 * });
 * ```
 *
 * @module
 */

import { REFERENCE_GREY } from "./colors.ts";
import type { AxisPair } from "./traces.ts";
import type { Annotation, Axis, Color, Dash, Font, Layout, Shape, XAxisId, XRef, YAxisId, YRef } from "./types.ts";

/**
 * The axes of subplot number `k` (1-based): `axesOf(1)` is `{xaxis: "x", yaxis: "y"}`,
 * `axesOf(3)` is `{xaxis: "x3", yaxis: "y3"}`.
 *
 * @example
 * ```ts
 * import { axesOf } from "./layout.ts";
 * import { lineTrace } from "./traces.ts";
 * const t = lineTrace([1, 2], [3, 4], { axes: axesOf(2) }); // drawn on x2/y2
 * ```
 */
export function axesOf(k: number): AxisPair {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`axesOf: k must be an integer ≥ 1, got ${k}`);
  return k === 1 ? { xaxis: "x", yaxis: "y" } : { xaxis: `x${k}`, yaxis: `y${k}` };
}

/** Layout key of an axis id: `"x"` → `"xaxis"`, `"y3"` → `"yaxis3"`. */
export function axisKey(id: XAxisId | YAxisId): `xaxis${string}` | `yaxis${string}` {
  return `${id[0]}axis${id.slice(1)}` as `xaxis${string}` | `yaxis${string}`;
}

/** Reads an axis object from a layout by id (undefined when absent). */
export function getAxis(layout: Layout, id: XAxisId | YAxisId): Axis | undefined {
  return (layout as Record<string, Axis | undefined>)[axisKey(id)];
}

/** Sets an axis object on a layout by id. */
export function setAxis(layout: Layout, id: XAxisId | YAxisId, axis: Axis): void {
  (layout as Record<string, Axis | undefined>)[axisKey(id)] = axis;
}

/** Pixel margins. */
export interface Margin {
  l: number;
  r: number;
  t: number;
  b: number;
}

/** Options of {@link gridLayout}. */
export interface GridOptions {
  /** Figure width in px (default 900). */
  width?: number;
  /** Figure height in px; with `square` it is derived from the width unless given. */
  height?: number;
  /** Outer margins in px (default l 70, r 30, t 50, b 60; more when row/column labels are set). */
  margin?: Partial<Margin>;
  /** Horizontal gap between panels in px (default 50). */
  gapX?: number;
  /** Vertical gap between panels in px (default 50). */
  gapY?: number;
  /** Square panels in pixels. */
  square?: boolean;
  /** One y unit as long as one x unit in every panel (`scaleanchor`). */
  equalAspect?: boolean;
  /** Applied to every x axis (explicit per-axis settings can be merged later). */
  xaxis?: Axis;
  /** Applied to every y axis. */
  yaxis?: Axis;
  /** Link all x axes to the first (`matches: "x"`). */
  sharedX?: boolean;
  /** Link all y axes to the first (`matches: "y"`). */
  sharedY?: boolean;
  /** Title of the bottom row's x axes. */
  xTitle?: string;
  /** Title of the left column's y axes. */
  yTitle?: string;
  /** Labels left of each row (rotated), top to bottom. */
  rowLabels?: string[];
  /** Labels above each column, left to right. */
  colLabels?: string[];
  /** Small titles above each panel, row-major; "" skips a panel. */
  panelTitles?: string[];
  /** Hide tick labels except on the bottom row (x) and left column (y). */
  outerTicksOnly?: boolean;
  /** Figure title. */
  title?: string;
  font?: Font;
}

/** A grid of subplots. */
export interface GridLayout {
  layout: Layout;
  rows: number;
  cols: number;
  /** Axes of the panel at row `r` (0 = top), column `c`. */
  axes(r: number, c: number): AxisPair;
  /** Domain of the panel at (r, c) in paper fractions. */
  domain(r: number, c: number): { x: [number, number]; y: [number, number] };
}

const LABEL_FONT: Font = { size: 15 };

/**
 * A `rows × cols` grid of subplots with explicit axis domains.
 *
 * @example
 * ```ts
 * import { gridLayout } from "./layout.ts";
 * // 5×5 square panels with equal aspect, labelled rows and columns
 * const g = gridLayout(5, 5, {
 *   square: true, equalAspect: true, width: 900,
 *   rowLabels: ["a", "b", "c", "d", "e"], colLabels: ["1", "2", "3", "4", "5"],
 *   xaxis: { range: [-1.2, 1.2], showticklabels: false }, yaxis: { range: [-1.2, 1.2], showticklabels: false },
 * });
 * g.axes(0, 0); // { xaxis: "x", yaxis: "y" }
 * ```
 * @throws {RangeError} for a non-positive grid size or labels of the wrong length
 */
export function gridLayout(rows: number, cols: number, opts: GridOptions = {}): GridLayout {
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(cols) || cols < 1) {
    throw new RangeError(`gridLayout: rows and cols must be positive integers, got ${rows}×${cols}`);
  }
  if (opts.rowLabels && opts.rowLabels.length !== rows) {
    throw new RangeError(`gridLayout: ${opts.rowLabels.length} rowLabels for ${rows} rows`);
  }
  if (opts.colLabels && opts.colLabels.length !== cols) {
    throw new RangeError(`gridLayout: ${opts.colLabels.length} colLabels for ${cols} columns`);
  }
  if (opts.panelTitles && opts.panelTitles.length !== rows * cols) {
    throw new RangeError(`gridLayout: ${opts.panelTitles.length} panelTitles for ${rows * cols} panels`);
  }
  const margin: Margin = {
    l: (opts.rowLabels ? 40 : 0) + 70,
    r: 30,
    t: (opts.colLabels ? 30 : 0) + (opts.title ? 40 : 0) + (opts.panelTitles ? 20 : 0) + 20,
    b: 60,
    ...opts.margin,
  };
  const width = opts.width ?? 900;
  const gapX = opts.gapX ?? 50;
  const gapY = opts.gapY ?? 50;
  const plotW = width - margin.l - margin.r;
  let cellW = (plotW - (cols - 1) * gapX) / cols;
  let height: number;
  let cellH: number;
  if (opts.square) {
    if (opts.height !== undefined) {
      height = opts.height;
      const plotH0 = height - margin.t - margin.b;
      const side = Math.min(cellW, (plotH0 - (rows - 1) * gapY) / rows);
      cellW = side;
      cellH = side;
    } else {
      cellH = cellW;
      height = Math.round(rows * cellH + (rows - 1) * gapY + margin.t + margin.b);
    }
  } else {
    height = opts.height ?? Math.round(Math.max(300, rows * 280 + margin.t + margin.b));
    cellH = (height - margin.t - margin.b - (rows - 1) * gapY) / rows;
  }
  const plotH = height - margin.t - margin.b;
  if (cellW <= 0 || cellH <= 0) {
    throw new RangeError(`gridLayout: ${rows}×${cols} panels do not fit in ${width}×${height} px with these gaps`);
  }
  // centre the used block when square cells leave spare room
  const usedW = cols * cellW + (cols - 1) * gapX;
  const usedH = rows * cellH + (rows - 1) * gapY;
  const offX = (plotW - usedW) / 2;
  const offY = (plotH - usedH) / 2;
  const domain = (r: number, c: number): { x: [number, number]; y: [number, number] } => {
    const x0 = (offX + c * (cellW + gapX)) / plotW;
    const yTop = 1 - (offY + r * (cellH + gapY)) / plotH;
    return { x: [clamp01(x0), clamp01(x0 + cellW / plotW)], y: [clamp01(yTop - cellH / plotH), clamp01(yTop)] };
  };
  const axes = (r: number, c: number): AxisPair => {
    if (!(r >= 0 && r < rows && c >= 0 && c < cols && Number.isInteger(r) && Number.isInteger(c))) {
      throw new RangeError(`gridLayout.axes: (${r}, ${c}) is outside the ${rows}×${cols} grid`);
    }
    return axesOf(r * cols + c + 1);
  };

  // no showlegend: figure() shows a legend exactly when two or more named series are drawn
  const layout: Layout = { width, height, margin: { ...margin } };
  if (opts.title) layout.title = { text: opts.title, x: 0.5, xanchor: "center" };
  if (opts.font) layout.font = opts.font;
  const annotations: Annotation[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const { xaxis, yaxis } = axes(r, c);
      const d = domain(r, c);
      const xa: Axis = { ...opts.xaxis, domain: d.x, anchor: yaxis };
      const ya: Axis = { ...opts.yaxis, domain: d.y, anchor: xaxis };
      if (opts.sharedX && xaxis !== "x") xa.matches = "x";
      if (opts.sharedY && yaxis !== "y") ya.matches = "y";
      if (opts.equalAspect) {
        ya.scaleanchor = xaxis;
        ya.scaleratio = 1;
        ya.constrain = "domain";
        xa.constrain = "domain";
      }
      if (opts.outerTicksOnly) {
        if (r !== rows - 1) xa.showticklabels = false;
        if (c !== 0) ya.showticklabels = false;
      }
      if (opts.xTitle && r === rows - 1) xa.title = { text: opts.xTitle };
      if (opts.yTitle && c === 0) ya.title = { text: opts.yTitle };
      setAxis(layout, xaxis, xa);
      setAxis(layout, yaxis, ya);
      const pt = opts.panelTitles?.[r * cols + c];
      if (pt) annotations.push(panelTitle({ xaxis, yaxis }, pt));
    }
  }
  opts.rowLabels?.forEach((text, r) => {
    const d = domain(r, 0);
    annotations.push({
      text,
      x: 0,
      xref: "paper",
      xanchor: "right",
      xshift: -(margin.l - 40) + 6,
      y: (d.y[0] + d.y[1]) / 2,
      yref: "paper",
      yanchor: "middle",
      textangle: -90,
      showarrow: false,
      font: LABEL_FONT,
    });
  });
  opts.colLabels?.forEach((text, c) => {
    const d = domain(0, c);
    annotations.push({
      text,
      x: (d.x[0] + d.x[1]) / 2,
      xref: "paper",
      xanchor: "center",
      y: 1,
      yref: "paper",
      yanchor: "bottom",
      yshift: opts.panelTitles ? 24 : 6,
      showarrow: false,
      font: LABEL_FONT,
    });
  });
  if (annotations.length > 0) layout.annotations = annotations;
  return { layout, rows, cols, axes, domain };
}

function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v));
}

/** One free-form panel of {@link panelLayout}, in paper fractions (0–1). */
export interface PanelSpec {
  /** Horizontal extent [left, right]. */
  x: [number, number];
  /** Vertical extent [bottom, top]. */
  y: [number, number];
  xaxis?: Axis;
  yaxis?: Axis;
  /** Small title above the panel. */
  title?: string;
  /** Hide both axes (ticks, lines, grid): for schematics drawn with shapes and arrows. */
  bare?: boolean;
  /** One y unit as long as one x unit. */
  equalAspect?: boolean;
}

/** Options of {@link panelLayout}. */
export interface PanelLayoutOptions {
  width?: number;
  height?: number;
  margin?: Partial<Margin>;
  title?: string;
}

/**
 * Subplots at explicit positions (e.g. a 6-panel schematic with custom boxes).
 * Panel `k` (0-based) uses the axes `axesOf(k + 1)`.
 *
 * @example
 * ```ts
 * import { panelLayout } from "./layout.ts";
 * const p = panelLayout([
 *   { x: [0, 0.3], y: [0.55, 1], title: "(a) features", bare: true, equalAspect: true },
 *   { x: [0.4, 1], y: [0.55, 1], title: "(b) loss", yaxis: { type: "log" } },
 * ], { width: 900, height: 600 });
 * p.axes(1); // { xaxis: "x2", yaxis: "y2" }
 * ```
 * @throws {RangeError} for a box outside [0, 1] or with zero size
 */
export function panelLayout(panels: PanelSpec[], opts: PanelLayoutOptions = {}): {
  layout: Layout;
  axes(k: number): AxisPair;
} {
  const layout: Layout = {
    width: opts.width ?? 900,
    height: opts.height ?? 600,
    margin: { l: 60, r: 30, t: opts.title ? 70 : 40, b: 50, ...opts.margin },
  };
  if (opts.title) layout.title = { text: opts.title, x: 0.5, xanchor: "center" };
  const annotations: Annotation[] = [];
  panels.forEach((p, k) => {
    for (const [name, [a, b]] of [["x", p.x], ["y", p.y]] as const) {
      if (!(a >= 0 && b <= 1 && a < b)) {
        throw new RangeError(`panelLayout: panel ${k} has ${name} = [${a}, ${b}]; expected 0 ≤ start < end ≤ 1`);
      }
    }
    const { xaxis, yaxis } = axesOf(k + 1);
    const hidden: Axis = p.bare
      ? { visible: true, showgrid: false, zeroline: false, showline: false, showticklabels: false, ticks: "" }
      : {};
    const xa: Axis = { ...hidden, ...p.xaxis, domain: p.x, anchor: yaxis };
    const ya: Axis = { ...hidden, ...p.yaxis, domain: p.y, anchor: xaxis };
    if (p.equalAspect) {
      ya.scaleanchor = xaxis;
      ya.scaleratio = 1;
      ya.constrain = "domain";
      xa.constrain = "domain";
    }
    setAxis(layout, xaxis, xa);
    setAxis(layout, yaxis, ya);
    if (p.title) annotations.push(panelTitle({ xaxis, yaxis }, p.title));
  });
  if (annotations.length > 0) layout.annotations = annotations;
  return {
    layout,
    axes(k: number): AxisPair {
      if (!(Number.isInteger(k) && k >= 0 && k < panels.length)) {
        throw new RangeError(`panelLayout.axes: panel ${k} does not exist (there are ${panels.length})`);
      }
      return axesOf(k + 1);
    },
  };
}

/** Options of {@link arrow}. */
export interface ArrowOptions {
  axes?: AxisPair;
  color?: Color;
  /** Shaft width in px (default 2). */
  width?: number;
  /** Head style 0–8 (default 2, a filled triangle). */
  head?: number;
  /** Head size relative to the shaft (default 1). */
  headSize?: number;
  /** Text at the tip (default none). */
  text?: string;
  font?: Font;
}

/**
 * An arrow from `from` to `to` in the data units of `axes` (an annotation
 * with `showarrow`, tail at `ax`/`ay`, tip at `x`/`y`).
 *
 * @example
 * ```ts
 * import { arrow } from "./layout.ts";
 * const a = arrow([0, 0], [0.8, 0.6], { axes: { xaxis: "x2", yaxis: "y2" }, color: "rgb(27,158,119)" });
 * ```
 */
export function arrow(from: [number, number], to: [number, number], opts: ArrowOptions = {}): Annotation {
  for (const v of [...from, ...to]) {
    if (!Number.isFinite(v)) throw new Error(`arrow: coordinates must be finite, got from ${from} to ${to}`);
  }
  const { xaxis, yaxis } = opts.axes ?? axesOf(1);
  const a: Annotation = {
    text: opts.text ?? "",
    x: to[0],
    y: to[1],
    ax: from[0],
    ay: from[1],
    xref: xaxis,
    yref: yaxis,
    axref: xaxis,
    ayref: yaxis,
    showarrow: true,
    arrowhead: opts.head ?? 2,
    arrowsize: opts.headSize ?? 1,
    arrowwidth: opts.width ?? 2,
    arrowcolor: opts.color ?? "rgb(40,40,40)",
    standoff: 0,
    startstandoff: 0,
  };
  if (opts.font) a.font = opts.font;
  return a;
}

/** Options of {@link vline} and {@link hline}. */
export interface RefLineOptions {
  axes?: AxisPair;
  color?: Color;
  /** Default "dash". */
  dash?: Dash;
  /** Default 1.5 px. */
  width?: number;
  /** Draw below the traces (default above). */
  below?: boolean;
}

/**
 * A vertical line at `x` (data units) spanning the full height of the panel.
 *
 * @example
 * ```ts
 * import { vline } from "./layout.ts";
 * const s = vline(128, { axes: { xaxis: "x2", yaxis: "y2" }, dash: "dash" });
 * ```
 */
export function vline(x: number, opts: RefLineOptions = {}): Shape {
  const { xaxis, yaxis } = opts.axes ?? axesOf(1);
  return refLine({ x0: x, x1: x, y0: 0, y1: 1, xref: xaxis, yref: `${yaxis} domain` }, opts);
}

/**
 * A horizontal line at `y` (data units) spanning the full width of the panel.
 *
 * @example
 * ```ts
 * import { hline } from "./layout.ts";
 * const s = hline(0, { color: "black", dash: "solid", width: 1 });
 * ```
 */
export function hline(y: number, opts: RefLineOptions = {}): Shape {
  const { xaxis, yaxis } = opts.axes ?? axesOf(1);
  return refLine({ x0: 0, x1: 1, y0: y, y1: y, xref: `${xaxis} domain`, yref: yaxis }, opts);
}

function refLine(pos: { x0: number; x1: number; y0: number; y1: number; xref: XRef; yref: YRef }, o: RefLineOptions) {
  for (const v of [pos.x0, pos.y0]) {
    if (!Number.isFinite(v)) throw new Error(`reference line position must be finite, got ${v}`);
  }
  const s: Shape = {
    type: "line",
    ...pos,
    line: { color: o.color ?? REFERENCE_GREY, width: o.width ?? 1.5, dash: o.dash ?? "dash" },
    layer: o.below ? "below" : "above",
  };
  return s;
}

/**
 * A title centred above a panel.
 *
 * @example
 * ```ts
 * import { panelTitle } from "./layout.ts";
 * const a = panelTitle({ xaxis: "x2", yaxis: "y2" }, "layer 6");
 * ```
 */
export function panelTitle(axes: AxisPair, text: string, font: Font = { size: 13 }): Annotation {
  return {
    text,
    x: 0.5,
    y: 1,
    xref: `${axes.xaxis} domain`,
    yref: `${axes.yaxis} domain`,
    xanchor: "center",
    yanchor: "bottom",
    yshift: 4,
    showarrow: false,
    font,
  };
}

/** Options of {@link label}. */
export interface LabelOptions {
  xref?: XRef;
  yref?: YRef;
  font?: Font;
  xanchor?: Annotation["xanchor"];
  yanchor?: Annotation["yanchor"];
  textangle?: number;
  align?: Annotation["align"];
}

/**
 * Free text at (x, y); paper coordinates (0–1 of the plotting area) by default.
 *
 * @example
 * ```ts
 * import { label } from "./layout.ts";
 * const a = label("context length used in training", 128, 0.95, { xref: "x", yref: "y domain", xanchor: "left" });
 * ```
 */
export function label(text: string, x: number, y: number, opts: LabelOptions = {}): Annotation {
  const a: Annotation = { text, x, y, xref: opts.xref ?? "paper", yref: opts.yref ?? "paper", showarrow: false };
  if (opts.font) a.font = opts.font;
  if (opts.xanchor) a.xanchor = opts.xanchor;
  if (opts.yanchor) a.yanchor = opts.yanchor;
  if (opts.textangle !== undefined) a.textangle = opts.textangle;
  if (opts.align) a.align = opts.align;
  return a;
}

const MERGED_OBJECTS = new Set(["margin", "legend", "font", "title", "grid"]);

/**
 * Merges layout patches into a copy of `base`: `annotations` and `shapes` are
 * concatenated, axis objects (`xaxis…`, `yaxis…`) and `margin`/`legend`/
 * `font`/`title`/`grid` are merged key by key, everything else is replaced.
 *
 * @example
 * ```ts
 * import { gridLayout, mergeLayout, vline } from "./layout.ts";
 * const g = gridLayout(1, 2);
 * const layout = mergeLayout(g.layout, { xaxis2: { type: "log" }, shapes: [vline(1, { axes: g.axes(0, 1) })] });
 * ```
 */
export function mergeLayout(base: Layout, ...patches: Partial<Layout>[]): Layout {
  const out: Record<string, unknown> = { ...base };
  for (const patch of patches) {
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      const prev = out[key];
      if ((key === "annotations" || key === "shapes") && Array.isArray(prev)) {
        out[key] = [...prev, ...(value as unknown[])];
      } else if ((/^[xy]axis\d*$/.test(key) || MERGED_OBJECTS.has(key)) && isObject(prev) && isObject(value)) {
        out[key] = { ...prev, ...value };
      } else {
        out[key] = value;
      }
    }
  }
  return out as Layout;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
