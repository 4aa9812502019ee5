import { cleanEmail, decodeQuotedPrintable, htmlToText } from "../lib/data/email_clean.ts";
import { loadCorpus } from "../lib/data/corpora.ts";
import { normaliseText } from "../lib/data/text_clean.ts";
import { splitCorpus, splitDocs } from "../lib/data/splits.ts";
import {
  docTokens,
  gpt2Encoder,
  loadTokenizedCorpus,
  splitTokenDocs,
  splitTokenized,
  tokenCacheKey,
} from "../lib/data/token_cache.ts";
import { corpusSummaryRows } from "../lib/data/corpus_tables.ts";
import { assert, assertEquals as assertEq } from "./helpers.ts";

const MULTIPART = [
  "Return-Path: <list@example.org>",
  "Received: from mx.example.org by mail.example.org",
  "\twith SMTP id 123",
  "Subject: Re: [ilug] Kernel  build",
  'Content-Type: multipart/alternative; boundary="XYZ"',
  "",
  "This is a multi-part message in MIME format.",
  "--XYZ",
  "Content-Type: text/plain; charset=iso-8859-1",
  "Content-Transfer-Encoding: quoted-printable",
  "",
  "John Doe wrote:",
  "> did the build fail?",
  "> it did for me",
  "The build works now =E9 caf=",
  "e fixed.",
  "",
  "-- ",
  "John, sent from a laptop",
  "--XYZ",
  "Content-Type: text/html",
  "",
  "<html><body><p>HTML version</p></body></html>",
  "--XYZ--",
  "",
].join("\n");

Deno.test("email cleaning drops headers, quoted replies and signatures and decodes quoted-printable", () => {
  assertEq(cleanEmail(MULTIPART), "Kernel build\n\nThe build works now é cafe fixed.", "cleaned email");
});

Deno.test("email cleaning falls back to the HTML part and strips tags, scripts and entities", () => {
  const raw = [
    "Subject: Offer",
    "Content-Type: text/html; charset=us-ascii",
    "",
    "<html><head><style>p {color: red}</style></head><body><script>var x = 1;</script>",
    "<p>Save&nbsp;50% &amp; more</p><br><div>Call &#65;nna today</div></body></html>",
  ].join("\n");
  assertEq(cleanEmail(raw), "Offer\n\nSave 50% & more\n\nCall Anna today", "html email");
});

Deno.test("email parts in a non-Latin charset are dropped and list footers removed", () => {
  const raw = [
    "Subject: =?big5?B?xxxx?=",
    'Content-Type: multipart/mixed; boundary="b1"',
    "",
    "--b1",
    "Content-Type: text/plain; charset=big5",
    "",
    "garbled bytes",
    "--b1",
    "Content-Type: text/plain",
    "",
    "Plain English paragraph that should stay in the corpus.",
    "_______________________________________________",
    "Exmh-workers mailing list",
    "https://listman.example.com/mailman/listinfo/exmh-workers",
    "--b1",
    "Content-Type: image/gif",
    "Content-Transfer-Encoding: base64",
    "",
    "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==",
    "--b1--",
  ].join("\n");
  assertEq(cleanEmail(raw), "Plain English paragraph that should stay in the corpus.", "mixed email");
});

Deno.test("quoted-printable soft breaks and escapes decode to the original bytes", () => {
  const bytes = decodeQuotedPrintable("caf=C3=A9=\nbar =3D x");
  assertEq(new TextDecoder().decode(bytes), "caf\u00e9bar = x", "QP decode");
  assertEq(htmlToText("a<br/>b &lt;c&gt;").trim(), "a\nb <c>", "html to text");
});

Deno.test("text normalisation straightens quotes, removes controls and collapses whitespace", () => {
  assertEq(
    normaliseText("It\u2019s  \u201chere\u201d\r\n\n\n\nnext\u0002 \u2013 end\t!"),
    'It\'s "here"\n\nnext - end !',
    "normalised",
  );
});

Deno.test("the book corpus has one document per chapter in book order, without the contents page", () => {
  const book = loadCorpus("moby-dick");
  assertEq(book.rawCount, 139, "raw chapters");
  assertEq(book.docs.length, 138, "documents kept");
  assertEq(book.dropped.excluded, 1, "contents excluded");
  assertEq(book.docs.slice(0, 3).map((d) => d.id), ["etymology", "extracts", "chapter-001"], "first ids");
  assertEq(book.docs.at(-1)!.id, "epilogue", "last id");
  assert(book.docs[2]!.text.startsWith("Call me Ishmael."), "chapter 1 text");
  assert(book.docs.every((d) => !/[\u2018\u2019\u201c\u201d]/.test(d.text)), "curly quotes normalised");
});

