/**
 * Feature datasets: precomputed embeddings (CLIP or any encoder) as a {@link RetrievalDataset}.
 *
 * Two layouts:
 *
 * - **A directory with `images.npy` and `texts.npy`** — `[N_img × D_img]` and `[N_txt × D_txt]`,
 *   float32 or float16 (see {@link readNpy}).
 * - **A `.safetensors` file** (or a directory holding exactly one) with 2-D tensors `images` and
 *   `texts` (F32, F16 or BF16) and optionally an integer `text_to_image` of length `N_txt`.
 *
 * The text → image relation, first match wins: `pairs.csv` in the directory (header `text,image`,
 * 0-based row indices, every text row on exactly one line); the safetensors `relevance` or
 * `text_to_image` tensor; otherwise, when `N_txt = k·N_img`, text row `t` belongs to image `⌊t/k⌋`
 * (the Karpathy / VSE++ layout with k captions per image; k = 1 is row-aligned). An image that no
 * text row belongs to stays in the gallery as a distractor (ranked for every text query, never an
 * image query), as in every reader.
 *
 * Graded relevance (see `./relation.ts`): `pairs.csv` with a third column, header
 * `text,image,relevance`, lists (text, image, grade) triples, many-to-many (a text on several lines,
 * each pair once, grades integers 0–24 (`MAX_GRADE`), 0 meaning not relevant, every text with at
 * least one grade ≥ 1); a safetensors file may hold an integer tensor `relevance` of shape `[P, 3]`,
 * rows `(text, image, grade)`, beside `text_to_image` (which then names each text's primary image,
 * listed with its highest grade) or alone. A text's primary image is its highest grade, ties to the
 * first listed.
 *
 * Optional display files in the directory: `images.txt` (one name per image row), `captions.txt`
 * (one caption per text row) or, failing that, a Flickr-style `all_captions.csv`
 * (`image,caption_index,caption`, with `images.txt` naming the rows): text `t` gets caption number
 * `j` of its image, where `j` counts the texts of that image before `t` (so for the row-aligned
 * Flickr set, text `i` shows caption 0 of image `i`).
 *
 * Every fault is a {@link DataError} naming the file: a missing file, non-finite values (with the
 * row), a matrix that is not 2-D or has no rows, mismatched row counts, out-of-range or missing
 * pairs, data larger than the available memory. Shapes and pairs are checked from the headers
 * before any feature data is read.
 *
 * @example
 * ```ts
 * import { loadFeatureDataset } from "./features.ts";
 * const ds = await loadFeatureDataset("../shared/data/flickr8k-clip-b32-val");
 * console.log(ds.numImages, ds.imageDim, ds.numTexts); // 1000 512 1000
 * ```
 *
 * @module
 */

import type { GradedRelation, RetrievalDataset } from "./types.ts";
import { DataError, isDirectory, isFile, readTextFile } from "./errors.ts";
import { buildRelation, isOneToOne, type RelevancePair } from "./relation.ts";
import { readNpy, readNpyHeader } from "./npy.ts";
import { readSafetensors, readSafetensorsHeader, type TensorInfo } from "./safetensors.ts";
import { columns, type CsvTable, intField, readCsv } from "./csv.ts";
import { checkFitsInMemory } from "./binary_file.ts";

/** Options of {@link loadFeatureDataset}. */
export interface FeatureLoadOptions {
  /** Dataset name (default: the directory's or file's base name). */
  name?: string;
  /** Skip `images.txt`, `captions.txt` and `all_captions.csv` (default false). */
  skipDisplayFiles?: boolean;
}

/** Rows and columns of a feature matrix, from a file header. */
interface MatrixShape {
  rows: number;
  cols: number;
}

const FLOAT_DTYPES = ["F32", "F16", "BF16"];

/**
 * Loads a feature dataset from a directory or a `.safetensors` file (see the module notes). Every
 * shape and the text → image relation are checked from the file headers (and `pairs.csv`) before
 * any feature data is read, so a wrong file fails at once however large it is.
 */
