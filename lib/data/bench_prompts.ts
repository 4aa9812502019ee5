/**
 * Token prompts for the benchmarks (study B §2.7) and per-item scoring from
 * per-token model outputs, without needing a model.
 *
 * Prompts: `[BOS] + tok(context) + tok(target)` for LAMBADA (the target tokens
 * are appended for teacher-forced scoring; the prediction of the first target
 * token is read at the last context position), and for CBT one sequence per
 * option, `[BOS] + tok(head) + tok(tail_o)`, where the head is the context plus
 * the question up to `XXXXX` (a trailing space moves to the tail, as GPT-2's
 * pre-tokeniser attaches it to the next word) and the tail is the option plus
 * the rest of the question. Sequences longer than `nCtx` lose tokens from the
 * left of the context (for CBT the same tokens for every option, set by the
 * longest option, so the options share their head); BOS stays at position 0.
 *
 * Scoring input per sequence ({@link NextTokenView}): `argmax[j]`, the
 * model's top token at position j, and `nextLogProb[j] = ln p_j(tokens[j+1])`
 * (see `nextTokenLogProbs`/`argmaxTokens` in lib/metrics).
 *
 * @module
 */

import type { CbtItem, LambadaItem } from "./benchmarks.ts";

/** Options of the prompt builders. */
export interface PromptConfig {
  /** Model context length; longer sequences are left-truncated. */
  nCtx: number;
  /** BOS id prepended at position 0, or null for none. */
  bosId: number | null;
}

/**
 * Default {@link PromptConfig}: GPT-2's 1024 tokens and BOS 50256.
 *
 * @example
 * ```ts
 * import { defaultPromptConfig } from "./bench_prompts.ts";
 * defaultPromptConfig({ nCtx: 512 }).bosId; // 50256
 * ```
 */
export function defaultPromptConfig(overrides: Partial<PromptConfig> = {}): PromptConfig {
  return { nCtx: 1024, bosId: 50256, ...overrides };
}

/** A token sequence with the scoring span and truncation record. */
export interface TokenPrompt {
  tokens: Int32Array;
  /** Tokens dropped from the left of the context to fit `nCtx`. */
  truncated: number;
  /** Length the sequence would have without truncation. */
  fullLength: number;
}

/** A LAMBADA prompt. */
export interface LambadaPrompt extends TokenPrompt {
  /** Token ids of `" " + last word`. */
  targetIds: number[];
  /** Index of the last context token: its prediction is the first target token. */
  lastContextIndex: number;
  /** Context tokens before truncation, BOS included (the length used for binning). */
  promptLength: number;
}

/** A CBT prompt for one option. */
export interface CbtPrompt extends TokenPrompt {
  option: string;
  /** Index of the option's first token; scoring sums log-probs of tokens optionStart … end. */
  optionStart: number;
}

function assemble(head: ArrayLike<number>, tail: ArrayLike<number>, cfg: PromptConfig, what: string) {
  const bos = cfg.bosId === null ? 0 : 1;
  const fullLength = bos + head.length + tail.length;
  if (bos + tail.length > cfg.nCtx) {
    throw new RangeError(`${what}: the scored part alone (${tail.length} tokens) does not fit nCtx ${cfg.nCtx}`);
  }
  const truncated = Math.max(0, fullLength - cfg.nCtx);
  const tokens = new Int32Array(fullLength - truncated);
  if (bos) tokens[0] = cfg.bosId!;
  let at = bos;
  for (let i = truncated; i < head.length; i++) tokens[at++] = head[i]!;
  for (let i = 0; i < tail.length; i++) tokens[at++] = tail[i]!;
  return { tokens, truncated, fullLength, headEnd: bos + head.length - truncated };
}

/**
 * Builds the token prompt of a LAMBADA item.
 *
 * @example
 * ```ts
 * import { lambadaPrompt } from "./bench_prompts.ts";
 * import { gpt2Encoder } from "./token_cache.ts";
 * const p = lambadaPrompt({ id: "x", source: "demo", text: "a b c", context: "a b", target: " c" }, gpt2Encoder().encode);
 * p.tokens[0]; // 50256
 * ```
 */
