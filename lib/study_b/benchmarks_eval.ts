/**
 * F4 (LAMBADA-style last-word prediction) and F5 (CBT-style 10-way cloze):
 * every item scored by the clean model and with each SAE spliced at every
 * position (study B §5), prompts built by lib/data's `lambadaPrompt` /
 * `cbtPrompts` (BOS first, left-truncated to the model's context) and scored
 * by `scoreLambada` / `scoreCbt`.
 *
 * A model with a compact vocabulary cannot name every GPT-2 token: LAMBADA
 * items whose target word contains a token outside it, and CBT items where an
 * option's own tokens do, are dropped (counted in `dropped`) — otherwise
 * "predicting the unknown token" would count as a hit. (The rest of a CBT question is shared by all
 * options, so unknown tokens there do not favour any option.)
 *
 * Batches are right-padded (a causal model needs no mask; outputs are read only
 * up to each prompt's length), prompts sorted by length to waste little.
 *
 * @example
 * ```ts
 * import { evaluateLambada } from "./benchmarks_eval.ts";
 * import { lambadaSummary } from "./bench_summary.ts";
 * // const lam = await evaluateLambada(setup, benchmarks.lambada);
 * // lambadaSummary(lam).find((r) => r.variant === "clean")!.accuracy;
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { CbtItem, LambadaItem } from "../data/benchmarks.ts";
import { cbtPrompts, lambadaPrompt, type NextTokenView, scoreCbt, scoreLambada } from "../data/bench_prompts.ts";
import { saeSplice, type Splice } from "../splice/splice.ts";
import { splicedPasses } from "../splice/spliced_loss.ts";
import { encodeText } from "../tokenizer/tokenizer.ts";
import { argmaxTokens, nextTokenLogProbs, perTokenKL } from "../metrics/lm_metrics.ts";
import { progress } from "../progress.ts";
import type { Sae } from "../sae/sae.ts";
import { selectLayers } from "./context_sweep.ts";
import { scoreOptionsShared, sharesHead } from "./prefix_scorer.ts";
import { groupByBytes, loadStudySae, type StudySetup, toModelIds } from "./setup.ts";

/** Options of the benchmark evaluations. */
export interface BenchEvalConfig {
  /** Bound on one `[rows, maxLen, d_vocab]` logits tensor (floats). */
  maxLogitElements: number;
  /** SAE layer labels to splice; null = all. */
  layers: number[] | null;
  /** SAE weights kept in memory at once (bytes). */
  maxResidentSaeBytes: number;
  progress: boolean;
  /**
   * CBT: run each item's shared head once and only the option tails against its cached keys/values
   * (prefix_scorer.ts; the same scores as full sequences); items whose options do not share a head use full sequences.
   */
  sharedPrefix: boolean;
}

/**
 * Default {@link BenchEvalConfig}: ≤ 16 M logits per batch, all layers, 1 GiB of SAEs, shared CBT heads.
 *
 * @example
 * ```ts
 * import { defaultBenchEvalConfig } from "./benchmarks_eval.ts";
 * defaultBenchEvalConfig({ layers: [0, 4] }).layers; // [0, 4]
 * ```
 */
export function defaultBenchEvalConfig(overrides: Partial<BenchEvalConfig> = {}): BenchEvalConfig {
  return {
    maxLogitElements: 16 * 2 ** 20,
    layers: null,
    maxResidentSaeBytes: 2 ** 30,
    progress: true,
    sharedPrefix: true,
    ...overrides,
  };
}

/** One model variant: `layer` null is the clean model. */
export interface VariantKey {
  /** `"clean"` or `"L<label>"`. */
  variant: string;
  layer: number | null;
}

/** A prepared LAMBADA prompt in model ids. */
interface PreparedLambada {
  tokens: Int32Array;
  targetIds: number[];
  lastContextIndex: number;
  promptLength: number;
}

