/**
 * CPU twin of `kernels/retrieval.wgsl` and of the metrics of `src/eval/metrics.ts`, in float64:
 * the full score matrix, every query's ranking by sorting (with the same pessimistic tie rule), the
 * ranks of the relevant items, and each metric computed by walking the sorted rankings (so it does
 * not share code with the rank-based metrics it checks).
 *
 * @module
 */

import type { DirectionMetrics, RetrievalMetrics, RetrievalRanks } from "../data/relation.ts";

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
 * One query's ranking: gallery indices sorted by score (descending); among equal scores the
 * non-relevant items first (the pessimistic tie rule), then by index.
 */
export function rankingRef(scores: ArrayLike<number>, relevant: (g: number) => boolean): number[] {
  const idx = Array.from({ length: scores.length }, (_, g) => g);
  return idx.sort((x, y) => {
    if (scores[x] !== scores[y]) return scores[y] - scores[x];
    const rx = relevant(x) ? 1 : 0;
    const ry = relevant(y) ? 1 : 0;
    return rx !== ry ? rx - ry : x - y;
  });
}

/** Every query's ranking in both directions, from the float64 score matrix `S` (texts × images). */
export function rankingsRef(
  s: Float64Array,
  textToImage: ArrayLike<number>,
  numImages: number,
): { t2i: number[][]; i2t: number[][] } {
  const nt = textToImage.length;
  const t2i: number[][] = [];
  for (let t = 0; t < nt; t++) {
    t2i.push(
      rankingRef(s.subarray(t * numImages, (t + 1) * numImages), (i) => i === textToImage[t]),
    );
  }
  const i2t: number[][] = [];
  const column = new Float64Array(nt);
  for (let i = 0; i < numImages; i++) {
    for (let t = 0; t < nt; t++) column[t] = s[t * numImages + i];
    i2t.push(rankingRef(column, (t) => textToImage[t] === i));
  }
  return { t2i, i2t };
}

/** {@link RetrievalRanks} from the rankings: position (1-based) of each relevant item. */
export function retrievalRanksRef(
  texts: ArrayLike<number>,
  images: ArrayLike<number>,
  dim: number,
  textToImage: ArrayLike<number>,
  normalize = true,
): RetrievalRanks {
  return retrievalRef(texts, images, dim, textToImage, normalize).ranks;
}

/** The metrics of one direction by walking each query's ranking (`relevant[q](g)`). */
export function directionMetricsRef(
  rankings: number[][],
  relevant: ((g: number) => boolean)[],
): DirectionMetrics {
  const best: number[] = [];
  let ap = 0;
  let ndcg = 0;
  let hits = [0, 0, 0];
  rankings.forEach((ranking, q) => {
    let found = 0;
    let precisionSum = 0;
    let dcg = 0;
    let first = 0;
    ranking.forEach((g, pos) => {
      if (!relevant[q](g)) return;
      found++;
      precisionSum += found / (pos + 1);
      if (pos < 10) dcg += 1 / Math.log2(pos + 2);
      if (first === 0) first = pos + 1;
    });
    let idcg = 0;
    for (let k = 0; k < Math.min(found, 10); k++) idcg += 1 / Math.log2(k + 2);
    best.push(first);
    ap += precisionSum / found;
    ndcg += dcg / idcg;
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
    "NDCG@10": 100 * ndcg / n,
  };
}

/**
 * All metrics from raw embeddings (float64 scores, sorted rankings). Images without texts are not
 * image → text queries (they stay in the text → image gallery).
 */
export function retrievalMetricsRef(
  texts: ArrayLike<number>,
  images: ArrayLike<number>,
  dim: number,
  textToImage: ArrayLike<number>,
  normalize = true,
): RetrievalMetrics {
  return retrievalRef(texts, images, dim, textToImage, normalize).metrics;
}

/** Ranks and metrics together, from one float64 score matrix (see the two functions above). */
export function retrievalRef(
  texts: ArrayLike<number>,
  images: ArrayLike<number>,
  dim: number,
  textToImage: ArrayLike<number>,
  normalize = true,
): { ranks: RetrievalRanks; metrics: RetrievalMetrics } {
  const numImages = images.length / dim;
  const nt = textToImage.length;
  const s = scoreMatrixRef(texts, images, dim, normalize);
  const { t2i, i2t } = rankingsRef(s, textToImage, numImages);
  const ranks: RetrievalRanks = {
    numImages,
    textToImage: Int32Array.from(textToImage),
    t2i: new Uint32Array(nt),
    i2t: new Uint32Array(nt),
  };
  for (let t = 0; t < nt; t++) ranks.t2i[t] = t2i[t].indexOf(textToImage[t]) + 1;
  for (let i = 0; i < numImages; i++) {
    i2t[i].forEach((t, pos) => {
      if (textToImage[t] === i) ranks.i2t[t] = pos + 1;
    });
  }
  const t2iMetrics = directionMetricsRef(
    t2i,
    t2i.map((_, t) => (i: number) => i === textToImage[t]),
  );
  const hasText = new Set(Array.from(textToImage));
  const queries = i2t.map((_, i) => i).filter((i) => hasText.has(i));
  const i2tMetrics = directionMetricsRef(
    queries.map((i) => i2t[i]),
    queries.map((i) => (t: number) => textToImage[t] === i),
  );
  let rsum = 0;
  for (const k of ["R@1", "R@5", "R@10"] as const) rsum += t2iMetrics[k] + i2tMetrics[k];
  return { ranks, metrics: { t2i: t2iMetrics, i2t: i2tMetrics, rsum } };
}
