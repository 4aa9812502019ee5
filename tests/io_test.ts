import {
  isTempFileName,
  JsonValueError,
  removeTempFiles,
  toJsonText,
  writeFileAtomic,
  writeFileAtomicSync,
  writeJsonAtomic,
} from "../lib/io/atomic.ts";
import {
  buildManifest,
  ManifestError,
  readManifest,
  sha256Bytes,
  sha256Chunks,
  sha256File,
  verifyManifest,
  writeManifest,
} from "../lib/io/manifest.ts";
import {
  CheckpointError,
  listCheckpoints,
  loadCheckpoint,
  loadLatestCheckpoint,
  saveCheckpoint,
} from "../lib/io/checkpoint.ts";
import * as io from "../lib/io/mod.ts";
import { Rng } from "../lib/engine/rng.ts";

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

async function rejects<E extends Error>(
  fn: () => Promise<unknown>,
  cls: new (...a: never[]) => E,
  ...phrases: string[]
) {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof cls)) throw new Error(`expected ${cls.name}, got ${e}`);
    for (const p of phrases) {
      assert(e.message.includes(p), `${JSON.stringify(e.message)} mentions ${JSON.stringify(p)}`);
    }
    return e;
  }
  throw new Error(`expected ${cls.name} mentioning ${phrases.join(", ")}`);
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "io_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

// ---------------------------------------------------------------- atomic writes

Deno.test("writeFileAtomic writes text, bytes and chunks, creates folders and leaves no temp file", async () => {
  await withTempDir(async (dir) => {
    await writeFileAtomic(`${dir}/a/b/text.txt`, "héllo\n");
    assert((await Deno.readTextFile(`${dir}/a/b/text.txt`)) === "héllo\n", "text written");
    await writeFileAtomic(`${dir}/a/b/bytes.bin`, new Uint8Array([1, 2, 3]));
    await writeFileAtomic(`${dir}/a/b/chunks.bin`, [new Uint8Array([4]), new Uint8Array(0), new Uint8Array([5, 6])]);
    assert((await Deno.readFile(`${dir}/a/b/chunks.bin`)).join() === "4,5,6", "chunks concatenated");
    await writeFileAtomic(`${dir}/a/b/text.txt`, "replaced");
    assert((await Deno.readTextFile(`${dir}/a/b/text.txt`)) === "replaced", "existing file replaced");
    writeFileAtomicSync(`${dir}/c/sync.txt`, "sync");
    assert((await Deno.readTextFile(`${dir}/c/sync.txt`)) === "sync", "sync variant writes");
    assert(names(`${dir}/a/b`).join() === "bytes.bin,chunks.bin,text.txt", `no temp files: ${names(`${dir}/a/b`)}`);
  });
});

Deno.test("writeFileAtomic that fails keeps the old target and removes its temp file", async () => {
  await withTempDir(async (dir) => {
    // the target is a non-empty folder, so the final rename fails
    await Deno.mkdir(`${dir}/target/inner`, { recursive: true });
    let failed = false;
    try {
      await writeFileAtomic(`${dir}/target`, "data");
    } catch {
      failed = true;
    }
    assert(failed, "rename over a folder fails");
    assert(names(dir).join() === "target", `temp file removed: ${names(dir)}`);
    assert(Deno.statSync(`${dir}/target/inner`).isDirectory, "old target untouched");
  });
});

Deno.test("writeJsonAtomic rejects NaN and Infinity naming the JSON path, and writes nothing", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/state.json`;
    await writeJsonAtomic(path, { ok: true });
    await rejects(() => writeJsonAtomic(path, { a: { b: [1, NaN] } }), JsonValueError, "$.a.b[1]", "NaN", path);
    await rejects(() => writeJsonAtomic(path, { "lr sched": { end: -Infinity } }), JsonValueError, '$["lr sched"].end');
    await rejects(() => writeJsonAtomic(path, { step: 3n }), JsonValueError, "$.step", "bigint");
    await rejects(() => writeJsonAtomic(path, { w: new Float32Array(2) }), JsonValueError, "$.w", "Float32Array");
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await rejects(() => writeJsonAtomic(path, cyclic), JsonValueError, "$.self", "circular");
    assert(JSON.parse(await Deno.readTextFile(path)).ok === true, "previous content kept");
    assert(names(dir).join() === "state.json", "nothing else written");
    assert(toJsonText({ when: new Date(0), x: [1, 2] }).includes('"1970-01-01T00:00:00.000Z"'), "toJSON honoured");
  });
});

Deno.test("removeTempFiles clears only leftovers of atomic writes", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/.model.safetensors.tmp-12-3-0a1b2c3d`, "partial");
    await Deno.writeTextFile(`${dir}/.hidden`, "keep");
    await Deno.writeTextFile(`${dir}/model.safetensors`, "keep");
    assert(isTempFileName(".model.safetensors.tmp-12-3-0a1b2c3d") && !isTempFileName(".hidden"), "temp names");
    const removed = await removeTempFiles(dir);
    assert(removed.join() === ".model.safetensors.tmp-12-3-0a1b2c3d", `removed ${removed}`);
    assert(names(dir).join() === ".hidden,model.safetensors", `kept ${names(dir)}`);
    assert((await removeTempFiles(`${dir}/missing`)).length === 0, "a missing folder has no temp files");
  });
});

