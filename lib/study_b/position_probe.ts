/**
 * Position probes: how much position information the residual stream carries
 * at each SAE hook, inside versus beyond the SAE training context. A linear
 * probe (ridge regression, closed form, intercept unpenalised) predicts the
 * position j from the clean activation x_j; it is fitted on the first
 * `trainFraction` of the prompts and scored (R²) on the others, separately for
 * positions 1 … ctx−1 (`in`), ctx … T−1 (`out`) and 1 … T−1 (`all`).
 *
 * Optionally one upstream SAE is spliced (`splicedSource`) and the probes
 * fitted on the **clean** stream read the spliced stream of the held-out
 * prompts: their mean predicted position per position bin shows whether the
 * spliced stream still "says" where it is. This is the test of the
 * upstream-splice mechanism (notebook 12): if an SAE-0 splice maps positions
 * past the context onto in-context ones, later SAEs see an in-distribution
 * stream there and reconstruct it better than the clean one.
 *
 * Ridge penalty: λ = `lambdaRel` × trace(C)/d on the centred covariance C.
 *
 * @example
 * ```ts
 * import { runPositionProbes } from "./position_probe.ts";
 * // const probes = await runPositionProbes(setup, rows.rows, { trainFraction: 0.5 });
 * // probes.layers.map((l) => [l.label, l.r2.in.estimate, l.r2.out.estimate]);
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { bootstrapRows, type Interval } from "../metrics/bootstrap.ts";
import { readHost } from "../engine/host_read.ts";
import { progress } from "../progress.ts";
import type { Sae } from "../sae/sae.ts";
import { saeSplice } from "../splice/splice.ts";
import { rowBatches, splicedPasses } from "../splice/spliced_loss.ts";
import { loadStudySae, type StudySetup } from "./setup.ts";

/** Options of {@link runPositionProbes}. */
export interface ProbeConfig {
  /** Share of the prompts the probes are fitted on (the rest are held out). */
  trainFraction: number;
  /** Ridge penalty relative to the mean feature variance. */
  lambdaRel: number;
  /** Rows per forward pass. */
  batchRows: number;
  /** Splice this SAE (layer label) and read the later hooks' spliced streams with the clean probes; null = none. */
  splicedSource: number | null;
  /** Width of the bins of the spliced-stream table (positions). */
  tableBin: number;
  seed: number;
  progress: boolean;
}

/**
 * Default {@link ProbeConfig}: half the prompts for fitting, λ = 1e-2 of the
 * mean variance, 4 rows per pass, no splice, table bins of 64 positions.
 *
 * @example
 * ```ts
 * import { defaultProbeConfig } from "./position_probe.ts";
 * defaultProbeConfig({ splicedSource: 0 }).trainFraction; // 0.5
 * ```
 */
export function defaultProbeConfig(overrides: Partial<ProbeConfig> = {}): ProbeConfig {
  return {
    trainFraction: 0.5,
    lambdaRel: 1e-2,
    batchRows: 4,
    splicedSource: null,
    tableBin: 64,
    seed: 0,
    progress: true,
    ...overrides,
  };
}

const WINDOWS = ["in", "out", "all"] as const;
/** A probe window. */
export type ProbeWindow = typeof WINDOWS[number];

/**
 * Streaming sums of a ridge fit: Σx, Σxxᵀ, Σy, Σxy, n, in float64 across
 * batches. Features are shifted by the first batch's mean before the products
 * (the fit is shift-invariant; the shift keeps the float32 products of one
 * batch from cancelling).
 */
export class RidgeSums {
  readonly d: number;
  n = 0;
  sy = 0;
  readonly sx: Float64Array;
  readonly sxx: Float64Array;
  readonly sxy: Float64Array;
  shift: Float32Array | null = null;
  constructor(d: number) {
    this.d = d;
    this.sx = new Float64Array(d);
    this.sxx = new Float64Array(d * d);
    this.sxy = new Float64Array(d);
  }

