// Study-B figure builders on synthetic sweep results with known answers: position bins and their 95% intervals
// (over prompts, and the conservative per-position bound), and the readability rules the figures must meet
// (legends, error bars, no lines through sparse bins, titles that describe).

import { PositionStats } from "../lib/metrics/per_position.ts";
import { legendSeries, validateFigure, Z95 } from "../lib/plot/mod.ts";
import type { ScatterTrace } from "../lib/plot/types.ts";
import type { BinRow, LambadaRow } from "../lib/study_b/bench_summary.ts";
import { binCurve, figurePositionBins, metricTerm } from "../lib/study_b/figure_bins.ts";
import { contextLossFixedFigure } from "../lib/study_b/figures.ts";
import { benchLengthFigure, lambadaDceKlFigure } from "../lib/study_b/figures_bench.ts";
import { klVsDceFigure } from "../lib/study_b/figures_followup.ts";

function assert(cond: boolean, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

function close(a: number, b: number, tol: number, what: string): void {
  if (!(Math.abs(a - b) <= tol)) throw new Error(`${what}: expected ${b}, got ${a}`);
}

/**
 * Per-prompt bin sums with the shape the figures read from a sweep's `rowBins` (lib/metrics/row_bins.ts), kept
 * here so this test depends only on that shape.
 */
class RowBins {
  readonly sums: Float64Array[] = [];
  readonly counts: Float64Array[] = [];
  constructor(readonly edges: number[]) {}
  addRows(vals: Float64Array, rows: number, width: number): void {
    for (let r = 0; r < rows; r++) {
      const s = new Float64Array(this.edges.length - 1);
      const c = new Float64Array(this.edges.length - 1);
      for (let j = 0; j < width; j++) {
        const k = this.edges.findIndex((e, i) => j >= e && j < this.edges[i + 1]!);
        s[k]! += vals[r * width + j]!;
        c[k]! += 1;
      }
      this.sums.push(s);
      this.counts.push(c);
    }
  }
  edgeIndex(edge: number): number {
    const k = this.edges.indexOf(edge);
    if (k < 0) throw new RangeError(`${edge} is not a bin edge`);
    return k;
  }
  window(from: number, to: number): { sum: Float64Array; count: Float64Array } {
    const a = this.edgeIndex(from);
    const b = this.edgeIndex(Math.min(to, this.edges.at(-1)!));
    const sum = new Float64Array(this.sums.length);
    const count = new Float64Array(this.sums.length);
    this.sums.forEach((s, r) => {
      for (let k = a; k < b; k++) {
        sum[r]! += s[k]!;
        count[r]! += this.counts[r]![k]!;
      }
    });
    return { sum, count };
  }
}

const N = 6;
const T = 32;
const CTX = 8;

/** Row r, position j: value(r, j); rows × positions, every position kept. */
function filled(name: string, value: (r: number, j: number) => number, edges: number[] | null) {
  const vals = new Float64Array(N * T);
  for (let r = 0; r < N; r++) for (let j = 0; j < T; j++) vals[r * T + j] = value(r, j);
  const stats = new PositionStats(name, T);
  stats.addBatch(vals, N, T);
  const rb = edges ? new RowBins(edges) : null;
  rb?.addRows(vals, N, T);
  return { stats, rb };
}

const ROW_EDGES = [
  0,
  1,
  2,
  3,
  4,
  5,
  6,
  7,
  8,
  9,
  10,
  11,
  12,
  13,
  14,
  15,
  16,
  17,
  18,
  19,
  20,
  21,
  22,
  23,
  24,
  25,
  26,
  27,
  28,
  29,
  30,
  31,
  32,
];

function sweep(perPrompt: boolean) {
  const edges = perPrompt ? ROW_EDGES : null;
  // a prompt-level offset (r − 2.5) shared by every position, plus a position trend: positions are correlated
  const ce = (r: number, j: number) => 4 + 0.1 * (r - 2.5) + 0.01 * j;
  const layers = [0, 1].map((L) => {
    const d = (r: number, j: number) => (j < CTX ? 0.05 : 0.05 + 0.02 * (j - CTX)) * (1 + L) + 0.01 * (r - 2.5);
    const m = {
      ce_clean: filled("ce_clean", ce, edges),
      ce_spliced: filled("ce_spliced", (r, j) => ce(r, j) + d(r, j), edges),
      delta_ce: filled("delta_ce", d, edges),
      kl: filled("kl", (r, j) => 0.9 * d(r, j) + 0.001 * r, edges),
    };
    const stats = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.stats]));
    const rowBins = perPrompt ? Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.rb!])) : null;
    const sampled = filled("sampled", (r, j) => d(r, j) + 0.002 * r, edges);
    return {
      label: L,
      hook: `blocks.${L}.hook_resid_pre`,
      metrics: { stats, rowBins },
      sampledDeltaCe: sampled.stats,
      sampledRowBins: sampled.rb,
    };
  });
  return {
    layers,
    clean: layers[0]!.metrics.stats.ce_clean!,
    nRows: N,
    T,
    saeContext: CTX,
    modelContext: T,
    bosPolicy: "exclude-position-0",
    bosPolicyText: "position 0 (BOS) excluded from every average",
    config: {},
    seconds: 0,
    batchRows: N,
  } as unknown as Parameters<typeof contextLossFixedFigure>[0];
}

