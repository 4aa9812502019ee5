/**
 * Fuzz test for the safetensors reader: 12,000 seeded mutations of a few valid
 * files. Each case runs in a worker with a per-case time limit, so a hang or a
 * crash shows up as a failure naming the case instead of stalling the run.
 * Every case must either parse to a result that survives re-serialisation, or
 * throw SafetensorsError; any other exception fails. Mutations that can only
 * produce an invalid file (truncation, appended bytes, a changed header length,
 * bytes inserted into or deleted from the data, duplicated entries) must be
 * rejected.
 *
 * This file is also the worker's module: loaded under WORKER_NAME it only
 * answers messages.
 */
import {
  parseSafetensors,
  SafetensorsError,
  type SafetensorsFile,
  serializeSafetensors,
} from "../lib/io/safetensors.ts";
import { Rng } from "../lib/engine/rng.ts";
import { fromFileUrl } from "../lib/path.ts";

const WORKER_NAME = "safetensors-fuzz-worker";
const CASES = 12_000;
const CASE_TIMEOUT_MS = 10_000; // a hang, not a speed target: one case normally takes well under a millisecond

interface CaseRequest {
  id: number;
  source: string;
  bytes: Uint8Array;
}

interface CaseReply {
  id: number;
  outcome: "valid" | "rejected" | "failure";
  detail: string;
}

// ---------------------------------------------------------------- worker side

function sameFile(a: SafetensorsFile, b: SafetensorsFile): string | null {
  // metadata is a map (the writer sorts its keys): compare entries regardless of order
  const entries = (m: Record<string, string> | null) => m === null ? "null" : JSON.stringify(Object.entries(m).sort());
  if (entries(a.metadata) !== entries(b.metadata)) return "metadata differs after re-serialising";
  if (a.tensors.size !== b.tensors.size) return "tensor count differs after re-serialising";
  for (const [name, t] of a.tensors) {
    const u = b.tensors.get(name);
    if (!u) return `tensor ${JSON.stringify(name)} lost after re-serialising`;
    if (u.dtype !== t.dtype || u.shape.join() !== t.shape.join()) return `tensor ${JSON.stringify(name)} changed`;
    const x = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const y = new Uint8Array(u.data.buffer, u.data.byteOffset, u.data.byteLength);
    if (x.length !== y.length || x.some((v, i) => v !== y[i])) return `tensor ${JSON.stringify(name)} bytes changed`;
  }
  return null;
}

function checkCase(req: CaseRequest): CaseReply {
  const { id, source, bytes } = req;
  let parsed: SafetensorsFile;
  try {
    parsed = parseSafetensors(bytes, source);
  } catch (e) {
    if (e instanceof SafetensorsError && e.message.startsWith(`${source}: `) && e.problem.length > 0) {
      return { id, outcome: "rejected", detail: e.problem };
    }
    return { id, outcome: "failure", detail: `threw ${e instanceof Error ? e.stack : String(e)}` };
  }
  try {
    // independent checks of a file the reader accepted: element counts and exact tiling of the file
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
    let covered = 0;
    for (const [name, t] of parsed.tensors) {
      const count = t.shape.reduce((p, d) => p * d, 1);
      if (t.data.length !== count) {
        return { id, outcome: "failure", detail: `${name}: ${t.data.length} elements for shape ${t.shape}` };
      }
      covered += t.data.byteLength;
    }
    if (8 + n + covered !== bytes.length) {
      return {
        id,
        outcome: "failure",
        detail: `accepted tensors cover ${covered} of ${bytes.length - 8 - n} data bytes`,
      };
    }
    const again = parseSafetensors(serializeSafetensors(parsed.tensors, parsed.metadata), `${source} (re-serialised)`);
    const diff = sameFile(parsed, again);
    if (diff) return { id, outcome: "failure", detail: diff };
    return { id, outcome: "valid", detail: `${parsed.tensors.size} tensors` };
  } catch (e) {
    return {
      id,
      outcome: "failure",
      detail: `accepted file failed re-validation: ${e instanceof Error ? e.stack : e}`,
    };
  }
}

if ((globalThis as { name?: unknown }).name === WORKER_NAME) {
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent<CaseRequest>) => void) | null;
    postMessage(reply: CaseReply): void;
  };
  scope.onmessage = (e) => scope.postMessage(checkCase(e.data));
  scope.postMessage({ id: -1, outcome: "valid", detail: "ready" });
}

// ---------------------------------------------------------------- mutations (main side)

function headerLength(bytes: Uint8Array): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
}

