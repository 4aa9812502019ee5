/**
 * Types for the subset of plotly's figure JSON the project uses. A figure is
 * plain data (`{ data, layout }`) that plotly.js renders in a browser; Deno
 * never imports plotly.js. Field names and values follow plotly's schema
 * (https://plotly.com/javascript/reference/), so any figure typed here is
 * valid input for `Plotly.newPlot` and `Plotly.toImage`.
 *
 * @example
 * ```ts
 * import type { Figure } from "./types.ts";
 * const fig: Figure = {
 *   data: [{ type: "scatter", x: [1, 2, 3], y: [2, 4, 8], mode: "lines" }],
 *   layout: { yaxis: { type: "log" } },
 * };
 * ```
 *
 * @module
 */

/** Any CSS colour plotly accepts: `"#1b9e77"`, `"rgb(27,158,119)"`, `"rgba(0,0,0,0.2)"`. */
export type Color = string;

/** One data value. `null` leaves a gap (plotly's convention for missing values). */
export type Datum = number | string | null;

/** A colour scale: a plotly name (`"Viridis"`) or `[fraction, colour]` stops from 0 to 1. */
export type ColorScale = string | [number, Color][];

/** Axis reference ids: `"x"`, `"x2"`, …; `"y"`, `"y2"`, …. */
export type XAxisId = "x" | `x${number}`;
/** See {@link XAxisId}. */
export type YAxisId = "y" | `y${number}`;

/** Coordinates for annotations/shapes: an axis (data units), its domain (0–1 of the panel), or the paper. */
export type XRef = XAxisId | `${XAxisId} domain` | "paper";
/** See {@link XRef}. */
export type YRef = YAxisId | `${YAxisId} domain` | "paper";

/** Dash styles. */
export type Dash = "solid" | "dot" | "dash" | "longdash" | "dashdot" | "longdashdot";

/** Font settings. */
export interface Font {
  family?: string;
  size?: number;
  color?: Color;
  weight?: number | "normal" | "bold";
}

/** A title with optional font. */
export interface Title {
  text: string;
  font?: Font;
  x?: number;
  y?: number;
  xanchor?: "auto" | "left" | "center" | "right";
  yanchor?: "auto" | "top" | "middle" | "bottom";
  xref?: "container" | "paper";
  yref?: "container" | "paper";
  /** Axis titles: pixels between the tick labels and the title. */
  standoff?: number;
  /** Colour-bar titles: where the title sits. */
  side?: "right" | "top" | "bottom";
}

/** Line style of a trace or shape. */
export interface LineStyle {
  color?: Color;
  width?: number;
  dash?: Dash;
  shape?: "linear" | "spline" | "hv" | "vh" | "hvh" | "vhv";
}

/** A colour bar next to a heatmap or colour-mapped markers. */
export interface ColorBar {
  title?: Title;
  thickness?: number;
  len?: number;
  x?: number;
  y?: number;
  xanchor?: "left" | "center" | "right";
  yanchor?: "top" | "middle" | "bottom";
  tickformat?: string;
  tickvals?: number[];
  ticktext?: string[];
  dtick?: number | string;
  exponentformat?: "none" | "e" | "E" | "power" | "SI" | "B";
  outlinewidth?: number;
}

/** Marker style of a scatter or bar trace. */
export interface Marker {
  color?: Color | Datum[];
  size?: number | number[];
  symbol?: string;
  opacity?: number;
  line?: { color?: Color; width?: number };
  colorscale?: ColorScale;
  cmin?: number;
  cmax?: number;
  showscale?: boolean;
  colorbar?: ColorBar;
}

/** Error bars. */
export interface ErrorBars {
  type: "data" | "percent" | "constant" | "sqrt";
  array?: Datum[];
  arrayminus?: Datum[];
  symmetric?: boolean;
  value?: number;
  visible?: boolean;
  color?: Color;
  thickness?: number;
  width?: number;
}