export async function loadFeatureDataset(
  dirOrFile: string,
  options: FeatureLoadOptions = {},
): Promise<RetrievalDataset> {
  const path = dirOrFile.replace(/\/+$/, "") || "/";
  let dir: string | null;
  let file: string | null = null;
  if (await isDirectory(path)) {
    dir = path;
    if (!(await isFile(`${dir}/images.npy`)) && !(await isFile(`${dir}/texts.npy`))) {
      file = await findSafetensors(dir);
    }
  } else if (await isFile(path)) {
    if (!path.endsWith(".safetensors")) {
      throw new DataError(
        `${path}: not a feature dataset (expected a directory with images.npy and texts.npy, ` +
          "or a .safetensors file)",
      );
    }
    dir = null;
    file = path;
  } else {
    throw new DataError(`${path}: no such file or directory`);
  }

  // 1. Shapes, from the headers alone.
  const imagesName = file ? `${file} tensor 'images'` : `${dir}/images.npy`;
  const textsName = file ? `${file} tensor 'texts'` : `${dir}/texts.npy`;
  let images: MatrixShape;
  let texts: MatrixShape;
  let relation: TensorInfo | null = null;
  let graded: TensorInfo | null = null;
  if (file === null) {
    for (const f of ["images.npy", "texts.npy"]) {
      if (!(await isFile(`${dir}/${f}`))) {
        throw new DataError(
          `${dir}: ${f} is missing (a feature directory needs images.npy and texts.npy)`,
        );
      }
    }
    images = matrixShape((await readNpyHeader(imagesName)).shape, imagesName);
    texts = matrixShape((await readNpyHeader(textsName)).shape, textsName);
  } else {
    const header = await readSafetensorsHeader(file);
    const get = (key: string) => {
      const t = header.tensors[key];
      if (!t) {
        throw new DataError(
          `${file}: no tensor '${key}' (found: ${
            Object.keys(header.tensors).join(", ") || "none"
          }; a feature file needs 'images' and 'texts')`,
        );
      }
      if (!FLOAT_DTYPES.includes(t.dtype)) {
        throw new DataError(
          `${file} tensor '${key}': dtype ${t.dtype} is not a float type (F32, F16 or BF16)`,
        );
      }
      return t;
    };
    images = matrixShape(get("images").shape, imagesName);
    texts = matrixShape(get("texts").shape, textsName);
    relation = header.tensors.text_to_image ?? null;
    if (relation) checkRelationShape(relation, `${file} tensor 'text_to_image'`, texts.rows);
    graded = header.tensors.relevance ?? null;
    if (graded) checkRelevanceShape(graded, `${file} tensor 'relevance'`);
  }

  // 2. The relation, where it needs no feature data: pairs.csv or the k-captions layout.
  let textToImage: Int32Array | null = null;
  let relevance: GradedRelation | undefined;
  let fromPairs = false;
  const relationSource = `${file} tensor 'text_to_image'`;
  if (dir !== null && await isFile(`${dir}/pairs.csv`)) {
    ({ textToImage, relevance } = await readPairs(`${dir}/pairs.csv`, texts.rows, images.rows));
    fromPairs = true;
  } else if (relation === null && graded === null) {
    if (texts.rows % images.rows !== 0) {
      throw new DataError(
        `${textsName} has ${texts.rows} rows and ${imagesName} ${images.rows}: without a ` +
          "pairs.csv the text count must be a multiple k of the image count (text t belongs to " +
          "image floor(t/k))",
      );
    }
    const k = texts.rows / images.rows;
    textToImage = new Int32Array(texts.rows);
    for (let t = 0; t < texts.rows; t++) textToImage[t] = Math.floor(t / k);
  }

  // 3. The data.
  checkFitsInMemory(4 * (images.rows * images.cols + texts.rows * texts.cols), file ?? dir!);
  let imageData: Float32Array;
  let textData: Float32Array;
  if (file === null) {
    imageData = (await readNpy(imagesName)).data;
    textData = (await readNpy(textsName)).data;
  } else {
    const wanted = [
      "images",
      "texts",
      ...(textToImage === null && relation ? ["text_to_image"] : []),
      ...(!fromPairs && graded ? ["relevance"] : []),
    ];
    const st = await readSafetensors(file, { only: wanted });
    imageData = st.tensors.images.data as Float32Array;
    textData = st.tensors.texts.data as Float32Array;
    if (textToImage === null && relation) {
      textToImage = relationValues(st.tensors.text_to_image.data, relationSource, images.rows);
    }
    if (!fromPairs && graded) {
      ({ textToImage, relevance } = tensorRelevance(
        st.tensors.relevance.data,
        graded.shape[0],
        `${file} tensor 'relevance'`,
        texts.rows,
        images.rows,
        textToImage,
      ));
    }
  }
  checkFinite(imageData, images.rows, images.cols, imagesName);
  checkFinite(textData, texts.rows, texts.cols, textsName);

  const ds: RetrievalDataset = {
    name: options.name ?? baseName(path),
    images: imageData,
    numImages: images.rows,
    imageDim: images.cols,
    texts: textData,
    numTexts: texts.rows,
    textDim: texts.cols,
    textToImage: textToImage!,
  };
  // One image per text at grade 1 is ungraded data, whichever way it was written.
  if (relevance && !isOneToOne(relevance)) ds.relevance = relevance;
  if (dir !== null && !options.skipDisplayFiles) await readDisplayFiles(dir, ds);
  return ds;
}

