/**
 * CPU twin of `kernels/bank_norm.wgsl` and of the bank normalisations built on it
 * (`src/ops/bank_norm.ts`, `src/eval/bank_norm.ts`), in float64: the whole bank × gallery score
 * matrix at once (the GPU never holds it), each gallery item's log-sum-exp and top-k over the
 * bank, the activation set of QB-Norm's dynamic inverted softmax, and the normalised rankings.
 *
 * Every method here ranks by `s(q, g) − bias[g]` (for the queries it normalises), the logarithm
 * of the papers' normalised scores divided by a positive constant, which orders a query's gallery
 * the same way:
 *
 * - `invsoftmax` (QB-Norm, dynamic inverted softmax): `exp(β s) / Σ_b exp(β s(b, g))` over the
 *   query bank b → bias `LSE_b(β s(b, g)) / β`; only queries whose raw top-1 item is in the
 *   activation set (the items in some bank query's raw top k) are normalised.
 * - `dbnorm` (DBNorm's dual inverted softmax): the product of the query-bank and the gallery-bank
 *   inverted softmaxes, `exp(β1 s) / Σ_b exp(β1 s(b, g)) · exp(β2 s) / Σ_h exp(β2 s(h, g))` (h: the
 *   gallery bank, items of the gallery's modality) → bias `(LSE_b(β1 s) + LSE_h(β2 s)) / (β1 + β2)`.
 * - `nnn` (Nearest Neighbor Normalization): `s − α · mean of the k largest s(b, g)` over the bank.
 *
 * @module
 */

import type { GradedRelation, RetrievalMetrics, RetrievalRanks } from "../data/relation.ts";
import { retrievalFromScoresRef, scoreMatrixRef } from "./retrieval.ts";
import { topKRef } from "./topk.ts";

/** One direction's normalisation: a bias per gallery item, and the normalised queries (all if absent). */
export interface DirectionNormRef {
  /** Subtracted from every score of gallery item g (for the normalised queries). */
  bias: ArrayLike<number>;
  /** Per query, whether its scores are normalised (absent: all are). */
  active?: ArrayLike<number | boolean>;
}

/** `S[b, g] = <bank b, gallery g>` (float64, bank rows × gallery rows). */
function bankScores(
  bank: ArrayLike<number>,
  gallery: ArrayLike<number>,
  dim: number,
  normalize: boolean,
): { s: Float64Array; nb: number; ng: number } {
  const nb = bank.length / dim;
  const ng = gallery.length / dim;
  return { s: scoreMatrixRef(bank, gallery, dim, normalize), nb, ng };
}

/** `ln Σ_b exp(β · s(b, g))` for every gallery row g (max-shifted, float64). */
export function bankLseRef(
  bank: ArrayLike<number>,
  gallery: ArrayLike<number>,
  dim: number,
  beta: number,
  normalize = true,
): Float64Array {
  const { s, nb, ng } = bankScores(bank, gallery, dim, normalize);
  const out = new Float64Array(ng);
  for (let g = 0; g < ng; g++) {
    let m = -Infinity;
    for (let b = 0; b < nb; b++) m = Math.max(m, beta * s[b * ng + g]);
    let z = 0;
    for (let b = 0; b < nb; b++) z += Math.exp(beta * s[b * ng + g] - m);
    out[g] = m + Math.log(z);
  }
  return out;
}

/** The `k` largest `s(b, g)` over the bank of every gallery row g, largest first (`ng × k`). */
export function bankTopKRef(
  bank: ArrayLike<number>,
  gallery: ArrayLike<number>,
  dim: number,
  k: number,
  normalize = true,
): Float64Array {
  const { s, nb, ng } = bankScores(bank, gallery, dim, normalize);
  const out = new Float64Array(ng * k);
  for (let g = 0; g < ng; g++) {
    const column = Array.from({ length: nb }, (_, b) => s[b * ng + g]).sort((x, y) => y - x);
    for (let j = 0; j < k; j++) out[g * k + j] = column[j];
  }
  return out;
}

/**
 * QB-Norm's activation set: 1 for the gallery items among the raw top `k` of at least one bank
 * query (ties: the lower index first, as `topKRef`), else 0.
 */
export function activationRef(
  bank: ArrayLike<number>,
  gallery: ArrayLike<number>,
  dim: number,
  k: number,
  normalize = true,
): Uint8Array {
  const out = new Uint8Array(gallery.length / dim);
  for (const g of topKRef(bank, gallery, dim, k, normalize).indices) out[g] = 1;
  return out;
}

