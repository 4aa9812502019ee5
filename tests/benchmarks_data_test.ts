import { buildCbtItems, buildLambadaItems, type CbtItem, type LambadaItem } from "../lib/data/benchmarks.ts";
import { cbtPrompts, lambadaPrompt, padRight, scoreCbt, scoreLambada } from "../lib/data/bench_prompts.ts";
import { loadCorpus } from "../lib/data/corpora.ts";
import { splitCorpus, splitDocs } from "../lib/data/splits.ts";
import { commonNouns, splitSentences } from "../lib/data/text_units.ts";
import { gpt2Encoder } from "../lib/data/token_cache.ts";
import { loadSplitTokenDocs, loadStudyBenchmarks } from "../lib/data/study_data.ts";
import { assert, assertEquals as assertEq } from "./helpers.ts";

function assertThrows(fn: () => unknown, pattern: RegExp, what: string): void {
  try {
    fn();
  } catch (e) {
    const m = (e as Error).message;
    if (!pattern.test(m)) throw new Error(`${what}: error "${m}" does not match ${pattern}`);
    return;
  }
  throw new Error(`${what}: expected an error`);
}

const enc = gpt2Encoder();
const book = loadCorpus("moby-dick");
const heldOut = splitDocs(book, splitCorpus(book), "test").map((d) => ({ source: `moby-dick:${d.id}`, text: d.text }));
const trainIds = new Set(splitCorpus(book).ids.train);

Deno.test("sentence splitting respects abbreviations, initials, quotes and paragraph breaks", () => {
  const s = splitSentences('Mr. Starbuck came at 5 p.m. to J. Smith. "Aye!" he said.\n\nNew paragraph here');
  assertEq(
    s.map((x) => x.text),
    ["Mr. Starbuck came at 5 p.m. to J. Smith.", '"Aye!" he said.', "New paragraph here"],
    "sentences",
  );
  const text = "One. Two? Three!";
  for (const x of splitSentences(text)) assertEq(text.slice(x.start, x.end), x.text, "spans index the text");
});

Deno.test("the common-noun heuristic keeps nouns after determiners and rejects names and adverbs", () => {
  const nouns = commonNouns([
    "The whale was near. A whale is big; the old whale of the sea. Ahab saw the sea. The Pequod sailed. " +
    "The Pequod was fast. She ran quickly and the quickly was odd. The boat was small. A boat, a boat!",
  ]);
  assert(nouns.has("whale") && nouns.has("boat") && nouns.has("sea"), `nouns found: ${[...nouns]}`);
  assert(!nouns.has("pequod") && !nouns.has("quickly") && !nouns.has("old"), `non-nouns excluded: ${[...nouns]}`);
});

Deno.test("LAMBADA-style items are deterministic, end with their target and are predictable from context", () => {
  const a = buildLambadaItems(heldOut, enc.encode, { itemsPerBin: 8 });
  const b = buildLambadaItems(heldOut, enc.encode, { itemsPerBin: 8 });
  assertEq(a, b, "same seed → same items");
  const c = buildLambadaItems(heldOut, enc.encode, { itemsPerBin: 8, seed: 5 });
  assert(JSON.stringify(a) !== JSON.stringify(c), "another seed → other items");
  assertEq(a.length, 48, "6 bins × 8 items filled from the held-out book");
  for (const it of a) {
    assertEq(it.text, it.context + it.target, `text = context + target (${it.id})`);
    const word = it.target.slice(1);
    assert(/^[A-Za-z]{3,}$/.test(word), `target is an alphabetic content word: "${word}"`);
    const sentences = splitSentences(it.text);
    assert(sentences.length >= 3, `${it.id}: at least two context sentences`);
    const before = it.text.slice(0, sentences.at(-1)!.start);
    assert(
      new RegExp(`\\b${word}\\b`, "i").test(before),
      `target "${word}" occurs before the last sentence (${it.id})`,
    );
    assert(!trainIds.has(it.source.split(":")[1]!), `item ${it.id} comes from a held-out chapter`);
  }
  const lens = a.map((it) => enc.encode(it.context).length);
  const bins: [number, number][] = [[16, 64], [65, 128], [129, 192], [193, 256], [257, 512], [513, 1000]];
  for (const [lo, hi] of bins) {
    assertEq(lens.filter((n) => n >= lo && n <= hi).length, 8, `bin ${lo}–${hi} holds its quota`);
  }
  assert(lens.filter((n) => n > 128).length >= 32, "most prompts exceed the 128-token SAE context");
  assert(Math.max(...lens) > 512, "some prompts approach 1024 tokens");
});

