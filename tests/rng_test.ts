import { hashString, Rng } from "../lib/engine/rng.ts";

function assert(cond: boolean, msg: string): void {
  if (!cond) throw new Error(msg);
}

Deno.test("Rng gives the same sequence for the same seed and stream", () => {
  const a = new Rng(42, "x");
  const b = new Rng(42, "x");
  for (let i = 0; i < 1000; i++) assert(a.nextU32() === b.nextU32(), `draw ${i} differs`);
});

Deno.test("Rng streams with different names or seeds differ", () => {
  const draws = (r: Rng) => Array.from({ length: 8 }, () => r.nextU32()).join(",");
  const base = draws(new Rng(42, "x"));
  assert(draws(new Rng(42, "y")) !== base, "stream name must change the sequence");
  assert(draws(new Rng(43, "x")) !== base, "seed must change the sequence");
  assert(draws(new Rng(42 + 2 ** 32, "x")) !== base, "high bits of the seed must matter");
  assert(draws(new Rng(42, "x").fork("child")) !== base, "a fork is a different stream");
});

Deno.test("Rng uniform draws lie in [0, 1) with mean 1/2 and variance 1/12", () => {
  const r = new Rng(7, "u");
  const n = 200_000;
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const u = r.uniform();
    assert(u >= 0 && u < 1, `uniform out of range: ${u}`);
    s += u;
    s2 += u * u;
  }
  const mean = s / n;
  const variance = s2 / n - mean * mean;
  assert(Math.abs(mean - 0.5) < 5 * Math.sqrt(1 / 12 / n), `mean ${mean}`);
  assert(Math.abs(variance - 1 / 12) < 2e-3, `variance ${variance}`);
});

Deno.test("Rng normal draws have mean 0, variance 1 and kurtosis 3", () => {
  const r = new Rng(7, "n");
  const n = 200_000;
  let s = 0, s2 = 0, s4 = 0;
  for (let i = 0; i < n; i++) {
    const z = r.normal();
    s += z;
    s2 += z * z;
    s4 += z ** 4;
  }
  assert(Math.abs(s / n) < 5 / Math.sqrt(n), `mean ${s / n}`);
  assert(Math.abs(s2 / n - 1) < 0.02, `variance ${s2 / n}`);
  assert(Math.abs(s4 / n - 3) < 0.1, `fourth moment ${s4 / n}`);
});

Deno.test("Rng.categorical samples in proportion to the CDF increments", () => {
  const r = new Rng(3, "c");
  const cdf = [0.1, 0.4, 0.4, 1.0]; // probabilities 0.1, 0.3, 0, 0.6
  const counts = [0, 0, 0, 0];
  const n = 100_000;
  for (let i = 0; i < n; i++) counts[r.categorical(cdf)]!++;
  const expected = [0.1, 0.3, 0, 0.6];
  expected.forEach((p, k) => {
    const se = Math.sqrt((p * (1 - p)) / n);
    assert(Math.abs(counts[k]! / n - p) <= 5 * se + 1e-12, `category ${k}: ${counts[k]! / n} vs ${p}`);
  });
});

Deno.test("Rng.int stays in range and rejects bad bounds", () => {
  const r = new Rng(1, "i");
  for (let i = 0; i < 1000; i++) {
    const k = r.int(5);
    assert(Number.isInteger(k) && k >= 0 && k < 5, `int out of range: ${k}`);
  }
  let threw = false;
  try {
    r.int(0);
  } catch (e) {
    threw = e instanceof RangeError;
  }
  assert(threw, "int(0) must throw a RangeError");
});

Deno.test("Rng state round trip resumes the exact sequence, including the spare normal", () => {
  const r = new Rng(9, "s");
  r.normal(); // leaves a cached spare
  const saved = JSON.parse(JSON.stringify(r.getState()));
  const expected = [r.normal(), r.uniform(), r.nextU32()];
  const other = new Rng(0, "other");
  other.setState(saved);
  const actual = [other.normal(), other.uniform(), other.nextU32()];
  assert(JSON.stringify(actual) === JSON.stringify(expected), `${actual} vs ${expected}`);
});

Deno.test("Rng rejects a non-finite seed and a malformed state", () => {
  let threw = 0;
  try {
    new Rng(Number.NaN);
  } catch {
    threw++;
  }
  try {
    new Rng(1).setState({ words: [1, 2, 3], spare: null });
  } catch {
    threw++;
  }
  assert(threw === 2, "both must throw");
});

Deno.test("Rng.shuffle is a seeded permutation", () => {
  const a = new Rng(5, "sh").shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const b = new Rng(5, "sh").shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert(a.join() === b.join(), "same seed, same permutation");
  assert([...a].sort((x, y) => x - y).join() === "0,1,2,3,4,5,6,7,8,9", "a permutation");
  assert(hashString("a") !== hashString("b"), "hash separates names");
});
