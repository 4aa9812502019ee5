/**
 * The one spliced-loss loop: for a batch of tokens, one clean pass caching
 * every hook a splice reads, then per splice one pass whose activation at the
 * splice's hook is replaced by the splice's output computed from the clean
 * activation there (the activation a spliced pass would see, since everything
 * before the hook is unchanged). A spliced pass starts at the hook where the
 * model can ({@link LanguageModel.canStartAt}: the blocks below are not
 * recomputed), else it runs with a replacement hook; both give the same
 * logits. Every analysis that compares a model with spliced models calls it:
 * the SAE-on-LM evaluation's CE triple (`sae_training.ts`), study B's
 * per-position sweep (`runSpliceSweep`), its benchmark scoring
 * (`benchmarks_eval.ts`), its error propagation (`error_propagation.ts`) and
 * its position probes on a spliced stream (`position_probe.ts`).
 * What each analysis reads from the passes (per-token CE, KL, later
 * activations) is its own business.
 *
 * Ownership: the loop creates and disposes every tensor of the passes; a
 * consumer reads them (host copies, small derived tensors it disposes) and
 * must not keep them past the next step of the loop.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { defaultGpt2Config } from "../lm/config.ts";
 * import { Gpt2 } from "../lm/gpt2.ts";
 * import { splicedPasses } from "./spliced_loss.ts";
 * import { zeroSplice } from "./splice.ts";
 * const model = Gpt2.random(defaultGpt2Config({ n_layer: 2, d_model: 8, n_head: 2, n_ctx: 8, d_vocab: 10 }), 0);
 * const tokens = tf.tensor2d([[1, 2, 3, 4]], undefined, "int32");
 * const ce: number[] = [];
 * for (const pass of splicedPasses(model, tokens, [zeroSplice("zero", "blocks.1.hook_resid_pre")])) {
 *   ce.push(tf.tidy(() => tf.mean(model.lossPerToken(pass.logits!, tokens))).dataSync()[0]!);
 * }
 * // ce: [clean mean CE, zero-ablated mean CE]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { LanguageModel, RunResult } from "../lm/language_model.ts";
import type { Splice } from "./splice.ts";

/**
 * Logits `[batch, pos, d_vocab]` of a pass whose activation at `hook` is `act`:
 * started at the hook where the model can (the blocks below are not
 * recomputed), else through a replacement hook. `act` stays owned by the caller.
 *
 * @example
 * ```ts
 * import { splicedLogits } from "./spliced_loss.ts";
 * // const logits = splicedLogits(model, tokens, "blocks.2.hook_resid_pre", recon);
 * ```
 */
export function splicedLogits(model: LanguageModel, tokens: tf.Tensor2D, hook: string, act: tf.Tensor3D): tf.Tensor3D {
  return splicedRun(model, tokens, hook, act, {}).logits as tf.Tensor3D;
}

/**
 * The general spliced pass behind {@link splicedLogits}: activation `act` at
 * `hook`, the named later activations cached, logits unless `logits` is false.
 * `act` stays owned by the caller; the caller owns the result.
 */
export function splicedRun(
  model: LanguageModel,
  tokens: tf.Tensor2D,
  hook: string,
  act: tf.Tensor3D,
  opts: { cache?: readonly string[]; logits?: boolean },
): RunResult {
  const rest = {
    ...(opts.cache !== undefined ? { cache: opts.cache } : {}),
    ...(opts.logits !== undefined ? { logits: opts.logits } : {}),
  };
  return model.canStartAt(hook)
    ? model.run(tokens, { startAt: { hook, act }, ...rest })
    : model.run(tokens, { hooks: { [hook]: () => act }, ...rest });
}

/** The clean pass of one batch, as {@link splicedPasses} yields it. */
export interface CleanPass {
  /** `[batch, pos]` int32 input. */
  tokens: tf.Tensor2D;
  /** `[batch, pos, d_vocab]`, or null with `cleanLogits: false`. */
  logits: tf.Tensor3D | null;
  /** Activations at every splice's hook and at `cleanCache`, each `[batch, pos, d_model]`. */
  cache: Map<string, tf.Tensor3D>;
}

/** One spliced pass, as {@link splicedPasses} yields it. */
export interface SplicedPass {
  /** The splice and its index in the list. */
  splice: Splice;
  index: number;
  /** Clean activation at the splice's hook `[batch, pos, d_model]`. */
  x: tf.Tensor3D;
  /** What replaced it `[batch, pos, d_model]`, and the SAE feature activations (or null). */
  recon: tf.Tensor3D;
  acts: tf.Tensor3D | null;
  /** Logits of the spliced pass `[batch, pos, d_vocab]`, or null with `splicedLogits: false`. */
  logits: tf.Tensor3D | null;
  /** Activations of the spliced pass at `splicedCache(splice)`. */
  cache: Map<string, tf.Tensor3D>;
}

