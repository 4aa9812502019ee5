/**
 * The layer check of `deno task check`: reads the static imports of every
 * `lib/` file (`import … from "x"`, `import "x"`, `export … from "x"`, with
 * relative or `@lib/` specifiers) and fails when the folders of `lib/` import
 * each other in a cycle, or when an import points up (or sideways across)
 * the declared {@link LAYERS}.
 *
 * A folder is a first-level folder of `lib/` (`lib/sae/arch/x.ts` belongs to
 * `sae`); the root files (`lib/check.ts`, `lib/path.ts`, `lib/env.ts`,
 * `lib/progress.ts`, `lib/jupyter.ts`) are the folder `core`. A file may
 * import files of its own folder, and of any folder in a lower layer; two
 * folders in the same layer sit side by side and import neither each other.
 * Imports of packages (`npm:`, the import map's `@tensorflow/tfjs`, …) are
 * not part of the graph; a relative import that leaves `lib/` is an error.
 *
 * Usage: `deno run --allow-read scripts/check_layers.ts` (exit code 1 and one
 * paragraph per problem when the check fails).
 *
 * @example
 * ```ts
 * import { checkLayers, type ImportEdge } from "./check_layers.ts";
 * const edges: ImportEdge[] = [
 *   { from: "lib/sae/sae.ts", to: "lib/engine/rng.ts", line: 3 },
 *   { from: "lib/engine/rng.ts", to: "lib/sae/sae.ts", line: 9 },
 * ];
 * checkLayers(edges, [["core"], ["engine"], ["sae"]]).length; // 2: the cycle, and engine importing sae
 * ```
 *
 * @module
 */

import { dirname, fromFileUrl, join } from "../lib/path.ts";

/**
 * The layers of `lib/`, lowest first: a folder may import only folders of a
 * lower layer. Every folder of `lib/` must appear exactly once.
 *
 * - `core`: the root files (assertions, paths, environment, progress bars, Jupyter access);
 * - `io`, `engine`: files and formats; the tfjs backend, kernels and random numbers;
 * - `plot`, `metrics`, `tokenizer`: figures; statistics; GPT-2 BPE and row packing;
 * - `data`, `lm`, `sae`, side by side: corpora, benchmarks and token caches; the language model (its interface,
 *   GPT-2, the HF loader, the LM trainer); the SAE, its architectures, training and file format;
 * - `splice`: the SAE in the model (splices, the one spliced-loss loop, SAE-on-LM training);
 * - `toy`, `study_b`: the two studies (study A's toy models with the fused small-SAE path; study B).
 */
export const LAYERS: readonly (readonly string[])[] = [
  ["core"],
  ["io", "engine"],
  ["plot", "metrics", "tokenizer"],
  ["data", "lm", "sae"],
  ["splice"],
  ["toy", "study_b"],
];

/**
 * Files that sit in one folder but belong to another, by the folder they move
 * to; the check counts each as a file of that folder. Empty: the last entries
 * (the embedded recipe, now in `study_b/`) moved with issue 17. Keep it short:
 * every entry is a promise to move a file.
 */
export const PENDING_MOVES: Readonly<Record<string, string>> = {};

/** One static import between two `lib/` files (paths relative to the project root, `/`-separated). */
export interface ImportEdge {
  /** The importing file, e.g. `lib/sae/sae.ts`. */
  from: string;
  /** The imported file, e.g. `lib/engine/rng.ts`. */
  to: string;
  /** 1-based line of the import in `from`. */
  line: number;
}

/** One import specifier found in a source file. */
export interface FoundImport {
  /** The specifier as written (`"../engine/rng.ts"`, `"@lib/sae/mod.ts"`, `"npm:x"`). */
  specifier: string;
  /** 1-based line of the specifier. */
  line: number;
}

/**
 * The source with comments, template literals, regular-expression literals
 * and the contents of string literals blanked (newlines kept, so line numbers
 * stay), except strings that follow `from` or `import`: the specifiers.
 */
