/**
 * Checks that fail loudly. Notebooks call these at top level so that a wrong
 * number stops the run (a `Deno.test` inside a notebook would not).
 *
 * @module
 */

/** The error every failed check throws. */
export class CheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckError";
  }
}

/**
 * Throws {@link CheckError} with `message` unless `condition` holds.
 *
 * @example
 * ```ts
 * import { check } from "./check.ts";
 * check(1 + 1 === 2, "arithmetic works");
 * ```
 */
export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new CheckError(`check failed: ${message}`);
}

/**
 * Throws unless `|actual − expected| ≤ tol`; the message names both values.
 *
 * @example
 * ```ts
 * import { checkClose } from "./check.ts";
 * checkClose(0.2501, 0.25, 0.001, "pair frequency");
 * ```
 */
export function checkClose(actual: number, expected: number, tol: number, what: string): void {
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new CheckError(
      `check failed: ${what}: expected ${expected} ± ${tol}, got ${actual} (off by ${Math.abs(actual - expected)})`,
    );
  }
}

/** Throws unless every value is a finite number; names the first bad index. */
export function checkFinite(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) {
      throw new CheckError(`check failed: ${what}: element ${i} is ${v}, expected a finite number`);
    }
  }
}
