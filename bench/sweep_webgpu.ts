/**
 * The study-B per-position sweep (`runSpliceSweep`: clean pass, then every SAE
 * spliced in turn with CE, KL, MSE, L0 at every position) timed on the WebGPU
 * backend beside the CPU backend (wasm with the project's kernels), each in a
 * child process of its own. One command:
 *
 * ```sh
 * deno task bench:webgpu                        # the embedded default: 4 rows × 1,024 tokens, its 5 SAEs
 * deno task bench:webgpu --shape gpt2-small     # gpt2-small with 13 SAEs of d_sae 24,576 (random weights), 2 rows
 * deno task bench:webgpu --rows 8 --backends webgpu   # options: --rows N, --tokens T, --backends a,b, --out FILE
 * ```
 *
 * It prints tokens/s and seconds per row (1,024 tokens) with all SAEs for each
 * backend, the WebGPU / CPU ratio, and the adapter (a software adapter such as
 * lavapipe is labelled as such: its numbers measure correctness, not a GPU),
 * and with `--out FILE` writes them, with the machine and load average, as JSON. Timing covers the sweep only: model
 * and SAE loading and one warm-up row (WebGPU compiles its shaders there) are
 * excluded. SAEs are held in groups of at most 1 GiB, as `runContextSweep`
 * does, with one clean pass per group. WebGPU is forced (`SAE_BACKEND=webgpu`),
 * so the command also runs on a software adapter; it fails when there is no
 * adapter at all.
 *
 * In `deno task bench` the rows `study_b_sweep_webgpu` (embedded shape) and
 * `study_b_sweep_13sae_webgpu` (gpt2-small shape) run the same measurement when
 * a hardware GPU adapter exists, reporting seconds per row on WebGPU with the
 * CPU numbers in the notes; without one they report NaN and say why (a
 * software adapter would only add minutes to every CPU-only run).
 *
 * @example
 * ```ts
 * import { parseSweepArgs } from "./sweep_webgpu.ts";
 * parseSweepArgs(["--shape", "gpt2-small"]).rows; // 2
 * ```
 *
 * @module
 */

import { initBackend } from "../lib/engine/backend.ts";
import { probeWebGpu, softwareAdapterReason } from "../lib/engine/webgpu.ts";
import { Rng } from "../lib/engine/rng.ts";
import { join } from "../lib/path.ts";
import { PROJECT_ROOT } from "../lib/env.ts";
import { defaultGpt2Config } from "../lib/lm/config.ts";
import { Gpt2 } from "../lib/lm/gpt2.ts";
import type { LanguageModel } from "../lib/lm/language_model.ts";
import { defaultSaeConfig } from "../lib/sae/config.ts";
import { createSae, type Sae } from "../lib/sae/sae.ts";
import { runSpliceSweep } from "../lib/study_b/context_sweep.ts";
import { saeSplice } from "../lib/splice/splice.ts";
import { groupByBytes, loadStudySae, loadStudySetup } from "../lib/study_b/setup.ts";
import type { RowSpec, SelfMeasured } from "./row_spec.ts";

/** Model and SAE shapes the sweep runs at. */
export type SweepShape = "embedded" | "gpt2-small";

/** Options of the command. */
export interface SweepArgs {
  shape: SweepShape;
  /** Timed rows (one more row warms up first). */
  rows: number;
  /** Tokens per row. */
  tokens: number;
  /** Backends, each in its own child process. */
  backends: string[];
  /** JSON file for the results, or null. */
  out: string | null;
}

/** One backend's measurement (what a child prints as its last line). */
export interface SweepMeasurement {
  backend: string;
  summary: string;
  /** The adapter is a software one (lavapipe, SwiftShader): not a GPU measurement. */
  software: boolean;
  shape: SweepShape;
  rows: number;
  /** Tokens per row. */
  tokens: number;
  saes: number;
  /** Sweep seconds over the timed rows. */
  seconds: number;
  tokensPerSecond: number;
  /** Seconds per row of `tokens` tokens with every SAE. */
  secondsPerRow: number;
}

/**
 * Parses the command line (defaults: embedded shape, 4 rows, or 2 for
 * gpt2-small; 1,024 tokens; webgpu and wasm).
 *
 * @throws {Error} naming the argument and the expected values
 */
