/**
 * Per-query ranks as a CSV file, so anyone can recompute every metric (or a significance test)
 * from an evaluation: one row per relevant (query, item) pair, in each direction,
 *
 * ```text
 * direction,query,item,rank
 * t2i,0,0,1        text 0 queries the images; its image 0 ranks 1st
 * i2t,0,0,3        image 0 queries the texts; its text 0 ranks 3rd
 * ```
 *
 * With graded relevance (a text relevant to several images, or grades other than 1) a fifth
 * column holds the pair's grade, and every graded pair has its row in both directions:
 *
 * ```text
 * direction,query,item,rank,grade
 * t2i,0,4,2,3      text 0's primary image 4 (grade 3) ranks 2nd
 * t2i,0,9,1,1      image 9, grade 1 for text 0, ranks 1st
 * i2t,4,0,7,3      image 4 queries the texts; text 0 (grade 3) ranks 7th
 * ```
 *
 * Indices are 0-based rows of the evaluated split (texts and images as loaded), ranks 1-based with
 * the pessimistic tie rule. A text's `t2i` rows list its primary image first (its highest grade).
 * `eval --ranks FILE`, each run's `ranks-<part>.csv` and `compare`'s `ranks/` use this format.
 *
 * @module
 */

import { parse } from "csv-parse";
import { type RetrievalMetrics, retrievalMetrics, type RetrievalRanks } from "./metrics.ts";
import { buildRelation, isOneToOne, pairsByImage, pairTexts } from "../data/relation.ts";

/** The header line of a ranks file of ungraded data. */
export const RANKS_HEADER = "direction,query,item,rank";

/** The header line of a ranks file of graded data. */
export const GRADED_RANKS_HEADER = "direction,query,item,rank,grade";

/** The CSV text of `ranks` (see the module notes): graded when its relation is not one-to-one. */
export function ranksCsv(ranks: RetrievalRanks): string {
  const rel = ranks.relevance;
  const graded = !isOneToOne(rel);
  const grade = (p: number) => (graded ? `,${rel.grades[p]}` : "");
  const lines = [graded ? GRADED_RANKS_HEADER : RANKS_HEADER];
  const texts = pairTexts(rel);
  for (let p = 0; p < rel.images.length; p++) {
    lines.push(`t2i,${texts[p]},${rel.images[p]},${ranks.t2i[p]}${grade(p)}`);
  }
  for (const p of pairsByImage(rel, ranks.numImages).order) {
    lines.push(`i2t,${rel.images[p]},${texts[p]},${ranks.i2t[p]}${grade(p)}`);
  }
  return lines.join("\n") + "\n";
}

/**
 * Parses a ranks file back into {@link RetrievalRanks} (the gallery size is the largest image
 * index + 1: trailing images without a relevant text change no metric). Errors name the file and
 * line.
 */
export function parseRanksCsv(text: string, path: string): RetrievalRanks {
  const rows = parse(text, { skip_empty_lines: true, relax_column_count: true }) as string[][];
  const header = rows[0]?.join(",");
  if (header !== RANKS_HEADER && header !== GRADED_RANKS_HEADER) {
    throw new Error(`${path}: expected the header '${RANKS_HEADER}' or '${GRADED_RANKS_HEADER}'`);
  }
  const width = header.split(",").length;
  const t2i: { text: number; image: number; rank: number; grade: number; where: string }[] = [];
  const i2t = new Map<string, { rank: number; grade: number; line: number }>();
  rows.slice(1).forEach((row, k) => {
    const line = k + 2;
    const [direction, ...cells] = row;
    const values = cells.map(Number);
    const [query, item, rank, grade = 1] = values;
    if (
      row.length !== width || !values.every(Number.isInteger) || query < 0 || item < 0 ||
      rank < 1 || grade < 1
    ) {
      throw new Error(`${path}:${line}: expected ${header} with integers (ranks, grades ≥ 1)`);
    }
    if (direction === "t2i") {
      t2i.push({ text: query, image: item, rank, grade, where: `${path}:${line}` });
    } else if (direction === "i2t") {
      const key = `${item},${query}`;
      if (i2t.has(key)) {
        throw new Error(`${path}:${line}: i2t row for image ${query}, text ${item} listed twice`);
      }
      i2t.set(key, { rank, grade, line });
    } else throw new Error(`${path}:${line}: direction '${direction}' is not t2i or i2t`);
  });
  const numTexts = t2i.reduce((m, e) => Math.max(m, e.text + 1), 0);
  const numImages = t2i.reduce((m, e) => Math.max(m, e.image + 1), 0);
  const { relation, textToImage } = buildRelation(numTexts, numImages, t2i, path);
  const t2iRanks = new Uint32Array(relation.images.length);
  const i2tRanks = new Uint32Array(relation.images.length);
  const rankOf = new Map(t2i.map((e) => [`${e.text},${e.image}`, e.rank]));
  const texts = pairTexts(relation);
  for (let p = 0; p < relation.images.length; p++) {
    const key = `${texts[p]},${relation.images[p]}`;
    const back = i2t.get(key);
    if (!back || back.grade !== relation.grades[p]) {
      throw new Error(
        `${path}: text ${texts[p]} and image ${relation.images[p]} lack a matching i2t row ` +
          "(every t2i pair needs one, with the same grade)",
      );
    }
    t2iRanks[p] = rankOf.get(key)!;
    i2tRanks[p] = back.rank;
    i2t.delete(key);
  }
  const [extra] = i2t.values();
  if (extra) throw new Error(`${path}:${extra.line}: i2t row without a matching t2i row`);
  return { numImages, textToImage, relevance: relation, t2i: t2iRanks, i2t: i2tRanks };
}

/** The metrics of a ranks file (a convenience for checking a file against a report). */
export function ranksFileMetrics(text: string, path: string): RetrievalMetrics {
  return retrievalMetrics(parseRanksCsv(text, path));
}