Deno.test("CBT-style items have 20 sentences, one XXXXX and 10 distinct options that include the answer", () => {
  const nounTexts = book.docs.map((d) => d.text);
  const items = buildCbtItems(heldOut, { maxItems: 60 }, nounTexts);
  assertEq(items, buildCbtItems(heldOut, { maxItems: 60 }, nounTexts), "deterministic");
  assertEq(items.length, 60, "enough windows in the held-out chapters");
  for (const it of items) {
    assertEq(it.sentences.length, 20, `${it.id} context sentences`);
    assertEq(it.question.split("XXXXX").length, 2, `${it.id} has exactly one XXXXX`);
    assertEq(new Set(it.options).size, 10, `${it.id} options distinct`);
    assert(it.options.includes(it.answer), `${it.id} answer among options`);
    const ctx = it.sentences.join(" ");
    for (const o of it.options) {
      assert(new RegExp(`\\b${o}\\b`).test(ctx), `${it.id}: option "${o}" occurs in the context`);
    }
    assert(it.sentences.every((s) => !s.includes("\n")), "sentences are single lines");
  }
  assertThrows(() => buildCbtItems(heldOut, { stride: 0 }), /stride ≥ 1/, "bad stride");
});

const LAMBADA_ITEM: LambadaItem = {
  id: "t",
  source: "test",
  text: "The cat sat on the mat. The dog chased the cat",
  context: "The cat sat on the mat. The dog chased the",
  target: " cat",
};

Deno.test("LAMBADA prompts prepend BOS, append the target and left-truncate keeping BOS", () => {
  const p = lambadaPrompt(LAMBADA_ITEM, enc.encode);
  const ctx = Array.from(enc.encode(LAMBADA_ITEM.context));
  const tgt = Array.from(enc.encode(" cat"));
  assertEq(Array.from(p.tokens), [50256, ...ctx, ...tgt], "BOS + context + target");
  assertEq(p.lastContextIndex, ctx.length, "last context index");
  assertEq(p.promptLength, ctx.length + 1, "prompt length counts BOS");
  const short = lambadaPrompt(LAMBADA_ITEM, enc.encode, { nCtx: 6 });
  assertEq(short.tokens.length, 6, "fits nCtx");
  assertEq(short.tokens[0], 50256, "BOS kept");
  assertEq(Array.from(short.tokens.subarray(1)), [...ctx.slice(ctx.length - 4), ...tgt], "left of context dropped");
  assertEq(short.truncated, ctx.length - 4, "truncation recorded");
  assertEq(short.tokens[short.lastContextIndex], ctx.at(-1), "last context token index after truncation");
});

Deno.test("LAMBADA scoring reads the first target token at the last context position", () => {
  const p = lambadaPrompt(LAMBADA_ITEM, enc.encode);
  const n = p.tokens.length;
  const argmax = new Int32Array(n);
  const lp = new Float64Array(n - 1).fill(-1);
  argmax[p.lastContextIndex] = p.targetIds[0]!;
  lp[p.lastContextIndex] = -0.25;
  const s = scoreLambada(p, { argmax, nextLogProb: lp });
  assert(s.firstTokenCorrect, "first token correct");
  assertEq(s.firstTokenLogProb, -0.25, "first-token log-prob");
  assertEq(s.fullWordCorrect, p.targetIds.length === 1, "full word correct only if single-token target");
  argmax[p.lastContextIndex] = 0;
  assert(!scoreLambada(p, { argmax, nextLogProb: lp }).firstTokenCorrect, "wrong argmax is wrong");
  assertThrows(() => scoreLambada(p, { argmax: [1], nextLogProb: [0] }), /outputs cover/, "short outputs rejected");
});

const CBT_ITEM: CbtItem = {
  id: "c",
  source: "test",
  sentences: ["The cat sat.", "The dog ran."],
  question: "Then the XXXXX slept well.",
  options: ["cat", "dog", "elephant"],
  answer: "dog",
};

