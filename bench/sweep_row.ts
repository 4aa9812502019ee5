/**
 * The study-B sweep at the real shapes: a 12-layer gpt2-small-shaped model
 * (d_model 768, 50,257 tokens, the hub's file layout) with all 13 SAEs of
 * gpt2-small-res-jb's shape (d_sae 24,576, legacy cfg keys), loaded through
 * `SAE_ARTIFACTS` as notebook 11 loads them, then `runContextSweep` over one
 * 1,024-token row (notebook 11's per-row work without the zero-ablation rows).
 * Random weights: the timing does not depend on them. The 13 SAE folders share
 * one weights file through symlinks (each SAE is still read and loaded
 * separately), under `.cache/bench_real_shape/`.
 *
 * Row `study_b_sweep_13sae_t1024`: seconds per 1,024-token row (the sweep's own
 * time, SAE loading excluded), with tokens/s, the load time of the 13 SAEs and
 * the model, CPU seconds, peak RSS and the load average in the notes. It runs
 * in a child process (`--child`), so its memory is its own.
 *
 * ```sh
 * deno task bench --only study_b_sweep_13sae_t1024 --no-torch --reps 1
 * deno run -A bench/sweep_row.ts --child 1   # one row, JSON on stdout
 * ```
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { initBackend } from "../lib/engine/backend.ts";
import { Rng } from "../lib/engine/rng.ts";
import { ARTIFACTS_ENV, resolveArtifacts } from "../lib/lm/artifacts.ts";
import { GPT2_SMALL, legacyResJbCfg, resJbHooks } from "../lib/lm/random_artifacts.ts";
import { fromFileUrl, join } from "../lib/path.ts";
import { runContextSweep } from "../lib/study_b/context_sweep.ts";
import { loadStudySetup } from "../lib/study_b/setup.ts";
import { ensureBenchModel, ensureBenchSae, realShapeDir } from "./load_rows.ts";
import type { RowSpec, SelfMeasured } from "./row_spec.ts";

/** What the child reports. */
export interface SweepChild {
  rows: number;
  T: number;
  saes: number;
  /** Model load + SAE config reads. */
  setup_seconds: number;
  /** The sweep's own time (`ContextSweepResult.seconds`): forward passes and metrics. */
  sweep_seconds: number;
  /** Wall time of runContextSweep minus its own time: loading the 13 SAEs. */
  sae_load_seconds: number;
  cpu_seconds: number;
  peak_rss_mb: number;
  passes: number;
  load_average: string;
}

/** Writes (once) the artefacts JSON naming the bench model and 13 SAE folders; returns its path. */
export async function ensureBenchStudy(): Promise<string> {
  const root = join(realShapeDir(), "study");
  const file = join(root, "artifacts.json");
  const modelDir = await ensureBenchModel();
  const weights = join(await ensureBenchSae(), "sae_weights.safetensors");
  for (const hook of resJbHooks(GPT2_SMALL.n_layer)) {
    const dir = join(root, "saes", hook);
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(join(dir, "cfg.json"), JSON.stringify(legacyResJbCfg(hook)));
    const link = join(dir, "sae_weights.safetensors");
    await Deno.remove(link).catch(() => {});
    await Deno.symlink(weights, link);
  }
  await Deno.writeTextFile(file, JSON.stringify({ model: modelDir, saes: "saes", trained: false }));
  return file;
}

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

function peakRssMb(): number {
  const m = /VmHWM:\s*(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function child(nRows: number): Promise<SweepChild> {
  await initBackend();
  const file = await ensureBenchStudy();
  Deno.env.set(ARTIFACTS_ENV, file);
  const c0 = cpuUsage();
  let t = performance.now();
  const setup = await loadStudySetup({ artifacts: await resolveArtifacts() });
  const setupSeconds = (performance.now() - t) / 1000;
  try {
    const T = 1024;
    const rng = new Rng(0, "bench/sweep_rows");
    const rows = Array.from({ length: nRows }, () => {
      const r = Int32Array.from({ length: T }, () => rng.int(50256));
      r[0] = setup.bosId;
      return r;
    });
    t = performance.now();
    const res = await runContextSweep(setup, rows, { zeroAblationRows: 0, progress: false });
    const wall = (performance.now() - t) / 1000;
    const cpu = cpuUsage(c0);
    return {
      rows: nRows,
      T,
      saes: res.layers.length,
      setup_seconds: setupSeconds,
      sweep_seconds: res.seconds,
      sae_load_seconds: wall - res.seconds,
      cpu_seconds: (cpu.user + cpu.system) / 1e6,
      peak_rss_mb: peakRssMb(),
      passes: Math.ceil((13 * 4 * (2 * 768 * 24576 + 24576 + 768)) / res.config.maxResidentSaeBytes),
      load_average: loadAverage(),
    };
  } finally {
    setup.model.dispose();
  }
}

async function runChild(nRows: number): Promise<SweepChild> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", fromFileUrl(import.meta.url), "--child", String(nRows)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  if (!out.success) throw new Error(`sweep child failed: ${d.decode(out.stderr).slice(-2000)}`);
  return JSON.parse(d.decode(out.stdout).trim().split("\n").at(-1)!) as SweepChild;
}

async function measureSweep(reps: number): Promise<SelfMeasured> {
  const runs: SweepChild[] = [];
  for (let i = 0; i < reps; i++) runs.push(await runChild(1));
  const best = runs.reduce((a, b) => (b.sweep_seconds < a.sweep_seconds ? b : a));
  const perRow = best.sweep_seconds / best.rows;
  return {
    value: perRow,
    notes: `${best.saes} SAEs (d_sae 24576) spliced in turn into a 12-layer d_model-768 GPT-2 over ${best.rows} row ` +
      `of ${best.T} tokens (random weights, ${best.passes} passes of ≤ 1 GiB of SAEs): ${
        perRow.toFixed(1)
      } s per row, ` +
      `${(best.T / perRow).toFixed(1)} tokens/s; loading the 13 SAEs ${best.sae_load_seconds.toFixed(1)} s, model ` +
      `${best.setup_seconds.toFixed(1)} s; ${best.cpu_seconds.toFixed(0)} CPU-s in all; peak RSS ` +
      `${(best.peak_rss_mb / 1024).toFixed(2)} GiB; load average ${best.load_average}`,
    extra: {
      tokens_per_second: best.T / perRow,
      sae_load_seconds: best.sae_load_seconds,
      model_load_seconds: best.setup_seconds,
      cpu_seconds: best.cpu_seconds,
      peak_rss_mb: Math.round(best.peak_rss_mb),
    },
  };
}

/** The sweep row. */
export function sweepRow(): RowSpec {
  return {
    name: "study_b_sweep_13sae_t1024",
    unit: "s",
    reps: 1,
    warmup: 0,
    prepare() {
      throw new Error("study_b_sweep_13sae_t1024 measures itself");
    },
    measure: measureSweep,
  };
}

if (import.meta.main) {
  const [flag, n] = Deno.args;
  if (flag !== "--child") {
    console.error("usage: sweep_row.ts --child ROWS");
    Deno.exit(2);
  }
  console.log(JSON.stringify(await child(Number(n ?? 1))));
}
