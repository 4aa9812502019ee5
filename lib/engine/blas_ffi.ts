/**
 * Native single-precision matrix products through OpenBLAS's `cblas_sgemm`,
 * loaded with Deno's FFI (`Deno.dlopen`).
 *
 * The library is looked for in the usual places (Debian's
 * `libopenblas0-pthread`, then the dynamic loader's search path). It is used
 * only when it loads; otherwise {@link loadBlas} returns `null` and
 * {@link blasStatus} says why, so callers fall back to the wasm kernels.
 *
 * | variable | meaning | default |
 * | --- | --- | --- |
 * | `SAE_BLAS` | `off` disables the native path; a file path loads that library | try the usual places |
 * | `SAE_BLAS_THREADS` | OpenBLAS worker threads | `navigator.hardwareConcurrency` |
 *
 * Matrices are row-major `Float32Array`s; they may be views of the wasm
 * backend's heap, so products are computed in place with no copies. The call
 * blocks the JS thread until the product is done (OpenBLAS itself uses its own
 * thread pool).
 *
 * @example
 * ```ts
 * import { loadBlas } from "./blas_ffi.ts";
 * const blas = loadBlas();
 * if (blas) {
 *   const a = new Float32Array([1, 2, 3, 4]), b = new Float32Array([5, 6, 7, 8]);
 *   const c = new Float32Array(4);
 *   blas.sgemm(false, false, 2, 2, 2, a, 2, b, 2, c, 2); // c = a @ b = [19, 22, 43, 50]
 * }
 * ```
 *
 * @module
 */

const CBLAS_ROW_MAJOR = 101;
const CBLAS_NO_TRANS = 111;
const CBLAS_TRANS = 112;

/** Where the library is looked for, in order, when `SAE_BLAS` does not name one. */
export const BLAS_CANDIDATES: readonly string[] = [
  "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
  "/usr/lib64/libopenblas.so.0",
  "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
  "/usr/local/opt/openblas/lib/libopenblas.dylib",
  "libopenblas.so.0",
];

const SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f32",
      "buffer",
      "i32",
    ],
    result: "void",
  },
  cblas_sgemv: {
    parameters: ["i32", "i32", "i32", "i32", "f32", "buffer", "i32", "buffer", "i32", "f32", "buffer", "i32"],
    result: "void",
  },
  openblas_set_num_threads: { parameters: ["i32"], result: "void", optional: true },
  openblas_get_num_threads: { parameters: [], result: "i32", optional: true },
  openblas_get_config: { parameters: [], result: "pointer", optional: true },
} as const;

/** A loaded native BLAS. */
export interface Blas {
  /** Absolute path (or loader name) of the shared library. */
  path: string;
  /** OpenBLAS's build description (`openblas_get_config()`), or `""` if not OpenBLAS. */
  config: string;
  /** Threads OpenBLAS computes with. */
  threads: number;
  /**
   * `c[m×n] = op(a) @ op(b)` (row-major, `beta = 0`), where `op(a)` is `m×k`
   * and `op(b)` is `k×n`; `lda`, `ldb`, `ldc` are the row strides of the
   * stored matrices. All sizes must be ≥ 1.
   */
  sgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    lda: number,
    b: Float32Array,
    ldb: number,
    c: Float32Array,
    ldc: number,
  ): void;
  /**
   * `c ← alpha · op(a) @ op(b) + beta · c` (row-major; `c` is read when `beta ≠ 0`): the
   * general form of {@link Blas.sgemm}, for products that scale or accumulate in place.
   */
  gemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    lda: number,
    b: Float32Array,
    ldb: number,
    beta: number,
    c: Float32Array,
    ldc: number,
  ): void;
  /**
   * `y[n] = aᵀ @ x` for a row-major `a[m×n]` (row stride `lda`) and `x[m]`
   * (`beta = 0`): the column sums of `a` when `x` is all ones. Sizes ≥ 1.
   */
  sgemvT(m: number, n: number, a: Float32Array, lda: number, x: Float32Array, y: Float32Array): void;
  /** Sets the OpenBLAS thread count (no-op for a BLAS without that call). */
  setThreads(n: number): void;
}

/** Whether the native path is active, and why (not). */
export interface BlasStatus {
  /** True when {@link loadBlas} returns a library. */
  available: boolean;
  /** Library path when available. */
  path: string | null;
  /** Threads when available, else 0. */
  threads: number;
  /** Human-readable reason: the library and threads, or why it is not used. */
  reason: string;
}

function envGet(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

let loaded: Blas | null | undefined;
let status: BlasStatus = { available: false, path: null, threads: 0, reason: "not loaded yet" };

/** Parses `SAE_BLAS_THREADS`; throws a clear error on a bad value. */
function requestedThreads(): number {
  const raw = envGet("SAE_BLAS_THREADS");
  if (raw === undefined || raw === "") return Math.max(1, navigator.hardwareConcurrency ?? 1);
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new Error(`SAE_BLAS_THREADS: expected an integer from 1 to 256, got "${raw}"`);
  }
  return n;
}

function ffiAllowed(): boolean {
  try {
    return Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  } catch {
    return false;
  }
}