/** Per-item outcomes of one variant on the LAMBADA-style set. */
export interface LambadaOutcomes extends VariantKey {
  firstTokenCorrect: Uint8Array;
  fullWordCorrect: Uint8Array;
  firstTokenLogProb: Float64Array;
  targetLogProb: Float64Array;
  /** KL(clean ‖ this) at the last context position (0 for clean). */
  klLast: Float64Array;
}

/** Output of {@link evaluateLambada}. */
export interface LambadaEval {
  /** Kept items: id, source, context length in tokens with BOS (before truncation), tokens dropped by truncation. */
  items: { id: string; source: string; promptLength: number; truncated: number }[];
  dropped: { unknownTargetToken: number };
  variants: LambadaOutcomes[];
  saeContext: number;
  modelContext: number;
  seconds: number;
}

function batchesByLength<T extends { tokens: Int32Array }>(
  items: readonly T[],
  vocab: number,
  maxLogitElements: number,
  groupSize = 1,
): number[][] {
  // indices sorted by length (groups of `groupSize` consecutive items stay together)
  const nGroups = items.length / groupSize;
  const glen = (g: number) => Math.max(...items.slice(g * groupSize, (g + 1) * groupSize).map((p) => p.tokens.length));
  const order = Array.from({ length: nGroups }, (_, g) => g).sort((a, b) => glen(a) - glen(b) || a - b);
  const batches: number[][] = [];
  let cur: number[] = [];
  let curMax = 0;
  for (const g of order) {
    const L = glen(g);
    const rows = cur.length + groupSize;
    if (cur.length > 0 && rows * Math.max(curMax, L) * vocab > maxLogitElements) {
      batches.push(cur);
      cur = [];
      curMax = 0;
    }
    for (let k = 0; k < groupSize; k++) cur.push(g * groupSize + k);
    curMax = Math.max(curMax, L);
  }
  if (cur.length > 0) batches.push(cur);
  return batches;
}

function padded(seqs: readonly Int32Array[], pad: number): { tensor: tf.Tensor2D; maxLen: number } {
  const maxLen = Math.max(2, ...seqs.map((s) => s.length));
  const data = new Int32Array(seqs.length * maxLen).fill(pad);
  seqs.forEach((s, i) => data.set(s, i * maxLen));
  return { tensor: tf.tensor2d(data, [seqs.length, maxLen], "int32"), maxLen };
}

/** Per-row views (argmax and next-token log-probs) of a batch's logits. */
function views(logits: tf.Tensor3D, tokens: tf.Tensor2D): NextTokenView[] {
  const [B, L] = tokens.shape;
  const am = argmaxTokens(logits);
  const lp = nextTokenLogProbs(logits, tokens);
  const a = am.dataSync();
  const l = lp.dataSync();
  tf.dispose([am, lp]);
  return Array.from({ length: B }, (_, i) => ({
    argmax: a.slice(i * L, (i + 1) * L),
    nextLogProb: l.slice(i * (L - 1), (i + 1) * (L - 1)),
  }));
}

/** Logit rows `[rows, vocab]` at one position per batch row. */
function rowsAt(logits: tf.Tensor3D, positions: readonly number[]): tf.Tensor2D {
  const [, L, V] = logits.shape;
  const idx = Int32Array.from(positions, (p, i) => i * L + p);
  return tf.tidy(() => tf.gather(tf.reshape(logits, [-1, V]), idx) as tf.Tensor2D);
}

async function forEachGroup(
  setup: StudySetup,
  cfg: BenchEvalConfig,
  fn: (group: { key: VariantKey; splice: Splice | null }[]) => void | Promise<void>,
): Promise<void> {
  const entries = selectLayers(setup.saes, cfg.layers);
  const groups = groupByBytes(entries, cfg.maxResidentSaeBytes);
  if (groups.length === 0) groups.push([]);
  for (const [g, group] of groups.entries()) {
    const saes: Sae[] = [];
    try {
      for (const e of group) saes.push(await loadStudySae(e));
      const variants = group.map((e, i) => ({
        key: { variant: `L${e.label}`, layer: e.label },
        splice: saeSplice(`L${e.label}`, saes[i]!) as Splice | null,
      }));
      await fn(g === 0 ? [{ key: { variant: "clean", layer: null }, splice: null }, ...variants] : variants);
    } finally {
      for (const s of saes) s.dispose();
    }
  }
}

