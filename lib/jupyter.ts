/**
 * Typed, defensive access to `Deno.jupyter`, which exists only inside the
 * `deno jupyter` kernel (elsewhere its getter throws).
 *
 * @example
 * ```ts
 * import { jupyter } from "./jupyter.ts";
 * const j = jupyter();
 * if (j) await j.display({ "text/plain": "hello" }, { raw: true });
 * else console.log("hello");
 * ```
 *
 * @module
 */

/** A Jupyter MIME bundle: MIME type → content. */
export type MimeBundle = Record<string, unknown>;

/** Options of `Deno.jupyter.display`. */
export interface DisplayOptions {
  raw?: boolean;
  update?: boolean;
  display_id?: string;
}

/** The part of `Deno.jupyter` this project uses. */
export interface JupyterApi {
  display(obj: unknown, options?: DisplayOptions): Promise<void>;
  broadcast(
    msgType: string,
    content: Record<string, unknown>,
    extra?: { metadata?: Record<string, unknown>; buffers?: Uint8Array[] },
  ): Promise<void> | void;
}

/** `Deno.jupyter` when running in the kernel, else null. */
export function jupyter(): JupyterApi | null {
  try {
    const j = (Deno as unknown as { jupyter?: Partial<JupyterApi> }).jupyter;
    if (j && typeof j.display === "function" && typeof j.broadcast === "function") return j as JupyterApi;
  } catch {
    // "Deno.jupyter is only available in `deno jupyter` subcommand"
  }
  return null;
}

/** True inside the Deno Jupyter kernel. */
export function inKernel(): boolean {
  return jupyter() !== null;
}

/**
 * Shows plain text as a notebook output (a `display_data` message, sent at
 * once, so it cannot trail into the next cell the way buffered stdout can),
 * or prints it outside the kernel.
 *
 * @example
 * ```ts
 * import { showText } from "./jupyter.ts";
 * await showText("backend: wasm");
 * ```
 */
export async function showText(text: string): Promise<void> {
  const j = jupyter();
  if (j === null) {
    console.log(text);
    return;
  }
  await j.broadcast("display_data", { data: { "text/plain": text }, metadata: {}, transient: {} });
}
