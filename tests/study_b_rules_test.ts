// The pre-registered rules of study B (lib/study_b/rules*.ts) on synthetic per-prompt data whose answer is known:
// each rule must come out "reproduced" on data built to satisfy its claim, "not reproduced" on data built to violate
// it, and "inconclusive" where the interval straddles the threshold; rules that need a trained model are skipped on
// an untrained one; sanity checks pass or fail. Also the row-bin accumulator, the bootstrap, the selection of
// benchmark items, and the ridge solver of the position probes.

import { Rng } from "../lib/engine/rng.ts";
import { bootstrapRows, meanInterval, normalQuantile } from "../lib/metrics/bootstrap.ts";
import { positionBinEdges, RowBinStats, weightedMean } from "../lib/metrics/row_bins.ts";
import { SpliceMetrics } from "../lib/metrics/splice_metrics.ts";
import { selectBalanced } from "../lib/data/benchmarks.ts";
import { allOf, decide, evaluateRules, type Rule, type RuleOutcome, ruleText } from "../lib/study_b/rules.ts";
import { type ContextRuleData, contextRules } from "../lib/study_b/rules_context.ts";
import { type PropagationRuleData, propagationRules, spliceEffectRows } from "../lib/study_b/rules_propagation.ts";
import { type BenchRuleData, benchRules } from "../lib/study_b/rules_bench.ts";
import { type PositionalRuleData, positionalRules } from "../lib/study_b/rules_positional.ts";
import { choleskySolve, RidgeSums } from "../lib/study_b/position_probe.ts";
import { optionLogProb } from "../lib/study_b/benchmarks_eval.ts";
import { assert, assertClose, assertEquals, assertThrows } from "./helpers.ts";

const CTX = 16;
const T = 48;
const ROWS = 40;
const BOOT = { reps: 300, seed: 0 };

/** Per-prompt bins of one metric filled from `f(row, pos)` with position 0 masked (as the BOS policy does). */
function bins(name: string, f: (r: number, j: number) => number, width = T, rows = ROWS): RowBinStats {
  const st = new RowBinStats(name, positionBinEdges(T, CTX, CTX / 8));
  for (let r = 0; r < rows; r++) {
    const v = Float64Array.from({ length: width }, (_, j) => f(r, j));
    const m = Uint8Array.from({ length: width }, (_, j) => (j === 0 ? 0 : 1));
    st.addBatch(v, 1, width, m, r);
  }
  return st;
}

type Metric = "delta_ce" | "kl" | "mse_normalised" | "act_norm" | "ce_clean" | "ce_spliced" | "ce_zero";
type Shape = (layer: number, j: number) => number;

/** Context-rule data: per metric a noiseless shape × (1 + noise) per token. */
function contextData(shapes: Partial<Record<Metric, Shape>>, noise = 0.05, nLayers = 5): ContextRuleData {
  const rng = new Rng(1, "test/context");
  const base: Record<Metric, Shape> = {
    delta_ce: () => 0.05,
    kl: () => 0.05,
    mse_normalised: () => 0.04,
    act_norm: (l) => (l === 0 ? 1 : 20),
    ce_clean: () => 3,
    ce_spliced: () => 3.05,
    ce_zero: () => 6,
    ...shapes,
  };
  return {
    saeContext: CTX,
    T,
    layers: Array.from({ length: nLayers }, (_, l) => ({
      label: l,
      bins: Object.fromEntries(
        (Object.keys(base) as Metric[]).map((m) => [
          m,
          bins(
            m,
            (_r, j) => base[m](l, j) * (1 + noise * rng.normal()),
            m.startsWith("ce") || m === "delta_ce" ? T - 1 : T,
          ),
        ]),
      ),
    })),
    boot: BOOT,
  };
}

function run<D>(rules: Rule<D>[], id: string, data: D, trained?: boolean): RuleOutcome {
  const rule = rules.find((r) => r.id === id);
  if (!rule) throw new Error(`no rule ${id}`);
  return evaluateRules([rule], data, { trained })[0]!;
}

function expect(o: RuleOutcome, verdict: string, what: string) {
  assert(
    o.verdict === verdict,
    `${what}: expected ${verdict}, got ${o.verdict} (${JSON.stringify(o.parts)} ${o.measured})`,
  );
}

