/**
 * Retrieval metrics from ranks (plain CPU code; the ranks come from the GPU, see
 * `./retrieval.ts`, or from the float64 reference in `src/reference/retrieval.ts`).
 *
 * Protocol (VSE++ / CLIP_benchmark, extended to graded relevance): every query has one or more
 * relevant gallery items, each with an integer grade ≥ 1 (ungraded data: grade 1) and its 1-based
 * rank in the query's ranking (distinct ranks: ties are already resolved by the tie rule, see
 * {@link TIE_RULE}).
 *
 * - `R@K`: percent of queries with an item of the query's *highest* grade at rank ≤ K (K = 1, 5,
 *   10).
 * - `MedR`: median rank of the best-ranked item of the highest grade, floored as VSE++ does
 *   (`floor(median(ranks0)) + 1` over 0-based ranks, i.e. the floor of the 1-based median).
 * - `MeanR`: mean of that rank.
 * - `mAP`: mean over queries of average precision with every item of grade ≥ 1 relevant,
 *   `AP = (1/m) Σ_k k / rank_k` with rank_1 < … < rank_m; in percent.
 * - `MRR`: mean over queries of `1 / rank` of the best-ranked item of the query's highest grade
 *   (the rank R@K and MedR use, so with graded relevance a lower-grade item ranked first does not
 *   count as the first relevant answer); in percent. One grade: the classic MRR.
 * - `NDCG@K` (K = 1, 5, 10): gains `2^grade − 1`, `DCG@K = Σ_{rank ≤ K} gain / log2(rank + 1)`,
 *   divided by the DCG@K of the ideal order of all the query's graded items (grades descending);
 *   in percent. With one grade this is binary NDCG.
 * - `rsum`: the sum of the six R@K of both directions.
 *
 * @module
 */

import type { RetrievalDataset } from "../data/types.ts";
import {
  type DirectionMetrics,
  type GradedRelation,
  pairsByImage,
  relevanceOf,
  type RetrievalMetrics,
  type RetrievalRanks,
} from "../data/relation.ts";

export type { DirectionMetrics, RetrievalMetrics, RetrievalRanks } from "../data/relation.ts";

/** The tie rule shared by the GPU kernels and the CPU reference. */
export const TIE_RULE: string =
  "pessimistic: an item with the same score as a relevant item ranks above it when its grade is " +
  "lower (a non-relevant item has grade 0); tied items of equal grade are ordered by index. A " +
  "constant score row gives the worst possible ranks.";

/** The cut-offs of R@K. */
export const RECALL_KS = [1, 5, 10] as const;

/** The key order of {@link DirectionMetrics} (table rows, JSON, `metrics.csv`). */
export const METRIC_KEYS = [
  "R@1",
  "R@5",
  "R@10",
  "MedR",
  "MeanR",
  "mAP",
  "MRR",
  "NDCG@1",
  "NDCG@5",
  "NDCG@10",
] as const;

/** Rank statistics of one query. */
export interface QueryStats {
  /** Best (smallest) rank of an item of the query's highest grade. */
  best: number;
  /** Average precision (every graded item relevant), in [0, 1]. */
  ap: number;
  /** Reciprocal rank `1 / best`, in (0, 1]. */
  rr: number;
  /** NDCG@1, in [0, 1]. */
  ndcg1: number;
  /** NDCG@5, in [0, 1]. */
  ndcg5: number;
  /** NDCG@10, in [0, 1]. */
  ndcg10: number;
}

function discount(rank: number): number {
  return 1 / Math.log2(rank + 1);
}

/**
 * Statistics of one query from the 1-based ranks of its relevant items (distinct, any order) and
 * their grades (integers ≥ 1; all 1 when omitted).
 *
 * @example
 * ```ts
 * import { queryStats } from "./metrics.ts";
 * queryStats([2, 5]); // { best: 2, ap: (1/2 + 2/5) / 2 = 0.45, rr: 1/2, ndcg10: … }
 * queryStats([2, 1], [3, 1]); // best 2: the grade-3 item is the one R@K and MedR look for
 * ```
 */
