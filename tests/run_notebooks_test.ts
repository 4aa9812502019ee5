import {
  describeFailure,
  etaText,
  formatClock,
  listNotebooks,
  parseRunArgs,
  recordTiming,
  selectNotebooks,
  syntaxDiagnosis,
} from "../scripts/run_notebooks.ts";
import { checkNotebookTimes } from "../bench/notebook_times.ts";
import { joinLines, type Notebook, readNotebook } from "../scripts/ipynb.ts";
import { FIND_KERNELSPECS_PY } from "../scripts/setup.ts";
import { PROJECT_ROOT } from "../lib/env.ts";
import { join } from "../lib/path.ts";

function assert(cond: boolean, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

function assertEquals(actual: unknown, expected: unknown, msg = ""): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${msg}\n  actual:   ${a}\n  expected: ${e}`);
}

const FIXTURES = join(PROJECT_ROOT, "tests", "fixtures", "notebooks");
const RUNNER = join(PROJECT_ROOT, "scripts", "run_notebooks.ts");

/** Why the integration tests cannot run here, or undefined when Jupyter and the Deno kernel are present. */
function jupyterMissing(): string | undefined {
  try {
    Deno.statSync("/usr/bin/jupyter");
  } catch {
    return "/usr/bin/jupyter is missing";
  }
  try {
    const out = new Deno.Command("/usr/bin/python3", { args: ["-c", FIND_KERNELSPECS_PY], stderr: "null" })
      .outputSync();
    const specs = JSON.parse(new TextDecoder().decode(out.stdout)) as Record<string, string>;
    if (specs["deno"] === undefined) return "the Deno Jupyter kernel is not installed";
  } catch (e) {
    return `listing Jupyter kernels failed (${e instanceof Error ? e.message : String(e)})`;
  }
  return undefined;
}

const missing = jupyterMissing();
if (missing !== undefined) {
  console.warn(`run_notebooks_test: notebook execution tests ignored: ${missing} (run \`deno task setup\`)`);
}

async function copyFixtures(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "runner_test_" });
  const dir = join(root, "notebooks");
  await Deno.mkdir(join(dir, "src"), { recursive: true });
  for await (const e of Deno.readDir(join(FIXTURES, "src"))) {
    if (e.isFile) await Deno.copyFile(join(FIXTURES, "src", e.name), join(dir, "src", e.name));
  }
  return root;
}

