/**
 * Exact conversions between float32 and the 16- and 8-bit float formats that
 * safetensors files hold as raw bit patterns: IEEE half (F16), bfloat16
 * (BF16), and the 8-bit E5M2 and E4M3FN formats (decode only).
 *
 * Decoding is exact (every value of these formats is a float32); F16 and BF16
 * NaN payloads are kept. Encoding rounds to nearest, ties to even, overflows
 * to ±infinity and keeps NaN a quiet NaN.
 *
 * @module
 */

let halfTable: Float32Array | null = null;

/** Float32 bit pattern of an IEEE half bit pattern (exact, keeps NaN payloads). */
function halfBitsToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // subnormal half: normalise the mantissa
  let e = -14;
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | ((e + 127) << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

/** All 65,536 half values as float32, built once on first use (256 KiB). */
function table(): Float32Array {
  if (halfTable) return halfTable;
  const bits = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) bits[h] = halfBitsToFloatBits(h);
  halfTable = new Float32Array(bits.buffer);
  return halfTable;
}

/**
 * Decodes IEEE half bit patterns to float32, exactly.
 *
 * @example
 * ```ts
 * import { halfToFloat32 } from "./half.ts";
 * halfToFloat32(new Uint16Array([0x3c00, 0xc000, 0x0001])); // [1, -2, 2^-24]
 * ```
 */
export function halfToFloat32(bits: Uint16Array): Float32Array {
  const t = table();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i] as number] as number;
  return out;
}

/**
 * Decodes bfloat16 bit patterns to float32, exactly (they are the top half of a float32).
 *
 * @example
 * ```ts
 * import { bf16ToFloat32 } from "./half.ts";
 * bf16ToFloat32(new Uint16Array([0x3f80, 0xc000])); // [1, -2]
 * ```
 */
export function bf16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = (bits[i] as number) << 16;
  return new Float32Array(out.buffer);
}

/**
 * Decodes 8-bit E5M2 floats to float32, exactly (E5M2 is the top byte of an IEEE half).
 *
 * @example
 * ```ts
 * import { f8e5m2ToFloat32 } from "./half.ts";
 * f8e5m2ToFloat32(new Uint8Array([0x3c, 0x7c])); // [1, Infinity]
 * ```
 */
export function f8e5m2ToFloat32(bytes: Uint8Array): Float32Array {
  const t = table();
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = t[(bytes[i] as number) << 8] as number;
  return out;
}

/**
 * Decodes 8-bit E4M3FN floats to float32, exactly (bias 7, no infinities,
 * `S.1111.111` is NaN, largest finite 448).
 *
 * @example
 * ```ts
 * import { f8e4m3ToFloat32 } from "./half.ts";
 * f8e4m3ToFloat32(new Uint8Array([0x38, 0x7e, 0x7f])); // [1, 448, NaN]
 * ```
 */
export function f8e4m3ToFloat32(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    const sign = b & 0x80 ? -1 : 1;
    const exp = (b >>> 3) & 0xf;
    const mant = b & 0x7;
    if (exp === 0xf && mant === 0x7) out[i] = NaN;
    else if (exp === 0) out[i] = sign * mant * 2 ** -9;
    else out[i] = sign * (1 + mant / 8) * 2 ** (exp - 7);
  }
  return out;
}

function floatBitsToHalfBits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // inf, or a quiet NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow to infinity
  if (e <= 0) {
    if (e < -10) return sign; // underflow to signed zero
    // subnormal: shift the full mantissa (with its hidden bit) and round to nearest even
    const m = mant | 0x800000;
    const shift = 14 - e;
    const halfway = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let r = m >>> shift;
    if (rest > halfway || (rest === halfway && (r & 1))) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (r & 1))) r++; // a carry into the exponent is still correct
  return sign | r;
}

function floatBits(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}

/**
 * Encodes float32 values as IEEE half bit patterns (round to nearest even).
 *
 * @example
 * ```ts
 * import { float32ToHalf } from "./half.ts";
 * float32ToHalf(new Float32Array([1, 70000])); // Uint16Array [0x3c00, 0x7c00]
 * ```
 */
export function float32ToHalf(values: Float32Array): Uint16Array {
  const bits = floatBits(values);
  const out = new Uint16Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = floatBitsToHalfBits(bits[i] as number);
  return out;
}

/**
 * Encodes float32 values as bfloat16 bit patterns (round to nearest even).
 *
 * @example
 * ```ts
 * import { float32ToBf16 } from "./half.ts";
 * float32ToBf16(new Float32Array([1, 0.1])); // Uint16Array [0x3f80, 0x3dcd]
 * ```
 */
export function float32ToBf16(values: Float32Array): Uint16Array {
  const bits = floatBits(values);
  const out = new Uint16Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i] as number;
    if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) {
      out[i] = (b >>> 16) | 0x40; // NaN stays a (quiet) NaN
    } else {
      out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16; // cannot pass 2^32: the largest input here is −inf
    }
  }
  return out;
}
