/**
 * The types of a benchmark row, shared by `rows.ts` (the list of rows) and the
 * files that define rows (`gpt2_rows.ts`, `load_rows.ts`, …), so that neither
 * imports the other.
 *
 * @module
 */

/** A prepared benchmark: `run()` does one timed unit of work. */
export interface Prepared {
  run(): void;
  dispose(): void;
  /** Floating-point operations per run, for GFLOP/s rows. */
  flops?: number;
  notes?: string;
}

/** What a row that measures itself ({@link RowSpec.measure}) reports. */
export interface SelfMeasured {
  value: number;
  notes: string;
  /** Further numbers of the row (e.g. `peak_rss_delta_mb`), kept in `bench/results.json`. */
  extra?: Record<string, number>;
}

/** One row of the suite. */
export interface RowSpec {
  name: string;
  /** `GFLOP/s` (higher is better), `ms` or `s` (lower is better). */
  unit: "GFLOP/s" | "ms" | "s";
  /**
   * For rows whose timing cannot be one synchronous `run()` (a load in a child
   * process, a whole sweep): measures itself; `prepare` is then not called.
   */
  measure?(reps: number): Promise<SelfMeasured>;
  /** Timed repetitions (the minimum is reported); warm-up runs come first. */
  reps: number;
  warmup: number;
  /** Target on the tfjs / PyTorch ratio, e.g. `">= 0.7"` or `"<= 2"`. */
  target?: { op: ">=" | "<="; ratio: number };
  prepare(): Prepared | Promise<Prepared>;
}
