import { CheckError } from "../lib/check.ts";
import { initBackend } from "../lib/engine/backend.ts";
import { Rng } from "../lib/engine/rng.ts";
import { defaultGpt2Config } from "../lib/lm/config.ts";
import { Gpt2 } from "../lib/lm/gpt2.ts";
import { defaultLmTrainConfig, trainLm, validationRows } from "../lib/lm/train.ts";
import { buildCompactVocab } from "../lib/study_b/embedded.ts";
import { encodeText } from "../lib/tokenizer/tokenizer.ts";
import {
  bitsPerByte,
  checkContextUse,
  checkSaeQuality,
  type ContextUse,
  contextUse,
  type EmbeddedSaeQualityRow,
  inductionRows,
  inductionScore,
  lossByPositionFigure,
  positionBins,
} from "../lib/study_b/embedded_report.ts";

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

function assertThrows(fn: () => void, includes: string): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof CheckError)) throw e;
    if (!e.message.includes(includes)) throw new Error(`error "${e.message}" lacks "${includes}"`);
    return;
  }
  throw new Error(`expected a CheckError mentioning "${includes}"`);
}

const use = (early: number, late: number, ci: [number, number]): ContextUse => ({
  label: "rows",
  rows: 10,
  by_position: [],
  early_span: [1, 33],
  early,
  late_span: [512, 1024],
  late,
  diff: late - early,
  diff_ci95: ci,
  bins: [],
});

Deno.test("the context-use bar needs a large enough gain and a paired interval below zero", () => {
  checkContextUse(use(5.0, 4.8, [-0.3, -0.1]));
  assertThrows(() => checkContextUse(use(5.0, 4.98, [-0.03, -0.01])), "nats lower");
  assertThrows(() => checkContextUse(use(4.806, 4.740, [-0.134, 0.002])), "is not below 0");
});

const row = (over: Partial<EmbeddedSaeQualityRow> = {}): EmbeddedSaeQualityRow => ({
  hook: "blocks.0.hook_resid_pre",
  d_sae: 2048,
  l0: 40,
  explained_variance: 0.96,
  ce_clean: 4.7,
  ce_spliced: 4.8,
  ce_zero: 7.7,
  ce_mean: 5.2,
  ce_loss_recovered: 0.97,
  ce_loss_recovered_mean: 0.8,
  dead_fraction: 0.05,
  dead_tokens: 1000,
  silent_by_tokens: [],
  tokens: 100,
  ...over,
});

Deno.test("SAE quality bars name the hook and metric that miss, and the dead bar can be left out", () => {
  checkSaeQuality([row()]);
  assertThrows(() => checkSaeQuality([row({ explained_variance: 0.7 })]), "explained variance");
  assertThrows(() => checkSaeQuality([row({ ce_loss_recovered: 0.5 })]), "CE loss recovered");
  assertThrows(() => checkSaeQuality([row({ l0: 120 })]), "L0 120");
  assertThrows(() => checkSaeQuality([row({ dead_fraction: 0.2 })]), "dead fraction");
  checkSaeQuality([row({ dead_fraction: 0.2 })], { checkDead: false });
  assertThrows(() => checkSaeQuality([]), "no SAEs");
});

Deno.test("position bins are half-octaves that tile positions 1 … T − 1", () => {
  const bins = positionBins(1024);
  if (bins[0]?.[0] !== 1 || bins.at(-1)?.[1] !== 1024) throw new Error(`bins do not span 1…1023: ${bins}`);
  bins.forEach(([a, b], i) => {
    if (!(b > a)) throw new Error(`bin ${i} [${a}, ${b}) is empty`);
    if (i > 0 && bins[i - 1]?.[1] !== a) throw new Error(`bin ${i} does not start where bin ${i - 1} ends`);
  });
  const b512 = bins.find(([a]) => a === 512);
  if (b512?.[1] !== 768) throw new Error(`expected a bin [512, 768), got ${b512}`);
  if (JSON.stringify(positionBins(8)) !== "[[1,2],[2,3],[3,4],[4,6],[6,8]]") throw new Error("positionBins(8)");
});

Deno.test("the loss-by-position figure draws bin means with standard-error bars and names the spans", () => {
  const u = {
    ...use(5, 4.8, [-0.3, -0.1]),
    bins: [{ from: 1, to: 2, mean: 5.1, se: 0.05 }, { from: 512, to: 768, mean: 4.8, se: 0.01 }],
  };
  const fig = lossByPositionFigure("m", [u]);
  const t = fig.data[0] as { y: number[]; error_y: { array: number[] }; name: string };
  if (JSON.stringify(t.y) !== "[5.1,4.8]") throw new Error(`y = ${JSON.stringify(t.y)}`);
  if (JSON.stringify(t.error_y.array) !== "[0.05,0.01]") throw new Error(`error_y = ${JSON.stringify(t.error_y)}`);
  if (!t.name.includes("512–1023 4.800")) throw new Error(`legend "${t.name}" lacks the late span`);
  // the legend names the spans the use was measured on, not the defaults
  const other = { ...u, early_span: [65, 129], late_span: [513, 1024] } as ContextUse;
  const name = (lossByPositionFigure("m", [other]).data[0] as { name: string }).name;
  if (!name.includes("65–128 5.000") || !name.includes("513–1023 4.800")) throw new Error(`legend "${name}"`);
});

