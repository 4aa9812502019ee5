// Copying by segment length (lib/study_b/copy_distance.ts): which segment lengths are aperiodic, the lag cosines of
// positional rows, the verdict rule's three outcomes, the probe file's validation and the probe on a small model.

import { initBackend } from "../lib/engine/backend.ts";
import { defaultGpt2Config, gpt2ParamShapes } from "../lib/lm/config.ts";
import { Gpt2 } from "../lib/lm/gpt2.ts";
import { measurePilotPoint } from "../lib/study_b/context_probe.ts";
import {
  APERIODIC_SEGMENTS,
  aperiodicSegment,
  COPY_SEGMENTS,
  copyDistance,
  copyDistanceFigure,
  type CopyDistanceProbe,
  type CopyDistanceRow,
  copyVerdict,
  lagCosines,
  loadCopyDistanceProbes,
} from "../lib/study_b/copy_distance.ts";
import { assert, assertClose, expectRejects } from "./helpers.ts";

await initBackend();

Deno.test("aperiodic segments: no repeat distance within the positions is a multiple of 64", () => {
  const within512 = (L: number) => aperiodicSegment(L, Math.floor(512 / L) * L);
  const aperiodic = COPY_SEGMENTS.filter(within512);
  assert(aperiodic.join() === "50,75,100", `aperiodic among the probed lengths: ${aperiodic}`);
  assert(!within512(48) && !within512(80), "48 (192 back) and 80 (320 back) reach a multiple of 64");
  assert(aperiodicSegment(80, 300), "80 within 300 positions: 80, 160, 240");
  assert(!aperiodicSegment(100, 1000, 100), "a period equal to the segment");
});

Deno.test("lag cosines find the period of periodic rows and refuse a lag with no pair", () => {
  const d = 4, n = 40;
  // rows with period 8 plus a slow drift
  const w = new Float32Array(n * d);
  for (let p = 0; p < n; p++) {
    for (let k = 0; k < d; k++) w[p * d + k] = Math.cos((2 * Math.PI * (k + 1) * p) / 8) + 0.01 * p;
  }
  const c = lagCosines(w, d, [1, 3, 8], 0, n);
  assert(c[2]!.cosine > 0.99, `lag 8: ${c[2]!.cosine}`);
  assert(c[0]!.cosine < 0.8 && c[1]!.cosine < 0.8, `lags 1 and 3: ${c[0]!.cosine}, ${c[1]!.cosine}`);
  let threw = false;
  try {
    lagCosines(w, d, [40], 0, n);
  } catch (e) {
    threw = (e as Error).message.includes("lag 40");
  }
  assert(threw, "a lag as long as the rows must throw naming it");
});

const row = (segment: number, aperiodic: boolean, gain: number): CopyDistanceRow => ({
  segment,
  positions: 512,
  aperiodic,
  gain,
  second_gain: gain,
  loss_by_repeat: [10, 10 - gain],
});
const probe = (rows: CopyDistanceRow[]): CopyDistanceProbe => ({
  label: "p",
  recipe: "r",
  step: 1,
  by_segment: rows,
  wpe_lag_cosine: [{ lag: 1, cosine: 0.5 }],
  wpe_from: 1,
  wpe_to: 512,
});

Deno.test("the verdict: induction needs the bar at every aperiodic length; the 64-token gain alone is fixed-offset", () => {
  const v = (rows: CopyDistanceRow[]) => copyVerdict(rows);
  assert(v([row(64, false, 6), row(50, true, 2.1), row(100, true, 3)]).verdict === "induction", "all above the bar");
  const f = v([row(64, false, 6), row(50, true, 2.1), row(100, true, 1.9)]);
  assert(f.verdict === "fixed-offset" && f.aperiodic_min === 1.9 && f.gain64 === 6, JSON.stringify(f));
  assert(v([row(64, false, 1.9), row(100, true, 1)]).verdict === "none", "below the bar everywhere");
  // the 64-token gain need not reach the bar when every aperiodic length does
  assert(v([row(64, false, 1), row(100, true, 2.5)]).verdict === "induction", "content copying judged aperiodically");
  let threw = "";
  try {
    v([row(64, false, 6)]);
  } catch (e) {
    threw = (e as Error).message;
  }
  assert(threw.includes("aperiodic"), `no aperiodic length must throw: ${threw}`);
});

