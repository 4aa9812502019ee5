import {
  aptPlan,
  kernelSpecProblem,
  missingFromDpkg,
  missingNpmPackages,
  npmImports,
  SetupError,
  versionAtLeast,
} from "../scripts/setup.ts";
import { join } from "../lib/path.ts";
import { assert, assertEquals, errorOf } from "./helpers.ts";

Deno.test("setup compares Deno versions numerically", () => {
  assert(versionAtLeast("2.9.6", [2, 8, 2]), "2.9.6 ≥ 2.8.2");
  assert(versionAtLeast("2.8.2", [2, 8, 2]), "equal is enough");
  assert(versionAtLeast("2.10.0", [2, 8, 2]), "2.10 > 2.8 (not string order)");
  assert(!versionAtLeast("2.8.1", [2, 8, 2]), "2.8.1 is too old");
  assert(!versionAtLeast("1.46.3", [2, 8, 2]), "1.x is too old");
  assert(!versionAtLeast("unknown", [2, 8, 2]), "unparseable is not enough");
});

Deno.test("setup reads the pinned npm packages of deno.json, scoped names included", () => {
  const json = JSON.stringify({
    imports: {
      "@tensorflow/tfjs": "npm:@tensorflow/tfjs@4.22.0",
      "gpt-tokenizer": "npm:gpt-tokenizer@3.4.0",
      "local": "./lib/mod.ts",
    },
  });
  assertEquals(npmImports(json), [
    { name: "@tensorflow/tfjs", version: "4.22.0" },
    { name: "gpt-tokenizer", version: "3.4.0" },
  ]);
});

Deno.test("setup finds npm packages that are absent or at another version", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "@s", "a"), { recursive: true });
    await Deno.writeTextFile(join(dir, "@s", "a", "package.json"), '{"version":"1.0.0"}');
    await Deno.mkdir(join(dir, "b"));
    await Deno.writeTextFile(join(dir, "b", "package.json"), '{"version":"0.9.0"}');
    const json = JSON.stringify({ imports: { a: "npm:@s/a@1.0.0", b: "npm:b@1.0.0", c: "npm:c@2.0.0" } });
    assertEquals(await missingNpmPackages(json, dir), ["b@1.0.0", "c@2.0.0"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("setup treats only 'install ok installed' dpkg entries as present", () => {
  const out = [
    "chromium install ok installed",
    "python3-nbclient deinstall ok config-files",
    "libopenblas0-pthread:amd64 install ok installed",
    "",
  ].join("\n");
  const wanted = ["chromium", "python3-nbclient", "libopenblas0-pthread", "jupyter-nbconvert"];
  assertEquals(missingFromDpkg(out, wanted), ["python3-nbclient", "jupyter-nbconvert"]);
});

Deno.test("setup installs Debian packages as root, through sudo -n, or explains what to run", () => {
  assertEquals(aptPlan(["chromium"], { hasAptGet: true, isRoot: true, hasSudo: false }), { prefix: [] });
  assertEquals(aptPlan(["chromium"], { hasAptGet: true, isRoot: false, hasSudo: true }), { prefix: ["sudo", "-n"] });
  const notRoot = errorOf(() =>
    aptPlan(["chromium", "python3-nbclient"], { hasAptGet: true, isRoot: false, hasSudo: false })
  );
  assert(notRoot instanceof SetupError, "a SetupError");
  for (const s of ["chromium, python3-nbclient", "root", "apt-get install -y chromium python3-nbclient"]) {
    assert(notRoot.message.includes(s), `"${notRoot.message}" should mention ${s}`);
  }
  const noApt = errorOf(() => aptPlan(["chromium"], { hasAptGet: false, isRoot: true, hasSudo: false }));
  for (const s of ["chromium", "no apt-get", "apt-get install -y chromium"]) {
    assert(noApt.message.includes(s), `"${noApt.message}" should mention ${s}`);
  }
});

Deno.test("setup reinstalls the kernel when its spec is missing, broken or points at no executable", () => {
  const ok = JSON.stringify({ argv: ["/x/deno", "jupyter", "--kernel", "--conn", "{connection_file}"] });
  assertEquals(kernelSpecProblem(ok, (p) => p === "/x/deno"), undefined);
  assertEquals(kernelSpecProblem(undefined, () => true), "no Deno kernelspec is installed");
  assert(kernelSpecProblem("{not json", () => true)!.includes("not valid JSON"), "bad JSON");
  assert(kernelSpecProblem('{"argv": []}', () => true)!.includes("no argv"), "empty argv");
  assert(kernelSpecProblem(ok, () => false)!.includes("/x/deno"), "names the missing executable");
});
