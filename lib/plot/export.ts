/**
 * Static figure export (PNG, SVG) through plotly.js's own `Plotly.toImage`,
 * running in headless Chromium driven over the DevTools protocol.
 *
 * One browser serves the whole process: it starts on the first export, is
 * reused for every later figure, and stops at {@link closeExporter}, at
 * process exit (an `unload` handler), or — if the process dies without
 * running handlers — within a second, through the launcher's watchdog.
 *
 * @example
 * ```ts
 * import { exportFigure, closeExporter } from "./export.ts";
 * const png = await exportFigure({ data: [{ type: "bar", x: ["a", "b"], y: [1, 2] }], layout: {} }, { format: "png" });
 * await closeExporter();
 * ```
 *
 * @module
 */

import { CdpConnection } from "./cdp.ts";
import { type ChromiumProcess, launchChromium } from "./chromium.ts";
import { figureSize, figureToJson } from "./figure.ts";
import { plotlyJsPath } from "./plotly_js.ts";
import { canonicalSvg } from "./svg_ids.ts";
import type { Figure } from "./types.ts";

/**
 * Seed of the page's `Math.random`, reset before every export, so plotly's random ids (figure uid, trace uids) are
 * the same for the same figure. SVG attributes and ids are canonicalised afterwards as well ({@link canonicalSvg}).
 */
export const EXPORT_RANDOM_SEED = 20240314;

// mulberry32, installed as the page's Math.random by __seedRandom(seed)
const SEED_RANDOM_SCRIPT = `window.__seedRandom = function (seed) {
  var a = seed >>> 0;
  Math.random = function () {
    a = (a + 0x6d2b79f5) >>> 0;
    var t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};`;

/** Image formats the exporter produces. */
export type ImageFormat = "png" | "svg";

/** Options of {@link exportFigure}. */
export interface ExportOptions {
  format: ImageFormat;
  /** Width in CSS px (default: the figure's layout width, else 760). */
  width?: number;
  /** Height in CSS px (default: the figure's layout height, else 460). */
  height?: number;
  /** Pixel ratio for PNG (default 2, for crisp images); ignored for SVG. */
  scale?: number;
}

/** Counters for tests and logs. */
export interface ExporterStats {
  /** Browsers started by this process so far. */
  launches: number;
  /** Images exported so far. */
  exported: number;
  /** Whether a browser is running now. */
  running: boolean;
  /** Process id of the running browser's watchdog, or null. */
  pid: number | null;
}

interface Session {
  browser: ChromiumProcess;
  cdp: CdpConnection;
  sessionId: string;
}

let session: Promise<Session> | null = null;
let queue: Promise<unknown> = Promise.resolve();
let launches = 0;
let exported = 0;
let runningPid: number | null = null;
let unloadHooked = false;

const PAGE_TIMEOUT_MS = 60_000;

async function startSession(): Promise<Session> {
  const plotly = await plotlyJsPath();
  const browser = await launchChromium();
  launches++;
  runningPid = browser.pid;
  if (!unloadHooked) {
    unloadHooked = true;
    globalThis.addEventListener("unload", () => {
      current?.browser.kill();
    });
  }
  let cdp: CdpConnection | null = null;
  try {
    const page = `${browser.userDataDir}/export.html`;
    await Deno.writeTextFile(
      page,
      `<!DOCTYPE html><html><head><meta charset="utf-8"><script>${SEED_RANDOM_SCRIPT}</script>` +
        `<script src="${new URL(`file://${plotly}`).href}"></script></head><body></body></html>`,
    );
    cdp = await CdpConnection.open(browser.wsUrl);
    const { targetId } = await cdp.send<{ targetId: string }>("Target.createTarget", { url: `file://${page}` });
    const { sessionId } = await cdp.send<{ sessionId: string }>("Target.attachToTarget", { targetId, flatten: true });
    const deadline = Date.now() + PAGE_TIMEOUT_MS;
    for (;;) {
      const r = await cdp.send<EvalResult>("Runtime.evaluate", {
        expression: `document.readyState === "complete" && typeof window.Plotly === "object" && ` +
          `typeof window.__seedRandom === "function"`,
        returnByValue: true,
      }, sessionId);
      if (r.result?.value === true) break;
      if (Date.now() > deadline) {
        throw new Error(`plotly.js (${plotly}) did not load in Chromium within ${PAGE_TIMEOUT_MS} ms`);
      }
      await new Promise((res) => setTimeout(res, 50));
    }
    const s = { browser, cdp, sessionId };
    current = s;
    return s;
  } catch (e) {
    cdp?.close();
    browser.kill();
    runningPid = null;
    throw e;
  }
}

let current: Session | null = null;

interface EvalResult {
  result?: { type: string; value?: unknown; description?: string };
  exceptionDetails?: { text?: string; exception?: { description?: string } };
}

