/**
 * The data shapes every layer above `data/` consumes.
 *
 * @module
 */

/**
 * An image–text retrieval dataset held as feature matrices (row-major float32) plus the relation
 * text → image. Each text (caption) belongs to exactly one image; an image may have several texts
 * (5 captions per image in COCO and Flickr). All texts of an image are relevant to it.
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
  /** For each text row, the index of its image (`0 ≤ textToImage[t] < numImages`). */
  textToImage: Int32Array;
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
