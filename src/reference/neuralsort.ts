/**
 * CPU twin of `kernels/neuralsort.wgsl`, in float64: deterministic NeuralSort P̂ with the same
 * padding and clamping rules as the GPU path.
 *
 * Conventions (shared with the kernels). In a list of `n` slots, item `j` is valid when its label
 * is ≥ 0 (−1 marks padding); `nv` is the number of valid items. Rank positions `i = 0 … nv−1` are
 * the valid rows of P̂, valid items its valid columns; every other entry is 0. With
 * `ŝ_j = clamp(s_j / τ, ±scoreLimit(n))` and `â_j = Σ_k |ŝ_j − ŝ_k|` over valid `k`:
 *
 *     P̂[i, j] = softmax_j((nv − 1 − 2i)·ŝ_j − â_j)      (allRank: (n + 1 − 2(i+1))·s − A_s·1, / τ)
 *
 * @module
 */

import { PRELUDE } from "../gpu/prelude.ts";

/** The clamp applied to `s/τ` in a list of `n` slots: `SCORE_RANGE / max(n, 1)` (see the prelude). */
export function scoreLimit(n: number): number {
  return Math.fround(PRELUDE.SCORE_RANGE / Math.max(n, 1));
}

/** One list's valid items: their indices, and `ŝ` for each slot (0 where padded). */
export interface ListPrep {
  /** Indices of the valid items, in slot order. */
  valid: number[];
  /** Clamped `s/τ` per slot. */
  sHat: Float64Array;
}

/** Valid items and clamped, scaled scores of one list. */
export function prepList(scores: ArrayLike<number>, labels: ArrayLike<number>, tau: number) {
  const n = scores.length;
  const limit = scoreLimit(n);
  const valid: number[] = [];
  const sHat = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    if (labels[j] < 0) continue;
    valid.push(j);
    sHat[j] = Math.min(limit, Math.max(-limit, scores[j] / tau));
  }
  return { valid, sHat } satisfies ListPrep;
}

/**
 * Deterministic NeuralSort P̂ of one list, `n × n` row-major (rows = rank positions, columns =
 * slots); zero outside the valid block.
 */
export function neuralSortRef(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  tau: number,
): Float64Array {
  const n = scores.length;
  const { valid, sHat } = prepList(scores, labels, tau);
  const nv = valid.length;
  const a = new Float64Array(n);
  for (const j of valid) for (const k of valid) a[j] += Math.abs(sHat[j] - sHat[k]);
  const p = new Float64Array(n * n);
  const logits = new Float64Array(n);
  for (let i = 0; i < nv; i++) {
    const c = nv - 1 - 2 * i;
    let max = -Infinity;
    for (const j of valid) {
      logits[j] = c * sHat[j] - a[j];
      max = Math.max(max, logits[j]);
    }
    let sum = 0;
    for (const j of valid) sum += Math.exp(logits[j] - max);
    for (const j of valid) p[i * n + j] = Math.exp(logits[j] - max) / sum;
  }
  return p;
}
