/**
 * Tables of the benchmark results (F4a–d, F5a–b): accuracy per variant with
 * Wilson intervals, accuracy per prompt-length bin, clean→spliced outcome
 * transitions, and mean ΔCE / KL at the LAMBADA target position.
 *
 * Length bins are set relative to the SAE training context `ctx`: edges
 * 1, ctx/2 + 1, ctx + 1, 3ctx/2 + 1, 2ctx + 1, 4ctx + 1 (for ctx = 128: 1–64,
 * 65–128, 129–192, 193–256, 257–512, 513+, the spec's bins with the last split).
 *
 * @example
 * ```ts
 * import { lengthEdges } from "./bench_summary.ts";
 * lengthEdges(128); // [1, 65, 129, 193, 257, 513]
 * ```
 *
 * @module
 */

import { type AccuracyBin, binnedAccuracy, wilsonInterval } from "../metrics/wilson.ts";
import type { CbtEval, LambadaEval } from "./benchmarks_eval.ts";

/** Prompt-length bin edges relative to the SAE training context (see the module documentation). */
export function lengthEdges(ctx: number): number[] {
  const e = [1, Math.round(ctx / 2) + 1, ctx + 1, Math.round(1.5 * ctx) + 1, 2 * ctx + 1, 4 * ctx + 1];
  return e.filter((v, i) => i === 0 || v > e[i - 1]!);
}

/** One variant's accuracy. */
export interface AccuracyRow {
  variant: string;
  /** null for the clean model. */
  layer: number | null;
  n: number;
  correct: number;
  accuracy: number;
  lo: number;
  hi: number;
}

function mean(xs: ArrayLike<number>): { mean: number; se: number } {
  const n = xs.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += xs[i]!;
  m /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (xs[i]! - m) ** 2;
  return { mean: m, se: n > 1 ? Math.sqrt(v / (n - 1) / n) : NaN };
}

function accuracyRow(variant: string, layer: number | null, correct: Uint8Array): AccuracyRow {
  let k = 0;
  for (const c of correct) k += c;
  const w = wilsonInterval(k, correct.length);
  return { variant, layer, n: correct.length, correct: k, accuracy: w.p, lo: w.lo, hi: w.hi };
}

/** LAMBADA accuracy per variant plus the secondary scores (F4a, F4d). */
export interface LambadaRow extends AccuracyRow {
  /** Every target token is the argmax given the previous ones (teacher forcing). */
  fullWordAccuracy: number;
  /** Mean log-prob of the whole target word: the sum over its tokens (the primary table uses the first token only). */
  meanWordLogProb: number;
  /** Mean ΔCE on the first target token, −ln q + ln p (0 for clean). */
  deltaCe: number;
  deltaCeSe: number;
  /** Mean KL(clean ‖ spliced) at the last context position. */
  kl: number;
  klSe: number;
}

/**
 * Per-variant LAMBADA summary (clean first).
 *
 * @example
 * ```ts
 * import { lambadaSummary } from "./bench_summary.ts";
 * // lambadaSummary(lam).map((r) => [r.variant, r.accuracy]);
 * ```
 */
export function lambadaSummary(ev: LambadaEval): LambadaRow[] {
  const clean = ev.variants.find((v) => v.layer === null)!;
  return ev.variants.map((v) => {
    const dce = v.firstTokenLogProb.map((lq, i) => clean.firstTokenLogProb[i]! - lq);
    const d = mean(dce);
    const k = mean(v.klLast);
    let full = 0;
    for (const c of v.fullWordCorrect) full += c;
    return {
      ...accuracyRow(v.variant, v.layer, v.firstTokenCorrect),
      fullWordAccuracy: full / v.fullWordCorrect.length,
      meanWordLogProb: mean(v.targetLogProb).mean,
      deltaCe: d.mean,
      deltaCeSe: d.se,
      kl: k.mean,
      klSe: k.se,
    };
  });
}