const CR = contextRules(CTX, T);
const beyond = (inside: number, out: number) => (_l: number, j: number) => (j < CTX ? inside : out);

Deno.test("decide and allOf follow the interval against the threshold", () => {
  assertEquals(decide({ estimate: 3, lo: 2.1, hi: 4 }, 2, "above"), "reproduced");
  assertEquals(decide({ estimate: 1, lo: 0.5, hi: 1.9 }, 2, "above"), "not reproduced");
  assertEquals(decide({ estimate: 2, lo: 1.5, hi: 2.5 }, 2, "above"), "inconclusive");
  assertEquals(decide({ estimate: 1, lo: 0.5, hi: 1.9 }, 2, "below"), "reproduced");
  assertEquals(decide({ estimate: 3, lo: 2, hi: 4 }, 2, "below"), "not reproduced");
  assertEquals(decide({ estimate: NaN, lo: NaN, hi: NaN }, 2, "below"), "inconclusive");
  assertEquals(allOf(["reproduced", "reproduced"]), "reproduced");
  assertEquals(allOf(["reproduced", "inconclusive"]), "inconclusive");
  assertEquals(allOf(["inconclusive", "not reproduced"]), "not reproduced");
  assert(ruleText(CR[0]!).includes("statistic:") && ruleText(CR[0]!).includes("decision:"), "rule text parts");
});

Deno.test("R1: the loss ratio near the context decides both ways and can be inconclusive", () => {
  expect(run(CR, "R1", contextData({})), "reproduced", "flat ΔCE");
  expect(run(CR, "R1", contextData({ delta_ce: beyond(0.05, 0.5) })), "not reproduced", "ΔCE ×10 past ctx");
  expect(run(CR, "R1", contextData({ delta_ce: beyond(0.05, 0.1) }, 1.5)), "inconclusive", "ratio 2 with noise");
  expect(run(CR, "R1", contextData({}), false), "skipped", "untrained model");
});

Deno.test("R2: last layer holds and layer 0 does not", () => {
  const yes = contextData({ mse_normalised: (l, j) => (l === 0 && j >= CTX ? 0.2 : 0.04) });
  expect(run(CR, "R2", yes), "reproduced", "layer 0 jumps, last flat");
  expect(run(CR, "R2", contextData({})), "not reproduced", "nothing jumps");
  expect(run(CR, "R2", contextData({ mse_normalised: beyond(0.04, 0.2) })), "not reproduced", "everything jumps");
  expect(run(CR, "R2", yes, false), "reproduced", "a reconstruction rule runs on an untrained model");
});

Deno.test("R3: every layer bad at 2·ctx, some layer holds near ctx", () => {
  const yes = contextData({ mse_normalised: (l, j) => (j >= 2 * CTX || (l === 0 && j >= CTX) ? 0.2 : 0.04) });
  expect(run(CR, "R3", yes), "reproduced", "window then collapse");
  expect(run(CR, "R3", contextData({})), "not reproduced", "flat");
});

Deno.test("R4: order-of-magnitude norm ratio", () => {
  expect(run(CR, "R4", contextData({})), "reproduced", "ratio 20");
  expect(run(CR, "R4", contextData({ act_norm: (l) => (l === 0 ? 1 : 1.5) })), "not reproduced", "ratio 1.5");
});

Deno.test("R5 and R5-KL: later layers hurt more inside the context", () => {
  const up = (l: number) => 0.02 + 0.02 * l;
  const down = (l: number) => 0.1 - 0.02 * l;
  expect(run(CR, "R5", contextData({ delta_ce: up })), "reproduced", "ΔCE rising with layer");
  expect(run(CR, "R5", contextData({ delta_ce: down })), "not reproduced", "ΔCE falling with layer");
  expect(run(CR, "R5", contextData({}, 2)), "inconclusive", "equal layers, heavy noise");
  expect(run(CR, "R5-KL", contextData({ kl: up })), "reproduced", "KL rising");
  expect(run(CR, "R5-KL", contextData({ kl: down })), "not reproduced", "KL falling");
});

