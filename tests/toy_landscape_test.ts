import { check, checkClose } from "../lib/check.ts";
import { Rng } from "../lib/engine/rng.ts";
import { ComposedFeatureData, datasetConfig } from "../lib/toy/data.ts";
import { dictionaryL1, EXPECTED_DICTIONARY_L1 } from "../lib/toy/analysis.ts";
import { hiddenActivations } from "../lib/toy/model.ts";
import {
  dictionaryAngle,
  exactL1AtAngle,
  handBuiltObjective,
  hiddenFrame,
  landscape,
  optimiseHandBuilt,
  rotatedDictionary,
} from "../lib/toy/landscape.ts";
import { idealHidden, projectionMoments } from "../lib/toy/moments.ts";
import {
  breakEvenOnehot,
  expectedDictionaryL1,
  expectedL0,
  expectedProjectionMoments,
  topk1Mse,
} from "../lib/toy/predictions.ts";

// an ideal cross rotated by 30°: u = (cos 30°, sin 30°), v ⟂ u
const c30 = Math.cos(Math.PI / 6), s30 = Math.sin(Math.PI / 6);
const CROSS = {
  n_in: 4,
  n_hid: 2,
  W: new Float64Array([c30, s30, -c30, -s30, -s30, c30, s30, -c30]),
  b: new Float64Array(4),
};

function close(a: number, b: number, tol: number, what: string): void {
  if (!(Math.abs(a - b) <= tol)) throw new Error(`${what}: expected ${b} ± ${tol}, got ${a}`);
}

Deno.test("the rotated dictionary is the true axes at 0° and the composed diagonals at 45°", () => {
  const f = hiddenFrame(CROSS);
  close(f.u[0], c30, 1e-12, "u");
  close(f.v[1], c30, 1e-12, "v on the side of W_y1");
  const d0 = rotatedDictionary(f, 0);
  for (let k = 0; k < 4; k++) {
    const cos = Math.abs(d0[k * 2]! * CROSS.W[[0, 4, 2, 6][k]!]! + d0[k * 2 + 1]! * CROSS.W[[1, 5, 3, 7][k]!]!);
    close(cos, 1, 1e-12, `row ${k} at 0° lies on a true axis`);
  }
  const d45 = rotatedDictionary(f, Math.PI / 4);
  const diag = [(c30 - s30) / Math.SQRT2, (s30 + c30) / Math.SQRT2]; // (u + v)/√2
  close(d45[0]!, diag[0]!, 1e-12, "row 0 at 45° = (u + v)/√2 (x)");
  close(d45[1]!, diag[1]!, 1e-12, "row 0 at 45° = (u + v)/√2 (y)");
  close(dictionaryAngle(d0, f), 0, 1e-9, "angle of the axes");
  close(dictionaryAngle(d45, f), 45, 1e-9, "angle of the diagonals");
  close(dictionaryAngle(rotatedDictionary(f, -10 * Math.PI / 180), f), 10, 1e-9, "angle is folded to 0–45°");
});

Deno.test("zero-MSE ℓ1 at 0° and 45° equals the axis and diagonal dictionaries and the §9.5 table", () => {
  for (const name of ["D1", "D2", "D3u", "D3c"] as const) {
    const n = 40_000;
    const x = new ComposedFeatureData(datasetConfig(name)).sample(n, new Rng(7, "test/landscape"));
    const d = dictionaryL1(x, n);
    close(exactL1AtAngle(x, n, 0), d.axis, 1e-9, `${name} axes`);
    close(exactL1AtAngle(x, n, Math.PI / 4), d.diagonal, 1e-9, `${name} diagonals`);
    close(d.axis, EXPECTED_DICTIONARY_L1[name]!.axis, 6 * d.se.axis, `${name} axes vs §9.5`);
    close(d.diagonal, EXPECTED_DICTIONARY_L1[name]!.diagonal, 6 * d.se.diagonal, `${name} diagonals vs §9.5`);
    // through an ideal toy, s = 1, b = 0 reconstructs exactly with the same ℓ1
    const h = hiddenActivations(CROSS, x, n);
    const v = handBuiltObjective(
      rotatedDictionary(hiddenFrame(CROSS), 0.3),
      {
        s: [1, 1, 1, 1],
        b: [0, 0, 0, 0],
        b_dec: [0, 0],
      },
      h,
      n,
      0,
    );
    close(v.normalized_mse, 0, 1e-20, `${name}: exact reconstruction at any angle`);
    close(v.l1, exactL1AtAngle(x, n, 0.3), 1e-9, `${name}: ℓ1 through the ideal toy`);
  }
});

