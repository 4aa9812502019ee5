/**
 * Numbers the notebooks print and test claims with: per-layer window means of
 * a context sweep (inside the SAE training context, positions 1 … ctx−1, and
 * beyond it, ctx … T−1), how long a metric "holds" past the training context,
 * Spearman rank correlations, and claim verdict rows whose text is built from
 * the measured numbers.
 *
 * @example
 * ```ts
 * import { holdPosition, spearman } from "./summary.ts";
 * spearman([0, 1, 2, 3], [1, 3, 2, 4]); // 0.8
 * holdPosition(Float64Array.from({ length: 64 }, (_, j) => (j < 24 ? 1 : 3)), 16, { factor: 2 }); // 24
 * ```
 *
 * @module
 */

import type { PositionStats } from "../metrics/per_position.ts";
import type { ContextSweepResult } from "./context_sweep.ts";

/** Window means of one layer of a context sweep. */
export interface LayerWindowRow {
  layer: number;
  hook: string;
  /** `in` = positions 1 … ctx−1, `out` = ctx … T−1 (CE-based metrics end at T−2). */
  dce_in: number;
  dce_in_se: number;
  dce_out: number;
  dce_out_se: number;
  kl_in: number;
  kl_in_se: number;
  kl_out: number;
  kl_out_se: number;
  mse_in: number;
  mse_out: number;
  nmse_in: number;
  nmse_out: number;
  l0_in: number;
  l0_out: number;
  l1_in: number;
  l1_out: number;
  norm_in: number;
  norm_out: number;
  /** CE-loss recovered inside the context (null without zero ablation). */
  ce_recovered_in: number | null;
  ce_recovered_out: number | null;
  explained_variance_in: number | null;
}

/**
 * Per-layer window means of a context sweep.
 *
 * @example
 * ```ts
 * import { layerWindowRows } from "./summary.ts";
 * // pl.DataFrame(layerWindowRows(result));
 * ```
 */
export function layerWindowRows(res: ContextSweepResult): LayerWindowRow[] {
  const c = res.saeContext;
  const T = res.T;
  return res.layers.map((l) => {
    const s = l.metrics.stats;
    const w = (st: PositionStats, a: number, b: number) => st.pooled(a, b);
    const rec = l.metrics.ceRecovered;
    const hasRec = rec.pooled().count > 0;
    const ev = l.metrics.explainedVariance;
    return {
      layer: l.label,
      hook: l.hook,
      dce_in: w(s.delta_ce, 1, c).mean,
      dce_in_se: w(s.delta_ce, 1, c).se,
      dce_out: w(s.delta_ce, c, T).mean,
      dce_out_se: w(s.delta_ce, c, T).se,
      kl_in: w(s.kl, 1, c).mean,
      kl_in_se: w(s.kl, 1, c).se,
      kl_out: w(s.kl, c, T).mean,
      kl_out_se: w(s.kl, c, T).se,
      mse_in: w(s.mse_element_mean, 1, c).mean,
      mse_out: w(s.mse_element_mean, c, T).mean,
      nmse_in: w(s.mse_normalised, 1, c).mean,
      nmse_out: w(s.mse_normalised, c, T).mean,
      l0_in: w(s.l0, 1, c).mean,
      l0_out: w(s.l0, c, T).mean,
      l1_in: w(s.l1, 1, c).mean,
      l1_out: w(s.l1, c, T).mean,
      norm_in: w(s.act_norm, 1, c).mean,
      norm_out: w(s.act_norm, c, T).mean,
      ce_recovered_in: hasRec ? rec.pooled(1, c).ratio : null,
      ce_recovered_out: hasRec ? rec.pooled(c, T).ratio : null,
      explained_variance_in: ev && ev.pooled().count > 0 ? ev.pooled(1, c).explainedVariance : null,
    };
  });
}

/** Options of {@link holdPosition}. */
export interface HoldOptions {
  /** Degraded = the windowed mean exceeds `factor` × the baseline (default 2). */
  factor?: number;
  /** Window width (default max(1, round(ctx / 8))). */
  window?: number;
}

/**
 * The first position p ≥ ctx at which a per-position curve has degraded: the
 * mean over [p, p + w) exceeds `factor` × the baseline (the mean over the late
 * in-context positions [ctx/2, ctx)). Returns the curve length when it never
 * does (the metric holds to the end). NaN entries are skipped.
 */
