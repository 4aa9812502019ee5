/**
 * Loaders for the real benchmark and corpus formats, producing the same item
 * types as the builders in `benchmarks.ts`. None of these data sets ship with
 * the project; the loaders are tested on small fixtures in
 * `tests/fixtures/formats/`.
 *
 * | format | file | parsed as |
 * | --- | --- | --- |
 * | LAMBADA (`EleutherAI/lambada_openai`, `lambada_test.jsonl`) | one JSON object per line with a string field `text` | {@link LambadaItem}: context = text before the last space, target = `" " + last word` |
 * | CBT (`cbtest_CN_*.txt`, original release) | items separated by blank lines; lines `1 …` to `20 …` are the context sentences; line `21` is `question<TAB>answer<TAB><TAB>opt1|…|opt10` (the question contains `XXXXX`) | {@link CbtItem}; optional fixed detokeniser |
 * | OpenWebText-style | `.jsonl` (one object per line) or `.parquet` (read with nodejs-polars) with a string column `text` | {@link TextRecord} |
 *
 * @module
 */

import pl from "nodejs-polars";
import { basename } from "../path.ts";
import type { CbtItem, LambadaItem } from "./benchmarks.ts";

/** A document of an OpenWebText-style file. */
export interface TextRecord {
  /** `<file name>:<row index>`. */
  id: string;
  text: string;
}

/** The error every loader throws for malformed input; names file, line and problem. */
export class FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FormatError";
  }
}