Deno.test("R6 and R6-KL: worse beyond, worst early", () => {
  const yes = (l: number, j: number) => (j < CTX ? 0.05 : 0.5 - 0.08 * l);
  const no = (l: number, j: number) => (j < CTX ? 0.05 : 0.1 + 0.08 * l);
  expect(run(CR, "R6", contextData({ delta_ce: yes })), "reproduced", "early worst beyond");
  expect(run(CR, "R6", contextData({ delta_ce: no })), "not reproduced", "late worst beyond");
  expect(
    run(CR, "R6", contextData({ delta_ce: (_l, j) => (j < CTX ? 0.3 : 0.05) })),
    "not reproduced",
    "better beyond",
  );
  expect(run(CR, "R6-KL", contextData({ kl: yes })), "reproduced", "KL version");
});

Deno.test("R9, A3, A5 and the bug guard", () => {
  expect(run(CR, "R9", contextData({ mse_normalised: beyond(0.04, 0.2) })), "reproduced", "NMSE ×5 beyond");
  expect(run(CR, "R9", contextData({})), "not reproduced", "NMSE flat");
  expect(run(CR, "A3", contextData({})), "reproduced", "CE recovered ≈ 0.98");
  expect(run(CR, "A3", contextData({ ce_spliced: () => 4.5 })), "not reproduced", "CE recovered 0.5");
  expect(
    run(CR, "A5", contextData({ mse_normalised: (l, j) => (l === 0 && j >= CTX ? 0.2 : 0.04) })),
    "reproduced",
    "jump",
  );
  expect(run(CR, "A5", contextData({})), "not reproduced", "no jump");
  expect(run(CR, "A4/R8", contextData({})), "passed", "positive ΔCE");
  expect(run(CR, "A4/R8", contextData({ delta_ce: (l) => (l === 2 ? -0.05 : 0.05) })), "failed", "negative ΔCE at L2");
});

/** Propagation data: 2 sources, targets above; per-token values from shapes. */
function propData(opts: { relDev: Shape; sseSpliced: Shape; sseVsClean: Shape; nmse0: number }): PropagationRuleData {
  const rng = new Rng(2, "test/prop");
  const noisy = (f: (j: number) => number) => bins("x", (_r, j) => f(j) * (1 + 0.05 * rng.normal()));
  const labels = [0, 1, 2];
  const pairs = [];
  for (const s of [0, 1]) {
    for (const t of labels.filter((l) => l > s)) {
      pairs.push({
        source: s,
        target: t,
        rows: {
          relDev: noisy((j) => opts.relDev(t, j)),
          sseSpliced: noisy((j) => opts.sseSpliced(t, j)),
          sseVsClean: noisy((j) => opts.sseVsClean(t, j)),
        },
      });
    }
  }
  return {
    pairs,
    clean: labels.map((t) => ({ target: t, rows: { sse: noisy(() => 1), nmse: noisy(() => opts.nmse0) } })),
    sources: [0, 1],
    saeContext: CTX,
    T,
    boot: BOOT,
  };
}

Deno.test("F3 rules: retention, both error ratios, larger beyond", () => {
  const PR = propagationRules(CTX);
  const grow = propData({ relDev: beyond(0.04, 0.1), sseSpliced: () => 1.5, sseVsClean: () => 2, nmse0: 0.04 });
  const shrink = propData({ relDev: beyond(0.04, 0.01), sseSpliced: () => 0.7, sseVsClean: () => 0.8, nmse0: 0.4 });
  expect(run(PR, "F3-a", grow), "reproduced", "retention 1");
  expect(run(PR, "F3-a", shrink), "not reproduced", "retention 0.1");
  expect(run(PR, "F3-b", grow), "reproduced", "sseRatio 1.5");
  expect(run(PR, "F3-b", shrink), "not reproduced", "sseRatio 0.7");
  expect(run(PR, "F3-b′", grow), "reproduced", "sseVsClean 2");
  expect(run(PR, "F3-b′", shrink), "not reproduced", "sseVsClean 0.8");
  expect(run(PR, "F3-c", grow), "reproduced", "relDev grows");
  expect(run(PR, "F3-c", shrink), "not reproduced", "relDev shrinks");
  const eff = spliceEffectRows(shrink, 0, 2, 4);
  assert(eff.length > 0 && eff.every((r) => r.ratioLo <= r.ratio && r.ratio <= r.ratioHi), "splice-effect intervals");
  assertClose(eff[0]!.ratio, 0.7, 0.05, "sseSpliced / sseClean");
});