export function lambadaPrompt(
  item: LambadaItem,
  encode: (text: string) => ArrayLike<number>,
  config: Partial<PromptConfig> = {},
): LambadaPrompt {
  const cfg = defaultPromptConfig(config);
  const ctx = encode(item.context);
  const targetIds = Array.from(encode(item.target));
  if (targetIds.length === 0) throw new RangeError(`lambada item ${item.id}: empty target`);
  if (ctx.length === 0 && cfg.bosId === null) throw new RangeError(`lambada item ${item.id}: empty context and no BOS`);
  const a = assemble(ctx, targetIds, cfg, `lambada item ${item.id}`);
  return {
    tokens: a.tokens,
    truncated: a.truncated,
    fullLength: a.fullLength,
    targetIds,
    lastContextIndex: a.headEnd - 1,
    promptLength: (cfg.bosId === null ? 0 : 1) + ctx.length,
  };
}

/**
 * Builds one token prompt per option of a CBT item (context joined with
 * spaces, study B §2.7).
 *
 * @example
 * ```ts
 * import { cbtPrompts } from "./bench_prompts.ts";
 * import { gpt2Encoder } from "./token_cache.ts";
 * const item = { id: "x", source: "demo", sentences: ["The cat sat."], question: "The XXXXX ran.", options: ["cat", "dog"], answer: "cat" };
 * cbtPrompts(item, gpt2Encoder().encode).length; // 2
 * ```
 */
export function cbtPrompts(
  item: CbtItem,
  encode: (text: string) => ArrayLike<number>,
  config: Partial<PromptConfig> = {},
): CbtPrompt[] {
  const cfg = defaultPromptConfig(config);
  const at = item.question.indexOf("XXXXX");
  if (at < 0) throw new RangeError(`cbt item ${item.id}: question has no XXXXX: "${item.question}"`);
  if (!item.options.includes(item.answer)) {
    throw new RangeError(
      `cbt item ${item.id}: answer "${item.answer}" is not among the options ${item.options.join("|")}`,
    );
  }
  let head = `${item.sentences.join(" ")} ${item.question.slice(0, at)}`;
  let lead = "";
  if (head.endsWith(" ")) {
    head = head.slice(0, -1);
    lead = " ";
  }
  const headIds = encode(head);
  const rest = item.question.slice(at + 5);
  const tails = item.options.map((option) => encode(`${lead}${option}${rest}`));
  // one left truncation for every option (set by the longest tail), so all options see the same context and share
  // their head tokens
  const bos = cfg.bosId === null ? 0 : 1;
  const drop = Math.max(0, bos + headIds.length + Math.max(...tails.map((t) => t.length)) - cfg.nCtx);
  const kept = Array.from(headIds).slice(Math.min(drop, headIds.length));
  return item.options.map((option, o) => {
    const a = assemble(kept, tails[o]!, cfg, `cbt item ${item.id} option "${option}"`);
    return {
      tokens: a.tokens,
      truncated: drop + a.truncated,
      fullLength: bos + headIds.length + tails[o]!.length,
      option,
      optionStart: a.headEnd,
    };
  });
}

/** Per-position model outputs of one sequence. */
export interface NextTokenView {
  /** Top token id at each position j (length ≥ sequence length − 1). */
  argmax: ArrayLike<number>;
  /** `ln p_j(tokens[j+1])` for j = 0 … length − 2. */
  nextLogProb: ArrayLike<number>;
}

/** Outcome of one LAMBADA item. */
export interface LambadaScore {
  /** Primary: argmax at the last context position equals the first target token. */
  firstTokenCorrect: boolean;
  /** Secondary: every target token is the argmax given the previous ones (teacher forcing). */
  fullWordCorrect: boolean;
  /** Log-prob of the first target token. */
  firstTokenLogProb: number;
  /** Sum of the target tokens' log-probs. */
  targetLogProb: number;
}

