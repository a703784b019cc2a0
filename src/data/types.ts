/**
 * The data shapes every layer above `data/` consumes.
 *
 * @module
 */

/**
 * Graded text ↔ image relevance, many-to-many, stored by text (CSR): text `t`'s pairs are
 * `p = offsets[t] … offsets[t + 1] − 1`, each relevant image `images[p]` with its integer grade
 * `grades[p]` ≥ 1 (pairs not listed have grade 0). Row `t` starts with the text's primary image
 * (`textToImage[t]`, of the row's highest grade), then the others by ascending image index. See
 * `src/data/relation.ts`.
 */
export interface GradedRelation {
  /** `numTexts + 1` offsets into {@link images} and {@link grades}. */
  offsets: Int32Array;
  /** The image of each pair. */
  images: Int32Array;
  /** The grade of each pair (an integer ≥ 1). */
  grades: Int32Array;
}

/**
 * An image–text retrieval dataset held as feature matrices (row-major float32) plus the relation
 * text → image. Each text (caption) has one primary image, the one it was written for (an image
 * may have several texts: 5 captions per image in COCO and Flickr); with graded relevance a text
 * may also be partly relevant to other images.
 */
export interface RetrievalDataset {
  /** A short name for logs and result files (e.g. `flickr8k-clip-b32-val`, `default`). */
  name: string;
  /** Image features, `numImages × imageDim`, row-major. */
  images: Float32Array;
  /** Rows of {@link images}. */
  numImages: number;
  /** Columns of {@link images}. */
  imageDim: number;
  /** Text features, `numTexts × textDim`, row-major. */
  texts: Float32Array;
  /** Rows of {@link texts}. */
  numTexts: number;
  /** Columns of {@link texts}. */
  textDim: number;
  /**
   * For each text row, the index of its primary image (`0 ≤ textToImage[t] < numImages`): the
   * image it belongs to, of its highest grade. Splits keep each text with this image.
   */
  textToImage: Int32Array;
  /**
   * Optional graded relevance (see {@link GradedRelation}). Absent: text `t` is relevant to
   * `textToImage[t]` alone, at grade 1 (readers leave it out when the data says no more than that). Read it through `relevanceOf(ds)`
   * (`src/data/relation.ts`), which fills that in.
   */
  relevance?: GradedRelation;
  /** Optional display name of each image (file name). */
  imageNames?: string[];
  /** Optional caption text of each text row. */
  captions?: string[];
  /** Optional path of each image file on disk (for example grids of raw-image datasets). */
  imagePaths?: string[];
  /**
   * Optional renderer of image `i` as RGBA pixels (generated datasets have no files); used by the
   * example grids.
   */
  renderImage?: (i: number) => Promise<{ width: number; height: number; rgba: Uint8Array }>;
}

/** One query of a learning-to-rank set: its documents' features and graded labels. */
export interface LtrQuery {
  /** Query id as written in the file (`qid:`), or the group's ordinal with a `.query` file. */
  qid: string;
  /** `numDocs × dim` features, row-major (dense; absent sparse features are 0). */
  features: Float32Array;
  /** Graded relevance of each document (≥ 0). */
  labels: Float32Array;
  /** Documents of this query. */
  numDocs: number;
}

/** A learning-to-rank set (svmlight / LETOR text format). */
export interface LtrDataset {
  /** Source file, for messages. */
  path: string;
  /** Feature dimension (the largest feature index seen, or as given). */
  dim: number;
  /** Queries in file order. */
  queries: LtrQuery[];
}
