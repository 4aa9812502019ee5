/**
 * Figures for the notebooks: typed plotly JSON builders, notebook display,
 * static export through headless Chromium, and `save(fig, name, data)`.
 *
 * @example
 * ```ts
 * import { bandTraces, DARK2_GREEN, figure, gridLayout, lineTrace, mergeLayout, saveAndShow, vline } from "./mod.ts";
 * Deno.env.set("SAE_OUT_DIR", await Deno.makeTempDir()); // figures go to a scratch folder
 * const x = [1, 2, 4, 8, 16], y = [1.0, 0.8, 0.7, 0.65, 0.62];
 * const g = gridLayout(1, 2, { width: 900, height: 380, xaxis: { type: "log" } });
 * const fig = figure([
 *   ...bandTraces(x, y.map((v) => v - 0.05), y.map((v) => v + 0.05), { color: DARK2_GREEN, axes: g.axes(0, 0) }),
 *   lineTrace(x, y, { name: "loss", color: DARK2_GREEN, axes: g.axes(0, 0) }),
 *   lineTrace(x, y.map((v) => 1 / v), { name: "1/loss", axes: g.axes(0, 1) }),
 * ], mergeLayout(g.layout, { shapes: [vline(4, { axes: g.axes(0, 1) })] }));
 * await saveAndShow(fig, "demo", { x, y });
 * ```
 *
 * @module
 */

export type * from "./types.ts";
export * from "./colors.ts";
export * from "./traces.ts";
export * from "./layout.ts";
export * from "./figure.ts";
export * from "./data_json.ts";
export * from "./log_ticks.ts";
export { canonicalSvg, canonicalSvgIds, sortSvgAttributes } from "./svg_ids.ts";
export {
  closeExporter,
  EXPORT_RANDOM_SEED,
  type ExporterStats,
  exporterStats,
  exportFigure,
  exportImages,
  type ExportOptions,
  type ImageFormat,
} from "./export.ts";
export { chromiumAvailable, chromiumPath } from "./chromium.ts";
export {
  ensurePlotlyCopy,
  figureHtml,
  MIN_PNG_SCALE,
  MIN_PNG_WIDTH,
  PLOTLY_COPY,
  pngScale,
  save,
  type SavedFigure,
  type SaveOptions,
  writeAtomic,
} from "./save.ts";
export { DISPLAY_SCALE, figureBundle, PLOTLY_MIME, saveAndShow, show, type ShowOptions } from "./show.ts";
export { inKernel, showText } from "../jupyter.ts";