export function parseSweepArgs(args: string[]): SweepArgs & { child: boolean } {
  let shape: SweepShape = "embedded";
  let rows: number | undefined;
  let tokens = 1024;
  let backends = ["webgpu", "wasm"];
  let child = false;
  let out: string | null = null;
  const int = (flag: string, v: string | undefined) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: expected a positive integer, got ${v}`);
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--shape") {
      const v = args[++i];
      if (v !== "embedded" && v !== "gpt2-small") throw new Error(`--shape: expected embedded or gpt2-small, got ${v}`);
      shape = v;
    } else if (a === "--rows") rows = int(a, args[++i]);
    else if (a === "--tokens") tokens = int(a, args[++i]);
    else if (a === "--backends") backends = (args[++i] ?? "").split(",").filter((b) => b !== "");
    else if (a === "--child") child = true;
    else if (a === "--out") out = args[++i] ?? "";
    else throw new Error(`unknown argument "${a}"; expected --shape, --rows N, --tokens T, --backends a,b, --out FILE`);
  }
  if (backends.length === 0) throw new Error("--backends: expected at least one backend name");
  if (out === "") throw new Error("--out: expected a file path");
  return { shape, rows: rows ?? (shape === "gpt2-small" ? 2 : 4), tokens, backends, out, child };
}

interface SweepModel {
  model: LanguageModel;
  bosId: number;
  /** SAE makers with their float32 byte sizes. */
  saes: { bytes: number; hook: string; make: () => Promise<Sae> }[];
  dispose(): void;
}

async function buildModel(shape: SweepShape): Promise<SweepModel> {
  if (shape === "embedded") {
    const setup = await loadStudySetup();
    return {
      model: setup.model,
      bosId: setup.bosId,
      saes: setup.saes.map((e) => ({ bytes: e.bytes, hook: e.hook, make: () => loadStudySae(e) })),
      dispose: () => setup.model.dispose(),
    };
  }
  const cfg = defaultGpt2Config();
  const model = Gpt2.random(cfg, 0);
  const hooks = [
    ...Array.from({ length: cfg.n_layer }, (_, l) => `blocks.${l}.hook_resid_pre`),
    `blocks.${cfg.n_layer - 1}.hook_resid_post`,
  ];
  const d = cfg.d_model, s = 24576;
  return {
    model,
    bosId: 50256,
    saes: hooks.map((hook, i) => ({
      bytes: 4 * (2 * d * s + d + s),
      hook,
      make: () =>
        Promise.resolve(
          createSae(defaultSaeConfig({ d_in: d, d_sae: s, hook_name: hook, apply_b_dec_to_input: true }), i, {
            scheme: "saelens",
          }),
        ),
    })),
    dispose: () => model.dispose(),
  };
}

/** Runs the sweep on this process's backend (forced by the parent through `SAE_BACKEND`). */
async function child(args: SweepArgs): Promise<SweepMeasurement> {
  const report = await initBackend({ webgpu: true });
  const m = await buildModel(args.shape);
  try {
    const T = Math.min(args.tokens, m.model.cfg.n_ctx);
    const rng = new Rng(0, "bench/sweep_webgpu");
    const V = m.model.cfg.d_vocab;
    const rows = Array.from({ length: args.rows + 1 }, () => {
      const r = new Int32Array(T);
      for (let j = 0; j < T; j++) r[j] = j === 0 ? m.bosId : Math.floor(rng.uniform() * V);
      return r;
    });
    let seconds = 0;
    let warmed = false;
    for (const group of groupByBytes(m.saes, 2 ** 30)) {
      const saes: Sae[] = [];
      try {
        for (const e of group) saes.push(await e.make());
        const specs = saes.map((sae, i) => saeSplice(`S${i}`, sae));
        const cfg = { bosId: m.bosId, batchRows: 1, progress: false };
        if (!warmed) await runSpliceSweep(m.model, rows.slice(0, 1), specs, cfg); // shader compilation, caches
        warmed = true;
        seconds += (await runSpliceSweep(m.model, rows.slice(1), specs, cfg)).seconds;
      } finally {
        for (const s of saes) s.dispose();
      }
    }
    const tokens = args.rows * T;
    return {
      backend: report.name,
      summary: report.summary,
      software: report.adapter !== null && softwareAdapterReason(report.adapter) !== null,
      shape: args.shape,
      rows: args.rows,
      tokens: T,
      saes: m.saes.length,
      seconds,
      tokensPerSecond: tokens / seconds,
      secondsPerRow: seconds / args.rows,
    };
  } finally {
    m.dispose();
  }
}

async function runChild(backend: string, args: SweepArgs): Promise<SweepMeasurement | string> {
  const argv = [
    "run",
    "-A",
    import.meta.filename ?? join(PROJECT_ROOT, "bench", "sweep_webgpu.ts"),
    "--child",
    "--shape",
    args.shape,
    "--rows",
    String(args.rows),
    "--tokens",
    String(args.tokens),
  ];
  const out = await new Deno.Command(Deno.execPath(), {
    args: argv,
    env: { SAE_BACKEND: backend },
    stdout: "piped",
    stderr: "piped",
    cwd: PROJECT_ROOT,
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n");
  if (out.code !== 0) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").filter((l) => /error/i.test(l));
    return `exit ${out.code}: ${err.slice(0, 3).join(" | ") || "no error line"}`;
  }
  return JSON.parse(text[text.length - 1]!) as SweepMeasurement;
}

/**
 * A `deno task bench` row: {@link SweepMeasurement}s of WebGPU and wasm in child
 * processes when a hardware GPU adapter exists (value: WebGPU seconds per
 * row); NaN with the reason otherwise.
 *
 * @example
 * ```ts
 * import { sweepWebgpuRow } from "./sweep_webgpu.ts";
 * sweepWebgpuRow("embedded").name; // "study_b_sweep_webgpu"
 * ```
 */
export function sweepWebgpuRow(shape: SweepShape): RowSpec {
  const name = shape === "embedded" ? "study_b_sweep_webgpu" : "study_b_sweep_13sae_webgpu";
  const args: SweepArgs = { ...parseSweepArgs(["--shape", shape]), backends: ["webgpu", "wasm"] };
  return {
    name,
    unit: "s",
    reps: 1,
    warmup: 0,
    prepare() {
      throw new Error(`${name} measures itself`);
    },
    async measure(): Promise<SelfMeasured> {
      const probe = await probeWebGpu();
      const software = probe.adapter === null ? null : softwareAdapterReason(probe.adapter);
      if (probe.adapter === null || software !== null) {
        return {
          value: NaN,
          notes: `skipped: no hardware GPU adapter (${probe.why ?? software}); ` +
            `\`deno task bench:webgpu${shape === "embedded" ? "" : " --shape gpt2-small"}\` runs it anyway`,
        };
      }
      const gpu = await runChild("webgpu", args);
      const cpu = await runChild("wasm", args);
      if (typeof gpu === "string") throw new Error(`${name}: the WebGPU run failed: ${gpu}`);
      if (typeof cpu === "string") throw new Error(`${name}: the wasm run failed: ${cpu}`);
      return {
        value: gpu.secondsPerRow,
        notes: `${gpu.rows} rows × ${gpu.tokens} tokens, ${gpu.saes} SAEs; webgpu ${gpu.tokensPerSecond.toFixed(0)} ` +
          `tokens/s, wasm ${cpu.tokensPerSecond.toFixed(0)} tokens/s (${cpu.secondsPerRow.toFixed(2)} s/row), ` +
          `ratio ${(gpu.tokensPerSecond / cpu.tokensPerSecond).toFixed(2)}; ${gpu.summary}`,
        extra: {
          webgpu_tokens_per_s: gpu.tokensPerSecond,
          cpu_tokens_per_s: cpu.tokensPerSecond,
          cpu_seconds_per_row: cpu.secondsPerRow,
        },
      };
    },
  };
}

