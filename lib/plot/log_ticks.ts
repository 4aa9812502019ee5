/**
 * Readable ticks for log axes. Left alone, plotly labels a log axis that spans
 * one or two decades with bare mantissa digits ("6 5 4 3 2") and few or no
 * decade labels. {@link logTicks} picks explicit labelled ticks from the
 * range instead:
 * - three or more decades inside the range: one label per decade (every k-th
 *   decade when there are more than eight), written `10⁻⁶` (or as decimals,
 *   `0.01` … `10000`, when every labelled decade lies there), with unlabelled
 *   minor ticks at 2…9 × each decade;
 * - fewer: labels at 1, 2 and 5 × 10^k (every mantissa 1…9 when that gives
 *   fewer than three), written as decimals (`0.02`, `500`) while the exponent
 *   is within ±4 and as `2×10⁻⁶` beyond;
 * - a range narrower than that: evenly spaced decimal labels.
 *
 * `figure()` applies it to every log axis whose layout sets no `tickvals` or
 * `dtick`, using the range of the data drawn on that axis.
 *
 * @example
 * ```ts
 * import { logTicks } from "./log_ticks.ts";
 * logTicks(1e-6, 3e-2).ticktext; // ["10<sup>−6</sup>", "10<sup>−5</sup>", …, "10<sup>−2</sup>"]
 * logTicks(0.015, 3).ticktext; // ["0.02", "0.05", "0.1", "0.2", "0.5", "1", "2"]
 * ```
 *
 * @module
 */

import type { Axis, Datum, ErrorBars, Figure, Layout, Trace, XAxisId, YAxisId } from "./types.ts";

/** Explicit ticks of one log axis (values in data units, as plotly's `tickvals` on a log axis expects). */
export interface LogTicks {
  tickvals: number[];
  ticktext: string[];
  /** Unlabelled minor tick positions (decade mode only; empty otherwise). */
  minorvals: number[];
  mode: "decades" | "mantissas" | "linear";
}

/** Most labelled decades before labels skip decades. */
const MAX_DECADE_LABELS = 8;

const SUPERSCRIPT_MINUS = "−";

/** `10<sup>−6</sup>`: a power of ten as plotly rich text. */
export function powerOfTenText(exponent: number): string {
  return `10<sup>${exponent < 0 ? SUPERSCRIPT_MINUS + String(-exponent) : String(exponent)}</sup>`;
}

/** m × 10^k as a decimal while |k| ≤ 4, else `m×10<sup>k</sup>`. */
export function mantissaText(m: number, k: number): string {
  if (Math.abs(k) <= 4) return trimNumber(m * 10 ** k);
  return `${trimNumber(m)}×${powerOfTenText(k)}`;
}

function trimNumber(v: number): string {
  // toPrecision(12) removes float noise (0.30000000000000004); Number() drops trailing zeros
  const s = String(Number(v.toPrecision(12)));
  return s.startsWith("-") ? SUPERSCRIPT_MINUS + s.slice(1) : s;
}

/**
 * Labelled ticks for a log axis showing `lo … hi` (data units, both > 0).
 *
 * @throws {RangeError} unless 0 < lo ≤ hi, both finite
 */
export function logTicks(lo: number, hi: number): LogTicks {
  if (!(lo > 0 && hi >= lo && Number.isFinite(hi))) {
    throw new RangeError(`logTicks: need 0 < lo ≤ hi (finite), got lo = ${lo}, hi = ${hi}`);
  }
  const a = Math.log10(lo);
  const b = Math.log10(hi);
  const eps = 1e-9;
  const first = Math.ceil(a - eps);
  const last = Math.floor(b + eps);
  const decades = last - first + 1;
  if (decades >= 3) {
    const step = Math.ceil(decades / MAX_DECADE_LABELS);
    const tickvals: number[] = [];
    const ticktext: string[] = [];
    // label the decades ≡ first (mod step); extend one decade each side so autorange padding shows a label too
    // decimals read better than powers while every labelled decade is between 0.01 and 10,000
    const plain = first >= -2 && last <= 4;
    for (let k = first - step; k <= last + step; k += step) {
      tickvals.push(10 ** k);
      ticktext.push(plain ? mantissaText(1, k) : powerOfTenText(k));
    }
    const minorvals: number[] = [];
    for (let k = first - 1; k <= last + 1; k++) {
      for (let m = 2; m <= 9; m++) minorvals.push(m * 10 ** k);
    }
    return { tickvals, ticktext, minorvals, mode: "decades" };
  }
  for (const mantissas of [[1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]]) {
    const inside: [number, number][] = [];
    for (let k = Math.floor(a) - 1; k <= Math.ceil(b) + 1; k++) {
      for (const m of mantissas) {
        const v = m * 10 ** k;
        if (v >= lo * (1 - eps) && v <= hi * (1 + eps)) inside.push([m, k]);
      }
    }
    if (inside.length >= 3) {
      // one more tick each side (hidden by plotly when outside the padded range)
      const all: [number, number][] = [];
      for (let k = Math.floor(a) - 1; k <= Math.ceil(b) + 1; k++) for (const m of mantissas) all.push([m, k]);
      const i0 = all.findIndex(([m, k]) => m === inside[0]![0] && k === inside[0]![1]);
      const sel = all.slice(Math.max(0, i0 - 1), i0 + inside.length + 1);
      return {
        tickvals: sel.map(([m, k]) => m * 10 ** k),
        ticktext: sel.map(([m, k]) => mantissaText(m, k)),
        minorvals: [],
        mode: "mantissas",
      };
    }
  }
  const ticks = linearTicks(lo, hi);
  return { tickvals: ticks, ticktext: ticks.map((v) => trimNumber(v)), minorvals: [], mode: "linear" };
}

