/**
 * Validation of a dual encoder: embed every text and image of a split (no gradients, chunked),
 * then score retrieval in both directions on the GPU.
 *
 * @module
 */

import type { RetrievalDataset } from "../data/types.ts";
import { evaluateRetrieval, type RetrievalMetrics } from "../eval/retrieval.ts";
import type { DualEncoder } from "../model/dual_encoder.ts";

export type { RetrievalMetrics };

/** Embeds `ds` with `model` (L2-normalised) and returns both directions' metrics. */
export async function evaluateModel(
  model: DualEncoder,
  ds: RetrievalDataset,
): Promise<RetrievalMetrics> {
  const texts = await model.embedAll("texts", ds.texts, ds.numTexts);
  const images = await model.embedAll("images", ds.images, ds.numImages);
  const dim = model.config.text.outDim;
  return await evaluateRetrieval(
    { texts, images, textDim: dim, imageDim: dim, textToImage: ds.textToImage },
    { normalize: false },
  );
}
