// The layer check (scripts/check_layers.ts): the import parser on tricky sources, the check on small constructed
// graphs (a cycle and an upward import fail, an acyclic downward graph passes), and the project's own lib/.

import {
  checkLayers,
  folderOf,
  type ImportEdge,
  LAYERS,
  libImportGraph,
  parseImports,
  PENDING_MOVES,
  resolveSpecifier,
} from "../scripts/check_layers.ts";
import { dirname, fromFileUrl } from "../lib/path.ts";
import { assert, assertEquals } from "./helpers.ts";

const edge = (from: string, to: string, line = 1): ImportEdge => ({ from, to, line });
const FAKE_LAYERS = [["core"], ["io", "engine"], ["sae"], ["toy"]];

Deno.test("parseImports finds static imports over several lines and skips comments, templates and dynamic imports", () => {
  const src = [
    "/**", // 1
    ' * import { nope } from "./doc_example.ts";', // 2
    " */", // 3
    'import * as tf from "@tensorflow/tfjs";', // 4
    "import {", // 5
    "  a,", // 6
    "  type B,", // 7
    '} from "../engine/rng.ts";', // 8
    'import type { C } from "@lib/io/mod.ts";', // 9
    "// import { gone } from './commented.ts';", // 10
    'export * from "./re.ts";', // 11
    'export { d as e } from "./named.ts";', // 12
    'import "./side_effect.ts";', // 13
    'const s = `import { t } from "./template.ts"`;', // 14
    'const r = /["\']/g; const lazy = await import("./dynamic.ts");', // 15
    "const text = 'import x from \"./in_string.ts\"';", // 16
  ].join("\n");
  assertEquals(parseImports(src), [
    { specifier: "@tensorflow/tfjs", line: 4 },
    { specifier: "../engine/rng.ts", line: 8 },
    { specifier: "@lib/io/mod.ts", line: 9 },
    { specifier: "./re.ts", line: 11 },
    { specifier: "./named.ts", line: 12 },
    { specifier: "./side_effect.ts", line: 13 },
  ]);
});

Deno.test("resolveSpecifier and folderOf: relative and @lib/ paths, packages left out, root files are core", () => {
  assertEquals(resolveSpecifier("lib/sae/sae.ts", "../engine/rng.ts"), "lib/engine/rng.ts");
  assertEquals(resolveSpecifier("lib/sae/arch/topk.ts", "../config.ts"), "lib/sae/config.ts");
  assertEquals(resolveSpecifier("lib/progress.ts", "./jupyter.ts"), "lib/jupyter.ts");
  assertEquals(resolveSpecifier("lib/toy/grid.ts", "@lib/sae/mod.ts"), "lib/sae/mod.ts");
  assertEquals(resolveSpecifier("lib/toy/grid.ts", "npm:nodejs-polars"), null);
  assertEquals(folderOf("lib/sae/arch/topk.ts"), "sae");
  assertEquals(folderOf("lib/env.ts"), "core");
  assertEquals(folderOf("scripts/x.ts"), null);
});

Deno.test("checkLayers passes an acyclic graph whose imports all point down", () => {
  const edges = [
    edge("lib/toy/grid.ts", "lib/sae/sae.ts"),
    edge("lib/toy/grid.ts", "lib/env.ts"),
    edge("lib/sae/sae.ts", "lib/engine/rng.ts"),
    edge("lib/sae/saelens.ts", "lib/io/atomic.ts"),
    edge("lib/sae/sae.ts", "lib/sae/config.ts"),
    edge("lib/sae/config.ts", "lib/sae/sae.ts"), // a file cycle inside one folder is not a folder cycle
    edge("lib/io/atomic.ts", "lib/path.ts"),
  ];
  assertEquals(checkLayers(edges, FAKE_LAYERS), []);
});

Deno.test("checkLayers fails on a two-folder cycle, naming both folders and one import each way", () => {
  const edges = [
    edge("lib/toy/grid.ts", "lib/sae/sae.ts", 12),
    edge("lib/sae/fused_run.ts", "lib/toy/data.ts", 23),
    edge("lib/sae/fused_run.ts", "lib/toy/model.ts", 24),
  ];
  const problems = checkLayers(edges, FAKE_LAYERS);
  const cycle = problems.find((p) => p.startsWith("folder cycle"));
  assert(cycle !== undefined, `expected a folder cycle, got ${JSON.stringify(problems)}`);
  assert(cycle.includes("sae ↔ toy"), cycle);
  assert(cycle.includes("lib/sae/fused_run.ts:23 imports lib/toy/data.ts"), cycle);
  assert(cycle.includes("lib/toy/grid.ts:12 imports lib/sae/sae.ts"), cycle);
  // the same graph also has an import pointing up the map (sae → toy)
  assert(problems.some((p) => p.includes("sae imports toy, which sits above it")), JSON.stringify(problems));
});