/** Benchmark data: items with prompt lengths, clean log-probs −2, layer log-probs −2 − drop(layer, long). */
function benchData(bench: "LAMBADA" | "CBT", drop: (l: number, long: boolean) => number, noise = 0.1): BenchRuleData {
  const rng = new Rng(3, "test/bench");
  const n = 200;
  const promptLength = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 60 : 300));
  const clean = Float64Array.from({ length: n }, () => -2 + noise * rng.normal());
  const layers = Array.from({ length: 5 }, (_, l) => ({
    label: l,
    logProb: Float64Array.from(clean, (c, i) => c - drop(l, promptLength[i]! > 128) + noise * rng.normal()),
    correct: Uint8Array.from({ length: n }, (_, i) => (i % 5 === 0 && drop(l, promptLength[i]! > 128) < 0 ? 1 : 0)),
  }));
  const cleanCorrect = Uint8Array.from({ length: n }, (_, i) => (i % 5 === 0 && drop(0, false) > 0 ? 1 : 0));
  return { bench, saeContext: 128, promptLength, clean: { logProb: clean, correct: cleanCorrect }, layers, boot: BOOT };
}

Deno.test("benchmark rules: A6 (ΔCE and accuracy), LAMBADA R5/R6, CBT R7", () => {
  const LR = benchRules("LAMBADA", 128);
  const CB = benchRules("CBT", 128);
  const hurts = (l: number, long: boolean) => (long ? 0.5 - 0.1 * l : 0.1 + 0.05 * l);
  const helps = (l: number, long: boolean) => (long ? -0.1 - 0.05 * l : -0.3 + 0.05 * l);
  expect(run(LR, "LAMBADA-A6", benchData("LAMBADA", hurts)), "reproduced", "splices hurt");
  expect(run(LR, "LAMBADA-A6", benchData("LAMBADA", helps)), "not reproduced", "splices help");
  const zero = benchData("LAMBADA", () => 0, 0);
  zero.layers.forEach((l) =>
    l.logProb.forEach((_v, i) => (l.logProb[i] = zero.clean.logProb[i]! + (i % 4 < 2 ? 1 : -1)))
  );
  expect(run(LR, "LAMBADA-A6", zero), "inconclusive", "mean effect exactly 0, large spread");
  expect(run(LR, "LAMBADA-A6-acc", benchData("LAMBADA", hurts)), "reproduced", "accuracy drops");
  expect(run(LR, "LAMBADA-A6-acc", benchData("LAMBADA", helps)), "not reproduced", "accuracy rises");
  expect(run(LR, "LAMBADA-R5", benchData("LAMBADA", hurts)), "reproduced", "late worse on short");
  expect(run(LR, "LAMBADA-R5", benchData("LAMBADA", (l) => 0.3 - 0.05 * l)), "not reproduced", "early worse on short");
  expect(run(LR, "LAMBADA-R6", benchData("LAMBADA", hurts)), "reproduced", "early worse on long");
  expect(run(LR, "LAMBADA-R6", benchData("LAMBADA", (l) => 0.1 + 0.1 * l)), "not reproduced", "late worse on long");
  expect(run(CB, "CBT-R7", benchData("CBT", hurts)), "reproduced", "early poor on long");
  expect(run(CB, "CBT-R7", benchData("CBT", helps)), "not reproduced", "no layer hurts");
  expect(run(CB, "CBT-R7", benchData("CBT", hurts), false), "skipped", "untrained");
});

/** Positional data: variants with per-window NMSE and KL shapes. */
function posData(v: Record<string, { nmse: [number, number]; kl: [number, number]; dce?: [number, number] }>) {
  const rng = new Rng(4, "test/pos");
  const noisy = (a: number, b: number, width = T) =>
    bins("x", (_r, j) => (j < CTX ? a : b) * (1 + 0.05 * rng.normal()), width);
  const d: PositionalRuleData = {
    saeContext: CTX,
    T,
    variants: Object.entries(v).map(([key, s]) => {
      const [l, variant] = key.split("/") as [string, "V0" | "V1" | "V2" | "V3"];
      const dce = s.dce ?? s.kl;
      return {
        layer: Number(l),
        variant,
        bins: { mse_normalised: noisy(...s.nmse), kl: noisy(...s.kl), delta_ce: noisy(...dce, T - 1) },
        sampled: noisy(...s.kl, T - 1),
      };
    }),
    boot: BOOT,
  };
  return d;
}

