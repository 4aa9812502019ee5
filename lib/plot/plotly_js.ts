/**
 * Locates the local copy of plotly.js (`plotly.js-dist-min` in the project's
 * `node_modules`, installed by `deno install` / `deno task setup`). Nothing is
 * fetched from a CDN: the project runs offline.
 *
 * @example
 * ```ts
 * import { plotlyJsPath } from "./plotly_js.ts";
 * const path = await plotlyJsPath(); // .../node_modules/plotly.js-dist-min/plotly.min.js
 * ```
 *
 * @module
 */

import { PROJECT_ROOT } from "../env.ts";
import { join } from "../path.ts";

/** The npm package that ships the browser bundle. */
export const PLOTLY_PACKAGE = "plotly.js-dist-min";

let cachedPath: string | null = null;
let cachedSource: string | null = null;

/**
 * Absolute path of `plotly.min.js`.
 *
 * @throws {Error} naming the expected path and the command that installs it
 */
export async function plotlyJsPath(): Promise<string> {
  if (cachedPath !== null) return cachedPath;
  const path = join(PROJECT_ROOT, "node_modules", PLOTLY_PACKAGE, "plotly.min.js");
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) throw new Error("not a file");
  } catch {
    throw new Error(
      `plotly.js not found at ${path}; install the npm dependencies with \`deno install\` ` +
        `(or \`deno task setup\`) from ${PROJECT_ROOT}`,
    );
  }
  cachedPath = path;
  return path;
}

/** The text of `plotly.min.js` (read once per process). */
export async function plotlyJsSource(): Promise<string> {
  if (cachedSource === null) cachedSource = await Deno.readTextFile(await plotlyJsPath());
  return cachedSource;
}

/** The version in the bundle's banner (`plotly.js vX.Y.Z`), or "unknown". */
export async function plotlyJsVersion(): Promise<string> {
  const head = (await plotlyJsSource()).slice(0, 200);
  return /plotly\.js v(\d+\.\d+\.\d+)/.exec(head)?.[1] ?? "unknown";
}