Deno.test("checkLayers reports a longer cycle once, with one import per hop", () => {
  const edges = [
    edge("lib/io/a.ts", "lib/engine/b.ts"),
    edge("lib/engine/b.ts", "lib/sae/c.ts"),
    edge("lib/sae/c.ts", "lib/io/a.ts"),
  ];
  const cycles = checkLayers(edges, FAKE_LAYERS).filter((p) => p.startsWith("folder cycle"));
  assertEquals(cycles.length, 1, JSON.stringify(cycles));
  assert((cycles[0] as string).includes("engine → sae → io → engine"), cycles[0] as string);
  assertEquals((cycles[0] as string).split("\n").length, 4, cycles[0] as string);
});

Deno.test("checkLayers fails on an upward or sideways import, an unknown folder and an import leaving lib/", () => {
  const up = checkLayers([edge("lib/path.ts", "lib/io/atomic.ts", 7)], FAKE_LAYERS);
  assertEquals(up.length, 1, JSON.stringify(up));
  assert((up[0] as string).includes("core imports io, which sits above it"), up[0] as string);
  assert((up[0] as string).includes("lib/path.ts:7 imports lib/io/atomic.ts"), up[0] as string);
  const side = checkLayers([edge("lib/io/a.ts", "lib/engine/b.ts")], FAKE_LAYERS);
  assert(side.length === 1 && (side[0] as string).includes("beside it (same layer)"), JSON.stringify(side));
  const unknown = checkLayers([edge("lib/newfolder/x.ts", "lib/env.ts")], FAKE_LAYERS);
  assert(
    unknown.length === 1 && (unknown[0] as string).includes('folder "newfolder" is not in the layer map'),
    unknown[0] as string,
  );
  const outside = checkLayers([edge("lib/sae/x.ts", "scripts/y.ts")], FAKE_LAYERS);
  assert(outside.length === 1 && (outside[0] as string).includes("import leaves lib/"), JSON.stringify(outside));
  const twice = checkLayers([], [["core"], ["core"]]);
  assert(twice.length === 1 && (twice[0] as string).includes("listed twice"), JSON.stringify(twice));
});

Deno.test("the project's lib/ passes its layer map", async () => {
  const root = dirname(dirname(fromFileUrl(import.meta.url)));
  const edges = await libImportGraph(root);
  assert(edges.length > 100, `expected the lib/ graph, got ${edges.length} imports`);
  assertEquals(checkLayers(edges, LAYERS, PENDING_MOVES), []);
  // lm and sae sit side by side: no file of lm/ imports sae/ and none of sae/ imports lm/ (pending moves aside)
  const folder = (p: string) => PENDING_MOVES[p] ?? folderOf(p);
  const across = edges.filter((e) => {
    const pair = `${folder(e.from)}→${folder(e.to)}`;
    return pair === "lm→sae" || pair === "sae→lm";
  });
  assertEquals(across, []);
});

Deno.test("checkLayers counts a pending move in its destination folder, and says so", () => {
  const edges = [edge("lib/lm/embedded.ts", "lib/sae/saelens.ts", 62), edge("lib/lm/embedded.ts", "lib/lm/gpt2.ts", 3)];
  const layers = [["core"], ["lm", "sae"], ["study_b"]];
  const without = checkLayers(edges, layers);
  assert(
    without.length === 1 && (without[0] as string).includes("lm imports sae, which sits beside it"),
    JSON.stringify(without),
  );
  assertEquals(checkLayers(edges, layers, { "lib/lm/embedded.ts": "study_b" }), []);
  // a pending file that imports upward from its destination still fails, and the message names the move
  const up = checkLayers([edge("lib/lm/embedded.ts", "lib/toy/x.ts", 9)], [["lm"], ["study_b", "toy"]], {
    "lib/lm/embedded.ts": "study_b",
  });
  assert(
    up.length === 1 && (up[0] as string).includes("pending move: lib/lm/embedded.ts counted in study_b"),
    JSON.stringify(up),
  );
});
