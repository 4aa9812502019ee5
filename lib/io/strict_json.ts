/**
 * A strict JSON parser for safetensors headers. `JSON.parse` silently keeps the
 * last of two equal keys, turns lone surrogate escapes into strings that do not
 * survive UTF-8 re-encoding, and forgets whether a number was written `4` or
 * `4.0`; a header reader needs all three. Objects come back as Maps, so keys
 * such as `__proto__` are plain keys.
 *
 * @module
 */

/**
 * A JSON number kept with its source text (so `4.0` and `4` can be told apart).
 *
 * @example
 * ```ts
 * import { parseStrictJson, StrictJsonNumber } from "./strict_json.ts";
 * const v = parseStrictJson("4.0");
 * if (v instanceof StrictJsonNumber) console.log(v.text, v.value); // "4.0" 4
 * ```
 */
export class StrictJsonNumber {
  constructor(readonly text: string, readonly value: number) {}
}

/**
 * Parsed JSON: objects are Maps (insertion order, no prototype keys), numbers
 * are {@link StrictJsonNumber}.
 *
 * @example
 * ```ts
 * import { parseStrictJson, type StrictJson } from "./strict_json.ts";
 * const v: StrictJson = parseStrictJson('{"a": [1, "x"]}'); // Map { "a" => [StrictJsonNumber, "x"] }
 * ```
 */
export type StrictJson = null | boolean | string | StrictJsonNumber | StrictJson[] | Map<string, StrictJson>;

/**
 * The error {@link parseStrictJson} throws; the message ends with the character offset.
 *
 * @example
 * ```ts
 * import { parseStrictJson, StrictJsonError } from "./strict_json.ts";
 * try {
 *   parseStrictJson('{"a":1,"a":2}');
 * } catch (e) {
 *   if (e instanceof StrictJsonError) console.log(e.message); // 'duplicate tensor name "a" at character 7'
 * }
 * ```
 */
export class StrictJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StrictJsonError";
  }
}

/**
 * Deepest nesting {@link parseStrictJson} accepts (a safetensors header needs 3).
 *
 * @example
 * ```ts
 * import { MAX_JSON_DEPTH, parseStrictJson } from "./strict_json.ts";
 * parseStrictJson("[".repeat(MAX_JSON_DEPTH) + "]".repeat(MAX_JSON_DEPTH)); // fine
 * try {
 *   parseStrictJson("[".repeat(MAX_JSON_DEPTH + 1) + "]".repeat(MAX_JSON_DEPTH + 1));
 * } catch (e) {
 *   console.log((e as Error).name); // "StrictJsonError"
 * }
 * ```
 */
export const MAX_JSON_DEPTH = 16;
const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/** Options of {@link parseStrictJson}. */
export interface StrictJsonOptions {
  /** What a top-level key is called in the duplicate-key message (default "tensor name", for safetensors headers). */
  topLevelKey?: string;
}

/**
 * Parses JSON text like `JSON.parse` but rejects duplicate object keys
 * (reported as "duplicate tensor name" at the top level, "duplicate key"
 * below), lone surrogate escapes and nesting deeper than
 * {@link MAX_JSON_DEPTH}, and keeps numbers' source text. Iterative over
 * characters, recursive only per nesting level, so it cannot overflow the stack.
 *
 * @throws {StrictJsonError} naming the problem and its character offset
 *
 * @example
 * ```ts
 * import { parseStrictJson } from "./strict_json.ts";
 * const header = parseStrictJson('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}');
 * (header as Map<string, unknown>).has("w"); // true
 * ```
 */
