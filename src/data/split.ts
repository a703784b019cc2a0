/**
 * Splitting a retrieval dataset by image: every text goes with its image, so no image (and none of
 * its captions) is in two splits.
 *
 * @example
 * ```ts
 * import { splitByImage } from "./split.ts";
 * const { train, val, test } = splitByImage(ds, { valFraction: 0.1, testFraction: 0.1, seed: 1 });
 * ```
 *
 * @module
 */

import type { RetrievalDataset } from "./types.ts";
import { subsetRelation } from "./relation.ts";
import { seededRandom, shuffle } from "../util/random.ts";

/**
 * How a dataset's images are assigned to train / validation / test: the fractions of images in
 * validation and test (the rest trains) and the seed of the shuffle. Every command (train, eval,
 * compare, rerank) splits with {@link assignImages} under one of these, and a run records the one
 * it used in its `config.json`.
 */
export interface SplitSpec {
  /** Fraction of images in the validation split, in [0, 1). */
  valFraction: number;
  /** Fraction of images in the test split, in [0, 1) (default 0). */
  testFraction?: number;
  /** Seed of the shuffle that assigns images to splits. */
  seed: number;
}

/**
 * The one default policy, for the embedded default dataset and for `--data` alike: 80 % of the
 * images train, 10 % validate (checkpoint selection, early choices) and 10 % are a test part that
 * training never reads.
 */
export const DEFAULT_SPLIT: Readonly<Required<SplitSpec>> = Object.freeze({
  valFraction: 0.1,
  testFraction: 0.1,
  seed: 0,
});

/** The names of the three parts of a split. */
export const SPLIT_PARTS = ["train", "val", "test"] as const;

/** One part of a split. */
export type SplitPart = typeof SPLIT_PARTS[number];

/** Train, validation and test subsets of one dataset. */
export interface RetrievalSplits {
  /** The training images and their texts. */
  train: RetrievalDataset;
  /** The validation images (empty when `valFraction` is 0). */
  val: RetrievalDataset;
  /** The test images (empty when `testFraction` is 0). */
  test: RetrievalDataset;
}

/**
 * The subset of `ds` made of the images `imageIndices` (in that order) and all their texts (in
 * their original order), re-indexed: image `k` of the subset is image `imageIndices[k]` of `ds`.
 * Names, captions, paths and the renderer follow; graded relevance follows too, without the pairs
 * whose image is outside the subset.
 */
export function subsetByImages(
  ds: RetrievalDataset,
  imageIndices: readonly number[],
  name: string,
): RetrievalDataset {
  const newIndex = new Int32Array(ds.numImages).fill(-1);
  imageIndices.forEach((i, k) => {
    if (!Number.isInteger(i) || i < 0 || i >= ds.numImages) {
      throw new RangeError(`subsetByImages: image index ${i} out of range [0, ${ds.numImages})`);
    }
    if (newIndex[i] >= 0) throw new RangeError(`subsetByImages: image ${i} listed twice`);
    newIndex[i] = k;
  });
  const texts: number[] = [];
  for (let t = 0; t < ds.numTexts; t++) if (newIndex[ds.textToImage[t]] >= 0) texts.push(t);

  const images = new Float32Array(imageIndices.length * ds.imageDim);
  imageIndices.forEach((i, k) => {
    images.set(ds.images.subarray(i * ds.imageDim, (i + 1) * ds.imageDim), k * ds.imageDim);
  });
  const textRows = new Float32Array(texts.length * ds.textDim);
  const textToImage = new Int32Array(texts.length);
  texts.forEach((t, k) => {
    textRows.set(ds.texts.subarray(t * ds.textDim, (t + 1) * ds.textDim), k * ds.textDim);
    textToImage[k] = newIndex[ds.textToImage[t]];
  });
  const out: RetrievalDataset = {
    name,
    images,
    numImages: imageIndices.length,
    imageDim: ds.imageDim,
    texts: textRows,
    numTexts: texts.length,
    textDim: ds.textDim,
    textToImage,
  };
  if (ds.relevance) out.relevance = subsetRelation(ds.relevance, texts, newIndex);
  if (ds.imageNames) out.imageNames = imageIndices.map((i) => ds.imageNames![i]);
  if (ds.imagePaths) out.imagePaths = imageIndices.map((i) => ds.imagePaths![i]);
  if (ds.captions) out.captions = texts.map((t) => ds.captions![t]);
  if (ds.renderImage) {
    const render = ds.renderImage;
    const map = [...imageIndices];
    out.renderImage = (i: number) => {
      if (!Number.isInteger(i) || i < 0 || i >= map.length) {
        return Promise.reject(
          new RangeError(`renderImage: image ${i} out of range [0, ${map.length})`),
        );
      }
      return render(map[i]);
    };
  }
  return out;
}

/** How many of `n` images a fraction takes: at least one when the fraction is positive. */
function share(n: number, fraction: number): number {
  return fraction > 0 ? Math.max(1, Math.round(n * fraction)) : 0;
}

/**
 * Assigns images `0 … numImages−1` to train / val / test: a seeded shuffle, then the first
 * `round(n·valFraction)` images validate, the next `round(n·testFraction)` test and the rest train
 * (a positive fraction takes at least one image). Each list is sorted. This is the only place a
 * split is decided.
 * @throws {RangeError} when a fraction is outside [0, 1) or no training image would remain.
 */
export function assignImages(
  numImages: number,
  spec: SplitSpec,
): Record<SplitPart, number[]> {
  const { valFraction, testFraction = 0, seed } = spec;
  for (const [what, f] of [["valFraction", valFraction], ["testFraction", testFraction]] as const) {
    if (!(f >= 0 && f < 1)) throw new RangeError(`split: ${what} ${f} is not in [0, 1)`);
  }
  if (!Number.isInteger(seed)) throw new RangeError(`split: seed ${seed} is not an integer`);
  const nVal = share(numImages, valFraction);
  const nTest = share(numImages, testFraction);
  if (numImages - nVal - nTest < 1) {
    throw new RangeError(
      `split: ${numImages} images leave none for training after ${nVal} val and ` +
        `${nTest} test images`,
    );
  }
  const order = shuffle(seededRandom(seed), Array.from({ length: numImages }, (_, i) => i));
  const sorted = (a: number[]) => a.sort((x, y) => x - y);
  return {
    val: sorted(order.slice(0, nVal)),
    test: sorted(order.slice(nVal, nVal + nTest)),
    train: sorted(order.slice(nVal + nTest)),
  };
}

/**
 * Splits `ds` by image into train / val / test as {@link assignImages} assigns them; within each
 * split, images keep their original order. Names get a `-train`, `-val`, `-test` suffix.
 * @throws {RangeError} when a fraction is outside [0, 1) or no training image would remain.
 */
export function splitByImage(ds: RetrievalDataset, spec: SplitSpec): RetrievalSplits {
  const parts = assignImages(ds.numImages, spec);
  return {
    train: subsetByImages(ds, parts.train, `${ds.name}-train`),
    val: subsetByImages(ds, parts.val, `${ds.name}-val`),
    test: subsetByImages(ds, parts.test, `${ds.name}-test`),
  };
}