Deno.test("CBT prompts share the head tokens and score from the option to the end of the question", () => {
  const ps = cbtPrompts(CBT_ITEM, enc.encode);
  const head = Array.from(enc.encode("The cat sat. The dog ran. Then the"));
  for (const [o, p] of ps.entries()) {
    const tail = Array.from(enc.encode(` ${CBT_ITEM.options[o]} slept well.`));
    assertEq(Array.from(p.tokens), [50256, ...head, ...tail], `option ${o} tokens`);
    assertEq(p.optionStart, 1 + head.length, "option start");
    // joint tokenisation agrees when the option follows a space
    const joint = Array.from(enc.encode(`The cat sat. The dog ran. Then the ${CBT_ITEM.options[o]} slept well.`));
    assertEq(Array.from(p.tokens.subarray(1)), joint, "same as tokenising the filled-in text");
  }
  // hand-made log-probs: option 1 ("dog") gets the highest sum over its scored span
  const views = ps.map((p, o) => {
    const lp = new Float64Array(p.tokens.length - 1).fill(-5);
    for (let j = p.optionStart; j < p.tokens.length; j++) lp[j - 1] = o === 1 ? -0.5 : -1;
    lp[0] = o === 1 ? -100 : 0; // before the option: must not count
    return { argmax: new Int32Array(p.tokens.length), nextLogProb: lp };
  });
  const s = scoreCbt(CBT_ITEM, ps, views);
  assertEq(s.predicted, "dog", "argmax option");
  assert(s.correct, "correct");
  const nTail = ps[1]!.tokens.length - ps[1]!.optionStart;
  assertEq(s.scores[1], -0.5 * nTail, "score sums option-to-end log-probs");
  const trunc = cbtPrompts(CBT_ITEM, enc.encode, { nCtx: 10 });
  for (const p of trunc) {
    assert(p.tokens.length <= 10 && p.tokens[0] === 50256, "truncated with BOS kept");
    assertEq(p.tokens.length - p.optionStart, enc.encode(` ${p.option} slept well.`).length, "option span intact");
  }
  const h = trunc[0]!.optionStart; // one truncation for every option: the heads are the same tokens
  assert(
    trunc.every((p) => p.optionStart === h && p.tokens.subarray(0, h).every((t, i) => t === trunc[0]!.tokens[i])),
    "shared head",
  );
  assertThrows(() => cbtPrompts({ ...CBT_ITEM, question: "no blank" }, enc.encode), /no XXXXX/, "missing XXXXX");
  assertThrows(
    () => cbtPrompts({ ...CBT_ITEM, answer: "cow" }, enc.encode),
    /not among the options/,
    "answer not an option",
  );
});

Deno.test("right padding keeps each sequence at the start of its row", () => {
  const p = padRight([new Int32Array([1, 2, 3]), new Int32Array([4])], 0);
  assertEq(Array.from(p.tokens), [1, 2, 3, 4, 0, 0], "padded block");
  assertEq(p.lengths, [3, 1], "lengths");
});

Deno.test("the study benchmark sets come only from held-out documents and are cached by config", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bench-" });
  try {
    const cfg = { lambada: { itemsPerBin: 4 }, cbt: { maxItems: 12 } };
    const a = await loadStudyBenchmarks(cfg, { dir });
    assertEq(a.source, "built", "first call builds");
    const b = await loadStudyBenchmarks(cfg, { dir });
    assertEq(b.source, "cache", "second call reads the cache");
    assertEq(b.benchmarks, a.benchmarks, "cached sets equal built sets");
    const c = a.benchmarks.provenance.counts;
    assertEq([c.lambada_book, c.lambada_web, c.cbt_book, c.cbt_web], [24, 24, 12, 12], "counts per part");
    const test = new Set<string>();
    for (const corpus of ["moby-dick", "sotu", "spam-assassin"] as const) {
      for (const id of splitCorpus(loadCorpus(corpus)).ids.test) test.add(`${corpus}:${id}`);
    }
    for (const it of [...a.benchmarks.lambada, ...a.benchmarks.cbt]) {
      assert(test.has(it.source), `item ${it.id} comes from a held-out document`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("split token documents of the book cover exactly its split chapters", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tok-" });
  try {
    const parts = await Promise.all(
      (["train", "validation", "test"] as const).map((s) => loadSplitTokenDocs(s, ["moby-dick"], { cache: { dir } })),
    );
    assertEq(parts.map((p) => p.docs.length), [96, 14, 28], "chapters per split");
    const all = parts.reduce((s, p) => s + p.tokens, 0);
    const whole = parts.map((p) => p.docs.reduce((t, d) => t + d.length, 0)).reduce((x, y) => x + y, 0);
    assertEq(all, whole, "token totals add up");
    assert(parts[2]!.ids.every((id) => id.startsWith("moby-dick:")), "ids carry the corpus name");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
