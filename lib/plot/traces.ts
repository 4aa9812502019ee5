/**
 * Trace builders: lines, markers, error bands, bars and heatmaps. Inputs may be
 * plain arrays or typed arrays; outputs are plain JSON-ready arrays with
 * non-finite numbers turned into `null` (a gap, plotly's convention).
 *
 * Every builder takes `axes` (from `gridLayout(...).axes(r, c)` or
 * `axesOf(k)`) to put the trace on a subplot.
 *
 * @example
 * ```ts
 * import { bandTraces, lineTrace } from "./traces.ts";
 * const x = [1, 2, 3];
 * const traces = [
 *   ...bandTraces(x, [0.9, 1.8, 2.7], [1.1, 2.2, 3.3], { color: "rgb(27,158,119)" }),
 *   lineTrace(x, [1, 2, 3], { name: "mean", color: "rgb(27,158,119)" }),
 * ];
 * ```
 *
 * @module
 */

import { withAlpha } from "./colors.ts";
import type {
  BarTrace,
  Color,
  ColorBar,
  ColorScale,
  Dash,
  Datum,
  ErrorBars,
  HeatmapTrace,
  ScatterTrace,
  XAxisId,
  YAxisId,
} from "./types.ts";

/** The pair of axes that identifies one subplot. */
export interface AxisPair {
  xaxis: XAxisId;
  yaxis: YAxisId;
}

/** Values accepted for x/y: numbers (plain or typed arrays) or category labels. */
export type Values = ArrayLike<number> | ArrayLike<string> | ArrayLike<Datum>;

/** Options shared by the trace builders. */
export interface TraceOptions {
  name?: string;
  /** Subplot; default the first axes. */
  axes?: AxisPair;
  showlegend?: boolean;
  legendgroup?: string;
  hovertemplate?: string;
  opacity?: number;
}

/** Options of {@link lineTrace} and {@link scatterTrace}. */
export interface LineOptions extends TraceOptions {
  color?: Color;
  /** Line width in px (default 2). */
  width?: number;
  dash?: Dash;
  mode?: ScatterTrace["mode"];
  /** Marker size in px when markers are drawn (default 6). */
  markerSize?: number;
  markerSymbol?: string;
  shape?: "linear" | "spline" | "hv" | "vh" | "hvh" | "vhv";
  /** Symmetric error bars (data units), one per point. */
  errorY?: ArrayLike<number>;
  text?: string[];
  textposition?: string;
}

/**
 * Converts numbers/labels to a JSON-ready array; NaN and ±Infinity become null.
 *
 * @example
 * ```ts
 * import { toData } from "./traces.ts";
 * toData(new Float32Array([1, NaN])); // [1, null]
 * ```
 */
export function toData(values: Values): Datum[] {
  const out: Datum[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as Datum | undefined;
    out[i] = typeof v === "number" ? (Number.isFinite(v) ? v : null) : v ?? null;
  }
  return out;
}

function checkLengths(what: string, x: Values, y: Values): void {
  if (x.length !== y.length) {
    throw new Error(`${what}: x has ${x.length} values but y has ${y.length}; they must match`);
  }
}

function base(opts: TraceOptions): Partial<ScatterTrace> {
  const t: Partial<ScatterTrace> = {};
  if (opts.name !== undefined) t.name = opts.name;
  if (opts.axes) {
    t.xaxis = opts.axes.xaxis;
    t.yaxis = opts.axes.yaxis;
  }
  if (opts.showlegend !== undefined) t.showlegend = opts.showlegend;
  if (opts.legendgroup !== undefined) t.legendgroup = opts.legendgroup;
  if (opts.hovertemplate !== undefined) t.hovertemplate = opts.hovertemplate;
  if (opts.opacity !== undefined) t.opacity = opts.opacity;
  return t;
}

/**
 * A line (scatter trace, `mode: "lines"` unless `opts.mode` says otherwise).
 *
 * @example
 * ```ts
 * import { lineTrace } from "./traces.ts";
 * const t = lineTrace([1, 2, 3], [3, 1, 2], { name: "loss", color: "rgb(217,95,2)", dash: "dash" });
 * ```
 * @throws {Error} when x and y lengths differ
 */
