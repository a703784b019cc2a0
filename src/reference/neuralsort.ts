/**
 * CPU twins of `kernels/neuralsort.wgsl` and `kernels/sinkhorn.wgsl`, in float64: deterministic
 * NeuralSort P̂, Sinkhorn scaling, and the NeuralNDCG loss (allRank `neuralNDCG` and
 * `neuralNDCG_transposed`) with the same padding, clamping and stopping rules as the GPU path.
 *
 * Conventions (shared with the kernels). In a list of `n` slots, item `j` is valid when its label
 * is ≥ 0 (−1 marks padding); `nv` is the number of valid items. Rank positions `i = 0 … nv−1` are
 * the valid rows of P̂, valid items its valid columns; every other entry is 0. With
 * `ŝ_j = clamp(s_j / τ, ±scoreLimit(n))` and `â_j = Σ_k |ŝ_j − ŝ_k|` over valid `k`:
 *
 *     P̂[i, j] = softmax_j((nv − 1 − 2i)·ŝ_j − â_j)      (allRank: (n + 1 − 2(i+1))·s − A_s·1, / τ)
 *
 * Sinkhorn alternately divides columns then rows of the valid block by their sums (clamped below at
 * `EPS`, see `src/gpu/prelude.ts`) and stops after the first iteration whose row and column sums are all
 * within `tol` of 1, or after `maxIter` iterations; each list stops on its own.
 *
 * @module
 */

import { PRELUDE } from "../gpu/prelude.ts";

/** allRank's `DEFAULT_EPS` (the prelude's `EPS`): the clamp of Sinkhorn sums and the IDCG guard. */
const EPS = PRELUDE.EPS;

/** The clamp applied to `s/τ` in a list of `n` slots: `SCORE_RANGE / max(n, 1)` (see the prelude). */
export function scoreLimit(n: number): number {
  return Math.fround(PRELUDE.SCORE_RANGE / Math.max(n, 1));
}

