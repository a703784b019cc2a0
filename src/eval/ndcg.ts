/**
 * NDCG@k for graded relevance (loss-level learning-to-rank evaluation), in float64 on the host.
 *
 * Gain `2^label − 1`, discount `1 / log2(rank + 1)`, ranks from 1. Ties in the scores are broken
 * by document order. A query whose ideal DCG@k is 0 (no relevant document) scores 1, as LightGBM's
 * `ndcg@k` does, so such queries neither reward nor punish a ranker; {@link meanNdcg} also reports
 * how many there were.
 *
 * @module
 */

/**
 * NDCG@k of one list.
 *
 * @example
 * ```ts
 * import { ndcgAt } from "./ndcg.ts";
 * ndcgAt([0.9, 0.1], [0, 1], 2); // the relevant item second: 1/log2(3) ≈ 0.6309
 * ```
 */
export function ndcgAt(scores: ArrayLike<number>, labels: ArrayLike<number>, k: number): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) =>
    scores[b] - scores[a] || a - b
  );
  const ideal = Array.from(labels).sort((a, b) => b - a);
  let dcg = 0;
  let idcg = 0;
  for (let r = 0; r < Math.min(k, n); r++) {
    const discount = 1 / Math.log2(r + 2);
    dcg += (2 ** labels[order[r]] - 1) * discount;
    idcg += (2 ** ideal[r] - 1) * discount;
  }
  return idcg === 0 ? 1 : dcg / idcg;
}

/**
 * Mean NDCG@k over queries, for each k, and each query's value (`perQuery`, for paired tests);
 * `noRelevant` counts the queries scored 1 by convention.
 */
export function meanNdcg(
  lists: { scores: ArrayLike<number>; labels: ArrayLike<number> }[],
  ks: readonly number[],
): {
  ndcg: Record<string, number>;
  perQuery: Record<string, Float64Array>;
  noRelevant: number;
} {
  const ndcg: Record<string, number> = {};
  const perQuery: Record<string, Float64Array> = {};
  for (const k of ks) {
    const values = Float64Array.from(lists, (l) => ndcgAt(l.scores, l.labels, k));
    perQuery[`NDCG@${k}`] = values;
    ndcg[`NDCG@${k}`] = lists.length ? values.reduce((a, v) => a + v, 0) / lists.length : NaN;
  }
  const noRelevant = lists.filter((l) => !Array.from(l.labels).some((v) => v > 0)).length;
  return { ndcg, perQuery, noRelevant };
}