function blankNonCode(src: string): string {
  const out = src.split("");
  const blank = (from: number, to: number) => {
    for (let i = from; i < to; i++) if (out[i] !== "\n") out[i] = " ";
  };
  let i = 0;
  let lastSignificant = ""; // previous non-space code character, to tell a regex from a division
  while (i < src.length) {
    const c = src[i] as string;
    const next = src[i + 1];
    if (c === "/" && next === "/") {
      const end = src.indexOf("\n", i);
      const stop = end < 0 ? src.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = src.indexOf("*/", i + 2);
      const stop = end < 0 ? src.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c && src[j] !== "\n") j += src[j] === "\\" ? 2 : 1;
      // keep a string only where a specifier can stand: right after `from` or `import`
      if (!/\b(?:from|import)\s*$/.test(out.slice(Math.max(0, i - 40), i).join(""))) blank(i + 1, j);
      i = j + 1;
      lastSignificant = c;
    } else if (c === "`") {
      let j = i + 1;
      let depth = 0; // ${ … } nesting; the contents of a template never hold an import
      while (j < src.length && !(src[j] === "`" && depth === 0)) {
        if (src[j] === "\\") j++;
        else if (src[j] === "$" && src[j + 1] === "{") depth++;
        else if (src[j] === "}" && depth > 0) depth--;
        j++;
      }
      blank(i, j + 1);
      i = j + 1;
      lastSignificant = "`";
    } else if (c === "/" && (lastSignificant === "" || "(,=:[!&|?{};+-*%<>~^".includes(lastSignificant))) {
      let j = i + 1;
      let inClass = false;
      while (j < src.length && src[j] !== "\n" && (inClass || src[j] !== "/")) {
        if (src[j] === "\\") j++;
        else if (src[j] === "[") inClass = true;
        else if (src[j] === "]") inClass = false;
        j++;
      }
      blank(i, j + 1);
      i = j + 1;
      lastSignificant = "/";
    } else {
      if (!/\s/.test(c)) lastSignificant = c;
      i++;
    }
  }
  return out.join("");
}

const IMPORT_FROM = /\b(?:import|export)\s+(?:type\s+)?(?:[\w$*\s{},]|\bas\b)*?\bfrom\s*(["'])([^"'\n]+)\1/g;
const IMPORT_BARE = /\bimport\s*(["'])([^"'\n]+)\1/g;

/**
 * The static import specifiers of a TypeScript source: `import … from`,
 * `import type … from`, bare `import "x"` and `export … from`, over any
 * number of lines; imports inside comments (documentation examples) and
 * template literals are ignored, dynamic `import(…)` is not a static import.
 *
 * @example
 * ```ts
 * import { parseImports } from "./check_layers.ts";
 * parseImports('import { a } from "./a.ts";\n// import { b } from "./b.ts";\nexport * from "@lib/c/mod.ts";');
 * // [{ specifier: "./a.ts", line: 1 }, { specifier: "@lib/c/mod.ts", line: 3 }]
 * ```
 */
export function parseImports(source: string): FoundImport[] {
  const code = blankNonCode(source);
  const found: { index: number; specifier: string }[] = [];
  for (const re of [IMPORT_FROM, IMPORT_BARE]) {
    re.lastIndex = 0;
    for (const m of code.matchAll(re)) {
      const spec = m[2] as string;
      found.push({ index: (m.index as number) + m[0].lastIndexOf(spec), specifier: spec });
    }
  }
  found.sort((a, b) => a.index - b.index);
  return found.map(({ index, specifier }) => ({
    specifier,
    line: code.slice(0, index).split("\n").length,
  }));
}

/**
 * The project-relative path an import resolves to, or null for a package
 * (anything that is neither relative nor `@lib/`). `from` is the importing
 * file's project-relative path.
 *
 * @example
 * ```ts
 * import { resolveSpecifier } from "./check_layers.ts";
 * resolveSpecifier("lib/sae/sae.ts", "../engine/rng.ts"); // "lib/engine/rng.ts"
 * resolveSpecifier("lib/sae/sae.ts", "@lib/io/mod.ts"); // "lib/io/mod.ts"
 * resolveSpecifier("lib/sae/sae.ts", "@tensorflow/tfjs"); // null
 * ```
 */
export function resolveSpecifier(from: string, specifier: string): string | null {
  if (specifier.startsWith("@lib/")) return "lib/" + specifier.slice("@lib/".length);
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return null;
  const parts = from.split("/").slice(0, -1);
  for (const part of specifier.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== ".") parts.push(part);
  }
  return parts.join("/");
}

/**
 * The folder (layer member) of a `lib/` file: its first-level folder, or
 * `core` for a file directly in `lib/`; null outside `lib/`.
 *
 * @example
 * ```ts
 * import { folderOf } from "./check_layers.ts";
 * folderOf("lib/sae/arch/topk.ts"); // "sae"
 * folderOf("lib/env.ts"); // "core"
 * ```
 */
export function folderOf(path: string): string | null {
  const parts = path.split("/");
  if (parts[0] !== "lib" || parts.length < 2) return null;
  return parts.length === 2 ? "core" : parts[1] as string;
}

/** Every `.ts` file under `dir` (project-relative, sorted). */
async function listTs(root: string, dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(join(root, dir))) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await listTs(root, rel));
    else if (e.isFile && e.name.endsWith(".ts")) out.push(rel);
  }
  return out.sort();
}