export function lineTrace(x: Values, y: Values, opts: LineOptions = {}): ScatterTrace {
  checkLengths(`lineTrace${opts.name ? ` "${opts.name}"` : ""}`, x, y);
  const mode = opts.mode ?? "lines";
  const t: ScatterTrace = { type: "scatter", ...base(opts), x: toData(x), y: toData(y), mode };
  if (mode.includes("lines")) {
    t.line = { width: opts.width ?? 2 };
    if (opts.color !== undefined) t.line.color = opts.color;
    if (opts.dash !== undefined) t.line.dash = opts.dash;
    if (opts.shape !== undefined) t.line.shape = opts.shape;
  }
  if (mode.includes("markers")) {
    t.marker = { size: opts.markerSize ?? 6 };
    if (opts.color !== undefined) t.marker.color = opts.color;
    if (opts.markerSymbol !== undefined) t.marker.symbol = opts.markerSymbol;
  }
  if (opts.errorY) {
    if (opts.errorY.length !== y.length) {
      throw new Error(`lineTrace: errorY has ${opts.errorY.length} values but y has ${y.length}`);
    }
    t.error_y = { type: "data", array: toData(opts.errorY), visible: true };
    if (opts.color !== undefined) t.error_y.color = opts.color;
  }
  if (opts.text) t.text = opts.text;
  if (opts.textposition) t.textposition = opts.textposition;
  return t;
}

/**
 * Markers only: `lineTrace` with `mode: "markers"`.
 *
 * @example
 * ```ts
 * import { scatterTrace } from "./traces.ts";
 * const t = scatterTrace([0.1, 0.5], [0.3, 0.9], { name: "features", markerSize: 8 });
 * ```
 */
export function scatterTrace(x: Values, y: Values, opts: LineOptions = {}): ScatterTrace {
  return lineTrace(x, y, { mode: "markers", ...opts });
}

/** Options of {@link bandTraces}. */
export interface BandOptions extends TraceOptions {
  /** Band colour (drawn with `alpha` opacity). */
  color?: Color;
  /** Fill opacity (default 0.2). */
  alpha?: number;
}

/**
 * A shaded band between `lower` and `upper` as two traces: an invisible lower
 * edge, then the upper edge with `fill: "tonexty"`. Put the band before the
 * line it surrounds so the line is drawn on top.
 *
 * @example
 * ```ts
 * import { bandTraces } from "./traces.ts";
 * const [lo, hi] = bandTraces([0, 1, 2], [0, 0.5, 1], [1, 1.5, 2], { color: "rgb(27,158,119)", name: "±1 sd" });
 * ```
 * @throws {Error} when the three arrays differ in length
 */
export function bandTraces(
  x: Values,
  lower: ArrayLike<number>,
  upper: ArrayLike<number>,
  opts: BandOptions = {},
): [ScatterTrace, ScatterTrace] {
  checkLengths("bandTraces (lower)", x, lower);
  checkLengths("bandTraces (upper)", x, upper);
  for (let i = 0; i < lower.length; i++) {
    if (lower[i]! > upper[i]!) {
      throw new Error(`bandTraces: lower[${i}] = ${lower[i]} is above upper[${i}] = ${upper[i]}`);
    }
  }
  const fill = opts.color ? withAlpha(opts.color, opts.alpha ?? 0.2) : `rgba(0,0,0,${opts.alpha ?? 0.2})`;
  const common = base(opts);
  const group = opts.legendgroup ?? opts.name;
  const lo: ScatterTrace = {
    type: "scatter",
    ...common,
    name: `${opts.name ?? "band"} (lower)`,
    x: toData(x),
    y: toData(lower),
    mode: "lines",
    line: { width: 0, color: fill },
    showlegend: false,
    hoverinfo: "skip",
  };
  const hi: ScatterTrace = {
    type: "scatter",
    ...common,
    name: opts.name ?? "band",
    x: toData(x),
    y: toData(upper),
    mode: "lines",
    line: { width: 0, color: fill },
    fill: "tonexty",
    fillcolor: fill,
    showlegend: opts.showlegend ?? false,
    hoverinfo: "skip",
  };
  if (group !== undefined) {
    lo.legendgroup = group;
    hi.legendgroup = group;
  }
  return [lo, hi];
}

/** Options of {@link barTrace}. */
export interface BarOptions extends TraceOptions {
  color?: Color | Color[];
  orientation?: "v" | "h";
  errorY?: ArrayLike<number>;
  width?: number;
  text?: string[];
  textposition?: "inside" | "outside" | "auto" | "none";
}

/**
 * Bars; with `orientation: "h"` the roles of x (values) and y (categories) swap as in plotly.
 *
 * @example
 * ```ts
 * import { barTrace } from "./traces.ts";
 * const t = barTrace(["ReLU", "TopK"], [0.12, 0.09], { name: "MSE", color: "rgb(27,158,119)" });
 * ```
 */
export function barTrace(x: Values, y: Values, opts: BarOptions = {}): BarTrace {
  checkLengths(`barTrace${opts.name ? ` "${opts.name}"` : ""}`, x, y);
  const t: BarTrace = { type: "bar", ...(base(opts) as Partial<BarTrace>), x: toData(x), y: toData(y) };
  if (opts.orientation) t.orientation = opts.orientation;
  if (opts.color !== undefined) t.marker = { color: opts.color };
  if (opts.width !== undefined) t.width = opts.width;
  if (opts.errorY) t.error_y = { type: "data", array: toData(opts.errorY), visible: true };
  if (opts.text) t.text = opts.text;
  if (opts.textposition) t.textposition = opts.textposition;
  return t;
}

