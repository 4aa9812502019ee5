/**
 * Builds Jupyter notebooks from percent-format TypeScript sources.
 *
 * A source `notebooks/src/NN_name.ts` becomes `notebooks/NN_name.ipynb`. Cells are separated by lines that are
 * exactly `// %%` (a code cell) or `// %% [markdown]` (a markdown cell whose lines are `// text`, or `//` for an
 * empty line). Leading and trailing blank lines of every cell are dropped. Cell ids derive from the notebook name and
 * the cell index, so rebuilding gives byte-identical files. When the notebook already exists, a cell whose type and
 * source are unchanged keeps its outputs, so rebuilding does not wipe an executed notebook unless its code changed.
 *
 * Usage: `deno task nb:build [notebooks/src/NN_name.ts ...]` (default: every `notebooks/src/*.ts`).
 *
 * @module
 */

import { basename, dirname, join } from "../lib/path.ts";
import { PROJECT_ROOT } from "../lib/env.ts";
import {
  DENO_KERNELSPEC,
  DENO_LANGUAGE_INFO,
  joinLines,
  type Notebook,
  type NotebookCell,
  parseNotebook,
  serializeNotebook,
  writeTextAtomic,
} from "./ipynb.ts";

/** A cell parsed from a percent-format source, before it becomes a notebook cell. */
export interface SourceCell {
  kind: "code" | "markdown";
  /** Cell text without the trailing newline. */
  text: string;
  /** 1-based line of the source where the cell's marker (or first line) sits; for error messages. */
  line: number;
}

const CODE_MARKER = "// %%";
const MARKDOWN_MARKER = "// %% [markdown]";

function trimBlankLines(lines: string[]): string[] {
  let start = 0;
  let end = lines.length;
  while (start < end && lines[start]!.trim() === "") start++;
  while (end > start && lines[end - 1]!.trim() === "") end--;
  return lines.slice(start, end);
}

/**
 * Parses percent-format source text into cells. Text before the first marker, if not blank, is a code cell; cells
 * that are empty after trimming are dropped. A markdown line that is neither blank, `//` nor `// text` is an error
 * naming the file and line.
 *
 * @example
 * ```ts
 * import { parsePercent } from "./notebook_build.ts";
 * const cells = parsePercent("// %% [markdown]\n// # Title\n\n// %%\nconst x = 1;\n", "demo.ts");
 * // [{ kind: "markdown", text: "# Title", line: 1 }, { kind: "code", text: "const x = 1;", line: 4 }]
 * ```
 */
export function parsePercent(text: string, file: string): SourceCell[] {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  const cells: SourceCell[] = [];
  let kind: SourceCell["kind"] = "code";
  let startLine = 1;
  let body: string[] = [];

  const flush = () => {
    const trimmed = trimBlankLines(body);
    if (trimmed.length > 0) cells.push({ kind, text: trimmed.join("\n"), line: startLine });
  };

  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.trimEnd();
    if (line === CODE_MARKER || line === MARKDOWN_MARKER) {
      flush();
      kind = line === CODE_MARKER ? "code" : "markdown";
      startLine = lineNo;
      body = [];
      return;
    }
    if (line.startsWith("// %%")) {
      throw new Error(
        `${file}:${lineNo}: unknown cell marker ${
          JSON.stringify(line)
        }; expected exactly "// %%" or "// %% [markdown]"`,
      );
    }
    if (kind === "markdown") {
      if (line === "" || line === "//") body.push("");
      else if (line.startsWith("// ")) body.push(line.slice(3));
      else {
        throw new Error(
          `${file}:${lineNo}: markdown cell line should start with "// " (or be "//" for an empty line), got ${
            JSON.stringify(raw)
          }`,
        );
      }
    } else {
      body.push(raw);
    }
  });
  flush();
  return cells;
}

/**
 * Stable cell id for cell `index` of notebook `name` (nbformat 4.5: 1–64 characters of `[a-zA-Z0-9-_]`).
 *
 * @example
 * ```ts
 * import { cellId } from "./notebook_build.ts";
 * cellId("00_quickstart", 3); // "00_quickstart-003"
 * ```
 */
export function cellId(name: string, index: number): string {
  const safe = name.replace(/[^a-zA-Z0-9_-]/g, "-").slice(0, 56);
  return `${safe}-${String(index).padStart(3, "0")}`;
}

/** What a build did: the notebook, and how many code cells kept outputs from the previous file. */
export interface BuildResult {
  notebook: Notebook;
  /** Code cells whose outputs were carried over from the previous notebook. */
  keptOutputs: number;
}

/**
 * Turns parsed cells into an nbformat 4.5 notebook. With `previous` (the existing `.ipynb`), each code cell whose
 * source is unchanged keeps its outputs, execution count and metadata; previous cells are matched in order, so
 * inserting a cell does not drop the outputs of the cells after it. The previous `language_info` (which the kernel
 * fills in on execution) is kept too, so an executed, unchanged notebook rebuilds to the same bytes.
 *
 * @example
 * ```ts
 * import { buildNotebook, parsePercent } from "./notebook_build.ts";
 * const { notebook } = buildNotebook("01_demo", parsePercent("// %%\n1 + 1\n", "01_demo.ts"));
 * notebook.cells[0]!.id; // "01_demo-000"
 * ```
 */
