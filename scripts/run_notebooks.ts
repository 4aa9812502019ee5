/**
 * Headless notebook runner: rebuilds notebooks from their percent-format sources, then executes them in order with
 * the Deno Jupyter kernel through nbclient (`scripts/execute_notebook.py`).
 *
 * - Full mode writes every executed notebook back in place, outputs kept, ANSI codes stripped from text outputs.
 * - `QUICK=1` builds and executes copies under `.quick/notebooks/` (or `$SAE_OUT_DIR/notebooks/`) and never touches the
 *   committed notebooks.
 * - The first failing cell stops the run: the message names the notebook, the cell (code-cell number and overall
 *   number, 1-based) and the error; the partially executed notebook is saved as `NN_name.failed.ipynb` beside the
 *   notebook it came from (git-ignored). A cell that does not parse (which the Deno kernel reports only as
 *   "Execution failed") is reported with the parser's message, line and column.
 * - While a notebook runs, its progress is relayed to the terminal: each code cell as it starts and (when slow) ends,
 *   the notebook's own progress bars (one line per bar every 10 s, with their ETA) and its first printed lines, each
 *   line stamped with the elapsed time and an ETA from the notebook's last recorded run time.
 *
 * Usage: `deno run -A scripts/run_notebooks.ts [--dir notebooks] [--out DIR] [--timeout 3600] [FILTER ...]`, where a
 * FILTER selects notebooks whose name starts with it (`01`, `10_embedded`). `deno task reproduce [FILTER ...]`.
 *
 * @module
 */

import { basename, join } from "../lib/path.ts";
import { isQuick, outputRoot, PROJECT_ROOT } from "../lib/env.ts";
import { buildNotebookFile, listSources } from "./notebook_build.ts";
import {
  joinLines,
  type Notebook,
  readNotebook,
  serializeNotebook,
  stripAnsi,
  stripAnsiOutputs,
  writeTextAtomic,
} from "./ipynb.ts";

/** Options of {@link runNotebooks}. */
export interface RunOptions {
  /** Folder holding `NN_name.ipynb` notebooks and their sources in `src/`; also the kernel's working directory. */
  dir: string;
  /** Name prefixes selecting notebooks; empty runs all. */
  filters: string[];
  /** Quick mode: execute copies in `quickDir`, leave `dir` untouched. */
  quick: boolean;
  /** Where quick-mode copies go. */
  quickDir: string;
  /** Seconds allowed per cell. */
  timeoutSeconds: number;
  /** Python with Debian's nbclient. */
  python: string;
  /** Jupyter kernel name. */
  kernel: string;
  /** Called with progress text (no newline added). */
  write: (text: string) => void;
}

/**
 * Default runner options: the project's `notebooks/`, quick mode from `QUICK`, quick copies under
 * `outputRoot()/notebooks`, one hour per cell, `/usr/bin/python3`, the `deno` kernel, progress to stdout.
 *
 * @example
 * ```ts
 * import { defaultRunOptions } from "./run_notebooks.ts";
 * const opts = defaultRunOptions({ filters: ["00"] });
 * ```
 */
export function defaultRunOptions(overrides: Partial<RunOptions> = {}): RunOptions {
  const encoder = new TextEncoder();
  return {
    dir: join(PROJECT_ROOT, "notebooks"),
    filters: [],
    quick: isQuick(),
    quickDir: join(outputRoot(), "notebooks"),
    timeoutSeconds: 3600,
    python: "/usr/bin/python3",
    kernel: "deno",
    write: (text) => Deno.stdout.writeSync(encoder.encode(text)),
    ...overrides,
  };
}

/** The outcome of one executed notebook. */
export interface NotebookRun {
  name: string;
  /** The executed notebook file written. */
  path: string;
  seconds: number;
  bytes: number;
}

/** Thrown when a notebook fails; `message` is the full report for a person. */
export class NotebookRunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotebookRunError";
  }
}

/** Largest executed notebook that does not trigger a size warning. */
export const MAX_NOTEBOOK_BYTES = 2 * 1024 * 1024;

const SCRIPT = join(PROJECT_ROOT, "scripts", "execute_notebook.py");

function rel(path: string): string {
  const cwd = Deno.cwd();
  return path.startsWith(`${cwd}/`) ? path.slice(cwd.length + 1) : path;
}

