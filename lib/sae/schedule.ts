/**
 * Learning-rate schedule of study A, `constant_with_warmup_and_cooldown`, as a
 * pure function of the step.
 *
 * The study builds it from torch schedulers:
 * `SequentialLR([LambdaLR(λ(s) = min(1, (s+1)/W)), LinearLR(start 1, end 0, total_iters C)], milestones [T − C])`
 * with `W = int(0.1·T)` and `C = int(0.2·T)`, stepping the scheduler after each
 * optimiser step. Run under torch (1.13), step `s` (0-based, the `s`-th
 * optimiser step) then uses the multiplier
 *
 * | steps | multiplier |
 * | --- | --- |
 * | `0 ≤ s < T − C` | `min(1, (s + 1) / W)` — so step 0 uses `1/W`, step `W − 1` the first full `1` |
 * | `T − C ≤ s < T` | `(T − s) / C` — step `T − C` uses `1`, the last step `T − 1` uses `1/C` (never 0) |
 *
 * `W = 0` (fewer than 10 steps) means no warm-up (torch would divide by zero);
 * `C = 0` means no cool-down. `tests/sae_schedule_test.ts` checks these values
 * against numbers produced by torch.
 *
 * @example
 * ```ts
 * import { lrMultiplier, scheduleLengths } from "./schedule.ts";
 * const len = scheduleLengths(31_250, 0.1, 0.2); // { warmUp: 3125, coolDown: 6250 }
 * lrMultiplier(0, 31_250, len); // 0.00032
 * lrMultiplier(31_249, 31_250, len); // 0.00016
 * ```
 *
 * @module
 */

/** Warm-up and cool-down lengths in steps. */
export interface ScheduleLengths {
  /** `W = int(warmFraction · T)`. */
  warmUp: number;
  /** `C = int(coolFraction · T)`. */
  coolDown: number;
}

/**
 * Warm-up and cool-down lengths as the study computes them (`int()` truncation).
 *
 * @example
 * ```ts
 * import { scheduleLengths } from "./schedule.ts";
 * scheduleLengths(37, 0.1, 0.2); // { warmUp: 3, coolDown: 7 }
 * ```
 */
export function scheduleLengths(totalSteps: number, warmFraction: number, coolFraction: number): ScheduleLengths {
  if (!Number.isSafeInteger(totalSteps) || totalSteps < 1) {
    throw new RangeError(`schedule total steps: expected an integer ≥ 1, got ${totalSteps}`);
  }
  for (const [v, what] of [[warmFraction, "warm-up fraction"], [coolFraction, "cool-down fraction"]] as const) {
    if (!(v >= 0 && v <= 1)) throw new RangeError(`schedule ${what}: expected a number in [0, 1], got ${v}`);
  }
  return { warmUp: Math.trunc(warmFraction * totalSteps), coolDown: Math.trunc(coolFraction * totalSteps) };
}

/**
 * The learning-rate multiplier of 0-based step `step` (see the module table).
 *
 * @example
 * ```ts
 * import { lrMultiplier } from "./schedule.ts";
 * lrMultiplier(16, 20, { warmUp: 2, coolDown: 4 }); // 1
 * lrMultiplier(17, 20, { warmUp: 2, coolDown: 4 }); // 0.75
 * ```
 */
export function lrMultiplier(step: number, totalSteps: number, lengths: ScheduleLengths): number {
  if (!Number.isSafeInteger(step) || step < 0) {
    throw new RangeError(`schedule step: expected an integer ≥ 0, got ${step}`);
  }
  const { warmUp, coolDown } = lengths;
  if (coolDown > 0 && step >= totalSteps - coolDown) {
    return Math.max(0, totalSteps - step) / coolDown;
  }
  return warmUp > 0 ? Math.min(1, (step + 1) / warmUp) : 1;
}

/**
 * SAELens-style sparsity-coefficient warm-up: λ·min(1, step / warmUpSteps) (λ is 0 at step 0);
 * `warmUpSteps = 0` disables it.
 *
 * @example
 * ```ts
 * import { l1WarmUpMultiplier } from "./schedule.ts";
 * l1WarmUpMultiplier(50, 100); // 0.5
 * ```
 */
export function l1WarmUpMultiplier(step: number, warmUpSteps: number): number {
  return warmUpSteps > 0 ? Math.min(1, step / warmUpSteps) : 1;
}
