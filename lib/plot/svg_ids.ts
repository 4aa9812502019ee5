/**
 * Deterministic element ids in exported SVG. plotly.js names its clip paths,
 * `<defs>` and gradients after a random figure id (`clip9bb935xyplot`,
 * `g3a2b2c-cb1dfbc1`), so every render of the same figure gave different
 * bytes. {@link canonicalSvgIds} renames every `id` in order of first
 * appearance to `f<hash>-<n>`, where `<hash>` is an FNV-1a hash of the SVG with
 * its ids blanked (so two different figures inlined in one page do not share
 * ids), and rewrites every reference to it (`url(#…)`, `href="#…"`).
 *
 * @example
 * ```ts
 * import { canonicalSvgIds } from "./svg_ids.ts";
 * const a = canonicalSvgIds('<svg><clipPath id="clip9bb935x"/><g clip-path="url(#clip9bb935x)"/></svg>');
 * const b = canonicalSvgIds('<svg><clipPath id="clip41c0d2x"/><g clip-path="url(#clip41c0d2x)"/></svg>');
 * a === b; // true
 * ```
 *
 * @module
 */

const ID_ATTR = /(\sid=")([^"]*)(")/g;
const START_TAG = /<([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"]*")*)(\s*\/?)>/g;
const ATTRIBUTE = /\s+([\w:.-]+)="([^"]*)"/g;
const URL_REF = /(url\(\s*(?:&quot;|['"])?#)([^'")&\s]+)/g;
const HREF_REF = /(href="#)([^"]+)(")/g;
// NUL cannot occur in XML, so it safely marks the renamed ids between the two passes
// deno-lint-ignore no-control-regex
const PLACEHOLDER = /\u0000(\d+)\u0000/g;

/** 32-bit FNV-1a of a string's UTF-16 code units, as 8 hex digits. */
export function fnv1a32(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/**
 * The SVG with the attributes of every element in name order. plotly sets some
 * attributes in a different order depending on what it rendered before (its
 * text-measurement cache), which changes the bytes but not the picture.
 *
 * @example
 * ```ts
 * import { sortSvgAttributes } from "./svg_ids.ts";
 * sortSvgAttributes('<rect y="2" x="1"/>'); // '<rect x="1" y="2"/>'
 * ```
 */
export function sortSvgAttributes(svg: string): string {
  return svg.replace(START_TAG, (whole, tag: string, attrs: string, end: string) => {
    const list = [...attrs.matchAll(ATTRIBUTE)].map((m) => [m[1]!, m[2]!] as const);
    if (list.length < 2) return whole;
    list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return `<${tag}${list.map(([k, v]) => ` ${k}="${v}"`).join("")}${end.trim()}>`;
  });
}

/**
 * Attributes sorted ({@link sortSvgAttributes}) and ids canonicalised
 * ({@link canonicalSvgIds}): the same figure gives the same bytes whatever the
 * browser rendered before it.
 */
export function canonicalSvg(svg: string): string {
  return canonicalSvgIds(sortSvgAttributes(svg));
}

/**
 * The SVG with every element id renamed deterministically and every reference
 * rewritten to match (see the module documentation). References to ids the
 * document does not define are left as they are.
 */
export function canonicalSvgIds(svg: string): string {
  const index = new Map<string, number>();
  for (const m of svg.matchAll(ID_ATTR)) {
    const id = m[2]!;
    if (!index.has(id)) index.set(id, index.size);
  }
  if (index.size === 0) return svg;
  const mark = (id: string) => {
    const n = index.get(id);
    return n === undefined ? id : `\u0000${n}\u0000`;
  };
  const blanked = svg
    .replace(ID_ATTR, (_m, a: string, id: string, b: string) => a + mark(id) + b)
    .replace(URL_REF, (_m, a: string, id: string) => a + mark(id))
    .replace(HREF_REF, (_m, a: string, id: string, b: string) => a + mark(id) + b);
  const prefix = `f${fnv1a32(blanked)}`;
  return blanked.replace(PLACEHOLDER, (_m, n: string) => `${prefix}-${n}`);
}
