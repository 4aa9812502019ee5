/**
 * `save(fig, name, data)`: writes a figure as `NAME.svg` (the same bytes for the same figure),
 * `NAME.png` (at least 2× and at least 1,600 px wide, {@link pngScale}),
 * `NAME.html` (interactive; loads the shared `./plotly.min.js` copied once into
 * the same folder, never inlined) and `NAME.data.json` (the numbers behind the
 * figure — what checks and tests read). Every file is written atomically
 * (temporary file + rename), so a crash never leaves half a figure.
 *
 * The folder is `figuresDir()` from lib/env.ts: `figures/` in the project, or
 * `.quick/figures/` under `QUICK=1`, or `$SAE_OUT_DIR/figures/`.
 *
 * @example
 * ```ts
 * import { figure, lineTrace, save } from "./mod.ts";
 * Deno.env.set("SAE_OUT_DIR", await Deno.makeTempDir()); // figures go to a scratch folder
 * const x = [1, 2, 3], y = [1, 4, 9];
 * const paths = await save(figure([lineTrace(x, y)]), "squares", { x, y });
 * console.log(paths.png); // .../figures/squares.png
 * ```
 *
 * @module
 */

import { figuresDir } from "../env.ts";
import { join } from "../path.ts";
import { encodeFigureData } from "./data_json.ts";
import { exportFigure } from "./export.ts";
import { figureSize, figureToJson, validateFigure } from "./figure.ts";
import { plotlyJsPath } from "./plotly_js.ts";
import type { Figure } from "./types.ts";

/** Name of the shared plotly.js copy next to the figures. */
export const PLOTLY_COPY = "plotly.min.js";

/** Smallest pixel ratio of a saved PNG. */
export const MIN_PNG_SCALE = 2;
/** Smallest width in pixels of a saved PNG. */
export const MIN_PNG_WIDTH = 1600;

/**
 * The pixel ratio of a saved PNG: `requested` (default {@link MIN_PNG_SCALE}), raised when needed so the image is
 * at least {@link MIN_PNG_WIDTH} px wide.
 *
 * @example
 * ```ts
 * import { pngScale } from "./save.ts";
 * pngScale(900); // 1600 / 900 ≈ 1.78 → 2
 * pngScale(760); // 1600 / 760 ≈ 2.105
 * ```
 * @throws {RangeError} for a requested ratio below {@link MIN_PNG_SCALE}
 */
export function pngScale(width: number, requested = MIN_PNG_SCALE): number {
  if (!(requested >= MIN_PNG_SCALE)) {
    throw new RangeError(
      `save: the PNG scale must be at least ${MIN_PNG_SCALE} (got ${requested}); ` +
        `notebooks embed a smaller copy (saveAndShow's displayScale)`,
    );
  }
  return Math.max(requested, MIN_PNG_WIDTH / width);
}

/** Options of {@link save}. */
export interface SaveOptions {
  /** Output folder (default `figuresDir()`). */
  dir?: string;
  /** PNG pixel ratio, at least 2 (default 2, raised so the PNG is at least 1,600 px wide: {@link pngScale}). */
  scale?: number;
  /** Write NaN/±Infinity in the data as strings instead of failing (default false). */
  allowNonFinite?: boolean;
}

/** What {@link save} wrote. */
export interface SavedFigure {
  name: string;
  dir: string;
  svg: string;
  png: string;
  html: string;
  data: string;
  /** The PNG bytes as written. */
  pngBytes: Uint8Array;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Writes the four files of a figure and returns their paths.
 *
 * @throws {Error} for a bad name, an invalid figure, data JSON cannot hold
 *   (non-finite numbers unless allowed, tensors, cycles), or a failed export —
 *   all before any file is written
 */
export async function save(fig: Figure, name: string, data: unknown, opts: SaveOptions = {}): Promise<SavedFigure> {
  if (!NAME_RE.test(name) || name.endsWith(".data")) {
    throw new Error(
      `save: figure name "${name}" must be letters, digits, "_", "-" or "." (no folders), not ending in .data`,
    );
  }
  validateFigure(fig);
  const dataText = encodeFigureData(data, { allowNonFinite: opts.allowNonFinite ?? false });
  const dir = opts.dir ?? figuresDir();
  const pngBytes = await exportFigure(fig, { format: "png", scale: pngScale(figureSize(fig).width, opts.scale) });
  const svgBytes = await exportFigure(fig, { format: "svg" });
  await Deno.mkdir(dir, { recursive: true });
  await ensurePlotlyCopy(dir);
  const paths = {
    svg: join(dir, `${name}.svg`),
    png: join(dir, `${name}.png`),
    html: join(dir, `${name}.html`),
    data: join(dir, `${name}.data.json`),
  };
  await writeAtomic(paths.data, new TextEncoder().encode(dataText));
  await writeAtomic(paths.png, pngBytes);
  await writeAtomic(paths.svg, svgBytes);
  await writeAtomic(paths.html, new TextEncoder().encode(figureHtml(fig, name)));
  return { name, dir, ...paths, pngBytes };
}

/**
 * A standalone HTML page that renders `fig` with `./plotly.min.js` from the
 * same folder (the figure JSON is embedded; plotly.js is not).
 *
 * @example
 * ```ts
 * import { figureHtml } from "./save.ts";
 * const html = figureHtml({ data: [], layout: {} }, "empty");
 * ```
 */
export function figureHtml(fig: Figure, title: string): string {
  const { width, height } = figureSize(fig);
  // "<" only occurs inside JSON strings, where \u003c is equivalent and cannot close the script element
  const json = figureToJson(fig).replace(/</g, "\\u003c");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<script src="./${PLOTLY_COPY}"></script>
<style>body { margin: 0; background: white; } #figure { width: ${width}px; height: ${height}px; }</style>
</head>
<body>
<div id="figure"></div>
<script type="application/json" id="figure-json">${json}</script>
<script>
  const fig = JSON.parse(document.getElementById("figure-json").textContent);
  Plotly.newPlot("figure", fig.data, fig.layout, { displaylogo: false });
</script>
</body>
</html>
`;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * Copies plotly.min.js into `dir` unless an identical-size copy is there already.
 *
 * @example
 * ```ts
 * import { ensurePlotlyCopy } from "./save.ts";
 * const path = await ensurePlotlyCopy("figures"); // "figures/plotly.min.js"
 * ```
 */
export async function ensurePlotlyCopy(dir: string): Promise<string> {
  const src = await plotlyJsPath();
  const dest = join(dir, PLOTLY_COPY);
  const srcInfo = await Deno.stat(src);
  try {
    const info = await Deno.stat(dest);
    if (info.isFile && info.size === srcInfo.size) return dest;
  } catch {
    // missing: copy below
  }
  await writeAtomic(dest, await Deno.readFile(src));
  return dest;
}

/**
 * Writes `bytes` to `path` through a temporary file in the same folder and a
 * rename, so readers never see a partial file.
 *
 * @example
 * ```ts
 * import { writeAtomic } from "./save.ts";
 * await writeAtomic(`${await Deno.makeTempDir()}/example.txt`, new TextEncoder().encode("hello"));
 * ```
 */
export async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash) : ".";
  const base = path.slice(slash + 1);
  const tmp = join(dir, `.${base}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  try {
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => undefined);
    throw new Error(`could not write ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
