import {
  bigIntsToNumbers,
  type Dtype,
  DTYPE_NAMES,
  dtypeSize,
  fromFloat32,
  MAX_HEADER_BYTES,
  parseSafetensors,
  readFileBytes,
  readSafetensors,
  type SafeTensor,
  SafetensorsError,
  serializeSafetensors,
  type TensorData,
  type TensorInput,
  toFloat32,
  writeSafetensors,
} from "../lib/io/safetensors.ts";
import { sha256Bytes } from "../lib/io/manifest.ts";
import { Rng } from "../lib/engine/rng.ts";
import { fromFileUrl } from "../lib/path.ts";

const FIXTURE_DIR = fromFileUrl(new URL("./fixtures/safetensors/", import.meta.url));

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

function rawBytes(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A file with `header` as its JSON text (unpadded) followed by `data` (or that many zero bytes). */
function fileFrom(header: string, data: Uint8Array | number = 0): Uint8Array {
  const h = new TextEncoder().encode(header);
  const d = typeof data === "number" ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

function expectRejected(bytes: Uint8Array, ...phrases: string[]): SafetensorsError {
  const source = "case.safetensors";
  try {
    parseSafetensors(bytes, source);
  } catch (e) {
    if (!(e instanceof SafetensorsError)) throw new Error(`expected a SafetensorsError, got ${e}`);
    assert(e.message.startsWith(`${source}: `), `message names the source: ${e.message}`);
    for (const p of phrases) {
      assert(e.message.includes(p), `message ${JSON.stringify(e.message)} mentions ${JSON.stringify(p)}`);
    }
    return e;
  }
  throw new Error(`expected the file to be rejected (${phrases.join(", ")})`);
}

function randomData(dtype: Dtype, n: number, rng: Rng): TensorData {
  const bytes = new Uint8Array(n * dtypeSize(dtype));
  for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(256);
  if (dtype === "BOOL") { for (let i = 0; i < n; i++) bytes[i] = rng.int(2); }
  const ctor = {
    BOOL: Uint8Array,
    U8: Uint8Array,
    I8: Int8Array,
    F8_E5M2: Uint8Array,
    F8_E4M3: Uint8Array,
    I16: Int16Array,
    U16: Uint16Array,
    F16: Uint16Array,
    BF16: Uint16Array,
    I32: Int32Array,
    U32: Uint32Array,
    F32: Float32Array,
    F64: Float64Array,
    I64: BigInt64Array,
    U64: BigUint64Array,
  }[dtype];
  return new ctor(bytes.buffer, 0, n);
}

const ENTRY = (dtype: string, shape: string, offsets: string) =>
  `{"dtype":${dtype},"shape":${shape},"data_offsets":${offsets}}`;

// ---------------------------------------------------------------- round trips

Deno.test("safetensors round-trips every dtype with shape, bytes and metadata kept", () => {
  const rng = new Rng(7, "safetensors/roundtrip");
  const input: Record<string, TensorInput> = {};
  const shapes = [[3, 5], [7], [], [2, 0, 4], [2, 3, 2]];
  for (const dtype of DTYPE_NAMES) {
    shapes.forEach((shape, i) => {
      const n = shape.reduce((a, b) => a * b, 1);
      input[`${dtype.toLowerCase()}.${i}`] = { dtype, shape, data: randomData(dtype, n, rng) };
    });
  }
  const metadata = { format: "pt", step: "12", "ünïcode ✓": 'välue\n"quoted"', "": "empty key" };
  const bytes = serializeSafetensors(input, metadata);
  const parsed = parseSafetensors(bytes, "roundtrip");
  assert(parsed.tensors.size === Object.keys(input).length, "all tensors back");
  for (const [name, t] of Object.entries(input)) {
    const got = parsed.tensors.get(name);
    assert(got, `tensor ${name} present`);
    assert(got.dtype === t.dtype, `${name} dtype ${got.dtype}`);
    assert(JSON.stringify(got.shape) === JSON.stringify(t.shape), `${name} shape ${got.shape}`);
    assert(got.data.constructor === t.data.constructor, `${name} array type ${got.data.constructor.name}`);
    assert(bytesEqual(rawBytes(got.data), rawBytes(t.data)), `${name} bytes equal`);
  }
  assert(
    JSON.stringify(parsed.metadata) === JSON.stringify(Object.fromEntries(
      Object.entries(metadata).sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    )),
    `metadata kept: ${JSON.stringify(parsed.metadata)}`,
  );
});

Deno.test("safetensors without metadata parses to null metadata and an empty file is valid", () => {
  const a = parseSafetensors(serializeSafetensors({ x: { shape: [1], data: new Float32Array([1]) } }), "a");
  assert(a.metadata === null, "no metadata → null");
  const empty = parseSafetensors(serializeSafetensors({}), "empty");
  assert(empty.tensors.size === 0 && empty.metadata === null, "zero tensors");
  const emptyMeta = parseSafetensors(serializeSafetensors({}, {}), "empty-meta");
  assert(emptyMeta.metadata !== null && Object.keys(emptyMeta.metadata).length === 0, "empty metadata kept");
});

Deno.test("safetensors writer output is deterministic, padded and aligned", () => {
  const rng = new Rng(1, "safetensors/determinism");
  const entries: [string, TensorInput][] = [
    ["z", { dtype: "U8", shape: [3], data: randomData("U8", 3, rng) }],
    ["a", { dtype: "F16", shape: [5], data: randomData("F16", 5, rng) }],
    ["m", { shape: [2, 3], data: randomData("F32", 6, rng) }],
    ["b", { shape: [3], data: randomData("F64", 3, rng) }],
    ["t", { dtype: "I64", shape: [1], data: randomData("I64", 1, rng) }],
  ];
  const one = serializeSafetensors(Object.fromEntries(entries), { b: "2", a: "1" });
  const two = serializeSafetensors(new Map([...entries].reverse()), { a: "1", b: "2" });
  assert(bytesEqual(one, two), "insertion order does not change the bytes");
  const n = Number(new DataView(one.buffer).getBigUint64(0, true));
  assert((8 + n) % 8 === 0, `header padded to a multiple of 8 (n = ${n})`);
  const headerText = new TextDecoder().decode(one.subarray(8, 8 + n));
  assert(/^\{.*\} *$/.test(headerText), "padding is spaces after the JSON");
  const header = JSON.parse(headerText) as Record<string, { dtype: Dtype; data_offsets: [number, number] }>;
  const order = Object.keys(header);
  assert(order.join(",") === "__metadata__,t,b,m,a,z", `reference order: metadata first, dtype rank desc: ${order}`);
  for (const [name, e] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    assert((8 + n + e.data_offsets[0]) % dtypeSize(e.dtype) === 0, `${name} aligned`);
  }
});

Deno.test("safetensors reader returns zero-copy views when aligned and copies when not", () => {
  const bytes = serializeSafetensors({
    w: { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
    h: { dtype: "F16", shape: [2], data: new Uint16Array([0x3c00, 0xc000]) },
  });
  const parsed = parseSafetensors(bytes, "aligned");
  for (const t of parsed.tensors.values()) assert(t.data.buffer === bytes.buffer, `${t.dtype} is a view`);
  const w = parsed.tensors.get("w")?.data as Float32Array;
  bytes.set(new Uint8Array(new Float32Array([9]).buffer), bytes.length - 4 - 16 + 12);
  assert(w[3] === 9, "a view sees writes to the file bytes");

  const shifted = new Uint8Array(bytes.length + 1);
  shifted.set(bytes, 1);
  const unaligned = shifted.subarray(1);
  const copy = parseSafetensors(unaligned, "unaligned");
  const w2 = copy.tensors.get("w") as SafeTensor;
  assert(w2.data.buffer !== shifted.buffer, "misaligned F32 data is copied");
  assert(Array.from(w2.data as Float32Array).join() === "1,2,3,9", "copied values are right");
  assert(copy.tensors.get("h")?.data.buffer !== shifted.buffer, "misaligned F16 data is copied");
});

Deno.test("safetensors write and read through a file, atomically", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/nested/folder/weights.safetensors`;
    const tensors = { W_enc: { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) } };
    await writeSafetensors(path, tensors, { kind: "test" });
    const back = await readSafetensors(path);
    assert(Array.from(back.tensors.get("W_enc")?.data as Float32Array).join() === "1,2,3,4,5,6", "values back");
    assert(back.metadata?.kind === "test", "metadata back");
    const direct = serializeSafetensors(tensors, { kind: "test" });
    assert(bytesEqual(await Deno.readFile(path), direct), "file bytes equal serialize output");
    const names = [...Deno.readDirSync(`${dir}/nested/folder`)].map((e) => e.name);
    assert(names.length === 1, `no temp files left: ${names}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readFileBytes returns exactly the file's bytes, empty files included", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rng = new Rng(4, "safetensors/readFileBytes");
    for (const n of [0, 1, 65537, 300_001]) {
      const data = randomData("U8", n, rng) as Uint8Array;
      await Deno.writeFile(`${dir}/f${n}`, data);
      const got = await readFileBytes(`${dir}/f${n}`);
      assert(bytesEqual(got, data), `${n} bytes read back`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------- reference fixture

interface ReferenceDoc {
  metadata: Record<string, string>;
  tensors: Record<string, { dtype: Dtype; shape: number[]; values: (number | string)[]; sha256: string }>;
}

Deno.test("safetensors reads the Python-written reference file exactly and rewrites it byte for byte", async () => {
  const bytes = await Deno.readFile(`${FIXTURE_DIR}reference.safetensors`);
  const doc = JSON.parse(await Deno.readTextFile(`${FIXTURE_DIR}reference.json`)) as ReferenceDoc;
  const parsed = parseSafetensors(bytes, "reference.safetensors");
  const sortedEntries = (m: Record<string, string> | null) => JSON.stringify(Object.entries(m ?? {}).sort());
  assert(sortedEntries(parsed.metadata) === sortedEntries(doc.metadata), "metadata matches");
  assert(parsed.tensors.size === Object.keys(doc.tensors).length, "tensor count matches");
  for (const [name, want] of Object.entries(doc.tensors)) {
    const t = parsed.tensors.get(name);
    assert(t, `tensor ${name} present`);
    assert(t.dtype === want.dtype, `${name}: dtype ${t.dtype} vs ${want.dtype}`);
    assert(JSON.stringify(t.shape) === JSON.stringify(want.shape), `${name}: shape`);
    assert(sha256Bytes(rawBytes(t.data)) === want.sha256, `${name}: raw bytes hash`);
    if (t.dtype === "I64") {
      const got = Array.from(t.data as BigInt64Array, String);
      assert(got.join() === want.values.join(), `${name}: ${got} vs ${want.values}`);
      continue;
    }
    const got = toFloat32(t);
    assert(got.length === want.values.length, `${name}: element count`);
    want.values.forEach((w, i) => {
      const g = got[i] as number;
      const ok = w === "nan"
        ? Number.isNaN(g)
        : w === "inf"
        ? g === Infinity
        : w === "-inf"
        ? g === -Infinity
        : Object.is(g, Math.fround(w as number));
      assert(ok, `${name}[${i}]: got ${g}, torch says ${w}`);
    });
  }
  const rewritten = serializeSafetensors(parsed.tensors, parsed.metadata);
  assert(bytesEqual(rewritten, bytes), "re-serialising reproduces the reference file byte for byte");
});

Deno.test("safetensors I64 helper converts exact values and refuses values beyond 2^53", async () => {
  const parsed = await readSafetensors(`${FIXTURE_DIR}reference.safetensors`);
  const tokens = parsed.tensors.get("i64_tokens")?.data as BigInt64Array;
  const nums = bigIntsToNumbers(tokens, "i64_tokens");
  assert(Array.from(nums).join() === `50256,0,11,-1,${2 ** 53 - 1},${-(2 ** 53 - 1)}`, `numbers: ${nums}`);
  const huge = parsed.tensors.get("i64_huge")?.data as BigInt64Array;
  let message = "";
  try {
    bigIntsToNumbers(huge, "i64_huge");
  } catch (e) {
    message = (e as Error).message;
  }
  assert(
    message.includes("i64_huge") && message.includes("element 0") && message.includes("4611686018427387904"),
    message,
  );
  let u64 = "";
  try {
    bigIntsToNumbers(new BigUint64Array([2n ** 53n]), "u");
  } catch (e) {
    u64 = (e as Error).message;
  }
  assert(u64.includes("9007199254740992"), `2^53 rejected: ${u64}`);
});

// ---------------------------------------------------------------- float conversions

function f16(bits: number): number {
  return toFloat32({ dtype: "F16", shape: [1], data: new Uint16Array([bits]) })[0] as number;
}

Deno.test("F16 and BF16 decode exactly and re-encode every bit pattern unchanged", () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  for (const dtype of ["F16", "BF16"] as const) {
    const dec = toFloat32({ dtype, shape: [65536], data: all });
    const enc = fromFloat32(dec, dtype) as Uint16Array;
    for (let i = 0; i < 65536; i++) {
      if (Number.isNaN(dec[i])) {
        assert(
          Number.isNaN(toFloat32({ dtype, shape: [1], data: enc.subarray(i, i + 1) })[0]),
          `${dtype} NaN stays NaN`,
        );
      } else {
        assert(enc[i] === i, `${dtype} bits ${i.toString(16)} → ${dec[i]} → ${enc[i]?.toString(16)}`);
      }
    }
  }
  // known values
  assert(f16(0x3c00) === 1 && f16(0xc000) === -2 && f16(0x7bff) === 65504, "normal halves");
  assert(f16(0x0001) === 2 ** -24 && f16(0x03ff) === 1023 * 2 ** -24, "subnormal halves");
  assert(Object.is(f16(0x8000), -0) && f16(0x7c00) === Infinity && Number.isNaN(f16(0x7e00)), "specials");
});

Deno.test("F16 and BF16 encoding rounds to the nearest representable value, ties to even", () => {
  const rng = new Rng(3, "safetensors/f16-rounding");
  const xs = new Float32Array(20000);
  for (let i = 0; i < xs.length; i++) xs[i] = (rng.uniform() - 0.5) * 2 ** (rng.int(44) - 28);
  for (const dtype of ["F16", "BF16"] as const) {
    const enc = fromFloat32(xs, dtype) as Uint16Array;
    const dec = (bits: number) => toFloat32({ dtype, shape: [1], data: new Uint16Array([bits & 0xffff]) })[0] as number;
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i] as number;
      const h = enc[i] as number;
      const err = Math.abs(dec(h) - x);
      const sign = h & 0x8000;
      const mag = h & 0x7fff;
      for (const nm of [mag - 1, mag + 1]) {
        if (nm < 0 || nm >= (dtype === "F16" ? 0x7c00 : 0x7f80)) continue; // only finite neighbours
        const e2 = Math.abs(dec(sign | nm) - x);
        assert(
          err < e2 || (err === e2 && (mag & 1) === 0),
          `${dtype}: ${x} → ${dec(h)} but ${dec(sign | nm)} is closer`,
        );
      }
    }
  }
  // overflow and tie cases
  const o = fromFloat32(new Float32Array([70000, -1e6, 65520, 65519, 1 + 2 ** -11, 1 + 3 * 2 ** -11]), "F16");
  assert(Array.from(o).map((b) => b.toString(16)).join() === "7c00,fc00,7c00,7bff,3c00,3c02", `F16 edge cases ${o}`);
});

Deno.test("F8 formats decode to the documented values", () => {
  const e5m2 = toFloat32({ dtype: "F8_E5M2", shape: [4], data: new Uint8Array([0x3c, 0xc0, 0x7c, 0x01]) });
  assert(Array.from(e5m2).join() === `1,-2,Infinity,${2 ** -16}`, `E5M2 ${e5m2}`);
  const e4m3 = toFloat32({ dtype: "F8_E4M3", shape: [5], data: new Uint8Array([0x38, 0xc0, 0x7e, 0x01, 0x7f]) });
  assert(Array.from(e4m3).slice(0, 4).join() === `1,-2,448,${2 ** -9}` && Number.isNaN(e4m3[4]), `E4M3 ${e4m3}`);
});

// ---------------------------------------------------------------- bad input

Deno.test("safetensors reader rejects a file shorter than 8 bytes", () => {
  for (const n of [0, 1, 7]) expectRejected(new Uint8Array(n), `file is ${n} bytes`);
});

Deno.test("safetensors reader rejects a header longer than the file", () => {
  const f = fileFrom('{"a":' + ENTRY('"F32"', "[1]", "[0,4]") + "}", 4);
  new DataView(f.buffer).setBigUint64(0, BigInt(f.length), true);
  expectRejected(f, "runs past the end");
  new DataView(f.buffer).setBigUint64(0, 2n ** 64n - 1n, true);
  expectRejected(f, "larger than the 100000000-byte limit");
  new DataView(f.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES + 1), true);
  expectRejected(f, "limit");
});

Deno.test("safetensors reader rejects a header that is not UTF-8, not JSON, or not an object", () => {
  const bad = fileFrom("{}");
  bad[9] = 0xff;
  expectRejected(bad, "not valid UTF-8");
  expectRejected(fileFrom("{nope}"), "bad header JSON", "expected a string key");
  expectRejected(fileFrom('{"a":1,}'), "bad header JSON");
  expectRejected(fileFrom('{"a":{}} x'), "unexpected data after");
  expectRejected(fileFrom("[1,2]"), 'must start with "{"');
  expectRejected(fileFrom(' {"a":1}'), 'must start with "{"');
  expectRejected(fileFrom(""), 'must start with "{"');
  expectRejected(fileFrom('{"\\ud800":{}}'), "lone high surrogate");
  expectRejected(fileFrom('{"a":' + "[".repeat(100) + "]".repeat(100) + "}"), "nesting deeper");
  expectRejected(fileFrom('{"a":"\u0001"}'), "raw control character");
});

Deno.test("safetensors reader rejects entries missing or mistyping dtype, shape or data_offsets", () => {
  expectRejected(fileFrom('{"a":{"shape":[1],"data_offsets":[0,4]}}', 4), 'tensor "a"', 'no "dtype"');
  expectRejected(fileFrom('{"a":{"dtype":"F32","data_offsets":[0,4]}}', 4), 'no "shape"');
  expectRejected(fileFrom('{"a":{"dtype":"F32","shape":[1]}}', 4), 'no "data_offsets"');
  expectRejected(fileFrom('{"a":' + ENTRY("32", "[1]", "[0,4]") + "}", 4), '"dtype" must be a string');
  expectRejected(fileFrom('{"a":' + ENTRY('"F32"', '"1"', "[0,4]") + "}", 4), '"shape" must be an array');
  expectRejected(fileFrom('{"a":' + ENTRY('"F32"', "[1]", "[0]") + "}", 4), "[begin, end]");
  expectRejected(fileFrom('{"a":' + ENTRY('"F32"', "[1]", "[0,4,8]") + "}", 4), "[begin, end]");
  expectRejected(fileFrom('{"a":' + ENTRY('"F32"', "[1]", '["0",4]') + "}", 4), "data_offsets[0]");
  expectRejected(fileFrom('{"a":[1]}', 4), "entry must be an object");
});

Deno.test("safetensors reader rejects an unknown dtype", () => {
  expectRejected(fileFrom('{"a":' + ENTRY('"float32"', "[1]", "[0,4]") + "}", 4), 'unknown dtype "float32"');
});

Deno.test("safetensors reader rejects negative, fractional and huge shape dimensions", () => {
  expectRejected(fileFrom('{"a":' + ENTRY('"F32"', "[-1]", "[0,4]") + "}", 4), "shape[0]", "got -1");
  expectRejected(fileFrom('{"a":' + ENTRY('"F32"', "[1,1.5]", "[0,4]") + "}", 4), "shape[1]", "1.5");
  expectRejected(fileFrom('{"a":' + ENTRY('"F32"', "[1e0]", "[0,4]") + "}", 4), "shape[0]");
  expectRejected(fileFrom('{"a":' + ENTRY('"F32"', "[99999999999999999999]", "[0,4]") + "}", 4), "beyond 2^53");
  // product overflows 64 bits: must still be a clean size mismatch
  const big = "[4294967296,4294967296,4294967296]";
  expectRejected(fileFrom('{"a":' + ENTRY('"F32"', big, "[0,4]") + "}", 4), "needs", "span 4");
});

Deno.test("safetensors reader rejects a shape whose byte size differs from the offsets", () => {
  expectRejected(fileFrom('{"a":' + ENTRY('"F32"', "[2]", "[0,4]") + "}", 4), "needs 8 bytes", "span 4");
  expectRejected(fileFrom('{"a":' + ENTRY('"F16"', "[3]", "[0,4]") + "}", 4), "needs 6 bytes");
});

Deno.test("safetensors reader rejects out-of-range, reversed, overlapping and holed offsets", () => {
  expectRejected(fileFrom('{"a":' + ENTRY('"F32"', "[1]", "[4,8]") + "}", 4), "past the 4-byte data buffer");
  expectRejected(fileFrom('{"a":' + ENTRY('"F32"', "[0]", "[4,0]") + "}", 4), "reversed");
  const overlap = '{"a":' + ENTRY('"F32"', "[2]", "[0,8]") + ',"b":' + ENTRY('"F32"', "[1]", "[4,8]") + "}";
  expectRejected(fileFrom(overlap, 8), 'tensor "b" [4, 8) overlaps tensor "a" [0, 8)');
  const hole = '{"a":' + ENTRY('"F32"', "[1]", "[0,4]") + ',"b":' + ENTRY('"F32"', "[1]", "[8,12]") + "}";
  expectRejected(fileFrom(hole, 12), "data bytes [4, 8) belong to no tensor");
  expectRejected(fileFrom('{"a":' + ENTRY('"F32"', "[1]", "[4,8]") + "}", 8), "data bytes [0, 4) belong to no tensor");
  const same = '{"a":' + ENTRY('"F32"', "[1]", "[0,4]") + ',"b":' + ENTRY('"F32"', "[1]", "[0,4]") + "}";
  expectRejected(fileFrom(same, 4), "overlaps");
});

Deno.test("safetensors reader rejects duplicate tensor names that JSON.parse would hide", () => {
  const dup = '{"a":' + ENTRY('"F32"', "[1]", "[0,4]") + ',"a":' + ENTRY('"F32"', "[1]", "[4,8]") + "}";
  assert(Object.keys(JSON.parse(dup)).length === 1, "JSON.parse silently keeps one");
  expectRejected(fileFrom(dup, 8), 'duplicate tensor name "a"');
  const escaped = '{"a":' + ENTRY('"F32"', "[1]", "[0,4]") + ',"\\u0061":' + ENTRY('"F32"', "[1]", "[4,8]") + "}";
  expectRejected(fileFrom(escaped, 8), 'duplicate tensor name "a"');
  expectRejected(
    fileFrom('{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 4),
    'duplicate key "dtype"',
  );
  expectRejected(fileFrom('{"__metadata__":{"k":"1","k":"2"}}'), 'duplicate key "k"');
});

Deno.test("safetensors reader rejects __metadata__ that is not a string-to-string map", () => {
  expectRejected(fileFrom('{"__metadata__":{"k":1}}'), "__metadata__", 'key "k" must be a string', "got 1");
  expectRejected(fileFrom('{"__metadata__":["a"]}'), "__metadata__", "an object of strings");
  expectRejected(fileFrom('{"__metadata__":"x"}'), "__metadata__");
  const ok = parseSafetensors(fileFrom('{"__metadata__":null}'), "null-meta");
  assert(ok.metadata === null, "null metadata is treated as absent, as the reference implementation does");
});

Deno.test("safetensors reader rejects trailing bytes after the data buffer", () => {
  expectRejected(fileFrom('{"a":' + ENTRY('"F32"', "[1]", "[0,4]") + "}", 5), "1 trailing bytes");
  expectRejected(fileFrom("{}", 3), "3 trailing bytes");
});

Deno.test("safetensors writer rejects inconsistent tensors", () => {
  const bad = (tensors: Record<string, TensorInput>, phrase: string) => {
    try {
      serializeSafetensors(tensors);
    } catch (e) {
      assert(e instanceof SafetensorsError && e.message.includes(phrase), `${e} mentions ${phrase}`);
      return;
    }
    throw new Error(`expected a rejection mentioning ${phrase}`);
  };
  bad({ a: { shape: [3], data: new Float32Array(2) } }, "has 3 elements but data has 2");
  bad({ a: { shape: [-1], data: new Float32Array(0) } }, "shape[0] must be a non-negative integer");
  bad({ a: { shape: [2], data: new Uint16Array(2) } }, "dtype is ambiguous");
  bad({ a: { dtype: "F32", shape: [2], data: new Float64Array(2) } }, "needs a Float32Array");
  bad({ __metadata__: { shape: [1], data: new Float32Array(1) } }, "cannot be named");
  bad({ "bad\ud800": { shape: [1], data: new Float32Array(1) } }, "lone surrogate");
  try {
    serializeSafetensors({}, { k: "\udc00" });
    throw new Error("expected a rejection of lone surrogate metadata");
  } catch (e) {
    assert(e instanceof SafetensorsError && e.message.includes("lone surrogate"), String(e));
  }
});