/** Fields every trace has. */
export interface TraceBase {
  name?: string;
  showlegend?: boolean;
  legendgroup?: string;
  /** Which x axis (subplot) the trace is drawn on; default `"x"`. */
  xaxis?: XAxisId;
  /** Which y axis (subplot) the trace is drawn on; default `"y"`. */
  yaxis?: YAxisId;
  opacity?: number;
  visible?: boolean | "legendonly";
  hoverinfo?: string;
  hovertemplate?: string;
  text?: string | string[];
  customdata?: Datum[];
}

/** Lines, markers, and filled areas (error bands use `fill: "tonexty"`). */
export interface ScatterTrace extends TraceBase {
  type: "scatter";
  x: Datum[];
  y: Datum[];
  mode?: "lines" | "markers" | "lines+markers" | "text" | "lines+text" | "markers+text" | "lines+markers+text" | "none";
  line?: LineStyle;
  marker?: Marker;
  fill?: "none" | "tozeroy" | "tozerox" | "tonexty" | "tonextx" | "toself" | "tonext";
  fillcolor?: Color;
  connectgaps?: boolean;
  error_x?: ErrorBars;
  error_y?: ErrorBars;
  textposition?: string;
  textfont?: Font;
  cliponaxis?: boolean;
}

/** Bars. */
export interface BarTrace extends TraceBase {
  type: "bar";
  x: Datum[];
  y: Datum[];
  orientation?: "v" | "h";
  marker?: Marker;
  error_y?: ErrorBars;
  error_x?: ErrorBars;
  width?: number | number[];
  base?: number | number[];
  offsetgroup?: string;
  textposition?: "inside" | "outside" | "auto" | "none";
}

/** A 2-D colour-mapped grid; `z[row][col]`, rows drawn bottom-up unless the y axis is reversed. */
export interface HeatmapTrace extends TraceBase {
  type: "heatmap";
  z: (number | null)[][];
  x?: Datum[];
  y?: Datum[];
  colorscale?: ColorScale;
  reversescale?: boolean;
  zmin?: number;
  zmax?: number;
  zmid?: number;
  showscale?: boolean;
  colorbar?: ColorBar;
  xgap?: number;
  ygap?: number;
  hoverongaps?: boolean;
  texttemplate?: string;
  textfont?: Font;
}

/** Any trace the builders make. */
export type Trace = ScatterTrace | BarTrace | HeatmapTrace;

/** A cartesian axis. */
export interface Axis {
  title?: Title;
  type?: "linear" | "log" | "category" | "date" | "-";
  /** For log axes the range is in log10 units (plotly's convention). */
  range?: [number, number];
  autorange?: boolean | "reversed";
  /** "tozero": the autorange includes 0. */
  rangemode?: "normal" | "tozero" | "nonnegative";
  /** The axis's extent as fractions of the plotting area. */
  domain?: [number, number];
  anchor?: XAxisId | YAxisId | "free";
  position?: number;
  side?: "top" | "bottom" | "left" | "right";
  overlaying?: XAxisId | YAxisId;
  matches?: XAxisId | YAxisId;
  /** Equal aspect: `yaxis.scaleanchor = "x"` with `scaleratio: 1` makes one y unit as long as one x unit. */
  scaleanchor?: XAxisId | YAxisId | false;
  scaleratio?: number;
  constrain?: "range" | "domain";
  constraintoward?: "left" | "center" | "right" | "top" | "middle" | "bottom";
  showgrid?: boolean;
  gridcolor?: Color;
  gridwidth?: number;
  zeroline?: boolean;
  zerolinecolor?: Color;
  zerolinewidth?: number;
  showline?: boolean;
  linecolor?: Color;
  linewidth?: number;
  mirror?: boolean | "ticks" | "all" | "allticks";
  ticks?: "" | "outside" | "inside";
  ticklen?: number;
  tickvals?: Datum[];
  ticktext?: string[];
  tickformat?: string;
  tickangle?: number;
  dtick?: number | string;
  tick0?: number | string;
  nticks?: number;
  showticklabels?: boolean;
  tickfont?: Font;
  exponentformat?: "none" | "e" | "E" | "power" | "SI" | "B";
  minor?: {
    ticks?: "" | "outside" | "inside";
    showgrid?: boolean;
    dtick?: number | string;
    tickvals?: number[];
    ticklen?: number;
  };
  visible?: boolean;
  fixedrange?: boolean;
  automargin?: boolean;
}

