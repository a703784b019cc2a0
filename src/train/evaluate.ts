/**
 * Validation of a dual encoder: embed every text and image of a split (no gradients, chunked),
 * then score retrieval in both directions on the GPU.
 *
 * @module
 */

import type { RetrievalDataset } from "../data/types.ts";
import { evaluationRelation } from "../data/relation.ts";
import { retrievalRanks } from "../ops/retrieval.ts";
import { type RetrievalMetrics, retrievalMetrics, type RetrievalRanks } from "../eval/metrics.ts";
import type { DualEncoder } from "../model/dual_encoder.ts";

export type { RetrievalMetrics, RetrievalRanks };

/** Thrown when the model's embeddings of a split are not finite (its weights diverged). */
export class NonFiniteEmbeddingError extends Error {
  /** Which embedding: split, modality and the first bad row. */
  readonly what: string;
  /** @param what which embedding, and the first bad row */
  constructor(what: string) {
    super(`${what} is not finite: the model's weights diverged`);
    this.name = "NonFiniteEmbeddingError";
    this.what = what;
  }
}

function checkFinite(values: Float32Array, dim: number, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new NonFiniteEmbeddingError(`the ${what} embedding of row ${Math.floor(i / dim)}`);
    }
  }
}

/**
 * Embeds `ds` with `model` (L2-normalised) and returns the per-query ranks of both directions.
 * @throws {NonFiniteEmbeddingError} when an embedding is NaN or infinite.
 */
export async function evaluateModelRanks(
  model: DualEncoder,
  ds: RetrievalDataset,
): Promise<RetrievalRanks> {
  const dim = model.config.text.outDim;
  const texts = await model.embedAll("texts", ds.texts, ds.numTexts);
  checkFinite(texts, dim, `${ds.name} text`);
  const images = await model.embedAll("images", ds.images, ds.numImages);
  checkFinite(images, dim, `${ds.name} image`);
  return await retrievalRanks(
    {
      texts,
      images,
      textDim: dim,
      imageDim: dim,
      ...evaluationRelation(ds),
    },
    { normalize: false },
  );
}

/** Embeds `ds` with `model` (L2-normalised) and returns both directions' metrics. */
export async function evaluateModel(
  model: DualEncoder,
  ds: RetrievalDataset,
): Promise<RetrievalMetrics> {
  return retrievalMetrics(await evaluateModelRanks(model, ds));
}