// ---------------------------------------------------------------- manifests

async function subtleHex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("sha256 of bytes, chunks and files matches known digests and WebCrypto", async () => {
  const enc = new TextEncoder();
  const abc = sha256Bytes(enc.encode("abc"));
  assert(abc === "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", `sha256("abc") = ${abc}`);
  assert(sha256Chunks([enc.encode("a"), new Uint8Array(0), enc.encode("bc")]) === abc, "chunks hash as concatenated");
  await withTempDir(async (dir) => {
    const rng = new Rng(5, "io/sha256");
    const big = new Uint8Array(9 * 1024 * 1024 + 123); // more than one 8 MiB read chunk
    for (let i = 0; i < big.length; i += 4096) big[i] = rng.int(256);
    await Deno.writeFile(`${dir}/big.bin`, big);
    const file = await sha256File(`${dir}/big.bin`);
    assert(file.bytes === big.length, "size");
    assert(file.sha256 === (await subtleHex(big)), "streamed file digest equals WebCrypto's digest of the bytes");
    await Deno.writeFile(`${dir}/empty.bin`, new Uint8Array(0));
    const empty = await sha256File(`${dir}/empty.bin`);
    assert(empty.sha256 === "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "empty file digest");
  });
});

Deno.test("manifest verification names the file whose hash or size is wrong, or that is missing", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/lm`);
    await Deno.writeTextFile(`${dir}/lm/config.json`, '{"n_layer": 2}');
    await Deno.writeFile(`${dir}/lm/model.safetensors`, new Uint8Array([1, 2, 3, 4]));
    const m = await writeManifest(`${dir}/manifest.json`, ["lm/model.safetensors", "lm/config.json"], {
      seed: 0,
      steps: 10,
    });
    assert(Object.keys(m.files).join() === "lm/config.json,lm/model.safetensors", "sorted file keys");
    const read = await readManifest(`${dir}/manifest.json`);
    assert(read.seed === 0 && read.steps === 10 && read.files["lm/model.safetensors"]?.bytes === 4, "extra kept");
    await verifyManifest(`${dir}/manifest.json`);

    await Deno.writeFile(`${dir}/lm/model.safetensors`, new Uint8Array([1, 2, 3, 5])); // same size, new content
    const e = await rejects(
      () => verifyManifest(`${dir}/manifest.json`),
      ManifestError,
      "lm/model.safetensors",
      "sha256",
    );
    assert(e.file === "lm/model.safetensors", "error carries the file");
    await verifyManifest(`${dir}/manifest.json`, ["lm/config.json"]); // a subset still verifies

    await Deno.writeFile(`${dir}/lm/model.safetensors`, new Uint8Array([1, 2, 3]));
    await rejects(
      () => verifyManifest(`${dir}/manifest.json`),
      ManifestError,
      "lm/model.safetensors",
      "size is 3 bytes",
      "says 4",
    );
    await Deno.remove(`${dir}/lm/model.safetensors`);
    await rejects(() => verifyManifest(`${dir}/manifest.json`), ManifestError, "lm/model.safetensors", "missing");
    await rejects(
      () => verifyManifest(`${dir}/manifest.json`, ["lm/other.bin"]),
      ManifestError,
      "lm/other.bin",
      "not listed",
    );
  });
});

Deno.test("manifest building and reading reject bad paths and malformed entries", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.txt`, "a");
    await rejects(() => buildManifest(["../a.txt"], {}, dir), ManifestError, "relative paths");
    await rejects(() => buildManifest(["/etc/hostname"], {}, dir), ManifestError, "relative paths");
    await rejects(() => buildManifest(["b.txt"], {}, dir), ManifestError, "b.txt", "not found");
    await rejects(() => buildManifest(["a.txt"], { files: 1 }, dir), ManifestError, "reserved");
    await Deno.writeTextFile(`${dir}/m1.json`, '{"files": {"a.txt": {"sha256": "xyz", "bytes": 1}}}');
    await rejects(() => readManifest(`${dir}/m1.json`), ManifestError, "m1.json", "sha256 must be 64");
    await Deno.writeTextFile(`${dir}/m2.json`, `{"files": {"a.txt": {"sha256": "${"0".repeat(64)}", "bytes": -1}}}`);
    await rejects(() => readManifest(`${dir}/m2.json`), ManifestError, "bytes must be a non-negative integer");
    await Deno.writeTextFile(`${dir}/m3.json`, "{not json");
    await rejects(() => readManifest(`${dir}/m3.json`), ManifestError, "not valid JSON");
    await rejects(() => readManifest(`${dir}/none.json`), ManifestError, "not found");
  });
});