async function findSafetensors(dir: string): Promise<string> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".safetensors")) found.push(entry.name);
  }
  if (found.length === 0) {
    throw new DataError(`${dir}: no images.npy/texts.npy or *.safetensors found`);
  }
  if (found.length > 1) {
    throw new DataError(
      `${dir}: several .safetensors files (${found.sort().join(", ")}); pass the one to use`,
    );
  }
  return `${dir}/${found[0]}`;
}

function baseName(path: string): string {
  const last = path.split("/").filter((s) => s.length > 0).at(-1) ?? path;
  return last.replace(/\.safetensors$/, "");
}

function matrixShape(shape: number[], what: string): MatrixShape {
  if (shape.length !== 2) {
    throw new DataError(
      `${what}: expected a 2-D array [rows × dim], got shape (${shape.join(", ")})`,
    );
  }
  const [rows, cols] = shape;
  if (rows === 0) throw new DataError(`${what}: empty dataset (0 rows)`);
  if (cols === 0) throw new DataError(`${what}: rows have 0 dimensions`);
  return { rows, cols };
}

function checkRelationShape(t: TensorInfo, what: string, numTexts: number): void {
  if (FLOAT_DTYPES.includes(t.dtype) || t.dtype === "F64") {
    throw new DataError(`${what}: dtype ${t.dtype} is not an integer type (I32 or I64)`);
  }
  if (t.shape.length !== 1 || t.shape[0] !== numTexts) {
    throw new DataError(
      `${what}: shape [${t.shape.join(", ")}], expected [${numTexts}] (one image per text row)`,
    );
  }
}

function relationValues(
  data: ArrayLike<number>,
  what: string,
  numImages: number,
): Int32Array {
  const out = Int32Array.from(data);
  for (let i = 0; i < out.length; i++) {
    if (out[i] < 0 || out[i] >= numImages) {
      throw new DataError(
        `${what}: text ${i} -> image ${out[i]} is out of range (${numImages} images)`,
      );
    }
  }
  return out;
}

/** Throws naming the file and row of the first NaN or ±Inf, or of the first all-zero row. */
export function checkFinite(data: Float32Array, rows: number, cols: number, what: string): void {
  for (let row = 0; row < rows; row++) {
    let nonZero = false;
    for (let c = 0; c < cols; c++) {
      const v = data[row * cols + c];
      if (!Number.isFinite(v)) {
        throw new DataError(`${what}: row ${row} has a non-finite value (${v} at column ${c})`);
      }
      nonZero ||= v !== 0;
    }
    if (!nonZero && cols > 0) {
      throw new DataError(
        `${what}: row ${row} is all zeros: it has no direction, so it cannot be ranked by ` +
          "similarity; remove it or recompute its features",
      );
    }
  }
}

function checkRelevanceShape(t: TensorInfo, what: string): void {
  if (FLOAT_DTYPES.includes(t.dtype) || t.dtype === "F64") {
    throw new DataError(`${what}: dtype ${t.dtype} is not an integer type (I32 or I64)`);
  }
  if (t.shape.length !== 2 || t.shape[1] !== 3) {
    throw new DataError(
      `${what}: shape [${t.shape.join(", ")}], expected [P, 3] (rows of text, image, grade)`,
    );
  }
}

/**
 * A safetensors `relevance` tensor's values, `[rows, 3]` integer rows `(text, image, grade)`, as a
 * relation; `primary` (the file's `text_to_image`, if any) names each text's primary image.
 */
function tensorRelevance(
  v: ArrayLike<number>,
  rows: number,
  what: string,
  numTexts: number,
  numImages: number,
  primary: Int32Array | null,
): { textToImage: Int32Array; relevance: GradedRelation } {
  const pairs: RelevancePair[] = Array.from({ length: rows }, (_, r) => ({
    text: v[3 * r],
    image: v[3 * r + 1],
    grade: v[3 * r + 2],
    where: `${what} row ${r}`,
  }));
  const built = buildRelation(numTexts, numImages, pairs, what, primary ?? undefined);
  return { textToImage: built.textToImage, relevance: built.relation };
}

