import { check, checkClose } from "../lib/check.ts";
import { Rng } from "../lib/engine/rng.ts";
import {
  buildEvents,
  ComposedFeatureData,
  datasetConfig,
  defaultComposedDataConfig,
  eventFrequencies,
} from "../lib/toy/data.ts";

const N = 200_000;

/** Tolerance of 4.5 standard errors of a frequency estimate from N samples. */
function tol(p: number, n: number): number {
  return 4.5 * Math.sqrt(p * (1 - p) / n);
}

Deno.test("D1 and D2 generators draw each x_i y_j pair with frequency 0.25", () => {
  for (const name of ["D1", "D2"] as const) {
    const data = new ComposedFeatureData(datasetConfig(name));
    const freq = eventFrequencies(data, data.sample(N, new Rng(11, "test/batches")), N);
    check(freq.size === 4, `${name}: expected only the 4 pair events, got ${[...freq.keys()]}`);
    for (const label of ["x1y1", "x1y2", "x2y1", "x2y2"]) {
      checkClose(freq.get(label) ?? -1, 0.25, tol(0.25, N), `${name} ${label} frequency`);
    }
  }
});

Deno.test("D3 (p = 0.75) draws one-hot vectors with frequency 0.1875 and pairs with 0.0625", () => {
  for (const name of ["D3u", "D3c"] as const) {
    const data = new ComposedFeatureData(datasetConfig(name));
    const freq = eventFrequencies(data, data.sample(N, new Rng(12, "test/batches")), N);
    for (const label of ["x1", "x2", "y1", "y2"]) {
      checkClose(freq.get(label) ?? -1, 0.1875, tol(0.1875, N), `${name} ${label} frequency`);
    }
    for (const label of ["x1y1", "x1y2", "x2y1", "x2y2"]) {
      checkClose(freq.get(label) ?? -1, 0.0625, tol(0.0625, N), `${name} ${label} frequency`);
    }
    check(!freq.has(""), `${name}: no all-zero samples`);
  }
});

Deno.test("one-hot probability works without a correlated pair (the study's code needed one)", () => {
  const events = buildEvents(defaultComposedDataConfig({ onehot_probability: 0.75 }));
  const onehot = events.filter((e) => e.onehot).reduce((a, e) => a + e.probability, 0);
  checkClose(onehot, 0.75, 1e-12, "total one-hot probability");
});

Deno.test("D1 magnitudes are equal within a pair and D2 magnitudes are independent U[0,1)", () => {
  const n = 50_000;
  const d1 = new ComposedFeatureData(datasetConfig("D1"));
  const x1 = d1.sample(n, new Rng(3, "m"));
  const d2 = new ComposedFeatureData(datasetConfig("D2"));
  const x2 = d2.sample(n, new Rng(3, "m"));
  let sxy = 0, sx = 0, sy = 0, sxx = 0, syy = 0;
  for (let b = 0; b < n; b++) {
    const a = x1[b * 4]! + x1[b * 4 + 1]!;
    const c = x1[b * 4 + 2]! + x1[b * 4 + 3]!;
    check(a === c && a >= 0 && a < 1, `D1 row ${b}: x amplitude ${a} must equal y amplitude ${c}`);
    const u = x2[b * 4]! + x2[b * 4 + 1]!;
    const v = x2[b * 4 + 2]! + x2[b * 4 + 3]!;
    sx += u, sy += v, sxy += u * v, sxx += u * u, syy += v * v;
  }
  const corr = (sxy / n - sx / n * sy / n) / Math.sqrt((sxx / n - (sx / n) ** 2) * (syy / n - (sy / n) ** 2));
  checkClose(corr, 0, 4.5 / Math.sqrt(n), "D2 x/y amplitude correlation");
  checkClose(sx / n, 0.5, 4.5 * Math.sqrt(1 / 12 / n), "D2 mean x amplitude");
});

Deno.test("unequal set sizes use the intended pair mapping (k // s1, s0 + k % s1)", () => {
  const events = buildEvents(defaultComposedDataConfig({ feat_sets: [2, 3] }));
  check(
    JSON.stringify(events.map((e) => e.label)) ===
      JSON.stringify(["x1y1", "x1y2", "x1y3", "x2y1", "x2y2", "x2y3"]),
    `pair labels: ${events.map((e) => e.label)}`,
  );
  for (const e of events) checkClose(e.probability, 1 / 6, 1e-12, `${e.label} probability`);
  const data = new ComposedFeatureData(defaultComposedDataConfig({ feat_sets: [2, 3] }));
  const freq = eventFrequencies(data, data.sample(60_000, new Rng(5, "u")), 60_000);
  checkClose(freq.get("x2y3") ?? -1, 1 / 6, tol(1 / 6, 60_000), "x2y3 frequency");
});

Deno.test("a correlated-pair boost of 0 is a no-op and a positive boost raises that pair", () => {
  const base = buildEvents(defaultComposedDataConfig());
  const zero = buildEvents(
    defaultComposedDataConfig({ correlated_feature_indices: [1, 0], correlated_feature_boost: 0 }),
  );
  base.forEach((e, i) => checkClose(zero[i]!.probability, e.probability, 1e-15, `${e.label} with boost 0`));
  const boosted = buildEvents(
    defaultComposedDataConfig({ correlated_feature_indices: [1, 0], correlated_feature_boost: 0.6 }),
  );
  // hand-computed from §4.4 for (2, 2), pair (x2, y1), β = 0.6: P(x2y1) = 0.25 + 0.6·0.25, the crossed
  // row/column factors give x2y2 = x1y1 = 0.25·0.1/0.25, and row x1 is restored to 0.5
  const expected: Record<string, number> = { x1y1: 0.1, x1y2: 0.4, x2y1: 0.4, x2y2: 0.1 };
  for (const e of boosted) checkClose(e.probability, expected[e.label]!, 1e-12, `boosted ${e.label}`);
  checkClose(boosted.reduce((a, e) => a + e.probability, 0), 1, 1e-12, "normalised total");
});

Deno.test("the same seed and stream give the same batch; another stream gives another", () => {
  const data = new ComposedFeatureData(datasetConfig("D3u"));
  const a = data.sample(1000, new Rng(7, "sae/batches"));
  const b = data.sample(1000, new Rng(7, "sae/batches"));
  const c = data.sample(1000, new Rng(7, "toy/batches"));
  check(a.every((v, i) => v === b[i]), "same seed and stream must reproduce the batch");
  check(a.some((v, i) => v !== c[i]), "a different stream must give a different batch");
});

Deno.test("the identity batch is eye(n_in)", () => {
  const eye = new ComposedFeatureData(datasetConfig("D1")).identity();
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) check(eye[i * 4 + j] === (i === j ? 1 : 0), `eye[${i},${j}]`);
});

Deno.test("invalid data configs fail with the field name", () => {
  const cases: [Partial<Parameters<typeof defaultComposedDataConfig>[0]>, string][] = [
    [{ feat_sets: [2, 2, 2] }, "feat_sets"],
    [{ set_magnitude_correlation: 1.5 }, "set_magnitude_correlation"],
    [{ onehot_probability: 1 }, "onehot_probability"],
    [{ correlated_feature_indices: [2, 0] }, "correlated_feature_indices"],
  ];
  for (const [over, field] of cases) {
    let msg = "";
    try {
      new ComposedFeatureData(defaultComposedDataConfig(over));
    } catch (e) {
      msg = (e as Error).message;
    }
    check(msg.includes(field), `expected an error naming ${field}, got "${msg}"`);
  }
});