function pack(headerText: string, data: Uint8Array, pad: boolean): Uint8Array {
  let h = new TextEncoder().encode(headerText);
  if (pad && (h.length % 8) !== 0) {
    const p = new Uint8Array(Math.ceil(h.length / 8) * 8).fill(0x20);
    p.set(h);
    h = p;
  }
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function split(bytes: Uint8Array): { header: string; data: Uint8Array } {
  const n = headerLength(bytes);
  return { header: new TextDecoder().decode(bytes.subarray(8, 8 + n)).trimEnd(), data: bytes.subarray(8 + n) };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function randomBytes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(256);
  return out;
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)] as T;

const NUMBER_TOKENS = [
  "-1",
  "0",
  "1",
  "2",
  "3",
  "4",
  "8",
  "1.5",
  "1e2",
  "01",
  "-0",
  "4294967296",
  "99999999999999999999",
  "9007199254740993",
  "true",
  "null",
  '"4"',
  "[]",
  "{}",
  "[0,4]",
];
const STRING_TOKENS = ["F32", "F16", "BF16", "I64", "I32", "U8", "BOOL", "F64", "float32", "", "__metadata__", "shape"];
const STRUCT_CHARS = ["{", "}", "[", "]", ",", ":", '"', " ", "\\"];

interface Mutant {
  kind: string;
  bytes: Uint8Array;
  mustReject: boolean;
}

/** Text-level edits of the header JSON; the data buffer is kept and the header length recomputed. */
function mutateHeader(seed: Uint8Array, rng: Rng): Mutant {
  const { header, data } = split(seed);
  const pad = rng.uniform() < 0.5;
  const kind = pick(rng, ["number", "string", "duplicate", "struct", "object", "swap"] as const);
  let text = header;
  let mustReject = false;
  if (kind === "number" || kind === "string") {
    const re = kind === "number" ? /-?\d+(\.\d+)?([eE][+-]?\d+)?/g : /"(?:[^"\\]|\\.)*"/g;
    const matches = [...text.matchAll(re)];
    if (matches.length > 0) {
      const m = pick(rng, matches);
      const names = [...text.matchAll(/"([^"\\]+)":\{"dtype"/g)].map((x) => x[1] as string);
      const replacement = kind === "number"
        ? pick(rng, NUMBER_TOKENS)
        : JSON.stringify(rng.uniform() < 0.3 && names.length > 0 ? pick(rng, names) : pick(rng, STRING_TOKENS));
      text = text.slice(0, m.index) + replacement + text.slice((m.index ?? 0) + m[0].length);
    }
  } else if (kind === "duplicate") {
    // repeat one top-level entry verbatim: JSON.parse would keep one silently, the reader must refuse
    const entries = [
      ...text.matchAll(/"(?:[^"\\]|\\.)*":\{"dtype":"[A-Z0-9_]+","shape":\[[\d,]*\],"data_offsets":\[\d+,\d+\]\}/g),
    ];
    if (entries.length > 0) {
      const e = pick(rng, entries)[0];
      text = text.slice(0, -1) + "," + e + "}";
      mustReject = true;
    }
  } else if (kind === "struct") {
    const at = rng.int(text.length + 1);
    text = rng.uniform() < 0.5
      ? text.slice(0, at) + pick(rng, STRUCT_CHARS) + text.slice(at)
      : text.slice(0, at) + text.slice(at + 1);
  } else {
    // object-level edits through JSON.parse (the seeds have no duplicate keys)
    let obj: Record<string, Record<string, unknown>> = {};
    try {
      obj = JSON.parse(text); // fails when an earlier mutation (kind "multi") already broke the JSON
    } catch {
      // leave the object empty: the header becomes "{}" over the old data
    }
    if (typeof obj !== "object" || obj === null || Array.isArray(obj)) obj = {};
    const names = Object.keys(obj).filter((k) => k !== "__metadata__" && typeof obj[k] === "object" && obj[k] !== null);
    if (names.length > 0) {
      const a = obj[pick(rng, names)] as Record<string, unknown>;
      const b = obj[pick(rng, names)] as Record<string, unknown>;
      if (kind === "swap") {
        const field = pick(rng, ["dtype", "shape", "data_offsets"]);
        [a[field], b[field]] = [b[field], a[field]];
      } else {
        const edit = rng.int(9);
        const off = a.data_offsets as number[];
        const shape = a.shape as number[];
        if (edit === 0) a.data_offsets = [off[1], off[0]];
        else if (edit === 1) {
          a.data_offsets = [(off[0] as number) + rng.int(9) - 4, (off[1] as number) + rng.int(9) - 4];
        } else if (edit === 2) a.shape = [...shape, 1];
        else if (edit === 3) a.shape = shape.length > 0 ? [...shape].reverse() : [rng.int(3)];
        else if (edit === 4) delete a[pick(rng, ["dtype", "shape", "data_offsets"])];
        else if (edit === 5) a.extra = "ignored";
        else if (edit === 6) obj.__metadata__ = pick(rng, [{ k: 1 }, ["x"], null, { k: "v" }, "s"]) as never;
        else if (edit === 7) {
          a.dtype = pick(rng, ["F32", "I32", "U32", "F16", "BF16", "I16", "U8", "I8", "BOOL", "F64"]);
        } else shape[rng.int(Math.max(shape.length, 1))] = pick(rng, [0, 1, 2, -1, 1.5, 1e20]);
      }
    }
    text = JSON.stringify(obj);
  }
  return { kind: `header/${kind}`, bytes: pack(text, data, pad), mustReject };
}

