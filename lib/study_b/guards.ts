/**
 * Checks that only hold for a trained model, and what happens to them on an
 * untrained one.
 *
 * Some study-B checks are facts about any model (KL(clean ‖ spliced) ≥ 0 at
 * every position): they always run and throw on failure. Others are facts about
 * a *trained* model and trained SAEs: splicing an SAE's reconstruction should
 * raise the loss on average inside its training context (the bug guard), and
 * the claims compare trained layers. With random weights (the real-shape smoke
 * test's artefacts, `"trained": false`) such a check can come out either way, so
 * {@link guardOrSkip} reports it as SKIPPED — loudly, never as passed — while on
 * a trained model (the embedded default, real gpt2-small) it runs and throws.
 *
 * @example
 * ```ts
 * import { contextBugGuard, guardOrSkip, klGuard } from "./guards.ts";
 * // const result = await runContextSweep(setup, rows);
 * // klGuard(result); // always
 * // guardOrSkip(setup.trained, "bug guard (mean ΔCE > 0 inside the training context)", () => contextBugGuard(result));
 * ```
 *
 * @module
 */

import { check, checkFinite } from "../check.ts";
import type { ContextSweepResult } from "./context_sweep.ts";
import { layerWindowRows } from "./summary.ts";

/** What {@link guardOrSkip} did. */
export interface GuardOutcome {
  name: string;
  status: "passed" | "skipped";
  /** One line for the reader: `passed: NAME — …` or `SKIPPED (untrained model): NAME — …`. */
  line: string;
}

/** Options of {@link guardOrSkip}. */
export interface GuardOptions {
  /** Where the line goes (default `console.log`; pass `() => {}` to only return it). */
  report?: (line: string) => void;
}

/**
 * Runs a check that only holds for a trained model.
 *
 * - `trained`: runs `fn`; a failure throws (as any check does); returns
 *   "passed" with `fn`'s summary.
 * - untrained: still evaluates `fn` (so the code path runs at real shapes) but
 *   never throws; returns "skipped" and says what the check found, so a random
 *   model is never reported as passing it.
 *
 * @example
 * ```ts
 * import { guardOrSkip } from "./guards.ts";
 * guardOrSkip(false, "loss goes up", () => {
 *   throw new Error("it went down");
 * }).status; // "skipped" (prints "SKIPPED (untrained model): loss goes up — would have failed: it went down")
 * ```
 */
export function guardOrSkip(
  trained: boolean,
  name: string,
  fn: () => string | void,
  opts: GuardOptions = {},
): GuardOutcome {
  const report = opts.report ?? ((line: string) => console.log(line));
  if (trained) {
    const summary = fn();
    const line = `passed: ${name}${summary ? ` — ${summary}` : ""}`;
    report(line);
    return { name, status: "passed", line };
  }
  let found: string;
  try {
    const summary = fn();
    found = `it would have passed${summary ? ` (${summary})` : ""}, which means nothing on random weights`;
  } catch (err) {
    found = `would have failed: ${err instanceof Error ? err.message : String(err)}`;
  }
  const line = `SKIPPED (untrained model): ${name} — ${found}`;
  report(line);
  return { name, status: "skipped", line };
}

/**
 * KL(clean ‖ spliced) is finite and ≥ 0 at every position for every layer: a
 * property of any model, trained or not. Returns a summary; throws on failure.
 */
export function klGuard(result: ContextSweepResult): string {
  for (const l of result.layers) {
    const kl = l.metrics.stats.kl.mean().slice(1);
    checkFinite(kl, `KL per position, layer ${l.label}`);
    check(kl.every((v) => v >= 0), `KL(clean ‖ spliced) is negative at some position for layer ${l.label}`);
  }
  return `KL ≥ 0 at every position for ${result.layers.length} layer(s)`;
}

/**
 * The bug guard of notebook 11: inside the SAEs' training context (positions
 * 1 … ctx − 1) the mean ΔCE = CE_spliced − CE_clean is positive for every
 * layer (an imperfect reconstruction should not make a trained model better on
 * average; the published plot's sign error would fail here). Only meaningful for
 * a trained model: use it through {@link guardOrSkip}. Returns a summary; throws
 * naming the first layer that fails.
 */
export function contextBugGuard(result: ContextSweepResult): string {
  const windows = layerWindowRows(result);
  for (const w of windows) {
    check(
      w.dce_in > 0,
      `bug guard: mean ΔCE over positions 1…${result.saeContext - 1} is ${w.dce_in} for layer ${w.layer}; ` +
        `it must be positive (CE_spliced − CE_clean)`,
    );
  }
  return `mean ΔCE inside the training context is positive for every layer (${
    windows.map((w) => `L${w.layer} ${w.dce_in.toPrecision(3)}`).join(", ")
  } nats)`;
}