Deno.test("the probe file is validated, naming the line and field", async () => {
  const dir = await Deno.makeTempDir({ prefix: "copy_distance_" });
  try {
    const file = `${dir}/p.jsonl`;
    const good = probe([row(64, false, 6), row(100, true, 0)]);
    await Deno.writeTextFile(file, JSON.stringify(good) + "\n\n");
    const back = await loadCopyDistanceProbes(file);
    assert(back.length === 1 && back[0]!.by_segment[1]!.segment === 100, "round trip");
    const bad = { ...good, by_segment: [{ ...row(64, false, 6), gain: null }] };
    await Deno.writeTextFile(file, JSON.stringify(good) + "\n" + JSON.stringify(bad) + "\n");
    await expectRejects(() => loadCopyDistanceProbes(file), "line 2", "by_segment[0].gain", "null");
    await Deno.writeTextFile(file, JSON.stringify({ ...good, wpe_to: "x" }) + "\n");
    await expectRejects(() => loadCopyDistanceProbes(file), "line 1", "wpe_to");
    await Deno.writeTextFile(file, "{\n");
    await expectRejects(() => loadCopyDistanceProbes(file), "line 1", "not JSON");
    const fig = copyDistanceFigure([good, { ...good, label: "q" }]);
    assert(fig.data.length === 3 && fig.data[2]!.name === "bar (2 nats)", "one line per probe, then the bar");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the probe on a small random model: every length measured within 512 positions, no copying", () => {
  const model = Gpt2.random(defaultGpt2Config({ n_layer: 1, d_model: 16, n_head: 2, n_ctx: 512, d_vocab: 256 }), 3);
  try {
    const rows = copyDistance(model, [50, 64, 100]);
    assert(
      rows.map((r) => `${r.segment}/${r.positions}/${r.aperiodic}`).join() === "50/500/true,64/512/false,100/500/true",
      JSON.stringify(rows.map((r) => [r.segment, r.positions, r.aperiodic])),
    );
    for (const r of rows) {
      assert(r.loss_by_repeat.length === r.positions / r.segment, `${r.segment}: ${r.loss_by_repeat.length} repeats`);
      assertClose(r.second_gain, r.loss_by_repeat[0]! - r.loss_by_repeat[1]!, 1e-12, `${r.segment}: second gain`);
      assert(Math.abs(r.gain) < 0.5, `${r.segment}: an untrained model gains ${r.gain}`);
    }
  } finally {
    model.dispose();
  }
});

/**
 * A one-layer model built by hand whose single head copies from a fixed distance back: positions carry a code
 * periodic in 128 (cos, sin and their negatives, so the LayerNorm's mean cancels), the query is the code rotated by
 * one position, so position p attends to the positions j ≡ p + 1 (mod 128) before it, and the value copies the
 * token there into the logits. It predicts token p + 1 whenever the token 127 positions back is followed by the same
 * token as 128 back, i.e. on any repeat whose distance is a multiple of 128, and knows nothing of content.
 */
function fixedOffsetModel(): Gpt2 {
  const V = 64, D = V + 4, K = 128, A = 10, s = 8000, B = 50;
  const cfg = defaultGpt2Config({ n_layer: 1, d_model: D, n_head: 1, n_ctx: 512, d_vocab: V });
  const arrays = new Map<string, Float32Array>();
  for (const [name, shape] of gpt2ParamShapes(cfg)) arrays.set(name, new Float32Array(shape.reduce((a, b) => a * b)));
  const set = (name: string, cols: number, r: number, c: number, v: number) => (arrays.get(name)![r * cols + c] = v);
  for (let t = 0; t < V; t++) set("wte.weight", D, t, t, 1);
  for (let p = 0; p < 512; p++) {
    const a = (2 * Math.PI * p) / K;
    [Math.cos(a), Math.sin(a), -Math.cos(a), -Math.sin(a)].forEach((v, k) => set("wpe.weight", D, p, V + k, A * v));
  }
  for (const n of ["h.0.ln_1.weight", "h.0.ln_2.weight", "ln_f.weight"]) arrays.get(n)!.fill(1);
  const attn = "h.0.attn.c_attn.weight", [c, sn] = [Math.cos((2 * Math.PI) / K), Math.sin((2 * Math.PI) / K)];
  // u = (x[V] − x[V+2]) / 2, w = (x[V+1] − x[V+3]) / 2 read the code without the LayerNorm's mean
  const read = (col: number, cu: number, cw: number) => {
    set(attn, 3 * D, V, col, cu / 2), set(attn, 3 * D, V + 2, col, -cu / 2);
    set(attn, 3 * D, V + 1, col, cw / 2), set(attn, 3 * D, V + 3, col, -cw / 2);
  };
  read(0, s * c, -s * sn); // query: the code rotated forward by one position
  read(1, s * sn, s * c);
  read(D, 1, 0); // key: the code
  read(D + 1, 0, 1);
  for (let t = 0; t < V; t++) set(attn, 3 * D, t, 2 * D + t, 1), set("h.0.attn.c_proj.weight", D, t, t, B);
  return new Gpt2(cfg, arrays);
}

Deno.test("a hand-built head copying from 128 back: the 64-token test passes, the probe says fixed-offset", () => {
  const model = fixedOffsetModel();
  try {
    const rows = copyDistance(model);
    const by = new Map(rows.map((r) => [r.segment, r]));
    // repeats from position 128 on are predicted when the segment divides 128, never at the aperiodic lengths
    assert(by.get(64)!.gain > 2 && by.get(128)!.gain > 2, `64: ${by.get(64)!.gain}, 128: ${by.get(128)!.gain}`);
    assert(by.get(64)!.second_gain < 0.5, `the second 64-token repeat (64 back) gained ${by.get(64)!.second_gain}`);
    const v = copyVerdict(rows);
    // later repeats at the aperiodic lengths gain about 1 nat: attention split over 2–4 positions 128·m back makes
    // the wrong guesses less confident, without copying
    assert(v.verdict === "fixed-offset" && v.aperiodic_min < 1.5, JSON.stringify(v));
    const wpe = model.toArrays().get("wpe.weight")!;
    const [lag100, lag128] = lagCosines(wpe, model.cfg.d_model, [100, 128], 1, 512);
    assert(lag128!.cosine > 0.99 && lag100!.cosine < 0.5, `lag cosines ${JSON.stringify([lag100, lag128])}`);
  } finally {
    model.dispose();
  }
});

/**
 * A two-layer induction circuit built by hand: layer 0's head attends to the previous position (a positional code
 * of two frequencies, periods 8 and 2048, whose query is rotated back by one position) and writes that token into
 * "previous token" dimensions; layer 1's head matches the current token against them and copies the token found,
 * so it predicts any repeat by content, whatever its distance.
 */
function inductionModel(): Gpt2 {
  const V = 512, P = 2 * V, D = 2 * V + 8, s1 = 5, B0 = 0.07, B1 = 2;
  const cfg = defaultGpt2Config({ n_layer: 2, d_model: D, n_head: 1, n_ctx: 512, d_vocab: V });
  const arrays = new Map<string, Float32Array>();
  for (const [name, shape] of gpt2ParamShapes(cfg)) arrays.set(name, new Float32Array(shape.reduce((a, b) => a * b)));
  const set = (name: string, cols: number, r: number, c: number, v: number) => (arrays.get(name)![r * cols + c] = v);
  for (let t = 0; t < V; t++) set("wte.weight", D, t, t, 1);
  // query scales of the two frequencies: period 8 separates neighbours, period 2048 makes p − 1 the unique best
  const periods = [8, 2048], weights = [11, 6.6e5];
  for (let p = 0; p < 512; p++) {
    periods.forEach((K, f) => {
      const a = (2 * Math.PI * p) / K;
      [Math.cos(a), Math.sin(a), -Math.cos(a), -Math.sin(a)].forEach((v, k) =>
        set("wpe.weight", D, p, P + 4 * f + k, v)
      );
    });
  }
  for (const n of ["h.0.ln_1.weight", "h.0.ln_2.weight", "h.1.ln_1.weight", "h.1.ln_2.weight", "ln_f.weight"]) {
    arrays.get(n)!.fill(1);
  }
  const a0 = "h.0.attn.c_attn.weight", a1 = "h.1.attn.c_attn.weight";
  periods.forEach((K, f) => {
    const [c, sn] = [Math.cos((2 * Math.PI) / K), Math.sin((2 * Math.PI) / K)], base = P + 4 * f;
    const read = (col: number, cu: number, cw: number) => {
      set(a0, 3 * D, base, col, cu / 2), set(a0, 3 * D, base + 2, col, -cu / 2);
      set(a0, 3 * D, base + 1, col, cw / 2), set(a0, 3 * D, base + 3, col, -cw / 2);
    };
    const w = weights[f] as number;
    read(2 * f, w * c, w * sn); // query: the code rotated back by one position
    read(2 * f + 1, -w * sn, w * c);
    read(D + 2 * f, 1, 0); // key: the code
    read(D + 2 * f + 1, 0, 1);
  });
  for (let t = 0; t < V; t++) {
    set(a0, 3 * D, t, 2 * D + t, 1), set("h.0.attn.c_proj.weight", D, t, V + t, B0); // previous token → dims V…2V
    set(a1, 3 * D, t, t, s1), set(a1, 3 * D, V + t, D + t, 1); // query: this token; key: the previous token
    set(a1, 3 * D, t, 2 * D + t, 1), set("h.1.attn.c_proj.weight", D, t, t, B1); // value: the token found
  }
  return new Gpt2(cfg, arrays);
}

Deno.test("a hand-built induction circuit: the probe says induction, with the second repeat already copied", () => {
  const model = inductionModel();
  try {
    const rows = copyDistance(model, [50, 64, 100]);
    const v = copyVerdict(rows);
    assert(v.verdict === "induction", `${JSON.stringify(v)}; ${rows.map((r) => `${r.segment}:${r.gain.toFixed(2)}`)}`);
    for (const r of rows) assert(r.second_gain > 2, `segment ${r.segment}: second repeat gains ${r.second_gain}`);
  } finally {
    model.dispose();
  }
});

Deno.test("pilot points carry the smallest aperiodic gain of the lengths that fit, null when none fits", () => {
  const model = Gpt2.random(defaultGpt2Config({ n_layer: 1, d_model: 16, n_head: 2, n_ctx: 512, d_vocab: 256 }), 3);
  try {
    const rows = [0, 1].map((r) => Int32Array.from({ length: 513 }, (_, i) => (i * 31 + r * 7) % 250 + 1));
    const at512 = measurePilotPoint(model, rows, 1024);
    const want = Math.min(...copyDistance(model, APERIODIC_SEGMENTS, 512).map((r) => r.gain));
    assert(at512.aperiodic === want, `rows of 1024: ${at512.aperiodic}, the probe's minimum ${want}`);
    const at128 = measurePilotPoint(model, rows, 128); // only 50 fits twice into 128 positions
    assert(at128.aperiodic === copyDistance(model, [50], 128)[0]!.gain, `rows of 128: ${at128.aperiodic}`);
    assert(measurePilotPoint(model, rows, 64).aperiodic === null, "rows of 64: no aperiodic length fits");
  } finally {
    model.dispose();
  }
});
