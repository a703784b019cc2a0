/**
 * CPU twin of `kernels/neuralndcg.wgsl`, in float64: the NeuralNDCG loss (allRank `neuralNDCG` and
 * `neuralNDCG_transposed`) through NeuralSort (`./neuralsort.ts`) and Sinkhorn (`./sinkhorn.ts`),
 * with the same padding, clamping and stopping rules as the GPU paths, and exact (ideal) DCG.
 *
 * @module
 */

import { PRELUDE } from "../gpu/prelude.ts";
import { neuralSortRef, prepList } from "./neuralsort.ts";
import { sinkhornRef } from "./sinkhorn.ts";

/** allRank's `DEFAULT_EPS` (the prelude's `EPS`): the clamp of Sinkhorn sums and the IDCG guard. */
const EPS = PRELUDE.EPS;

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
