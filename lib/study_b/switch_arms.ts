/**
 * The switch experiment of notebook 09 (`scripts/switch_experiment.ts`): from
 * one pilot checkpoint taken where the rows grow from 512 to 1024 positions,
 * arms that train on with one setting changed, each measured like a pilot
 * point every few steps. This module reads the points (one JSON line each,
 * `data/embedded/switch_experiment.jsonl`) and draws the induction gain per arm.
 * It also reads the whole-context copying probe of some checkpoints
 * (`scripts/long_copy_probe.ts`, `data/embedded/long_copy_probe.jsonl`): loss
 * per repeat of a segment repeated over all 1024 positions.
 *
 * @module
 */

import type { PilotPoint } from "./context_probe.ts";
import { readJsonLines } from "../io/json_lines.ts";
import { figure, lineTrace } from "../plot/mod.ts";
import type { Figure } from "../plot/types.ts";

/** One measured point of one arm. */
export interface SwitchPoint extends PilotPoint {
  /** Arm name (`recipe`, `stay512`, `lr10`, `offset512`, `wpe1024`, `copies12`). */
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
  return (await readJsonLines<SwitchPoint>(path)).map((q, i) => {
    if (typeof q.arm !== "string" || q.arm === "") throw new Error(`${path}: line ${i + 1}: arm: expected a name`);
    for (const f of ["from", "step", "tokens", "train_loss", "val_loss", "induction_gain"] as const) {
      if (!Number.isFinite(q[f])) {
        throw new Error(`${path}: line ${i + 1}: ${f}: expected a number, got ${JSON.stringify(q[f])}`);
      }
    }
    return q as SwitchPoint;
  });
}

/** One checkpoint's copying over the whole context (`scripts/long_copy_probe.ts`). */
export interface LongCopyProbe {
  /** What the checkpoint is (recipe and step in words). */
  label: string;
  /** Pilot recipe name. */
  recipe: string;
  /** Training step of the checkpoint. */
  step: number;
  /** Segment length (tokens); repeat r covers positions r·segment … (r + 1)·segment − 1. */
  segment: number;
  /** Mean loss per repeat (the first is the first occurrence). */
  loss_by_repeat: number[];
  /** First occurrence minus the mean of the repeats before position n_ctx/2. */
  gain_early: number;
  /** First occurrence minus the mean of the repeats from position n_ctx/2 on. */
  gain_late: number;
  /** The positional embeddings of positions 1 … n_ctx/2 − 1 (`before`) and n_ctx/2 … n_ctx − 1 (`from`). */
  wpe: { before: WpeStats; from: WpeStats };
}

/** Positional embedding rows of a range of positions. */
export interface WpeStats {
  /** Mean ℓ2 norm of a row. */
  mean_norm: number;
  /** Mean cosine of a row with the next one (how distinct neighbouring positions are). */
  mean_neighbour_cosine: number;
}

/**
 * Reads the probe's JSON lines; throws naming the file, line and field when one is missing or not finite.
 *
 * @example
 * ```ts
 * // const probes = await loadLongCopyProbes("data/embedded/long_copy_probe.jsonl");
 * ```
 */
export async function loadLongCopyProbes(path: string): Promise<LongCopyProbe[]> {
  return (await readJsonLines<LongCopyProbe>(path)).map((q, i) => {
    const at = `${path}: line ${i + 1}`;
    if (typeof q.label !== "string" || typeof q.recipe !== "string") {
      throw new Error(`${at}: label/recipe: expected text`);
    }
    for (const f of ["step", "segment", "gain_early", "gain_late"] as const) {
      if (!Number.isFinite(q[f])) throw new Error(`${at}: ${f}: expected a number, got ${JSON.stringify(q[f])}`);
    }
    for (const part of ["before", "from"] as const) {
      const w = q.wpe?.[part];
      if (!Number.isFinite(w?.mean_norm) || !Number.isFinite(w?.mean_neighbour_cosine)) {
        throw new Error(`${at}: wpe.${part}: expected mean_norm and mean_neighbour_cosine, got ${JSON.stringify(w)}`);
      }
    }
    if (!Array.isArray(q.loss_by_repeat) || q.loss_by_repeat.length < 4 || !q.loss_by_repeat.every(Number.isFinite)) {
      throw new Error(`${at}: loss_by_repeat: expected ≥ 4 numbers, got ${JSON.stringify(q.loss_by_repeat)}`);
    }
    return q as LongCopyProbe;
  });
}

/** Loss per repeat against the repeat's first position, one line per probed checkpoint. */
export function longCopyFigure(probes: readonly LongCopyProbe[]): Figure {
  return figure(
    probes.map((p) =>
      lineTrace(p.loss_by_repeat.map((_, r) => r * p.segment), p.loss_by_repeat, {
        name: p.label,
        mode: "lines+markers",
      })
    ),
    {
      title: { text: "A 64-token segment repeated over all 1024 positions: loss per repeat" },
      xaxis: { title: { text: "first position of the repeat" } },
      yaxis: { title: { text: "mean loss on the repeat (nats)" } },
      height: 460,
    },
  );
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