/** Text placed on the figure, optionally with an arrow from (`ax`, `ay`) to (`x`, `y`). */
export interface Annotation {
  text: string;
  x?: Datum;
  y?: Datum;
  xref?: XRef;
  yref?: YRef;
  showarrow?: boolean;
  /** Arrow tail; in the axis units of `axref`/`ayref` (or pixels offset when those are "pixel"). */
  ax?: number;
  ay?: number;
  axref?: XAxisId | "pixel";
  ayref?: YAxisId | "pixel";
  /** 0 = none … 8; 2 is a filled triangle. */
  arrowhead?: number;
  arrowsize?: number;
  arrowwidth?: number;
  arrowcolor?: Color;
  arrowside?: "end" | "start" | "end+start" | "none";
  standoff?: number;
  startstandoff?: number;
  font?: Font;
  xanchor?: "auto" | "left" | "center" | "right";
  yanchor?: "auto" | "top" | "middle" | "bottom";
  xshift?: number;
  yshift?: number;
  align?: "left" | "center" | "right";
  textangle?: number;
  bgcolor?: Color;
  bordercolor?: Color;
  opacity?: number;
}

/** Lines, rectangles, circles and SVG paths drawn on the figure. */
export interface Shape {
  type: "line" | "rect" | "circle" | "path";
  x0?: Datum;
  x1?: Datum;
  y0?: Datum;
  y1?: Datum;
  xref?: XRef;
  yref?: YRef;
  path?: string;
  line?: LineStyle;
  fillcolor?: Color;
  opacity?: number;
  layer?: "above" | "below";
}

/** The legend box. */
export interface Legend {
  x?: number;
  y?: number;
  xanchor?: "auto" | "left" | "center" | "right";
  yanchor?: "auto" | "top" | "middle" | "bottom";
  orientation?: "v" | "h";
  bgcolor?: Color;
  bordercolor?: Color;
  borderwidth?: number;
  font?: Font;
  title?: Title;
  traceorder?: "normal" | "reversed" | "grouped" | "reversed+grouped";
  tracegroupgap?: number;
}

/** Figure-wide layout. Axes beyond the first are `xaxis2`, `yaxis2`, …. */
export interface Layout {
  title?: Title;
  width?: number;
  height?: number;
  autosize?: boolean;
  margin?: { l?: number; r?: number; t?: number; b?: number; pad?: number };
  showlegend?: boolean;
  legend?: Legend;
  font?: Font;
  paper_bgcolor?: Color;
  plot_bgcolor?: Color;
  colorway?: Color[];
  hovermode?: "x" | "y" | "closest" | "x unified" | "y unified" | false;
  barmode?: "group" | "stack" | "overlay" | "relative";
  bargap?: number;
  bargroupgap?: number;
  annotations?: Annotation[];
  shapes?: Shape[];
  /** plotly's own subplot grid (an alternative to explicit axis domains). */
  grid?: {
    rows: number;
    columns: number;
    pattern?: "independent" | "coupled";
    roworder?: "top to bottom" | "bottom to top";
    xgap?: number;
    ygap?: number;
  };
  xaxis?: Axis;
  yaxis?: Axis;
  [axis: `xaxis${number}`]: Axis | undefined;
  [axis: `yaxis${number}`]: Axis | undefined;
}

/** plotly's config object (interaction settings; not part of the static image). */
export interface PlotConfig {
  responsive?: boolean;
  displaylogo?: boolean;
  displayModeBar?: boolean | "hover";
  staticPlot?: boolean;
  scrollZoom?: boolean;
}

/** A complete figure: traces plus layout. */
export interface Figure {
  data: Trace[];
  layout: Layout;
  config?: PlotConfig;
}
