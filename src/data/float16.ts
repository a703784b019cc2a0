/**
 * IEEE 754 half-precision (binary16) and bfloat16 conversion to float32, for readers of files that
 * store them (npy `<f2`, safetensors `F16` / `BF16`). WebGPU here has no f16, so data is widened on
 * load.
 *
 * @module
 */

/** The float value of one binary16 bit pattern (subnormals, infinities and NaN included). */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/**
 * Widens `count` little-endian binary16 values starting at `offset` of `bytes` to float32, into
 * `out` from element `at` (a new array by default), so a reader can convert chunk by chunk.
 */
export function halfsToFloat32(
  bytes: Uint8Array,
  offset: number,
  count: number,
  out: Float32Array = new Float32Array(count),
  at = 0,
): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * 2);
  // A table over all 65536 patterns would cost 256 KiB; the direct formula is fast enough.
  for (let i = 0; i < count; i++) out[at + i] = halfToFloat(view.getUint16(i * 2, true));
  return out;
}

/**
 * Widens `count` little-endian bfloat16 values starting at `offset` of `bytes` to float32, into
 * `out` from element `at` (a new array by default).
 */
export function bfloatsToFloat32(
  bytes: Uint8Array,
  offset: number,
  count: number,
  out: Float32Array = new Float32Array(count),
  at = 0,
): Float32Array {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * 2);
  for (let i = 0; i < count; i++) bits[at + i] = view.getUint16(i * 2, true) << 16;
  return out;
}

/** The binary16 bit pattern nearest to `value` (round to nearest even), for writers and tests. */
export function floatToHalf(value: number): number {
  const f32 = new Float32Array([value]);
  const x = new Uint32Array(f32.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1))) half++; // a carry rounds up to Inf
  return sign | half;
}