/**
 * Loads the native BLAS once per process; returns `null` (and records the
 * reason in {@link blasStatus}) when disabled, not permitted or not found.
 *
 * @example
 * ```ts
 * import { blasStatus, loadBlas } from "./blas_ffi.ts";
 * loadBlas();
 * console.log(blasStatus().reason); // e.g. "OpenBLAS 0.3.21 … (2 threads)"
 * ```
 */
export function loadBlas(): Blas | null {
  if (loaded !== undefined) return loaded;
  loaded = tryLoad();
  return loaded;
}

/** The status of the native path (loads it first if not yet tried). */
export function blasStatus(): BlasStatus {
  loadBlas();
  return { ...status };
}

function tryLoad(): Blas | null {
  const setting = envGet("SAE_BLAS");
  if (setting === "off" || setting === "0") {
    status = { available: false, path: null, threads: 0, reason: `disabled by SAE_BLAS=${setting}` };
    return null;
  }
  if (!ffiAllowed()) {
    status = { available: false, path: null, threads: 0, reason: "FFI not permitted (run with --allow-ffi or -A)" };
    return null;
  }
  const candidates = setting && setting !== "on" && setting !== "auto" ? [setting] : [...BLAS_CANDIDATES];
  const errors: string[] = [];
  for (const path of candidates) {
    let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      lib = Deno.dlopen(path, SYMBOLS);
    } catch (err) {
      errors.push(`${path}: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
      continue;
    }
    const blas = wrap(lib, path);
    if (!selfTest(blas)) {
      errors.push(`${path}: cblas_sgemm gave a wrong product in the self-test`);
      lib.close();
      continue;
    }
    status = {
      available: true,
      path,
      threads: blas.threads,
      reason: `${blas.config || "BLAS"} at ${path} (${blas.threads} thread${blas.threads === 1 ? "" : "s"})`,
    };
    return blas;
  }
  const explicit = candidates.length === 1 && setting ? ` (SAE_BLAS=${setting})` : "";
  status = {
    available: false,
    path: null,
    threads: 0,
    reason: `no usable BLAS library${explicit}: ${errors.join("; ")}`,
  };
  if (explicit) throw new Error(`SAE_BLAS: could not load "${setting}": ${errors.join("; ")}`);
  return null;
}

function wrap(lib: Deno.DynamicLibrary<typeof SYMBOLS>, path: string): Blas {
  const s = lib.symbols;
  let config = "";
  if (s.openblas_get_config) {
    const p = s.openblas_get_config();
    if (p !== null) config = new Deno.UnsafePointerView(p).getCString();
  }
  const blas: Blas = {
    path,
    config,
    threads: 1,
    sgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc) {
      s.cblas_sgemm(
        CBLAS_ROW_MAJOR,
        transA ? CBLAS_TRANS : CBLAS_NO_TRANS,
        transB ? CBLAS_TRANS : CBLAS_NO_TRANS,
        m,
        n,
        k,
        1,
        a,
        lda,
        b,
        ldb,
        0,
        c,
        ldc,
      );
    },
    gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
      s.cblas_sgemm(
        CBLAS_ROW_MAJOR,
        transA ? CBLAS_TRANS : CBLAS_NO_TRANS,
        transB ? CBLAS_TRANS : CBLAS_NO_TRANS,
        m,
        n,
        k,
        alpha,
        a,
        lda,
        b,
        ldb,
        beta,
        c,
        ldc,
      );
    },
    sgemvT(m, n, a, lda, x, y) {
      s.cblas_sgemv(CBLAS_ROW_MAJOR, CBLAS_TRANS, m, n, 1, a, lda, x, 1, 0, y, 1);
    },
    setThreads(nThreads: number) {
      if (!s.openblas_set_num_threads) return;
      s.openblas_set_num_threads(nThreads);
      blas.threads = s.openblas_get_num_threads ? s.openblas_get_num_threads() : nThreads;
    },
  };
  if (s.openblas_set_num_threads) blas.setThreads(requestedThreads());
  return blas;
}

/** A 2×3 @ 3×2 product in all transpose forms, checked exactly. */
function selfTest(blas: Blas): boolean {
  const a = new Float32Array([1, 2, 3, 4, 5, 6]); // [2,3]
  const at = new Float32Array([1, 4, 2, 5, 3, 6]); // [3,2] = aᵀ
  const b = new Float32Array([7, 8, 9, 10, 11, 12]); // [3,2]
  const bt = new Float32Array([7, 9, 11, 8, 10, 12]); // [2,3] = bᵀ
  const want = [58, 64, 139, 154];
  const forms: [boolean, boolean, Float32Array, number, Float32Array, number][] = [
    [false, false, a, 3, b, 2],
    [true, false, at, 2, b, 2],
    [false, true, a, 3, bt, 3],
    [true, true, at, 2, bt, 3],
  ];
  for (const [ta, tb, x, lda, y, ldb] of forms) {
    const c = new Float32Array(4);
    blas.sgemm(ta, tb, 2, 2, 3, x, lda, y, ldb, c, 2);
    if (c.some((v, i) => v !== want[i])) return false;
  }
  const y = new Float32Array(2);
  blas.sgemvT(3, 2, b, 2, new Float32Array([1, 1, 1]), y); // column sums of b
  return y[0] === 27 && y[1] === 30;
}