/** Options of {@link heatmapTrace}. */
export interface HeatmapOptions extends TraceOptions {
  x?: Values;
  y?: Values;
  /** Default viridis ("Viridis"). */
  colorscale?: ColorScale;
  zmin?: number;
  zmax?: number;
  /** Centre of a diverging scale. */
  zmid?: number;
  showscale?: boolean;
  colorbarTitle?: string;
  colorbar?: ColorBar;
  /** Pixel gaps between cells. */
  gap?: number;
  /** e.g. "%{z:.2f}" to print values in cells. */
  texttemplate?: string;
}

/**
 * A heatmap from rows of values (`z[row][col]`, row 0 at the bottom unless the
 * y axis is reversed).
 *
 * @example
 * ```ts
 * import { heatmapTrace } from "./traces.ts";
 * const t = heatmapTrace([[1, 0], [0, 1]], { x: ["a", "b"], y: ["r0", "r1"], colorbarTitle: "cos" });
 * ```
 * @throws {Error} for ragged rows or when x/y lengths do not match the grid
 */
export function heatmapTrace(z: ArrayLike<ArrayLike<number>>, opts: HeatmapOptions = {}): HeatmapTrace {
  const rows: (number | null)[][] = [];
  const width = z.length > 0 ? z[0]!.length : 0;
  for (let r = 0; r < z.length; r++) {
    const row = z[r]!;
    if (row.length !== width) throw new Error(`heatmapTrace: row ${r} has ${row.length} values, row 0 has ${width}`);
    rows.push(toData(row) as (number | null)[]);
  }
  if (opts.x && opts.x.length !== width) {
    throw new Error(`heatmapTrace: x has ${opts.x.length} labels but the grid has ${width} columns`);
  }
  if (opts.y && opts.y.length !== rows.length) {
    throw new Error(`heatmapTrace: y has ${opts.y.length} labels but the grid has ${rows.length} rows`);
  }
  const t: HeatmapTrace = { type: "heatmap", ...(base(opts) as Partial<HeatmapTrace>), z: rows };
  if (opts.x) t.x = toData(opts.x);
  if (opts.y) t.y = toData(opts.y);
  t.colorscale = opts.colorscale ?? "Viridis";
  if (opts.zmin !== undefined) t.zmin = opts.zmin;
  if (opts.zmax !== undefined) t.zmax = opts.zmax;
  if (opts.zmid !== undefined) t.zmid = opts.zmid;
  if (opts.showscale !== undefined) t.showscale = opts.showscale;
  const colorbar: ColorBar = { ...opts.colorbar };
  if (opts.colorbarTitle !== undefined) colorbar.title = { text: opts.colorbarTitle, side: "right" };
  if (Object.keys(colorbar).length > 0) t.colorbar = colorbar;
  if (opts.gap !== undefined) {
    t.xgap = opts.gap;
    t.ygap = opts.gap;
  }
  if (opts.texttemplate !== undefined) t.texttemplate = opts.texttemplate;
  return t;
}

/** The two-sided 95% quantile of the standard normal distribution. */
export const Z95 = 1.959963984540054;

/**
 * The ends of `mean ± z·se` (default z: {@link Z95}, a 95% normal interval); NaN where either input is not finite.
 *
 * @example
 * ```ts
 * import { normalInterval } from "./traces.ts";
 * normalInterval([1, 2], [0.1, NaN]); // { lo: [0.804, NaN], hi: [1.196, NaN] } (rounded)
 * ```
 * @throws {Error} when the arrays differ in length or z is not positive
 */
export function normalInterval(
  mean: ArrayLike<number>,
  se: ArrayLike<number>,
  z = Z95,
): { lo: number[]; hi: number[] } {
  if (mean.length !== se.length) throw new Error(`normalInterval: mean has ${mean.length} values, se ${se.length}`);
  if (!(z > 0)) throw new Error(`normalInterval: z must be positive, got ${z}`);
  const lo: number[] = [];
  const hi: number[] = [];
  for (let i = 0; i < mean.length; i++) {
    const m = mean[i]!;
    const s = se[i]!;
    const ok = Number.isFinite(m) && Number.isFinite(s);
    lo.push(ok ? m - z * s : NaN);
    hi.push(ok ? m + z * s : NaN);
  }
  return { lo, hi };
}

