/**
 * Is a model's copying induction, or a head that looks back a fixed distance?
 * The induction test repeats one random segment; with a 64-token segment every
 * repeat distance (64, 128, …) is a multiple of 64, so a head that copies from
 * exactly 128 positions back passes it from the third repeat on without
 * matching any content. Such a head is cheap for a model whose learned
 * positional embeddings became periodic (row p close to row p + 128), which
 * is what a curriculum of short rows can teach: the positions of a new, longer
 * stage are fitted fastest by reusing the rows of the shorter one.
 *
 * The probe repeats segments of several lengths within the first 512
 * positions. A model that copies by content gains at every length; a
 * fixed-offset head gains only where some repeat distance is a multiple of its
 * offset. Segments none of whose repeat distances is a multiple of
 * {@link COPY_PERIOD} are "aperiodic" ({@link aperiodicSegment}).
 *
 * Rule (written before the probe was applied to any pilot other than the
 * dense pilot's step-600 checkpoint, whose numbers prompted it): the verdict is
 * `induction` when the smallest gain over the aperiodic segments is at least
 * {@link COPY_MIN_GAIN} nats (the induction target's bar), `fixed-offset` when
 * the 64-token segment's gain reaches the bar but some aperiodic segment's
 * does not, `none` otherwise.
 *
 * `copy_locality.ts` judges the 64-token segment alone and assumes the
 * offsets a head could learn from where training put the copies (half or a
 * quarter of the row); periodic embeddings allow an offset at every multiple
 * of their period, 64 included, which that rule would read as content.
 *
 * The probe's lines (`scripts/copy_distance_probe.ts`,
 * `data/embedded/copy_distance_probe.jsonl`) also hold the mean cosine of
 * positional rows p and p + lag, the periodicity the head would read.
 *
 * @module
 */

import { inductionScore, pilotInductionIds } from "./embedded_report.ts";
import { readJsonLines } from "../io/json_lines.ts";
import type { Gpt2 } from "../lm/gpt2.ts";
import { figure, lineTrace } from "../plot/mod.ts";
import type { Figure } from "../plot/types.ts";

/** The period the aperiodic segments avoid: every multiple of 64 (64, 128, 256, …). */
export const COPY_PERIOD = 64;
/** The bar of the verdict, in nats: the induction target's. */
export const COPY_MIN_GAIN = 2;
/** Segment lengths probed: aligned with {@link COPY_PERIOD} (16, 32, 64, 128), partly (48, 80) and not (50, 75, 100). */
export const COPY_SEGMENTS: readonly number[] = [16, 32, 48, 50, 64, 75, 80, 100, 128];
/** The probe's positions: the first 512, as in the induction target. */
export const COPY_POSITIONS = 512;
/** The lengths no repeat distance of which within 512 positions is a multiple of {@link COPY_PERIOD}. */
export const APERIODIC_SEGMENTS: readonly number[] = [50, 75, 100];

/** The gain of one segment length. */
export interface CopyDistanceRow {
  segment: number;
  /** Positions filled: the largest multiple of the segment up to {@link COPY_POSITIONS}. */
  positions: number;
  /** Whether no repeat distance within `positions` is a multiple of {@link COPY_PERIOD}. */
  aperiodic: boolean;
  /** First repeat's mean loss minus the later repeats' (nats). */
  gain: number;
  /** First repeat's loss minus the second's: copying from exactly one segment back. */
  second_gain: number;
  loss_by_repeat: number[];
}

/** One probed checkpoint (a line of `copy_distance_probe.jsonl`). */
export interface CopyDistanceProbe {
  label: string;
  recipe: string;
  step: number;
  by_segment: CopyDistanceRow[];
  /** Mean cosine of positional rows p and p + lag over p in `[wpe_from, wpe_to − lag)`. */
  wpe_lag_cosine: { lag: number; cosine: number }[];
  wpe_from: number;
  wpe_to: number;
}

