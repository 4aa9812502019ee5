/**
 * A minimal WebAssembly module builder: just enough to write small SIMD
 * kernels (f32x4) that work in place on an imported memory (the tfjs wasm
 * backend's heap). No text format, no tooling: each kernel is written as a
 * sequence of instructions with a few structured-loop helpers, and the module
 * is assembled to bytes at start-up and validated by the engine.
 *
 * Opcodes follow the WebAssembly 2.0 binary format (core and fixed-width SIMD).
 *
 * @example
 * ```ts
 * import { buildModule, F32, Fn, I32 } from "./wasm_asm.ts";
 * const f = new Fn("double", [I32, I32], []); // (ptr, n): x[i] *= 2 for i < n
 * const i = f.local(I32);
 * f.forRange(i, () => f.get(1), 1, () => {
 *   f.get(0).get(i).i32(2).op(0x74).op(0x6a); // ptr + 4i
 *   f.get(0).get(i).i32(2).op(0x74).op(0x6a).f32Load().f32(2).op(0x94).f32Store();
 * });
 * const bytes = buildModule([f]);
 * const mem = new WebAssembly.Memory({ initial: 1 });
 * const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: mem } });
 * ```
 *
 * @module
 */

/** Value types. */
export const I32 = 0x7f;
/** Value types. */
export const F32 = 0x7d;
/** Value types. */
export const V128 = 0x7b;

/** Core opcodes used by the kernels (the names of the WebAssembly text format). */
export const OP = {
  i32_eqz: 0x45,
  i32_lt_s: 0x48,
  i32_lt_u: 0x49,
  i32_gt_s: 0x4a,
  i32_ge_s: 0x4e,
  i32_ge_u: 0x4f,
  i32_add: 0x6a,
  i32_sub: 0x6b,
  i32_mul: 0x6c,
  i32_shl: 0x74,
  f32_add: 0x92,
  f32_sub: 0x93,
  f32_mul: 0x94,
  f32_div: 0x95,
  f32_min: 0x96,
  f32_max: 0x97,
  f32_sqrt: 0x91,
  select: 0x1b,
  drop: 0x1a,
} as const;

/** SIMD opcodes (after the 0xfd prefix). */
export const SIMD = {
  i32x4_splat: 17,
  f32x4_splat: 19,
  f32x4_extract_lane: 31,
  v128_and: 78,
  f32x4_nearest: 106,
  i32x4_shl: 171,
  i32x4_add: 174,
  f32x4_add: 228,
  f32x4_sub: 229,
  f32x4_mul: 230,
  f32x4_div: 231,
  f32x4_min: 232,
  f32x4_max: 233,
  f32x4_pmin: 234,
  f32x4_pmax: 235,
  i32x4_trunc_sat_f32x4_s: 248,
} as const;

function uleb(n: number, out: number[]): void {
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
}

