/**
 * `deno task bench`: runs the benchmark rows on tfjs (the backend
 * `initBackend()` picks, with the project's kernel overrides), then the same
 * rows in PyTorch (`bench/torch_bench.py`, Debian's `/usr/bin/python3`, 2
 * threads) when it is installed, prints a table with the tfjs / PyTorch
 * ratios and writes `bench/results.json`.
 *
 * Flags: `--only NAME` (repeatable) runs those rows and merges them into the
 * existing results file; `--no-torch` skips PyTorch; `--reps N` overrides
 * every row's repetitions. Timings are the minimum over repetitions after
 * warm-up (the machine may be shared). Exits non-zero if a row leaks tensors.
 *
 * @example
 * ```ts
 * // deno task bench --only matmul_1024
 * import { runRows } from "./bench.ts";
 * const rows = await runRows(["matmul_1024"], { reps: 3, torch: false });
 * console.log(rows[0]?.value);
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { dirname, fromFileUrl, join } from "../lib/path.ts";
import { ROWS } from "./rows.ts";
import type { RowSpec } from "./row_spec.ts";
import { checkNotebookTimes, notebookTimesTable } from "./notebook_times.ts";

/** One row of `bench/results.json`. */
export interface ResultRow {
  name: string;
  unit: string;
  value: number;
  torch_value?: number;
  /** tfjs value / PyTorch value (for `ms` rows below 1 is better; for `GFLOP/s` above 1). */
  ratio?: number;
  notes?: string;
  tensors_before: number;
  tensors_after: number;
}

const BENCH_DIR = dirname(fromFileUrl(import.meta.url));
const RESULTS = join(BENCH_DIR, "results.json");
const PYTHON = "/usr/bin/python3";

async function measure(spec: RowSpec, reps: number): Promise<ResultRow> {
  if (spec.measure) {
    const before = tf.memory().numTensors;
    const m = await spec.measure(reps);
    const row = { name: spec.name, unit: spec.unit, value: m.value, notes: m.notes, ...m.extra };
    return { ...row, tensors_before: before, tensors_after: tf.memory().numTensors };
  }
  const prepared = await spec.prepare();
  try {
    for (let i = 0; i < spec.warmup; i++) prepared.run();
    const before = tf.memory().numTensors;
    const times: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t = performance.now();
      prepared.run();
      times.push(performance.now() - t);
    }
    const after = tf.memory().numTensors;
    const best = Math.min(...times);
    const median = [...times].sort((p, q) => p - q)[Math.floor(times.length / 2)]!;
    const value = spec.unit === "GFLOP/s" ? prepared.flops! / (best * 1e6) : best;
    const timing = `min ${best.toFixed(1)} ms, median ${median.toFixed(1)} ms over ${reps}`;
    return {
      name: spec.name,
      unit: spec.unit,
      value,
      notes: [prepared.notes, timing].filter(Boolean).join("; "),
      tensors_before: before,
      tensors_after: after,
    };
  } finally {
    prepared.dispose();
  }
}