export function holdPosition(values: ArrayLike<number>, ctx: number, opts: HoldOptions = {}): number {
  const factor = opts.factor ?? 2;
  const w = opts.window ?? Math.max(1, Math.round(ctx / 8));
  const avg = (a: number, b: number) => finiteMean(values, a, b);
  const base = avg(Math.max(1, Math.floor(ctx / 2)), ctx);
  for (let p = ctx; p + w <= values.length; p++) {
    const m = avg(p, p + w);
    if (Number.isFinite(m) && m > factor * base) return p;
  }
  return values.length;
}

/** True when the windowed curve at `p` exceeds `factor` × its in-context baseline (as {@link holdPosition}). */
export function degradedAt(values: ArrayLike<number>, ctx: number, p: number, opts: HoldOptions = {}): boolean {
  const w = opts.window ?? Math.max(1, Math.round(ctx / 8));
  const base = finiteMean(values, Math.max(1, Math.floor(ctx / 2)), ctx);
  const m = finiteMean(values, p, p + w);
  return Number.isFinite(m) && Number.isFinite(base) && m > (opts.factor ?? 2) * base;
}

/** Mean of the finite entries of `values[a … b)`; NaN when there are none. */
export function finiteMean(values: ArrayLike<number>, a: number, b: number): number {
  let s = 0;
  let n = 0;
  for (let j = Math.max(0, a); j < Math.min(b, values.length); j++) {
    if (Number.isFinite(values[j]!)) {
      s += values[j]!;
      n++;
    }
  }
  return n > 0 ? s / n : NaN;
}

