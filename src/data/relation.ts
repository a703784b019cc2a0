/**
 * The text ↔ image relation of a retrieval dataset and what an evaluation computes on it.
 *
 * Graded relevance: a sparse, many-to-many relation in which text `t` is relevant to
 * image `i` with an integer grade ≥ 1 (absent pairs have grade 0). It is stored by text (CSR, see
 * {@link GradedRelation}): row `t` lists the images relevant to text `t`, its **primary image**
 * first — the one `textToImage[t]` names, of the row's highest grade (ties: the first listed in
 * the source) — and the others by ascending image index.
 *
 * Datasets whose every text has one relevant image (`pairs.csv` with two columns, the `k` captions
 * per image layout, caption collections) carry no relation: {@link relevanceOf} gives them the
 * one-to-one relation at grade 1, so no caller special-cases them.
 *
 * The per-pair ranks of an evaluation ({@link RetrievalRanks}: GPU `src/ops/retrieval.ts`, float64
 * twin `src/reference/retrieval.ts`) and the metrics computed from them (`src/eval/metrics.ts`)
 * are typed here, below both the evaluation and its twin.
 *
 * @example
 * ```ts
 * import { buildRelation, relevanceOf } from "./relation.ts";
 * const { relation, textToImage } = buildRelation(2, 3, [
 *   { text: 0, image: 2, grade: 1 },
 *   { text: 0, image: 0, grade: 3 },
 *   { text: 1, image: 1, grade: 2 },
 * ], "example");
 * // textToImage [0, 1]; relation.offsets [0, 2, 3], images [0, 2, 1], grades [3, 1, 2]
 * relevanceOf({ textToImage: Int32Array.of(1, 0) }).grades; // [1, 1]
 * ```
 *
 * @module
 */

import type { GradedRelation, RetrievalDataset } from "./types.ts";
import { DataError } from "./errors.ts";

export type { GradedRelation } from "./types.ts";

/** The metrics of one direction; the key names are the CLI's JSON keys. */
export interface DirectionMetrics {
  /** Percent of queries with an item of their highest grade at rank 1. */
  "R@1": number;
  /** Percent of queries with an item of their highest grade in the top 5. */
  "R@5": number;
  /** Percent of queries with an item of their highest grade in the top 10. */
  "R@10": number;
  /** Median rank of the best-ranked item of the highest grade (floored, 1-based). */
  MedR: number;
  /** Mean rank of the best-ranked item of the highest grade (1-based). */
  MeanR: number;
  /** Mean average precision over all items of grade ≥ 1, percent. */
  mAP: number;
  /**
   * Mean reciprocal rank of the best-ranked item of the highest grade (the rank R@K and MedR use),
   * percent.
   */
  MRR: number;
  /** NDCG@1 with gains 2^grade − 1, percent. */
  "NDCG@1": number;
  /** NDCG@5 with gains 2^grade − 1, percent. */
  "NDCG@5": number;
  /** NDCG@10 with gains 2^grade − 1, percent. */
  "NDCG@10": number;
}

/** The metrics of both directions and their rsum. */
export interface RetrievalMetrics {
  /** Text → image: each text queries the images; relevant = its graded images. */
  t2i: DirectionMetrics;
  /** Image → text: each image queries the texts; relevant = the texts graded to it. */
  i2t: DirectionMetrics;
  /** Sum of the six R@K. */
  rsum: number;
}

/**
 * Per-pair ranks of an evaluation (both directions), from which all metrics follow. Each pair `p`
 * of the relation (text `t`, image `relevance.images[p]`, grade `relevance.grades[p]`) has its
 * rank in text `t`'s ranking of the images and in the image's ranking of the texts. Ungraded data
 * has one pair per text (its image, grade 1), so `t2i[t]` is text `t`'s rank of its image.
 */
export interface RetrievalRanks {
  /** Images in the gallery. */
  numImages: number;
  /** The primary image of each text (the first pair of its row). */
  textToImage: Int32Array;
  /** The graded relation the ranks are of. */
  relevance: GradedRelation;
  /** Text → image: the 1-based rank of pair p's image when its text queries the images. */
  t2i: Uint32Array;
  /** Image → text: the 1-based rank of pair p's text among all texts when its image queries. */
  i2t: Uint32Array;
}

/**
 * The largest grade accepted: gains are `2^grade − 1`, which float32 (the loss kernels' labels)
 * holds exactly up to here.
 */
export const MAX_GRADE = 24;

/** One listed (text, image, grade) pair, with where it was read for error messages. */
export interface RelevancePair {
  /** Text row. */
  text: number;
  /** Image row. */
  image: number;
  /** Grade: an integer in [0, {@link MAX_GRADE}]; 0 lists the pair as explicitly not relevant. */
  grade: number;
  /** Where it was read (`pairs.csv line 4`), for messages; default `pair k`. */
  where?: string;
}

