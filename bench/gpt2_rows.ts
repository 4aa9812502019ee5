/**
 * GPT-2-small forward-pass benchmarks: a 124M-parameter GPT-2 with random,
 * seeded weights, batch 1, T = 128 and T = 1024, clean and with one
 * d_sae = 24576 SAE spliced at `blocks.6.hook_resid_pre`. Rows for the suite
 * (`gpt2_small_forward_t128`, `…_t1024`, `…_sae_t128`, `…_sae_t1024`; unit ms
 * per forward pass, tokens/s and peak resident memory in the notes), and a
 * standalone report:
 *
 * ```sh
 * deno run -A bench/gpt2_rows.ts            # T = 128 and 1024, clean and spliced
 * deno run -A bench/gpt2_rows.ts 1024       # only T = 1024
 * ```
 *
 * @example
 * ```ts
 * import { gpt2ForwardRows } from "./gpt2_rows.ts";
 * console.log(gpt2ForwardRows().map((r) => r.name));
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { defaultGpt2Config } from "../lib/lm/config.ts";
import { Gpt2, type HookFn } from "../lib/lm/gpt2.ts";
import { saeSpliceHook } from "../lib/splice/splice.ts";
import { defaultSaeConfig } from "../lib/sae/config.ts";
import { createSae, type Sae } from "../lib/sae/sae.ts";
import type { Prepared, RowSpec } from "./row_spec.ts";

const HOOK = "blocks.6.hook_resid_pre";

/** Peak resident set size of this process in bytes (Linux `VmHWM`), or null elsewhere. */
export function peakRssBytes(): number | null {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

function gb(bytes: number | null): string {
  return bytes === null ? "n/a" : `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

/** A seeded gpt2-small-shaped model, a fixed token row of length T, and optionally a spliced SAE. */
export function prepareGpt2Forward(T: number, withSae: boolean): Prepared & { tokensPerRun: number } {
  const model = Gpt2.random(defaultGpt2Config(), 0);
  const ids = new Int32Array(T).map((_, i) => (i === 0 ? 50256 : (i * 7919) % 50257));
  const tokens = tf.tensor2d(ids, [1, T], "int32");
  let sae: Sae | null = null;
  if (withSae) {
    sae = createSae(
      defaultSaeConfig({ d_in: 768, d_sae: 24576, hook_name: HOOK, apply_b_dec_to_input: true }),
      0,
      { scheme: "saelens" },
    );
  }
  const hooks: Record<string, HookFn> = sae ? { [HOOK]: saeSpliceHook(sae) } : {};
  return {
    tokensPerRun: T,
    run() {
      model.runWithHooks(tokens, hooks).dispose();
    },
    dispose() {
      tokens.dispose();
      sae?.dispose();
      model.dispose();
    },
    notes: `gpt2-small shape, random weights, batch 1, T=${T}${withSae ? `, SAE d_sae 24576 spliced at ${HOOK}` : ""}`,
  };
}

function forwardRow(T: number, withSae: boolean): RowSpec {
  return {
    name: `gpt2_small_forward${withSae ? "_sae" : ""}_t${T}`,
    unit: "ms",
    reps: T >= 1024 ? 2 : 3,
    warmup: 1,
    prepare() {
      const p = prepareGpt2Forward(T, withSae);
      const run = p.run;
      let best = Infinity;
      return {
        run() {
          const t = performance.now();
          run();
          best = Math.min(best, performance.now() - t);
        },
        dispose: p.dispose,
        get notes() {
          return `${p.notes}; ${(T / (best / 1000)).toFixed(0)} tokens/s; peak RSS ${gb(peakRssBytes())}`;
        },
      };
    },
  };
}

/** The four forward-pass rows. */
export function gpt2ForwardRows(): RowSpec[] {
  return [forwardRow(128, false), forwardRow(1024, false), forwardRow(128, true), forwardRow(1024, true)];
}

if (import.meta.main) {
  const report = await initBackend();
  console.log(report.summary);
  const lengths = Deno.args.length > 0 ? Deno.args.map(Number) : [128, 1024];
  for (const T of lengths) {
    for (const withSae of [false, true]) {
      const t0 = performance.now();
      const p = prepareGpt2Forward(T, withSae);
      const init = (performance.now() - t0) / 1000;
      p.run(); // warm-up
      const before = tf.memory().numTensors;
      const times: number[] = [];
      for (let i = 0; i < 2; i++) {
        const t = performance.now();
        p.run();
        times.push((performance.now() - t) / 1000);
      }
      const after = tf.memory().numTensors;
      const best = Math.min(...times);
      console.log(
        `T=${T}${withSae ? " +SAE" : "     "}  init ${init.toFixed(1)} s  forward ${best.toFixed(2)} s  ` +
          `${(T / best).toFixed(0)} tokens/s  peak RSS ${gb(peakRssBytes())}  tensors ${before}→${after}`,
      );
      p.dispose();
    }
  }
}
