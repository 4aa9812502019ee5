/**
 * Colours: the Dark2 qualitative palette (study A's green and orange), a
 * viridis sequential scale for ordered series such as the 13 layers of a
 * language model, and small helpers to sample and fade colours.
 *
 * @example
 * ```ts
 * import { DARK2_GREEN, layerColor, withAlpha } from "./colors.ts";
 * const first = layerColor(0, 13); // dark purple
 * const last = layerColor(12, 13); // yellow
 * const band = withAlpha(DARK2_GREEN, 0.2); // "rgba(27,158,119,0.2)"
 * ```
 *
 * @module
 */

import type { Color, ColorScale } from "./types.ts";

/** ColorBrewer Dark2, 8 colours, as `rgb(...)` strings. */
export const DARK2: readonly Color[] = [
  "rgb(27,158,119)",
  "rgb(217,95,2)",
  "rgb(117,112,179)",
  "rgb(231,41,138)",
  "rgb(102,166,30)",
  "rgb(230,171,2)",
  "rgb(166,118,29)",
  "rgb(102,102,102)",
];

/** Dark2 green, rgb(27,158,119): study A's first colour. */
export const DARK2_GREEN: Color = "rgb(27,158,119)";
/** Dark2 orange, rgb(217,95,2): study A's second colour. */
export const DARK2_ORANGE: Color = "rgb(217,95,2)";
/** Neutral grey for reference lines. */
export const REFERENCE_GREY: Color = "rgb(110,110,110)";

/** Viridis at t = 0, 1/9, …, 1 (#440154 … #fde725), as RGB triples. */
const VIRIDIS: readonly [number, number, number][] = [
  [68, 1, 84],
  [72, 40, 120],
  [62, 73, 137],
  [49, 104, 142],
  [38, 130, 142],
  [31, 158, 137],
  [53, 183, 121],
  [110, 206, 88],
  [181, 222, 43],
  [253, 231, 37],
];

/** Viridis as a plotly colour scale (10 stops). */
export const VIRIDIS_SCALE: ColorScale = VIRIDIS.map((c, i) => [i / (VIRIDIS.length - 1), rgb(c)]);

/** A diverging blue–white–red scale for signed values (use with `zmid: 0`). */
export const DIVERGING_SCALE: ColorScale = [
  [0, "rgb(33,102,172)"],
  [0.25, "rgb(146,197,222)"],
  [0.5, "rgb(247,247,247)"],
  [0.75, "rgb(244,165,130)"],
  [1, "rgb(178,24,43)"],
];

function rgb(c: readonly [number, number, number]): Color {
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/**
 * Viridis at `t` in [0, 1] (linear interpolation between 10 samples).
 *
 * @throws {RangeError} when `t` is not a number in [0, 1]
 */
export function viridis(t: number): Color {
  if (!(t >= 0 && t <= 1)) throw new RangeError(`viridis: t must be in [0, 1], got ${t}`);
  const pos = t * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(pos), VIRIDIS.length - 2);
  const f = pos - i;
  const a = VIRIDIS[i]!;
  const b = VIRIDIS[i + 1]!;
  return rgb([0, 1, 2].map((k) => Math.round(a[k]! + f * (b[k]! - a[k]!))) as [number, number, number]);
}

/**
 * Colour of item `i` of `n` ordered items (e.g. layer 0…12 of 13): viridis
 * from dark purple (first) to yellow (last); `n = 1` gives the middle colour.
 *
 * @example
 * ```ts
 * import { layerColor } from "./colors.ts";
 * const colors = Array.from({ length: 13 }, (_, l) => layerColor(l, 13));
 * ```
 * @throws {RangeError} unless `0 ≤ i < n` are integers
 */
export function layerColor(i: number, n: number): Color {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`layerColor: n must be a positive integer, got ${n}`);
  if (!Number.isInteger(i) || i < 0 || i >= n) {
    throw new RangeError(`layerColor: i must be an integer in [0, ${n - 1}], got ${i}`);
  }
  return viridis(n === 1 ? 0.5 : i / (n - 1));
}

/** The `k`-th Dark2 colour (cycling after 8). */
export function dark2(k: number): Color {
  return DARK2[((k % DARK2.length) + DARK2.length) % DARK2.length]!;
}

/**
 * The same colour with opacity `alpha` as `rgba(...)`; accepts `rgb(...)`,
 * `rgba(...)`, `#rrggbb` and `#rgb`.
 *
 * @throws {Error} for a colour format it cannot parse
 */
export function withAlpha(color: Color, alpha: number): Color {
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`withAlpha: alpha must be in [0, 1], got ${alpha}`);
  const [r, g, b] = parseColor(color);
  return `rgba(${r},${g},${b},${alpha})`;
}

/** CSS colour names the figures use, as RGB triples. */
const NAMED: Record<string, [number, number, number]> = {
  black: [0, 0, 0],
  white: [255, 255, 255],
  grey: [128, 128, 128],
  gray: [128, 128, 128],
};

/** Parses `rgb()/rgba()/#rrggbb/#rgb` (or black, white, grey) into an RGB triple. */
export function parseColor(color: Color): [number, number, number] {
  const s = color.trim();
  const named = NAMED[s.toLowerCase()];
  if (named) return [...named];
  const fn = /^rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*(?:,\s*[\d.]+\s*)?\)$/i.exec(s);
  if (fn) return [Number(fn[1]), Number(fn[2]), Number(fn[3])];
  const hex6 = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(s);
  if (hex6) return [parseInt(hex6[1]!, 16), parseInt(hex6[2]!, 16), parseInt(hex6[3]!, 16)];
  const hex3 = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/i.exec(s);
  if (hex3) {
    return [parseInt(hex3[1]!.repeat(2), 16), parseInt(hex3[2]!.repeat(2), 16), parseInt(hex3[3]!.repeat(2), 16)];
  }
  throw new Error(
    `cannot parse colour "${color}": expected rgb(r,g,b), rgba(r,g,b,a), #rrggbb, #rgb, black, white or grey`,
  );
}