/** The one-to-one relation of `textToImage`: text `t` relevant to its image alone, grade 1. */
export function oneToOne(textToImage: ArrayLike<number>): GradedRelation {
  const n = textToImage.length;
  return {
    offsets: Int32Array.from({ length: n + 1 }, (_, t) => t),
    images: Int32Array.from(textToImage),
    grades: new Int32Array(n).fill(1),
  };
}

/** A dataset's graded relation: its `relevance`, or the one-to-one relation at grade 1. */
export function relevanceOf(
  ds: Pick<RetrievalDataset, "textToImage" | "relevance">,
): GradedRelation {
  return ds.relevance ?? oneToOne(ds.textToImage);
}

/**
 * A dataset's relation as the evaluation inputs take it (`retrievalRanks` in
 * `src/ops/retrieval.ts`): its primary images and its graded relevance, if any.
 */
export function evaluationRelation(
  ds: Pick<RetrievalDataset, "textToImage" | "relevance">,
): { textToImage: Int32Array; relevance?: GradedRelation } {
  return { textToImage: ds.textToImage, relevance: ds.relevance };
}

/** Whether `rel` is one-to-one at grade 1 (what ungraded data has). */
export function isOneToOne(rel: GradedRelation): boolean {
  const n = rel.offsets.length - 1;
  if (rel.images.length !== n) return false;
  for (let t = 0; t < n; t++) if (rel.offsets[t + 1] !== t + 1 || rel.grades[t] !== 1) return false;
  return true;
}

/** Texts of the relation (`offsets.length − 1`). */
export function relationTexts(rel: GradedRelation): number {
  return rel.offsets.length - 1;
}

/** The text of each pair: `pairText[p] = t` for `offsets[t] ≤ p < offsets[t + 1]`. */
export function pairTexts(rel: GradedRelation): Int32Array {
  const out = new Int32Array(rel.images.length);
  for (let t = 0; t + 1 < rel.offsets.length; t++) out.fill(t, rel.offsets[t], rel.offsets[t + 1]);
  return out;
}

/** Each text's primary image (the first of its row). */
export function primaryImages(rel: GradedRelation): Int32Array {
  return Int32Array.from({ length: relationTexts(rel) }, (_, t) => rel.images[rel.offsets[t]]);
}

/** The grade of (text `t`, image `i`): 0 when the pair is not in the relation. */
export function gradeOf(rel: GradedRelation, t: number, i: number): number {
  for (let p = rel.offsets[t]; p < rel.offsets[t + 1]; p++) {
    if (rel.images[p] === i) return rel.grades[p];
  }
  return 0;
}

/**
 * The pairs grouped by image: `order` lists pair indices sorted by image (then by text), and image
 * `i`'s pairs are `order[offsets[i] .. offsets[i + 1])`.
 */
export function pairsByImage(
  rel: GradedRelation,
  numImages: number,
): { offsets: Uint32Array<ArrayBuffer>; order: Uint32Array<ArrayBuffer> } {
  const offsets = new Uint32Array(numImages + 1);
  for (const i of rel.images) offsets[i + 1]++;
  for (let i = 0; i < numImages; i++) offsets[i + 1] += offsets[i];
  const fill = offsets.slice(0, numImages);
  const order = new Uint32Array(rel.images.length);
  // Pairs are visited text by text, so within an image they come in text order.
  for (let p = 0; p < rel.images.length; p++) order[fill[rel.images[p]]++] = p;
  return { offsets, order };
}

/**
 * Builds the canonical relation of listed pairs (see the module notes), checking them: indices in
 * range, grades integers in [0, {@link MAX_GRADE}], no (text, image) pair listed twice, every
 * text relevant to at least one image. Pairs of grade 0 are dropped (they only say "not
 * relevant"). `primary`, when given, names each text's primary image, which must be listed with
 * the text's highest grade; otherwise the primary is the first listed pair of the highest grade.
 * @throws {DataError} naming `source` and the pair's `where`.
 */
