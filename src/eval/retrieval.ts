/**
 * Image–text retrieval evaluation on the GPU (`kernels/retrieval.wgsl`): similarities and per-query
 * ranks in both directions, chunked over texts and images, then the metrics of `./metrics.ts`.
 *
 * How: the score of every text with its own image is computed first (`pair_scores`). Then one sweep
 * over blocks of (image chunk × text chunk) computes each block of cosine scores once (`scores`)
 * and, from it, both directions' counts: for each text, the images ranking above its image
 * (`count_t2i`), and for each (image, text of that image) pair, the texts ranking above that text
 * in the image's ranking (`count_i2t`). Counts accumulate over blocks; only they are read back,
 * once. At most one block of scores (≤ 32 MiB by default) exists at a time, so collections larger
 * than one GPU buffer work.
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

import { RETRIEVAL } from "../gpu/kernels.ts";
import { rt } from "../gpu/runtime.ts";
import type { RetrievalDataset } from "../data/types.ts";
import {
  asMatrix,
  chooseChunks,
  ChunkRows,
  type Embeddings,
  type Matrix,
  recordPairScores,
  recordScores,
  Throttle,
} from "./scores.ts";

import {
  type RetrievalMetrics,
  retrievalMetrics,
  type RetrievalRanks,
  textsByImage,
} from "./metrics.ts";

export { TIE_RULE } from "./metrics.ts";
export type { Embeddings } from "./scores.ts";
export type { DirectionMetrics, RetrievalMetrics, RetrievalRanks } from "./metrics.ts";

/** What to evaluate: text and image embeddings and the text → image relation. */
export interface RetrievalInput {
  /** Text embeddings, `numTexts × dim` (host array with `textDim`, or a 2-D tensor). */
  texts: Embeddings;
  /** Image embeddings, `numImages × dim`. */
  images: Embeddings;
  /** The image of each text (`0 ≤ textToImage[t] < numImages`). */
  textToImage: ArrayLike<number>;
  /** Row width of `texts` when it is a host array. */
  textDim?: number;
  /** Row width of `images` when it is a host array. */
  imageDim?: number;
}

/** How to evaluate. */
export interface RetrievalOptions {
  /** L2-normalise both sides first, so scores are cosines (default true). */
  normalize?: boolean;
  /** Images per chunk (default: up to 8192, within 32 MiB per chunk). */
  imageChunk?: number;
  /** Texts per chunk (default: as many as keep one block of scores within 32 MiB). */
  textChunk?: number;
}

const CALLER = "evaluateRetrieval";

function u32Buffer(values: Uint32Array<ArrayBuffer>, label: string): GPUBuffer {
  const buffer = rt().pool.acquire(Math.max(values.byteLength, 4), label);
  if (values.length > 0) rt().upload(buffer, values);
  return buffer;
}

function checkRelation(
  textToImage: ArrayLike<number>,
  texts: Matrix,
  images: Matrix,
): Int32Array<ArrayBuffer> {
  if (textToImage.length !== texts.rows) {
    throw new RangeError(
      `${CALLER}: textToImage has ${textToImage.length} entries, texts have ${texts.rows} rows`,
    );
  }
  const out = new Int32Array(texts.rows);
  for (let t = 0; t < texts.rows; t++) {
    const i = textToImage[t];
    if (!Number.isInteger(i) || i < 0 || i >= images.rows) {
      throw new RangeError(
        `${CALLER}: textToImage[${t}] = ${i} is not an image index (0..${images.rows - 1})`,
      );
    }
    out[t] = i;
  }
  return out;
}

/**
 * Per-text ranks in both directions (see {@link RetrievalRanks}), computed on the GPU. Throws a
 * RangeError naming the field for empty inputs, different dims, non-finite host values or a bad
 * relation.
 */