/**
 * Whether no repeat distance `k·segment` (k ≥ 1, within `positions`) is a multiple of `period`.
 *
 * @example
 * ```ts
 * import { aperiodicSegment } from "./copy_distance.ts";
 * aperiodicSegment(100, 500); // true: 100, 200, 300, 400
 * aperiodicSegment(48, 480); // false: 192 = 3 × 64
 * ```
 */
export function aperiodicSegment(segment: number, positions: number, period = COPY_PERIOD): boolean {
  for (let dist = segment; dist < positions; dist += segment) if (dist % period === 0) return false;
  return true;
}

/**
 * The induction test at each segment length (the pilot probe's ids and seed,
 * 4 rows), within the first `within` positions (default
 * {@link COPY_POSITIONS}; each length fills the largest multiple of itself).
 */
export function copyDistance(
  model: Gpt2,
  segments: readonly number[] = COPY_SEGMENTS,
  within = COPY_POSITIONS,
): CopyDistanceRow[] {
  return segments.map((segment) => {
    const positions = Math.floor(within / segment) * segment;
    const s = inductionScore(model, { segment, positions, ids: pilotInductionIds(model.cfg.d_vocab), rows: 4 });
    const [first, second] = s.loss_by_repeat as [number, number];
    return {
      segment,
      positions,
      aperiodic: aperiodicSegment(segment, positions),
      gain: s.gain,
      second_gain: first - second,
      loss_by_repeat: s.loss_by_repeat,
    };
  });
}

/**
 * Mean cosine of rows p and p + lag of a row-major `[rows, d]` matrix, over p in `[from, to − lag)`.
 *
 * @example
 * ```ts
 * import { lagCosines } from "./copy_distance.ts";
 * const w = Float32Array.from([1, 0, 0, 1, 1, 0, 0, 1]); // 4 rows of d = 2, period 2
 * lagCosines(w, 2, [1, 2], 0, 4); // [{ lag: 1, cosine: 0 }, { lag: 2, cosine: 1 }]
 * ```
 */
export function lagCosines(
  w: Float32Array,
  d: number,
  lags: readonly number[],
  from: number,
  to: number,
): { lag: number; cosine: number }[] {
  const row = (i: number) => w.subarray(i * d, (i + 1) * d);
  return lags.map((lag) => {
    if (!(to - lag > from)) throw new RangeError(`lagCosines: lag ${lag} leaves no pair in rows [${from}, ${to})`);
    let sum = 0;
    for (let p = from; p < to - lag; p++) {
      const a = row(p), b = row(p + lag);
      let ab = 0, aa = 0, bb = 0;
      for (let k = 0; k < d; k++) {
        const x = a[k] as number, y = b[k] as number;
        ab += x * y;
        aa += x * x;
        bb += y * y;
      }
      sum += ab / Math.sqrt(aa * bb);
    }
    return { lag, cosine: sum / (to - lag - from) };
  });
}

/** The verdict of the module's rule. */
export interface CopyVerdict {
  verdict: "induction" | "fixed-offset" | "none";
  /** The 64-token segment's gain (the induction target's measure). */
  gain64: number;
  /** The smallest gain over the aperiodic segments. */
  aperiodic_min: number;
}

/**
 * The module's rule on one checkpoint's rows (`what` names it in errors).
 *
 * @throws {RangeError} when the rows lack the 64-token segment or any aperiodic segment
 *
 * @example
 * ```ts
 * import { copyVerdict } from "./copy_distance.ts";
 * const row = (segment: number, aperiodic: boolean, gain: number) =>
 *   ({ segment, positions: 512, aperiodic, gain, second_gain: 0, loss_by_repeat: [] });
 * copyVerdict([row(64, false, 5.8), row(100, true, -0.1)]).verdict; // "fixed-offset"
 * ```
 */