export function queryStats(ranks: ArrayLike<number>, grades?: ArrayLike<number>): QueryStats {
  const m = ranks.length;
  if (m === 0) throw new RangeError("queryStats: a query needs at least one relevant item");
  if (grades !== undefined && grades.length !== m) {
    throw new RangeError(`queryStats: ${m} ranks but ${grades.length} grades`);
  }
  const items = Array.from({ length: m }, (_, k) => ({
    rank: ranks[k],
    grade: grades === undefined ? 1 : grades[k],
  })).sort((a, b) => a.rank - b.rank);
  items.forEach(({ rank, grade }, k) => {
    if (!Number.isInteger(rank) || rank < 1 || (k > 0 && rank === items[k - 1].rank)) {
      throw new RangeError(
        `queryStats: relevant ranks must be distinct integers ≥ 1, got ${Array.from(ranks)}`,
      );
    }
    if (!Number.isInteger(grade) || grade < 1) {
      throw new RangeError(`queryStats: grades must be integers ≥ 1, got ${Array.from(grades!)}`);
    }
  });
  const top = Math.max(...items.map((i) => i.grade));
  const ideal = items.map((i) => 2 ** i.grade - 1).sort((a, b) => b - a);
  const ndcg = (k: number) => {
    let dcg = 0;
    let idcg = 0;
    for (let j = 0; j < m; j++) {
      if (items[j].rank <= k) dcg += (2 ** items[j].grade - 1) * discount(items[j].rank);
      if (j < k) idcg += ideal[j] * discount(j + 1);
    }
    return dcg / idcg;
  };
  let ap = 0;
  for (let k = 0; k < m; k++) ap += (k + 1) / items[k].rank;
  const best = items.find((i) => i.grade === top)!.rank;
  return {
    best,
    ap: ap / m,
    rr: 1 / best,
    ndcg1: ndcg(1),
    ndcg5: ndcg(5),
    ndcg10: ndcg(10),
  };
}

/** Floor of the median of `values` (the VSE++ MedR convention for 1-based ranks). */
export function flooredMedian(values: ArrayLike<number>): number {
  const s = Float64Array.from(values).sort();
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return Math.floor(median);
}

/** The metrics of one direction from its queries' statistics. */
export function aggregateQueries(stats: readonly QueryStats[]): DirectionMetrics {
  const queries = stats.length;
  if (queries < 1) throw new RangeError("directionMetrics: no queries");
  const best = Float64Array.from(stats, (s) => s.best);
  const mean = (f: (s: QueryStats) => number) =>
    100 * stats.reduce((a, s) => a + f(s), 0) / queries;
  const recall = (k: number) => 100 * best.filter((r) => r <= k).length / queries;
  return {
    "R@1": recall(1),
    "R@5": recall(5),
    "R@10": recall(10),
    MedR: flooredMedian(best),
    MeanR: best.reduce((a, b) => a + b, 0) / queries,
    mAP: mean((s) => s.ap),
    MRR: mean((s) => s.rr),
    "NDCG@1": mean((s) => s.ndcg1),
    "NDCG@5": mean((s) => s.ndcg5),
    "NDCG@10": mean((s) => s.ndcg10),
  };
}

/**
 * The statistics of each query of one direction: query q's relevant items have ranks
 * `ranks[offsets[q] .. offsets[q + 1])` (CSR) and grades `grades[…]` (all 1 when omitted); every
 * query needs at least one.
 */
