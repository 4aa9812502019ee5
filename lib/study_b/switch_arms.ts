/**
 * The switch experiment of notebook 09 (`scripts/switch_experiment.ts`): from
 * one pilot checkpoint taken where the rows grow from 512 to 1024 positions,
 * arms that train on with one setting changed, each measured like a pilot
 * point every few steps. This module reads the points (one JSON line each,
 * `data/embedded/switch_experiment.jsonl`) and draws the induction gain per arm.
 *
 * @module
 */

import type { PilotPoint } from "./context_probe.ts";
import { figure, lineTrace } from "../plot/mod.ts";
import type { Figure } from "../plot/types.ts";

/** One measured point of one arm. */
export interface SwitchPoint extends PilotPoint {
  /** Arm name (`recipe`, `stay512`, `lr10`, `offset512`). */
  arm: string;
  /** Step of the shared checkpoint every arm started from. */
  from: number;
}

/**
 * Reads the JSON-lines file; throws naming the file, line and field when a
 * point lacks a number or an arm.
 *
 * @example
 * ```ts
 * // const points = await loadSwitchPoints("data/embedded/switch_experiment.jsonl");
 * ```
 */
export async function loadSwitchPoints(path: string): Promise<SwitchPoint[]> {
  const lines = (await Deno.readTextFile(path)).split("\n").filter((l) => l.trim() !== "");
  return lines.map((line, i) => {
    let q: Partial<SwitchPoint>;
    try {
      q = JSON.parse(line);
    } catch (e) {
      throw new Error(`${path}: line ${i + 1}: not JSON (${(e as Error).message})`);
    }
    if (typeof q.arm !== "string" || q.arm === "") throw new Error(`${path}: line ${i + 1}: arm: expected a name`);
    for (const f of ["from", "step", "tokens", "train_loss", "val_loss", "induction_gain"] as const) {
      if (!Number.isFinite(q[f])) {
        throw new Error(`${path}: line ${i + 1}: ${f}: expected a number, got ${JSON.stringify(q[f])}`);
      }
    }
    return q as SwitchPoint;
  });
}

/**
 * Induction gain against steps after the shared checkpoint, one line per arm,
 * each starting at the checkpoint's own gain (`start`, the pilot's point there).
 */
export function switchFigure(
  points: readonly SwitchPoint[],
  start: Pick<PilotPoint, "step" | "induction_gain">,
): Figure {
  const arms = [...new Set(points.map((p) => p.arm))];
  return figure(
    arms.map((arm) => {
      const qs = points.filter((p) => p.arm === arm).sort((a, b) => a.step - b.step);
      return lineTrace([start.step, ...qs.map((q) => q.step)], [
        start.induction_gain,
        ...qs.map((q) => q.induction_gain),
      ], {
        name: arm,
        mode: "lines+markers",
      });
    }),
    {
      title: { text: `Copying after the checkpoint at step ${start.step}: one setting changed per arm` },
      xaxis: { title: { text: "training step" } },
      yaxis: { title: { text: "induction gain (nats)" } },
      height: 460,
    },
  );
}