/**
 * The import graph of `lib/` under the project `root`: one edge per static
 * import of a project file (packages left out).
 */
export async function libImportGraph(root: string): Promise<ImportEdge[]> {
  const edges: ImportEdge[] = [];
  for (const file of await listTs(root, "lib")) {
    const src = await Deno.readTextFile(join(root, file));
    for (const { specifier, line } of parseImports(src)) {
      const to = resolveSpecifier(file, specifier);
      if (to !== null) edges.push({ from: file, to, line });
    }
  }
  return edges;
}

const folderOfPath = (path: string): string | null => folderOf(path);

/**
 * The folder cycles of an import graph, each as the imports that make it:
 * every pair of folders that import each other (one import each way); for a
 * group of folders that reach each other with no such pair, one shortest
 * cycle through the group, one import per hop.
 */
function folderCycles(edges: readonly ImportEdge[], folderOf: (path: string) => string | null): ImportEdge[][] {
  const example = new Map<string, ImportEdge>(); // "a→b" → first import
  const next = new Map<string, Set<string>>();
  for (const e of edges) {
    const a = folderOf(e.from);
    const b = folderOf(e.to);
    if (a === null || b === null || a === b) continue;
    if (!example.has(`${a}→${b}`)) example.set(`${a}→${b}`, e);
    if (!next.has(a)) next.set(a, new Set());
    next.get(a)?.add(b);
  }
  const folders = [...next.keys()].sort();
  // shortest path a → … → b by breadth-first search, as a list of folders
  const path = (a: string, b: string): string[] | null => {
    const prev = new Map<string, string>([[a, ""]]);
    const queue = [a];
    while (queue.length > 0) {
      const u = queue.shift() as string;
      for (const v of [...(next.get(u) ?? [])].sort()) {
        if (prev.has(v)) continue;
        prev.set(v, u);
        if (v === b) {
          const out = [b];
          for (let w = u; w !== ""; w = prev.get(w) as string) out.unshift(w);
          return out;
        }
        queue.push(v);
      }
    }
    return null;
  };
  // strongly connected groups of folders (folders that reach each other)
  const groups: string[][] = [];
  const grouped = new Set<string>();
  for (const a of folders) {
    if (grouped.has(a)) continue;
    const group = folders.filter((f) => f === a || (path(a, f) !== null && path(f, a) !== null));
    for (const f of group) grouped.add(f);
    if (group.length > 1) groups.push(group);
  }
  const cycles: ImportEdge[][] = [];
  for (const group of groups) {
    // every pair importing each other directly, one import each way; else one shortest cycle of the group
    const pairs: ImportEdge[][] = [];
    for (const a of group) {
      for (const b of group) {
        const ab = example.get(`${a}→${b}`);
        const ba = example.get(`${b}→${a}`);
        if (a < b && ab !== undefined && ba !== undefined) pairs.push([ab, ba]);
      }
    }
    if (pairs.length > 0) {
      cycles.push(...pairs);
      continue;
    }
    const a = group[0] as string;
    let best: string[] | null = null;
    for (const b of [...(next.get(a) ?? [])].sort()) {
      const back = path(b, a);
      if (back !== null && (best === null || back.length + 1 < best.length)) best = [a, ...back];
    }
    const hops: ImportEdge[] = [];
    const cycle = best as string[];
    for (let i = 0; i + 1 < cycle.length; i++) hops.push(example.get(`${cycle[i]}→${cycle[i + 1]}`) as ImportEdge);
    cycles.push(hops);
  }
  return cycles;
}

