/**
 * Character- and whitespace-level text normalisation shared by every corpus.
 *
 * | step | rule |
 * | --- | --- |
 * | Unicode | NFC |
 * | typography | ‘ ’ → `'`, “ ” → `"`, non-breaking / figure hyphens and en dash → `-`; em dash kept |
 * | spaces | NBSP and other Unicode spaces → space; tabs → space; runs of spaces → one |
 * | controls | C0/C1 control characters (except `\n`) and U+FFFD removed; `\r\n`/`\r` → `\n` |
 * | lines | trailing spaces trimmed; 3+ newlines → one blank line; leading/trailing blank lines removed |
 *
 * @module
 */

/**
 * Normalises characters and whitespace (table in the module doc).
 *
 * @example
 * ```ts
 * import { normaliseText } from "./text_clean.ts";
 * normaliseText("It’s  “here”\r\n\n\n\nnext\u0002"); // 'It\'s "here"\n\nnext'
 * ```
 */
export function normaliseText(text: string): string {
  let t = text.normalize("NFC");
  t = t.replace(/\r\n?/g, "\n");
  t = t.replace(/[\u2018\u2019\u201A\u201B\u2032]/g, "'");
  t = t.replace(/[\u201C\u201D\u201E\u201F\u2033]/g, '"');
  t = t.replace(/[\u2010\u2011\u2012\u2013]/g, "-");
  t = t.replace(/[\u00A0\u2000-\u200A\u202F\u205F\u3000\t]/g, " ");
  // deno-lint-ignore no-control-regex
  t = t.replace(/[\u0000-\u0009\u000B-\u001F\u007F-\u009F\uFFFD\u200B\uFEFF]/g, "");
  t = t.replace(/ {2,}/g, " ");
  t = t.replace(/ +\n/g, "\n").replace(/\n +/g, "\n");
  t = t.replace(/\n{3,}/g, "\n\n");
  return t.trim();
}

/**
 * Number of words (maximal runs of letters/digits, with inner `'`/`-`).
 *
 * @example
 * ```ts
 * import { countWords } from "./text_clean.ts";
 * countWords("The whale's sea-captain, 1851!"); // 4
 * ```
 */
export function countWords(text: string): number {
  return text.match(/[\p{L}\p{N}]+(?:['-][\p{L}\p{N}]+)*/gu)?.length ?? 0;
}

/**
 * Share of non-space characters that are letters (any script). Junk such as
 * base64, tables of numbers or markup scores low.
 *
 * @example
 * ```ts
 * import { letterFraction } from "./text_clean.ts";
 * letterFraction("ab 12"); // 0.5
 * ```
 */
export function letterFraction(text: string): number {
  const nonSpace = text.replace(/\s+/g, "");
  if (nonSpace.length === 0) return 0;
  const letters = nonSpace.match(/\p{L}/gu)?.length ?? 0;
  return letters / nonSpace.length;
}

/**
 * Share of characters outside printable ASCII (newlines excluded from the count).
 *
 * @example
 * ```ts
 * import { nonAsciiFraction } from "./text_clean.ts";
 * nonAsciiFraction("abc—"); // 0.25
 * ```
 */
export function nonAsciiFraction(text: string): number {
  const t = text.replace(/\n/g, "");
  if (t.length === 0) return 0;
  let n = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c < 32 || c > 126) n++;
  }
  return n / t.length;
}
