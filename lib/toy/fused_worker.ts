/**
 * Web Worker entry of the fused tiny-SAE kernel: receives one
 * {@link FusedChunkJob}, posts `{ type: "progress", done }` messages while
 * training and `{ type: "done", result }` (or `{ type: "error", message }`) at the end.
 * Started by `trainFusedSmall` in `fused_small.ts`.
 *
 * @example
 * ```ts
 * // started as: new Worker(new URL("./fused_worker.ts", import.meta.url), { type: "module" })
 * ```
 *
 * @module
 */

import { type FusedChunkJob, runFusedChunk } from "./fused_run.ts";

/** Messages a fused worker posts. */
export type FusedWorkerMessage =
  | { type: "progress"; done: number }
  | { type: "done"; result: ReturnType<typeof runFusedChunk> }
  | { type: "error"; message: string };

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<FusedChunkJob>) => void) | null;
  postMessage(msg: FusedWorkerMessage): void;
  close(): void;
};

scope.onmessage = (e: MessageEvent<FusedChunkJob>) => {
  try {
    const result = runFusedChunk(e.data, (done) => scope.postMessage({ type: "progress", done }));
    scope.postMessage({ type: "done", result });
  } catch (err) {
    scope.postMessage({ type: "error", message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  }
};
