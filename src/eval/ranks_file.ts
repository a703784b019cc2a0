/**
 * Per-query ranks as a CSV file, so anyone can recompute every metric (or a significance test)
 * from an evaluation: one row per (query, relevant item) pair,
 *
 * ```text
 * direction,query,item,rank
 * t2i,0,0,1        text 0 queries the images; its image 0 ranks 1st
 * i2t,0,0,3        image 0 queries the texts; its text 0 ranks 3rd
 * ```
 *
 * Indices are 0-based rows of the evaluated split (texts and images as loaded), ranks 1-based with
 * the pessimistic tie rule. `eval --ranks FILE`, each run's `ranks-<part>.csv` and `compare`'s
 * `ranks/` use this format.
 *
 * @module
 */

import { parse } from "csv-parse";
import { type RetrievalMetrics, retrievalMetrics, type RetrievalRanks } from "./metrics.ts";

/** The header line of a ranks file. */
export const RANKS_HEADER = "direction,query,item,rank";

/** The CSV text of `ranks` (see the module notes). */
export function ranksCsv(ranks: RetrievalRanks): string {
  const lines = [RANKS_HEADER];
  for (let t = 0; t < ranks.t2i.length; t++) {
    lines.push(`t2i,${t},${ranks.textToImage[t]},${ranks.t2i[t]}`);
  }
  const byImage = Array.from({ length: ranks.t2i.length }, (_, t) => t)
    .sort((a, b) => ranks.textToImage[a] - ranks.textToImage[b] || a - b);
  for (const t of byImage) lines.push(`i2t,${ranks.textToImage[t]},${t},${ranks.i2t[t]}`);
  return lines.join("\n") + "\n";
}

/**
 * Parses a ranks file back into {@link RetrievalRanks} (the gallery size is the largest image
 * index + 1: trailing caption-less images change no metric). Errors name the file and line.
 */
export function parseRanksCsv(text: string, path: string): RetrievalRanks {
  const rows = parse(text, { skip_empty_lines: true }) as string[][];
  if (rows.length === 0 || rows[0].join(",") !== RANKS_HEADER) {
    throw new Error(`${path}: expected the header '${RANKS_HEADER}'`);
  }
  const t2i = new Map<number, { image: number; rank: number }>();
  const i2t = new Map<number, number>();
  rows.slice(1).forEach((row, k) => {
    const line = k + 2;
    const [direction, ...cells] = row;
    const [query, item, rank] = cells.map(Number);
    if (
      cells.length !== 3 || ![query, item, rank].every(Number.isInteger) || query < 0 ||
      item < 0 || rank < 1
    ) {
      throw new Error(`${path}:${line}: expected direction,query,item,rank with integers`);
    }
    if (direction === "t2i") t2i.set(query, { image: item, rank });
    else if (direction === "i2t") i2t.set(item, rank);
    else throw new Error(`${path}:${line}: direction '${direction}' is not t2i or i2t`);
  });
  const n = t2i.size;
  const textToImage = new Int32Array(n);
  const t2iRanks = new Uint32Array(n);
  const i2tRanks = new Uint32Array(n);
  for (let t = 0; t < n; t++) {
    const entry = t2i.get(t);
    const back = i2t.get(t);
    if (!entry || back === undefined) {
      throw new Error(`${path}: text ${t} lacks its t2i or i2t row (texts must be 0…${n - 1})`);
    }
    textToImage[t] = entry.image;
    t2iRanks[t] = entry.rank;
    i2tRanks[t] = back;
  }
  const numImages = textToImage.reduce((m, i) => Math.max(m, i + 1), 0);
  return { numImages, textToImage, t2i: t2iRanks, i2t: i2tRanks };
}

/** The metrics of a ranks file (a convenience for checking a file against a report). */
export function ranksFileMetrics(text: string, path: string): RetrievalMetrics {
  return retrievalMetrics(parseRanksCsv(text, path));
}