export function parseStrictJson(text: string, opts: StrictJsonOptions = {}): StrictJson {
  const topLevelKey = opts.topLevelKey ?? "tensor name";
  let pos = 0;
  const fail: (what: string) => never = (what) => {
    throw new StrictJsonError(`${what} at character ${pos}`);
  };
  const skipWs = () => {
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else return;
    }
  };
  const parseString = (): string => {
    pos++; // opening quote
    let out = "";
    let runStart = pos;
    for (;;) {
      if (pos >= text.length) fail("unterminated string");
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(runStart, pos);
        pos++;
        return out;
      }
      if (c < 0x20) fail("raw control character in string");
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += text.slice(runStart, pos);
      const e = text[pos + 1];
      pos += 2;
      switch (e) {
        case '"':
          out += '"';
          break;
        case "\\":
          out += "\\";
          break;
        case "/":
          out += "/";
          break;
        case "b":
          out += "\b";
          break;
        case "f":
          out += "\f";
          break;
        case "n":
          out += "\n";
          break;
        case "r":
          out += "\r";
          break;
        case "t":
          out += "\t";
          break;
        case "u": {
          const hex = (at: number): number => {
            const h = text.slice(at, at + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(h)) fail("bad \\u escape");
            return parseInt(h, 16);
          };
          const cu = hex(pos);
          pos += 4;
          if (cu >= 0xdc00 && cu <= 0xdfff) fail("lone low surrogate escape");
          if (cu >= 0xd800 && cu <= 0xdbff) {
            if (text[pos] !== "\\" || text[pos + 1] !== "u") fail("lone high surrogate escape");
            const lo = hex(pos + 2);
            if (lo < 0xdc00 || lo > 0xdfff) fail("high surrogate escape not followed by a low one");
            pos += 6;
            out += String.fromCharCode(cu, lo);
          } else {
            out += String.fromCharCode(cu);
          }
          break;
        }
        default:
          fail("bad escape in string");
      }
      runStart = pos;
    }
  };
  const parseValue = (depth: number): StrictJson => {
    if (depth > MAX_JSON_DEPTH) fail(`nesting deeper than ${MAX_JSON_DEPTH} levels`);
    skipWs();
    const c = text[pos];
    if (c === "{") {
      pos++;
      const map = new Map<string, StrictJson>();
      skipWs();
      if (text[pos] === "}") {
        pos++;
        return map;
      }
      for (;;) {
        skipWs();
        if (text[pos] !== '"') fail("expected a string key");
        const keyAt = pos;
        const key = parseString();
        if (map.has(key)) {
          pos = keyAt;
          const shown = JSON.stringify(key.length > 80 ? key.slice(0, 80) + "…" : key);
          fail(depth === 0 ? `duplicate ${topLevelKey} ${shown}` : `duplicate key ${shown}`);
        }
        skipWs();
        if (text[pos] !== ":") fail("expected ':'");
        pos++;
        map.set(key, parseValue(depth + 1));
        skipWs();
        if (text[pos] === ",") {
          pos++;
          continue;
        }
        if (text[pos] === "}") {
          pos++;
          return map;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      pos++;
      const arr: StrictJson[] = [];
      skipWs();
      if (text[pos] === "]") {
        pos++;
        return arr;
      }
      for (;;) {
        arr.push(parseValue(depth + 1));
        skipWs();
        if (text[pos] === ",") {
          pos++;
          continue;
        }
        if (text[pos] === "]") {
          pos++;
          return arr;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return parseString();
    for (const [word, value] of [["true", true], ["false", false], ["null", null]] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return value;
      }
    }
    NUMBER_RE.lastIndex = pos;
    const m = NUMBER_RE.exec(text);
    if (m) {
      pos += m[0].length;
      return new StrictJsonNumber(m[0], Number(m[0]));
    }
    return fail(pos >= text.length ? "unexpected end of JSON" : `unexpected character ${JSON.stringify(text[pos])}`);
  };
  const value = parseValue(0);
  skipWs();
  if (pos < text.length) fail("unexpected data after the JSON value");
  return value;
}

/**
 * Plain JSON values, as `JSON.parse` returns them.
 *
 * @example
 * ```ts
 * import type { PlainJson } from "./strict_json.ts";
 * const v: PlainJson = { a: [1, "x", null] };
 * ```
 */
export type PlainJson = null | boolean | number | string | PlainJson[] | { [key: string]: PlainJson };

/**
 * A {@link StrictJson} value as plain JavaScript values (Maps become objects
 * whose keys are all own data properties, `__proto__` included; numbers become
 * numbers).
 *
 * @example
 * ```ts
 * import { parseStrictJson, toPlainJson } from "./strict_json.ts";
 * toPlainJson(parseStrictJson('{"a": [1, 2.5]}')); // { a: [1, 2.5] }
 * ```
 */
export function toPlainJson(value: StrictJson): PlainJson {
  if (value instanceof StrictJsonNumber) return value.value;
  if (Array.isArray(value)) return value.map(toPlainJson);
  if (value instanceof Map) {
    const out: { [key: string]: PlainJson } = {};
    for (const [k, v] of value) {
      Object.defineProperty(out, k, { value: toPlainJson(v), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

/**
 * Parses JSON text strictly ({@link parseStrictJson}: duplicate keys, lone
 * surrogates and excessive nesting are errors) into plain values; every error
 * starts with `source`.
 *
 * @throws {Error} `SOURCE: invalid JSON (duplicate key "d_in" at character 40)`
 *
 * @example
 * ```ts
 * import { parseJsonStrict } from "./strict_json.ts";
 * parseJsonStrict('{"d_in": 768}', "cfg.json"); // { d_in: 768 }
 * ```
 */
export function parseJsonStrict(text: string, source: string): PlainJson {
  try {
    return toPlainJson(parseStrictJson(text, { topLevelKey: "key" }));
  } catch (err) {
    if (err instanceof StrictJsonError) throw new Error(`${source}: invalid JSON (${err.message})`);
    throw err;
  }
}