Deno.test("follow-up rules: R10 gaps, V2, V3, KL ≠ ΔCE and the sampled-target identity", () => {
  const PR = positionalRules(CTX);
  const base = {
    "1/V0": { nmse: [0.04, 0.1] as [number, number], kl: [0.05, 0.1] as [number, number] },
    "1/V3": { nmse: [0.04, 0.101] as [number, number], kl: [0.05, 0.1] as [number, number] },
  };
  const fixes = posData({
    "0/V0": { nmse: [0.04, 0.1], kl: [0.05, 0.09], dce: [0.02, 0.03] },
    "0/V1": { nmse: [0.05, 0.052], kl: [0.06, 0.06] },
    "0/V2": { nmse: [0.3, 0.3], kl: [0.2, 0.2] },
    ...base,
  });
  const noFix = posData({
    "0/V0": { nmse: [0.04, 0.1], kl: [0.05, 0.09] },
    "0/V1": { nmse: [0.035, 0.095], kl: [0.045, 0.088] },
    "0/V2": { nmse: [0.03, 0.03], kl: [0.03, 0.03] },
    "1/V0": { nmse: [0.04, 0.1], kl: [0.05, 0.1] },
    "1/V3": { nmse: [0.04, 0.05], kl: [0.05, 0.06] },
  });
  expect(run(PR, "R10", fixes), "reproduced", "V1 removes the gap");
  expect(run(PR, "R10", noFix), "not reproduced", "V1 keeps the gap");
  expect(run(PR, "R10-KL", fixes), "reproduced", "KL gap removed");
  expect(run(PR, "R10-KL", noFix), "not reproduced", "KL gap kept");
  expect(run(PR, "FU1-V2", fixes), "reproduced", "V2 hurts inside");
  expect(run(PR, "FU1-V2", noFix), "not reproduced", "V2 helps inside");
  expect(run(PR, "FU1-V3", fixes), "reproduced", "V3 changes later layers by 1%");
  expect(run(PR, "FU1-V3", noFix), "not reproduced", "V3 halves a later layer's error");
  expect(run(PR, "KL≠ΔCE", fixes), "reproduced", "ΔCE 0.02 vs KL 0.05");
  expect(run(PR, "KL≠ΔCE", noFix), "not reproduced", "ΔCE = KL");
  expect(run(PR, "ΔCE_sampled=KL", fixes), "passed", "sampled ΔCE equals KL");
  const broken = posData({ "0/V0": { nmse: [0.04, 0.1], kl: [0.05, 0.09] } });
  broken.variants[0]!.sampled = bins("x", () => 0.5, T - 1);
  expect(run(PR, "ΔCE_sampled=KL", broken), "failed", "sampled ΔCE far from KL");
});