export function buildRelation(
  numTexts: number,
  numImages: number,
  pairs: readonly RelevancePair[],
  source: string,
  primary?: ArrayLike<number>,
): { relation: GradedRelation; textToImage: Int32Array } {
  const where = (k: number) => pairs[k].where ?? `${source} pair ${k}`;
  const rows: number[][] = Array.from({ length: numTexts }, () => []);
  const seen = new Map<number, number>();
  pairs.forEach(({ text, image, grade }, k) => {
    if (!Number.isInteger(text) || text < 0 || text >= numTexts) {
      throw new DataError(`${where(k)}: text ${text} is out of range (${numTexts} texts)`);
    }
    if (!Number.isInteger(image) || image < 0 || image >= numImages) {
      throw new DataError(`${where(k)}: image ${image} is out of range (${numImages} images)`);
    }
    if (!Number.isInteger(grade) || grade < 0 || grade > MAX_GRADE) {
      throw new DataError(
        `${where(k)}: relevance ${grade} is not an integer grade in [0, ${MAX_GRADE}]`,
      );
    }
    const key = text * numImages + image;
    const first = seen.get(key);
    if (first !== undefined) {
      throw new DataError(
        `${where(k)}: text ${text} and image ${image} are already paired (${where(first)}); ` +
          "list each pair once",
      );
    }
    seen.set(key, k);
    if (grade > 0) rows[text].push(k);
  });
  const textToImage = new Int32Array(numTexts);
  const offsets = new Int32Array(numTexts + 1);
  const images: number[] = [];
  const grades: number[] = [];
  for (let t = 0; t < numTexts; t++) {
    const row = rows[t];
    if (row.length === 0) {
      throw new DataError(`${source}: text ${t} has no image with relevance ≥ 1`);
    }
    const top = Math.max(...row.map((k) => pairs[k].grade));
    let first = row.find((k) => pairs[k].grade === top)!;
    if (primary !== undefined) {
      const named = row.find((k) => pairs[k].image === primary[t]);
      if (named === undefined || pairs[named].grade !== top) {
        throw new DataError(
          `${source}: text ${t}'s image ${primary[t]} (text_to_image) is not listed with its ` +
            `highest relevance ${top}`,
        );
      }
      first = named;
    }
    textToImage[t] = pairs[first].image;
    const rest = row.filter((k) => k !== first).sort((a, b) => pairs[a].image - pairs[b].image);
    for (const k of [first, ...rest]) {
      images.push(pairs[k].image);
      grades.push(pairs[k].grade);
    }
    offsets[t + 1] = images.length;
  }
  return {
    relation: { offsets, images: Int32Array.from(images), grades: Int32Array.from(grades) },
    textToImage,
  };
}

/**
 * The relation restricted to the texts `texts` (in that order) and re-indexed images:
 * `newIndex[i]` is image `i`'s index in the subset, −1 when it is left out. Pairs with a left-out
 * image are dropped; each text's primary image must be kept (it stays first).
 */
export function subsetRelation(
  rel: GradedRelation,
  texts: readonly number[],
  newIndex: Int32Array,
): GradedRelation {
  const offsets = new Int32Array(texts.length + 1);
  const images: number[] = [];
  const grades: number[] = [];
  texts.forEach((t, k) => {
    const row: [number, number][] = [];
    for (let p = rel.offsets[t]; p < rel.offsets[t + 1]; p++) {
      const i = newIndex[rel.images[p]];
      if (i >= 0) row.push([i, rel.grades[p]]);
      else if (p === rel.offsets[t]) {
        throw new RangeError(`subsetRelation: text ${t}'s primary image is not in the subset`);
      }
    }
    const [head, ...rest] = row;
    for (const [i, g] of [head, ...rest.sort((a, b) => a[0] - b[0])]) {
      images.push(i);
      grades.push(g);
    }
    offsets[k + 1] = images.length;
  });
  return { offsets, images: Int32Array.from(images), grades: Int32Array.from(grades) };
}

/**
 * Checks that `rel` is a canonical relation of `textToImage` over `numImages` images (offsets,
 * ranges, grades, each row's primary first and of the row's highest grade, no image twice in a
 * row); `what` prefixes the RangeError.
 */
export function checkRelation(
  rel: GradedRelation,
  textToImage: ArrayLike<number>,
  numImages: number,
  what: string,
): void {
  const n = textToImage.length;
  const { offsets, images, grades } = rel;
  if (offsets.length !== n + 1 || offsets[0] !== 0 || offsets[n] !== images.length) {
    throw new RangeError(
      `${what}: relevance offsets must be ${n + 1} values from 0 to ${images.length}`,
    );
  }
  if (grades.length !== images.length) {
    throw new RangeError(
      `${what}: relevance has ${images.length} images and ${grades.length} grades`,
    );
  }
  for (let t = 0; t < n; t++) {
    const a = offsets[t];
    const b = offsets[t + 1];
    if (!(b > a)) throw new RangeError(`${what}: text ${t} has no relevant image`);
    if (images[a] !== textToImage[t]) {
      throw new RangeError(
        `${what}: text ${t}'s relevance row starts with image ${images[a]}, not its image ` +
          `${textToImage[t]}`,
      );
    }
    for (let p = a; p < b; p++) {
      const i = images[p];
      const g = grades[p];
      if (!Number.isInteger(i) || i < 0 || i >= numImages) {
        throw new RangeError(`${what}: text ${t} -> image ${i} is out of range (${numImages})`);
      }
      if (!Number.isInteger(g) || g < 1 || g > MAX_GRADE || g > grades[a]) {
        throw new RangeError(
          `${what}: text ${t} -> image ${i} has grade ${g} (grades are integers in ` +
            `[1, ${MAX_GRADE}], the primary image's the highest)`,
        );
      }
      if (p > a + 1 && images[p - 1] >= i) {
        throw new RangeError(`${what}: text ${t}'s images after the first must ascend`);
      }
      if (p > a && i === images[a]) {
        throw new RangeError(`${what}: text ${t} lists image ${i} twice`);
      }
    }
  }
}
