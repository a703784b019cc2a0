/**
 * Raw image–caption collections: an image folder plus a captions file, featurised with the
 * built-in featurisers into a {@link RetrievalDataset}.
 *
 * Layout: a directory holding the captions file and the images, either in an `images/`
 * subdirectory or beside the captions file. The captions file is (first match):
 * `captions.json`, `captions.csv`, or the only other `.json` / `.csv` file there, in one of:
 *
 * - **COCO captions JSON**: `images` (`id`, `file_name`) and `annotations` (`image_id`,
 *   `caption`);
 * - **CSV** with a header `image,caption` (Flickr8k style) or `image,caption_index,caption`.
 *
 * Images keep the order of the captions file (COCO `images`; CSV first appearance); an image's
 * captions follow in file order (CSV: by `caption_index` when present) and text rows are grouped by
 * image. Images are featurised on the GPU ({@link featuriseImageFiles}: 312 values), captions on
 * the CPU ({@link featuriseTexts}: 1024 values). `imageNames`, `imagePaths` and `captions` are
 * filled.
 *
 * Errors ({@link DataError}, naming the file): an image without captions (a COCO image with no
 * annotation, or — unless `extraImages: "ignore"` — a JPEG/PNG in the image folder that the
 * captions file never names), a caption for a missing image (an unknown `image_id`, or a file name
 * with no file), an unreadable or corrupt image, an empty caption, an empty dataset.
 *
 * @example
 * ```ts
 * import { loadCollection } from "./collection.ts";
 * const ds = await loadCollection("../shared/data/coco-mini-val");
 * console.log(ds.numImages, ds.numTexts); // 79 395
 * ```
 *
 * @module
 */

import type { RetrievalDataset } from "./types.ts";
import { DataError, isDirectory, isFile, readTextFile } from "./errors.ts";
import { columns, intField, readCsv } from "./csv.ts";
import { featuriseImageFiles, type ImageFeatureOptions } from "./image_features.ts";
import { featuriseTexts, TEXT_FEATURE_DIM } from "./text_features.ts";

/** Options of {@link loadCollection}. */
export interface CollectionOptions extends ImageFeatureOptions {
  /** Dataset name (default: the directory's base name). */
  name?: string;
  /** The captions file (default: found in the directory, see the module notes). */
  captionsFile?: string;
  /** The image folder (default: `images/` in the directory if present, else the directory). */
  imageDir?: string;
  /** Text feature dimension (default 1024). */
  textDim?: number;
  /** What to do with images in the folder that have no caption (default `"error"`). */
  extraImages?: "error" | "ignore";
}

/** Images (file names relative to the image folder) and their captions, in dataset order. */
export interface CaptionedImages {
  /** File name of each image, relative to the image folder. */
  files: string[];
  /** Captions of each image (at least one each). */
  captions: string[][];
}

const IMAGE_EXT = /\.(jpe?g|png)$/i;

/** Finds the captions file of a collection directory, or null when there is none. */
export async function findCaptionsFile(dir: string): Promise<string | null> {
  for (const name of ["captions.json", "captions.csv"]) {
    if (await isFile(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && /\.(json|csv)$/i.test(entry.name)) found.push(entry.name);
  }
  if (found.length > 1) {
    throw new DataError(
      `${dir}: several possible captions files (${found.sort().join(", ")}); name one ` +
        "captions.json or captions.csv",
    );
  }
  return found.length === 1 ? `${dir}/${found[0]}` : null;
}

/** Parses COCO captions JSON text; `path` names the file in errors. */
export function parseCocoCaptions(text: string, path: string): CaptionedImages {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DataError(`${path}: not valid JSON (${(error as Error).message})`);
  }
  const root = json as { images?: unknown; annotations?: unknown };
  if (!root || typeof root !== "object" || !Array.isArray(root.images)) {
    throw new DataError(`${path}: not COCO captions JSON (no "images" array)`);
  }
  if (!Array.isArray(root.annotations)) {
    throw new DataError(`${path}: not COCO captions JSON (no "annotations" array)`);
  }
  const index = new Map<number | string, number>();
  const files: string[] = [];
  root.images.forEach((img: { id?: unknown; file_name?: unknown }, k: number) => {
    const id = img?.id;
    if ((typeof id !== "number" && typeof id !== "string") || typeof img.file_name !== "string") {
      throw new DataError(`${path}: images[${k}] needs an "id" and a "file_name"`);
    }
    if (index.has(id)) throw new DataError(`${path}: images[${k}]: duplicate image id ${id}`);
    index.set(id, files.length);
    files.push(img.file_name);
  });
  if (files.length === 0) throw new DataError(`${path}: empty dataset (no images)`);
  const captions: string[][] = files.map(() => []);
  root.annotations.forEach((a: { image_id?: unknown; caption?: unknown }, k: number) => {
    const at = index.get(a?.image_id as number | string);
    if (at === undefined) {
      throw new DataError(
        `${path}: annotations[${k}] is a caption for a missing image: image_id ` +
          `${JSON.stringify(a?.image_id)} is not in "images"`,
      );
    }
    if (typeof a.caption !== "string" || a.caption.trim().length === 0) {
      throw new DataError(`${path}: annotations[${k}] has an empty or missing caption`);
    }
    captions[at].push(a.caption.trim());
  });
  const lonely = captions.findIndex((c) => c.length === 0);
  if (lonely >= 0) {
    throw new DataError(`${path}: image ${files[lonely]} has no captions (no annotation)`);
  }
  return { files, captions };
}