export function copyVerdict(
  rows: readonly CopyDistanceRow[],
  minGain = COPY_MIN_GAIN,
  what = "copyVerdict",
): CopyVerdict {
  const g64 = rows.find((r) => r.segment === 64);
  const aperiodic = rows.filter((r) => r.aperiodic);
  if (!g64 || aperiodic.length === 0) {
    throw new RangeError(`${what}: needs the 64-token segment and at least one aperiodic segment`);
  }
  const aperiodic_min = Math.min(...aperiodic.map((r) => r.gain));
  const verdict = aperiodic_min >= minGain ? "induction" : g64.gain >= minGain ? "fixed-offset" : "none";
  return { verdict, gain64: g64.gain, aperiodic_min };
}

/**
 * Reads the probe's JSON lines; throws naming the file, line and field when one is missing or not finite.
 *
 * @example
 * ```ts
 * // const probes = await loadCopyDistanceProbes("data/embedded/copy_distance_probe.jsonl");
 * ```
 */
export async function loadCopyDistanceProbes(path: string): Promise<CopyDistanceProbe[]> {
  return (await readJsonLines<CopyDistanceProbe>(path)).map((q, i) => {
    const at = `${path}: line ${i + 1}`;
    if (typeof q.label !== "string" || typeof q.recipe !== "string") {
      throw new Error(`${at}: label/recipe: expected text`);
    }
    for (const f of ["step", "wpe_from", "wpe_to"] as const) {
      if (!Number.isFinite(q[f])) throw new Error(`${at}: ${f}: expected a number, got ${JSON.stringify(q[f])}`);
    }
    if (!Array.isArray(q.by_segment) || q.by_segment.length === 0) {
      throw new Error(`${at}: by_segment: expected a non-empty list, got ${JSON.stringify(q.by_segment)}`);
    }
    q.by_segment.forEach((r, k) => {
      for (const f of ["segment", "positions", "gain", "second_gain"] as const) {
        if (!Number.isFinite(r?.[f])) {
          throw new Error(`${at}: by_segment[${k}].${f}: expected a number, got ${JSON.stringify(r?.[f])}`);
        }
      }
      if (typeof r.aperiodic !== "boolean") {
        throw new Error(`${at}: by_segment[${k}].aperiodic: expected true or false`);
      }
    });
    if (!Array.isArray(q.wpe_lag_cosine) || !q.wpe_lag_cosine.every((c) => Number.isFinite(c?.cosine))) {
      throw new Error(`${at}: wpe_lag_cosine: expected [{lag, cosine}], got ${JSON.stringify(q.wpe_lag_cosine)}`);
    }
    return q as CopyDistanceProbe;
  });
}

/** Gain against segment length, one line per probed checkpoint, with the bar of the rule. */
export function copyDistanceFigure(probes: readonly CopyDistanceProbe[]): Figure {
  const lengths = [...new Set(probes.flatMap((p) => p.by_segment.map((r) => r.segment)))].sort((a, b) => a - b);
  const bar = lineTrace([lengths[0] ?? 0, lengths.at(-1) ?? 0], [COPY_MIN_GAIN, COPY_MIN_GAIN], {
    name: `bar (${COPY_MIN_GAIN} nats)`,
    dash: "dash",
    color: "#888888",
    width: 1,
  });
  return figure(
    [
      ...probes.map((p, i) =>
        lineTrace(p.by_segment.map((r) => r.segment), p.by_segment.map((r) => r.gain), {
          name: p.label,
          mode: "lines+markers",
          // the colour cycle has 8 colours: later probes repeat one, so they are dashed
          ...(i >= 8 ? { dash: "dash" as const } : {}),
        })
      ),
      bar,
    ],
    {
      title: { text: `Copying by segment length: induction gains at every length, a fixed-offset head only at some` },
      xaxis: { title: { text: "segment length (tokens); positions probed: 512 unless the label says otherwise" } },
      yaxis: { title: { text: "induction gain (nats)" } },
      // below the axis title, which sits at about y −0.15
      legend: { orientation: "h", x: 0, xanchor: "left", y: -0.25, yanchor: "top" },
      height: 600,
    },
  );
}
