/**
 * CPU twin of `kernels/rerank_features.wgsl`: the reranker's per-candidate input features.
 *
 * @module
 */

/**
 * Rows `[q, c_j, q ⊙ c_j, s_j, (j+1)/k]` for each query and its k candidates (row `qi·k + j`),
 * `3e + 2` columns.
 */
export function rerankFeaturesRef(
  query: ArrayLike<number>,
  cand: ArrayLike<number>,
  idx: ArrayLike<number>,
  scores: ArrayLike<number>,
  e: number,
  k: number,
): Float64Array {
  const rows = idx.length;
  const width = 3 * e + 2;
  const out = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) {
    const qi = Math.floor(r / k);
    const c = idx[r];
    const o = r * width;
    for (let d = 0; d < e; d++) {
      const qv = query[qi * e + d];
      const cv = cand[c * e + d];
      out[o + d] = qv;
      out[o + e + d] = cv;
      out[o + 2 * e + d] = qv * cv;
    }
    out[o + 3 * e] = scores[r];
    out[o + 3 * e + 1] = ((r % k) + 1) / k;
  }
  return out;
}
