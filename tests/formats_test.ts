import {
  detokenizeCbt,
  FormatError,
  loadCbt,
  loadLambadaJsonl,
  loadTextRecords,
  parseCbt,
  parseLambadaJsonl,
} from "../lib/data/formats.ts";
import { cbtPrompts, lambadaPrompt } from "../lib/data/bench_prompts.ts";
import { gpt2Encoder } from "../lib/data/token_cache.ts";
import { assert, assertEquals as assertEq } from "./helpers.ts";

const FIX = new URL("./fixtures/formats/", import.meta.url).pathname;

async function assertRejects(fn: () => Promise<unknown> | unknown, pattern: RegExp, what: string): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const m = (e as Error).message;
    if (!pattern.test(m)) throw new Error(`${what}: error "${m}" does not match ${pattern}`);
    return;
  }
  throw new Error(`${what}: expected an error`);
}

Deno.test("LAMBADA jsonl loads into items whose target is the space-prefixed last word", async () => {
  const items = await loadLambadaJsonl(`${FIX}lambada_sample.jsonl`);
  assertEq(items.length, 3, "three passages");
  assertEq(items.map((i) => i.target), [" lamp", " map", " kite"], "targets");
  for (const it of items) assertEq(it.context + it.target, it.text, "context + target = text");
  assertEq(items[0]!.id, "lambada_sample.jsonl:1", "id names file and line");
  const p = lambadaPrompt(items[2]!, gpt2Encoder().encode);
  assertEq(p.tokens[0], 50256, "loaded items build prompts like built items");
});

Deno.test("malformed LAMBADA lines are rejected with file, line and field", async () => {
  await assertRejects(
    () => parseLambadaJsonl('{"text": "a b"}\n{"txt": "c d"}', "x.jsonl"),
    /x\.jsonl:2: field "text" must be a string, got no such field/,
    "missing field",
  );
  await assertRejects(() => parseLambadaJsonl("{oops", "x.jsonl"), /x\.jsonl:1: not valid JSON/, "bad JSON");
  await assertRejects(
    () => parseLambadaJsonl('{"text": "single"}', "x.jsonl"),
    /no space-separated last word/,
    "one word",
  );
});

Deno.test("CBT CN text loads 20 context sentences, the question, the answer and 10 candidates", async () => {
  const items = await loadCbt(`${FIX}cbt_cn_sample.txt`);
  assertEq(items.length, 2, "two items");
  const [a, b] = items as [typeof items[0], typeof items[0]];
  assertEq(a.sentences.length, 20, "context sentences");
  assertEq(a.sentences[3], "`` The river is kind to us , '' the miller told his daughter .", "raw sentence kept");
  assertEq(a.question, "The heron flew away when the XXXXX began to sing .", "question");
  assertEq(a.answer, "daughter", "answer");
  assertEq(a.options.length, 10, "candidates");
  assertEq(b.answer, "letter", "second answer");
  assertEq(b.id, "cbt_cn_sample.txt:23", "id names the first line of the item");
  const prompts = cbtPrompts(a, gpt2Encoder().encode);
  assertEq(prompts.length, 10, "one prompt per candidate");
});

Deno.test("the CBT detokeniser restores quotes, contractions and punctuation spacing", async () => {
  assertEq(detokenizeCbt("`` I do n't know , '' said the king ."), '"I don\'t know," said the king.', "detokenised");
  const items = await loadCbt(`${FIX}cbt_cn_sample.txt`, { detokenize: true });
  assertEq(items[0]!.sentences[3], '"The river is kind to us," the miller told his daughter.', "detokenised sentence");
  assertEq(items[0]!.sentences[5], "One spring the rain didn't stop for many days.", "contraction");
  assertEq(items[0]!.question, "The heron flew away when the XXXXX began to sing.", "question detokenised");
});

Deno.test("malformed CBT text is rejected with the line and the problem", async () => {
  const good = await Deno.readTextFile(`${FIX}cbt_cn_sample.txt`);
  const lines = good.split("\n");
  const noQuestion = lines.slice(0, 20).join("\n");
  await assertRejects(
    () => parseCbt(noQuestion, "f.txt"),
    /f\.txt:1: last item has no question line/,
    "missing question",
  );
  const skipped = [...lines.slice(0, 4), ...lines.slice(5)].join("\n");
  await assertRejects(() => parseCbt(skipped, "f.txt"), /f\.txt:5: sentence number 6, expected 5/, "numbering gap");
  const badAnswer = good.replace("\tdaughter\t\t", "\tsheep\t\t");
  await assertRejects(
    () => parseCbt(badAnswer, "f.txt"),
    /f\.txt:21: answer "sheep" is not among the candidates/,
    "answer not a candidate",
  );
  const noBlank = good.replace("began to sing .", "began to sing XX .").replace("XXXXX began", "cat began");
  await assertRejects(() => parseCbt(noBlank, "f.txt"), /f\.txt:21: question has no XXXXX/, "no placeholder");
  await assertRejects(() => parseCbt("hello", "f.txt"), /f\.txt:1: expected "<number> <sentence>"/, "not numbered");
});

Deno.test("OpenWebText-style jsonl and parquet load the same records", async () => {
  const j = await loadTextRecords(`${FIX}owt_sample.jsonl`);
  const p = await loadTextRecords(`${FIX}owt_sample.parquet`);
  assertEq(j.length, 3, "jsonl rows");
  assertEq(p.map((r) => r.text), j.map((r) => r.text), "parquet text equals jsonl text");
  assertEq(p[1]!.id, "owt_sample.parquet:1", "ids name file and row");
  assert(p[2]!.text.startsWith("The town council"), "row order kept");
});

Deno.test("OpenWebText-style loader names a missing column and an unsupported extension", async () => {
  await assertRejects(
    () => loadTextRecords(`${FIX}owt_wrong_column.parquet`),
    /no column "text"; columns are body/,
    "missing column",
  );
  await assertRejects(
    () => loadTextRecords(`${FIX}owt_int_column.parquet`),
    /column "text" must hold strings/,
    "non-string column",
  );
  await assertRejects(() => loadTextRecords(`${FIX}cbt_cn_sample.txt`), /unsupported extension/, "extension");
  await assertRejects(() => loadTextRecords(`${FIX}missing.parquet`), /No such file|not found/i, "missing file");
  let isFormatError = false;
  try {
    await loadTextRecords(`${FIX}owt_wrong_column.parquet`);
  } catch (e) {
    isFormatError = e instanceof FormatError;
  }
  assert(isFormatError, "format problems throw FormatError");
});