function getSession(): Promise<Session> {
  if (session === null) {
    session = startSession();
    session.catch(() => {
      session = null; // a later call may try again (e.g. after installing Chromium)
    });
  }
  return session;
}

/**
 * Renders `fig` to PNG or SVG bytes with plotly.js in the shared browser.
 * Calls are serialised; any number of figures reuse one browser. The same
 * figure gives the same bytes: the page's `Math.random` is reseeded before
 * every render and SVG attributes and ids are canonicalised.
 *
 * @throws {Error} when Chromium is missing (with the install command) or plotly.js rejects the figure
 */
export function exportFigure(fig: Figure, opts: ExportOptions): Promise<Uint8Array> {
  const run = queue.then(() => exportNow(fig, opts));
  queue = run.catch(() => undefined);
  return run;
}

async function exportNow(fig: Figure, opts: ExportOptions): Promise<Uint8Array> {
  const s = await getSession();
  if (s.cdp.closed) {
    // the browser went away (crashed or was killed): start a fresh one
    session = null;
    current = null;
    s.browser.kill();
    return exportNow(fig, opts);
  }
  const size = figureSize(fig);
  const imageOpts = {
    format: opts.format,
    width: opts.width ?? size.width,
    height: opts.height ?? size.height,
    scale: opts.format === "png" ? opts.scale ?? 2 : 1,
  };
  const expression = `(async () => {
    window.__seedRandom(${EXPORT_RANDOM_SEED});
    const fig = ${figureToJson(fig)};
    return await Plotly.toImage({ data: fig.data, layout: fig.layout, config: { staticPlot: true } }, ${
    JSON.stringify(imageOpts)
  });
  })()`;
  const r = await s.cdp.send<EvalResult>("Runtime.evaluate", {
    expression,
    awaitPromise: true,
    returnByValue: true,
  }, s.sessionId);
  if (r.exceptionDetails) {
    const why = r.exceptionDetails.exception?.description ?? r.exceptionDetails.text ?? "unknown error";
    throw new Error(`plotly.js could not render the figure as ${opts.format}: ${why.split("\n")[0]}`);
  }
  const url = r.result?.value;
  if (typeof url !== "string") throw new Error(`Plotly.toImage returned ${typeof url}, expected a data URL`);
  exported++;
  const bytes = decodeDataUrl(url, opts.format);
  if (opts.format !== "svg") return bytes;
  return new TextEncoder().encode(canonicalSvg(new TextDecoder().decode(bytes)));
}

function decodeDataUrl(url: string, format: ImageFormat): Uint8Array {
  const comma = url.indexOf(",");
  const head = url.slice(0, comma);
  const body = url.slice(comma + 1);
  const expected = format === "png" ? "image/png" : "image/svg+xml";
  if (!head.startsWith(`data:${expected}`)) throw new Error(`expected a ${expected} data URL, got "${head}"`);
  if (head.endsWith(";base64")) return Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  return new TextEncoder().encode(decodeURIComponent(body));
}

/**
 * Renders both PNG (at `scale`, default 2) and SVG.
 *
 * @example
 * ```ts
 * import { closeExporter, exportImages } from "./export.ts";
 * const { png, svg } = await exportImages({ data: [], layout: { title: { text: "empty" } } });
 * await closeExporter();
 * ```
 */
export async function exportImages(fig: Figure, scale = 2): Promise<{ png: Uint8Array; svg: string }> {
  const png = await exportFigure(fig, { format: "png", scale });
  const svg = new TextDecoder().decode(await exportFigure(fig, { format: "svg" }));
  return { png, svg };
}

/**
 * Stops the shared browser (if any) and waits for it to exit. Safe to call
 * more than once; a later export starts a new browser.
 *
 * @example
 * ```ts
 * import { closeExporter } from "./export.ts";
 * await closeExporter();
 * ```
 */
export async function closeExporter(): Promise<void> {
  const pending = session;
  session = null;
  if (pending === null) return;
  let s: Session;
  try {
    s = await pending;
  } catch {
    return; // never started
  }
  current = null;
  runningPid = null;
  try {
    await withTimeout(s.cdp.send("Browser.close"), 2000);
  } catch {
    // the connection drops as the browser closes
  }
  s.cdp.close();
  s.browser.kill();
  await withTimeout(s.browser.wait(), 5000);
  try {
    await Deno.remove(s.browser.userDataDir, { recursive: true });
  } catch {
    // removed by the watchdog already
  }
}

/** Waits for `p` or `ms` milliseconds, whichever comes first, without leaving a timer behind. */
async function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([p, new Promise((r) => (timer = setTimeout(r, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Counters: browsers launched, images exported, whether one is running.
 *
 * @example
 * ```ts
 * import { exporterStats } from "./export.ts";
 * const { launches, exported } = exporterStats();
 * ```
 */
export function exporterStats(): ExporterStats {
  return { launches, exported, running: runningPid !== null, pid: runningPid };
}
