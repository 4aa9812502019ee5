import { check, checkClose } from "../lib/check.ts";
import { Rng } from "../lib/engine/rng.ts";
import { initBackend } from "../lib/engine/backend.ts";
import {
  antipodalCosines,
  composedDirections,
  dictionaryL1,
  evaluateInstances,
  EXPECTED_DICTIONARY_L1,
  hiddenCovariance,
  isBroken,
  reconstructionStats,
  rotateVec,
  rotationFor,
  selectInstances,
  summarizeReconstruction,
  symmetricEigenvalues,
} from "../lib/toy/analysis.ts";
import { ComposedFeatureData, datasetConfig } from "../lib/toy/data.ts";
import { checkDictionaryRows, dictionaryRows } from "../lib/toy/study.ts";
import type { ToyModel } from "../lib/toy/model.ts";
import { saeFromArrays } from "../lib/sae/sae.ts";
import { defaultSaeConfig } from "../lib/sae/config.ts";

await initBackend();

/** An ideal cross rotated by `phi`: x1 = u, x2 = −u, y1 = v, y2 = −v. */
function crossToy(phi: number, scaleY = 1): ToyModel {
  const u = [Math.cos(phi), Math.sin(phi)];
  const v = [-Math.sin(phi) * scaleY, Math.cos(phi) * scaleY];
  return {
    n_in: 4,
    n_hid: 2,
    W: new Float64Array([u[0]!, u[1]!, -u[0]!, -u[1]!, v[0]!, v[1]!, -v[0]!, -v[1]!]),
    b: new Float64Array(4),
  };
}

Deno.test("the arctan rotation puts x1 on the horizontal axis, pointing left when W[x1,0] < 0; atan2 always right", () => {
  for (const phi of [0.3, 2.5, -2.0]) {
    const toy = crossToy(phi);
    const tipA = rotateVec([toy.W[0]!, toy.W[1]!], rotationFor(toy, "arctan"));
    const tipB = rotateVec([toy.W[0]!, toy.W[1]!], rotationFor(toy, "atan2"));
    checkClose(tipA[1], 0, 1e-12, `arctan: x1 on the axis (φ=${phi})`);
    checkClose(tipA[0], Math.cos(phi) > 0 ? 1 : -1, 1e-12, `arctan: x1 direction (φ=${phi})`);
    checkClose(tipB[0], 1, 1e-12, `atan2: x1 points right (φ=${phi})`);
    checkClose(tipB[1], 0, 1e-12, `atan2: x1 on the axis (φ=${phi})`);
  }
});

Deno.test("antipodal cosines of an ideal cross are −1, −1 and 0", () => {
  const a = antipodalCosines(crossToy(0.7));
  checkClose(a.x, -1, 1e-12, "cos(x1,x2)");
  checkClose(a.y, -1, 1e-12, "cos(y1,y2)");
  checkClose(a.xyMaxAbs, 0, 1e-12, "max |cos(x,y)|");
});

Deno.test("hidden covariance of D1 through an ideal cross is I/3; unequal axis norms lower the eigenvalue ratio", () => {
  const data = new ComposedFeatureData(datasetConfig("D1"));
  const n = 100_000;
  const x = data.sample(n, new Rng(1, "cov"));
  const h = (toy: ToyModel) => {
    const out = new Float64Array(n * 2);
    for (let r = 0; r < n; r++) {
      for (let k = 0; k < 2; k++) {
        let s = 0;
        for (let i = 0; i < 4; i++) s += x[r * 4 + i]! * toy.W[i * 2 + k]!;
        out[r * 2 + k] = s;
      }
    }
    return out;
  };
  const c = hiddenCovariance(h(crossToy(0.4)), n, 2);
  for (const e of c.eigenvalues) checkClose(e, 1 / 3, 0.01, "eigenvalue");
  check(c.ratio > 0.97, `ratio ${c.ratio}`);
  const skew = hiddenCovariance(h(crossToy(0.4, 0.8)), n, 2);
  checkClose(skew.ratio, 0.64, 0.02, "‖W_y‖ = 0.8 gives ratio 0.8²");
});

Deno.test("symmetric eigenvalues by Jacobi match a known 3×3 case", () => {
  const eig = symmetricEigenvalues([2, 1, 0, 1, 2, 0, 0, 0, 5], 3).sort((a, b) => a - b);
  checkClose(eig[0]!, 1, 1e-10, "λ1");
  checkClose(eig[1]!, 3, 1e-10, "λ2");
  checkClose(eig[2]!, 5, 1e-10, "λ3");
});

