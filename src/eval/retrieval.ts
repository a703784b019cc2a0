/**
 * Image–text retrieval evaluation: the per-query ranks of `src/ops/retrieval.ts` (computed on the
 * GPU, chunked) in both directions, then the metrics of `./metrics.ts`.
 *
 * Tie rule: see {@link TIE_RULE} (pessimistic).
 *
 * @example
 * ```ts
 * import { initGpu } from "../gpu/runtime.ts";
 * import { evaluateRetrieval } from "./retrieval.ts";
 * await initGpu();
 * const m = await evaluateRetrieval({
 *   texts: new Float32Array([1, 0, 0, 1]), textDim: 2,
 *   images: new Float32Array([1, 0.1, 0.1, 1]), imageDim: 2,
 *   textToImage: new Int32Array([0, 1]),
 * });
 * console.log(m.t2i["R@1"], m.rsum); // 100 600
 * ```
 *
 * @module
 */

import type { RetrievalDataset } from "../data/types.ts";
import { evaluationRelation } from "../data/relation.ts";
import { type RetrievalInput, type RetrievalOptions, retrievalRanks } from "../ops/retrieval.ts";
import { type RetrievalMetrics, retrievalMetrics } from "./metrics.ts";

export { TIE_RULE } from "./metrics.ts";
export type { Embeddings, RetrievalInput, RetrievalOptions } from "../ops/retrieval.ts";
export type { DirectionMetrics, RetrievalMetrics, RetrievalRanks } from "./metrics.ts";

/**
 * Retrieval metrics in both directions (R@1/5/10, MedR, MeanR, mAP, MRR, NDCG@1/5/10, rsum),
 * computed
 * on the GPU. See `retrievalRanks` (`src/ops/retrieval.ts`) for the inputs and `./metrics.ts` for
 * the definitions.
 */
export async function evaluateRetrieval(
  input: RetrievalInput,
  options: RetrievalOptions = {},
): Promise<RetrievalMetrics> {
  return retrievalMetrics(await retrievalRanks(input, options));
}

/** {@link evaluateRetrieval} of a dataset's raw features (its two dims must match). */
export function evaluateDataset(
  dataset: RetrievalDataset,
  options: RetrievalOptions = {},
): Promise<RetrievalMetrics> {
  return evaluateRetrieval({
    texts: dataset.texts,
    textDim: dataset.textDim,
    images: dataset.images,
    imageDim: dataset.imageDim,
    ...evaluationRelation(dataset),
  }, options);
}
