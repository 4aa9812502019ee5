/**
 * Notebook display of figures.
 *
 * `show(fig)` emits one MIME bundle:
 * - `application/vnd.plotly.v1+json`: the figure, for frontends with a plotly renderer (JupyterLab + extension, VS Code);
 * - `image/png`: a static image from the exporter (what GitHub, nbviewer and other static viewers show), with
 *   size metadata so the 2× image displays at the figure's CSS size;
 * - `text/plain`: a one-line summary;
 * - `text/html` only when a person runs the notebook live (not under `SAE_HEADLESS=1`): the figure drawn by
 *   plotly.js, which is inlined from the local npm copy into the first figure's output of the kernel session and
 *   reused (`window.Plotly`) by later figures. Headless runs never embed plotly.js, so committed notebooks stay small.
 *
 * Outside a kernel, `show` prints the summary line instead.
 *
 * @example
 * ```ts
 * import { figure, lineTrace, saveAndShow } from "./mod.ts";
 * Deno.env.set("SAE_OUT_DIR", await Deno.makeTempDir()); // figures go to a scratch folder
 * const x = [0, 1, 2], y = [0, 1, 4];
 * await saveAndShow(figure([lineTrace(x, y, { name: "x²" })]), "quickstart_demo", { x, y });
 * ```
 *
 * @module
 */

import { isHeadless } from "../env.ts";
import { describeFigure, figureSize, figureToJson, validateFigure } from "./figure.ts";
import { exportFigure } from "./export.ts";
import { jupyter, type MimeBundle } from "../jupyter.ts";
import { plotlyJsSource } from "./plotly_js.ts";
import { pngScale, save, type SavedFigure, type SaveOptions } from "./save.ts";
import type { Figure } from "./types.ts";

/** Plotly's notebook MIME type. */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** Options of {@link show}. */
export interface ShowOptions {
  /** A PNG already rendered (e.g. by `save`); otherwise the exporter renders one. */
  png?: Uint8Array;
  /** Pixel ratio of a PNG rendered here (default 2; the notebook displays it at the figure's CSS size). */
  scale?: number;
  /** Force (true) or suppress (false) the interactive `text/html` part; default `!isHeadless()`. */
  live?: boolean;
}

let plotlyInlined = false;
let figureCounter = 0;

/**
 * Largest plotly JSON (characters) embedded in a static (headless) notebook output. Larger figures (per-position
 * curves of many layers) keep only their PNG there; their interactive version is `figures/NAME.html` and their
 * numbers `figures/NAME.data.json`. (nbformat writes one array element per line, so 60k characters of JSON take
 * about 100 kB of notebook.)
 */
export const MAX_STATIC_PLOTLY_JSON = 60_000;

/**
 * Builds the MIME bundle and its metadata for `fig` (exposed for tests and
 * custom displays). `includePlotly` inlines plotly.js into the HTML part.
 */
export async function figureBundle(
  fig: Figure,
  png: Uint8Array,
  opts: { live: boolean; includePlotly: boolean },
): Promise<{ data: MimeBundle; metadata: Record<string, unknown> }> {
  const { width, height } = figureSize(fig);
  const json = figureToJson(fig);
  const data: MimeBundle = {
    "image/png": toBase64(png),
    "text/plain": describeFigure(fig),
  };
  // a static notebook keeps the PNG; the plotly JSON only when small (large figures' data is in figures/)
  if (opts.live || json.length <= MAX_STATIC_PLOTLY_JSON) data[PLOTLY_MIME] = JSON.parse(json);
  if (opts.live) data["text/html"] = await liveHtml(json, width, height, opts.includePlotly);
  return { data, metadata: { "image/png": { width, height } } };
}

async function liveHtml(json: string, width: number, height: number, includePlotly: boolean): Promise<string> {
  const id = `sae-figure-${Date.now().toString(36)}-${figureCounter++}`;
  const lib = includePlotly
    ? `<script type="text/javascript">${(await plotlyJsSource()).replace(/<\/script/gi, "<\\/script")}</script>\n`
    : "";
  const safe = json.replace(/</g, "\\u003c");
  return `${lib}<div id="${id}" style="width:${width}px;height:${height}px"></div>
<script type="text/javascript">
(function () {
  var fig = ${safe};
  var el = document.getElementById("${id}");
  function draw() { window.Plotly.newPlot(el, fig.data, fig.layout, { displaylogo: false }); }
  if (window.Plotly) { draw(); return; }
  var tries = 0;
  var timer = setInterval(function () {
    if (window.Plotly) { clearInterval(timer); draw(); }
    else if (++tries > 50) {
      clearInterval(timer);
      el.style.height = "auto";
      el.textContent = "plotly.js is not loaded in this page (it comes with the first figure of the kernel session): " +
        "re-run the notebook, or read the static image.";
    }
  }, 100);
})();
</script>`;
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/**
 * Displays a figure in the notebook (one MIME bundle), or prints a summary
 * line outside a kernel.
 *
 * @throws {Error} when the figure is invalid or the static export fails
 */
export async function show(fig: Figure, opts: ShowOptions = {}): Promise<void> {
  validateFigure(fig);
  const j = jupyter();
  if (j === null) {
    console.log(describeFigure(fig));
    return;
  }
  const png = opts.png ?? (await exportFigure(fig, { format: "png", scale: opts.scale ?? 2 }));
  const live = opts.live ?? !isHeadless();
  const includePlotly = live && !plotlyInlined;
  const { data, metadata } = await figureBundle(fig, png, { live, includePlotly });
  await j.broadcast("display_data", { data, metadata, transient: {} });
  if (includePlotly) plotlyInlined = true;
}

/** Pixel ratio of the PNG a notebook embeds by default (the file in figures/ is larger: `pngScale`). */
export const DISPLAY_SCALE = 1;

/**
 * `save` then `show`. Returns the saved paths. The notebook embeds a PNG at `displayScale` (default
 * {@link DISPLAY_SCALE}, keeping notebooks small) while `figures/NAME.png` is written at ≥ 2× and ≥ 1,600 px; when
 * both ratios agree the saved PNG is reused.
 *
 * @example
 * ```ts
 * import { figure, saveAndShow, barTrace } from "./mod.ts";
 * Deno.env.set("SAE_OUT_DIR", await Deno.makeTempDir()); // figures go to a scratch folder
 * const saved = await saveAndShow(figure([barTrace(["a", "b"], [1, 2])]), "demo_bars", { a: 1, b: 2 });
 * ```
 */
export async function saveAndShow(
  fig: Figure,
  name: string,
  data: unknown,
  opts: SaveOptions & { live?: boolean; displayScale?: number } = {},
): Promise<SavedFigure> {
  const { live, displayScale, ...saveOpts } = opts;
  const saved = await save(fig, name, data, saveOpts);
  if (jupyter() === null) {
    console.log(`${describeFigure(fig)} → ${saved.dir}/${name}.{svg,png,html,data.json}`);
  } else {
    const ds = displayScale ?? DISPLAY_SCALE;
    const savedScale = pngScale(figureSize(fig).width, saveOpts.scale);
    const png = ds === savedScale ? saved.pngBytes : await exportFigure(fig, { format: "png", scale: ds });
    await show(fig, { png, live });
  }
  return saved;
}
