/**
 * Where in a row a pilot copies: content-based induction or a fixed-offset
 * head. The induction test repeats a random 64-token segment; an induction
 * head copies from the previous occurrence whatever its distance, so the
 * second occurrence (positions 64–127) already gains. A head that attends a
 * fixed distance back (half the trained row, T/2, when every training copy
 * sits there) can predict only the repeats that start at or after T/2, where a
 * copy of the segment lies exactly T/2 back (T/2 is a multiple of 64).
 *
 * The rule (written before the `wide-sin-doubling-varied` pilot's points
 * existed): for a point trained on rows of T ≥ 256 positions whose induction
 * rows reach past T/2, `near` is the loss of the second occurrence
 * (positions 64–127, whose only earlier copy is 64 back, a distance no
 * fixed-offset head of these rows uses) and `far` the mean loss of the repeats
 * that start at or after T/2; gains are the first occurrence's loss minus
 * each (repeats between them are left out: a head fixed at an earlier stage's
 * offset, T/4, can still predict them). The point shows a **fixed-offset** signature
 * when the far gain is at least 1 nat and the near gain below a quarter of it,
 * **content** copying when the near gain is at least 1 nat and at least half
 * the far gain, and **none** when neither gain reaches 1 nat; anything else is
 * **mixed**. Rows of 128 (one repeat) and points whose rows stop before T/2
 * (rows of 1024: the test uses 512 positions) cannot be judged: `null`.
 *
 * @module
 */

import type { PilotPoint } from "./context_probe.ts";
import { figure, lineTrace } from "../plot/mod.ts";
import type { Figure } from "../plot/types.ts";

/** Verdict of {@link copyLocality}. */
export type CopyLocalityVerdict = "fixed-offset" | "content" | "none" | "mixed";

/** Near and far gains of one point and the verdict (see the module notes). */
export interface CopyLocality {
  step: number;
  /** Row length trained at this point. */
  trained_ctx: number;
  /** Gain on the second occurrence (positions 64–127), nats. */
  near_gain: number;
  /** Gain on repeats starting at or after trained_ctx / 2, nats. */
  far_gain: number;
  /**
   * Descriptive, not part of the verdict: gain on the repeats between the
   * second occurrence and trained_ctx / 2 (null when there are none, rows of
   * 256). A head fixed at T/2 cannot predict them either, so a large mid gain
   * beside a small near gain points to content copying that is weak on the
   * segment's first repeat, which the rule (decided on near and far only)
   * still calls fixed-offset.
   */
  mid_gain: number | null;
  verdict: CopyLocalityVerdict;
}

/**
 * The near/far gains and verdict of one curve point, `null` where the rule
 * cannot judge (see the module notes).
 *
 * @example
 * ```ts
 * import { copyLocality } from "./copy_locality.ts";
 * const q = { step: 600, induction_positions: 512, induction_loss_by_repeat: [11, 10.6, 10.6, 10.6, 5.3, 5.7, 6.1, 6.2] };
 * copyLocality(q, 512)?.verdict; // "fixed-offset"
 * ```
 */
export function copyLocality(
  q: Pick<PilotPoint, "step" | "induction_positions" | "induction_loss_by_repeat">,
  trainedCtx: number,
  segment = 64,
): CopyLocality | null {
  const losses = q.induction_loss_by_repeat;
  if (trainedCtx < 4 * segment || losses.length * segment <= trainedCtx / 2) return null;
  const first = losses[0] as number;
  const split = trainedCtx / 2 / segment; // first repeat index starting at or after T/2
  const mean = (a: readonly number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const near_gain = first - (losses[1] as number);
  const far_gain = first - mean(losses.slice(split));
  const mid_gain = split > 2 ? first - mean(losses.slice(2, split)) : null;
  const verdict: CopyLocalityVerdict = far_gain >= 1 && near_gain < far_gain / 4
    ? "fixed-offset"
    : near_gain >= 1 && near_gain >= far_gain / 2
    ? "content"
    : near_gain < 1 && far_gain < 1
    ? "none"
    : "mixed";
  return { step: q.step, trained_ctx: trainedCtx, near_gain, far_gain, mid_gain, verdict };
}

/**
 * Loss per 64-token repeat of the induction rows (x: the repeat's first
 * position) at chosen points of chosen pilots, one line per (pilot, step).
 */
export function repeatLossFigure(
  series: readonly { pilot: string; point: Pick<PilotPoint, "step" | "tokens" | "induction_loss_by_repeat"> }[],
  segment = 64,
): Figure {
  const dashes = ["solid", "dash", "dot", "dashdot"] as const;
  const pilots = [...new Set(series.map((s) => s.pilot))];
  return figure(
    series.map((s) =>
      lineTrace(
        s.point.induction_loss_by_repeat.map((_, k) => k * segment),
        s.point.induction_loss_by_repeat,
        {
          name: `${s.pilot}, step ${s.point.step} (${(s.point.tokens / 1e6).toFixed(1)}M tokens)`,
          mode: "lines+markers",
          dash: dashes[pilots.indexOf(s.pilot) % dashes.length],
        },
      )
    ),
    {
      title: { text: "Where copying works: loss per repeat of a random 64-token segment" },
      xaxis: { title: { text: "first position of the repeat" } },
      yaxis: { title: { text: "mean loss on the repeat (nats)" } },
      height: 480,
    },
  );
}
