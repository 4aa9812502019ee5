/**
 * Seedable random numbers with named, independent streams.
 *
 * The generator is xoshiro128** (32-bit state words, period 2^128 − 1), seeded
 * through splitmix32 from a numeric seed and a stream name. Two streams with
 * different names never share state, so "toy init", "toy batches", "SAE init"
 * and "SAE batches" draw independently and each is reproducible on its own.
 *
 * @example
 * ```ts
 * import { Rng } from "./rng.ts";
 * const rng = new Rng(0, "sae/init");
 * const a = rng.uniform(); // in [0, 1)
 * const again = new Rng(0, "sae/init").uniform();
 * if (a !== again) throw new Error("same seed and stream give the same numbers");
 * ```
 *
 * @module
 */

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a hash of a string to an unsigned 32-bit integer. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const TWO_POW_32 = 4294967296;

/** Serializable generator state (see {@link Rng.getState}). */
export interface RngState {
  /** The four xoshiro128** state words. */
  words: number[];
  /** Cached second Box–Muller draw, if any. */
  spare: number | null;
}

/** A xoshiro128** generator for one named stream. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  #spare: number | null = null;
  /** The seed this stream was built from. */
  readonly seed: number;
  /** The stream name this generator was built from. */
  readonly stream: string;

  /**
   * @param seed any finite number (its integer part and sign are used)
   * @param stream a name that selects an independent stream
   * @throws {RangeError} if the seed is not a finite number
   */
  constructor(seed: number, stream = "") {
    if (!Number.isFinite(seed)) {
      throw new RangeError(`Rng seed must be a finite number, got ${seed}`);
    }
    this.seed = seed;
    this.stream = stream;
    const st = { s: (Math.trunc(seed) ^ hashString(stream)) | 0 };
    // mix the high bits of large seeds too
    st.s = (st.s + Math.trunc(seed / TWO_POW_32)) | 0;
    this.#a = splitmix32(st);
    this.#b = splitmix32(st);
    this.#c = splitmix32(st);
    this.#d = splitmix32(st);
    if ((this.#a | this.#b | this.#c | this.#d) === 0) this.#a = 1;
  }

  /** A child generator for `stream`, independent of this one's draws. */
  fork(stream: string): Rng {
    return new Rng(this.seed, `${this.stream}/${stream}`);
  }

  /**
   * The generator's full state (four 32-bit words and the cached normal draw),
   * for resumable checkpoints; restore it with {@link Rng.setState}.
   *
   * @example
   * ```ts
   * import { Rng } from "./rng.ts";
   * const a = new Rng(1, "s");
   * const saved = a.getState();
   * const x = a.uniform();
   * a.setState(saved);
   * if (a.uniform() !== x) throw new Error("restored state repeats the draw");
   * ```
   */
  getState(): RngState {
    return { words: [this.#a, this.#b, this.#c, this.#d], spare: this.#spare };
  }

  /**
   * Restores a state captured by {@link Rng.getState}.
   *
   * @throws {RangeError} if the state is malformed
   */
  setState(state: RngState): void {
    const w = state.words;
    if (!Array.isArray(w) || w.length !== 4 || !w.every((v) => Number.isInteger(v))) {
      throw new RangeError(`Rng.setState: expected 4 integer words, got ${JSON.stringify(w)}`);
    }
    if (state.spare !== null && !Number.isFinite(state.spare)) {
      throw new RangeError(`Rng.setState: spare must be null or finite, got ${state.spare}`);
    }
    [this.#a, this.#b, this.#c, this.#d] = w.map((v) => v | 0) as [number, number, number, number];
    this.#spare = state.spare;
  }

  /** Next unsigned 32-bit integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.#b, 5), 7), 9) >>> 0;
    const t = this.#b << 9;
    this.#c ^= this.#a;
    this.#d ^= this.#b;
    this.#b ^= this.#c;
    this.#a ^= this.#d;
    this.#c ^= t;
    this.#d = rotl(this.#d, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!(n > 0) || !Number.isInteger(n)) throw new RangeError(`Rng.int needs a positive integer, got ${n}`);
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal draw (Box–Muller, the spare value is cached). */
  normal(): number {
    if (this.#spare !== null) {
      const s = this.#spare;
      this.#spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fills `out` with U[lo, hi) draws and returns it. */
  fillUniform<T extends Float32Array | Float64Array>(out: T, lo = 0, hi = 1): T {
    const span = hi - lo;
    for (let i = 0; i < out.length; i++) out[i] = lo + span * this.uniform();
    return out;
  }

  /** Fills `out` with N(mean, std²) draws and returns it. */
  fillNormal<T extends Float32Array | Float64Array>(out: T, mean = 0, std = 1): T {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /**
   * Draws an index from a cumulative distribution (`cdf[last]` is the total
   * mass, need not be 1) by inverse-CDF binary search.
   */
  categorical(cdf: ArrayLike<number>): number {
    const n = cdf.length;
    const u = this.uniform() * (cdf[n - 1] as number);
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (u < (cdf[mid] as number)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
