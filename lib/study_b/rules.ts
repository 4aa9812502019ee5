/**
 * Pre-registered rules for study B's claims: each rule names the study's
 * claim, the statistic, the threshold and how its uncertainty is judged, and is
 * printed **before** its numbers are computed. Its verdict then follows
 * mechanically from the statistic's interval:
 *
 * | verdict | when |
 * | --- | --- |
 * | reproduced | the whole interval is on the claim's side of the threshold |
 * | not reproduced | the whole interval is on the other side |
 * | inconclusive | the interval straddles the threshold |
 * | skipped | the rule needs a trained model and the setup says the model is untrained |
 *
 * A rule with several parts (e.g. "layer 12 holds *and* layer 0 does not") is
 * reproduced when every part is, not reproduced when any part is not, and
 * inconclusive otherwise. Sanity checks (the bug guard, an identity) are not
 * evidence for a claim: they pass or fail, and a notebook throws when one fails.
 *
 * Intervals resample prompts (or benchmark items): see lib/metrics/bootstrap.ts.
 *
 * @example
 * ```ts
 * import { decide } from "./rules.ts";
 * decide({ estimate: 3, lo: 2.5, hi: 3.5 }, 2, "above"); // "reproduced"
 * decide({ estimate: 2.1, lo: 1.5, hi: 2.7 }, 2, "above"); // "inconclusive"
 * ```
 *
 * @module
 */

import type { Interval } from "../metrics/bootstrap.ts";

/** Outcome of a claim's rule. */
export type ClaimVerdict = "reproduced" | "not reproduced" | "inconclusive" | "skipped";
/** Outcome of a sanity check. */
export type SanityVerdict = "passed" | "failed";
/** Any verdict. */
export type Verdict = ClaimVerdict | SanityVerdict;

/** Which side of the threshold the claim predicts. */
export type Direction = "above" | "below";

/** The text of a rule, fixed before any number is computed. */
export interface RuleText {
  id: string;
  /** What the study (or the spec) claims. */
  claim: string;
  /** What is computed. */
  statistic: string;
  /** The decision threshold and its side, in words. */
  threshold: string;
  /** How uncertainty is judged (interval and resampling unit). */
  uncertainty: string;
  /** Where the spec is silent: the reading a researcher would expect, and which metric the wording implies. */
  note?: string;
  /** "claim" (evidence) or "sanity" (a guard or identity, never evidence). */
  kind: "claim" | "sanity";
  /** The rule needs a trained model (loss or accuracy claims). */
  needsTrainedModel: boolean;
}

/** One decided part of a rule. */
export interface RulePart {
  label: string;
  interval: Pick<Interval, "estimate" | "lo" | "hi">;
  threshold: number;
  direction: Direction;
  verdict: ClaimVerdict;
}

/** A rule's outcome. */
export interface RuleOutcome {
  id: string;
  verdict: Verdict;
  /** The decided parts (empty for skipped rules and sanity checks decided otherwise). */
  parts: RulePart[];
  /** One line of the numbers behind the verdict. */
  measured: string;
}

/** A rule: its text and how it is evaluated on data `D`. */
export interface Rule<D> extends RuleText {
  evaluate(data: D): Omit<RuleOutcome, "id">;
}

/**
 * The verdict of an interval against a threshold: reproduced when the whole
 * interval lies on the claim's side (strictly), not reproduced when it lies
 * on the other side (the threshold itself counts against the claim),
 * inconclusive otherwise (or when the interval is not finite).
 */
export function decide(iv: Pick<Interval, "estimate" | "lo" | "hi">, threshold: number, dir: Direction): ClaimVerdict {
  const { lo, hi } = iv;
  if (Number.isNaN(lo) || Number.isNaN(hi)) return "inconclusive";
  if (dir === "above") {
    if (lo > threshold) return "reproduced";
    if (hi <= threshold) return "not reproduced";
    return "inconclusive";
  }
  if (hi < threshold) return "reproduced";
  if (lo >= threshold) return "not reproduced";
  return "inconclusive";
}

/** One decided part (see {@link decide}). */
export function part(
  label: string,
  iv: Pick<Interval, "estimate" | "lo" | "hi">,
  threshold: number,
  dir: Direction,
): RulePart {
  return { label, interval: iv, threshold, direction: dir, verdict: decide(iv, threshold, dir) };
}

/** All parts must hold: any "not reproduced" wins, then any "inconclusive". */
export function allOf(verdicts: readonly ClaimVerdict[]): ClaimVerdict {
  if (verdicts.length === 0) return "inconclusive";
  if (verdicts.includes("not reproduced")) return "not reproduced";
  if (verdicts.every((v) => v === "reproduced")) return "reproduced";
  return "inconclusive";
}

