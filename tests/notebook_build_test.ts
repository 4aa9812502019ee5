import { buildNotebook, buildNotebookFile, cellId, notebookPathFor, parsePercent } from "../scripts/notebook_build.ts";
import {
  joinLines,
  type Notebook,
  serializeNotebook,
  splitLines,
  stripAnsi,
  stripAnsiOutputs,
} from "../scripts/ipynb.ts";
import { join } from "../lib/path.ts";
import { assert, assertEquals, assertThrows } from "./helpers.ts";

const SOURCE = [
  "// %% [markdown]",
  "// # Title",
  "//",
  "// Some *prose*.",
  "",
  "// %%",
  "",
  "const x = 1;",
  "",
  "x + 1;",
  "",
  "",
  "// %%",
  "",
  "// %% [markdown]",
  "// ## Second",
  "// %%",
  "console.log(x);",
  "",
].join("\n");

Deno.test("percent parser splits markdown and code cells, strips the comment prefix and trims blank lines", () => {
  const cells = parsePercent(SOURCE, "demo.ts");
  assertEquals(cells.map((c) => c.kind), ["markdown", "code", "markdown", "code"]);
  assertEquals(cells[0]!.text, "# Title\n\nSome *prose*.");
  assertEquals(cells[1]!.text, "const x = 1;\n\nx + 1;");
  assertEquals(cells[2]!.text, "## Second");
  assertEquals(cells[3]!.text, "console.log(x);");
  assertEquals(cells.map((c) => c.line), [1, 6, 15, 17], "marker line numbers");
});

Deno.test("percent parser keeps text before the first marker as a code cell", () => {
  const cells = parsePercent('import { a } from "./a.ts";\n\n// %% [markdown]\n// hi\n', "demo.ts");
  assertEquals(cells.map((c) => [c.kind, c.text]), [["code", 'import { a } from "./a.ts";'], ["markdown", "hi"]]);
});

Deno.test("percent parser rejects a markdown line without the comment prefix, naming file and line", () => {
  assertThrows(() => parsePercent("// %% [markdown]\n// ok\nnot a comment\n", "nb/src/01_x.ts"), [
    "nb/src/01_x.ts:3",
    "not a comment",
    "// ",
  ]);
});

Deno.test("percent parser rejects an unknown cell marker", () => {
  assertThrows(() => parsePercent("// %% [raw]\nx\n", "a.ts"), ["a.ts:1", "// %% [raw]"]);
});

Deno.test("built notebook is nbformat 4.5 with the Deno kernelspec and stable, valid, unique cell ids", () => {
  const { notebook } = buildNotebook("03_demo", parsePercent(SOURCE, "03_demo.ts"));
  assertEquals([notebook.nbformat, notebook.nbformat_minor], [4, 5]);
  assertEquals(notebook.metadata["kernelspec"], { display_name: "Deno", language: "typescript", name: "deno" });
  const info = notebook.metadata["language_info"] as Record<string, string>;
  assertEquals([info["name"], info["file_extension"]], ["typescript", ".ts"]);
  const ids = notebook.cells.map((c) => c.id);
  assertEquals(ids, ["03_demo-000", "03_demo-001", "03_demo-002", "03_demo-003"]);
  for (const id of ids) assert(/^[a-zA-Z0-9_-]{1,64}$/.test(id), `invalid cell id ${id}`);
  assert(/^[a-zA-Z0-9_-]{1,64}$/.test(cellId("x".repeat(200) + " é", 7)), "long names are cut to a valid id");
  const code = notebook.cells[1]!;
  assertEquals([code.cell_type, code.execution_count, code.outputs], ["code", null, []]);
  assert(!("outputs" in notebook.cells[0]!), "markdown cells carry no outputs");
});

function executed(nb: Notebook): Notebook {
  // Simulate a kernel run: every code cell gets an output naming its source.
  let n = 0;
  return {
    ...nb,
    cells: nb.cells.map((c) =>
      c.cell_type !== "code" ? c : {
        ...c,
        execution_count: ++n,
        outputs: [{ output_type: "stream", name: "stdout", text: `ran: ${joinLines(c.source)}\n` }],
      }
    ),
    metadata: { ...nb.metadata, language_info: { name: "typescript", version: "6.0.3" } },
  };
}

Deno.test("rebuilding keeps outputs of unchanged code cells and drops those of changed cells", () => {
  const first = buildNotebook("01_x", parsePercent("// %%\nconst a = 1;\n// %%\nconst b = 2;\n// %%\na + b;\n", "x"));
  const ran = executed(first.notebook);
  const edited = parsePercent("// %%\nconst a = 1;\n// %%\nconst b = 3;\n// %%\na + b;\n", "x");
  const { notebook, keptOutputs } = buildNotebook("01_x", edited, ran);
  assertEquals(keptOutputs, 2);
  assertEquals(notebook.cells.map((c) => c.outputs?.length), [1, 0, 1]);
  assertEquals(notebook.cells.map((c) => c.execution_count), [1, null, 3]);
  assertEquals((notebook.metadata["language_info"] as Record<string, string>)["version"], "6.0.3");
});

