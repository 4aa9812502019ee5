/**
 * The command line shared by `deno task train-lm` and `deno task train-saes`:
 * `--name value` / `--flag` parsing, the training flags (`--root DIR`,
 * `--stop-at-step N`, `--no-figures`) and the `--measure` mode (`--steps N`,
 * `--out FILE`), which prints one JSON line per measured row and can write
 * them all, with the backend, to a file.
 *
 * @example
 * ```ts
 * import { runTrainingCli } from "./train_cli.ts";
 * // await runTrainingCli(Deno.args, {
 * //   measureRows: function* (steps) { yield { steps }; },
 * //   train: async (opts) => console.log(opts.root, opts.figures, opts.stopAtStep),
 * // });
 * ```
 *
 * @module
 */

import { initBackend } from "../lib/engine/backend.ts";

/**
 * Parses `--name value` and `--flag` arguments.
 *
 * @example
 * ```ts
 * import { parseArgs } from "./train_cli.ts";
 * parseArgs(["--root", "/tmp/x", "--no-figures"]); // Map { "root" => "/tmp/x", "no-figures" => true }
 * ```
 */
export function parseArgs(args: string[]): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (!a.startsWith("--")) throw new Error(`unexpected argument "${a}" (flags start with --)`);
    const next = args[i + 1];
    if (next !== undefined && !next.startsWith("--")) {
      out.set(a.slice(2), next);
      i++;
    } else out.set(a.slice(2), true);
  }
  return out;
}

/** The training flags of both scripts. */
export interface TrainingCliOptions {
  /** `--root DIR`: data root (default: the script's own). */
  root?: string;
  /** False with `--no-figures`. */
  figures: boolean;
  /** `--stop-at-step N`: stop (checkpointed) after step N. */
  stopAtStep?: number;
  /** `--control`: `train-saes` trains the control SAEs (full-length rows). */
  control: boolean;
}

/** The value of `--name`, undefined when absent; throws when the flag has no value. */
export function stringFlag(args: Map<string, string | true>, name: string): string | undefined {
  const v = args.get(name);
  if (v === true) throw new Error(`--${name} needs a value`);
  return v;
}

function numberFlag(args: Map<string, string | true>, name: string): number | undefined {
  const v = stringFlag(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got "${v}"`);
  return n;
}

/**
 * The training flags from parsed arguments.
 *
 * @example
 * ```ts
 * import { parseArgs, trainingOptions } from "./train_cli.ts";
 * trainingOptions(parseArgs(["--stop-at-step", "20"])); // { root: undefined, figures: true, stopAtStep: 20, control: false }
 * ```
 */
export function trainingOptions(args: Map<string, string | true>): TrainingCliOptions {
  return {
    root: stringFlag(args, "root"),
    figures: !args.has("no-figures"),
    stopAtStep: numberFlag(args, "stop-at-step"),
    control: args.has("control"),
  };
}

/** What a training script plugs into {@link runTrainingCli}. */
export interface TrainingCli {
  /** `--measure`: yields one JSON-able row per measured configuration, each timed over `steps` steps. */
  measureRows(steps: number): Iterable<Record<string, unknown>>;
  /** Training with the parsed flags. */
  train(opts: TrainingCliOptions): Promise<void>;
}

/**
 * Runs a training script: initialises the backend and prints its summary,
 * then measures (`--measure`, `--steps N` default 3, `--out FILE`) or trains.
 *
 * @example
 * ```ts
 * import { runTrainingCli } from "./train_cli.ts";
 * // if (import.meta.main) await runTrainingCli(Deno.args, { measureRows, train });
 * ```
 */
export async function runTrainingCli(argv: string[], cli: TrainingCli): Promise<void> {
  const args = parseArgs(argv);
  const measure = args.has("measure");
  const out = stringFlag(args, "out");
  const steps = numberFlag(args, "steps") ?? 3;
  const options = measure ? null : trainingOptions(args);
  const report = await initBackend();
  console.log(report.summary);
  if (options !== null) {
    await cli.train(options);
    return;
  }
  const rows: Record<string, unknown>[] = [];
  for (const row of cli.measureRows(steps)) {
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  if (out) await Deno.writeTextFile(out, JSON.stringify({ backend: report.summary, rows }, null, 2) + "\n");
}