  /** Adds rows `x` `[n, d]` (row-major) with targets `y` (the products run in tfjs). */
  async add(x: Float32Array, y: Float32Array): Promise<void> {
    const d = this.d;
    const n = y.length;
    if (x.length !== n * d) throw new RangeError(`RidgeSums: ${x.length} features for ${n} targets of width ${d}`);
    if (n === 0) return;
    if (this.shift === null) {
      const m = new Float32Array(d);
      for (let i = 0; i < n; i++) for (let a = 0; a < d; a++) m[a]! += x[i * d + a]! / n;
      this.shift = m;
    }
    const shift = this.shift;
    const [xtx, xty, sx] = tf.tidy(() => {
      const X = tf.sub(tf.tensor2d(x, [n, d]), tf.tensor1d(shift)); // [n, d]
      const Y = tf.tensor2d(y, [n, 1]); // [n, 1]
      return [tf.matMul(X, X, true, false), tf.matMul(X, Y, true, false), tf.sum(X, 0)];
    });
    const [a, b, c] = [await readHost(xtx!), await readHost(xty!), await readHost(sx!)];
    for (let i = 0; i < d * d; i++) this.sxx[i]! += a[i]!;
    for (let i = 0; i < d; i++) {
      this.sxy[i]! += b[i]!;
      this.sx[i]! += c[i]!;
    }
    for (let i = 0; i < n; i++) this.sy += y[i]!;
    this.n += n;
  }

  /** Shifted features of one row `x[p·d …]` for prediction. */
  shifted(x: Float32Array, p: number, out: Float64Array): Float64Array {
    for (let a = 0; a < this.d; a++) out[a] = x[p * this.d + a]! - (this.shift?.[a] ?? 0);
    return out;
  }

  /** Ridge solution on centred data: weights and intercept. */
  solve(lambdaRel: number): { w: Float64Array; b: number } {
    const { d, n } = this;
    if (n < 2) throw new RangeError(`RidgeSums: ${n} samples, need ≥ 2`);
    const mx = this.sx.map((v) => v / n);
    const my = this.sy / n;
    const A = new Float64Array(d * d);
    let tr = 0;
    for (let a = 0; a < d; a++) {
      for (let b = a; b < d; b++) {
        const c = (this.sxx[a * d + b]! + this.sxx[b * d + a]!) / (2 * n) - mx[a]! * mx[b]!;
        A[a * d + b] = c;
        A[b * d + a] = c;
      }
      tr += A[a * d + a]!;
    }
    const lam = lambdaRel * tr / d + 1e-12;
    for (let a = 0; a < d; a++) A[a * d + a]! += lam;
    const rhs = Float64Array.from({ length: d }, (_, a) => this.sxy[a]! / n - mx[a]! * my);
    const w = choleskySolve(A, rhs, d);
    let b = my;
    for (let a = 0; a < d; a++) b -= mx[a]! * w[a]!;
    return { w, b };
  }
}

/** Solves A w = r for a symmetric positive-definite A `[d, d]` (Cholesky, float64). */
export function choleskySolve(A: Float64Array, r: Float64Array, d: number): Float64Array {
  const L = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * d + j]!;
      for (let k = 0; k < j; k++) s -= L[i * d + k]! * L[j * d + k]!;
      if (i === j) {
        if (!(s > 0)) throw new RangeError(`choleskySolve: matrix not positive definite at ${i} (${s})`);
        L[i * d + i] = Math.sqrt(s);
      } else L[i * d + j] = s / L[j * d + j]!;
    }
  }
  const z = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = r[i]!;
    for (let k = 0; k < i; k++) s -= L[i * d + k]! * z[k]!;
    z[i] = s / L[i * d + i]!;
  }
  const w = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let k = i + 1; k < d; k++) s -= L[k * d + i]! * w[k]!;
    w[i] = s / L[i * d + i]!;
  }
  return w;
}

/** Per held-out row: Σy, Σy², Σ(y − ŷ)², n of one window. */
interface RowScore {
  sy: number[];
  syy: number[];
  sse: number[];
  n: number[];
}

const emptyScore = (): RowScore => ({ sy: [], syy: [], sse: [], n: [] });

/** R² pooled over the held-out rows, with a bootstrap interval over them. */
export function r2Interval(s: RowScore, seed: number): Interval {
  const stat = (w: ArrayLike<number>) => {
    let sy = 0, syy = 0, sse = 0, n = 0;
    for (let r = 0; r < s.n.length; r++) {
      const k = w[r]!;
      sy += k * s.sy[r]!;
      syy += k * s.syy[r]!;
      sse += k * s.sse[r]!;
      n += k * s.n[r]!;
    }
    const sst = syy - sy * sy / n;
    return sst > 0 ? 1 - sse / sst : NaN;
  };
  return bootstrapRows(s.n.length, stat, { seed, unit: "held-out prompts" });
}