function absolute(path: string): string {
  return path.startsWith("/") ? path : join(Deno.cwd(), path);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Notebook names in a folder, sorted: every `NN_name.ipynb` and every source `src/NN_name.ts`
 * (`*.failed.ipynb` leftovers excluded).
 *
 * @example
 * ```ts
 * import { listNotebooks } from "./run_notebooks.ts";
 * await listNotebooks("notebooks"); // ["00_quickstart", ...]
 * ```
 */
export async function listNotebooks(dir: string): Promise<string[]> {
  const names = new Set<string>();
  for (const src of await listSources(join(dir, "src"))) names.add(basename(src).replace(/\.ts$/, ""));
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && /^\d+_.*\.ipynb$/.test(entry.name) && !entry.name.endsWith(".failed.ipynb")) {
        names.add(entry.name.replace(/\.ipynb$/, ""));
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return [...names].sort();
}

/**
 * Keeps the names matching any filter (a name matches when it starts with the filter); an unmatched filter is an
 * error listing the available names.
 *
 * @example
 * ```ts
 * import { selectNotebooks } from "./run_notebooks.ts";
 * selectNotebooks(["00_quickstart", "01_toy"], ["01"]); // ["01_toy"]
 * ```
 */
export function selectNotebooks(names: string[], filters: string[]): string[] {
  if (filters.length === 0) return names;
  for (const f of filters) {
    if (!names.some((n) => n.startsWith(f))) {
      throw new NotebookRunError(`no notebook matches "${f}"; available: ${names.join(", ") || "(none)"}`);
    }
  }
  return names.filter((n) => filters.some((f) => n.startsWith(f)));
}

interface ExecStatus {
  ok: boolean;
  cell_index?: number | null;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

/** Builds the failure report: notebook, cell numbers, error name and value, the first traceback lines. */
export function describeFailure(name: string, nb: Notebook, status: ExecStatus, savedTo: string): string {
  const idx = status.cell_index;
  let where = "before any cell ran (kernel start-up)";
  if (typeof idx === "number" && idx >= 0 && idx < nb.cells.length) {
    const codeNumber = nb.cells.slice(0, idx + 1).filter((c) => c.cell_type === "code").length;
    where = `at code cell ${codeNumber} (cell ${idx + 1} of ${nb.cells.length} overall)`;
  }
  const ename = stripAnsi(status.ename ?? "Error");
  const evalue = stripAnsi(status.evalue ?? "");
  const lines = [`notebook ${name} failed ${where}: ${ename}: ${evalue}`];
  const cell = typeof idx === "number" ? nb.cells[idx] : undefined;
  if (cell !== undefined) {
    const src = joinLines(cell.source).split("\n");
    const shown = src.slice(0, 6).map((l) => `  | ${l}`);
    if (src.length > 6) shown.push(`  | … (${src.length - 6} more lines)`);
    lines.push("  cell source:", ...shown);
  }
  const tb = (status.traceback ?? []).join("\n").split("\n").map(stripAnsi).filter((l) => l.trim() !== "");
  if (tb.length > 0) {
    lines.push("  traceback:", ...tb.slice(0, 10).map((l) => `    ${l}`));
    if (tb.length > 10) lines.push(`    … (${tb.length - 10} more lines)`);
  }
  lines.push(`  partially executed notebook: ${rel(savedTo)}`);
  return lines.join("\n");
}

async function prepare(name: string, opts: RunOptions): Promise<{ input: string; target: string }> {
  const src = join(opts.dir, "src", `${name}.ts`);
  const committed = join(opts.dir, `${name}.ipynb`);
  const hasSrc = await exists(src);
  if (!opts.quick) {
    if (hasSrc) await buildNotebookFile(src, { outPath: committed });
    return { input: committed, target: committed };
  }
  await Deno.mkdir(opts.quickDir, { recursive: true });
  const copy = join(opts.quickDir, `${name}.ipynb`);
  if (hasSrc) await buildNotebookFile(src, { outPath: copy });
  else await Deno.copyFile(committed, copy);
  return { input: copy, target: copy };
}

/** `m:ss` or `h:mm:ss`. */
export function formatClock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** ` (ETA m:ss)` from the notebook's last recorded run time, `` when there is none or it is already past it. */
export function etaText(elapsed: number, expected: number | null): string {
  if (expected === null) return "";
  const left = expected - elapsed;
  return left > 0 ? ` (ETA ${formatClock(left)})` : " (past the last run's time)";
}

async function relayLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  let pending = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const l of lines) if (l.trim() !== "") onLine(stripAnsi(l));
  }
  if (pending.trim() !== "") onLine(stripAnsi(pending));
}

/** Whether a failure carries no message of the kernel's own: `Error: Execution failed` and no error output. */
function silentFailure(cell: Notebook["cells"][number], status: ExecStatus): boolean {
  const hasErrorOutput = (cell.outputs ?? []).some((o) => o.output_type === "error");
  return !hasErrorOutput && /^\s*Execution failed\s*$/.test(stripAnsi(status.evalue ?? ""));
}