/** Options of {@link neuralNdcgRef} (the resolved loss options). */
export interface NeuralNdcgRefOptions {
  /** NeuralSort temperature τ > 0. */
  temperature: number;
  /** Gains 2^y − 1 (true) or y (false). */
  poweredRelevancies: boolean;
  /** Rank cutoff; 0 = none (allRank `k=None`). */
  k: number;
  /** Apply Sinkhorn scaling. */
  sinkhorn: boolean;
  /** Sinkhorn tolerance. */
  tol: number;
  /** Sinkhorn iteration cap. */
  maxIter: number;
  /** `neuralNDCG_transposed` (expected discount per item) instead of expected gain per rank. */
  transposed: boolean;
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

/** Result of {@link sinkhornRef}. */
export interface SinkhornRefResult {
  /** The scaled matrix, `n × n` row-major. */
  matrix: Float64Array;
  /** Iterations performed (each: one column and one row normalisation). */
  iterations: number;
}

/**
 * Sinkhorn scaling of the valid block (rows `0 … nv−1`, the columns in `valid`) of an `n × n`
 * matrix, as allRank's `sinkhorn_scaling` for one list: columns then rows are divided by their sums
 * (clamped at `EPS`, see `src/gpu/prelude.ts`); stop once every row and column sum is within `tol` of 1.
 */
export function sinkhornRef(
  p: ArrayLike<number>,
  n: number,
  valid: readonly number[],
  tol: number,
  maxIter: number,
): SinkhornRefResult {
  const nv = valid.length;
  const m = Float64Array.from(p);
  let iterations = 0;
  for (let t = 0; t < maxIter; t++) {
    for (const j of valid) {
      let cs = 0;
      for (let i = 0; i < nv; i++) cs += m[i * n + j];
      const q = Math.max(cs, EPS);
      for (let i = 0; i < nv; i++) m[i * n + j] /= q;
    }
    let err = 0;
    for (let i = 0; i < nv; i++) {
      let rs = 0;
      for (const j of valid) rs += m[i * n + j];
      const r = Math.max(rs, EPS);
      rs = 0;
      for (const j of valid) rs += m[i * n + j] /= r;
      err = Math.max(err, Math.abs(rs - 1));
    }
    iterations = t + 1;
    for (const j of valid) {
      let cs = 0;
      for (let i = 0; i < nv; i++) cs += m[i * n + j];
      err = Math.max(err, Math.abs(cs - 1));
    }
    if (err < tol) break;
  }
  return { matrix: m, iterations };
}

/** The gain of a label: `2^y − 1` when powered, else `y`. */
export function gainRef(y: number, powered: boolean): number {
  return powered ? 2 ** y - 1 : y;
}

/** The effective cutoff of a list with `nv` valid items: `min(k, nv)`, or `nv` when `k` is 0. */
export function cutoff(k: number, nv: number): number {
  return k > 0 ? Math.min(k, nv) : nv;
}

/** Ideal DCG@k of one list (valid labels sorted descending, discount `1/log2(rank + 2)`). */
export function idcgRef(labels: ArrayLike<number>, k: number, powered: boolean): number {
  const sorted = Array.from(labels).filter((y) => y >= 0).sort((x, y) => y - x);
  const cut = cutoff(k, sorted.length);
  let s = 0;
  for (let r = 0; r < cut; r++) s += gainRef(sorted[r], powered) / Math.log2(r + 2);
  return s;
}

/** NDCG@k of one list ranked by `scores` (ties broken by slot order), with the same gains. */
export function ndcgRef(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  k: number,
  powered: boolean,
): number {
  const valid = Array.from({ length: scores.length }, (_, j) => j).filter((j) => labels[j] >= 0);
  const order = [...valid].sort((x, y) => scores[y] - scores[x] || x - y);
  const idcg = idcgRef(labels, k, powered);
  if (idcg === 0) return 0;
  let dcg = 0;
  const cut = cutoff(k, valid.length);
  for (let r = 0; r < cut; r++) dcg += gainRef(labels[order[r]], powered) / Math.log2(r + 2);
  return dcg / (idcg + EPS);
}

/** Per-list quantities of {@link neuralNdcgRef}. */
export interface NeuralNdcgListRef {
  /** Soft DCG@k: Σ_i d_i Σ_j M[i, j] g_j. */
  dcg: number;
  /** Ideal DCG@k. */
  idcg: number;
  /** Sinkhorn iterations (0 without Sinkhorn). */
  iterations: number;
}

/** Soft DCG, IDCG and Sinkhorn iterations of one list. */
export function neuralNdcgListRef(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  options: NeuralNdcgRefOptions,
): NeuralNdcgListRef {
  const n = scores.length;
  const { valid } = prepList(scores, labels, options.temperature);
  const nv = valid.length;
  let m = neuralSortRef(scores, labels, options.temperature);
  let iterations = 0;
  if (options.sinkhorn) {
    const r = sinkhornRef(m, n, valid, options.tol, options.maxIter);
    m = r.matrix;
    iterations = r.iterations;
  }
  const cut = cutoff(options.k, nv);
  const gain = (j: number) => gainRef(labels[j], options.poweredRelevancies);
  let dcg = 0;
  if (options.transposed) {
    // allRank neuralNDCG_transposed: the expected discount of each item, times its gain.
    for (const j of valid) {
      let expected = 0;
      for (let i = 0; i < cut; i++) expected += m[i * n + j] / Math.log2(i + 2);
      dcg += gain(j) * expected;
    }
  } else {
    // allRank neuralNDCG: the expected gain at each rank, discounted.
    for (let i = 0; i < cut; i++) {
      let expected = 0;
      for (const j of valid) expected += m[i * n + j] * gain(j);
      dcg += expected / Math.log2(i + 2);
    }
  }
  return { dcg, idcg: idcgRef(labels, options.k, options.poweredRelevancies), iterations };
}

/**
 * The NeuralNDCG loss of a batch: `−(1/N) Σ_l dcg_l / (idcg_l + 1e-10)` over the `N` lists with a
 * positive IDCG (lists with IDCG 0 contribute 0; the loss is 0 when every list has IDCG 0).
 */
export function neuralNdcgRef(
  scores: readonly (readonly number[])[],
  labels: readonly (readonly number[])[],
  options: NeuralNdcgRefOptions,
): number {
  let sum = 0;
  let count = 0;
  scores.forEach((row, l) => {
    const { dcg, idcg } = neuralNdcgListRef(row, labels[l], options);
    if (idcg === 0) return;
    sum += dcg / (idcg + EPS);
    count++;
  });
  return count === 0 ? 0 : -sum / count;
}