Deno.test("the induction test finds copying in a model trained to copy and none in an untrained one", async () => {
  await initBackend();
  const rng = new Rng(1, "test/copy");
  const doc = () => {
    const seg = Array.from({ length: 16 }, () => 2 + rng.int(62));
    return Int32Array.from([...seg, ...seg]);
  };
  const data = { train: Array.from({ length: 2000 }, doc), validation: [doc(), doc(), doc()], bos: 0 };
  const cfg = defaultGpt2Config({ n_layer: 2, d_model: 64, n_head: 4, n_ctx: 64, d_vocab: 64 });
  const untrained = Gpt2.random(cfg, 0), trained = Gpt2.random(cfg, 0);
  try {
    await trainLm(
      trained,
      data,
      defaultLmTrainConfig({
        n_ctx: 64,
        total_steps: 300,
        batch_rows: 16,
        micro_batch_rows: 16,
        lr: 3e-3,
        warmup_steps: 20,
        eval_every: 0,
        eval_rows: 1,
      }),
      { progress: false },
    );
    const before = inductionScore(untrained, { segment: 16, ids: [2, 64] });
    const after = inductionScore(trained, { segment: 16, ids: [2, 64] });
    if (before.repeats !== 4 || before.loss_by_repeat.length !== 4) throw new Error(`repeats ${before.repeats}`);
    if (Math.abs(before.gain) > 0.2) throw new Error(`untrained model gains ${before.gain} nats on repeats`);
    if (!(after.gain > 1)) throw new Error(`trained copier gains only ${after.gain} nats on repeats`);
    // row by row: the same rows, so the mean of the rows' gains is the pooled gain; the interval brackets it
    const byRow = inductionRows(trained, { segment: 16, ids: [2, 64], rows: 6 });
    const pooled = inductionScore(trained, { segment: 16, ids: [2, 64], rows: 6 });
    if (byRow.gain_by_row.length !== 6) throw new Error(`${byRow.gain_by_row.length} row gains for 6 rows`);
    if (Math.abs(byRow.gain - pooled.gain) > 1e-6) throw new Error(`row mean ${byRow.gain} vs pooled ${pooled.gain}`);
    for (let r = 0; r < pooled.repeats; r++) {
      const d = Math.abs((byRow.loss_by_repeat[r] as number) - (pooled.loss_by_repeat[r] as number));
      if (d > 1e-6) throw new Error(`repeat ${r}: row-by-row loss differs from pooled by ${d}`);
    }
    const [lo, hi] = byRow.gain_ci95;
    if (!(lo < byRow.gain && byRow.gain < hi)) throw new Error(`interval [${lo}, ${hi}] misses the mean ${byRow.gain}`);
    if (!(new Set(byRow.gain_by_row).size > 1)) throw new Error("every row has the same gain: rows are not distinct");
  } finally {
    untrained.dispose();
    trained.dispose();
  }
});

Deno.test("bits per byte divide the summed loss in bits by the UTF-8 bytes of the predicted text", async () => {
  await initBackend();
  const texts = [
    "The whale, the whale! Naïve sailors sang of the sea, and the sea answered them.",
    "Call me Ishmael. Some years ago, never mind how long precisely, I went to sea again.",
  ];
  const docs = texts.map((t) => encodeText(t));
  const tokenMap = buildCompactVocab(docs, 24, 2);
  const model = Gpt2.random(defaultGpt2Config({ n_layer: 1, d_model: 16, n_head: 2, n_ctx: 8, d_vocab: 24 }), 3);
  try {
    // rows are BOS + 8 tokens of the documents joined with EOS: every full stretch of 8 is one row
    const stream = docs.reduce((s, d) => s + d.length, 0) + docs.length - 1;
    const r = bitsPerByte(model, tokenMap, docs, 8, { progress: false });
    assert(r.rows >= Math.floor(stream / 8) && r.tokens === r.rows * 8, `rows ${r.rows}, tokens ${r.tokens}`);
    // the rows cover all but the last partial row: nearly all of the text's bytes, never more
    const textBytes = texts.reduce((s, t) => s + new TextEncoder().encode(t).length, 0);
    assert(r.bytes <= textBytes && r.bytes > 0.75 * textBytes, `bytes ${r.bytes} of ${textBytes}`);
    assert(Math.abs(r.bits_per_byte - (r.nats_per_token * r.tokens) / Math.LN2 / r.bytes) < 1e-12, "definition");
    // an untrained model is near uniform: about ln 24 nats per token
    assert(Math.abs(r.nats_per_token - Math.log(24)) < 0.5, `untrained loss ${r.nats_per_token} ≈ ln 24`);
    assert(r.unk_rate > 0 && r.unk_rate < 1, `some words fall outside a 24-token vocabulary: ${r.unk_rate}`);
    // the losses of a contextUse on the same rows give the same number without a second pass
    const rows = validationRows(docs.map((d) => tokenMap.encode(d)), 0, 8);
    const use = contextUse(model, rows, { early: [1, 3], late: [4, 8], progress: false });
    const reused = bitsPerByte(model, tokenMap, docs, 8, { progress: false, losses: use });
    assert(Math.abs(reused.bits_per_byte - r.bits_per_byte) < 1e-9, `${reused.bits_per_byte} vs ${r.bits_per_byte}`);
    assert(reused.tokens === r.tokens && reused.bytes === r.bytes && reused.rows === r.rows, "same rows and bytes");
    // losses of other rows are refused
    const fewer = contextUse(model, rows.slice(1), { early: [1, 3], late: [4, 8], progress: false });
    assertThrows(() => bitsPerByte(model, tokenMap, docs, 8, { progress: false, losses: fewer }), "the same rows");
  } finally {
    model.dispose();
  }
});