function ranks(xs: readonly number[]): number[] {
  const idx = xs.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(xs.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1]![0] === idx[i]![0]) j++;
    for (let k = i; k <= j; k++) r[idx[k]![1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

/** Spearman rank correlation (ties get mean ranks); NaN for fewer than 2 points or constant input. */
export function spearman(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new RangeError(`spearman: ${x.length} x values vs ${y.length} y values`);
  if (x.length < 2) return NaN;
  const rx = ranks(x);
  const ry = ranks(y);
  const m = (rx.length + 1) / 2;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < rx.length; i++) {
    sxy += (rx[i]! - m) * (ry[i]! - m);
    sxx += (rx[i]! - m) ** 2;
    syy += (ry[i]! - m) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

/** A claim of the study, what this run measured, and the verdict. */
export interface ClaimRow {
  id: string;
  claim: string;
  measured: string;
  verdict: "reproduced" | "not reproduced" | "not testable here";
}

/** Builds a {@link ClaimRow}; `holds` null means not testable. */
export function claimRow(id: string, claim: string, measured: string, holds: boolean | null): ClaimRow {
  return {
    id,
    claim,
    measured,
    verdict: holds === null ? "not testable here" : holds ? "reproduced" : "not reproduced",
  };
}

/** Formats a number for claim text (3 significant digits, exponent when tiny or huge). */
export function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "n/a";
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(2) : Number(x.toPrecision(3)).toString();
}

/**
 * The claims F1/F2 test (R1–R6, R8 and acceptance test 3), each verdict computed
 * from the sweep. Hold positions use normalised MSE (R2: "clearest in the MSE/L1
 * plots") and KL (R1: the loss) with factor 2 and window ctx/8.
 */
export function contextClaims(res: ContextSweepResult): ClaimRow[] {
  const rows = layerWindowRows(res);
  const ctx = res.saeContext;
  const holdN = res.layers.map((l) => holdPosition(l.metrics.stats.mse_normalised.mean(), ctx));
  const holdK = res.layers.map((l) => holdPosition(l.metrics.stats.kl.mean(), ctx));
  const w = Math.max(1, Math.round(ctx / 8));
  const labels = rows.map((r) => r.layer);
  const out: ClaimRow[] = [];
  const holdText = (h: number[]) =>
    res.layers.map((l, i) => `L${l.label}: ${h[i]! >= res.T - 1 ? `≥${res.T - 1}` : h[i]}`).join(", ");
  out.push(claimRow(
    "R1",
    `the spliced loss stays low for a while past the ${ctx}-token training context (the study: to ~200 of 128)`,
    `first position where KL(j) doubles its late in-context level: ${holdText(holdK)}`,
    Math.max(...holdK) >= ctx + w,
  ));
  out.push(claimRow(
    "R2",
    "layer effect: the last layer holds longer past the training context than layer 0",
    `normalised-MSE hold position: ${holdText(holdN)} (ctx = ${ctx})`,
    res.layers.length > 1 ? holdN[holdN.length - 1]! > holdN[0]! : null,
  ));
  const p2 = 2 * ctx;
  const allBadAt2 = res.layers.every((l) => degradedAt(l.metrics.stats.mse_normalised.mean(), ctx, p2));
  const someWindow = holdN.some((h) => h > ctx + w && h < p2);
  out.push(claimRow(
    "R3",
    `at powers of two everything looks bad past ${ctx}; only all positions reveal the window between ${ctx} and ${p2}`,
    `all layers degraded (2× in-context NMSE) at j = ${p2}: ${allBadAt2}; some layer holds into (${ctx}, ${p2}): ${someWindow}`,
    p2 + w > res.T ? null : allBadAt2 && someWindow,
  ));
  const later = rows.filter((r) => r.layer > 0);
  const l0 = rows.find((r) => r.layer === 0);
  const ratio = l0 && later.length > 0 ? Math.min(...later.map((r) => r.norm_in)) / l0.norm_in : NaN;
  out.push(claimRow(
    "R4",
    "layer-0 activations are ~10× smaller than any later layer's (j ≥ 1)",
    `smallest later-layer ‖x‖ / layer-0 ‖x‖ = ${fmt(ratio)} (reproduced when ≥ 5)`,
    Number.isFinite(ratio) ? ratio >= 5 : null,
  ));
  const rhoIn = spearman(labels, rows.map((r) => r.dce_in));
  out.push(claimRow(
    "R5",
    "inside the training context the SAEs do well, and later layers raise the loss more than early ones",
    `ΔCE (1…${ctx - 1}) by layer: ${rows.map((r) => `L${r.layer} ${fmt(r.dce_in)}`).join(", ")}; Spearman ρ = ${
      fmt(rhoIn)
    }; CE recovered: ${rows.map((r) => fmt(r.ce_recovered_in)).join(", ")}`,
    rows.length > 1 ? rhoIn > 0 : null,
  ));
  const rhoOut = spearman(labels, rows.map((r) => r.dce_out));
  const worse = rows.filter((r) => r.dce_out > r.dce_in).length;
  out.push(claimRow(
    "R6",
    "past the training context the SAEs do worse in general, worst in early layers and best in late ones",
    `ΔCE (${ctx}…${res.T - 2}) by layer: ${rows.map((r) => `L${r.layer} ${fmt(r.dce_out)}`).join(", ")}; ` +
      `worse than in-context for ${worse}/${rows.length} layers; Spearman ρ(layer, ΔCE) = ${fmt(rhoOut)}`,
    rows.length > 1 ? rhoOut < 0 && worse > rows.length / 2 : null,
  ));
  out.push(claimRow(
    "R8",
    "the published ΔCE formula's sign error (H1) puts every spliced loss below the clean loss; the fixed plot does not",
    `mean ΔCE (1…${ctx - 1}) positive for ${rows.filter((r) => r.dce_in > 0).length}/${rows.length} layers, ` +
      `so the sign-flipped plot shows every layer below clean`,
    rows.every((r) => r.dce_in > 0),
  ));
  const rec = rows.map((r) => r.ce_recovered_in);
  out.push(claimRow(
    "A3",
    "acceptance test 3: the CE-loss score is high (≫ 0.5) for every layer inside the training context",
    rec.every((r) => r === null)
      ? "zero ablation not run"
      : `CE recovered (1…${ctx - 1}): ${rows.map((r) => `L${r.layer} ${fmt(r.ce_recovered_in)}`).join(", ")}`,
    rec.some((r) => r === null) ? null : rec.every((r) => r! > 0.5),
  ));
  return out;
}

/**
 * Column-wise table of row objects for `pl.DataFrame`, numbers rounded to
 * `digits` significant digits (display only; figure data keep full precision).
 *
 * @example
 * ```ts
 * import { tableColumns } from "./summary.ts";
 * tableColumns([{ a: 1.23456, b: "x" }], 3); // { a: [1.23], b: ["x"] }
 * ```
 */
export function tableColumns<T extends object>(rows: readonly T[], digits = 4): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  if (rows.length === 0) return out;
  for (const key of Object.keys(rows[0]!)) {
    out[key] = rows.map((r) => {
      const v = (r as Record<string, unknown>)[key];
      if (typeof v === "number") return Number.isFinite(v) ? Number(v.toPrecision(digits)) : null;
      return v ?? null;
    });
  }
  return out;
}

/**
 * The F3 claims (third-party descriptions of the post's "downstream error propagation" section): splicing an early
 * SAE perturbs every later hook, later SAEs reconstruct the perturbed stream worse than the clean one, and the
 * perturbation is larger beyond the training context. Verdicts from the pooled window means.
 */
export function propagationClaims(
  inside: readonly { source: number; target: number; relDev: number; sseRatio: number }[],
  beyond: readonly { source: number; target: number; relDev: number; sseRatio: number }[],
  ctx: number,
): ClaimRow[] {
  const first = Math.min(...inside.map((r) => r.source));
  const fromFirst = inside.filter((r) => r.source === first);
  const compounding = inside.filter((r) => r.sseRatio > 1).length;
  const larger = beyond.filter((b) => {
    const i = inside.find((r) => r.source === b.source && r.target === b.target);
    return i !== undefined && b.relDev > i.relDev;
  }).length;
  return [
    claimRow(
      "F3-a",
      "errors of an early-layer SAE propagate: every later activation moves when it is spliced",
      `relative deviation at later hooks with SAE ${first} spliced (1…${ctx - 1}): ${
        fromFirst.map((r) => `→${r.target} ${fmt(r.relDev)}`).join(", ")
      }`,
      fromFirst.every((r) => r.relDev > 0),
    ),
    claimRow(
      "F3-b",
      "later SAEs reconstruct the perturbed stream worse than the clean one (errors compound)",
      `SSE ratio > 1 for ${compounding}/${inside.length} (source, target) pairs inside the training context`,
      compounding > inside.length / 2,
    ),
    claimRow(
      "F3-c",
      "the downstream perturbation is larger beyond the training context",
      `relative deviation larger beyond ${ctx} than inside for ${larger}/${beyond.length} pairs`,
      larger > beyond.length / 2,
    ),
  ];
}

/**
 * The benchmark claims (F4/F5, R7, acceptance test 6), from per-variant accuracies split at the SAE training
 * context: short prompts (≤ ctx) and long prompts (> ctx).
 */
export function benchmarkClaims(
  bench: "LAMBADA" | "CBT",
  split: readonly {
    variant: string;
    layer: number | null;
    short: { p: number; n: number };
    long: { p: number; n: number };
  }[],
  overall: readonly { layer: number | null; accuracy: number }[],
  ctx: number,
): ClaimRow[] {
  const clean = split.find((s) => s.layer === null)!;
  const layers = split.filter((s) => s.layer !== null);
  const labels = layers.map((s) => s.layer!);
  const out: ClaimRow[] = [];
  const cleanAcc = overall.find((r) => r.layer === null)!.accuracy;
  const spliced = overall.filter((r) => r.layer !== null);
  const meanSpliced = spliced.reduce((a, r) => a + r.accuracy, 0) / Math.max(1, spliced.length);
  out.push(claimRow(
    `${bench}-A6`,
    "acceptance test 6: spliced accuracies are at most the clean accuracy on average",
    `clean ${fmt(cleanAcc)}, mean over spliced layers ${fmt(meanSpliced)}`,
    spliced.length > 0 ? meanSpliced <= cleanAcc : null,
  ));
  const dropShort = layers.map((s) => clean.short.p - s.short.p);
  const dropLong = layers.map((s) => clean.long.p - s.long.p);
  const testableShort = clean.short.n > 0 && layers.length > 1;
  const testableLong = clean.long.n > 0 && layers.length > 1;
  const rhoShort = spearman(labels, dropShort);
  out.push(claimRow(
    `${bench}-R5`,
    `prompts within the training context (≤ ${ctx} tokens): accuracy near clean, later layers worse`,
    testableShort
      ? `${clean.short.n} short prompts; accuracy drop vs clean by layer: ${
        layers.map((s, i) => `L${s.layer} ${fmt(dropShort[i])}`).join(", ")
      }; Spearman ρ(layer, drop) = ${fmt(rhoShort)}`
      : `no prompts of ≤ ${ctx} tokens`,
    testableShort ? rhoShort > 0 : null,
  ));
  const rhoLong = spearman(labels, dropLong);
  out.push(claimRow(
    bench === "CBT" ? "CBT-R7" : `${bench}-R6`,
    bench === "CBT"
      ? "long-context CBT: later layers ok-ish, early layers poor"
      : `prompts longer than the training context: accuracy drops most for early layers`,
    testableLong
      ? `${clean.long.n} long prompts; accuracy drop vs clean by layer: ${
        layers.map((s, i) => `L${s.layer} ${fmt(dropLong[i])}`).join(", ")
      }; Spearman ρ(layer, drop) = ${fmt(rhoLong)}`
      : `no prompts longer than ${ctx} tokens`,
    testableLong ? rhoLong < 0 : null,
  ));
  return out;
}