/** The parameters of each method (see the module documentation). */
export type BankNormRef =
  | { method: "invsoftmax"; beta: number; k: number }
  | { method: "dbnorm"; beta1: number; beta2: number }
  | { method: "nnn"; alpha: number; k: number };

/**
 * One direction's normalisation: `queries` rank `gallery`; `queryBank` holds bank rows of the
 * queries' modality, `galleryBank` (DBNorm) of the gallery's.
 */
export function directionNormRef(
  norm: BankNormRef,
  queries: ArrayLike<number>,
  gallery: ArrayLike<number>,
  queryBank: ArrayLike<number>,
  galleryBank: ArrayLike<number>,
  dim: number,
  normalize = true,
): DirectionNormRef {
  if (norm.method === "invsoftmax") {
    const lse = bankLseRef(queryBank, gallery, dim, norm.beta, normalize);
    const activated = activationRef(queryBank, gallery, dim, norm.k, normalize);
    const top1 = topKRef(queries, gallery, dim, 1, normalize).indices;
    return {
      bias: lse.map((v) => v / norm.beta),
      active: Uint8Array.from(top1, (g) => activated[g]),
    };
  }
  if (norm.method === "dbnorm") {
    const q = bankLseRef(queryBank, gallery, dim, norm.beta1, normalize);
    const h = bankLseRef(galleryBank, gallery, dim, norm.beta2, normalize);
    return { bias: q.map((v, g) => (v + h[g]) / (norm.beta1 + norm.beta2)) };
  }
  const top = bankTopKRef(queryBank, gallery, dim, norm.k, normalize);
  const ng = gallery.length / dim;
  const bias = new Float64Array(ng);
  for (let g = 0; g < ng; g++) {
    let sum = 0;
    for (let j = 0; j < norm.k; j++) sum += top[g * norm.k + j];
    bias[g] = norm.alpha * sum / norm.k;
  }
  return { bias };
}

/**
 * Both directions' normalisations from a bank of texts and images: text → image normalises the
 * images with the text bank (and, for DBNorm, the image bank), image → text the texts with the
 * image bank (and the text bank).
 */
export function bankNormRef(
  norm: BankNormRef,
  data: {
    texts: ArrayLike<number>;
    images: ArrayLike<number>;
    bankTexts: ArrayLike<number>;
    bankImages: ArrayLike<number>;
    dim: number;
    normalize?: boolean;
  },
): { t2i: DirectionNormRef; i2t: DirectionNormRef } {
  const { texts, images, bankTexts, bankImages, dim, normalize = true } = data;
  return {
    t2i: directionNormRef(norm, texts, images, bankTexts, bankImages, dim, normalize),
    i2t: directionNormRef(norm, images, texts, bankImages, bankTexts, dim, normalize),
  };
}

/**
 * Ranks and metrics with normalised scores: text t ranks image i by `S[t, i] − t2i.bias[i]` (when
 * t is normalised), image i ranks text t by `S[t, i] − i2t.bias[t]` (when i is); the tie rule is
 * the project's (see `retrievalRef`).
 */
export function normedRetrievalRef(
  texts: ArrayLike<number>,
  images: ArrayLike<number>,
  dim: number,
  relation: ArrayLike<number> | GradedRelation,
  norms: { t2i?: DirectionNormRef; i2t?: DirectionNormRef },
  normalize = true,
): { ranks: RetrievalRanks; metrics: RetrievalMetrics } {
  const nt = texts.length / dim;
  const ni = images.length / dim;
  const s = scoreMatrixRef(texts, images, dim, normalize);
  const on = (d: DirectionNormRef, q: number) => d.active === undefined || Boolean(d.active[q]);
  const t2i = Float64Array.from(s, (v, e) => {
    const [t, i] = [Math.floor(e / ni), e % ni];
    return norms.t2i && on(norms.t2i, t) ? v - norms.t2i.bias[i] : v;
  });
  const i2t = Float64Array.from(s, (v, e) => {
    const [t, i] = [Math.floor(e / ni), e % ni];
    return norms.i2t && on(norms.i2t, i) ? v - norms.i2t.bias[t] : v;
  });
  return retrievalFromScoresRef(t2i, i2t, nt, ni, relation);
}