/**
 * Scores a LAMBADA prompt from its per-position outputs.
 *
 * @example
 * ```ts
 * import { scoreLambada } from "./bench_prompts.ts";
 * const prompt = { tokens: new Int32Array([50256, 7, 9]), truncated: 0, fullLength: 3, targetIds: [9], lastContextIndex: 1, promptLength: 2 };
 * scoreLambada(prompt, { argmax: [7, 9, 0], nextLogProb: [-0.1, -0.2] }).firstTokenCorrect; // true
 * ```
 */
export function scoreLambada(prompt: LambadaPrompt, view: NextTokenView): LambadaScore {
  const k = prompt.targetIds.length;
  const last = prompt.lastContextIndex;
  if (view.nextLogProb.length < last + k || view.argmax.length < last + k) {
    throw new RangeError(
      `scoreLambada: outputs cover ${view.nextLogProb.length} log-probs / ${view.argmax.length} argmaxes, need ${
        last + k
      }`,
    );
  }
  let full = true;
  let lp = 0;
  for (let m = 0; m < k; m++) {
    if (view.argmax[last + m] !== prompt.targetIds[m]) full = false;
    lp += view.nextLogProb[last + m]!;
  }
  return {
    firstTokenCorrect: view.argmax[last] === prompt.targetIds[0],
    fullWordCorrect: full,
    firstTokenLogProb: view.nextLogProb[last]!,
    targetLogProb: lp,
  };
}

/** Outcome of one CBT item. */
export interface CbtScore {
  /** Per option: Σ log-probs from the option's first token to the end of the question. */
  scores: number[];
  predicted: string;
  correct: boolean;
}

/**
 * Scores a CBT item: one view per option prompt, in option order.
 *
 * @example
 * ```ts
 * import { scoreCbt } from "./bench_prompts.ts";
 * // see tests/benchmarks_data_test.ts for a worked example
 * ```
 */
export function scoreCbt(item: CbtItem, prompts: readonly CbtPrompt[], views: readonly NextTokenView[]): CbtScore {
  if (prompts.length !== item.options.length || views.length !== prompts.length) {
    throw new RangeError(
      `scoreCbt: item ${item.id} has ${item.options.length} options, got ${prompts.length} prompts and ${views.length} views`,
    );
  }
  const scores = prompts.map((p, o) => {
    const v = views[o]!;
    const n = p.tokens.length;
    if (v.nextLogProb.length < n - 1) {
      throw new RangeError(`scoreCbt: option "${p.option}" needs ${n - 1} log-probs, got ${v.nextLogProb.length}`);
    }
    let s = 0;
    for (let j = p.optionStart; j < n; j++) s += v.nextLogProb[j - 1]!;
    return s;
  });
  let best = 0;
  for (let o = 1; o < scores.length; o++) if (scores[o]! > scores[best]!) best = o;
  const predicted = item.options[best]!;
  return { scores, predicted, correct: predicted === item.answer };
}

/**
 * Right-pads sequences into one [batch, maxLen] int32 block (a causal model
 * needs no attention mask with right padding; read outputs only up to each
 * sequence's length).
 *
 * @example
 * ```ts
 * import { padRight } from "./bench_prompts.ts";
 * padRight([new Int32Array([1, 2]), new Int32Array([3])], 0); // { tokens: [1, 2, 3, 0], batch: 2, maxLen: 2, lengths: [2, 1] }
 * ```
 */
export function padRight(
  seqs: readonly Int32Array[],
  padId: number,
): { tokens: Int32Array; batch: number; maxLen: number; lengths: number[] } {
  const maxLen = Math.max(0, ...seqs.map((s) => s.length));
  const tokens = new Int32Array(seqs.length * maxLen).fill(padId);
  seqs.forEach((s, i) => tokens.set(s, i * maxLen));
  return { tokens, batch: seqs.length, maxLen, lengths: seqs.map((s) => s.length) };
}