/** About five evenly spaced "nice" values (steps of 1, 2 or 5 × 10^k) covering lo … hi. */
function linearTicks(lo: number, hi: number): number[] {
  if (hi === lo) return [lo];
  const raw = (hi - lo) / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9 + step; v += step) {
    if (v > 0) out.push(Number(v.toPrecision(12)));
  }
  return out;
}

/** The tick fields {@link logTicks} sets on an axis. */
export function logAxisTicks(lo: number, hi: number): Pick<Axis, "tickvals" | "ticktext" | "minor"> {
  const t = logTicks(lo, hi);
  const out: Pick<Axis, "tickvals" | "ticktext" | "minor"> = { tickvals: t.tickvals, ticktext: t.ticktext };
  if (t.minorvals.length > 0) out.minor = { tickvals: t.minorvals, ticks: "outside", ticklen: 2, showgrid: false };
  return out;
}

type AxisId = XAxisId | YAxisId;

function addValues(ext: Map<string, [number, number]>, id: string, values: readonly Datum[] | undefined) {
  if (!values) return;
  let [lo, hi] = ext.get(id) ?? [Infinity, -Infinity];
  for (const v of values) {
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  ext.set(id, [lo, hi]);
}

function errorSpan(t: Trace, which: "error_x" | "error_y", values: readonly Datum[]): Datum[] {
  const e = (t as { error_x?: ErrorBars; error_y?: ErrorBars })[which];
  if (!e || e.visible === false || e.type !== "data" || !e.array) return [];
  const up = e.array;
  const down = e.symmetric === false && e.arrayminus ? e.arrayminus : up;
  const out: Datum[] = [];
  values.forEach((v, i) => {
    const u = up[i];
    const dn = down[i];
    if (typeof v !== "number") return;
    if (typeof u === "number") out.push(v + u);
    if (typeof dn === "number") out.push(v - dn);
  });
  return out;
}

/**
 * Positive data extent drawn on each axis (values, error-bar ends; axes linked
 * by `matches` share one extent).
 */
export function axisExtents(fig: Figure): Map<string, [number, number]> {
  const ext = new Map<string, [number, number]>();
  for (const t of fig.data) {
    if (t.visible === false) continue;
    const xa = t.xaxis ?? "x";
    const ya = t.yaxis ?? "y";
    if (t.type === "heatmap") {
      addValues(ext, xa, t.x);
      addValues(ext, ya, t.y);
      continue;
    }
    addValues(ext, xa, t.x);
    addValues(ext, ya, t.y);
    addValues(ext, xa, errorSpan(t, "error_x", t.x));
    addValues(ext, ya, errorSpan(t, "error_y", t.y));
  }
  // axes linked by `matches` share their extents
  const layout = fig.layout as Record<string, Axis | undefined>;
  for (const [key, axis] of Object.entries(layout)) {
    const m = /^([xy])axis(\d*)$/.exec(key);
    if (!m || !axis?.matches) continue;
    const id = `${m[1]}${m[2]}`;
    const a = ext.get(id);
    const b = ext.get(axis.matches);
    if (!a && !b) continue;
    const u: [number, number] = [
      Math.min(a?.[0] ?? Infinity, b?.[0] ?? Infinity),
      Math.max(a?.[1] ?? -Infinity, b?.[1] ?? -Infinity),
    ];
    ext.set(id, u);
    ext.set(axis.matches, u);
  }
  return ext;
}

/**
 * Sets readable ticks ({@link logTicks}) on every log axis of `layout` that
 * sets neither `tickvals` nor `dtick`: from the axis's explicit `range` when
 * given (log10 units), else from the data drawn on it. Returns a new layout.
 *
 * @example
 * ```ts
 * import { withLogTicks } from "./log_ticks.ts";
 * const fig = { data: [{ type: "scatter" as const, x: [1, 2], y: [1e-5, 1e-2] }], layout: { yaxis: { type: "log" as const } } };
 * withLogTicks(fig).yaxis?.ticktext; // decade labels 10⁻⁶ … 10⁻¹
 * ```
 */
export function withLogTicks(fig: Figure): Layout {
  const layout: Record<string, unknown> = { ...fig.layout };
  let ext: Map<string, [number, number]> | null = null;
  for (const [key, value] of Object.entries(fig.layout)) {
    const m = /^([xy])axis(\d*)$/.exec(key);
    const axis = value as Axis | undefined;
    if (!m || !axis || axis.type !== "log" || axis.tickvals !== undefined || axis.dtick !== undefined) continue;
    let lo: number;
    let hi: number;
    if (axis.range) {
      lo = 10 ** Math.min(axis.range[0], axis.range[1]);
      hi = 10 ** Math.max(axis.range[0], axis.range[1]);
    } else {
      ext ??= axisExtents(fig);
      const e = ext.get(`${m[1]}${m[2]}` as AxisId);
      if (!e || !(e[0] <= e[1])) continue;
      [lo, hi] = e;
    }
    layout[key] = { ...axis, ...logAxisTicks(lo, hi) };
  }
  return layout as Layout;
}
