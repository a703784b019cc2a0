/**
 * Retrieval metrics from ranks (plain CPU code; the ranks come from the GPU, see
 * `./retrieval.ts`, or from the float64 reference in `src/reference/retrieval.ts`).
 *
 * Protocol (VSE++ / CLIP_benchmark): every query has one or more relevant gallery items, each with
 * its 1-based rank in the query's ranking (distinct ranks: ties are already resolved by the tie
 * rule, see {@link TIE_RULE}).
 *
 * - `R@K`: percent of queries whose best-ranked relevant item has rank ≤ K (K = 1, 5, 10).
 * - `MedR`: median best rank, floored as VSE++ does (`floor(median(ranks0)) + 1` over 0-based
 *   ranks, i.e. the floor of the 1-based median).
 * - `MeanR`: mean best rank.
 * - `mAP`: mean over queries of average precision over all relevant items,
 *   `AP = (1/m) Σ_k k / rank_k` with rank_1 < … < rank_m; in percent.
 * - `NDCG@10`: binary relevance, `DCG = Σ_{rank ≤ 10} 1 / log2(rank + 1)` over the relevant items,
 *   divided by the ideal DCG of `min(m, 10)` relevant items at the top; in percent.
 * - `rsum`: the sum of the six R@K of both directions.
 *
 * @module
 */

import {
  type DirectionMetrics,
  type RetrievalMetrics,
  type RetrievalRanks,
  textsByImage,
} from "../data/relation.ts";

export type { DirectionMetrics, RetrievalMetrics, RetrievalRanks } from "../data/relation.ts";
export { textsByImage } from "../data/relation.ts";

/** The tie rule shared by the GPU kernels and the CPU reference. */
export const TIE_RULE: string =
  "pessimistic: a non-relevant item with the same score as a relevant one ranks above it; tied " +
  "relevant items are ordered by index. A constant score row gives the worst possible ranks.";

/** The cut-offs of R@K. */
export const RECALL_KS = [1, 5, 10] as const;

/** The key order of {@link DirectionMetrics} (table rows, JSON). */
export const METRIC_KEYS = ["R@1", "R@5", "R@10", "MedR", "MeanR", "mAP", "NDCG@10"] as const;

/** Rank statistics of one query. */
export interface QueryStats {
  /** Best (smallest) rank of a relevant item. */
  best: number;
  /** Average precision, in [0, 1]. */
  ap: number;
  /** NDCG@10, in [0, 1]. */
  ndcg10: number;
}

/**
 * Statistics of one query from the 1-based ranks of its relevant items (distinct, any order).
 *
 * @example
 * ```ts
 * import { queryStats } from "./metrics.ts";
 * queryStats([2, 5]); // { best: 2, ap: (1/2 + 2/5) / 2 = 0.45, ndcg10: … }
 * ```
 */
export function queryStats(ranks: ArrayLike<number>): QueryStats {
  const m = ranks.length;
  if (m === 0) throw new RangeError("queryStats: a query needs at least one relevant item");
  const sorted = Float64Array.from(ranks).sort();
  for (let k = 0; k < m; k++) {
    const r = sorted[k];
    if (!Number.isInteger(r) || r < 1 || (k > 0 && r === sorted[k - 1])) {
      throw new RangeError(
        `queryStats: relevant ranks must be distinct integers ≥ 1, got ${Array.from(ranks)}`,
      );
    }
  }
  let ap = 0;
  let dcg = 0;
  let idcg = 0;
  for (let k = 0; k < m; k++) {
    ap += (k + 1) / sorted[k];
    if (sorted[k] <= 10) dcg += 1 / Math.log2(sorted[k] + 1);
    if (k < 10) idcg += 1 / Math.log2(k + 2);
  }
  return { best: sorted[0], ap: ap / m, ndcg10: dcg / idcg };
}

/** Floor of the median of `values` (the VSE++ MedR convention for 1-based ranks). */
export function flooredMedian(values: ArrayLike<number>): number {
  const s = Float64Array.from(values).sort();
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return Math.floor(median);
}

/**
 * The metrics of one direction. Query q's relevant items have ranks
 * `ranks[offsets[q] .. offsets[q + 1])` (CSR); every query needs at least one.
 */
export function directionMetrics(
  offsets: ArrayLike<number>,
  ranks: ArrayLike<number>,
): DirectionMetrics {
  const queries = offsets.length - 1;
  if (queries < 1) throw new RangeError("directionMetrics: no queries");
  const best = new Float64Array(queries);
  let ap = 0;
  let ndcg = 0;
  for (let q = 0; q < queries; q++) {
    const list = Array.prototype.slice.call(ranks, offsets[q], offsets[q + 1]) as number[];
    if (list.length === 0) {
      throw new RangeError(`directionMetrics: query ${q} has no relevant item`);
    }
    const s = queryStats(list);
    best[q] = s.best;
    ap += s.ap;
    ndcg += s.ndcg10;
  }
  const recall = (k: number) => 100 * best.filter((r) => r <= k).length / queries;
  return {
    "R@1": recall(1),
    "R@5": recall(5),
    "R@10": recall(10),
    MedR: flooredMedian(best),
    MeanR: best.reduce((a, b) => a + b, 0) / queries,
    mAP: 100 * ap / queries,
    "NDCG@10": 100 * ndcg / queries,
  };
}

/** Sum of the six R@K of both directions. */
export function rsum(t2i: DirectionMetrics, i2t: DirectionMetrics): number {
  return RECALL_KS.reduce((s, k) => s + t2i[`R@${k}`] + i2t[`R@${k}`], 0);
}

/**
 * Both directions' metrics from per-text ranks. Images without any text are gallery-only
 * distractors: they appear in every text's ranking but are not image → text queries.
 */
export function retrievalMetrics(r: RetrievalRanks): RetrievalMetrics {
  const n = r.t2i.length;
  const t2iOffsets = Uint32Array.from({ length: n + 1 }, (_, q) => q);
  const t2i = directionMetrics(t2iOffsets, r.t2i);
  const { offsets, order } = textsByImage(r.textToImage, r.numImages);
  const queryOffsets: number[] = [0];
  const ranks = new Uint32Array(n);
  let k = 0;
  for (let i = 0; i < r.numImages; i++) {
    if (offsets[i + 1] === offsets[i]) continue;
    for (let j = offsets[i]; j < offsets[i + 1]; j++) ranks[k++] = r.i2t[order[j]];
    queryOffsets.push(k);
  }
  const i2t = directionMetrics(queryOffsets, ranks);
  return { t2i, i2t, rsum: rsum(t2i, i2t) };
}

/** Number of image → text queries: the images that have at least one text. */
export function imageQueryCount(textToImage: ArrayLike<number>, numImages: number): number {
  const seen = new Uint8Array(numImages);
  let n = 0;
  for (let t = 0; t < textToImage.length; t++) {
    if (!seen[textToImage[t]]) {
      seen[textToImage[t]] = 1;
      n++;
    }
  }
  return n;
}

/**
 * `" (K without captions: gallery distractors)"` when K images have no text, else `""`: the note
 * the CLIs add to a dataset's size in their log lines.
 */
export function distractorNote(textToImage: ArrayLike<number>, numImages: number): string {
  const k = numImages - imageQueryCount(textToImage, numImages);
  return k > 0 ? ` (${k} without captions: gallery distractors)` : "";
}