Deno.test("figurePositionBins: width ctx/8 from position 0, the SAE context an edge", () => {
  assert(figurePositionBins(1024, 128).slice(0, 4).join() === "0,16,32,48", `${figurePositionBins(1024, 128)}`);
  assert(figurePositionBins(1024, 128).includes(128) && figurePositionBins(1024, 128).at(-1) === 1024, "edges");
  assert(figurePositionBins(30, 8, 3).join() === "0,3,6,8,11,14,17,20,23,26,29,30", `${figurePositionBins(30, 8, 3)}`);
});

Deno.test("binCurve: per-prompt intervals when prompts' bins exist, the conservative bound otherwise", () => {
  const withRows = sweep(true);
  const without = sweep(false);
  const edges = [0, 4, 8, 16, 32];
  const a = binCurve([metricTerm(withRows.layers[0]!.metrics, "ce_clean")], edges);
  const b = binCurve([metricTerm(without.layers[0]!.metrics, "ce_clean")], edges);
  assert(a.interval === "prompts" && b.interval === "positions (conservative)", `${a.interval} / ${b.interval}`);
  // bin [0, 4) (no position masked here): per-prompt means 4 + 0.1(r − 2.5) + 0.015; their s.e. over 6 prompts
  const perRow = Array.from({ length: N }, (_, r) => 4 + 0.1 * (r - 2.5) + 0.015);
  const m = perRow.reduce((s, v) => s + v, 0) / N;
  const se = Math.sqrt(perRow.reduce((s, v) => s + (v - m) ** 2, 0) / (N - 1) / N);
  close(a.mean[0]!, m, 1e-12, "bin mean over prompts");
  close(a.hi[0]! - a.mean[0]!, Z95 * se, 1e-12, "half-width over prompts");
  close(b.mean[0]!, m, 1e-12, "bin mean from positions");
  // the prompt offset is shared by every position: the bound is exact here, never narrower
  close(b.hi[0]! - b.mean[0]!, Z95 * se, 1e-12, "conservative half-width (perfectly correlated positions)");
  // a combination: CE_clean − ΔCE per prompt
  const c = binCurve([
    metricTerm(withRows.layers[1]!.metrics, "ce_clean"),
    metricTerm(withRows.layers[1]!.metrics, "delta_ce", -1),
  ], edges);
  close(c.mean[0]!, m - 0.1, 1e-12, "clean − ΔCE (layer 1: ΔCE 0.1 inside the context)");
  // uncorrelated positions: the bound is wider than the per-prompt interval
  const noisy = filled("x", (r, j) => ((r * 7 + j * 13) % 5) - 2, ROW_EDGES);
  const terms = [{ coef: 1, stats: noisy.stats, rowBins: noisy.rb }];
  const exact = binCurve(terms, [0, 32]);
  const bound = binCurve([{ ...terms[0]!, rowBins: null }], [0, 32]);
  assert(bound.hi[0]! - bound.mean[0]! > exact.hi[0]! - exact.mean[0]!, "the bound is conservative");
});

