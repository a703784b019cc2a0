/**
 * CPU twin of `kernels/dropout.wgsl`: the same integer hash, so masks match the GPU bit for bit.
 *
 * @module
 */

import { lowbias32 } from "../util/random.ts";

/** The kernel's `dropout_hash(seed, step, i)`. */
export function dropoutHash(seed: number, step: number, i: number): number {
  return lowbias32((lowbias32((lowbias32(seed) ^ step) >>> 0) ^ i) >>> 0);
}

/** The drop threshold for probability `p`: an element is kept when its hash is ≥ this. */
export function dropoutThreshold(p: number): number {
  return Math.min(Math.floor(p * 2 ** 32), 2 ** 32 - 1);
}

/** Keep mask (1 = kept) of `n` elements. */
export function dropoutMaskRef(n: number, p: number, seed: number, step: number): Uint8Array {
  const threshold = dropoutThreshold(p);
  const keep = new Uint8Array(n);
  for (let i = 0; i < n; i++) keep[i] = dropoutHash(seed, step, i) >= threshold ? 1 : 0;
  return keep;
}

/** `x ⊙ keep / (1 − p)`. */
export function dropoutRef(
  x: ArrayLike<number>,
  p: number,
  seed: number,
  step: number,
): Float64Array {
  const keep = dropoutMaskRef(x.length, p, seed, step);
  const scale = 1 / (1 - p);
  return Float64Array.from(x, (v, i) => keep[i] ? v * scale : 0);
}