/**
 * Scores LAMBADA-style items (study B §5.1): primary first-token accuracy,
 * full-word greedy match, target log-probs, KL at the last context position.
 */
export async function evaluateLambada(
  setup: StudySetup,
  items: readonly LambadaItem[],
  config: Partial<BenchEvalConfig> = {},
): Promise<LambadaEval> {
  const cfg = defaultBenchEvalConfig(config);
  const t0 = performance.now();
  const prepared: PreparedLambada[] = [];
  const kept: LambadaEval["items"] = [];
  let unknown = 0;
  for (const item of items) {
    const p = lambadaPrompt(item, encodeText, { nCtx: setup.modelContext });
    const targetIds = Array.from(toModelIds(setup, p.targetIds));
    if (setup.tokenMap && targetIds.includes(setup.tokenMap.unkId)) {
      unknown++;
      continue;
    }
    prepared.push({
      tokens: toModelIds(setup, p.tokens),
      targetIds,
      lastContextIndex: p.lastContextIndex,
      promptLength: p.promptLength,
    });
    kept.push({ id: item.id, source: item.source, promptLength: p.promptLength, truncated: p.truncated });
  }
  if (prepared.length === 0) throw new Error(`evaluateLambada: none of ${items.length} items is usable`);
  const n = prepared.length;
  const batches = batchesByLength(prepared, setup.model.cfg.d_vocab, cfg.maxLogitElements);
  const variants: LambadaOutcomes[] = [];
  const nVariants = 1 + selectLayers(setup.saes, cfg.layers).length;
  const bar = cfg.progress ? progress({ total: n * nVariants, label: "LAMBADA-style" }) : null;
  await forEachGroup(setup, cfg, (group) => {
    const outs = group.map(({ key }) => {
      const o: LambadaOutcomes = {
        ...key,
        firstTokenCorrect: new Uint8Array(n),
        fullWordCorrect: new Uint8Array(n),
        firstTokenLogProb: new Float64Array(n),
        targetLogProb: new Float64Array(n),
        klLast: new Float64Array(n),
      };
      variants.push(o);
      return o;
    });
    // the group's SAE splices, after the clean model in the first group
    const splices = group.flatMap((v) => v.splice ? [v.splice] : []);
    const first = group.length - splices.length; // 1 when the clean model is a variant of the group, else 0
    for (const idx of batches) {
      const { tensor: tokens } = padded(idx.map((i) => prepared[i]!.tokens), setup.bosId);
      const last = idx.map((i) => prepared[i]!.lastContextIndex);
      let cleanLast: tf.Tensor2D | null = null;
      try {
        for (const pass of splicedPasses(setup.model, tokens, splices)) {
          const logits = pass.logits!; // [batch, maxLen, d_vocab]
          if (pass.kind === "clean") cleanLast = rowsAt(logits, last);
          if (pass.kind === "clean" && first === 0) continue;
          const v = pass.kind === "clean" ? 0 : first + pass.index;
          const vs = views(logits, tokens);
          let kl: Float32Array | null = null;
          if (pass.kind === "spliced") {
            const lastRows = rowsAt(logits, last);
            const k = tf.tidy(() => perTokenKL(tf.expandDims(cleanLast!, 1), tf.expandDims(lastRows, 1)));
            kl = k.dataSync() as Float32Array;
            tf.dispose([k, lastRows]);
          }
          idx.forEach((i, r) => {
            const p = prepared[i]!;
            const s = scoreLambada(
              { ...p, truncated: 0, fullLength: p.tokens.length },
              vs[r]!,
            );
            const o = outs[v]!;
            o.firstTokenCorrect[i] = s.firstTokenCorrect ? 1 : 0;
            o.fullWordCorrect[i] = s.fullWordCorrect ? 1 : 0;
            o.firstTokenLogProb[i] = s.firstTokenLogProb;
            o.targetLogProb[i] = s.targetLogProb;
            o.klLast[i] = kl ? kl[r]! : 0;
          });
          bar?.tick(idx.length);
        }
      } finally {
        tokens.dispose();
        cleanLast?.dispose();
      }
    }
  });
  await bar?.done();
  return {
    items: kept,
    dropped: { unknownTargetToken: unknown },
    variants,
    saeContext: setup.saeContext,
    modelContext: setup.modelContext,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Per-item outcomes of one variant on the CBT-style set. */
export interface CbtOutcomes extends VariantKey {
  correct: Uint8Array;
  /** Index of the predicted option. */
  predicted: Int32Array;
  /**
   * Log-probability of the answer among the options, score(answer) − logsumexp over options of score(o): the
   * continuous version of the 10-way choice (its drop under a splice is the CBT ΔCE).
   */
  answerLogProb: Float64Array;
}

/** Output of {@link evaluateCbt}. */
export interface CbtEval {
  /** Kept items: id, source, total prompt length of the answer option (before truncation), truncated tokens. */
  items: { id: string; source: string; promptLength: number; truncated: number }[];
  dropped: { unknownOptionToken: number };
  variants: CbtOutcomes[];
  nOptions: number;
  /** Items scored with the shared-head path (the rest as full sequences). */
  sharedHeads: number;
  saeContext: number;
  modelContext: number;
  seconds: number;
}

function cbtModelPrompts(setup: StudySetup, item: CbtItem) {
  return cbtPrompts(item, encodeText, { nCtx: setup.modelContext }).map((p) => ({
    ...p,
    tokens: toModelIds(setup, p.tokens),
  }));
}

function cbtPromptsUsable(setup: StudySetup, prompts: ReturnType<typeof cbtModelPrompts>): boolean {
  const unk = setup.tokenMap?.unkId;
  // an option whose own tokens fall outside the vocabulary cannot be told apart from another such option
  const ownTokens = (p: (typeof prompts)[number]) =>
    p.tokens.subarray(p.optionStart, p.optionStart + encodeText(` ${p.option}`).length);
  return unk === undefined || !prompts.some((p) => ownTokens(p).includes(unk));
}

/**
 * True when no option of `item` contains the model's unknown token (a compact
 * vocabulary could not tell such options apart); always true for a full vocabulary.
 *
 * @example
 * ```ts
 * // const usable = items.filter((i) => cbtItemUsable(setup, i));
 * ```
 */
export function cbtItemUsable(setup: StudySetup, item: CbtItem): boolean {
  return cbtPromptsUsable(setup, cbtModelPrompts(setup, item));
}

/**
 * Log-probability of option `k` among the options: `scores[k] − logsumexp(scores)`.
 *
 * @example
 * ```ts
 * import { optionLogProb } from "./benchmarks_eval.ts";
 * optionLogProb([0, 0], 1); // −ln 2
 * ```
 */
export function optionLogProb(scores: readonly number[], k: number): number {
  const m = Math.max(...scores);
  const lse = m + Math.log(scores.reduce((a, s) => a + Math.exp(s - m), 0));
  return scores[k]! - lse;
}

/**
 * Scores CBT-style items (study B §5.2): each option's filled-in question
 * scored by the sum of its token log-probs from the option on; the highest wins.
 */
export async function evaluateCbt(
  setup: StudySetup,
  items: readonly CbtItem[],
  config: Partial<BenchEvalConfig> = {},
): Promise<CbtEval> {
  const cfg = defaultBenchEvalConfig(config);
  const t0 = performance.now();
  const kept: { item: CbtItem; prompts: ReturnType<typeof cbtPrompts> }[] = [];
  const info: CbtEval["items"] = [];
  let unknown = 0;
  const nOptions = items[0]?.options.length ?? 0;
  for (const item of items) {
    if (item.options.length !== nOptions) {
      throw new Error(`cbt item ${item.id} has ${item.options.length} options, the first item ${nOptions}`);
    }
    const prompts = cbtModelPrompts(setup, item);
    if (!cbtPromptsUsable(setup, prompts)) {
      unknown++;
      continue;
    }
    kept.push({ item, prompts });
    const a = prompts[item.options.indexOf(item.answer)]!;
    info.push({ id: item.id, source: item.source, promptLength: a.fullLength, truncated: a.truncated });
  }
  if (kept.length === 0) throw new Error(`evaluateCbt: none of ${items.length} items is usable`);
  const shared = kept.map((k) => cfg.sharedPrefix && sharesHead(k.prompts));
  const flatIdx = kept.map((_k, i) => i).filter((i) => !shared[i]); // items scored as full sequences
  const flat = flatIdx.flatMap((i) => kept[i]!.prompts);
  const batches = batchesByLength(flat, setup.model.cfg.d_vocab, cfg.maxLogitElements, nOptions);
  const variants: CbtOutcomes[] = [];
  const n = kept.length;
  const nVariants = 1 + selectLayers(setup.saes, cfg.layers).length;
  const bar = cfg.progress ? progress({ total: n * nVariants, label: "CBT-style" }) : null;
  const record = (o: CbtOutcomes, itemIdx: number, scores: number[]) => {
    const { item } = kept[itemIdx]!;
    let best = 0;
    for (let k = 1; k < scores.length; k++) if (scores[k]! > scores[best]!) best = k;
    o.correct[itemIdx] = item.options[best] === item.answer ? 1 : 0;
    o.predicted[itemIdx] = best;
    o.answerLogProb[itemIdx] = optionLogProb(scores, item.options.indexOf(item.answer));
  };
  await forEachGroup(setup, cfg, async (group) => {
    const outs = group.map(({ key }) => {
      const o: CbtOutcomes = {
        ...key,
        correct: new Uint8Array(n),
        predicted: new Int32Array(n),
        answerLogProb: new Float64Array(n),
      };
      variants.push(o);
      return o;
    });
    const splices = group.flatMap((v) => v.splice ? [v.splice] : []);
    const first = group.length - splices.length; // 1 when the clean model is a variant of the group, else 0
    for (const idx of batches) {
      const { tensor: tokens } = padded(idx.map((i) => flat[i]!.tokens), setup.bosId);
      try {
        for (const pass of splicedPasses(setup.model, tokens, splices)) {
          if (pass.kind === "clean" && first === 0) continue;
          const v = pass.kind === "clean" ? 0 : first + pass.index;
          const vs = views(pass.logits!, tokens);
          for (let r = 0; r < idx.length; r += nOptions) {
            const itemIdx = flatIdx[idx[r]! / nOptions]!;
            const { item, prompts } = kept[itemIdx]!;
            record(outs[v]!, itemIdx, scoreCbt(item, prompts, vs.slice(r, r + nOptions)).scores);
          }
          bar?.tick(idx.length / nOptions);
        }
      } finally {
        tokens.dispose();
      }
    }
    for (let i = 0; i < n; i++) {
      if (!shared[i]) continue;
      for (const [v, { splice }] of group.entries()) {
        record(outs[v]!, i, await scoreOptionsShared(setup.model, kept[i]!.prompts, splice));
        bar?.tick(1);
      }
    }
  });
  await bar?.done();
  return {
    items: info,
    dropped: { unknownOptionToken: unknown },
    variants,
    nOptions,
    sharedHeads: shared.filter((x) => x).length,
    saeContext: setup.saeContext,
    modelContext: setup.modelContext,
    seconds: (performance.now() - t0) / 1000,
  };
}
