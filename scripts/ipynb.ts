/**
 * The slice of the Jupyter notebook format (nbformat 4.5) that the build tool and the headless runner share:
 * types, a canonical serialiser and ANSI clean-up of outputs.
 *
 * @module
 */

/** One output of a code cell, as nbformat stores it (stream, display_data, execute_result or error). */
export interface NotebookOutput {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  execution_count?: number | null;
  ename?: string;
  evalue?: string;
  traceback?: string[];
  [key: string]: unknown;
}

/** A notebook cell. `source` is stored as a list of lines, each but the last ending in `\n`. */
export interface NotebookCell {
  id: string;
  cell_type: "code" | "markdown" | "raw";
  metadata: Record<string, unknown>;
  source: string | string[];
  outputs?: NotebookOutput[];
  execution_count?: number | null;
  [key: string]: unknown;
}

/** A whole notebook document. */
export interface Notebook {
  cells: NotebookCell[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

/** Kernel spec written into every notebook: the Deno kernel installed by `deno jupyter --install`. */
export const DENO_KERNELSPEC: Readonly<Record<string, string>> = Object.freeze({
  display_name: "Deno",
  language: "typescript",
  name: "deno",
});

/** `language_info` as the Deno kernel reports it (without the TypeScript version, which the kernel adds). */
export const DENO_LANGUAGE_INFO: Readonly<Record<string, string>> = Object.freeze({
  codemirror_mode: "typescript",
  file_extension: ".ts",
  mimetype: "text/x.typescript",
  name: "typescript",
  nbconvert_exporter: "script",
  pygments_lexer: "typescript",
});

/**
 * Joins a multiline field that nbformat may store either as one string or as a list of lines.
 *
 * @example
 * ```ts
 * import { joinLines } from "./ipynb.ts";
 * joinLines(["a\n", "b"]); // "a\nb"
 * ```
 */
export function joinLines(value: string | string[] | undefined): string {
  if (value === undefined) return "";
  return typeof value === "string" ? value : value.join("");
}

/**
 * Splits text into nbformat's list-of-lines form (every line keeps its `\n`; an empty text is `[]`).
 *
 * @example
 * ```ts
 * import { splitLines } from "./ipynb.ts";
 * splitLines("a\nb"); // ["a\n", "b"]
 * ```
 */
export function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n");
  const out = lines.map((line, i) => (i < lines.length - 1 ? `${line}\n` : line));
  if (out[out.length - 1] === "") out.pop();
  return out;
}

// CSI sequences (colours, cursor moves), OSC sequences (titles, links) and two-byte escapes.
// deno-lint-ignore no-control-regex
const ANSI_PATTERN = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

/**
 * Removes ANSI escape sequences (colours, cursor movement, hyperlinks) from a string.
 *
 * @example
 * ```ts
 * import { stripAnsi } from "./ipynb.ts";
 * stripAnsi("\x1b[33m3\x1b[39m"); // "3"
 * ```
 */
export function stripAnsi(text: string): string {
  return text.replace(ANSI_PATTERN, "");
}

function stripField(value: unknown): unknown {
  if (typeof value === "string") return stripAnsi(value);
  if (Array.isArray(value)) return value.map((v) => (typeof v === "string" ? stripAnsi(v) : v));
  return value;
}

/**
 * Returns a copy of the notebook whose `text/plain` outputs and stream texts carry no ANSI escape codes, so static
 * viewers (GitHub, nbviewer) show clean text. Error tracebacks are left as they are.
 *
 * @example
 * ```ts
 * import { stripAnsiOutputs, type Notebook } from "./ipynb.ts";
 * const nb: Notebook = { cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 };
 * stripAnsiOutputs(nb).cells.length; // 0
 * ```
 */
export function stripAnsiOutputs(nb: Notebook): Notebook {
  const cells = nb.cells.map((cell) => {
    if (cell.outputs === undefined) return cell;
    const outputs = cell.outputs.map((out) => {
      const copy: NotebookOutput = { ...out };
      if (out.output_type === "stream" && out.text !== undefined) {
        copy.text = stripField(out.text) as string | string[];
      }
      if (out.data !== undefined && "text/plain" in out.data) {
        copy.data = { ...out.data, "text/plain": stripField(out.data["text/plain"]) };
      }
      return copy;
    });
    return { ...cell, outputs };
  });
  return { ...nb, cells };
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

// The mime types nbformat stores as lists of lines (everything else, e.g. base64 PNG or JSON, stays as is).
const SPLIT_MIMES = new Set(["application/javascript", "image/svg+xml"]);

function splitBundle(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [mime, v] of Object.entries(data)) {
    const textual = mime.startsWith("text/") || SPLIT_MIMES.has(mime);
    out[mime] = textual && (typeof v === "string" || Array.isArray(v)) ? splitLines(joinLines(v as string[])) : v;
  }
  return out;
}

function normaliseMultiline(nb: Notebook): Notebook {
  const cells = nb.cells.map((cell) => {
    const copy: NotebookCell = { ...cell, source: splitLines(joinLines(cell.source)) };
    if (cell.outputs !== undefined) {
      copy.outputs = cell.outputs.map((out) => {
        const o: NotebookOutput = { ...out };
        if (out.output_type === "stream" && out.text !== undefined) o.text = splitLines(joinLines(out.text));
        if ((out.output_type === "execute_result" || out.output_type === "display_data") && out.data !== undefined) {
          o.data = splitBundle(out.data);
        }
        return o;
      });
    }
    return copy;
  });
  return { ...nb, cells };
}

/**
 * Serialises a notebook the way nbformat writes it (sorted keys, one-space indent, multiline strings as lists of
 * lines, trailing newline), so files written by this tool and by Jupyter diff cleanly.
 *
 * @example
 * ```ts
 * import { serializeNotebook } from "./ipynb.ts";
 * serializeNotebook({ cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 }).endsWith("}\n"); // true
 * ```
 */
export function serializeNotebook(nb: Notebook): string {
  return `${JSON.stringify(sortKeys(normaliseMultiline(nb)), null, 1)}\n`;
}

/**
 * Reads and minimally validates a notebook file; the error names the file and what is wrong.
 *
 * @example
 * ```ts
 * import { readNotebook } from "./ipynb.ts";
 * const nb = await readNotebook("notebooks/00_quickstart.ipynb");
 * console.log(nb.cells.length);
 * ```
 */
export async function readNotebook(path: string): Promise<Notebook> {
  const text = await Deno.readTextFile(path);
  return parseNotebook(text, path);
}

/** Parses notebook JSON text; `path` is only used in error messages. */
export function parseNotebook(text: string, path: string): Notebook {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid notebook JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new Error(`${path}: expected a JSON object at the top level`);
  }
  const nb = raw as Partial<Notebook>;
  if (nb.nbformat !== 4) throw new Error(`${path}: expected nbformat 4, got ${JSON.stringify(nb.nbformat)}`);
  if (!Array.isArray(nb.cells)) throw new Error(`${path}: field "cells" should be an array`);
  return {
    cells: nb.cells,
    metadata: nb.metadata ?? {},
    nbformat: 4,
    nbformat_minor: typeof nb.nbformat_minor === "number" ? nb.nbformat_minor : 5,
  };
}

/**
 * Writes a file atomically: a temporary sibling is written, then renamed over the target.
 *
 * @example
 * ```ts
 * import { writeTextAtomic } from "./ipynb.ts";
 * await writeTextAtomic("/tmp/example.ipynb", "{}\n");
 * ```
 */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(tmp, text);
  await Deno.rename(tmp, path);
}
