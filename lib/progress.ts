/**
 * Progress bars for long loops: count, percentage, elapsed time, rate, ETA
 * and the latest value of named metrics (e.g. the loss).
 *
 * Where the bar goes is chosen once, when it is created:
 * - in the Deno Jupyter kernel, one notebook output updated in place
 *   (`Deno.jupyter.display` with a `display_id`, then `update: true`), at most
 *   ~2 updates per second; the final state is always shown, so an executed
 *   notebook keeps the finished bar;
 * - on a terminal, one stderr line redrawn with a carriage return (~10/s);
 * - otherwise (CI logs, files), a plain stderr line at most every 10 s, plus the final line.
 *
 * Clock and sink are injectable, so formatting is testable without timing.
 *
 * @example
 * ```ts
 * import { progress } from "./progress.ts";
 * const bar = progress({ total: 1000, label: "train" });
 * for (let step = 0; step < 1000; step++) {
 *   const loss = 1 / (step + 1);
 *   bar.tick(1, { loss });
 * }
 * await bar.done();
 * ```
 *
 * @module
 */

import { jupyter } from "./jupyter.ts";

/** A snapshot of a bar, as passed to sinks and formatters. */
export interface ProgressState {
  label: string;
  /** Expected number of steps, or null when unknown. */
  total: number | null;
  current: number;
  /** Milliseconds since the bar was created. */
  elapsedMs: number;
  /** Average steps per second since the start (0 before any time has passed). */
  rate: number;
  /** Estimated milliseconds left, or null when unknown. */
  etaMs: number | null;
  /** Latest value of each metric, in first-seen order. */
  metrics: Record<string, number>;
  done: boolean;
}

/** Where a bar is drawn. */
export interface ProgressSink {
  /** Minimum milliseconds between two non-final renders. */
  readonly minIntervalMs: number;
  /** Draws `line` (the formatted state); `final` is true exactly once, at `done()`. */
  render(line: string, state: ProgressState, final: boolean): void | Promise<void>;
}

/** Options of {@link progress}. */
export interface ProgressOptions {
  /** Expected number of steps (omit when unknown: no percentage or ETA). */
  total?: number;
  /** Text before the bar (default "progress"). */
  label?: string;
  /** Where to draw (default: notebook, terminal or log, detected). */
  sink?: ProgressSink;
  /** Milliseconds clock (default `performance.now`). */
  clock?: () => number;
  /** Width of the bar in characters (default 24). */
  barWidth?: number;
}

/**
 * Formats a duration as `m:ss` or `h:mm:ss` (`"?"` when unknown).
 *
 * @example
 * ```ts
 * import { formatDuration } from "./progress.ts";
 * formatDuration(65_000); // "1:05"
 * formatDuration(3_723_000); // "1:02:03"
 * ```
 */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return "?";
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * Formats a rate: `"37.5 it/s"`, or `"4.20 s/it"` below one step per second.
 *
 * @example
 * ```ts
 * import { formatRate } from "./progress.ts";
 * formatRate(37.5); // "37.5 it/s"
 * formatRate(0.25); // "4.00 s/it"
 * ```
 */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return "? it/s";
  if (perSecond >= 100) return `${Math.round(perSecond)} it/s`;
  if (perSecond >= 1) return `${trimNumber(perSecond.toFixed(perSecond >= 10 ? 1 : 2))} it/s`;
  return `${(1 / perSecond).toPrecision(3)} s/it`;
}

/**
 * Formats a metric value compactly: integers as is, 4 significant digits,
 * exponent notation for very small or large values.
 *
 * @example
 * ```ts
 * import { formatMetric } from "./progress.ts";
 * formatMetric(0.012345); // "0.01235"
 * formatMetric(2.5e-5); // "2.50e-5"
 * formatMetric(42); // "42"
 * ```
 */
export function formatMetric(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2).replace("e+", "e");
  return trimNumber(v.toPrecision(4));
}

function trimNumber(s: string): string {
  return s.includes(".") && !s.includes("e") ? s.replace(/\.?0+$/, "") : s;
}

