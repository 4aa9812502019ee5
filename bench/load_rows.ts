/**
 * Loading rows: one gpt2-small-res-jb-shaped SAE (d_in 768, d_sae 24,576,
 * 151 MB) through `loadSaeLens`, and a gpt2-small-shaped Hugging Face model
 * (548 MB, with the hub's `attn.bias` buffers) through `loadGpt2FromHf` with
 * `centerWritingWeights` as study B loads it. Random weights in the real
 * layouts, written once under `.cache/bench_real_shape/`.
 *
 * Each load runs in a fresh child process (`--child`), so the peak RSS it
 * reports (`VmHWM` after the load minus `VmRSS` just before it, backend
 * already initialised) is the load's own and the wasm heap starts small, as in
 * a notebook. The value is the best load time over the repetitions (the file
 * is in the page cache after the first read); targets: SAE < 2 s and peak
 * RSS delta ≤ ~2× the file (the file's bytes plus the backend's copy),
 * model < 5 s.
 *
 * @example
 * ```ts
 * // deno task bench --only load_sae_768x24576 --no-torch
 * import { loadRows } from "./load_rows.ts";
 * loadRows().map((r) => r.name); // ["load_sae_768x24576", "load_gpt2_small_hf"]
 * ```
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { initBackend } from "../lib/engine/backend.ts";
import { cacheDir } from "../lib/env.ts";
import { loadGpt2FromHf } from "../lib/lm/hf_loader.ts";
import {
  GPT2_SMALL,
  legacyResJbCfg,
  RES_JB_D_SAE,
  writeRandomGpt2Hf,
  writeRandomSaeWeights,
} from "../lib/lm/random_artifacts.ts";
import { fromFileUrl, join } from "../lib/path.ts";
import { loadSaeLens } from "../lib/sae/saelens.ts";
import type { RowSpec, SelfMeasured } from "./row_spec.ts";

/** What one child load reports. */
export interface ChildLoad {
  seconds: number;
  /** User + system CPU seconds of the load (less sensitive than wall time to a busy machine). */
  cpu_seconds: number;
  /** VmRSS before the load, MB. */
  rss_before_mb: number;
  /** VmHWM after the load minus VmRSS before it, MB. */
  peak_rss_delta_mb: number;
  file_mb: number;
}

function procStatusMb(field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`${field}:\\s*(\\d+) kB`).exec(Deno.readTextFileSync("/proc/self/status"));
  if (!m) throw new Error(`/proc/self/status has no ${field}`);
  return Number(m[1]) / 1024;
}

/** Where the real-shape files live (written on first use). */
export function realShapeDir(): string {
  return join(cacheDir(), "bench_real_shape");
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** The SAE folder, written if missing. */
export async function ensureBenchSae(): Promise<string> {
  const dir = join(realShapeDir(), "sae", "blocks.8.hook_resid_pre");
  const weights = join(dir, "sae_weights.safetensors");
  if (!(await exists(weights))) {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(join(dir, "cfg.json"), JSON.stringify(legacyResJbCfg("blocks.8.hook_resid_pre")));
    await writeRandomSaeWeights(weights, GPT2_SMALL.d_model, RES_JB_D_SAE, 0);
  }
  return dir;
}

/** The model folder, written if missing. */
export async function ensureBenchModel(): Promise<string> {
  const dir = join(realShapeDir(), "gpt2");
  if (!(await exists(join(dir, "model.safetensors")))) await writeRandomGpt2Hf(dir, GPT2_SMALL, 0);
  return dir;
}

async function childLoad(kind: "sae" | "model", dir: string): Promise<ChildLoad> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", fromFileUrl(import.meta.url), "--child", kind, dir],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  if (!out.success) throw new Error(`load child (${kind} ${dir}) failed: ${d.decode(out.stderr).slice(-2000)}`);
  return JSON.parse(d.decode(out.stdout).trim().split("\n").at(-1)!) as ChildLoad;
}

async function measureLoads(kind: "sae" | "model", reps: number): Promise<SelfMeasured> {
  const dir = kind === "sae" ? await ensureBenchSae() : await ensureBenchModel();
  const runs: ChildLoad[] = [];
  for (let i = 0; i < reps; i++) runs.push(await childLoad(kind, dir));
  const best = Math.min(...runs.map((r) => r.seconds));
  const peak = Math.max(...runs.map((r) => r.peak_rss_delta_mb));
  const file = runs[0]!.file_mb;
  const cpu = Math.min(...runs.map((r) => r.cpu_seconds));
  return {
    value: best,
    notes: `${kind === "sae" ? "loadSaeLens" : "loadGpt2FromHf (centred)"} of a ${file.toFixed(0)} MB file in a ` +
      `child process; min ${best.toFixed(2)} s, max ${
        Math.max(...runs.map((r) => r.seconds)).toFixed(2)
      } s over ${reps} (CPU ${cpu.toFixed(2)} s, load average ${loadAverage()}); peak RSS +${peak.toFixed(0)} MB (${
        (peak / file).toFixed(2)
      }× the file)`,
    extra: { peak_rss_delta_mb: Math.round(peak), file_mb: Math.round(file), cpu_seconds: cpu },
  };
}

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ")[0]!;
  } catch {
    return "?";
  }
}

function loadRow(name: string, kind: "sae" | "model"): RowSpec {
  return {
    name,
    unit: "s",
    reps: 3,
    warmup: 0,
    prepare() {
      throw new Error(`${name} measures itself`);
    },
    measure: (reps) => measureLoads(kind, reps),
  };
}

/** The two loading rows. */
export function loadRows(): RowSpec[] {
  return [loadRow("load_sae_768x24576", "sae"), loadRow("load_gpt2_small_hf", "model")];
}

async function child(kind: string, dir: string): Promise<void> {
  await initBackend();
  const file = kind === "sae" ? join(dir, "sae_weights.safetensors") : join(dir, "model.safetensors");
  const fileMb = (await Deno.stat(file)).size / 2 ** 20;
  const before = procStatusMb("VmRSS");
  const cpu0 = cpuUsage();
  const t0 = performance.now();
  if (kind === "sae") {
    const { sae } = await loadSaeLens(dir);
    const seconds = (performance.now() - t0) / 1000;
    const peak = procStatusMb("VmHWM");
    sae.dispose();
    report(seconds, cpuUsage(cpu0), before, peak, fileMb);
  } else {
    const { model } = await loadGpt2FromHf(dir, { centerWritingWeights: true, trainable: false });
    const seconds = (performance.now() - t0) / 1000;
    const peak = procStatusMb("VmHWM");
    model.dispose();
    report(seconds, cpuUsage(cpu0), before, peak, fileMb);
  }
}

function report(
  seconds: number,
  cpu: { user: number; system: number },
  before: number,
  peak: number,
  fileMb: number,
): void {
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const r: ChildLoad = {
    seconds,
    cpu_seconds: cpuSeconds,
    rss_before_mb: before,
    peak_rss_delta_mb: peak - before,
    file_mb: fileMb,
  };
  console.log(JSON.stringify(r));
}

if (import.meta.main) {
  const [flag, kind, dir] = Deno.args;
  if (flag !== "--child" || (kind !== "sae" && kind !== "model") || dir === undefined) {
    console.error("usage: load_rows.ts --child sae|model DIR");
    Deno.exit(2);
  }
  await child(kind, dir);
}