/**
 * The syntax error in a cell's source, as Deno's parser reports it (`deno fmt` reads it from stdin: parsing only, no
 * type check), with the position in cell lines: `Expression expected at line 2, column 21: const broken = (1 + ;`;
 * null when the source parses.
 *
 * @example
 * ```ts
 * import { syntaxDiagnosis } from "./run_notebooks.ts";
 * await syntaxDiagnosis("const x = (1 + ;"); // "Expression expected at line 1, column 16: const x = (1 + ;"
 * ```
 */
export async function syntaxDiagnosis(source: string): Promise<string | null> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext", "ts", "-"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(source));
  await writer.close();
  const out = await child.output();
  if (out.success) return null;
  const text = stripAnsi(new TextDecoder().decode(out.stderr));
  const what = /(?:error: )?(?:SyntaxError: )?(.+)/.exec(text.split("\n").find((l) => l.trim() !== "") ?? "")?.[1];
  const at = /:(\d+):(\d+)\s*$/m.exec(text);
  if (what === undefined) return text.trim();
  if (at === null) return what.trim();
  const line = Number(at[1]);
  const src = source.split("\n")[line - 1]?.trim() ?? "";
  return `${what.trim()} at line ${line}, column ${at[2]}: ${src}`;
}

async function execute(name: string, opts: RunOptions, position: string): Promise<NotebookRun> {
  const { input, target } = await prepare(name, opts);
  const expectedSeconds = await lastRunSeconds(opts.quick ? opts.quickDir : opts.dir, name);
  const codeCells = (await readNotebook(input)).cells.filter((c) => c.cell_type === "code").length;
  opts.write(
    `[${position}] ${name}: ${codeCells} code cells` +
      (expectedSeconds === null ? "" : `, last run ${formatClock(expectedSeconds)}`) + "\n",
  );
  const work = await Deno.makeTempDir({ prefix: "run_notebooks_" });
  try {
    const executed = join(work, `${name}.ipynb`);
    const statusPath = join(work, "status.json");
    const env: Record<string, string> = { SAE_HEADLESS: "1", NO_COLOR: "1" };
    const cmd = new Deno.Command(opts.python, {
      args: [
        SCRIPT,
        "--input",
        input,
        "--output",
        executed,
        "--status",
        statusPath,
        "--cwd",
        opts.dir,
        "--kernel",
        opts.kernel,
        "--timeout",
        String(opts.timeoutSeconds),
      ],
      cwd: opts.dir,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
    const t0 = performance.now();
    let child: Deno.ChildProcess;
    try {
      child = cmd.spawn();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new NotebookRunError(`${opts.python} not found; run \`deno task setup\` to install Jupyter's runner`);
      }
      throw e;
    }
    // the executor's progress lines (cells, the notebook's progress bars and prints), relayed as they come
    const relay = relayLines(child.stdout, (line) => {
      const elapsed = (performance.now() - t0) / 1000;
      opts.write(`  ${formatClock(elapsed)}${etaText(elapsed, expectedSeconds)} ${line}\n`);
    });
    const stderrText = new Response(child.stderr).text();
    const result = await child.status;
    await relay;
    const stderr = await stderrText;
    const seconds = (performance.now() - t0) / 1000;
    if (!(await exists(statusPath)) || !(await exists(executed))) {
      const tail = stripAnsi(stderr).trim().split("\n").slice(-20).join("\n");
      throw new NotebookRunError(
        `notebook ${name}: the executor stopped before reporting (exit code ${result.code})\n${tail}`,
      );
    }
    const status = JSON.parse(await Deno.readTextFile(statusPath)) as ExecStatus;
    const nb = stripAnsiOutputs(await readNotebook(executed));
    const text = serializeNotebook(nb);
    const failedPath = target.replace(/\.ipynb$/, ".failed.ipynb");
    if (!status.ok) {
      await Deno.writeTextFile(failedPath, text);
      opts.write(`[${position}] ${name} … ${seconds.toFixed(1)} s FAILED\n`);
      const idx = status.cell_index;
      const cell = typeof idx === "number" ? nb.cells[idx] : undefined;
      if (cell !== undefined && silentFailure(cell, status)) {
        // The Deno kernel reports a cell that does not parse only as "Execution failed"; find the message ourselves.
        const diagnosis = await syntaxDiagnosis(joinLines(cell.source));
        if (diagnosis !== null) Object.assign(status, { ename: "SyntaxError", evalue: diagnosis, traceback: [] });
        else status.evalue = `${status.evalue ?? ""} (the kernel gave no error message; the cell parses)`;
      }
      throw new NotebookRunError(describeFailure(name, nb, status, failedPath));
    }
    await writeTextAtomic(target, text);
    await Deno.remove(failedPath).catch(() => {});
    const bytes = new TextEncoder().encode(text).length;
    return { name, path: target, seconds, bytes };
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/**
 * Builds and executes the selected notebooks in order; throws {@link NotebookRunError} at the first failure.
 *
 * @example
 * ```ts
 * import { defaultRunOptions, runNotebooks } from "./run_notebooks.ts";
 * const runs = await runNotebooks(defaultRunOptions({ filters: ["00"] }));
 * console.log(runs.map((r) => `${r.name} ${r.seconds.toFixed(1)} s`));
 * ```
 */
export async function runNotebooks(options: RunOptions): Promise<NotebookRun[]> {
  const opts = { ...options, dir: absolute(options.dir), quickDir: absolute(options.quickDir) };
  const names = selectNotebooks(await listNotebooks(opts.dir), opts.filters);
  if (names.length === 0) {
    opts.write(`run_notebooks: no notebooks in ${rel(opts.dir)}\n`);
    return [];
  }
  const mode = opts.quick ? `QUICK, copies in ${rel(opts.quickDir)}` : "full, written in place";
  opts.write(`run_notebooks: ${names.length} notebook(s) from ${rel(opts.dir)} (${mode})\n`);
  const runs: NotebookRun[] = [];
  for (const [i, name] of names.entries()) {
    const position = `${i + 1}/${names.length}`;
    const run = await execute(name, opts, position);
    opts.write(`[${position}] ${name} … ${run.seconds.toFixed(1)} s ok\n`);
    await recordTiming(opts.quick ? opts.quickDir : opts.dir, name, run.seconds, opts.quick ? "quick" : "full");
    if (run.bytes > MAX_NOTEBOOK_BYTES) {
      const mb = (run.bytes / 1024 / 1024).toFixed(1);
      opts.write(`warning: ${rel(run.path)} is ${mb} MB (over 2 MB); trim its outputs (fewer inline figures/tables)\n`);
    }
    runs.push(run);
  }
  return runs;
}

/** The notebook's last recorded run time in `<folder>/timings.json`, or null. */
export async function lastRunSeconds(folder: string, name: string): Promise<number | null> {
  try {
    const all = JSON.parse(await Deno.readTextFile(join(folder, "timings.json"))) as Record<string, unknown>;
    const seconds = (all[name] as { seconds?: unknown } | undefined)?.seconds;
    return typeof seconds === "number" && seconds > 0 ? seconds : null;
  } catch {
    return null;
  }
}

/**
 * Merges one run's time into `<folder>/timings.json` (`{ name: { seconds, mode, finished } }`), which
 * `deno task bench` checks against the notebooks' time budgets.
 */
export async function recordTiming(
  folder: string,
  name: string,
  seconds: number,
  mode: "full" | "quick",
): Promise<void> {
  const path = join(folder, "timings.json");
  let all: Record<string, unknown> = {};
  try {
    all = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new NotebookRunError(`${path}: unreadable (${(e as Error).message})`);
    }
  }
  all[name] = { seconds: Math.round(seconds * 10) / 10, mode, finished: new Date().toISOString() };
  const sorted = Object.fromEntries(Object.entries(all).sort(([a], [b]) => a.localeCompare(b)));
  await writeTextAtomic(path, JSON.stringify(sorted, null, 2) + "\n");
}

/** Parses `[--dir DIR] [--out DIR] [--timeout S] [FILTER ...]` into option overrides. */
export function parseRunArgs(args: string[]): Partial<RunOptions> {
  const out: Partial<RunOptions> = { filters: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined || v === "") throw new NotebookRunError(`${flag} needs a value`);
      return v;
    };
    if (flag === "--dir") out.dir = value();
    else if (flag === "--out") out.quickDir = value();
    else if (flag === "--timeout") {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) {
        throw new NotebookRunError(`--timeout expects a positive whole number of seconds, got "${v}"`);
      }
      out.timeoutSeconds = n;
    } else if (flag!.startsWith("--")) {
      throw new NotebookRunError(
        `unknown option ${flag}; usage: run_notebooks.ts [--dir DIR] [--out DIR] [FILTER ...]`,
      );
    } else out.filters!.push(arg);
  }
  return out;
}

if (import.meta.main) {
  try {
    const t0 = performance.now();
    const runs = await runNotebooks(defaultRunOptions(parseRunArgs(Deno.args)));
    if (runs.length > 0) {
      console.log(`run_notebooks: ${runs.length} notebook(s) ok in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  } catch (e) {
    console.error(`run_notebooks: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
}
