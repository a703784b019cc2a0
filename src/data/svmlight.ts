/**
 * Learning-to-rank sets in svmlight / LETOR text format, as an {@link LtrDataset}.
 *
 * One document per line: `label [qid:Q] idx:val idx:val … [# comment]`. The label is a graded
 * relevance ≥ 0. Feature indices are **1-based** (the svmlight / LETOR / LightGBM convention):
 * feature `idx` goes to dense column `idx − 1`; absent features are 0. The dimension is the largest
 * index seen unless `options.dim` is given (then a larger index is an error).
 *
 * Queries: consecutive lines with the same `qid:` form one query (a qid may not reappear after
 * another). Without `qid:` fields the groups come from a LightGBM `.query` file — one document count
 * per line, in order — given as `options.queryFile` or found beside the data as `<path>.query`.
 * An explicit `queryFile` takes precedence over `qid:` fields. Every fault is a {@link DataError}
 * naming the file and line.
 *
 * Features are stored dense (every document holds every column), so sizes are bounded before
 * anything is allocated: a feature index above {@link MAX_FEATURES} is refused with its line, and
 * so is a dense matrix larger than the available memory.
 *
 * @example
 * ```ts
 * import { readSvmlight } from "./svmlight.ts";
 * const ltr = await readSvmlight("../shared/data/ltr-lightgbm/rank.train"); // uses rank.train.query
 * console.log(ltr.queries.length, ltr.dim); // 201 300
 * ```
 *
 * @module
 */

import type { LtrDataset, LtrQuery } from "./types.ts";
import { DataError, isFile, readTextFile } from "./errors.ts";
import { checkFitsInMemory } from "./binary_file.ts";

/**
 * Largest feature index read. Learning-to-rank sets have tens to a few thousand features (MSLR 136,
 * Yahoo 700, Istella 220); features here are dense, so a larger index is a fault of the file.
 */
export const MAX_FEATURES = 100_000;

/** Options of {@link readSvmlight}. */
export interface SvmlightOptions {
  /** A LightGBM `.query` group file (default: `<path>.query` when the lines have no `qid:`). */
  queryFile?: string;
  /** Feature dimension; indices above it are an error (default: the largest index seen). */
  dim?: number;
}

interface Doc {
  label: number;
  qid: string | null;
  indices: number[];
  values: number[];
  line: number;
}

function parseLine(text: string, line: number, path: string): Doc | null {
  const hash = text.indexOf("#");
  const body = (hash >= 0 ? text.slice(0, hash) : text).trim();
  if (body.length === 0) return null;
  const fail = (what: string) => new DataError(`${path} line ${line}: ${what}`);
  const tokens = body.split(/\s+/);
  const label = Number(tokens[0]);
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(tokens[0]) || !Number.isFinite(label)) {
    throw fail(`label ${JSON.stringify(tokens[0])} is not a number`);
  }
  if (label < 0) throw fail(`label ${label} is negative (graded relevance must be ≥ 0)`);
  const doc: Doc = { label, qid: null, indices: [], values: [], line };
  let last = 0;
  for (let k = 1; k < tokens.length; k++) {
    const token = tokens[k];
    const colon = token.indexOf(":");
    if (colon <= 0) throw fail(`expected idx:value, got ${JSON.stringify(token)}`);
    const key = token.slice(0, colon);
    const valueText = token.slice(colon + 1);
    if (key === "qid") {
      if (k !== 1) throw fail("qid: must come right after the label");
      if (valueText.length === 0) throw fail("empty qid");
      doc.qid = valueText;
      continue;
    }
    if (!/^\d+$/.test(key)) throw fail(`feature index ${JSON.stringify(key)} is not an integer`);
    const index = Number.parseInt(key, 10);
    if (index === 0) throw fail("feature index 0: indices are 1-based");
    if (index > MAX_FEATURES) {
      throw fail(
        `feature index ${key} is over the limit of ${MAX_FEATURES} features (learning-to-rank ` +
          "features are stored dense, every document holding every feature)",
      );
    }
    if (index <= last) {
      throw fail(`feature index ${index} after ${last}: indices must increase along a line`);
    }
    const value = Number(valueText);
    if (valueText.length === 0 || !Number.isFinite(value)) {
      throw fail(`feature ${index} has value ${JSON.stringify(valueText)}, not a finite number`);
    }
    last = index;
    doc.indices.push(index);
    doc.values.push(value);
  }
  return doc;
}