function mutate(seed: Uint8Array, seeds: Uint8Array[], rng: Rng, depth = 0): Mutant {
  const n = headerLength(seed);
  const dataStart = 8 + n;
  const kind = pick(
    rng,
    [
      "bitflip",
      "bitflip",
      "insert",
      "delete",
      "truncate",
      "append",
      "header-length",
      "header",
      "header",
      "header",
      "splice",
      "garbage",
      "multi",
    ] as const,
  );
  const bytes = seed.slice();
  switch (kind) {
    case "bitflip": {
      const flips = 1 + rng.int(4);
      for (let i = 0; i < flips; i++) {
        const at = rng.uniform() < 0.8 ? rng.int(Math.min(dataStart, bytes.length)) : rng.int(bytes.length);
        bytes[at] = (bytes[at] as number) ^ (1 << rng.int(8));
      }
      return { kind, bytes, mustReject: false };
    }
    case "insert":
    case "delete": {
      const at = rng.int(bytes.length + 1);
      const k = 1 + rng.int(8);
      const out = kind === "insert"
        ? concat(bytes.subarray(0, at), randomBytes(rng, k), bytes.subarray(at))
        : concat(bytes.subarray(0, at), bytes.subarray(Math.min(at + k, bytes.length)));
      // inside the data buffer the header is untouched, so the tensors can no longer tile it
      const changed = out.length !== bytes.length;
      return { kind, bytes: out, mustReject: at >= dataStart && changed };
    }
    case "truncate":
      return { kind, bytes: bytes.subarray(0, rng.int(bytes.length)), mustReject: true };
    case "append":
      return { kind, bytes: concat(bytes, randomBytes(rng, 1 + rng.int(16))), mustReject: true };
    case "header-length": {
      const choices = [
        BigInt(Math.max(0, n + rng.int(33) - 16)),
        BigInt(bytes.length),
        BigInt(bytes.length - 8),
        2n ** 63n,
        BigInt(rng.int(2 ** 31)) * 2n ** 32n + BigInt(n),
        0n,
      ];
      const value = pick(rng, choices);
      new DataView(bytes.buffer).setBigUint64(0, value, true);
      return { kind, bytes, mustReject: value !== BigInt(n) };
    }
    case "header":
      return mutateHeader(seed, rng);
    case "splice": {
      const other = pick(rng, seeds);
      const from = rng.int(other.length);
      const len = 1 + rng.int(24);
      const at = rng.int(bytes.length);
      const chunk = other.subarray(from, from + len);
      return {
        kind,
        bytes: concat(bytes.subarray(0, at), chunk, bytes.subarray(Math.min(at + chunk.length, bytes.length))),
        mustReject: false,
      };
    }
    case "garbage": {
      if (rng.uniform() < 0.5) return { kind, bytes: randomBytes(rng, rng.int(64)), mustReject: false };
      const body = Array.from({ length: rng.int(48) }, () => pick(rng, [...STRUCT_CHARS, "0", "1", "a", "F32"])).join(
        "",
      );
      return { kind, bytes: pack("{" + body, randomBytes(rng, rng.int(16)), false), mustReject: false };
    }
    case "multi": {
      if (depth > 0) return mutate(seed, seeds, rng, depth + 1);
      let m = mutate(seed, seeds, rng, 1);
      const more = 1 + rng.int(3);
      for (let i = 0; i < more && m.bytes.length >= 8 && headerLength(m.bytes) <= m.bytes.length; i++) {
        m = mutate(m.bytes, seeds, rng, 1);
      }
      return { kind, bytes: m.bytes, mustReject: false };
    }
  }
}