export async function retrievalRanks(
  input: RetrievalInput,
  options: RetrievalOptions = {},
): Promise<RetrievalRanks> {
  const texts = asMatrix(CALLER, "texts", input.texts, input.textDim);
  const images = asMatrix(CALLER, "images", input.images, input.imageDim);
  if (texts.rows === 0 || images.rows === 0) {
    throw new RangeError(
      `${CALLER}: nothing to evaluate (${texts.rows} texts, ${images.rows} images)`,
    );
  }
  if (texts.dim !== images.dim) {
    throw new RangeError(
      `${CALLER}: texts have ${texts.dim} dims, images ${images.dim}: similarity needs equal dims`,
    );
  }
  const textToImage = checkRelation(input.textToImage, texts, images);
  const numTexts = texts.rows;
  const dim = texts.dim;
  const normalize = options.normalize ?? true;
  const plan = chooseChunks(CALLER, images, texts, options.imageChunk, options.textChunk, [
    "imageChunk",
    "textChunk",
  ]);
  const { offsets, order } = textsByImage(textToImage, images.rows);

  const pool = rt().pool;
  const relation = u32Buffer(Uint32Array.from(textToImage), "text image");
  const orderBuf = u32Buffer(order, "texts by image");
  const rel = pool.acquire(numTexts * 4, "relevant scores");
  const counts = pool.acquire(numTexts * 8, "rank counts");
  rt().upload(counts, new Uint32Array(numTexts * 2));
  const textChunk = new ChunkRows(texts, plan.queries.size, normalize);
  const own = new ChunkRows(images, plan.queries.size, normalize);
  let imageChunk: ChunkRows | null = null;
  let block: GPUBuffer | null = null;
  const throttle = new Throttle();
  try {
    // 1. The score of each text with its own image, with the arithmetic of the block kernel.
    for (let c = 0; c < plan.queries.count; c++) {
      const t0 = c * plan.queries.size;
      const nt = Math.min(plan.queries.size, numTexts - t0);
      textChunk.load(t0, nt);
      own.gather(Uint32Array.from(textToImage.subarray(t0, t0 + nt)));
      recordPairScores(own, textChunk, dim, t0, rel);
      await throttle.step();
    }
    own.release();

    // 2. One sweep over blocks: scores, then counts in both directions.
    imageChunk = new ChunkRows(images, plan.gallery.size, normalize);
    block = pool.acquire(plan.gallery.size * plan.queries.size * 4, "score block");
    for (let g = 0; g < plan.gallery.count; g++) {
      const i0 = g * plan.gallery.size;
      const ni = Math.min(plan.gallery.size, images.rows - i0);
      imageChunk.load(i0, ni);
      for (let c = 0; c < plan.queries.count; c++) {
        const t0 = c * plan.queries.size;
        const nt = Math.min(plan.queries.size, numTexts - t0);
        if (plan.queries.count > 1) textChunk.load(t0, nt); // else still loaded from step 1
        recordScores(imageChunk, textChunk, dim, block);
        const common = { rows: ni, cols: nt, stride: nt, row0: i0, col0: t0 };
        const bindings = { a: block, b4: relation, rel, counts };
        RETRIEVAL.launch("count_t2i", bindings, { ...common, offset: 0 }, nt);
        const start = offsets[i0];
        const pairs = offsets[i0 + ni] - start;
        if (pairs > 0) {
          const params = { ...common, start, count: pairs, offset: numTexts };
          RETRIEVAL.launch("count_i2t", { ...bindings, order: orderBuf }, params, pairs);
        }
        await throttle.step();
      }
    }
    const raw = new Uint32Array(await rt().read(counts, numTexts * 8));
    const t2i = raw.slice(0, numTexts);
    const i2t = raw.slice(numTexts);
    for (let t = 0; t < numTexts; t++) {
      t2i[t] += 1;
      i2t[t] += 1;
    }
    return { numImages: images.rows, textToImage, t2i, i2t };
  } finally {
    own.release();
    textChunk.release();
    imageChunk?.release();
    for (const b of [relation, orderBuf, rel, counts, block]) if (b) pool.release(b);
  }
}

/**
 * Retrieval metrics in both directions (R@1/5/10, MedR, MeanR, mAP, NDCG@10, rsum), computed on
 * the GPU. See {@link retrievalRanks} for the inputs and `./metrics.ts` for the definitions.
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
    textToImage: dataset.textToImage,
  }, options);
}