/**
 * Per-variant CBT accuracy (clean first).
 *
 * @example
 * ```ts
 * import { cbtSummary } from "./bench_summary.ts";
 * // cbtSummary(cbt)[0].accuracy; // clean
 * ```
 */
export function cbtSummary(ev: CbtEval): AccuracyRow[] {
  return ev.variants.map((v) => accuracyRow(v.variant, v.layer, v.correct));
}

/** Accuracy per prompt-length bin of one variant. */
export interface BinRow extends AccuracyBin {
  variant: string;
  layer: number | null;
}

/**
 * Accuracy per length bin for every variant (F4b, F5b); `edges` default {@link lengthEdges}.
 *
 * @example
 * ```ts
 * import { binnedSummary } from "./bench_summary.ts";
 * // binnedSummary(lam).filter((r) => r.variant === "clean");
 * ```
 */
export function binnedSummary(ev: LambadaEval | CbtEval, edges = lengthEdges(ev.saeContext)): BinRow[] {
  const keys = ev.items.map((it) => it.promptLength);
  const out: BinRow[] = [];
  for (const v of ev.variants) {
    const correct = "correct" in v ? v.correct : v.firstTokenCorrect;
    for (const b of binnedAccuracy(keys, correct, edges)) out.push({ ...b, variant: v.variant, layer: v.layer });
  }
  return out;
}

/** Clean → spliced outcome changes of one layer (F4c). */
export interface TransitionRow {
  variant: string;
  layer: number;
  n: number;
  /** Items the clean model gets right and the spliced model wrong. */
  cleanCorrectToWrong: number;
  /** Items the clean model gets wrong and the spliced model right. */
  cleanWrongToCorrect: number;
  /** As fractions of all items. */
  fracBroken: number;
  fracFixed: number;
}

/**
 * Outcome transitions per layer, on the primary outcome.
 *
 * @example
 * ```ts
 * import { transitionSummary } from "./bench_summary.ts";
 * // transitionSummary(lam).map((r) => r.fracBroken);
 * ```
 */
export function transitionSummary(ev: LambadaEval | CbtEval): TransitionRow[] {
  const get = (v: (typeof ev.variants)[number]) => ("correct" in v ? v.correct : v.firstTokenCorrect);
  const clean = get(ev.variants.find((v) => v.layer === null)!);
  return ev.variants.filter((v) => v.layer !== null).map((v) => {
    const c = get(v);
    let broken = 0;
    let fixed = 0;
    for (let i = 0; i < c.length; i++) {
      if (clean[i] && !c[i]) broken++;
      if (!clean[i] && c[i]) fixed++;
    }
    return {
      variant: v.variant,
      layer: v.layer!,
      n: c.length,
      cleanCorrectToWrong: broken,
      cleanWrongToCorrect: fixed,
      fracBroken: broken / c.length,
      fracFixed: fixed / c.length,
    };
  });
}

/**
 * Accuracy of every variant on items with prompt length ≤ `ctx` and > `ctx`
 * (for the claims: short prompts near clean, long prompts worst for early layers).
 *
 * @example
 * ```ts
 * import { splitAtContext } from "./bench_summary.ts";
 * // splitAtContext(cbt).map((r) => [r.variant, r.short.p, r.long.p]);
 * ```
 */
export function splitAtContext(ev: LambadaEval | CbtEval): {
  variant: string;
  layer: number | null;
  short: ReturnType<typeof wilsonInterval>;
  long: ReturnType<typeof wilsonInterval>;
}[] {
  const isLong = ev.items.map((it) => it.promptLength > ev.saeContext);
  return ev.variants.map((v) => {
    const c = "correct" in v ? v.correct : v.firstTokenCorrect;
    let ks = 0, ns = 0, kl = 0, nl = 0;
    for (let i = 0; i < c.length; i++) {
      if (isLong[i]) {
        nl++;
        kl += c[i]!;
      } else {
        ns++;
        ks += c[i]!;
      }
    }
    return { variant: v.variant, layer: v.layer, short: wilsonInterval(ks, ns), long: wilsonInterval(kl, nl) };
  });
}