export function buildNotebook(name: string, cells: SourceCell[], previous?: Notebook): BuildResult {
  const prevCells = previous?.cells ?? [];
  let searchFrom = 0;
  let keptOutputs = 0;
  const out: NotebookCell[] = cells.map((cell, index) => {
    const id = cellId(name, index);
    if (cell.kind === "markdown") {
      return { cell_type: "markdown", id, metadata: {}, source: cell.text };
    }
    let match: NotebookCell | undefined;
    for (let j = searchFrom; j < prevCells.length; j++) {
      const p = prevCells[j]!;
      if (p.cell_type === "code" && joinLines(p.source) === cell.text) {
        match = p;
        searchFrom = j + 1;
        break;
      }
    }
    if (match !== undefined && (match.outputs?.length ?? 0) > 0) keptOutputs++;
    return {
      cell_type: "code",
      execution_count: match?.execution_count ?? null,
      id,
      metadata: match?.metadata ?? {},
      outputs: match?.outputs ?? [],
      source: cell.text,
    };
  });
  const prevLanguageInfo = previous?.metadata["language_info"];
  const metadata: Record<string, unknown> = {
    kernelspec: { ...DENO_KERNELSPEC },
    language_info: prevLanguageInfo !== null && typeof prevLanguageInfo === "object"
      ? prevLanguageInfo
      : { ...DENO_LANGUAGE_INFO },
  };
  return { notebook: { cells: out, metadata, nbformat: 4, nbformat_minor: 5 }, keptOutputs };
}

/** Where a source file's notebook goes: `X/src/NAME.ts` → `X/NAME.ipynb`; elsewhere, next to the source. */
export function notebookPathFor(sourcePath: string): string {
  const dir = dirname(sourcePath);
  const name = basename(sourcePath).replace(/\.ts$/, "");
  const outDir = basename(dir) === "src" ? dirname(dir) : dir;
  return join(outDir, `${name}.ipynb`);
}

/** Options of {@link buildNotebookFile}. */
export interface BuildFileOptions {
  /** Output path; default {@link notebookPathFor}. */
  outPath?: string;
  /** Write the file (default true). With false the notebook is only returned. */
  write?: boolean;
}

/** Result of building one file. */
export interface BuildFileResult extends BuildResult {
  sourcePath: string;
  outPath: string;
  /** True when the file on disk changed (or would change, with `write: false`). */
  changed: boolean;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/**
 * Builds one notebook from its percent-format source, keeping outputs of unchanged cells of the existing notebook.
 *
 * @example
 * ```ts
 * import { buildNotebookFile } from "./notebook_build.ts";
 * const r = await buildNotebookFile("notebooks/src/00_quickstart.ts");
 * console.log(r.outPath, r.changed, r.keptOutputs);
 * ```
 */
export async function buildNotebookFile(sourcePath: string, options: BuildFileOptions = {}): Promise<BuildFileResult> {
  const outPath = options.outPath ?? notebookPathFor(sourcePath);
  const name = basename(sourcePath).replace(/\.ts$/, "");
  const source = await Deno.readTextFile(sourcePath);
  const cells = parsePercent(source, sourcePath);
  const previousText = await readIfExists(outPath);
  const previous = previousText === undefined ? undefined : parseNotebook(previousText, outPath);
  const result = buildNotebook(name, cells, previous);
  const text = serializeNotebook(result.notebook);
  const changed = text !== previousText;
  if (changed && options.write !== false) await writeTextAtomic(outPath, text);
  return { ...result, sourcePath, outPath, changed };
}

/**
 * Lists the notebook sources of a folder: `NN_name.ts` files (a number, an underscore, a name), sorted.
 *
 * @example
 * ```ts
 * import { listSources } from "./notebook_build.ts";
 * await listSources("notebooks/src"); // ["notebooks/src/00_quickstart.ts", ...]
 * ```
 */
export async function listSources(srcDir: string): Promise<string[]> {
  const found: string[] = [];
  try {
    for await (const entry of Deno.readDir(srcDir)) {
      if (entry.isFile && /^\d+_[^/]*\.ts$/.test(entry.name)) found.push(join(srcDir, entry.name));
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return found.sort();
}

async function main(args: string[]): Promise<void> {
  const files = args.length > 0 ? args : await listSources(join(PROJECT_ROOT, "notebooks", "src"));
  if (files.length === 0) {
    console.log("nb:build: no sources in notebooks/src/");
    return;
  }
  for (const file of files) {
    const r = await buildNotebookFile(file);
    const code = r.notebook.cells.filter((c) => c.cell_type === "code").length;
    const status = r.changed ? "written" : "unchanged";
    console.log(
      `nb:build ${r.outPath}: ${status} (${r.notebook.cells.length} cells, ${code} code, ${r.keptOutputs} kept outputs)`,
    );
  }
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (e) {
    console.error(`nb:build: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
}