// ---------------------------------------------------------------- checkpoints

function params(step: number, n = 6) {
  const w = new Float32Array(n).map((_, i) => step * 10 + i);
  return {
    W: { shape: [2, n / 2], data: w },
    count: { dtype: "I64" as const, shape: [1], data: new BigInt64Array([BigInt(step)]) },
  };
}

async function expectLatest(dir: string, step: number): Promise<void> {
  const c = await loadLatestCheckpoint<{ step: number }>(dir);
  assert(c !== null, "a checkpoint loads");
  assert(c.step === step && c.state.step === step, `latest is step ${step}, got ${c.step}`);
  const w = c.tensors.get("W")?.data as Float32Array;
  assert(w[0] === step * 10 && c.tensors.get("count")?.data[0] === BigInt(step), "tensors of that step");
}

Deno.test("checkpoint save and load round-trip tensors, state and step; none gives null", async () => {
  await withTempDir(async (dir) => {
    assert((await loadLatestCheckpoint(`${dir}/run`)) === null, "no folder → null");
    await Deno.mkdir(`${dir}/run`);
    assert((await loadLatestCheckpoint(`${dir}/run`)) === null, "empty folder → null");
    const saved = await saveCheckpoint(`${dir}/run`, {
      step: 7,
      tensors: params(7),
      state: { step: 7, lr: 1e-3, seen: [1, 2] },
    });
    assert(saved.tensorsPath.endsWith("ckpt-0000000007.safetensors"), saved.tensorsPath);
    const c = await loadLatestCheckpoint<{ step: number; lr: number; seen: number[] }>(`${dir}/run`);
    assert(c && c.step === 7 && c.state.lr === 1e-3 && c.state.seen.join() === "1,2", "state back");
    assert(c.tensors.get("W")?.shape.join() === "2,3", "shape back");
    assert(names(`${dir}/run`).join() === "ckpt-0000000007.json,ckpt-0000000007.safetensors,ckpt-latest.json", "files");
    assert(io.saveCheckpoint === saveCheckpoint && io.parseSafetensors !== undefined, "barrel re-exports");
  });
});

Deno.test("checkpoint saving keeps the newest N and prefixes keep runs apart", async () => {
  await withTempDir(async (dir) => {
    for (const step of [10, 20, 30, 40]) {
      await saveCheckpoint(dir, { step, tensors: params(step), state: { step } });
    }
    assert((await listCheckpoints(dir)).join() === "30,40", `default keeps 2: ${await listCheckpoints(dir)}`);
    for (const step of [1, 2, 3, 4, 5]) {
      await saveCheckpoint(dir, { step, tensors: params(step), state: { step } }, { prefix: "sae-L0", keepLast: 3 });
    }
    assert((await listCheckpoints(dir, { prefix: "sae-L0" })).join() === "3,4,5", "keepLast 3");
    assert((await listCheckpoints(dir)).join() === "30,40", "other prefix untouched");
    await expectLatest(dir, 40);
    const l0 = await loadLatestCheckpoint<{ step: number }>(dir, { prefix: "sae-L0" });
    assert(l0?.step === 5, "prefixed latest");
  });
});

Deno.test("checkpoint: an interrupted write leaves the previous checkpoint loadable", async () => {
  await withTempDir(async (dir) => {
    await saveCheckpoint(dir, { step: 100, tensors: params(100), state: { step: 100 } });
    // crash while writing step 200's tensors: a partial temp file
    const full = io.serializeSafetensors(params(200));
    await Deno.writeFile(`${dir}/.ckpt-0000000200.safetensors.tmp-999-1-deadbeef`, full.subarray(0, 40));
    await expectLatest(dir, 100);
    // crash after the tensors landed but before the record: an orphan tensors file
    await Deno.writeFile(`${dir}/ckpt-0000000200.safetensors`, full);
    await expectLatest(dir, 100);
    // crash after the record but before the pointer moved: the pointer still decides
    await Deno.writeTextFile(`${dir}/ckpt-0000000200.json`, "{}");
    await expectLatest(dir, 100);
    // resuming writes step 200 again; leftovers are replaced or cleaned
    const saved = await saveCheckpoint(dir, { step: 200, tensors: params(200), state: { step: 200 } });
    await expectLatest(dir, 200);
    assert(saved.pruned.length === 0, "both kept");
    assert(!names(dir).some(isTempFileName), `temp files cleaned: ${names(dir)}`);
  });
});