async function runRunner(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", RUNNER, ...args],
    cwd: PROJECT_ROOT,
    env: { QUICK: "", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

function outputsText(nb: Notebook): string {
  return nb.cells.flatMap((c) => c.outputs ?? []).map((o) =>
    o.output_type === "stream" ? joinLines(o.text) : joinLines(o.data?.["text/plain"] as string | string[])
  ).join("\n");
}

Deno.test({
  name: "runner executes a passing notebook in place and saves its outputs without ANSI codes",
  ignore: missing !== undefined,
  fn: async () => {
    const root = await copyFixtures();
    try {
      const dir = join(root, "notebooks");
      const r = await runRunner(["--dir", dir, "01"]);
      assertEquals(r.code, 0, `runner failed:\n${r.stdout}\n${r.stderr}`);
      assert(/\[1\/1\] 01_pass … \d+\.\d s ok/.test(r.stdout), `progress line missing:\n${r.stdout}`);
      const nb = await readNotebook(join(dir, "01_pass.ipynb"));
      const text = outputsText(nb);
      assert(text.includes("sum=6"), `stream output missing: ${text}`);
      assert(text.includes("red text"), `coloured stream output missing: ${text}`);
      assert(text.includes("answer: 42"), `execute_result missing: ${text}`);
      assert(text.includes('headless: "1"'), `SAE_HEADLESS=1 not seen by the kernel: ${text}`);
      assert(text.includes('cwd: "notebooks"'), `kernel cwd should be the notebooks folder: ${text}`);
      // deno-lint-ignore no-control-regex
      assert(!/\x1b/.test(await Deno.readTextFile(join(dir, "01_pass.ipynb"))), "ANSI codes left in the notebook");
      assertEquals(nb.cells.filter((c) => c.cell_type === "code").map((c) => c.execution_count), [1, 2]);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "runner stops at a throwing second code cell and names the notebook, cell and error",
  ignore: missing !== undefined,
  fn: async () => {
    const root = await copyFixtures();
    try {
      const dir = join(root, "notebooks");
      const r = await runRunner(["--dir", dir]);
      assert(r.code !== 0, "runner should exit non-zero");
      assert(/\[1\/2\] 01_pass … \d+\.\d s ok/.test(r.stdout), `01_pass runs first:\n${r.stdout}`);
      assert(/\[2\/2\] 02_fail … \d+\.\d s FAILED/.test(r.stdout), `02_fail fails second:\n${r.stdout}`);
      for (
        const s of ["02_fail", "code cell 2", "cell 3 of 4", "RangeError", "fixture failure: expected 3 items, got 2"]
      ) {
        assert(r.stderr.includes(s), `failure message should contain "${s}":\n${r.stderr}`);
      }
      const failed = await readNotebook(join(dir, "02_fail.failed.ipynb"));
      const outs = failed.cells.filter((c) => c.cell_type === "code").map((c) => c.outputs ?? []);
      assertEquals(outs[1]!.map((o) => o.output_type), ["error"]);
      assertEquals(outs[2], [], "the cell after the failure never ran");
      assert(r.stderr.includes("02_fail.failed.ipynb"), "message points at the saved partial notebook");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "runner relays cell progress while a notebook runs and reports a syntax error with the parser's message",
  ignore: missing !== undefined,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "runner_syntax_" });
    try {
      const dir = join(root, "notebooks");
      await Deno.mkdir(join(dir, "src"), { recursive: true });
      const src = join(PROJECT_ROOT, "tests", "fixtures", "notebooks_syntax", "src", "01_syntax.ts");
      await Deno.copyFile(src, join(dir, "src", "01_syntax.ts"));
      await recordTiming(dir, "01_syntax", 600, "full"); // a previous run's time gives the ETA
      const r = await runRunner(["--dir", dir]);
      assert(r.code !== 0, "runner should exit non-zero");
      assert(r.stdout.includes("[1/1] 01_syntax: 3 code cells, last run 10:00"), `start line:\n${r.stdout}`);
      assert(/\d:\d\d \(ETA \d+:\d\d\) cell 1\/3: console\.log\("first cell runs"\);/.test(r.stdout), r.stdout);
      assert(r.stdout.includes("| first cell runs"), `the cell's printed line is relayed:\n${r.stdout}`);
      assert(r.stdout.includes("cell 2/3: const broken = (1 + ;"), `the failing cell is shown starting:\n${r.stdout}`);
      assert(!r.stdout.includes("cell 3/3"), "the run stops at the failing cell");
      for (const s of ["code cell 2", "SyntaxError", "Expression expected", "line 1, column 21"]) {
        assert(r.stderr.includes(s), `failure message should contain "${s}":\n${r.stderr}`);
      }
      assert(!r.stderr.includes("Execution failed"), `the bare kernel message is replaced:\n${r.stderr}`);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("syntaxDiagnosis names the parser's message and position, and null for a cell that parses", async () => {
  assertEquals(
    await syntaxDiagnosis("const a = 1;\nconst broken = (1 + ;\n"),
    "Expression expected at line 2, column 21: const broken = (1 + ;",
  );
  assertEquals(await syntaxDiagnosis("const x = await Promise.resolve(1);\nx;\n"), null);
  assertEquals(formatClock(3723), "1:02:03");
  assertEquals(etaText(30, 90), " (ETA 1:00)");
  assertEquals(etaText(30, null), "");
});

Deno.test({
  name: "QUICK mode executes copies in the output folder and leaves the notebooks folder untouched",
  ignore: missing !== undefined,
  fn: async () => {
    const root = await copyFixtures();
    try {
      const dir = join(root, "notebooks");
      const out = join(root, "quick_out");
      const r = await runRunner(["--dir", dir, "--out", out, "01"], { QUICK: "1" });
      assertEquals(r.code, 0, `runner failed:\n${r.stdout}\n${r.stderr}`);
      const left = [];
      for await (const e of Deno.readDir(dir)) left.push(e.name);
      assertEquals(left, ["src"], "nothing written next to the sources");
      const nb = await readNotebook(join(out, "01_pass.ipynb"));
      assert(outputsText(nb).includes("answer: 42"), "quick copy holds the outputs");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("runner lists notebooks from sources and files, skips failed copies, and filters by prefix", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "src"));
    for (const f of ["src/01_a.ts", "src/notes.ts", "00_q.ipynb", "01_a.ipynb", "02_b.failed.ipynb", "README.md"]) {
      await Deno.writeTextFile(join(dir, f), "");
    }
    assertEquals(await listNotebooks(dir), ["00_q", "01_a"]);
    assertEquals(selectNotebooks(["00_q", "01_a", "10_c"], ["01", "10_c"]), ["01_a", "10_c"]);
    let message = "";
    try {
      selectNotebooks(["00_q"], ["7"]);
    } catch (e) {
      message = e instanceof Error ? e.message : String(e);
    }
    assert(message.includes('"7"') && message.includes("00_q"), `unmatched filter message: ${message}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runner arguments: folder, output folder, timeout and filters", () => {
  assertEquals(parseRunArgs(["--dir", "nb", "--out=q", "--timeout", "60", "01", "02"]), {
    filters: ["01", "02"],
    dir: "nb",
    quickDir: "q",
    timeoutSeconds: 60,
  });
  let message = "";
  try {
    parseRunArgs(["--timeout", "soon"]);
  } catch (e) {
    message = e instanceof Error ? e.message : String(e);
  }
  assert(message.includes("soon"), `bad timeout message: ${message}`);
});

Deno.test("failure report strips ANSI codes and counts code cells and all cells from 1", () => {
  const nb: Notebook = {
    cells: [
      { cell_type: "markdown", id: "m", metadata: {}, source: "# t" },
      { cell_type: "code", id: "a", metadata: {}, source: "ok", outputs: [] },
      { cell_type: "code", id: "b", metadata: {}, source: "bad()", outputs: [] },
    ],
    metadata: {},
    nbformat: 4,
    nbformat_minor: 5,
  };
  const msg = describeFailure("07_x", nb, {
    ok: false,
    cell_index: 2,
    ename: "TypeError",
    evalue: "\x1b[31mbad is not a function\x1b[0m",
    traceback: ["\x1b[31mTypeError\x1b[0m: bad is not a function", "    at <anonymous>:1:1"],
  }, "/tmp/07_x.failed.ipynb");
  assert(msg.startsWith("notebook 07_x failed at code cell 2 (cell 3 of 3 overall): TypeError: bad is not"), msg);
  assert(msg.includes("| bad()") && msg.includes("at <anonymous>:1:1"), msg);
  // deno-lint-ignore no-control-regex
  assert(!/\x1b/.test(msg), "no ANSI codes in the report");
});

Deno.test("recorded notebook timings merge per notebook and the bench flags a run over its budget", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await recordTiming(dir, "11_context_length", 512.3, "full");
    await recordTiming(dir, "12_error_propagation", 100, "full");
    await recordTiming(dir, "11_context_length", 640.04, "full"); // a later run replaces the earlier one
    const saved = JSON.parse(await Deno.readTextFile(join(dir, "timings.json")));
    assertEquals(Object.keys(saved), ["11_context_length", "12_error_propagation"]);
    assertEquals(saved["11_context_length"].seconds, 640);
    const rows = await checkNotebookTimes({ full: join(dir, "timings.json"), quick: join(dir, "none.json") });
    const byName = (n: string, mode: string) => rows.find((r) => r.notebook === n && r.mode === mode);
    assertEquals(byName("11_context_length", "full")?.status, "missed");
    assertEquals(byName("12_error_propagation", "full")?.status, "met");
    assertEquals(byName("13_*", "full")?.status, "not run");
    assertEquals(byName("11_*", "quick")?.status, "not run");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