/**
 * Asymmetric error bars from interval ends (`lo ≤ mean ≤ hi`, any of them may be missing: no bar there).
 *
 * @example
 * ```ts
 * import { intervalErrorBars, scatterTrace } from "./traces.ts";
 * const t = scatterTrace([1, 2], [0.3, 0.5]);
 * t.error_y = intervalErrorBars([0.3, 0.5], [0.2, 0.45], [0.42, 0.52]);
 * ```
 * @throws {Error} when lengths differ or an interval does not contain its mean
 */
export function intervalErrorBars(
  mean: ArrayLike<number>,
  lo: ArrayLike<number>,
  hi: ArrayLike<number>,
  opts: { color?: Color; thickness?: number; width?: number } = {},
): ErrorBars {
  checkInterval("intervalErrorBars", mean, lo, hi);
  const up: number[] = [];
  const down: number[] = [];
  for (let i = 0; i < mean.length; i++) {
    up.push(hi[i]! - mean[i]!);
    down.push(mean[i]! - lo[i]!);
  }
  const e: ErrorBars = {
    type: "data",
    symmetric: false,
    array: toData(up),
    arrayminus: toData(down),
    visible: true,
    thickness: opts.thickness ?? 1.5,
    width: opts.width ?? 4,
  };
  if (opts.color !== undefined) e.color = opts.color;
  return e;
}

/** Throws unless the three arrays have one length and every finite interval contains its finite mean. */
function checkInterval(who: string, mean: ArrayLike<number>, lo: ArrayLike<number>, hi: ArrayLike<number>): void {
  if (lo.length !== mean.length || hi.length !== mean.length) {
    throw new Error(`${who}: mean has ${mean.length} values, lo ${lo.length}, hi ${hi.length}`);
  }
  for (let i = 0; i < mean.length; i++) {
    const m = mean[i]!, a = lo[i]!, b = hi[i]!;
    const tol = 1e-12 * Math.abs(m);
    if (a > m + tol || b < m - tol) {
      throw new Error(`${who}: interval ${i} [${a}, ${b}] does not contain its mean ${m}`);
    }
  }
}

/** Options of {@link meanIntervalTraces}. */
export interface MeanIntervalOptions extends LineOptions {
  /** Required: the band and the line must share it (plotly's colour cycle would give them different ones). */
  color: Color;
  /** "band": a shaded band under the line (default); "bars": error bars on each point. */
  style?: "band" | "bars";
  /** Band fill opacity (default 0.2). */
  alpha?: number;
}

/**
 * A mean with its interval: a shaded band plus the line (`style: "band"`), or
 * one trace with asymmetric error bars (`style: "bars"`, markers unless `mode`
 * says otherwise). The band shares the line's legend group, so the legend
 * shows one entry and toggling it hides both. Non-finite interval ends leave
 * a gap in the band / no bar at that point.
 *
 * @example
 * ```ts
 * import { meanIntervalTraces, normalInterval } from "./traces.ts";
 * const x = [1, 2, 3], mean = [0.2, 0.25, 0.4], se = [0.02, 0.03, 0.05];
 * const { lo, hi } = normalInterval(mean, se);
 * const traces = meanIntervalTraces(x, mean, lo, hi, { name: "layer 0 (95% CI)", color: "rgb(27,158,119)" });
 * ```
 * @throws {Error} when lengths differ or an interval does not contain its mean
 */
export function meanIntervalTraces(
  x: Values,
  mean: ArrayLike<number>,
  lo: ArrayLike<number>,
  hi: ArrayLike<number>,
  opts: MeanIntervalOptions,
): ScatterTrace[] {
  checkLengths(`meanIntervalTraces${opts.name ? ` "${opts.name}"` : ""} (mean)`, x, mean);
  const { style = "band", alpha, ...lineOpts } = opts;
  const group = opts.legendgroup ?? opts.name;
  if (style === "bars") {
    const t = lineTrace(x, mean, { mode: "markers", ...lineOpts, legendgroup: group });
    t.error_y = intervalErrorBars(mean, lo, hi, { color: opts.color });
    return [t];
  }
  // the band needs both ends; where one is missing it leaves a gap
  const ok = (i: number) => Number.isFinite(lo[i]!) && Number.isFinite(hi[i]!);
  const bandLo = Array.from({ length: mean.length }, (_, i) => (ok(i) ? lo[i]! : NaN));
  const bandHi = Array.from({ length: mean.length }, (_, i) => (ok(i) ? hi[i]! : NaN));
  checkInterval(`meanIntervalTraces${opts.name ? ` "${opts.name}"` : ""}`, mean, lo, hi);
  const band = bandTraces(x, bandLo, bandHi, {
    color: opts.color,
    alpha: alpha ?? 0.2,
    axes: opts.axes,
    name: opts.name ? `${opts.name} (interval)` : undefined,
    legendgroup: group,
  });
  return [...band, lineTrace(x, mean, { ...lineOpts, legendgroup: group })];
}
