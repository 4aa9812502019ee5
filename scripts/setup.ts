/**
 * `deno task setup`: installs what is missing and nothing else, so that `reproduce` and `test` can run.
 *
 * 1. npm dependencies into `node_modules/` (`deno install`), when a pinned package of `deno.json` is absent;
 * 2. Debian packages — Jupyter's headless runner (`jupyter-nbconvert`, `python3-nbclient`), `chromium` for static
 *    figure export, `libopenblas0-pthread` and `mesa-vulkan-drivers` (lavapipe, a software WebGPU adapter for the
 *    WebGPU parity tests on machines without a GPU) — through `apt-get` (as root, or with password-less `sudo`);
 * 3. the Deno Jupyter kernel (`deno jupyter --install`), when its kernelspec is missing or points at no usable deno.
 *
 * Run it with `--node-modules-dir=none` (as the tasks do) so that Deno does not fill `node_modules/` silently before
 * the script starts; the script itself needs no npm package.
 *
 * Idempotent; prints one line per thing it installs and a single `setup: ok` when all is present. When it cannot
 * install something (not root, no apt-get) it names the missing piece and the command that installs it, and exits 1.
 *
 * @module
 */

import { join } from "../lib/path.ts";
import { PROJECT_ROOT } from "../lib/env.ts";

/** Debian packages the project needs at run time. */
export const APT_PACKAGES: readonly string[] = [
  "jupyter-nbconvert",
  "python3-nbclient",
  "chromium",
  "libopenblas0-pthread",
  "mesa-vulkan-drivers",
];

/** Oldest Deno whose Jupyter kernel works under nbclient (execute_result without `transient` crashed it before). */
export const MIN_KERNEL_DENO: readonly [number, number, number] = [2, 8, 2];

/** Thrown when setup cannot finish; the message says what is missing and how to install it. */
export class SetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SetupError";
  }
}

/**
 * Parses a `X.Y.Z` version and tells whether it is at least `min`.
 *
 * @example
 * ```ts
 * import { versionAtLeast } from "./setup.ts";
 * versionAtLeast("2.9.6", [2, 8, 2]); // true
 * ```
 */
