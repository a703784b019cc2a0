/**
 * CPU twin of `kernels/retrieval.wgsl` and of the metrics of `src/eval/metrics.ts`, in float64:
 * the full score matrix, a dense grade matrix, every query's ranking by sorting (with the same
 * pessimistic tie rule: among equal scores, lower grades first), the ranks of the relevant pairs,
 * and each metric computed by walking the sorted rankings (so it does not share code with the
 * rank-based metrics it checks).
 *
 * @module
 */

import type {
  DirectionMetrics,
  GradedRelation,
  RetrievalMetrics,
  RetrievalRanks,
} from "../data/relation.ts";

/**
 * Row-wise `x / ‖x‖` (float64; a zero row stays zero), or a float64 copy when `normalize` is
 * false. The norm is scaled by the row's largest |x| first, so float64 overflow cannot occur either.
 */
export function prepareRowsRef(
  x: ArrayLike<number>,
  rows: number,
  dim: number,
  normalize = true,
): Float64Array {
  const out = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let k = 0; k < dim; k++) m = Math.max(m, Math.abs(x[r * dim + k]));
    let s = 0;
    for (let k = 0; k < dim; k++) s += (x[r * dim + k] / (m || 1)) ** 2;
    const scale = !normalize ? 1 : m === 0 ? 0 : 1 / (m * Math.sqrt(s));
    for (let k = 0; k < dim; k++) out[r * dim + k] = x[r * dim + k] * scale;
  }
  return out;
}

/** `S[t, i] = <text t, image i>` (float64, `numTexts × numImages`), after {@link prepareRowsRef}. */
export function scoreMatrixRef(
  texts: ArrayLike<number>,
  images: ArrayLike<number>,
  dim: number,
  normalize = true,
): Float64Array {
  const nt = texts.length / dim;
  const ni = images.length / dim;
  const a = prepareRowsRef(texts, nt, dim, normalize);
  const b = prepareRowsRef(images, ni, dim, normalize);
  const s = new Float64Array(nt * ni);
  for (let t = 0; t < nt; t++) {
    for (let i = 0; i < ni; i++) {
      let d = 0;
      for (let k = 0; k < dim; k++) d += a[t * dim + k] * b[i * dim + k];
      s[t * ni + i] = d;
    }
  }
  return s;
}

/**
 * One query's ranking: gallery indices sorted by score (descending); among equal scores the lower
 * grade first (non-relevant items have grade 0: the pessimistic tie rule), then by index.
 * `grade(g)` may return a boolean (relevant or not) for binary relevance.
 */
export function rankingRef(
  scores: ArrayLike<number>,
  grade: (g: number) => number | boolean,
): number[] {
  const idx = Array.from({ length: scores.length }, (_, g) => g);
  return idx.sort((x, y) => {
    if (scores[x] !== scores[y]) return scores[y] - scores[x];
    const gx = Number(grade(x));
    const gy = Number(grade(y));
    return gx !== gy ? gx - gy : x - y;
  });
}

/**
 * The grade of every (text, image) pair, dense (`numTexts × numImages`, 0 = not relevant), from a
 * one-image-per-text relation (grade 1) or a {@link GradedRelation}.
 */
export function denseGradesRef(
  relation: ArrayLike<number> | GradedRelation,
  numTexts: number,
  numImages: number,
): Float64Array {
  const g = new Float64Array(numTexts * numImages);
  if ("offsets" in relation) {
    for (let t = 0; t < numTexts; t++) {
      for (let p = relation.offsets[t]; p < relation.offsets[t + 1]; p++) {
        g[t * numImages + relation.images[p]] = relation.grades[p];
      }
    }
  } else {
    for (let t = 0; t < numTexts; t++) g[t * numImages + relation[t]] = 1;
  }
  return g;
}

/** Every query's ranking in both directions, from the float64 score matrix `S` (texts × images). */
export function rankingsRef(
  s: Float64Array,
  grades: Float64Array,
  numTexts: number,
  numImages: number,
): { t2i: number[][]; i2t: number[][] } {
  const t2i: number[][] = [];
  for (let t = 0; t < numTexts; t++) {
    const row = (i: number) => grades[t * numImages + i];
    t2i.push(rankingRef(s.subarray(t * numImages, (t + 1) * numImages), row));
  }
  const i2t: number[][] = [];
  const column = new Float64Array(numTexts);
  for (let i = 0; i < numImages; i++) {
    for (let t = 0; t < numTexts; t++) column[t] = s[t * numImages + i];
    i2t.push(rankingRef(column, (t) => grades[t * numImages + i]));
  }
  return { t2i, i2t };
}

/** {@link RetrievalRanks} from the rankings: position (1-based) of each relevant pair's item. */
export function retrievalRanksRef(
  texts: ArrayLike<number>,
  images: ArrayLike<number>,
  dim: number,
  relation: ArrayLike<number> | GradedRelation,
  normalize = true,
): RetrievalRanks {
  return retrievalRef(texts, images, dim, relation, normalize).ranks;
}

/**
 * The metrics of one direction by walking each query's ranking: `grade[q](g)` is item g's grade
 * for query q (0 or false: not relevant; a boolean for binary relevance).
 */