Deno.test("context_loss_fixed: binned curves with visible 95% bands, legend, per-position data kept", () => {
  const f = contextLossFixedFigure(sweep(true));
  validateFigure(f.fig);
  assert(f.fig.layout.showlegend === true, "legend");
  assert(legendSeries(f.fig).join() === "layer 0,layer 1,clean model", `${legendSeries(f.fig)}`);
  const bands = f.fig.data.filter((t) => (t as ScatterTrace).fill === "tonexty");
  assert(bands.length === 5, `bands: 2 layers × 2 panels + clean = 5, got ${bands.length}`);
  const binned = f.data.binned as { edges: number[]; interval: string };
  assert(binned.interval === "prompts" && binned.edges.includes(CTX), `binned ${JSON.stringify(binned.edges)}`);
  assert(f.caption.includes("95% intervals") && f.caption.includes("over the 6 prompts"), "caption");
  const right = f.data.right_panel as Record<string, { mean: number[] }>;
  assert(right.layer_0!.mean.length === T - 2, "per-position ΔCE kept in the data");
});

Deno.test("kl_vs_dce_windows: 95% error bars on both axes, a title that describes", () => {
  const f = klVsDceFigure(sweep(true));
  validateFigure(f.fig);
  const pts = f.fig.data.filter((t) => (t as ScatterTrace).mode === "markers+text") as ScatterTrace[];
  assert(pts.length === 4, `inside/beyond × real/sampled: ${pts.length}`);
  for (const t of pts) assert(t.error_x?.visible === true && t.error_y?.visible === true, `${t.name} error bars`);
  const title = f.fig.layout.title?.text ?? "";
  assert(!/ is not | is /.test(title), `the title describes, it does not claim: "${title}"`);
  const d = f.data as Record<string, number[]>;
  d.dce_in!.forEach((v, i) => assert(d.dce_in_lo95![i]! < v && v < d.dce_in_hi95![i]!, `interval ${i}`));
  assert(f.fig.layout.showlegend === true, "legend");
});

Deno.test("bench figures: intervals per length bin without lines, a legend on ΔCE / KL", () => {
  const bin = (variant: string, layer: number | null, label: string, from: number, k: number, n: number): BinRow => ({
    variant,
    layer,
    label,
    from,
    to: from + 63,
    k,
    n,
    p: n > 0 ? k / n : NaN,
    lo: n > 0 ? Math.max(0, k / n - 0.1) : NaN,
    hi: n > 0 ? Math.min(1, k / n + 0.1) : NaN,
  });
  const bins = ["clean", "L0"].flatMap((v, i) => [
    bin(v, i === 0 ? null : 0, "1–64", 1, 2, 20),
    bin(v, i === 0 ? null : 0, "65–128", 65, 0, 0),
    bin(v, i === 0 ? null : 0, "129+", 129, 3 - i, 15),
  ]);
  const ev = {
    items: Array.from({ length: 35 }, (_, i) => ({ promptLength: i < 20 ? 10 : 200, truncated: 0 })),
    dropped: { unknownTargetToken: 0 },
    saeContext: 128,
    modelContext: 1024,
  } as unknown as Parameters<typeof benchLengthFigure>[2];
  const f = benchLengthFigure("lambada", bins, ev);
  validateFigure(f.fig);
  const traces = f.fig.data as ScatterTrace[];
  assert(traces.every((t) => t.mode === "markers"), "markers only: no lines through sparse bins");
  assert(traces.every((t) => t.error_y?.symmetric === false), "Wilson intervals as error bars");
  assert(traces.every((t) => t.x.length === 2), "the empty bin is left out");
  assert(f.fig.layout.showlegend === true, "legend");
  const row = (layer: number | null, dce: number, kl: number): LambadaRow => ({
    variant: layer === null ? "clean" : `L${layer}`,
    layer,
    n: 35,
    correct: 3,
    accuracy: 3 / 35,
    lo: 0.02,
    hi: 0.2,
    fullWordAccuracy: 3 / 35,
    meanWordLogProb: -5,
    deltaCe: dce,
    deltaCeSe: 0.02,
    kl,
    klSe: 0.01,
  });
  const g = lambadaDceKlFigure([row(null, 0, 0), row(0, 0.1, 0.05), row(1, 0.2, 0.08)], ev as never);
  validateFigure(g.fig);
  assert(g.fig.layout.showlegend === true && legendSeries(g.fig).length === 2, "ΔCE / KL legend");
  const lo = g.data.delta_ce_lo95 as number[];
  close(lo[0]!, 0.1 - Z95 * 0.02, 1e-12, "95% interval of ΔCE");
});