async function readGroups(path: string, what: string): Promise<{ count: number; line: number }[]> {
  const groups: { count: number; line: number }[] = [];
  (await readTextFile(path, what)).split(/\r?\n/).forEach((text, i) => {
    const t = text.trim();
    if (t.length === 0) return;
    if (!/^\d+$/.test(t) || Number(t) === 0) {
      throw new DataError(
        `${path} line ${i + 1}: ${JSON.stringify(t)} is not a positive document count`,
      );
    }
    groups.push({ count: Number(t), line: i + 1 });
  });
  return groups;
}

/** Reads an svmlight / LETOR file (see the module notes). */
export async function readSvmlight(
  path: string,
  options: SvmlightOptions = {},
): Promise<LtrDataset> {
  const docs: Doc[] = [];
  (await readTextFile(path, "svmlight")).split(/\r?\n/).forEach((text, i) => {
    const doc = parseLine(text, i + 1, path);
    if (doc) docs.push(doc);
  });
  if (docs.length === 0) throw new DataError(`${path}: empty dataset (no documents)`);

  let widest: Doc | null = null;
  for (const d of docs) {
    if (d.indices.length > 0 && d.indices.at(-1)! > (widest?.indices.at(-1) ?? 0)) widest = d;
  }
  let dim = widest?.indices.at(-1) ?? 0;
  if (options.dim !== undefined) {
    if (!Number.isInteger(options.dim) || options.dim < 1 || options.dim > MAX_FEATURES) {
      throw new RangeError(
        `readSvmlight: dim ${options.dim} must be an integer in [1, ${MAX_FEATURES}]`,
      );
    }
    dim = options.dim;
    const over = docs.find((d) => d.indices.length > 0 && d.indices.at(-1)! > dim);
    if (over) {
      throw new DataError(
        `${path} line ${over.line}: feature index ${over.indices.at(-1)} exceeds dim ${dim}`,
      );
    }
  }
  if (dim === 0) throw new DataError(`${path}: no features on any line`);
  checkFitsInMemory(
    docs.length * dim * 4,
    `${path}${widest ? ` line ${widest.line}` : ""}: ${docs.length} documents × ${dim} ` +
      "features stored dense",
  );

  // Group documents into queries.
  const groups: { qid: string; docs: Doc[] }[] = [];
  const withQid = docs.filter((d) => d.qid !== null).length;
  let queryFile = options.queryFile;
  if (queryFile === undefined && withQid === 0 && await isFile(`${path}.query`)) {
    queryFile = `${path}.query`;
  }
  if (queryFile !== undefined) {
    const counts = await readGroups(queryFile, "query file");
    const total = counts.reduce((a, g) => a + g.count, 0);
    if (total !== docs.length) {
      throw new DataError(
        `${queryFile}: the group counts sum to ${total} documents, ${path} has ${docs.length}`,
      );
    }
    let at = 0;
    for (const [k, g] of counts.entries()) {
      const members = docs.slice(at, at + g.count);
      groups.push({ qid: members[0].qid ?? String(k), docs: members });
      at += g.count;
    }
  } else {
    if (withQid !== docs.length) {
      const first = docs.find((d) => d.qid === null)!;
      throw new DataError(
        withQid === 0
          ? `${path}: no qid: fields and no query file (${path}.query); cannot group documents ` +
            "into queries"
          : `${path} line ${first.line}: no qid: field, while other lines have one`,
      );
    }
    const seen = new Map<string, number>();
    for (const d of docs) {
      const current = groups.at(-1);
      if (current && current.qid === d.qid) {
        current.docs.push(d);
        continue;
      }
      if (seen.has(d.qid!)) {
        throw new DataError(
          `${path} line ${d.line}: qid ${d.qid} reappears after other queries (first seen on ` +
            `line ${seen.get(d.qid!)}); a query's documents must be consecutive`,
        );
      }
      seen.set(d.qid!, d.line);
      groups.push({ qid: d.qid!, docs: [d] });
    }
  }

  const queries: LtrQuery[] = groups.map(({ qid, docs: members }) => {
    const features = new Float32Array(members.length * dim);
    const labels = new Float32Array(members.length);
    members.forEach((d, r) => {
      labels[r] = d.label;
      for (let k = 0; k < d.indices.length; k++) features[r * dim + d.indices[k] - 1] = d.values[k];
    });
    return { qid, features, labels, numDocs: members.length };
  });
  return { path, dim, queries };
}
