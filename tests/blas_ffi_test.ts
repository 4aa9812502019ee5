/**
 * The native BLAS loader: products in every transpose form with row strides,
 * and the clean fallbacks (`SAE_BLAS=off`, a missing library) seen from a
 * fresh process.
 */

import { blasStatus, loadBlas } from "../lib/engine/blas_ffi.ts";
import { PROJECT_ROOT } from "../lib/env.ts";
import { Rng } from "../lib/engine/rng.ts";

const blas = loadBlas();

/** Naive row-major reference of op(a) @ op(b) with row strides, in float64. */
function reference(
  ta: boolean,
  tb: boolean,
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const av = ta ? a[p * lda + i]! : a[i * lda + p]!;
        const bv = tb ? b[j * ldb + p]! : b[p * ldb + j]!;
        s += av * bv;
      }
      c[i * n + j] = s;
    }
  }
  return c;
}

Deno.test({
  name: "cblas_sgemm through FFI matches a float64 reference in all transpose forms with padded rows",
  ignore: blas === null,
  fn() {
    const rng = new Rng(11, "sgemm");
    const m = 23, n = 31, k = 45, pad = 3;
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const aRows = ta ? k : m, aCols = ta ? m : k, bRows = tb ? n : k, bCols = tb ? k : n;
      const lda = aCols + pad, ldb = bCols + pad, ldc = n + pad;
      const a = rng.fillNormal(new Float32Array(aRows * lda));
      const b = rng.fillNormal(new Float32Array(bRows * ldb));
      const c = new Float32Array(m * ldc).fill(7); // padding must stay untouched
      blas!.sgemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
      const want = reference(ta, tb, m, n, k, a, lda, b, ldb);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < ldc; j++) {
          const got = c[i * ldc + j]!;
          if (j >= n) {
            if (got !== 7) throw new Error(`ta=${ta} tb=${tb}: padding at (${i},${j}) overwritten with ${got}`);
            continue;
          }
          const e = want[i * n + j]!;
          if (Math.abs(got - e) > 1e-4 * Math.max(1, Math.abs(e))) {
            throw new Error(`ta=${ta} tb=${tb}: c[${i},${j}] = ${got}, expected ${e} (tolerance 1e-4 relative)`);
          }
        }
      }
    }
  },
});

Deno.test({
  name: "blasStatus names the library and its thread count when loaded",
  ignore: blas === null,
  fn() {
    const s = blasStatus();
    if (!s.available || s.path === null || s.threads < 1) throw new Error(`unexpected status ${JSON.stringify(s)}`);
    if (!s.reason.includes(s.path) || !s.reason.includes("thread")) throw new Error(`reason lacks detail: ${s.reason}`);
  },
});

/** Runs a one-line script in a fresh Deno process with `env` and returns its stdout/stderr. */
async function fresh(code: string, env: Record<string, string>): Promise<{ ok: boolean; out: string; err: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    cwd: PROJECT_ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { ok: out.success, out: new TextDecoder().decode(out.stdout), err: new TextDecoder().decode(out.stderr) };
}

const PRINT_MATMUL =
  `import { initBackend } from "./lib/engine/backend.ts"; const r = await initBackend(); console.log("MATMUL=" + r.matmul); console.log("BLAS=" + r.kernels?.blas.reason);` +
  `import * as tf from "@tensorflow/tfjs"; console.log("PRODUCT=" + tf.matMul(tf.ones([2, 3]), tf.ones([4, 3]), false, true).dataSync().join(","));`;

Deno.test("SAE_BLAS=off falls back to the wasm matmul, says so, and still multiplies correctly", async () => {
  const r = await fresh(PRINT_MATMUL, { SAE_BLAS: "off", SAE_BACKEND: "wasm" });
  if (!r.ok) throw new Error(`subprocess failed: ${r.err}`);
  if (!r.out.includes("MATMUL=wasm (explicit transpose)")) throw new Error(`unexpected output: ${r.out}`);
  if (!r.out.includes("disabled by SAE_BLAS=off")) throw new Error(`reason missing: ${r.out}`);
  if (!r.out.includes("PRODUCT=3,3,3,3,3,3,3,3")) throw new Error(`wrong product: ${r.out}`);
});

Deno.test("SAE_BLAS naming a missing library fails with the path in the message", async () => {
  const r = await fresh(PRINT_MATMUL, { SAE_BLAS: "/nonexistent/libopenblas.so.0", SAE_BACKEND: "wasm" });
  if (r.ok) throw new Error(`expected a failure, got: ${r.out}`);
  if (!r.err.includes("SAE_BLAS") || !r.err.includes("/nonexistent/libopenblas.so.0")) {
    throw new Error(`error does not name the setting and path: ${r.err}`);
  }
});

Deno.test("SAE_BLAS_THREADS rejects a non-integer with the value in the message", async () => {
  const r = await fresh(PRINT_MATMUL, { SAE_BLAS_THREADS: "two", SAE_BACKEND: "wasm" });
  if (blas === null) return; // the thread count is read only when a library loads
  if (r.ok) throw new Error(`expected a failure, got: ${r.out}`);
  if (!r.err.includes("SAE_BLAS_THREADS") || !r.err.includes('"two"')) throw new Error(`unexpected error: ${r.err}`);
});

Deno.test({
  name: "SAE_BLAS_THREADS=1 sets one OpenBLAS thread",
  ignore: blas === null,
  async fn() {
    const r = await fresh(PRINT_MATMUL, { SAE_BLAS_THREADS: "1", SAE_BACKEND: "wasm" });
    if (!r.ok) throw new Error(`subprocess failed: ${r.err}`);
    if (!r.out.includes("MATMUL=openblas-ffi (1 thread)")) throw new Error(`unexpected output: ${r.out}`);
  },
});