Deno.test("RowBinStats: window sums, row alignment, errors", () => {
  const edges = positionBinEdges(10, 4, 3);
  assertEquals(edges, [0, 3, 4, 7, 10]);
  const st = new RowBinStats("x", edges);
  st.addBatch([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 1, 10, undefined, 2); // row 2 only
  assertEquals(st.nRows, 3);
  const w = st.window(4, 10);
  assertEquals(Array.from(w.sum), [0, 0, 45]);
  assertEquals(Array.from(w.count), [0, 0, 6]);
  assertClose(weightedMean(w), 7.5, 1e-12, "mean of rows with data");
  assertThrows(() => st.window(1, 4), ["not a bin edge"]);
  assertThrows(() => st.addBatch([NaN], 1, 1, undefined, 0), ["non-finite"]);
});

Deno.test("SpliceMetrics keeps per-prompt bins aligned with the per-position means", () => {
  const m = new SpliceMetrics({
    nPos: 8,
    dIn: 2,
    bosPolicy: "exclude-position-0",
    explainedVariance: false,
    rowBinEdges: [0, 4, 8],
  });
  const tokens = [9, 1, 2, 3, 4, 5, 6, 7, 9, 1, 2, 3, 4, 5, 6, 7];
  const kl = Array.from({ length: 16 }, (_, i) => i / 10);
  m.addBatch({ tokens, batch: 2, pos: 8, kl });
  const w = m.rowBins!.kl.window(0, 8);
  assertClose(w.sum[0]! + w.sum[1]!, m.stats.kl.pooled().mean * m.stats.kl.pooled().count, 1e-9, "same total");
  assertEquals(Array.from(w.count), [7, 7]);
  assertThrows(() => m.merge(m), ["cannot be merged"]);
});

Deno.test("bootstrap over rows: deterministic, covers the mean, flags undefined statistics", () => {
  const rng = new Rng(5, "test/boot");
  const x = Array.from({ length: 200 }, () => 1 + rng.normal());
  const stat = (w: ArrayLike<number>) => x.reduce((a, v, i) => a + w[i]! * v, 0) / x.reduce((a, _v, i) => a + w[i]!, 0);
  const a = bootstrapRows(x.length, stat, { seed: 3 });
  const b = bootstrapRows(x.length, stat, { seed: 3 });
  assertEquals([a.lo, a.hi], [b.lo, b.hi]);
  assert(a.lo < a.estimate && a.estimate < a.hi, "estimate inside");
  const m = meanInterval(x);
  assertClose(a.hi - a.lo, m.hi - m.lo, 0.1, "bootstrap ≈ normal interval width");
  assertClose(normalQuantile(0.975), 1.959964, 1e-6, "normal quantile");
  const u = bootstrapRows(3, () => NaN);
  assert(u.lo === -Infinity && u.hi === Infinity, "undefined statistic → undecidable interval");
});

Deno.test("selectBalanced: rejects up front with reasons, equal quotas, sources take turns", () => {
  const pool = Array.from(
    { length: 40 },
    (_, i) => ({ i, bin: i % 4 === 0 ? "rare" : "common", src: i % 2 ? "a" : "b" }),
  );
  const s = selectBalanced(pool, {
    total: 20,
    stratum: (x) => x.bin,
    source: (x) => x.src,
    reject: (x) => (x.i % 7 === 0 ? "multiple of 7" : null),
  });
  assertEquals(s.rejected, { "multiple of 7": 6 });
  assertEquals(s.items.length, 20);
  assert(s.items.every((x) => x.i % 7 !== 0), "no rejected item selected");
  const rare = s.items.filter((x) => x.bin === "rare").length;
  assert(rare === 8, `rare stratum gives all it has (8), got ${rare}`);
  assertEquals(s.unused, 40 - 6 - 20);
  const all = selectBalanced(pool, { total: 1000, stratum: () => "x", source: () => "s", reject: () => null });
  assertEquals(all.items.length, 40);
});

Deno.test("ridge probe solver and option log-prob", () => {
  const A = Float64Array.of(4, 2, 2, 3);
  const w = choleskySolve(A, Float64Array.of(2, 1), 2);
  assertClose(4 * w[0]! + 2 * w[1]!, 2, 1e-12, "row 0");
  assertClose(2 * w[0]! + 3 * w[1]!, 1, 1e-12, "row 1");
  assertClose(optionLogProb([0, 0], 1), -Math.log(2), 1e-12, "two equal options");
});

Deno.test("RidgeSums recovers a linear map (position = 3·x0 − x1 + 5)", async () => {
  const { initBackend } = await import("../lib/engine/backend.ts");
  await initBackend();
  const rng = new Rng(6, "test/ridge");
  const n = 500;
  const x = new Float32Array(n * 2);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[2 * i] = 100 + rng.normal();
    x[2 * i + 1] = rng.normal();
    y[i] = 3 * x[2 * i]! - x[2 * i + 1]! + 5;
  }
  const s = new RidgeSums(2);
  await s.add(x.subarray(0, 500), y.subarray(0, 250));
  await s.add(x.subarray(500), y.subarray(250));
  const f = s.solve(1e-9);
  assertClose(f.w[0]!, 3, 1e-3, "w0");
  assertClose(f.w[1]!, -1, 1e-3, "w1");
});