Deno.test("the hand-built objective's gradient matches finite differences", () => {
  const n = 300;
  const x = new ComposedFeatureData(datasetConfig("D2")).sample(n, new Rng(1, "test/grad"));
  const h = hiddenActivations(CROSS, x, n);
  const dict = rotatedDictionary(hiddenFrame(CROSS), 0.2);
  const p = { s: [0.9, 1.1, 0.8, 1.05], b: [-0.05, 0.02, -0.1, 0.03], b_dec: [0.01, -0.02] as [number, number] };
  const g = new Float64Array(10);
  handBuiltObjective(dict, p, h, n, 0.3, g);
  const flat = [...p.s, ...p.b, ...p.b_dec];
  const at = (t: number[]) =>
    handBuiltObjective(dict, { s: t.slice(0, 4), b: t.slice(4, 8), b_dec: [t[8]!, t[9]!] }, h, n, 0.3).loss;
  for (let q = 0; q < 10; q++) {
    const e = 1e-6;
    const up = [...flat], dn = [...flat];
    up[q]! += e;
    dn[q]! -= e;
    close(g[q]!, (at(up) - at(dn)) / (2 * e), 1e-5, `gradient component ${q}`);
  }
});

Deno.test("optimising scales and biases lowers the objective and prefers the diagonals on D1, the axes on D3u", () => {
  for (const [name, better] of [["D1", 45], ["D3u", 0]] as const) {
    const n = 4000;
    const x = new ComposedFeatureData(datasetConfig(name)).sample(n, new Rng(3, "test/opt"));
    const h = hiddenActivations(CROSS, x, n);
    const pts = landscape(CROSS, x, h, n, [0, 45], 0.1, { iterations: 300, lr: 0.02 });
    for (const pt of pts) {
      const start = handBuiltObjective(
        new Float64Array(pt.W_dec),
        {
          s: [1, 1, 1, 1],
          b: [0, 0, 0, 0],
          b_dec: [0, 0],
        },
        h,
        n,
        0.1,
      ).loss;
      if (!(pt.loss <= start)) throw new Error(`${name} ${pt.angle_deg}°: optimum ${pt.loss} above the start ${start}`);
    }
    const best = pts[0]!.loss < pts[1]!.loss ? 0 : 45;
    if (best !== better) throw new Error(`${name}: lowest objective at ${best}°, expected ${better}°`);
  }
  // λ = 0: exact reconstruction is optimal, loss ≈ 0
  const n = 1000;
  const x = new ComposedFeatureData(datasetConfig("D2")).sample(n, new Rng(4, "test/opt0"));
  const h = hiddenActivations(CROSS, x, n);
  const r = optimiseHandBuilt(rotatedDictionary(hiddenFrame(CROSS), 0.4), h, n, 0, { iterations: 50, lr: 0.01 });
  close(r.value.loss, 0, 1e-6, "λ = 0 optimum");
});