/**
 * One line describing the state:
 * `train  45% |██████████▊             | 450/1000 [0:12<0:15, 37.5 it/s] loss=0.01235`.
 *
 * @example
 * ```ts
 * import { formatProgress } from "./progress.ts";
 * formatProgress({ label: "x", total: 4, current: 2, elapsedMs: 1000, rate: 2, etaMs: 1000, metrics: {}, done: false }, 8);
 * // "x  50% |████    | 2/4 [0:01<0:01, 2 it/s]"
 * ```
 */
export function formatProgress(state: ProgressState, barWidth = 24): string {
  const metrics = Object.entries(state.metrics).map(([k, v]) => ` ${k}=${formatMetric(v)}`).join("");
  const rate = formatRate(state.rate);
  if (state.total === null || state.total <= 0) {
    return `${state.label} ${state.current} it [${formatDuration(state.elapsedMs)}, ${rate}]${metrics}`;
  }
  const frac = Math.min(1, Math.max(0, state.current / state.total));
  const pct = `${Math.floor(frac * 100)}`.padStart(3, " ");
  const time = state.done
    ? formatDuration(state.elapsedMs)
    : `${formatDuration(state.elapsedMs)}<${formatDuration(state.etaMs)}`;
  return `${state.label} ${pct}% |${bar(frac, barWidth)}| ${state.current}/${state.total} [${time}, ${rate}]${metrics}`;
}

const PARTIAL = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];

function bar(frac: number, width: number): string {
  const eighths = Math.round(frac * width * 8);
  const full = Math.floor(eighths / 8);
  const part = full < width ? PARTIAL[eighths % 8]! : "";
  return ("█".repeat(full) + part).padEnd(width, " ");
}

/** A progress bar; create with {@link progress}. */
export class ProgressBar {
  readonly #label: string;
  readonly #total: number | null;
  readonly #sink: ProgressSink;
  readonly #clock: () => number;
  readonly #barWidth: number;
  readonly #start: number;
  #current = 0;
  #metrics: Record<string, number> = {};
  #lastRender = -Infinity;
  #done = false;
  #pending: Promise<void> = Promise.resolve();

  constructor(opts: ProgressOptions = {}) {
    if (opts.total !== undefined && !(Number.isInteger(opts.total) && opts.total >= 0)) {
      throw new RangeError(`progress: total must be a non-negative integer, got ${opts.total}`);
    }
    this.#label = opts.label ?? "progress";
    this.#total = opts.total ?? null;
    this.#clock = opts.clock ?? (() => performance.now());
    this.#sink = opts.sink ?? defaultSink();
    this.#barWidth = opts.barWidth ?? 24;
    this.#start = this.#clock();
  }