/**
 * The problems of an import graph against a layer map (lowest layer first);
 * empty when it passes. Each problem is one paragraph naming the folders and
 * the import(s) at fault:
 *
 * - a folder cycle (with one import per hop, so one each way for two folders);
 * - an import into a folder of the same or a higher layer;
 * - a `lib/` folder missing from the map, or listed twice;
 * - a relative import that leaves `lib/`.
 *
 * `pending` (file → folder) counts each listed file as a file of the folder
 * it is due to move to (see {@link PENDING_MOVES}); the messages say so.
 */
export function checkLayers(
  edges: readonly ImportEdge[],
  layers: readonly (readonly string[])[],
  pending: Readonly<Record<string, string>> = {},
): string[] {
  const problems: string[] = [];
  const folderOf = (path: string): string | null => pending[path] ?? folderOfPath(path);
  const describe = (e: ImportEdge): string => {
    const moving = [e.from, e.to].filter((f) => pending[f] !== undefined).map((f) => `${f} counted in ${pending[f]}`);
    return `${e.from}:${e.line} imports ${e.to}` + (moving.length > 0 ? ` (pending move: ${moving.join(", ")})` : "");
  };
  const rank = new Map<string, number>();
  layers.forEach((layer, r) => {
    for (const f of layer) {
      if (rank.has(f)) problems.push(`layer map: folder "${f}" is listed twice (layers ${rank.get(f)} and ${r})`);
      rank.set(f, r);
    }
  });
  const layerText = layers.map((l) => l.join(", ")).join(" → ");
  for (const hops of folderCycles(edges, folderOf)) {
    const folders = hops.map((e) => folderOf(e.from));
    const name = folders.length === 2 ? folders.join(" ↔ ") : [...folders, folders[0]].join(" → ");
    problems.push(`folder cycle ${name}:\n` + hops.map((e) => `  ${describe(e)}`).join("\n"));
  }
  const unknown = new Map<string, ImportEdge>();
  const upward = new Map<string, ImportEdge>();
  for (const e of edges) {
    const a = folderOf(e.from);
    const b = folderOf(e.to);
    if (a === null) continue;
    if (b === null) {
      problems.push(`import leaves lib/: ${describe(e)} (lib/ may import only lib/ files and packages)`);
      continue;
    }
    for (const f of [a, b]) if (!rank.has(f) && !unknown.has(f)) unknown.set(f, e);
    if (a === b || !rank.has(a) || !rank.has(b)) continue;
    if ((rank.get(b) as number) >= (rank.get(a) as number) && !upward.has(`${a}→${b}`)) upward.set(`${a}→${b}`, e);
  }
  for (const [f, e] of unknown) {
    problems.push(`folder "${f}" is not in the layer map (${layerText}); first seen in: ${describe(e)}`);
  }
  for (const [key, e] of upward) {
    const [a, b] = key.split("→") as [string, string];
    const how = rank.get(a) === rank.get(b) ? "beside it (same layer)" : "above it";
    problems.push(
      `import points up the layer map: ${a} imports ${b}, which sits ${how} in ${layerText}:\n  ${describe(e)}`,
    );
  }
  return problems;
}

if (import.meta.main) {
  const root = dirname(dirname(fromFileUrl(import.meta.url)));
  const edges = await libImportGraph(root);
  const problems = checkLayers(edges, LAYERS, PENDING_MOVES);
  for (const file of Object.keys(PENDING_MOVES)) {
    try {
      await Deno.stat(join(root, file));
    } catch {
      problems.push(`PENDING_MOVES names ${file}, which no longer exists: remove it from the list`);
    }
  }
  if (problems.length > 0) {
    console.error(`check_layers: ${problems.length} problem(s) in the imports of lib/\n\n${problems.join("\n\n")}`);
    Deno.exit(1);
  }
  const files = new Set(edges.map((e) => e.from)).size;
  const pendingNote = Object.keys(PENDING_MOVES).length > 0
    ? `; ${Object.keys(PENDING_MOVES).length} file(s) counted in the folder they are due to move to (PENDING_MOVES)`
    : "";
  console.log(
    `check_layers: ${edges.length} imports in ${files} lib/ files, no folder cycles, all pointing down ` +
      `${LAYERS.map((l) => l.join(", ")).join(" → ")}${pendingNote}`,
  );
}