/** Reads a caption CSV (`image,caption` or `image,caption_index,caption`). */
export async function readCaptionCsv(path: string): Promise<CaptionedImages> {
  const table = await readCsv(path, "captions");
  const [ic, cc] = columns(table, ["image", "caption"]);
  const nc = table.header.indexOf("caption_index");
  const index = new Map<string, number>();
  const files: string[] = [];
  const entries: { order: number; caption: string }[][] = [];
  for (const rec of table.records) {
    const file = rec.fields[ic] ?? "";
    const caption = (rec.fields[cc] ?? "").trim();
    if (file.length === 0) throw new DataError(`${path} line ${rec.line}: empty image name`);
    if (caption.length === 0) throw new DataError(`${path} line ${rec.line}: empty caption`);
    let at = index.get(file);
    if (at === undefined) {
      index.set(file, at = files.length);
      files.push(file);
      entries.push([]);
    }
    const order = nc >= 0 ? intField(table, rec, nc, "caption_index") : entries[at].length;
    entries[at].push({ order, caption });
  }
  if (files.length === 0) throw new DataError(`${path}: empty dataset (no caption rows)`);
  const captions = entries.map((list) =>
    list.sort((a, b) => a.order - b.order).map((e) => e.caption)
  );
  return { files, captions };
}

/** Loads and featurises an image–caption collection (see the module notes). */
export async function loadCollection(
  dir: string,
  options: CollectionOptions = {},
): Promise<RetrievalDataset> {
  const root = dir.replace(/\/+$/, "") || "/";
  if (!(await isDirectory(root))) throw new DataError(`${root}: no such directory`);
  const captionsFile = options.captionsFile ?? await findCaptionsFile(root);
  if (captionsFile === null) {
    throw new DataError(`${root}: no captions file (captions.json or captions.csv) found`);
  }
  const imageDir = options.imageDir ??
    (await isDirectory(`${root}/images`) ? `${root}/images` : root);
  const set = /\.json$/i.test(captionsFile)
    ? parseCocoCaptions(await readTextFile(captionsFile, "captions"), captionsFile)
    : await readCaptionCsv(captionsFile);

  for (const file of set.files) {
    if (!(await isFile(`${imageDir}/${file}`))) {
      throw new DataError(
        `${captionsFile}: caption for a missing image: ${file} is not in ${imageDir}`,
      );
    }
  }
  if ((options.extraImages ?? "error") === "error") {
    const named = new Set(set.files);
    for await (const entry of Deno.readDir(imageDir)) {
      if (entry.isFile && IMAGE_EXT.test(entry.name) && !named.has(entry.name)) {
        throw new DataError(
          `${imageDir}/${entry.name}: image without captions (not named in ${captionsFile}; ` +
            'pass extraImages: "ignore" to skip such files)',
        );
      }
    }
  }

  const imagePaths = set.files.map((f) => `${imageDir}/${f}`);
  const images = await featuriseImageFiles(imagePaths, options);
  const captions = set.captions.flat();
  const textToImage = new Int32Array(captions.length);
  let t = 0;
  set.captions.forEach((list, i) => list.forEach(() => textToImage[t++] = i));
  const textDim = options.textDim ?? TEXT_FEATURE_DIM;
  return {
    name: options.name ?? (root.split("/").filter((s) => s.length > 0).at(-1) ?? root),
    images,
    numImages: set.files.length,
    imageDim: images.length / set.files.length,
    texts: featuriseTexts(captions, { dim: textDim }),
    numTexts: captions.length,
    textDim,
    textToImage,
    imageNames: set.files,
    imagePaths,
    captions,
  };
}
