/**
 * The core layer in one import: assertions for notebooks (`check.ts`), path
 * helpers (`path.ts`), the environment switches and output folders
 * (`env.ts`), progress bars (`progress.ts`) and access to the Jupyter kernel
 * (`jupyter.ts`). The files stay where they are; this barrel is what
 * notebooks import (`@lib/core` in the import map).
 *
 * @example
 * ```ts
 * import { check, isQuick, join } from "./core.ts";
 * check(join("a", "b") === "a/b", "paths join with a slash");
 * console.log(isQuick() ? "quick mode" : "full mode");
 * ```
 *
 * @module
 */

export * from "./check.ts";
export * from "./path.ts";
export * from "./env.ts";
export * from "./progress.ts";
export * from "./jupyter.ts";
