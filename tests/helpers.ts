/**
 * Assertions shared by the test files (the project has no `@std/assert`):
 * each throws an Error whose message says what was expected.
 *
 * @example
 * ```ts
 * import { assert, assertClose, expectRejects } from "./helpers.ts";
 * assert(1 + 1 === 2, "arithmetic");
 * assertClose(0.1 + 0.2, 0.3, 1e-12, "sum");
 * await expectRejects(() => Promise.reject(new Error("bad header")), "header");
 * ```
 *
 * @module
 */

/** Throws `assertion failed: msg` unless `cond` is truthy. */
export function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

/** Throws unless `actual` and `expected` serialise to the same JSON. */
export function assertEquals(actual: unknown, expected: unknown, msg = ""): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${msg}\n  actual:   ${a}\n  expected: ${e}`);
}

/** Throws unless |a − b| ≤ tol. */
export function assertClose(a: number, b: number, tol: number, what: string): void {
  assert(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tolerance ${tol})`);
}

/** Largest |a[i] − b[i]|; throws on a length mismatch. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert(a.length === b.length, `lengths ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** The Error `fn` throws; throws if it returns normally or throws a non-Error. */
export function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    if (e instanceof Error) return e;
  }
  throw new Error("expected an error");
}

/** Throws unless `fn` throws an error whose message contains every phrase of `includes`. */
export function assertThrows(fn: () => unknown, includes: string[]): void {
  try {
    fn();
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    for (const s of includes) assert(m.includes(s), `error message "${m}" should contain "${s}"`);
    return;
  }
  throw new Error("expected an error");
}

/**
 * Awaits `fn` and throws unless it fails with a message containing every
 * phrase; returns that message.
 */
export async function expectRejects(fn: () => unknown, ...phrases: string[]): Promise<string> {
  try {
    await fn();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    for (const p of phrases) assert(msg.includes(p), `message ${JSON.stringify(msg)} mentions ${JSON.stringify(p)}`);
    return msg;
  }
  throw new Error(`expected an error mentioning ${phrases.join(", ")}`);
}
