/**
 * The text → image relation of a retrieval evaluation and what is computed on it: the per-text
 * ranks (GPU: `src/ops/retrieval.ts`, float64 twin: `src/reference/retrieval.ts`) and the metrics
 * (`src/eval/metrics.ts`). Shared by evaluation and its twin, so it sits below both.
 *
 * @module
 */

/** The metrics of one direction; the key names are the CLI's JSON keys. */
export interface DirectionMetrics {
  /** Percent of queries with a relevant item at rank 1. */
  "R@1": number;
  /** Percent of queries with a relevant item in the top 5. */
  "R@5": number;
  /** Percent of queries with a relevant item in the top 10. */
  "R@10": number;
  /** Median rank of the best-ranked relevant item (floored, 1-based). */
  MedR: number;
  /** Mean rank of the best-ranked relevant item (1-based). */
  MeanR: number;
  /** Mean average precision over all relevant items, percent. */
  mAP: number;
  /** NDCG@10 with binary relevance, percent. */
  "NDCG@10": number;
}

/** The metrics of both directions and their rsum. */
export interface RetrievalMetrics {
  /** Text → image: each text queries the images; relevant = its image. */
  t2i: DirectionMetrics;
  /** Image → text: each image queries the texts; relevant = all its texts. */
  i2t: DirectionMetrics;
  /** Sum of the six R@K. */
  rsum: number;
}

/**
 * Per-text ranks of an evaluation (both directions), from which all metrics follow. Text t is
 * relevant to image `textToImage[t]` and to nothing else.
 */
export interface RetrievalRanks {
  /** Images in the gallery. */
  numImages: number;
  /** The image of each text. */
  textToImage: Int32Array;
  /** Text → image: the 1-based rank of text t's image when text t queries the images. */
  t2i: Uint32Array;
  /** Image → text: the 1-based rank of text t among all texts when its image queries them. */
  i2t: Uint32Array;
}

/**
 * Groups texts by image: `offsets` (numImages + 1) and `order` (the texts sorted by image, stable)
 * such that image i's texts are `order[offsets[i] .. offsets[i + 1])`.
 */
export function textsByImage(
  textToImage: ArrayLike<number>,
  numImages: number,
): { offsets: Uint32Array<ArrayBuffer>; order: Uint32Array<ArrayBuffer> } {
  const offsets = new Uint32Array(numImages + 1);
  for (let t = 0; t < textToImage.length; t++) offsets[textToImage[t] + 1]++;
  for (let i = 0; i < numImages; i++) offsets[i + 1] += offsets[i];
  const fill = offsets.slice(0, numImages);
  const order = new Uint32Array(textToImage.length);
  for (let t = 0; t < textToImage.length; t++) order[fill[textToImage[t]]++] = t;
  return { offsets, order };
}