/** An outcome whose verdict is {@link allOf} its parts. */
export function fromParts(parts: RulePart[], measured: string): Omit<RuleOutcome, "id"> {
  return { verdict: allOf(parts.map((p) => p.verdict)), parts, measured };
}

/** Formats a number for rule text (3 significant digits). */
export function num(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? "∞" : x < 0 ? "−∞" : "n/a";
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(2) : Number(x.toPrecision(3)).toString();
}

/** `est [lo, hi]`. */
export function ivText(iv: Pick<Interval, "estimate" | "lo" | "hi">): string {
  return `${num(iv.estimate)} [${num(iv.lo)}, ${num(iv.hi)}]`;
}

/**
 * The text a notebook prints before computing a rule's numbers.
 *
 * @example
 * ```ts
 * import { ruleText } from "./rules.ts";
 * // await showText(rules.map(ruleText).join("\n\n"));
 * ```
 */
export function ruleText(r: RuleText): string {
  const lines = [
    `${r.id}${r.kind === "sanity" ? " (sanity check, not evidence)" : ""}: ${r.claim}`,
    `  statistic: ${r.statistic}`,
    `  ${r.kind === "sanity" ? "passes when" : "decision"}: ${r.threshold}`,
    `  uncertainty: ${r.uncertainty}`,
  ];
  if (r.note) lines.push(`  note: ${r.note}`);
  if (r.needsTrainedModel) lines.push("  needs a trained model (skipped on an untrained one)");
  return lines.join("\n");
}

/** Options of {@link evaluateRules}. */
export interface EvaluateOptions {
  /** Whether the model is trained (`setup.trained`); undefined = unknown, treated as trained. */
  trained?: boolean;
}

/**
 * Evaluates every rule; a rule that needs a trained model is skipped when
 * `trained` is false. Each outcome is checked against its own parts
 * ({@link assertConsistent}).
 */
export function evaluateRules<D>(rules: readonly Rule<D>[], data: D, opts: EvaluateOptions = {}): RuleOutcome[] {
  return rules.map((r) => {
    if (r.needsTrainedModel && opts.trained === false) {
      return { id: r.id, verdict: "skipped", parts: [], measured: "the setup says the model is untrained" };
    }
    const o = { id: r.id, ...r.evaluate(data) };
    assertConsistent(r, o);
    return o;
  });
}

/**
 * Throws when an outcome's verdict does not follow from its parts (each part's
 * verdict recomputed from its interval, threshold and direction, then combined).
 */
export function assertConsistent(r: RuleText, o: RuleOutcome): void {
  for (const p of o.parts) {
    const v = decide(p.interval, p.threshold, p.direction);
    if (v !== p.verdict) {
      throw new Error(`rule ${r.id}, part "${p.label}": verdict ${p.verdict} but its interval gives ${v}`);
    }
  }
  if (r.kind === "claim" && o.parts.length > 0 && o.verdict !== allOf(o.parts.map((p) => p.verdict))) {
    throw new Error(`rule ${r.id}: verdict ${o.verdict} does not follow from its parts`);
  }
  if (r.kind === "sanity" && o.verdict !== "passed" && o.verdict !== "failed") {
    throw new Error(`sanity check ${r.id}: verdict ${o.verdict}`);
  }
}

/**
 * One line per outcome: `id: verdict — part: estimate [lo, hi] vs threshold; …; measured`.
 *
 * @example
 * ```ts
 * import { verdictText } from "./rules.ts";
 * verdictText({ id: "R4", verdict: "reproduced", parts: [], measured: "ratio 23" }); // "R4: reproduced — ratio 23"
 * ```
 */
export function verdictText(o: RuleOutcome): string {
  const parts = o.parts.map((p) =>
    `${p.label} ${ivText(p.interval)} ${p.direction === "above" ? ">" : "<"} ${num(p.threshold)}? ${p.verdict}`
  );
  return `${o.id}: ${o.verdict} — ${[...parts, o.measured].filter((s) => s.length > 0).join("; ")}`;
}

/** Rows for a table: id, verdict, estimate/lo/hi of the first part, measured. */
export function outcomeRows(outcomes: readonly RuleOutcome[]): Record<string, string | number | null>[] {
  return outcomes.map((o) => ({
    id: o.id,
    verdict: o.verdict,
    statistic: o.parts[0]?.interval.estimate ?? null,
    lo: o.parts[0]?.interval.lo ?? null,
    hi: o.parts[0]?.interval.hi ?? null,
    threshold: o.parts[0]?.threshold ?? null,
    parts: o.parts.length,
    measured: o.measured,
  }));
}

/** Throws when a sanity check failed (notebooks fail loudly). */
export function assertSanity(outcomes: readonly RuleOutcome[]): void {
  const failed = outcomes.filter((o) => o.verdict === "failed");
  if (failed.length > 0) throw new Error(`sanity check failed: ${failed.map(verdictText).join("\n")}`);
}