async function torchAvailable(): Promise<string | null> {
  try {
    const out = await new Deno.Command(PYTHON, { args: ["-c", "import torch; print(torch.__version__)"] }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

async function runTorch(names: string[], reps: number | undefined): Promise<Record<string, { value: number }>> {
  const args = [join(BENCH_DIR, "torch_bench.py"), ...names.flatMap((n) => ["--only", n])];
  if (reps !== undefined) args.push("--reps", String(reps));
  const out = await new Deno.Command(PYTHON, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`bench/torch_bench.py failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** Runs the named rows (all when empty) and returns their results. */
export async function runRows(
  names: string[],
  opts: { reps?: number; torch: boolean },
): Promise<ResultRow[]> {
  const unknown = names.filter((n) => !ROWS.some((r) => r.name === n));
  if (unknown.length > 0) {
    throw new Error(
      `--only: unknown row(s) ${unknown.join(", ")}; expected one of ${ROWS.map((r) => r.name).join(", ")}`,
    );
  }
  const specs = names.length > 0 ? ROWS.filter((r) => names.includes(r.name)) : ROWS;
  const rows: ResultRow[] = [];
  for (const spec of specs) {
    console.error(`running ${spec.name} …`);
    rows.push(await measure(spec, opts.reps ?? spec.reps));
  }
  if (opts.torch) {
    const version = await torchAvailable();
    if (version === null) {
      console.error(`PyTorch not found (${PYTHON} -c "import torch"): no ratios`);
    } else {
      console.error(`running PyTorch ${version} rows …`);
      const t = await runTorch(specs.map((s) => s.name), opts.reps);
      for (const row of rows) {
        const tv = t[row.name]?.value;
        if (tv !== undefined) {
          row.torch_value = tv;
          row.ratio = row.value / tv;
        }
      }
    }
  }
  return rows;
}

function fmt(v: number | undefined, digits = 1): string {
  return v === undefined ? "—" : v.toFixed(digits);
}

/** The results as a Markdown table (also what the README shows). */
export function table(rows: ResultRow[]): string {
  const lines = [
    "| row | unit | tfjs | PyTorch | tfjs / PyTorch | target | tensors before → after |",
    "| --- | --- | ---: | ---: | ---: | --- | --- |",
  ];
  for (const r of rows) {
    const spec = ROWS.find((s) => s.name === r.name);
    let target = "—";
    if (spec?.target) {
      const ok = r.ratio === undefined
        ? "?"
        : (spec.target.op === ">=" ? r.ratio >= spec.target.ratio : r.ratio <= spec.target.ratio)
        ? "met"
        : "missed";
      target = `${spec.target.op} ${spec.target.ratio}: ${ok}`;
    }
    lines.push(
      `| ${r.name} | ${r.unit} | ${fmt(r.value)} | ${fmt(r.torch_value)} | ${
        fmt(r.ratio, 2)
      } | ${target} | ${r.tensors_before} → ${r.tensors_after} |`,
    );
  }
  return lines.join("\n");
}

function parseArgs(args: string[]): { only: string[]; reps?: number; torch: boolean } {
  const only: string[] = [];
  let reps: number | undefined;
  let torch = true;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--only") only.push(args[++i] ?? "");
    else if (a.startsWith("--only=")) only.push(a.slice(7));
    else if (a === "--no-torch") torch = false;
    else if (a === "--reps") {
      reps = Number(args[++i]);
      if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps: expected a positive integer, got ${args[i]}`);
    } else throw new Error(`unknown argument "${a}"; expected --only NAME, --reps N, --no-torch`);
  }
  return { only, reps, torch };
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  const report = await initBackend();
  const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => "")).match(/model name\s*:\s*(.*)/)?.[1] ?? "?";
  console.log(`machine: ${cpu}, ${navigator.hardwareConcurrency} cores; Deno ${Deno.version.deno}`);
  console.log(`backend: ${report.summary}`);
  const rows = await runRows(args.only, args);
  let all = rows;
  if (args.only.length > 0) {
    const old: ResultRow[] = await Deno.readTextFile(RESULTS).then(JSON.parse).catch(() => []);
    const order = ROWS.map((r) => r.name);
    all = [...old.filter((o) => !rows.some((r) => r.name === o.name)), ...rows]
      .sort((p, q) => order.indexOf(p.name) - order.indexOf(q.name));
  }
  await Deno.writeTextFile(RESULTS, JSON.stringify(all, null, 2) + "\n");
  console.log(table(rows));
  console.log(`wrote ${RESULTS}`);
  const times = await checkNotebookTimes();
  console.log("\nnotebook run times (recorded by scripts/run_notebooks.ts):");
  console.log(notebookTimesTable(times));
  const slow = times.filter((t) => t.status === "missed");
  if (slow.length > 0) {
    console.error(
      `over budget: ${slow.map((t) => `${t.notebook} (${t.mode}) ${t.seconds} s > ${t.budget} s`).join(", ")}`,
    );
    Deno.exitCode = 1;
  }
  const leaks = rows.filter((r) => r.tensors_after !== r.tensors_before);
  if (leaks.length > 0) {
    console.error(
      `tensor leak in: ${leaks.map((r) => `${r.name} (${r.tensors_before} → ${r.tensors_after})`).join(", ")}`,
    );
    Deno.exit(1);
  }
}

if (import.meta.main) await main();