Deno.test("inserting a cell keeps the outputs of the unchanged cells after it", () => {
  const ran = executed(buildNotebook("01_x", parsePercent("// %%\nA;\n// %%\nB;\n", "x")).notebook);
  const { notebook, keptOutputs } = buildNotebook(
    "01_x",
    parsePercent("// %%\nA;\n// %%\nNEW;\n// %%\nB;\n", "x"),
    ran,
  );
  assertEquals(keptOutputs, 2);
  assertEquals(notebook.cells.map((c) => c.outputs?.length), [1, 0, 1]);
  assertEquals(notebook.cells.map((c) => c.id), ["01_x-000", "01_x-001", "01_x-002"]);
});

Deno.test("building a file twice gives byte-identical notebooks, and an executed unchanged notebook is left as is", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "src"));
    const src = join(dir, "src", "05_demo.ts");
    await Deno.writeTextFile(src, SOURCE);
    const a = await buildNotebookFile(src);
    assertEquals([a.outPath, a.changed], [join(dir, "05_demo.ipynb"), true]);
    const bytesA = await Deno.readTextFile(a.outPath);
    const b = await buildNotebookFile(src);
    assertEquals(b.changed, false);
    assertEquals(await Deno.readTextFile(a.outPath), bytesA);

    const ranText = serializeNotebook(executed(a.notebook));
    await Deno.writeTextFile(a.outPath, ranText);
    const c = await buildNotebookFile(src);
    assertEquals([c.changed, c.keptOutputs], [false, 2]);
    assertEquals(await Deno.readTextFile(a.outPath), ranText);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("notebook path: src/NAME.ts maps to NAME.ipynb one folder up", () => {
  assertEquals(notebookPathFor("notebooks/src/00_quickstart.ts"), "notebooks/00_quickstart.ipynb");
  assertEquals(notebookPathFor("/tmp/x/07_a.ts"), "/tmp/x/07_a.ipynb");
});

Deno.test("ANSI codes are stripped from text/plain and stream outputs, not from tracebacks", () => {
  assertEquals(stripAnsi("\x1b[33m3\x1b[39m \x1b]8;;http://x\x07link\x1b]8;;\x07 \x1b[1;31mred\x1b[0m"), "3 link red");
  const nb: Notebook = {
    cells: [{
      cell_type: "code",
      id: "a",
      metadata: {},
      source: "x",
      execution_count: 1,
      outputs: [
        { output_type: "stream", name: "stdout", text: ["\x1b[32mok\x1b[39m\n"] },
        { output_type: "execute_result", data: { "text/plain": "\x1b[33m1\x1b[39m", "text/html": "<b>\x1b</b>" } },
        { output_type: "error", ename: "E", evalue: "v", traceback: ["\x1b[31mE\x1b[0m"] },
      ],
    }],
    metadata: {},
    nbformat: 4,
    nbformat_minor: 5,
  };
  const outs = stripAnsiOutputs(nb).cells[0]!.outputs!;
  assertEquals(outs[0]!.text, ["ok\n"]);
  assertEquals(outs[1]!.data, { "text/plain": "1", "text/html": "<b>\x1b</b>" });
  assertEquals(outs[2]!.traceback, ["\x1b[31mE\x1b[0m"]);
  assertEquals(nb.cells[0]!.outputs![0]!.text, ["\x1b[32mok\x1b[39m\n"], "the input notebook is not modified");
});

Deno.test("lines are split the way nbformat stores them", () => {
  assertEquals(splitLines(""), []);
  assertEquals(splitLines("a"), ["a"]);
  assertEquals(splitLines("a\n"), ["a\n"]);
  assertEquals(splitLines("a\n\nb"), ["a\n", "\n", "b"]);
});

const PYTHON = "/usr/bin/python3";
function hasNbformat(): boolean {
  try {
    return new Deno.Command(PYTHON, { args: ["-c", "import nbformat"], stderr: "null", stdout: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}
const nbformatAvailable = hasNbformat();
if (!nbformatAvailable) {
  console.warn(
    "notebook_build_test: nbformat cross-check ignored: /usr/bin/python3 with nbformat is missing " +
      "(run `deno task setup`)",
  );
}

Deno.test({
  name: "built and executed notebooks validate with nbformat and match its own writer byte for byte",
  ignore: !nbformatAvailable,
  fn: async () => {
    const base = buildNotebook("02_check", parsePercent(SOURCE, "02_check.ts")).notebook;
    const ran = executed(base);
    ran.cells[1]!.outputs!.push({
      output_type: "display_data",
      metadata: {},
      data: { "text/plain": "a\nb", "image/png": "iVBORw0KGgo=", "application/vnd.plotly.v1+json": { data: [] } },
    });
    for (const nb of [base, ran]) {
      const text = serializeNotebook(nb);
      const script = "import sys, nbformat\n" +
        "text = sys.stdin.read()\n" +
        "nb = nbformat.reads(text, as_version=4)\n" +
        "nbformat.validate(nb)\n" +
        "sys.stdout.write(nbformat.writes(nb) + '\\n')\n";
      const child = new Deno.Command(PYTHON, { args: ["-c", script], stdin: "piped", stdout: "piped", stderr: "piped" })
        .spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(text));
      await writer.close();
      const out = await child.output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert(out.success, `nbformat rejected the notebook: ${stderr}`);
      assertEquals(new TextDecoder().decode(out.stdout), text, "nbformat's writer gives the same bytes");
    }
  },
});