async function main(): Promise<void> {
  const args = parseSweepArgs(Deno.args);
  if (args.child) {
    console.log(JSON.stringify(await child(args)));
    return;
  }
  console.log(`sweep: ${args.shape} shape, ${args.rows} timed rows × ${args.tokens} tokens (+1 warm-up row)`);
  const results: SweepMeasurement[] = [];
  let failed = false;
  for (const b of args.backends) {
    const r = await runChild(b, args);
    if (typeof r === "string") {
      console.log(`${b}: unavailable (${r})`);
      failed = true;
      continue;
    }
    results.push(r);
    const label = r.software ? " [software adapter: a correctness run, not a GPU number]" : "";
    console.log(
      `${b}: ${r.tokensPerSecond.toFixed(1)} tokens/s, ${r.secondsPerRow.toFixed(2)} s per ${r.tokens}-token row ` +
        `with ${r.saes} SAEs${label}\n  ${r.summary}`,
    );
  }
  const gpu = results.find((r) => r.backend === "webgpu");
  const cpu = results.find((r) => r.backend !== "webgpu");
  if (gpu && cpu) {
    console.log(`webgpu / ${cpu.backend} tokens/s: ${(gpu.tokensPerSecond / cpu.tokensPerSecond).toFixed(2)}`);
  }
  const cpuInfo = (await Deno.readTextFile("/proc/cpuinfo").catch(() => "")).match(/model name\s*:\s*(.*)/)?.[1];
  const record = {
    date: new Date().toISOString(),
    machine: `${cpuInfo ?? "?"}, ${navigator.hardwareConcurrency} cores`,
    load_average: (await Deno.readTextFile("/proc/loadavg").catch(() => "")).split(" ").slice(0, 3).join(" "),
    args: { shape: args.shape, rows: args.rows, tokens: args.tokens },
    results,
  };
  console.log(`load average ${record.load_average}; ${record.machine}`);
  if (args.out !== null) {
    await Deno.writeTextFile(args.out, JSON.stringify(record, null, 2) + "\n");
    console.log(`wrote ${args.out}`);
  }
  if (failed) Deno.exitCode = 1;
}

if (import.meta.main) await main();