/** `pairs.csv`: `text,image` (one line per text) or `text,image,relevance` (graded). */
async function readPairs(
  path: string,
  numTexts: number,
  numImages: number,
): Promise<{ textToImage: Int32Array; relevance?: GradedRelation }> {
  const table = await readCsv(path, "pairs");
  if (table.header.includes("relevance")) {
    const [tc, ic, gc] = columns(table, ["text", "image", "relevance"]);
    const pairs: RelevancePair[] = table.records.map((rec) => ({
      text: intField(table, rec, tc, "text"),
      image: intField(table, rec, ic, "image"),
      grade: intField(table, rec, gc, "relevance"),
      where: `${path} line ${rec.line}`,
    }));
    const built = buildRelation(numTexts, numImages, pairs, path);
    return { textToImage: built.textToImage, relevance: built.relation };
  }
  return { textToImage: readOneImagePerText(table, path, numTexts, numImages) };
}

function readOneImagePerText(
  table: CsvTable,
  path: string,
  numTexts: number,
  numImages: number,
): Int32Array {
  const [tc, ic] = columns(table, ["text", "image"]);
  const out = new Int32Array(numTexts).fill(-1);
  const lineOf = new Int32Array(numTexts);
  for (const rec of table.records) {
    const t = intField(table, rec, tc, "text");
    const i = intField(table, rec, ic, "image");
    if (t >= numTexts) {
      throw new DataError(
        `${path} line ${rec.line}: text ${t} is out of range (texts has ${numTexts} rows)`,
      );
    }
    if (i >= numImages) {
      throw new DataError(
        `${path} line ${rec.line}: image ${i} is out of range (images has ${numImages} rows)`,
      );
    }
    if (out[t] >= 0) {
      throw new DataError(
        `${path} line ${rec.line}: text ${t} is already paired (line ${lineOf[t]}); each text ` +
          "belongs to exactly one image",
      );
    }
    out[t] = i;
    lineOf[t] = rec.line;
  }
  const missing = out.indexOf(-1);
  if (missing >= 0) {
    throw new DataError(`${path}: text ${missing} has no line (each text row needs exactly one)`);
  }
  return out;
}

/** Non-empty lines of a text file, or a DataError naming the file when the count is wrong. */
async function readLines(path: string, expected: number, what: string): Promise<string[]> {
  const lines = (await readTextFile(path, what)).split(/\r?\n/);
  while (lines.length > 0 && lines.at(-1) === "") lines.pop();
  if (lines.length !== expected) {
    throw new DataError(`${path}: ${lines.length} lines, expected ${expected} (one per ${what})`);
  }
  return lines;
}

async function readDisplayFiles(dir: string, ds: RetrievalDataset): Promise<void> {
  if (await isFile(`${dir}/images.txt`)) {
    ds.imageNames = await readLines(`${dir}/images.txt`, ds.numImages, "image row");
  }
  if (await isFile(`${dir}/captions.txt`)) {
    ds.captions = await readLines(`${dir}/captions.txt`, ds.numTexts, "text row");
  } else if (await isFile(`${dir}/all_captions.csv`) && ds.imageNames) {
    ds.captions = await captionsFromCsv(`${dir}/all_captions.csv`, ds);
  }
}

async function captionsFromCsv(path: string, ds: RetrievalDataset): Promise<string[]> {
  const table = await readCsv(path, "captions");
  const [ic, nc, cc] = columns(table, ["image", "caption_index", "caption"]);
  const byKey = new Map<string, string>();
  for (const rec of table.records) {
    const index = intField(table, rec, nc, "caption_index");
    byKey.set(`${rec.fields[ic]}\u0000${index}`, rec.fields[cc] ?? "");
  }
  const names = ds.imageNames!;
  const counts = new Int32Array(ds.numImages);
  const captions: string[] = [];
  for (let t = 0; t < ds.numTexts; t++) {
    const image = ds.textToImage[t];
    const j = counts[image]++;
    const caption = byKey.get(`${names[image]}\u0000${j}`);
    if (caption === undefined) {
      throw new DataError(
        `${path}: no caption ${j} for image ${names[image]} (text row ${t}, image row ${image})`,
      );
    }
    captions.push(caption);
  }
  return captions;
}