export function directionMetricsRef(
  rankings: number[][],
  grade: ((g: number) => number | boolean)[],
): DirectionMetrics {
  const best: number[] = [];
  let ap = 0;
  let rr = 0;
  const ndcg = [0, 0, 0];
  let hits = [0, 0, 0];
  rankings.forEach((ranking, q) => {
    const gains = ranking.map((g) => Number(grade[q](g)));
    const top = Math.max(...gains);
    const ideal = gains.filter((v) => v > 0).sort((a, b) => b - a);
    let found = 0;
    let precisionSum = 0;
    let first = 0;
    gains.forEach((v, pos) => {
      if (v === 0) return;
      found++;
      precisionSum += found / (pos + 1);
      if (first === 0 && v === top) first = pos + 1;
    });
    [1, 5, 10].forEach((k, j) => {
      let dcg = 0;
      let idcg = 0;
      for (let pos = 0; pos < Math.min(k, gains.length); pos++) {
        dcg += (2 ** gains[pos] - 1) / Math.log2(pos + 2);
        if (pos < ideal.length) idcg += (2 ** ideal[pos] - 1) / Math.log2(pos + 2);
      }
      ndcg[j] += dcg / idcg;
    });
    best.push(first);
    ap += precisionSum / found;
    rr += 1 / first;
    hits = hits.map((h, j) => h + (first <= [1, 5, 10][j] ? 1 : 0));
  });
  const n = rankings.length;
  const sorted = [...best].sort((a, b) => a - b);
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return {
    "R@1": 100 * hits[0] / n,
    "R@5": 100 * hits[1] / n,
    "R@10": 100 * hits[2] / n,
    MedR: Math.floor(median),
    MeanR: best.reduce((a, b) => a + b, 0) / n,
    mAP: 100 * ap / n,
    MRR: 100 * rr / n,
    "NDCG@1": 100 * ndcg[0] / n,
    "NDCG@5": 100 * ndcg[1] / n,
    "NDCG@10": 100 * ndcg[2] / n,
  };
}

/**
 * All metrics from raw embeddings (float64 scores, sorted rankings). Images with no relevant text
 * are not image → text queries (they stay in the text → image gallery).
 */
export function retrievalMetricsRef(
  texts: ArrayLike<number>,
  images: ArrayLike<number>,
  dim: number,
  relation: ArrayLike<number> | GradedRelation,
  normalize = true,
): RetrievalMetrics {
  return retrievalRef(texts, images, dim, relation, normalize).metrics;
}

/**
 * Ranks and metrics together, from one float64 score matrix (see the two functions above).
 * `relation` is each text's image (grade 1) or a {@link GradedRelation}; the ranks come in the
 * relation's pair order (one pair per text for the former).
 */
export function retrievalRef(
  texts: ArrayLike<number>,
  images: ArrayLike<number>,
  dim: number,
  relation: ArrayLike<number> | GradedRelation,
  normalize = true,
): { ranks: RetrievalRanks; metrics: RetrievalMetrics } {
  const numImages = images.length / dim;
  const nt = texts.length / dim;
  const s = scoreMatrixRef(texts, images, dim, normalize);
  return retrievalFromScoresRef(s, s, nt, numImages, relation);
}

/**
 * Ranks and metrics from score matrices (texts × images, float64): text → image rankings read the
 * rows of `t2iScores`, image → text rankings the columns of `i2tScores` (the same matrix for plain
 * retrieval; bank-normalised retrieval changes each direction's scores differently).
 */
export function retrievalFromScoresRef(
  t2iScores: Float64Array,
  i2tScores: Float64Array,
  nt: number,
  numImages: number,
  relation: ArrayLike<number> | GradedRelation,
): { ranks: RetrievalRanks; metrics: RetrievalMetrics } {
  const grades = denseGradesRef(relation, nt, numImages);
  const both = rankingsRef(t2iScores, grades, nt, numImages);
  const t2i = both.t2i;
  const i2t = i2tScores === t2iScores
    ? both.i2t
    : rankingsRef(i2tScores, grades, nt, numImages).i2t;
  const pairs: [number, number, number][] = [];
  const offsets = new Int32Array(nt + 1);
  for (let t = 0; t < nt; t++) {
    if ("offsets" in relation) {
      for (let p = relation.offsets[t]; p < relation.offsets[t + 1]; p++) {
        pairs.push([t, relation.images[p], relation.grades[p]]);
      }
    } else {
      pairs.push([t, relation[t], 1]);
    }
    offsets[t + 1] = pairs.length;
  }
  const ranks: RetrievalRanks = {
    numImages,
    textToImage: Int32Array.from({ length: nt }, (_, t) => pairs[offsets[t]][1]),
    relevance: {
      offsets,
      images: Int32Array.from(pairs, (p) => p[1]),
      grades: Int32Array.from(pairs, (p) => p[2]),
    },
    t2i: Uint32Array.from(pairs, ([t, i]) => t2i[t].indexOf(i) + 1),
    i2t: Uint32Array.from(pairs, ([t, i]) => i2t[i].indexOf(t) + 1),
  };
  const t2iMetrics = directionMetricsRef(
    t2i,
    t2i.map((_, t) => (i: number) => grades[t * numImages + i]),
  );
  const hasText = new Set(pairs.map((p) => p[1]));
  const queries = i2t.map((_, i) => i).filter((i) => hasText.has(i));
  const i2tMetrics = directionMetricsRef(
    queries.map((i) => i2t[i]),
    queries.map((i) => (t: number) => grades[t * numImages + i]),
  );
  let rsum = 0;
  for (const k of ["R@1", "R@5", "R@10"] as const) rsum += t2iMetrics[k] + i2tMetrics[k];
  return { ranks, metrics: { t2i: t2iMetrics, i2t: i2tMetrics, rsum } };
}