Deno.test("hand-built dictionaries reproduce the ℓ1 table of spec §9.5 on samples", () => {
  const n = 200_000;
  for (const name of ["D1", "D2", "D3u", "D3c"] as const) {
    const data = new ComposedFeatureData(datasetConfig(name));
    const d = dictionaryL1(data.sample(n, new Rng(2, "dict")), n);
    const e = EXPECTED_DICTIONARY_L1[name]!;
    checkClose(d.axis, e.axis, 5 * d.se.axis, `${name} axis`);
    checkClose(d.diagonal, e.diagonal, 5 * d.se.diagonal, `${name} diagonal`);
    checkClose(d.bound, e.bound, 5 * d.se.bound, `${name} bound`);
  }
  // the spec's rounded table values
  checkClose(EXPECTED_DICTIONARY_L1.D2!.diagonal, 0.943, 5e-4, "D2 diagonal");
  checkClose(EXPECTED_DICTIONARY_L1.D3u!.diagonal, 0.766, 5e-4, "D3u diagonal");
  checkClose(EXPECTED_DICTIONARY_L1.D3u!.bound, 0.566, 5e-4, "D3u bound");
  checkClose(EXPECTED_DICTIONARY_L1.D3c!.bound, 0.552, 5e-4, "D3c bound");
});

Deno.test("selectInstances picks the lowest loss and the highest monosemanticity, first index on ties", () => {
  const s = selectInstances([0.5, 0.2, 0.2, 0.9], [0.3, 0.8, 0.8, 0.1]);
  check(s.lowestLoss === 1 && s.mostMonosemantic === 1, JSON.stringify(s));
});

Deno.test("an axis-aligned SAE scores axis |cos| 1 and monosemanticity 1; a diagonal SAE scores diagonal |cos| 1", () => {
  const toy = crossToy(0.3);
  const dirs = composedDirections(toy, [2, 2]);
  // instance 0: decoder = encoder = the four feature directions; instance 1: the four composed directions
  const wDec = new Float32Array(2 * 8);
  const wEnc = new Float32Array(2 * 8);
  for (let j = 0; j < 4; j++) {
    for (let k = 0; k < 2; k++) {
      wDec[j * 2 + k] = toy.W[j * 2 + k]!;
      wEnc[k * 4 + j] = toy.W[j * 2 + k]!;
      wDec[8 + j * 2 + k] = dirs.dirs[j * 2 + k]!;
      wEnc[8 + k * 4 + j] = dirs.dirs[j * 2 + k]!;
    }
  }
  const sae = saeFromArrays(defaultSaeConfig({ n_inst: 2, d_in: 2, d_sae: 4 }), {
    W_enc: { data: wEnc, shape: [2, 2, 4] },
    // a tiny negative bias on the diagonal code silences float32 round-off on the perpendicular diagonals
    b_enc: { data: new Float32Array([0, 0, 0, 0, -1e-4, -1e-4, -1e-4, -1e-4]), shape: [2, 4] },
    W_dec: { data: wDec, shape: [2, 4, 2] },
    b_dec: { data: new Float32Array(4), shape: [2, 2] },
  });
  const data = new ComposedFeatureData(datasetConfig("D1"));
  const x = data.sample(2000, new Rng(3, "eval"));
  const h = new Float32Array(2000 * 2);
  for (let r = 0; r < 2000; r++) {
    for (let k = 0; k < 2; k++) {
      let s = 0;
      for (let i = 0; i < 4; i++) s += x[r * 4 + i]! * toy.W[i * 2 + k]!;
      h[r * 2 + k] = s;
    }
  }
  const ev = evaluateInstances(sae, toy, [2, 2], h, [0.1, 0.1]);
  sae.dispose();
  checkClose(ev[0]!.axis_cos, 1, 1e-6, "axis SAE: |cos| to axes");
  checkClose(ev[0]!.diag_cos, Math.SQRT1_2, 1e-6, "axis SAE: |cos| to diagonals");
  checkClose(ev[0]!.monosemanticity, 1, 1e-6, "axis SAE: monosemanticity");
  checkClose(ev[0]!.normalized_mse, 0, 1e-9, "axis SAE reconstructs exactly");
  checkClose(ev[1]!.diag_cos, 1, 1e-6, "diagonal SAE: |cos| to diagonals");
  checkClose(ev[1]!.axis_cos, Math.SQRT1_2, 1e-6, "diagonal SAE: |cos| to axes");
  // on D1 the diagonal code activates one latent with ‖h‖: ℓ1 = E‖h‖ = √2/2
  checkClose(ev[1]!.l1, Math.SQRT1_2, 0.02, "diagonal SAE ℓ1 on D1");
  checkClose(ev[1]!.l0, 1, 1e-9, "diagonal SAE L0 on D1");
  checkClose(ev[0]!.l1, 1, 0.03, "axis SAE ℓ1 on D1");
});

Deno.test("the dictionary table matches the derived ℓ1 values and its check rejects a wrong row", () => {
  const rows = dictionaryRows(["D1", "D3u"], 40_000, 3);
  checkDictionaryRows(rows);
  check(rows[0]!.diagonal_saving > 0.25 && rows[1]!.diagonal_saving < 0, "D1 favours the diagonals, D3u the axes");
  let threw = false;
  try {
    checkDictionaryRows([{ ...rows[0]!, axis_l1: rows[0]!.axis_l1 + 0.1 }]);
  } catch (e) {
    threw = e instanceof Error && e.message.includes("D1 axis-dictionary ℓ1");
  }
  check(threw, "a measured ℓ1 far from the table fails with a message naming the data set");
});