function sleb(n: number, out: number[]): void {
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

const f32Bytes = (v: number): number[] => [...new Uint8Array(new Float32Array([v]).buffer)];

/** One function: parameters are locals 0…p−1, {@link Fn.local} adds more. Emitters chain. */
export class Fn {
  readonly name: string;
  readonly params: number[];
  readonly results: number[];
  readonly locals: number[] = [];
  readonly code: number[] = [];

  constructor(name: string, params: number[], results: number[] = []) {
    this.name = name;
    this.params = params;
    this.results = results;
  }

  /** A new local of type `t`; returns its index. */
  local(t: number): number {
    this.locals.push(t);
    return this.params.length + this.locals.length - 1;
  }

  /** Raw opcode bytes. */
  op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }

  /** A SIMD instruction with optional immediate bytes. */
  v(op: number, ...imm: number[]): this {
    this.code.push(0xfd);
    uleb(op, this.code);
    this.code.push(...imm);
    return this;
  }

  get(i: number): this {
    this.code.push(0x20);
    uleb(i, this.code);
    return this;
  }

  set(i: number): this {
    this.code.push(0x21);
    uleb(i, this.code);
    return this;
  }

  tee(i: number): this {
    this.code.push(0x22);
    uleb(i, this.code);
    return this;
  }

  i32(v: number): this {
    this.code.push(0x41);
    sleb(v | 0, this.code);
    return this;
  }

  f32(v: number): this {
    this.code.push(0x43, ...f32Bytes(v));
    return this;
  }

  /** `v128.const` with four equal f32 lanes. */
  f32x4(v: number): this {
    const b = f32Bytes(v);
    return this.v(12, ...b, ...b, ...b, ...b);
  }

  /** `v128.const` with four equal i32 lanes. */
  i32x4(v: number): this {
    const b = [...new Uint8Array(new Int32Array([v]).buffer)];
    return this.v(12, ...b, ...b, ...b, ...b);
  }

  f32Load(offset = 0): this {
    this.code.push(0x2a, 2);
    uleb(offset, this.code);
    return this;
  }

  f32Store(offset = 0): this {
    this.code.push(0x38, 2);
    uleb(offset, this.code);
    return this;
  }

  i32Load(offset = 0): this {
    this.code.push(0x28, 2);
    uleb(offset, this.code);
    return this;
  }

  /** `v128.load` (4-byte alignment hint: tensors are float-aligned). */
  vLoad(offset = 0): this {
    this.v(0, 2);
    uleb(offset, this.code);
    return this;
  }

  vStore(offset = 0): this {
    this.v(11, 2);
    uleb(offset, this.code);
    return this;
  }

  /** Pushes `base + 4·index` (a float's byte address) from two i32 locals. */
  addr(base: number, index: number): this {
    return this.get(base).get(index).i32(2).op(OP.i32_shl, OP.i32_add);
  }

  /**
   * `for (i = start; i < end; i += step) body()`, where `end()` pushes the
   * (signed) bound, re-evaluated each iteration. `start` defaults to 0.
   */
  forRange(i: number, end: () => void, step: number, body: () => void, start?: () => void): this {
    if (start) start();
    else this.i32(0);
    this.set(i);
    this.op(0x02, 0x40, 0x03, 0x40); // block, loop
    this.get(i);
    end();
    this.op(OP.i32_ge_s, 0x0d, 1); // br_if 1 (exit)
    body();
    this.get(i).i32(step).op(OP.i32_add).set(i);
    this.op(0x0c, 0, 0x0b, 0x0b); // br 0; end loop; end block
    return this;
  }

  /**
   * The vector part then the scalar tail of a loop over `[0, n)`: `vec(i)` for
   * i = 0, 4, … while i + 4 ≤ n, then `one(i)` for the remaining i.
   */
  forVec(i: number, n: () => void, vec: () => void, one: () => void): this {
    this.forRange(
      i,
      () => {
        n();
        this.i32(3).op(OP.i32_sub);
      },
      4,
      vec,
    );
    // i continues from where the vector loop stopped
    return this.forRange(i, n, 1, one, () => this.get(i));
  }

  /** Horizontal sum of the v128 (f32x4) in local `v`, pushed as an f32. */
  hsum(v: number): this {
    this.get(v).v(SIMD.f32x4_extract_lane, 0).get(v).v(SIMD.f32x4_extract_lane, 1).op(OP.f32_add);
    return this.get(v).v(SIMD.f32x4_extract_lane, 2).op(OP.f32_add).get(v).v(SIMD.f32x4_extract_lane, 3).op(
      OP.f32_add,
    );
  }

  /** Horizontal max of the v128 (f32x4) in local `v`, pushed as an f32. */
  hmax(v: number): this {
    this.get(v).v(SIMD.f32x4_extract_lane, 0).get(v).v(SIMD.f32x4_extract_lane, 1).op(OP.f32_max);
    return this.get(v).v(SIMD.f32x4_extract_lane, 2).op(OP.f32_max).get(v).v(SIMD.f32x4_extract_lane, 3).op(
      OP.f32_max,
    );
  }
}

function section(id: number, payload: number[], out: number[]): void {
  out.push(id);
  uleb(payload.length, out);
  out.push(...payload);
}

function name(s: string, out: number[]): void {
  const b = new TextEncoder().encode(s);
  uleb(b.length, out);
  out.push(...b);
}

/**
 * Assembles functions into a module that imports its memory as `env.memory`
 * and exports every function by name. The import has no maximum (any
 * unshared memory fits) unless `shared` gives one: a shared memory's import
 * must be declared shared with a maximum at least the memory's.
 */
export function buildModule(fns: readonly Fn[], shared?: { maxPages: number }): Uint8Array<ArrayBuffer> {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const types: number[] = [];
  uleb(fns.length, types);
  for (const f of fns) {
    types.push(0x60);
    uleb(f.params.length, types);
    types.push(...f.params);
    uleb(f.results.length, types);
    types.push(...f.results);
  }
  section(1, types, out);
  const imports: number[] = [1];
  name("env", imports);
  name("memory", imports);
  if (shared) {
    imports.push(0x02, 0x03, 0x01); // memory, limits: shared, min 1, max
    uleb(shared.maxPages, imports);
  } else imports.push(0x02, 0x00, 0x01); // memory, limits: min 1, no max
  section(2, imports, out);
  const funcs: number[] = [];
  uleb(fns.length, funcs);
  fns.forEach((_, i) => uleb(i, funcs));
  section(3, funcs, out);
  const exports: number[] = [];
  uleb(fns.length, exports);
  fns.forEach((f, i) => {
    name(f.name, exports);
    exports.push(0x00);
    uleb(i, exports);
  });
  section(7, exports, out);
  const code: number[] = [];
  uleb(fns.length, code);
  for (const f of fns) {
    const body: number[] = [];
    uleb(f.locals.length, body); // one run per local (simple, valid)
    for (const t of f.locals) body.push(1, t);
    body.push(...f.code, 0x0b);
    uleb(body.length, code);
    code.push(...body);
  }
  section(10, code, out);
  return new Uint8Array(out);
}