export function versionAtLeast(version: string, min: readonly [number, number, number]): boolean {
  const m = /(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (m === null) return false;
  const v = [Number(m[1]), Number(m[2]), Number(m[3])];
  for (let i = 0; i < 3; i++) {
    if (v[i]! !== min[i]!) return v[i]! > min[i]!;
  }
  return true;
}

/**
 * The `npm:` packages pinned in a `deno.json` text, as `{ name, version }`.
 *
 * @example
 * ```ts
 * import { npmImports } from "./setup.ts";
 * npmImports('{"imports":{"x":"npm:nodejs-polars@0.25.2"}}'); // [{ name: "nodejs-polars", version: "0.25.2" }]
 * ```
 */
export function npmImports(denoJson: string): { name: string; version: string }[] {
  const config = JSON.parse(denoJson) as { imports?: Record<string, string> };
  const out: { name: string; version: string }[] = [];
  for (const spec of Object.values(config.imports ?? {})) {
    const m = /^npm:(@?[^@]+)@([^/]+)/.exec(spec);
    if (m !== null) out.push({ name: m[1]!, version: m[2]! });
  }
  return out;
}

/**
 * Names of pinned npm packages missing from `nodeModules` (absent, or installed at another version).
 *
 * @example
 * ```ts
 * import { missingNpmPackages } from "./setup.ts";
 * await missingNpmPackages(await Deno.readTextFile("deno.json"), "node_modules"); // [] when installed
 * ```
 */
export async function missingNpmPackages(denoJson: string, nodeModules: string): Promise<string[]> {
  const missing: string[] = [];
  for (const { name, version } of npmImports(denoJson)) {
    try {
      const pkg = JSON.parse(await Deno.readTextFile(join(nodeModules, name, "package.json"))) as { version?: string };
      if (pkg.version !== version) missing.push(`${name}@${version}`);
    } catch {
      missing.push(`${name}@${version}`);
    }
  }
  return missing;
}

/**
 * Packages of `wanted` that `dpkg-query -W -f='${Package} ${Status}\n'` output does not show as installed.
 *
 * @example
 * ```ts
 * import { missingFromDpkg } from "./setup.ts";
 * missingFromDpkg("chromium install ok installed\n", ["chromium", "python3-nbclient"]); // ["python3-nbclient"]
 * ```
 */
export function missingFromDpkg(dpkgOutput: string, wanted: readonly string[]): string[] {
  const installed = new Set<string>();
  for (const line of dpkgOutput.split("\n")) {
    const m = /^(\S+?)(?::\S+)?\s+install ok installed\s*$/.exec(line.trim());
    if (m !== null) installed.add(m[1]!);
  }
  return wanted.filter((p) => !installed.has(p));
}

/** What the machine allows for installing Debian packages. */
export interface AptAbility {
  hasAptGet: boolean;
  isRoot: boolean;
  /** Password-less `sudo -n` works. */
  hasSudo: boolean;
}

/**
 * The command prefix that installs Debian packages here, or a {@link SetupError} naming the packages and the command
 * a person should run.
 *
 * @example
 * ```ts
 * import { aptPlan } from "./setup.ts";
 * aptPlan(["chromium"], { hasAptGet: true, isRoot: true, hasSudo: false }); // { prefix: [] }
 * ```
 */
export function aptPlan(missing: readonly string[], ability: AptAbility): { prefix: string[] } {
  const command = `apt-get update && apt-get install -y ${missing.join(" ")}`;
  if (!ability.hasAptGet) {
    throw new SetupError(
      `missing Debian packages: ${missing.join(", ")}; this machine has no apt-get. ` +
        `Install their equivalents (Jupyter with nbclient, Chromium, OpenBLAS, Mesa's Vulkan drivers), or on ` +
        `Debian/Ubuntu run: ${command}`,
    );
  }
  if (ability.isRoot) return { prefix: [] };
  if (ability.hasSudo) return { prefix: ["sudo", "-n"] };
  throw new SetupError(
    `missing Debian packages: ${missing.join(", ")}; installing them needs root. Run: sudo sh -c '${command}'`,
  );
}

/**
 * Why a Deno kernelspec cannot be used, or `undefined` when it can: missing, unreadable, or `argv[0]` not an
 * executable file.
 *
 * @example
 * ```ts
 * import { kernelSpecProblem } from "./setup.ts";
 * kernelSpecProblem(undefined, () => true); // "no Deno kernelspec is installed"
 * ```
 */
export function kernelSpecProblem(kernelJson: string | undefined, isExecutable: (path: string) => boolean) {
  if (kernelJson === undefined) return "no Deno kernelspec is installed";
  let argv: unknown;
  try {
    argv = (JSON.parse(kernelJson) as { argv?: unknown }).argv;
  } catch {
    return "the Deno kernelspec is not valid JSON";
  }
  if (!Array.isArray(argv) || typeof argv[0] !== "string") return "the Deno kernelspec has no argv";
  if (!isExecutable(argv[0])) return `the Deno kernelspec points at ${argv[0]}, which is not an executable file`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Side effects

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  try {
    const out = await new Deno.Command(cmd, { args, env, cwd: PROJECT_ROOT, stdin: "null" }).output();
    const d = new TextDecoder();
    return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { code: 127, stdout: "", stderr: `${cmd}: not found` };
    throw e;
  }
}

function tail(text: string, lines = 15): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

function isExecutable(path: string): boolean {
  try {
    const st = Deno.statSync(path);
    return st.isFile && st.mode !== null && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

function say(line: string): void {
  console.log(`setup: ${line}`);
}

async function ensureNpm(): Promise<boolean> {
  const denoJson = await Deno.readTextFile(join(PROJECT_ROOT, "deno.json"));
  const missing = await missingNpmPackages(denoJson, join(PROJECT_ROOT, "node_modules"));
  if (missing.length === 0) return false;
  const what = missing.length > 3
    ? `${missing.length} pinned packages, ${missing.slice(0, 2).join(", ")}, …`
    : missing.join(", ");
  say(`installing npm packages into node_modules/ (deno install): ${what}`);
  const r = await run(Deno.execPath(), ["install"]);
  if (r.code !== 0) throw new SetupError(`deno install failed (exit ${r.code}):\n${tail(r.stderr)}`);
  const still = await missingNpmPackages(denoJson, join(PROJECT_ROOT, "node_modules"));
  if (still.length > 0) throw new SetupError(`deno install finished but these are still missing: ${still.join(", ")}`);
  return true;
}

async function ensureApt(): Promise<boolean> {
  const q = await run("dpkg-query", ["-W", "-f=${Package} ${Status}\\n", ...APT_PACKAGES]);
  if (q.code === 127) {
    aptPlan(APT_PACKAGES, { hasAptGet: false, isRoot: false, hasSudo: false }); // throws with the message
  }
  const missing = missingFromDpkg(q.stdout, APT_PACKAGES);
  if (missing.length === 0) return false;
  const hasAptGet = isExecutable("/usr/bin/apt-get");
  const isRoot = Deno.uid() === 0;
  const hasSudo = !isRoot && (await run("sudo", ["-n", "true"])).code === 0;
  const { prefix } = aptPlan(missing, { hasAptGet, isRoot, hasSudo });
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const [cmd, ...pre] = prefix.length > 0 ? prefix : ["apt-get"];
  const args = (rest: string[]) => (prefix.length > 0 ? [...pre, "apt-get", ...rest] : rest);
  say(`installing Debian packages (apt-get): ${missing.join(", ")}`);
  const update = await run(cmd!, args(["update", "-q"]), env);
  if (update.code !== 0) throw new SetupError(`apt-get update failed (exit ${update.code}):\n${tail(update.stderr)}`);
  const install = await run(cmd!, args(["install", "-y", "-q", ...missing]), env);
  if (install.code !== 0) {
    throw new SetupError(
      `apt-get install ${missing.join(" ")} failed (exit ${install.code}):\n${tail(install.stderr || install.stdout)}`,
    );
  }
  const after = await run("dpkg-query", ["-W", "-f=${Package} ${Status}\\n", ...APT_PACKAGES]);
  const still = missingFromDpkg(after.stdout, APT_PACKAGES);
  if (still.length > 0) throw new SetupError(`apt-get finished but these are still missing: ${still.join(", ")}`);
  return true;
}

/** Python one-liner printing `{name: resource_dir}` of the installed kernelspecs, as nbclient will find them. */
export const FIND_KERNELSPECS_PY =
  "import json; from jupyter_client.kernelspec import KernelSpecManager; print(json.dumps(KernelSpecManager().find_kernel_specs()))";

async function denoKernelDir(): Promise<string> {
  const r = await run("/usr/bin/python3", ["-c", FIND_KERNELSPECS_PY]);
  if (r.code === 0) {
    try {
      const dir = (JSON.parse(r.stdout) as Record<string, string>)["deno"];
      if (dir !== undefined) return dir;
    } catch {
      // fall through to the default location
    }
  }
  const dataHome = Deno.env.get("XDG_DATA_HOME") || join(Deno.env.get("HOME") ?? "/root", ".local", "share");
  return join(dataHome, "jupyter", "kernels", "deno");
}

async function ensureKernel(): Promise<boolean> {
  const dir = await denoKernelDir();
  let text: string | undefined;
  try {
    text = await Deno.readTextFile(join(dir, "kernel.json"));
  } catch {
    text = undefined;
  }
  let problem = kernelSpecProblem(text, isExecutable);
  if (problem === undefined && text !== undefined) {
    const exe = (JSON.parse(text) as { argv: string[] }).argv[0]!;
    const v = await run(exe, ["--version"]);
    const version = /deno (\S+)/.exec(v.stdout)?.[1] ?? "unknown";
    if (!versionAtLeast(version, MIN_KERNEL_DENO)) {
      problem = `the Deno kernelspec runs deno ${version} (${exe}); headless runs need ${MIN_KERNEL_DENO.join(".")}+`;
    }
  }
  if (problem === undefined) return false;
  say(`installing the Deno Jupyter kernel (deno jupyter --install): ${problem}`);
  const r = await run(Deno.execPath(), ["jupyter", "--install", "--force"]);
  if (r.code !== 0) throw new SetupError(`deno jupyter --install failed (exit ${r.code}):\n${tail(r.stderr)}`);
  let after: string | undefined;
  try {
    after = await Deno.readTextFile(join(await denoKernelDir(), "kernel.json"));
  } catch {
    after = undefined;
  }
  const still = kernelSpecProblem(after, isExecutable);
  if (still !== undefined) throw new SetupError(`deno jupyter --install ran, but ${still}`);
  return true;
}

/**
 * Runs every check and installs what is missing. Returns the number of things installed.
 *
 * @example
 * ```ts
 * import { setup } from "./setup.ts";
 * const installed = await setup();
 * ```
 */
export async function setup(): Promise<number> {
  if (!versionAtLeast(Deno.version.deno, MIN_KERNEL_DENO)) {
    throw new SetupError(
      `Deno ${Deno.version.deno} is too old for headless notebooks (needs ${MIN_KERNEL_DENO.join(".")}+); ` +
        "run the tasks through: npx -y deno@2.9.6 task <name>",
    );
  }
  let installed = 0;
  if (await ensureNpm()) installed++;
  if (await ensureApt()) installed++;
  if (await ensureKernel()) installed++;
  return installed;
}

if (import.meta.main) {
  try {
    const installed = await setup();
    say(installed === 0 ? "ok" : `ok (${installed} step${installed === 1 ? "" : "s"} installed)`);
  } catch (e) {
    console.error(`setup: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
}