/** Options of {@link splicedPasses}. */
export interface SplicedLoopOptions {
  /** Hooks cached on the clean pass besides the splices' own (default none). */
  cleanCache?: readonly string[];
  /** Compute the clean logits (default true). */
  cleanLogits?: boolean;
  /** Hooks cached on each spliced pass (default none). */
  splicedCache?: (splice: Splice) => readonly string[];
  /** Compute the spliced logits (default true). */
  splicedLogits?: boolean;
}

/**
 * Runs `model` on `tokens` clean and then with each splice in turn (see the
 * module documentation): yields the clean pass first (`kind: "clean"`), then
 * one pass per splice in order (`kind: "spliced"`). Each pass's tensors live
 * until the loop is resumed; leaving the loop early (break, throw) disposes
 * them too. A plain `for … of` consumes it, from synchronous code or with
 * `await` in the body.
 */
export function* splicedPasses(
  model: LanguageModel,
  tokens: tf.Tensor2D,
  splices: readonly Splice[],
  opts: SplicedLoopOptions = {},
): Generator<({ kind: "clean" } & CleanPass) | ({ kind: "spliced" } & SplicedPass), void, undefined> {
  const hooks = [...new Set([...splices.map((s) => s.hook), ...(opts.cleanCache ?? [])])];
  const clean = model.run(tokens, { cache: hooks, ...(opts.cleanLogits === false ? { logits: false } : {}) });
  try {
    yield { kind: "clean", tokens, logits: clean.logits, cache: clean.cache };
    for (const [index, splice] of splices.entries()) {
      const x = clean.cache.get(splice.hook)!; // [batch, pos, d_model]
      const { recon, acts } = splice.reconstruct(x, tokens);
      let run: RunResult | null = null;
      try {
        run = splicedRun(model, tokens, splice.hook, recon, {
          ...(opts.splicedCache ? { cache: opts.splicedCache(splice) } : {}),
          ...(opts.splicedLogits === false ? { logits: false } : {}),
        });
        yield { kind: "spliced", splice, index, x, recon, acts, logits: run.logits, cache: run.cache };
      } finally {
        recon.dispose();
        acts?.dispose();
        run?.logits?.dispose();
        for (const t of run?.cache.values() ?? []) t.dispose();
      }
    }
  } finally {
    clean.logits?.dispose();
    for (const t of clean.cache.values()) t.dispose();
  }
}

/** One batch of equal-length rows, as {@link rowBatches} yields it. */
export interface RowBatch {
  /** Index of the batch's first row. */
  r0: number;
  /** Rows in the batch and tokens per row. */
  B: number;
  T: number;
  /** The rows, row-major `[B · T]`. */
  host: Int32Array;
  /** The same as a `[B, T]` int32 tensor (disposed when the loop resumes or ends). */
  tokens: tf.Tensor2D;
}

/**
 * Consecutive batches of at most `batchRows` rows, in order; the rows must
 * all have the same length (else a RangeError naming the row).
 *
 * @example
 * ```ts
 * import { rowBatches } from "./spliced_loss.ts";
 * const sizes = [...rowBatches([new Int32Array(4), new Int32Array(4), new Int32Array(4)], 2)].map((b) => b.B);
 * // sizes: [2, 1]
 * ```
 */
export function* rowBatches(rows: readonly Int32Array[], batchRows: number): Generator<RowBatch, void, undefined> {
  if (!(Number.isInteger(batchRows) && batchRows > 0)) {
    throw new RangeError(`rowBatches: batchRows must be a positive integer, got ${batchRows}`);
  }
  const T = rows[0]?.length ?? 0;
  rows.forEach((r, i) => {
    if (r.length !== T) throw new RangeError(`rowBatches: row ${i} has ${r.length} tokens, row 0 has ${T}`);
  });
  for (let r0 = 0; r0 < rows.length; r0 += batchRows) {
    const batch = rows.slice(r0, r0 + batchRows);
    const B = batch.length;
    const host = new Int32Array(B * T);
    batch.forEach((r, i) => host.set(r, i * T));
    const tokens = tf.tensor2d(host, [B, T], "int32");
    try {
      yield { r0, B, T, host, tokens };
    } finally {
      tokens.dispose();
    }
  }
}