Deno.test("checkpoint without a pointer loads the newest record", async () => {
  await withTempDir(async (dir) => {
    await saveCheckpoint(dir, { step: 1, tensors: params(1), state: { step: 1 } }, { keepLast: 5 });
    await saveCheckpoint(dir, { step: 2, tensors: params(2), state: { step: 2 } }, { keepLast: 5 });
    await Deno.remove(`${dir}/ckpt-latest.json`);
    await expectLatest(dir, 2);
  });
});

Deno.test("checkpoint loading names a corrupted or missing tensors file instead of loading it", async () => {
  await withTempDir(async (dir) => {
    const saved = await saveCheckpoint(dir, { step: 3, tensors: params(3), state: { step: 3 } });
    const bytes = await Deno.readFile(saved.tensorsPath);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
    await Deno.writeFile(saved.tensorsPath, bytes);
    await rejects(() => loadLatestCheckpoint(dir), CheckpointError, "ckpt-0000000003.safetensors", "sha256");
    await Deno.writeFile(saved.tensorsPath, bytes.subarray(1));
    await rejects(() => loadCheckpoint(saved.recordPath), CheckpointError, "ckpt-0000000003.safetensors", "bytes");
    await Deno.remove(saved.tensorsPath);
    await rejects(() => loadLatestCheckpoint(dir), CheckpointError, "ckpt-0000000003.safetensors", "missing");
    await Deno.writeTextFile(`${dir}/ckpt-latest.json`, '{"record": "../../etc/passwd"}');
    await rejects(() => loadLatestCheckpoint(dir), CheckpointError, "ckpt-latest.json", "not a checkpoint pointer");
  });
});

Deno.test("checkpoint with NaN in its state is refused before anything is written", async () => {
  await withTempDir(async (dir) => {
    await saveCheckpoint(dir, { step: 1, tensors: params(1), state: { step: 1, loss: 0.5 } });
    const before = names(dir);
    await rejects(
      () => saveCheckpoint(dir, { step: 2, tensors: params(2), state: { step: 2, loss: NaN } }),
      JsonValueError,
      "$.loss",
    );
    assert(names(dir).join() === before.join(), "no new files");
    await expectLatest(dir, 1);
  });
});

Deno.test("checkpoint resumed from an earlier step drops the abandoned later ones", async () => {
  await withTempDir(async (dir) => {
    for (const step of [10, 20, 30]) await saveCheckpoint(dir, { step, tensors: params(step), state: { step } });
    await saveCheckpoint(dir, { step: 25, tensors: params(25), state: { step: 25 } });
    assert((await listCheckpoints(dir)).join() === "20,25", `kept ${await listCheckpoints(dir)}`);
    await expectLatest(dir, 25);
  });
});

Deno.test("checkpoint survives a writer process killed at random moments", async () => {
  await withTempDir(async (dir) => {
    const lib = new URL("../lib/io/checkpoint.ts", import.meta.url).href;
    // the child resumes from the latest checkpoint and saves 2 MB checkpoints in a loop until it is killed
    const child = `
      import { loadLatestCheckpoint, saveCheckpoint } from "${lib}";
      const n = 1 << 19;
      const last = await loadLatestCheckpoint(${JSON.stringify(dir)});
      for (let step = (last?.step ?? 0) + 1; ; step++) {
        const w = new Float32Array(n).map((_, i) => step * 10 + (i % 7));
        await saveCheckpoint(${
      JSON.stringify(dir)
    }, { step, tensors: { W: { shape: [n], data: w } }, state: { step } });
      }`;
    const rng = new Rng(9, "io/kill");
    for (let round = 0; round < 3; round++) {
      const proc = new Deno.Command(Deno.execPath(), { args: ["eval", child], stdout: "null", stderr: "null" }).spawn();
      const target = (await listCheckpoints(dir)).at(-1) ?? 0;
      const deadline = Date.now() + 60_000;
      while ((await listCheckpoints(dir)).every((s) => s <= target + 1) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5));
      }
      await new Promise((r) => setTimeout(r, rng.int(40)));
      proc.kill("SIGKILL");
      await proc.status;
      const c = await loadLatestCheckpoint<{ step: number }>(dir);
      assert(c !== null, "a checkpoint survives");
      const w = c.tensors.get("W")?.data as Float32Array;
      assert(c.state.step === c.step && w.length === 1 << 19, "complete checkpoint");
      for (let i = 0; i < w.length; i += 997) assert(w[i] === c.step * 10 + (i % 7), `tensor of step ${c.step} intact`);
    }
  });
});
