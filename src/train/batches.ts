/**
 * In-batch candidate sampling.
 *
 * An epoch visits every image once, in a seeded order, in batches of `batchImages` images. Each
 * image brings up to `captionsPerImage` of its captions (a seeded choice), so the batch's score
 * matrix is `texts × images`. Its label matrix carries each (text, image) pair's grade from the
 * dataset's relation (`src/data/relation.ts`): every caption's own image at its grade (1 for
 * ungraded data), any other batch image the caption is partly relevant to at that grade, 0 for the
 * rest; its transpose labels the image → text lists the same way. A caption of the same image is
 * never a negative (its own image carries its highest grade).
 *
 * The order of epoch `e` depends only on `(seed, e)`, so a resumed run replays the same batches.
 *
 * @module
 */

import { Random } from "../util/random.ts";
import type { GradedRelation } from "../data/types.ts";
import { primaryImages } from "../data/relation.ts";

/** One batch: row indices into the dataset and the relevance matrices. */
export interface Batch {
  /** Image rows of the batch (the t2i candidates). */
  images: number[];
  /** Text rows of the batch (the i2t candidates), grouped by image. */
  texts: number[];
  /** `texts × images` labels: the grade of each (text, image) pair, 0 when not relevant. */
  relevance: Float32Array;
  /** Its transpose, `images × texts`. */
  relevanceT: Float32Array;
}

/** Sampling settings. */
export interface BatchOptions {
  /** Images per batch (≥ 2). */
  batchImages: number;
  /** Captions drawn per image (≥ 1; images with fewer contribute all of theirs). */
  captionsPerImage: number;
  /** Base seed. */
  seed: number;
  /** Keep a final batch smaller than `batchImages` (default true; a final single image always joins the batch before it). */
  keepLast?: boolean;
}

/** Groups text rows by image: `result[i]` lists the texts of image `i`. */
export function textsByImage(textToImage: Int32Array, numImages: number): number[][] {
  const out: number[][] = Array.from({ length: numImages }, () => []);
  textToImage.forEach((img, t) => out[img].push(t));
  return out;
}

/** Deterministic batch sampler over a dataset's relation. */
export class BatchSampler {
  /** Settings. */
  readonly options: Required<BatchOptions>;
  #byImage: number[][];
  #imagesWithText: number[];
  #relation: GradedRelation;
  /** Batch column of each image in the batch being built, −1 for the others. */
  #column: Int32Array;

  /**
   * @param relation the dataset's graded relation (`relevanceOf(ds)`); texts are grouped by their
   *   primary image
   * @param numImages image rows
   * @param options sampling settings
   */
  constructor(relation: GradedRelation, numImages: number, options: BatchOptions) {
    if (!Number.isInteger(options.batchImages) || options.batchImages < 2) {
      throw new RangeError(`batch size must be an integer ≥ 2, got ${options.batchImages}`);
    }
    if (!Number.isInteger(options.captionsPerImage) || options.captionsPerImage < 1) {
      throw new RangeError(`captions per image must be ≥ 1, got ${options.captionsPerImage}`);
    }
    this.options = { keepLast: true, ...options };
    this.#relation = relation;
    this.#column = new Int32Array(numImages).fill(-1);
    this.#byImage = textsByImage(primaryImages(relation), numImages);
    this.#imagesWithText = this.#byImage.flatMap((t, i) => (t.length > 0 ? [i] : []));
    if (this.#imagesWithText.length < 2) {
      throw new RangeError(
        `training needs at least 2 images with captions, got ${this.#imagesWithText.length}`,
      );
    }
  }

  /**
   * An upper bound on the length of a batch's lists: its texts (at most `captionsPerImage` per
   * image, fewer where images have fewer captions) or its images, with one image more for a final
   * single image that joins the previous batch.
   */
  get longestList(): number {
    const images = Math.min(this.options.batchImages, this.#imagesWithText.length) + 1;
    const most = this.#byImage.reduce((m, texts) => Math.max(m, texts.length), 0);
    return images * Math.max(1, Math.min(this.options.captionsPerImage, most));
  }

  /** Batches per epoch. */
  get batchesPerEpoch(): number {
    return this.#chunks(this.#imagesWithText).length;
  }

  /**
   * Cuts an image order into batches of `batchImages`; a final single image joins the previous
   * batch (a list needs ≥ 2 candidates), and without `keepLast` a final partial batch is dropped.
   */
  #chunks(order: number[]): number[][] {
    const b = Math.min(this.options.batchImages, order.length);
    const out: number[][] = [];
    for (let start = 0; start < order.length; start += b) out.push(order.slice(start, start + b));
    const last = out.at(-1)!;
    if (out.length > 1 && last.length < b) {
      if (!this.options.keepLast) out.pop();
      else if (last.length === 1) out[out.length - 2].push(...out.pop()!);
    }
    return out;
  }

  /** The batches of epoch `epoch` (0-based), identical for the same seed and epoch. */
  epoch(epoch: number): Batch[] {
    const random = new Random(this.options.seed * 1000003 + epoch * 7919 + 17);
    const order = random.shuffle([...this.#imagesWithText]);
    const out: Batch[] = [];
    for (const images of this.#chunks(order)) {
      const texts: number[] = [];
      images.forEach((img) => {
        const caps = random.shuffle([...this.#byImage[img]]).slice(
          0,
          this.options.captionsPerImage,
        );
        texts.push(...caps);
      });
      const nt = texts.length;
      const ni = images.length;
      const relevance = new Float32Array(nt * ni);
      const relevanceT = new Float32Array(ni * nt);
      const { offsets, images: related, grades } = this.#relation;
      images.forEach((img, j) => this.#column[img] = j);
      texts.forEach((t, r) => {
        for (let p = offsets[t]; p < offsets[t + 1]; p++) {
          const j = this.#column[related[p]];
          if (j < 0) continue;
          relevance[r * ni + j] = grades[p];
          relevanceT[j * nt + r] = grades[p];
        }
      });
      images.forEach((img) => this.#column[img] = -1);
      out.push({ images, texts, relevance, relevanceT });
    }
    return out;
  }
}
