/**
 * A thin CSV reader over `csv-parse` for the data formats (`pairs.csv`, `all_captions.csv`,
 * Flickr-style caption files): a header row plus records that remember their line numbers, and
 * errors that name the file and line.
 *
 * @module
 */

import { parse } from "csv-parse";
import { DataError, readTextFile } from "./errors.ts";

/** One data record of a CSV file. */
export interface CsvRecord {
  /** The fields, trimmed. */
  fields: string[];
  /** 1-based line number where the record ends in the file. */
  line: number;
}

/** A parsed CSV file: header (lower-cased, trimmed) and records. */
export interface CsvTable {
  /** The file, for messages. */
  path: string;
  /** Column names from the first row, lower-cased. */
  header: string[];
  /** The data rows (empty lines skipped). */
  records: CsvRecord[];
}

/** Reads a CSV file with a header row; a parse error or a row of the wrong width names the line. */
export async function readCsv(path: string, what: string): Promise<CsvTable> {
  const text = await readTextFile(path, what);
  let rows: { record: string[]; info: { lines: number } }[];
  try {
    rows = parse(text, {
      info: true,
      skip_empty_lines: true,
      trim: true,
      bom: true,
    }) as unknown as {
      record: string[];
      info: { lines: number };
    }[];
  } catch (error) {
    const line = (error as { lines?: number }).lines;
    throw new DataError(
      `${path}${line ? ` line ${line}` : ""}: malformed CSV: ${(error as Error).message}`,
    );
  }
  if (rows.length === 0) throw new DataError(`${path}: empty CSV file (no header row)`);
  const header = rows[0].record.map((h) => h.toLowerCase());
  return {
    path,
    header,
    records: rows.slice(1).map((r) => ({ fields: r.record, line: r.info.lines })),
  };
}

/**
 * Index of each wanted column in `table.header`, or a {@link DataError} naming the file, the
 * expected columns and the header found.
 */
export function columns(table: CsvTable, wanted: readonly string[]): number[] {
  const idx = wanted.map((name) => table.header.indexOf(name));
  if (idx.some((i) => i < 0)) {
    throw new DataError(
      `${table.path}: expected a header with columns ${wanted.join(",")}; found ` +
        `${table.header.join(",") || "(nothing)"}`,
    );
  }
  return idx;
}

/** Parses a non-negative integer field, or throws naming the file, line and column. */
export function intField(table: CsvTable, record: CsvRecord, col: number, name: string): number {
  const text = record.fields[col];
  if (text === undefined || !/^\d+$/.test(text)) {
    throw new DataError(
      `${table.path} line ${record.line}: ${name} ${JSON.stringify(text ?? "")} is not a ` +
        "non-negative integer",
    );
  }
  return Number.parseInt(text, 10);
}
