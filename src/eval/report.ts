/**
 * Formatting of retrieval metrics for people (a table) and for programs (one JSON object), used by
 * `deno task eval` and anything else that prints an evaluation.
 *
 * @example
 * ```ts
 * import { formatMetricsTable, metricsJson } from "./report.ts";
 * const d = { "R@1": 50, "R@5": 80, "R@10": 90, MedR: 1, MeanR: 4.2, mAP: 62, MRR: 70,
 *   "NDCG@1": 50,
 *   "NDCG@5": 64, "NDCG@10": 68 };
 * const m = { t2i: d, i2t: d, rsum: 440 };
 * console.log(metricsJson(m)); // {"t2i":{"R@1":50,...},"i2t":{...},"rsum":440}
 * console.log(formatMetricsTable(m, { name: "demo", numTexts: 10, numImages: 10, dim: 4 }));
 * ```
 *
 * @module
 */

import { type DirectionMetrics, METRIC_KEYS, type RetrievalMetrics, TIE_RULE } from "./metrics.ts";

/** What the table says about the evaluation besides the metrics. */
export interface EvalInfo {
  /** Dataset name. */
  name: string;
  /** Texts (text → image queries). */
  numTexts: number;
  /** Images in the gallery. */
  numImages: number;
  /** Embedding width. */
  dim: number;
  /** Image → text queries (images with at least one text), when fewer than the images. */
  imageQueries?: number;
  /** How the scores were made, e.g. `zero-shot cosine of the raw features`. */
  scoring?: string;
  /** Wall time of the evaluation, seconds. */
  seconds?: number;
  /** The GPU adapter, for the record. */
  adapter?: string;
}

/** Rounds to 4 decimals, so sums like 456.00000000000006 print as 456. */
function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

function directionJson(d: DirectionMetrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of METRIC_KEYS) out[key] = round4(d[key]);
  return out;
}

/**
 * The metrics as one line of JSON, keys in a fixed order:
 * `{"t2i":{"R@1":…,"R@5":…,"R@10":…,"MedR":…,"MeanR":…,"mAP":…,"MRR":…,"NDCG@1":…,
 * "NDCG@5":…,"NDCG@10":…},"i2t":{…},"rsum":…}`. R@K, mAP, MRR and NDCG@K are percentages; values
 * are rounded to 4 decimals.
 */
export function metricsJson(metrics: RetrievalMetrics): string {
  return JSON.stringify({
    t2i: directionJson(metrics.t2i),
    i2t: directionJson(metrics.i2t),
    rsum: round4(metrics.rsum),
  });
}

/** A readable table of both directions, with the dataset, its sizes, rsum and the time. */
export function formatMetricsTable(metrics: RetrievalMetrics, info: EvalInfo): string {
  const header = ["direction", ...METRIC_KEYS];
  const row = (name: string, d: DirectionMetrics) => [
    name,
    ...METRIC_KEYS.map((k) => k === "MedR" ? String(d[k]) : d[k].toFixed(2)),
  ];
  const rows = [row("text → image", metrics.t2i), row("image → text", metrics.i2t)];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join("  ");
  const queries = info.imageQueries !== undefined && info.imageQueries !== info.numImages
    ? ` (${info.imageQueries} images have texts and query)`
    : "";
  const lines = [
    `${info.name}: ${info.numTexts} texts × ${info.numImages} images${queries}, ${info.dim}-d`,
  ];
  if (info.scoring) lines.push(`scores: ${info.scoring}`);
  lines.push(
    "",
    fmt(header),
    fmt(widths.map((w) => "-".repeat(w))),
    ...rows.map(fmt),
    "",
    `rsum ${metrics.rsum.toFixed(2)}   (R@K, mAP, MRR, NDCG@K in %; ranks 1-based, MedR ` +
      "floored; graded: R@K, MRR and ranks of a highest-grade item, NDCG gains 2^grade − 1)",
    `ties: ${TIE_RULE.split(":")[0]}`,
  );
  const tail: string[] = [];
  if (info.seconds !== undefined) tail.push(`time ${info.seconds.toFixed(2)} s`);
  if (info.adapter) tail.push(`GPU ${info.adapter}`);
  if (tail.length > 0) lines.push(tail.join(", "));
  return lines.join("\n");
}