Deno.test("a planted near-zero sample makes the per-sample mean explode; the ratio and the median do not move", () => {
  // an SAE that reconstructs exactly except for an output offset δ = 0.01 (b_dec), on 1,000 unit-scale inputs
  const delta = 0.01;
  const sae = saeFromArrays(defaultSaeConfig({ n_inst: 1, d_in: 2, d_sae: 4 }), {
    W_enc: { data: new Float32Array([1, -1, 0, 0, 0, 0, 1, -1]), shape: [1, 2, 4] },
    b_enc: { data: new Float32Array(4), shape: [1, 4] },
    W_dec: { data: new Float32Array([1, 0, -1, 0, 0, 1, 0, -1]), shape: [1, 4, 2] },
    b_dec: { data: new Float32Array([delta, 0]), shape: [1, 2] },
  });
  const rng = new Rng(11, "inputs");
  const n = 1000;
  const h = new Float32Array(2 * n);
  for (let b = 0; b < n; b++) {
    const r = 0.2 + 0.8 * rng.uniform();
    const t = 2 * Math.PI * rng.uniform();
    h[2 * b] = r * Math.cos(t);
    h[2 * b + 1] = r * Math.sin(t);
  }
  const clean = reconstructionStats(sae, h).summaries[0]!;
  const planted = Float32Array.from(h);
  planted[2 * 7] = 3e-6; // ‖h‖ = 3e-6: error δ² / ‖h‖² ≈ 1.1e7 on this one sample
  planted[2 * 7 + 1] = 0;
  const st = reconstructionStats(sae, planted);
  const bad = st.summaries[0]!;
  sae.dispose();
  check(
    bad.normalized_mse > 1e3 * clean.normalized_mse,
    `mean explodes: ${clean.normalized_mse} → ${bad.normalized_mse}`,
  );
  check(bad.normalized_mse > 1e4, `one sample decides the mean: ${bad.normalized_mse}`);
  checkClose(bad.mse_ratio, clean.mse_ratio, 0.01 * clean.mse_ratio, "ratio Σ error / Σ‖h‖² stays");
  checkClose(
    bad.median_normalized_mse,
    clean.median_normalized_mse,
    0.02 * clean.median_normalized_mse,
    "median stays",
  );
  check(bad.mse_ratio < 1e-3 && !isBroken(bad), `the robust measures still call this SAE good: ${bad.mse_ratio}`);
  checkClose(st.offset[0]!, delta, 1e-6, "output at h = 0 is the offset δ");
});

Deno.test("summarizeReconstruction: exact values on a small set; outputting zero scores 1; broken means worse than zero", () => {
  const s = summarizeReconstruction([1, 0, 3], [2, 0, 1]);
  checkClose(s.mse_ratio, 4 / 3, 1e-12, "ratio");
  checkClose(s.median_normalized_mse, 0.5, 1e-12, "median of [0.5, 0, 3] (norm 0 replaced by 1)");
  checkClose(s.normalized_mse, 3.5 / 3, 1e-12, "mean");
  check(isBroken(s), "ratio 4/3 > 1 is broken");
  const zero = summarizeReconstruction([0.5, 2, 0.1], [0.5, 2, 0.1]);
  check(zero.mse_ratio === 1 && zero.median_normalized_mse === 1 && !isBroken(zero), "zero output scores exactly 1");
  let threw = false;
  try {
    summarizeReconstruction([1, 2], [1]);
  } catch (e) {
    threw = e instanceof RangeError && /2 errors and 1 norms/.test(e.message);
  }
  check(threw, "mismatched lengths throw, naming both counts");
});

Deno.test("fisherExactTwoSided reproduces known p-values and is 1 for equal tables", async () => {
  const { fisherExactTwoSided } = await import("../lib/toy/reference.ts");
  checkClose(fisherExactTwoSided(2, 8, 9, 1), 0.005477, 1e-5, "2/10 against 9/10");
  checkClose(fisherExactTwoSided(12, 13, 21, 4), 0.015653, 1e-5, "12/25 against 21/25");
  checkClose(fisherExactTwoSided(0, 8, 5, 3), 0.025641, 1e-5, "0/8 against 5/8");
  checkClose(fisherExactTwoSided(5, 5, 5, 5), 1, 1e-12, "equal tables");
  let threw = false;
  try {
    fisherExactTwoSided(1.5, 2, 3, 4);
  } catch (e) {
    threw = e instanceof RangeError && /a = 1.5/.test(e.message);
  }
  check(threw, "a non-integer count throws, naming the cell");
});
