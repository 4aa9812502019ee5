/**
 * FU1, the positional-embedding add-back test of the comment thread (study B
 * §7 item 1). With `W_E_c`, `W_pos_c` the centred embeddings (the model is
 * loaded with TransformerLens centring, so these are its `wte`/`wpe`), t the
 * token at position j and x the clean activation:
 *
 * | variant | replacement x̂ | where |
 * | --- | --- | --- |
 * | V0 | `SAE(x)` | any layer (the baseline) |
 * | V1 | `SAE(W_E_c[t]) + W_pos_c[j]` — only the token embedding goes through the SAE | layer 0 (`blocks.0.hook_resid_pre`) |
 * | V2 | `SAE(x) + W_pos_c[j]` — the naive add-back, double-counting position | any layer |
 * | V3 | `SAE(x − W_pos_c[j]) + W_pos_c[j]` | any layer (equals V1 at layer 0 up to rounding) |
 *
 * Each variant is a {@link Splice}, so `runSpliceSweep` gives MSE(j), ΔCE(j)
 * and KL(j) for all of them in one pass; L0/L1 are those of the SAE on its own input.
 *
 * @example
 * ```ts
 * import { positionalSpecs } from "./positional.ts";
 * // const specs = positionalSpecs(setup.model, sae0, 0, ["V0", "V1", "V2", "V3"]);
 * // const out = await runSpliceSweep(setup.model, rows, specs, { bosId: setup.bosId });
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { LanguageModel } from "../lm/language_model.ts";
import type { Sae } from "../sae/sae.ts";
import { saeApply, type Splice, type SpliceOutput } from "../splice/splice.ts";

/** The four variants. */
export const POSITIONAL_VARIANTS = ["V0", "V1", "V2", "V3"] as const;
/** One of {@link POSITIONAL_VARIANTS}. */
export type PositionalVariant = typeof POSITIONAL_VARIANTS[number];

/** What each variant does, for tables and captions. */
export const VARIANT_DESCRIPTIONS: Record<PositionalVariant, string> = {
  V0: "SAE(x) (baseline)",
  V1: "SAE(W_E[t]) + W_pos[j] (token embedding only through the SAE; layer 0)",
  V2: "SAE(x) + W_pos[j] (naive add-back)",
  V3: "SAE(x − W_pos[j]) + W_pos[j]",
};

/** `W_pos_c[0 … T−1]` broadcast to `[batch, T, d_model]`. */
function posRows(model: LanguageModel, B: number, T: number): tf.Tensor3D {
  const wpe = model.params.get("wpe.weight")!; // [n_ctx, d_model]
  const d = model.cfg.d_model;
  return tf.tidy(() => tf.broadcastTo(tf.slice(wpe, [0, 0], [T, d]), [B, T, d]) as tf.Tensor3D);
}

/** The splice of one variant at `sae`'s hook (see the module documentation). */
export function positionalSpec(model: LanguageModel, sae: Sae, label: number, variant: PositionalVariant): Splice {
  const hook = sae.cfg.hook_name;
  if (variant === "V1" && hook !== "blocks.0.hook_resid_pre") {
    throw new RangeError(
      `variant V1 (token embedding through the SAE) exists only at blocks.0.hook_resid_pre, not ${hook}`,
    );
  }
  const withPos = (x: tf.Tensor3D, inner: (pos: tf.Tensor3D) => tf.Tensor3D, addBack: boolean): SpliceOutput => {
    const [B, T] = x.shape;
    const pos = posRows(model, B, T);
    const input = inner(pos);
    const out = saeApply(sae, input);
    if (input !== x) input.dispose();
    if (addBack) {
      const r = tf.add(out.recon, pos) as tf.Tensor3D;
      out.recon.dispose();
      out.recon = r;
    }
    pos.dispose();
    return out;
  };
  let reconstruct: Splice["reconstruct"];
  switch (variant) {
    case "V0":
      reconstruct = (x) => saeApply(sae, x);
      break;
    case "V1":
      reconstruct = (x, tokens) =>
        withPos(x, () => tf.gather(model.params.get("wte.weight")!, tokens) as tf.Tensor3D, true); // [batch, pos, d_model]
      break;
    case "V2":
      reconstruct = (x) => withPos(x, () => x, true);
      break;
    case "V3":
      reconstruct = (x) => withPos(x, (pos) => tf.sub(x, pos) as tf.Tensor3D, true);
      break;
  }
  return { key: `L${label}/${variant}`, hook, reconstruct };
}

/**
 * Specs of several variants of one SAE (keys `L<label>/<variant>`).
 *
 * @example
 * ```ts
 * import { positionalSpecs } from "./positional.ts";
 * // positionalSpecs(model, sae, 4, ["V0", "V3"]).map((s) => s.key); // ["L4/V0", "L4/V3"]
 * ```
 */
export function positionalSpecs(
  model: LanguageModel,
  sae: Sae,
  label: number,
  variants: readonly PositionalVariant[],
): Splice[] {
  return variants.map((v) => positionalSpec(model, sae, label, v));
}

/** Splits a spec key `L<label>/<variant>` into its parts. */
export function parseVariantKey(key: string): { layer: number; variant: PositionalVariant } {
  const m = /^L(\d+)\/(V[0-3])$/.exec(key);
  if (!m) throw new RangeError(`not a positional-variant key: "${key}" (expected L<label>/V0…V3)`);
  return { layer: Number(m[1]), variant: m[2] as PositionalVariant };
}