/** Probe results of one hook. */
export interface ProbeLayer {
  label: number;
  hook: string;
  /** Held-out R² per window. */
  r2: Record<ProbeWindow, Interval>;
  /** With `splicedSource`: held-out R² of the clean-fitted probes on the spliced stream. */
  r2Spliced: Record<ProbeWindow, Interval> | null;
}

/** One bin of the spliced-stream table: mean predicted position (all-positions probe). */
export interface ProbeBinRow {
  label: number;
  from: number;
  to: number;
  /** Mean true position, and the probe's mean prediction on the clean and on the spliced stream. */
  position: number;
  predictedClean: number;
  predictedSpliced: number | null;
}

/** Output of {@link runPositionProbes}. */
export interface ProbeResult {
  config: ProbeConfig;
  layers: ProbeLayer[];
  bins: ProbeBinRow[];
  nTrain: number;
  nTest: number;
  saeContext: number;
  T: number;
  seconds: number;
}

/**
 * Fits and scores the position probes at every SAE hook (see the module documentation).
 *
 * @throws {RangeError} with fewer than 2 training or 1 held-out prompt
 */
export async function runPositionProbes(
  setup: StudySetup,
  rows: readonly Int32Array[],
  config: Partial<ProbeConfig> = {},
): Promise<ProbeResult> {
  const cfg = defaultProbeConfig(config);
  const t0 = performance.now();
  const T = rows[0]?.length ?? 0;
  const ctx = setup.saeContext;
  const nTrain = Math.floor(rows.length * cfg.trainFraction);
  const nTest = rows.length - nTrain;
  if (nTrain < 2 || nTest < 1) {
    throw new RangeError(`runPositionProbes: ${rows.length} prompts give ${nTrain} to fit and ${nTest} to score`);
  }
  const d = setup.model.cfg.d_model;
  const hooks = setup.saes.map((s) => s.hook);
  const winOf = (j: number): ProbeWindow[] => j === 0 ? [] : j < ctx ? ["in", "all"] : ["out", "all"];
  const sums = hooks.map(() =>
    Object.fromEntries(WINDOWS.map((w) => [w, new RidgeSums(d)])) as Record<
      ProbeWindow,
      RidgeSums
    >
  );
  const bar = cfg.progress
    ? progress({ total: rows.length * (cfg.splicedSource === null ? 1 : 2), label: "probes" })
    : null;
  const forBatches = async (
    from: number,
    to: number,
    fn: (acts: Float32Array[], B: number) => void,
    splice: Sae | null,
    after?: () => Promise<void>,
  ) => {
    // the clean pass caches every SAE hook; with a splice, the spliced pass caches the hooks after its own
    const splices = splice ? [saeSplice("probe", splice)] : [];
    const sHook = splice?.cfg.hook_name ?? "";
    const later = hooks.filter((h) => splice !== null && hooks.indexOf(h) > hooks.indexOf(sHook));
    for (const { B, tokens } of rowBatches(rows.slice(from, to), cfg.batchRows)) {
      const acts: Float32Array[] = hooks.map(() => new Float32Array(0)); // [B·T, d] row-major, or empty
      const passes = splicedPasses(setup.model, tokens, splices, {
        cleanCache: splice ? [] : hooks,
        cleanLogits: false,
        splicedCache: () => later,
        splicedLogits: false,
      });
      for (const pass of passes) {
        if ((pass.kind === "clean") !== (splice === null)) continue; // read the spliced pass when there is one
        for (const [i, h] of hooks.entries()) {
          const t = pass.cache.get(h);
          if (t) acts[i] = await readHost(t);
        }
      }
      fn(acts, B);
      await after?.();
      bar?.tick(B);
    }
  };
  // fit on the first nTrain rows
  const pending: { h: number; w: ProbeWindow; xs: Float32Array; ys: Float32Array }[] = [];
  await forBatches(
    0,
    nTrain,
    (acts, B) => {
      acts.forEach((x, h) => {
        for (const w of WINDOWS) {
          const idx: number[] = [];
          for (let b = 0; b < B; b++) for (let j = 0; j < T; j++) if (winOf(j).includes(w)) idx.push(b * T + j);
          const xs = new Float32Array(idx.length * d);
          const ys = new Float32Array(idx.length);
          idx.forEach((p, k) => {
            xs.set(x.subarray(p * d, (p + 1) * d), k * d);
            ys[k] = p % T;
          });
          pending.push({ h, w, xs, ys });
        }
      });
    },
    null,
    async () => {
      for (const p of pending.splice(0)) await sums[p.h]![p.w].add(p.xs, p.ys);
    },
  );
  const fits = sums.map((s) =>
    Object.fromEntries(WINDOWS.map((w) => [w, s[w].solve(cfg.lambdaRel)])) as Record<
      ProbeWindow,
      { w: Float64Array; b: number }
    >
  );
  const buf = new Float64Array(d);
  const predict = (h: number, w: ProbeWindow, x: Float32Array, p: number) => {
    const f = fits[h]![w];
    const z = sums[h]![w].shifted(x, p, buf);
    let v = f.b;
    for (let a = 0; a < d; a++) v += z[a]! * f.w[a]!;
    return v;
  };
  const tableEdges: number[] = [];
  for (let e = 0; e < T; e += cfg.tableBin) tableEdges.push(e);
  tableEdges.push(T);
  const score = () => {
    const scores = hooks.map(() =>
      Object.fromEntries(WINDOWS.map((w) => [w, emptyScore()])) as Record<
        ProbeWindow,
        RowScore
      >
    );
    const predSum = hooks.map(() => new Float64Array(tableEdges.length - 1));
    const predN = hooks.map(() => new Float64Array(tableEdges.length - 1));
    const fn = (acts: Float32Array[], B: number) => {
      acts.forEach((x, h) => {
        if (x.length === 0) return;
        for (let b = 0; b < B; b++) {
          for (const w of WINDOWS) {
            let sy = 0, syy = 0, sse = 0, n = 0;
            for (let j = 1; j < T; j++) {
              if (!winOf(j).includes(w)) continue;
              const yh = predict(h, w, x, b * T + j);
              sy += j;
              syy += j * j;
              sse += (j - yh) ** 2;
              n++;
              if (w === "all") {
                const k = tableEdges.findIndex((e, i) => j >= e && j < tableEdges[i + 1]!);
                predSum[h]![k]! += yh;
                predN[h]![k]! += 1;
              }
            }
            const s = scores[h]![w];
            s.sy.push(sy);
            s.syy.push(syy);
            s.sse.push(sse);
            s.n.push(n);
          }
        }
      });
    };
    return { scores, predSum, predN, fn };
  };
  const clean = score();
  await forBatches(nTrain, rows.length, clean.fn, null);
  let spliced: ReturnType<typeof score> | null = null;
  if (cfg.splicedSource !== null) {
    const entry = setup.saes.find((s) => s.label === cfg.splicedSource);
    if (!entry) throw new RangeError(`runPositionProbes: no SAE with label ${cfg.splicedSource}`);
    const sae = await loadStudySae(entry);
    try {
      spliced = score();
      await forBatches(nTrain, rows.length, spliced.fn, sae);
    } finally {
      sae.dispose();
    }
  }
  await bar?.done();
  const layers: ProbeLayer[] = setup.saes.map((s, h) => ({
    label: s.label,
    hook: s.hook,
    r2: Object.fromEntries(
      WINDOWS.map((w, k) => [w, r2Interval(clean.scores[h]![w], cfg.seed + 10 * h + k)]),
    ) as Record<
      ProbeWindow,
      Interval
    >,
    r2Spliced: spliced && spliced.scores[h]!.all.n.length > 0
      ? Object.fromEntries(
        WINDOWS.map((w, k) => [w, r2Interval(spliced!.scores[h]![w], cfg.seed + 10 * h + k)]),
      ) as Record<
        ProbeWindow,
        Interval
      >
      : null,
  }));
  const bins: ProbeBinRow[] = [];
  setup.saes.forEach((s, h) => {
    for (let k = 0; k + 1 < tableEdges.length; k++) {
      const a = Math.max(1, tableEdges[k]!), b = tableEdges[k + 1]! - 1;
      const sp = spliced && spliced.predN[h]![k]! > 0 ? spliced.predSum[h]![k]! / spliced.predN[h]![k]! : null;
      bins.push({
        label: s.label,
        from: a,
        to: b,
        position: (a + b) / 2,
        predictedClean: clean.predSum[h]![k]! / clean.predN[h]![k]!,
        predictedSpliced: sp,
      });
    }
  });
  return { config: cfg, layers, bins, nTrain, nTest, saeContext: ctx, T, seconds: (performance.now() - t0) / 1000 };
}