Deno.test("the web-like corpora load with unique ids and no mail headers left", () => {
  const sotu = loadCorpus("sotu");
  assertEq(sotu.docs.length, 233, "sotu addresses");
  assertEq(new Set(sotu.docs.map((d) => d.id)).size, 233, "unique sotu ids");
  const spam = loadCorpus("spam-assassin");
  assertEq(spam.rawCount, 6046, "spam-assassin messages");
  const d = spam.dropped;
  assertEq(
    spam.docs.length + d.empty + d.tooShort + d.lowLetters + d.nonAscii + d.duplicate + d.excluded,
    6046,
    "every message kept or counted as dropped",
  );
  assert(spam.docs.length > 5000, `most emails survive cleaning, got ${spam.docs.length}`);
  const headerLike = spam.docs.filter((x) =>
    /^(Received|Return-Path|Message-Id|Content-Type|Content-Transfer-Encoding): /mi.test(x.text)
  );
  assert(
    headerLike.length < 0.01 * spam.docs.length,
    `${headerLike.length} documents still contain header lines, e.g. ${headerLike[0]?.id}`,
  );
  const html = spam.docs.filter((x) => /<\/?(html|body|table|font|div)\b/i.test(x.text));
  assert(html.length < 0.01 * spam.docs.length, `${html.length} documents still contain HTML, e.g. ${html[0]?.id}`);
});

Deno.test("splits are deterministic, disjoint, complete and seed-dependent", () => {
  const book = loadCorpus("moby-dick");
  const a = splitCorpus(book);
  const b = splitCorpus(book);
  assertEq(a.ids, b.ids, "same seed → same split");
  const all = [...a.ids.train, ...a.ids.validation, ...a.ids.test];
  assertEq(all.length, 138, "every chapter assigned");
  assertEq(new Set(all).size, 138, "no chapter in two splits");
  assertEq(a.ids.test.length, Math.round(138 * 0.2), "test fraction");
  const c = splitCorpus(book, { seed: 1 });
  assert(JSON.stringify(c.ids.test) !== JSON.stringify(a.ids.test), "another seed → another split");
  const test = splitDocs(book, a, "test");
  assert(test.every((d, i) => i === 0 || d.order > test[i - 1]!.order), "split docs in book order");
  let threw = false;
  try {
    splitCorpus(book, { fractions: { web: { train: 0.5, validation: 0.1, test: 0.1 } } });
  } catch (e) {
    threw = /sum to 0.7/.test((e as Error).message);
  }
  assert(threw, "fractions not summing to 1 are rejected with the sum named");
});

Deno.test("token caches are rebuilt when missing or corrupt and reused otherwise", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tokcache-" });
  try {
    const first = await loadTokenizedCorpus("moby-dick", { dir });
    assertEq(first.source, "built", "first load builds");
    const second = await loadTokenizedCorpus("moby-dick", { dir });
    assertEq(second.source, "cache", "second load reads the cache");
    assertEq(second.tokenized.tokens.length, first.tokenized.tokens.length, "same token count");
    assert(second.tokenized.tokens.every((v, i) => v === first.tokenized.tokens[i]), "same tokens");
    assert(second.tokenized.tokens instanceof Uint16Array, "GPT-2 ids stored as Uint16");
    const ch1 = docTokens(second.tokenized, "chapter-001");
    assertEq(Array.from(ch1.subarray(0, 4)), [14134, 502, 1148, 21720], "chapter 1 starts 'Call me Ishmael'");
    await Deno.writeFile(first.binPath, new Uint8Array(10));
    const third = await loadTokenizedCorpus("moby-dick", { dir });
    assertEq(third.source, "built", "corrupt cache rebuilt");
    assert(/bytes, metadata says/.test(third.reason ?? ""), `reason names the mismatch: ${third.reason}`);
    const k1 = await tokenCacheKey("moby-dick", gpt2Encoder());
    const k2 = await tokenCacheKey("moby-dick", { name: "other", encode: (t: string) => [t.length] });
    const k3 = await tokenCacheKey("moby-dick", gpt2Encoder(), { minWords: 5 });
    assert(k1 !== k2 && k1 !== k3, "key depends on encoder and cleaning config");
    const split = splitTokenized(third.tokenized);
    assertEq(split.ids, splitCorpus(loadCorpus("moby-dick")).ids, "split from token ids equals split from corpus");
    const testDocs = splitTokenDocs(third.tokenized, split, "test");
    const rows = corpusSummaryRows([third.tokenized]);
    const sum = rows.filter((r) => r.split !== "all").reduce((s, r) => s + r.tokens, 0);
    assertEq(sum, rows.find((r) => r.split === "all")!.tokens, "split token counts add up");
    assertEq(rows.find((r) => r.split === "test")!.tokens, testDocs.reduce((s, d) => s + d.length, 0), "test tokens");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