async function seedFiles(): Promise<Uint8Array[]> {
  const rng = new Rng(11, "safetensors/fuzz-seeds");
  const f32 = (n: number) => rng.fillNormal(new Float32Array(n));
  const reference = await Deno.readFile(
    fromFileUrl(new URL("./fixtures/safetensors/reference.safetensors", import.meta.url)),
  );
  return [
    serializeSafetensors({
      W_enc: { shape: [3, 4], data: f32(12) },
      b_enc: { shape: [4], data: f32(4) },
      h: { dtype: "F16", shape: [5], data: new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000]) },
      bf: { dtype: "BF16", shape: [2, 2], data: new Uint16Array([0x3f80, 0x4000, 0xbf80, 0x0000]) },
      tokens: { dtype: "I64", shape: [2], data: new BigInt64Array([50256n, 11n]) },
      mask: { dtype: "BOOL", shape: [4], data: new Uint8Array([1, 0, 1, 1]) },
      u: { dtype: "U8", shape: [3], data: new Uint8Array([0, 128, 255]) },
      s: { shape: [], data: new Float64Array([Math.PI]) },
    }, { format: "pt", hook_name: "blocks.0.hook_resid_pre" }),
    reference,
    serializeSafetensors({ x: { shape: [2], data: new Int32Array([7, -7]) } }),
    serializeSafetensors(
      { empty: { shape: [0, 4], data: new Float32Array(0) }, one: { shape: [1], data: f32(1) } },
      {},
    ),
    serializeSafetensors({}),
  ];
}

// ---------------------------------------------------------------- the test

if ((globalThis as { name?: unknown }).name !== WORKER_NAME) {
  Deno.test("safetensors reader survives 12,000 mutated files: valid results re-validate, the rest throw SafetensorsError", async () => {
    const seeds = await seedFiles();
    for (const s of seeds) checkSeed(s);
    const worker = new Worker(import.meta.url, { type: "module", name: WORKER_NAME });
    const pending = new Map<number, (r: CaseReply) => void>();
    let workerError: string | null = null;
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      workerError = `worker failed: ${e.message}`;
      for (const settle of pending.values()) settle({ id: -2, outcome: "failure", detail: workerError });
    };
    const ready = new Promise<CaseReply>((resolve) => pending.set(-1, resolve));
    worker.onmessage = (e: MessageEvent<CaseReply>) => pending.get(e.data.id)?.(e.data);
    const ask = (req: CaseRequest): Promise<CaseReply> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(req.id);
          reject(new Error(`case ${req.source} did not finish within ${CASE_TIMEOUT_MS} ms (a hang)`));
        }, CASE_TIMEOUT_MS);
        pending.set(req.id, (r) => {
          clearTimeout(timer);
          pending.delete(req.id);
          resolve(r);
        });
      });
    const rng = new Rng(2024, "safetensors/fuzz");
    const tally = new Map<string, { valid: number; rejected: number }>();
    const failures: string[] = [];
    try {
      // wait for the worker to load: under `deno test` that includes type-checking this file, which can take
      // several seconds on a busy machine and is not part of any case's time
      const startup = setTimeout(
        () => pending.get(-1)?.({ id: -1, outcome: "failure", detail: "worker did not start within 120 s" }),
        120_000,
      );
      const hello = await ready;
      clearTimeout(startup);
      pending.delete(-1);
      if (workerError) throw new Error(workerError);
      if (hello.detail !== "ready") throw new Error(hello.detail);
      for (let id = 0; id < CASES; id++) {
        const seedIndex = rng.int(seeds.length);
        const m = mutate(seeds[seedIndex] as Uint8Array, seeds, rng);
        const source = `fuzz-${id}-seed${seedIndex}-${m.kind}.safetensors`;
        const reply = ask({ id, source, bytes: m.bytes });
        worker.postMessage({ id, source, bytes: m.bytes } satisfies CaseRequest);
        const r = await reply;
        const t = tally.get(m.kind) ?? { valid: 0, rejected: 0 };
        if (r.outcome === "failure") failures.push(`${source}: ${r.detail}`);
        else if (r.outcome === "valid" && m.mustReject) {
          failures.push(`${source}: accepted a file that cannot be valid`);
        } else t[r.outcome]++;
        tally.set(m.kind, t);
        if (failures.length >= 5) break;
      }
    } finally {
      worker.terminate();
    }
    if (failures.length > 0) throw new Error(`fuzz failures:\n${failures.join("\n")}`);
    const rows = [...tally].sort().map(([k, v]) => `${k.padEnd(22)} valid ${v.valid} rejected ${v.rejected}`);
    console.log(rows.join("\n"));
    const total = [...tally.values()].reduce(
      (s, v) => ({ valid: s.valid + v.valid, rejected: s.rejected + v.rejected }),
      {
        valid: 0,
        rejected: 0,
      },
    );
    if (total.valid + total.rejected !== CASES) {
      throw new Error(`ran ${total.valid + total.rejected} of ${CASES} cases`);
    }
    // the mutations must exercise both paths, or the test proves little
    if (total.valid < 100 || total.rejected < CASES / 2) throw new Error(`degenerate fuzz: ${JSON.stringify(total)}`);
  });
}

function checkSeed(bytes: Uint8Array): void {
  const r = checkCase({ id: -1, source: "seed", bytes });
  if (r.outcome !== "valid") throw new Error(`fuzz seed is not valid: ${r.detail}`);
}
