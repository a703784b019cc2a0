/**
 * The listwise reranker's per-candidate input features (`kernels/rerank_features.wgsl`), built on
 * the GPU in one dispatch from the first stage's embeddings and top-k result.
 *
 * @module
 */

import { RERANK_FEATURES } from "../gpu/kernels.ts";
import { rt } from "../gpu/runtime.ts";
import { shapeString, Tensor } from "../autodiff/tensor.ts";
import { dims2 } from "./common.ts";

/**
 * Feature width for embeddings of width `e`: `[q, c, q ⊙ c, s, r/k]` has `3e + 2` columns.
 */
export function rerankFeatureDim(e: number): number {
  return 3 * e + 2;
}

/**
 * Builds the reranker input `[queries·k, 3e + 2]`: for query `qi` and its j-th first-stage
 * candidate (0-based j, candidate row `topk[qi·k + j]` of `candidates`, score `scores[qi·k + j]`),
 * row `qi·k + j` is `[q, c, q ⊙ c, s, (j + 1)/k]`: the query embedding, the candidate embedding,
 * their element-wise product, the first-stage score and the rank scaled into (0, 1].
 *
 * The features are constants (no gradient flows to the embeddings or scores): the reranker trains
 * on top of a frozen first stage. Lists are `k` long; a query with fewer real candidates repeats a
 * valid index and marks the extra slots as padding in the reranker's mask.
 *
 * @param query `[queries, e]` query embeddings
 * @param candidates `[candidates, e]` gallery embeddings
 * @param topk `queries·k` candidate row indices, each query's list in first-stage rank order
 * @param scores `queries·k` first-stage scores (a tensor, e.g. gathered on the GPU, or host values)
 * @param k candidates per query
 *
 * @example
 * ```ts
 * import { rerankFeatures } from "./rerank_features.ts";
 * import { Tensor } from "../autodiff/tensor.ts";
 * const q = Tensor.fromRows([[1, 0], [0, 1]]);
 * const g = Tensor.fromRows([[1, 0], [0, 1], [0.6, 0.8]]);
 * const x = rerankFeatures(q, g, [0, 2, 1, 2], [1, 0.6, 1, 0.8], 2); // [4, 8]
 * ```
 */
export function rerankFeatures(
  query: Tensor,
  candidates: Tensor,
  topk: ArrayLike<number>,
  scores: Tensor | ArrayLike<number>,
  k: number,
): Tensor {
  const [queries, e] = dims2(query, "rerankFeatures");
  const [gallery, e2] = dims2(candidates, "rerankFeatures");
  if (e !== e2) {
    throw new RangeError(
      `rerankFeatures: query ${shapeString(query.shape)} and candidates ` +
        `${shapeString(candidates.shape)} differ in embedding width`,
    );
  }
  if (!Number.isInteger(k) || k < 1) {
    throw new RangeError(`rerankFeatures: k must be a positive integer, got ${k}`);
  }
  const rows = queries * k;
  if (topk.length !== rows) {
    throw new RangeError(
      `rerankFeatures: topk has ${topk.length} indices, expected queries·k = ${queries}·${k}`,
    );
  }
  const scoreCount = scores instanceof Tensor ? scores.size : scores.length;
  if (scoreCount !== rows) {
    throw new RangeError(
      `rerankFeatures: scores has ${scoreCount} values, expected queries·k = ${queries}·${k}`,
    );
  }
  const idx = new Uint32Array(Math.max(rows, 1));
  for (let r = 0; r < rows; r++) {
    const c = topk[r];
    if (!Number.isInteger(c) || c < 0 || c >= gallery) {
      throw new RangeError(`rerankFeatures: topk[${r}] = ${c} is outside 0..${gallery - 1}`);
    }
    idx[r] = c;
  }
  const width = rerankFeatureDim(e);
  const out = new Tensor([rows, width], { label: "rerank features" });
  const pool = rt().pool;
  const idxBuf = pool.acquire(idx.byteLength, "rerank topk");
  rt().upload(idxBuf, idx);
  const scoreT = scores instanceof Tensor ? scores : Tensor.from(scores, [rows]);
  const bindings = { query, cand: candidates, idx: idxBuf, scores: scoreT, out };
  RERANK_FEATURES.launch("rerank_features", bindings, { rows, e, k, width }, rows * width);
  pool.release(idxBuf);
  if (scoreT !== scores) scoreT.dispose();
  return out;
}
