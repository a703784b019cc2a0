/**
 * CPU twin of `kernels/topk.wgsl` (with the scores of `kernels/retrieval.wgsl`), in float64: each
 * query's gallery items sorted by score (descending), lower index first among equal scores.
 *
 * @module
 */

import { prepareRowsRef } from "./retrieval.ts";

/** The `k` best gallery rows of every query row (`dim` columns each): indices and scores. */
export function topKRef(
  queries: ArrayLike<number>,
  gallery: ArrayLike<number>,
  dim: number,
  k: number,
  normalize = true,
): { indices: Int32Array; scores: Float64Array } {
  const nq = queries.length / dim;
  const ng = gallery.length / dim;
  const a = prepareRowsRef(queries, nq, dim, normalize);
  const b = prepareRowsRef(gallery, ng, dim, normalize);
  const indices = new Int32Array(nq * k);
  const scores = new Float64Array(nq * k);
  const s = new Float64Array(ng);
  for (let q = 0; q < nq; q++) {
    for (let g = 0; g < ng; g++) {
      let d = 0;
      for (let j = 0; j < dim; j++) d += a[q * dim + j] * b[g * dim + j];
      s[g] = d;
    }
    const order = Array.from({ length: ng }, (_, g) => g).sort((x, y) => s[y] - s[x] || x - y);
    for (let i = 0; i < k; i++) {
      indices[q * k + i] = order[i];
      scores[q * k + i] = s[order[i]];
    }
  }
  return { indices, scores };
}