export function directionQueryStats(
  offsets: ArrayLike<number>,
  ranks: ArrayLike<number>,
  grades?: ArrayLike<number>,
): QueryStats[] {
  const out: QueryStats[] = [];
  for (let q = 0; q + 1 < offsets.length; q++) {
    const [a, b] = [offsets[q], offsets[q + 1]];
    if (b <= a) throw new RangeError(`directionMetrics: query ${q} has no relevant item`);
    const slice = (x: ArrayLike<number>) => Array.prototype.slice.call(x, a, b) as number[];
    out.push(queryStats(slice(ranks), grades === undefined ? undefined : slice(grades)));
  }
  return out;
}

/**
 * The metrics of one direction. Query q's relevant items have ranks
 * `ranks[offsets[q] .. offsets[q + 1])` (CSR) and grades `grades[…]` (all 1 when omitted); every
 * query needs at least one.
 */
export function directionMetrics(
  offsets: ArrayLike<number>,
  ranks: ArrayLike<number>,
  grades?: ArrayLike<number>,
): DirectionMetrics {
  return aggregateQueries(directionQueryStats(offsets, ranks, grades));
}

/** Sum of the six R@K of both directions. */
export function rsum(t2i: DirectionMetrics, i2t: DirectionMetrics): number {
  return RECALL_KS.reduce((s, k) => s + t2i[`R@${k}`] + i2t[`R@${k}`], 0);
}

/**
 * Every query's statistics in both directions: `t2i[t]` for text t; `i2t` for each image that has
 * at least one relevant text, in image order (`imageQueries` lists them). Images without any are
 * gallery-only distractors: they appear in every text's ranking but are not image → text queries.
 */
export function queryOutcomes(
  r: RetrievalRanks,
): { t2i: QueryStats[]; i2t: QueryStats[]; imageQueries: number[] } {
  const rel = r.relevance;
  const pairs = rel.images.length;
  if (r.t2i.length !== pairs || r.i2t.length !== pairs) {
    throw new RangeError(
      `retrievalMetrics: ${pairs} relevant pairs but ${r.t2i.length} t2i and ${r.i2t.length} ` +
        "i2t ranks",
    );
  }
  const t2i = directionQueryStats(rel.offsets, r.t2i, rel.grades);
  const { offsets, order } = pairsByImage(rel, r.numImages);
  const queryOffsets: number[] = [0];
  const imageQueries: number[] = [];
  const ranks = new Uint32Array(pairs);
  const grades = new Int32Array(pairs);
  let k = 0;
  for (let i = 0; i < r.numImages; i++) {
    if (offsets[i + 1] === offsets[i]) continue;
    for (let j = offsets[i]; j < offsets[i + 1]; j++) {
      ranks[k] = r.i2t[order[j]];
      grades[k++] = rel.grades[order[j]];
    }
    queryOffsets.push(k);
    imageQueries.push(i);
  }
  return { t2i, i2t: directionQueryStats(queryOffsets, ranks, grades), imageQueries };
}

/** Both directions' metrics from per-pair ranks (see {@link queryOutcomes} for the queries). */
export function retrievalMetrics(r: RetrievalRanks): RetrievalMetrics {
  const q = queryOutcomes(r);
  const t2i = aggregateQueries(q.t2i);
  const i2t = aggregateQueries(q.i2t);
  return { t2i, i2t, rsum: rsum(t2i, i2t) };
}

/** Number of image → text queries: the images that have at least one relevant text. */
export function imageQueryCount(relevance: GradedRelation, numImages: number): number {
  const seen = new Uint8Array(numImages);
  let n = 0;
  for (const i of relevance.images) {
    if (!seen[i]) {
      seen[i] = 1;
      n++;
    }
  }
  return n;
}

/**
 * `" (K without captions: gallery distractors)"` when K images have no text, else `""`: the note
 * the CLIs add to a dataset's size in their log lines.
 */
export function distractorNote(
  ds: Pick<RetrievalDataset, "textToImage" | "relevance" | "numImages">,
): string {
  const k = ds.numImages - imageQueryCount(relevanceOf(ds), ds.numImages);
  return k > 0 ? ` (${k} without captions: gallery distractors)` : "";
}