function parseJsonLines(text: string, file: string, field: string): { line: number; value: string }[] {
  const out: { line: number; value: string }[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new FormatError(`${file}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    const v = (obj as Record<string, unknown> | null)?.[field];
    if (typeof v !== "string") {
      throw new FormatError(
        `${file}:${i + 1}: field "${field}" must be a string, got ${v === undefined ? "no such field" : typeof v}`,
      );
    }
    out.push({ line: i + 1, value: v });
  });
  return out;
}

/**
 * Parses LAMBADA jsonl text (`{"text": ...}` per line) into items.
 *
 * @example
 * ```ts
 * import { parseLambadaJsonl } from "./formats.ts";
 * const [item] = parseLambadaJsonl('{"text": "he picked up the ball"}', "demo.jsonl");
 * item!.target; // " ball"
 * ```
 */
export function parseLambadaJsonl(text: string, file = "lambada.jsonl", field = "text"): LambadaItem[] {
  return parseJsonLines(text, file, field).map(({ line, value }) => {
    const t = value.trimEnd();
    const cut = t.lastIndexOf(" ");
    if (cut <= 0 || cut === t.length - 1) {
      throw new FormatError(`${file}:${line}: passage has no space-separated last word`);
    }
    return { id: `${file}:${line}`, source: file, text: t, context: t.slice(0, cut), target: t.slice(cut) };
  });
}

/**
 * Reads a LAMBADA jsonl file.
 *
 * @example
 * ```ts
 * import { loadLambadaJsonl } from "./formats.ts";
 * const items = await loadLambadaJsonl("tests/fixtures/formats/lambada_sample.jsonl");
 * ```
 */
export async function loadLambadaJsonl(path: string, field = "text"): Promise<LambadaItem[]> {
  return parseLambadaJsonl(await Deno.readTextFile(path), basename(path), field);
}

/**
 * The fixed CBT detokeniser: ``` `` ``` and `''` → `"`, no space before
 * `, . ; : ! ? ) ]` or `n't`/`'s`/`'re`/`'ve`/`'ll`/`'d`/`'m`, none after `( [`,
 * quotes attached to the text they enclose.
 *
 * @example
 * ```ts
 * import { detokenizeCbt } from "./formats.ts";
 * detokenizeCbt("`` I do n't know , '' said the king ."); // "\"I don't know,\" said the king."
 * ```
 */
export function detokenizeCbt(text: string): string {
  let t = ` ${text} `;
  t = t.replace(/ ``\s+/g, ' "').replace(/\s+'' /g, '" ');
  t = t.replace(/ (n't|'s|'re|'ve|'ll|'d|'m)\b/gi, "$1");
  t = t.replace(/ ([,.;:!?)\]])/g, "$1");
  t = t.replace(/([(\[]) /g, "$1");
  return t.replace(/\s+/g, " ").trim();
}

/**
 * Parses CBT text (the original release's layout, module table).
 *
 * @example
 * ```ts
 * import { parseCbt } from "./formats.ts";
 * const items = parseCbt(await Deno.readTextFile("tests/fixtures/formats/cbt_cn_sample.txt"), "cbt.txt");
 * items[0]!.options.length; // 10
 * ```
 */
export function parseCbt(text: string, file = "cbt.txt", opts: { detokenize?: boolean } = {}): CbtItem[] {
  const detok = opts.detokenize ?? false;
  const fix = (s: string) => (detok ? detokenizeCbt(s) : s.trim());
  const items: CbtItem[] = [];
  let sentences: string[] = [];
  let startLine = 0;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, "");
    if (line.trim() === "") continue;
    const m = /^(\d+) (.*)$/.exec(line);
    if (!m) throw new FormatError(`${file}:${i + 1}: expected "<number> <sentence>", got "${line.slice(0, 60)}"`);
    const n = Number(m[1]);
    if (n === 1) {
      if (sentences.length > 0) throw new FormatError(`${file}:${startLine}: item has no question line (21)`);
      startLine = i + 1;
    }
    if (n !== sentences.length + 1) {
      throw new FormatError(`${file}:${i + 1}: sentence number ${n}, expected ${sentences.length + 1}`);
    }
    if (n <= 20) {
      sentences.push(fix(m[2]!));
      continue;
    }
    if (n !== 21) throw new FormatError(`${file}:${i + 1}: line number ${n} > 21`);
    const fields = m[2]!.split("\t").filter((f) => f !== "");
    if (fields.length !== 3) {
      throw new FormatError(
        `${file}:${
          i + 1
        }: question line needs question, answer and candidates (tab-separated), got ${fields.length} fields`,
      );
    }
    const [question, answer, cands] = fields as [string, string, string];
    if (!question.includes("XXXXX")) throw new FormatError(`${file}:${i + 1}: question has no XXXXX placeholder`);
    const options = cands.split("|").map((o) => o.trim()).filter((o) => o !== "");
    if (!options.includes(answer.trim())) {
      throw new FormatError(`${file}:${i + 1}: answer "${answer}" is not among the candidates ${options.join("|")}`);
    }
    items.push({
      id: `${file}:${startLine}`,
      source: file,
      sentences,
      question: fix(question),
      options,
      answer: answer.trim(),
    });
    sentences = [];
  }
  if (sentences.length > 0) throw new FormatError(`${file}:${startLine}: last item has no question line (21)`);
  return items;
}

/**
 * Reads a CBT text file.
 *
 * @example
 * ```ts
 * import { loadCbt } from "./formats.ts";
 * const items = await loadCbt("tests/fixtures/formats/cbt_cn_sample.txt", { detokenize: true });
 * ```
 */
export async function loadCbt(path: string, opts: { detokenize?: boolean } = {}): Promise<CbtItem[]> {
  return parseCbt(await Deno.readTextFile(path), basename(path), opts);
}

/**
 * Reads an OpenWebText-style file: `.jsonl` or `.parquet` with a string column `field`.
 *
 * @example
 * ```ts
 * import { loadTextRecords } from "./formats.ts";
 * const docs = await loadTextRecords("tests/fixtures/formats/owt_sample.parquet");
 * ```
 */
export async function loadTextRecords(path: string, field = "text"): Promise<TextRecord[]> {
  const name = basename(path);
  if (path.endsWith(".jsonl")) {
    return parseJsonLines(await Deno.readTextFile(path), name, field).map(({ value }, i) => ({
      id: `${name}:${i}`,
      text: value,
    }));
  }
  if (path.endsWith(".parquet")) {
    await Deno.stat(path); // a clear NotFound before polars' own error
    let df: pl.DataFrame;
    try {
      df = pl.readParquet(path);
    } catch (e) {
      throw new FormatError(`${name}: not a readable parquet file (${(e as Error).message})`);
    }
    if (!df.columns.includes(field)) {
      throw new FormatError(`${name}: no column "${field}"; columns are ${df.columns.join(", ")}`);
    }
    const col = df.getColumn(field);
    if (!/^(DataType\()?(String|Utf8)\)?$/.test(String(col.dtype))) {
      throw new FormatError(`${name}: column "${field}" must hold strings, has dtype ${col.dtype}`);
    }
    return (col.toArray() as (string | null)[]).map((text, i) => {
      if (text === null) throw new FormatError(`${name}: row ${i} of column "${field}" is null`);
      return { id: `${name}:${i}`, text };
    });
  }
  throw new FormatError(`${name}: unsupported extension; expected .jsonl or .parquet`);
}