  /** The current state. */
  get state(): ProgressState {
    const elapsedMs = Math.max(0, this.#clock() - this.#start);
    const rate = elapsedMs > 0 ? this.#current / (elapsedMs / 1000) : 0;
    const etaMs = this.#total !== null && rate > 0 ? (Math.max(0, this.#total - this.#current) / rate) * 1000 : null;
    return {
      label: this.#label,
      total: this.#total,
      current: this.#current,
      elapsedMs,
      rate,
      etaMs,
      metrics: { ...this.#metrics },
      done: this.#done,
    };
  }

  /** The current state as one line. */
  toString(): string {
    return formatProgress(this.state, this.#barWidth);
  }

  /** Advances by `n` steps (default 1) and records metrics; redraws when the sink's interval has passed. */
  tick(n = 1, metrics?: Record<string, number>): void {
    if (!(n >= 0)) throw new RangeError(`progress.tick: n must be ≥ 0, got ${n}`);
    this.#current += n;
    this.#record(metrics);
  }

  /** Sets the absolute step count (e.g. when resuming) and records metrics. */
  set(current: number, metrics?: Record<string, number>): void {
    if (!(current >= 0)) throw new RangeError(`progress.set: current must be ≥ 0, got ${current}`);
    this.#current = current;
    this.#record(metrics);
  }

  /** Records metrics without advancing. */
  metrics(metrics: Record<string, number>): void {
    this.#record(metrics);
  }

  #record(metrics?: Record<string, number>): void {
    if (this.#done) return;
    if (metrics) Object.assign(this.#metrics, metrics);
    const now = this.#clock();
    if (now - this.#lastRender >= this.#sink.minIntervalMs) {
      this.#lastRender = now;
      this.#emit(false);
    }
  }

  #emit(final: boolean): void {
    const state = this.state;
    const line = formatProgress(state, this.#barWidth);
    this.#pending = this.#pending.then(() => this.#sink.render(line, state, final)).catch(() => undefined);
  }

  /** Marks the bar finished, records final metrics and draws the final state (always). */
  done(metrics?: Record<string, number>): Promise<void> {
    if (!this.#done) {
      if (metrics) Object.assign(this.#metrics, metrics);
      this.#done = true;
      this.#emit(true);
    }
    return this.#pending;
  }
}

/**
 * Creates a progress bar.
 *
 * @example
 * ```ts
 * import { progress } from "./progress.ts";
 * const bar = progress({ total: 3, label: "epochs" });
 * bar.tick(1, { loss: 0.5 });
 * await bar.done();
 * ```
 */
export function progress(opts: ProgressOptions = {}): ProgressBar {
  return new ProgressBar(opts);
}

/**
 * Iterates over `items` with a bar (total from `length`/`size` when present);
 * the bar finishes when the loop ends, including by `break`.
 *
 * @example
 * ```ts
 * import { trackProgress } from "./progress.ts";
 * let sum = 0;
 * for (const x of trackProgress([1, 2, 3], { label: "sum" })) sum += x;
 * ```
 */
export function* trackProgress<T>(items: Iterable<T>, opts: ProgressOptions = {}): Generator<T> {
  const sized = items as { length?: unknown; size?: unknown };
  const n = typeof sized.length === "number" ? sized.length : typeof sized.size === "number" ? sized.size : undefined;
  const bar = progress({ total: n, ...opts });
  try {
    for (const item of items) {
      yield item;
      bar.tick();
    }
  } finally {
    void bar.done();
  }
}

/**
 * Terminal sink: redraws one stderr line in place.
 *
 * @example
 * ```ts
 * import { progress, terminalSink } from "./progress.ts";
 * const bar = progress({ total: 10, sink: terminalSink(50) });
 * ```
 */
export function terminalSink(minIntervalMs = 100): ProgressSink {
  const enc = new TextEncoder();
  return {
    minIntervalMs,
    render(line, _state, final) {
      Deno.stderr.writeSync(enc.encode(`\r${line}\x1b[K${final ? "\n" : ""}`));
    },
  };
}

/**
 * Log sink: plain stderr lines, at most one per `minIntervalMs` (default 10 s) plus the final one.
 *
 * @example
 * ```ts
 * import { logSink, progress } from "./progress.ts";
 * const bar = progress({ total: 10, sink: logSink(60_000) }); // one line a minute in CI logs
 * ```
 */
export function logSink(minIntervalMs = 10_000): ProgressSink {
  const enc = new TextEncoder();
  return {
    minIntervalMs,
    render(line) {
      Deno.stderr.writeSync(enc.encode(`${line}\n`));
    },
  };
}

let displayCounter = 0;

/**
 * Notebook sink: one output updated in place through `Deno.jupyter.display`
 * (`display_id`, then `update: true`), at most one update per `minIntervalMs` (default 500).
 *
 * @throws {Error} outside the Jupyter kernel
 */
export function notebookSink(minIntervalMs = 500): ProgressSink {
  const j = jupyter();
  if (j === null) throw new Error("notebookSink: Deno.jupyter is only available inside the Deno Jupyter kernel");
  const displayId = `progress-${Date.now().toString(36)}-${displayCounter++}`;
  let shown = false;
  return {
    minIntervalMs,
    async render(line) {
      const bundle = { "text/plain": line };
      await j.display(bundle, { raw: true, display_id: displayId, update: shown });
      shown = true;
    },
  };
}

/** The sink for the current context: notebook, terminal or log. */
export function defaultSink(): ProgressSink {
  if (jupyter() !== null) return notebookSink();
  let tty = false;
  try {
    tty = Deno.stderr.isTerminal();
  } catch {
    tty = false;
  }
  return tty ? terminalSink() : logSink();
}
