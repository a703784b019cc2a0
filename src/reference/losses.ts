/**
 * CPU twin of `kernels/losses.wgsl`, in float64: the label order (`sort_labels`, with its seeded
 * tie orders) and the helpers of the per-loss twins (`./<loss>.ts`). A list is one row; label −1
 * (any negative label) marks padding.
 *
 * Ties in sorts are broken by ascending item index (a stable sort), as in the kernels.
 *
 * @module
 */

import { PRELUDE } from "../gpu/prelude.ts";
import { lowbias32 } from "../util/random.ts";

/** allRank's `DEFAULT_EPS` (the prelude's `EPS`). */
export const ALLRANK_EPS = PRELUDE.EPS;

/** Score or label rows, one per list. */
export type Rows = readonly (readonly number[])[];

/** Whether a label marks a valid (not padded) item. */
export const isValid = (label: number) => label >= 0;
/** The gain 2^y − 1. */
export const gain = (label: number) => 2 ** label - 1;
/** A sigmoid that stays finite at large |x|. */
export const sigmoid = (x: number) =>
  x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
/** log(1 + e^x), stable. */
export const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

/** Indices of a row's valid items. */
export function validIndices(labels: readonly number[]): number[] {
  return labels.flatMap((y, i) => isValid(y) ? [i] : []);
}

/** Valid indices sorted by descending `key`, ties by ascending index. */
export function sortedBy(labels: readonly number[], key: readonly number[]): number[] {
  return validIndices(labels).sort((a, b) => key[b] - key[a] || a - b);
}

/** The mean (0 of nothing). */
export function meanOf(values: number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

/** log softmax, computed as (v − max) − log Σ exp(v − max): exact at ±1e30, where max + log Σ … is not. */
export function logSoftmax(values: number[]): number[] {
  const m = Math.max(...values);
  const lz = Math.log(values.reduce((acc, v) => acc + Math.exp(v - m), 0));
  return values.map((v) => (v - m) - lz);
}

function gcdRef(x: number, y: number): number {
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

/** `tie_slot` of `kernels/losses.wgsl`: the k-th of m tied items' slot (identity when h is 0). */
export function tieSlotRef(k: number, m: number, h: number): number {
  if (h === 0 || m < 2 || m > 65535) return k;
  let a = 1 + (h % m);
  while (gcdRef(a, m) !== 1) a = (a % m) + 1;
  const b = lowbias32(h) % m;
  return (a * k + b) % m;
}

/**
 * The label order of one list as `sort_labels` builds it: valid items by descending label, each
 * tie class in index order (`tieSeed` 0) or in the seeded affine order of the kernel.
 */
export function labelOrderRef(labels: readonly number[], tieSeed: number, list: number): number[] {
  const rel = labels.flatMap((v, i) => (v > 0 ? [i] : []));
  const zero = labels.flatMap((v, i) => (v === 0 ? [i] : []));
  let hr = 0;
  let hz = 0;
  if (tieSeed !== 0) {
    hr = (lowbias32((tieSeed ^ lowbias32((list + 0x9e3779b9) >>> 0)) >>> 0) | 1) >>> 0;
    hz = (lowbias32((hr ^ 0x85ebca6b) >>> 0) | 1) >>> 0;
  }
  const relSlots: number[] = new Array(rel.length);
  rel.forEach((i, k) => relSlots[tieSlotRef(k, rel.length, hr)] = i);
  const zeroSlots: number[] = new Array(zero.length);
  zero.forEach((i, k) => zeroSlots[tieSlotRef(k, zero.length, hz)] = i);
  // stable sort of the relevant items by descending label keeps each tie class's slot order
  const relSorted = relSlots.map((i, slot) => ({ i, slot }))
    .sort((a, b) => labels[b.i] - labels[a.i] || a.slot - b.slot).map((e) => e.i);
  return [...relSorted, ...zeroSlots];
}