Deno.test("closed-form predictions reproduce the §9.5 numbers and the break-even fractions", () => {
  close(expectedDictionaryL1(0, 1).diagonal, 0.7071, 1e-4, "D1 diagonal ℓ1");
  close(expectedDictionaryL1(0.75, 0).diagonal, EXPECTED_DICTIONARY_L1.D3u!.diagonal, 1e-12, "D3u diagonal ℓ1");
  close(expectedDictionaryL1(0.75, 1).axis, 0.625, 1e-12, "D3c axis ℓ1");
  close(breakEvenOnehot(0), 0.2165, 5e-4, "p* independent");
  close(breakEvenOnehot(1), 0.5858, 5e-4, "p* equal");
  const e = (p: number, f: number) => expectedDictionaryL1(p, f);
  close(e(breakEvenOnehot(0), 0).axis, e(breakEvenOnehot(0), 0).diagonal, 1e-12, "equal ℓ1 at p*");
  const m = expectedProjectionMoments(0, 1);
  close(m.m4_axis, 0.2, 1e-12, "D1 E z⁴ axis");
  close(m.m4_diagonal, 0.4, 1e-12, "D1 E z⁴ diagonal");
  close(expectedProjectionMoments(0, 0).m4_diagonal, 0.2667, 1e-4, "D2 E z⁴ diagonal");
  close(expectedProjectionMoments(0.75, 0).m4_axis, 0.125, 1e-12, "D3u E z⁴ axis");
  close(expectedProjectionMoments(0.75, 0).m4_diagonal, 0.1042, 1e-4, "D3u E z⁴ diagonal");
  const l0 = expectedL0(0.75, 1);
  close(l0.axis, 1.25, 1e-12, "D3c L0 axes");
  close(l0.diagonal, 1.75, 1e-12, "D3c L0 diagonals");
  if (
    !(() => {
      try {
        expectedDictionaryL1(0.5, 0.5);
        return false;
      } catch (err) {
        return String(err).includes("amplitude correlation f");
      }
    })()
  ) throw new Error("f = 0.5 must be rejected naming f");
});

Deno.test("sampled projection moments match the closed form, and TopK k=1 prefers the diagonals on D1", () => {
  for (const [name, p, f] of [["D1", 0, 1], ["D2", 0, 0], ["D3u", 0.75, 0], ["D3c", 0.75, 1]] as const) {
    const n = 200_000;
    const x = new ComposedFeatureData(datasetConfig(name)).sample(n, new Rng(5, "test/moments"));
    const rows = projectionMoments(idealHidden(x, n), n, { u: [1, 0], v: [0, 1] }, [0, 45, 90]);
    const want = expectedProjectionMoments(p, f);
    close(rows[0]!.m2, want.m2, 0.01 * want.m2 + 2e-3, `${name} E z² axis`);
    close(rows[1]!.m2, want.m2, 0.01 * want.m2 + 2e-3, `${name} E z² diagonal (isotropy)`);
    close(rows[0]!.m4, want.m4_axis, 0.03 * want.m4_axis, `${name} E z⁴ axis`);
    close(rows[1]!.m4, want.m4_diagonal, 0.03 * want.m4_diagonal, `${name} E z⁴ diagonal`);
  }
  const x = new ComposedFeatureData(datasetConfig("D1")).sample(1000, new Rng(6, "test/topk"));
  const t = topk1Mse(x, 1000);
  close(t.diagonal, 0, 1e-12, "D1 diagonals reconstruct from one latent");
  close(t.axis, 0.5, 1e-12, "D1 axes lose half");
});

Deno.test("the ratio form of the hand-built objective is Σ error / Σ‖h‖² + λ·ℓ1, and a near-zero sample does not decide it", () => {
  const dict = new Float64Array([1, 0, 0, 1, -1, 0, 0, -1]);
  const p = { s: [1, 1, 1, 1], b: [0, 0, 0, 0], b_dec: [0.01, 0] as [number, number] };
  const h = new Float64Array([0.5, 0, 0, 0.8, 1e-6, 0]);
  const v = handBuiltObjective(dict, p, h, 3, 0.1, undefined, "ratio");
  // errors: the offset 0.01 on every sample; norms² 0.25, 0.64, 1e-12
  checkClose(v.normalized_mse, 3 * 1e-4 / (0.25 + 0.64 + 1e-12), 1e-12, "ratio");
  const perSample = handBuiltObjective(dict, p, h, 3, 0.1);
  check(perSample.normalized_mse > 1e7, `per-sample mean is decided by the 1e-6 sample: ${perSample.normalized_mse}`);
});
