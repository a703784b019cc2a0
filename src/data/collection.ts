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
 * image. Images without captions stay in the gallery as distractors (ranked for every text query,
 * never an image query), as in every reader: a COCO image with no annotation keeps its place, and
 * the JPEG/PNG files of the image folder that the captions file never names follow, sorted by name.
 * Images are featurised on the GPU ({@link featuriseImageFiles}: 312 values), captions on the CPU
 * ({@link featuriseTexts}: 1024 values). `imageNames`, `imagePaths` and `captions` are filled.
 *
 * Every image path is resolved (symlinks included) and must stay inside the image folder: a name
 * such as `../../x.jpg` is refused, naming the line (CSV) or the `images` entry (COCO).
 *
 * Errors ({@link DataError}, naming the file): a caption for a missing image (an unknown
 * `image_id`, or a file name with no file), a path outside the image folder, an unreadable,
 * corrupt or oversized image (see {@link ImageFeatureOptions.maxImagePixels}), an empty caption, an
 * empty dataset.
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
import { DataError, describeFsError, isDirectory, isFile, readTextFile } from "./errors.ts";
import { columns, intField, readCsv } from "./csv.ts";
import { parseJsonStrict } from "./json.ts";
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
}

/** Images (file names relative to the image folder) and their captions, in dataset order. */
export interface CaptionedImages {
  /** File name of each image, relative to the image folder. */
  files: string[];
  /** Captions of each image (none for a distractor). */
  captions: string[][];
  /** Where the captions file names each image (`line 3`, `images[0] (id 7)`), for messages. */
  sources: string[];
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
  const root = parseJsonStrict(text, path) as { images?: unknown; annotations?: unknown };
  if (!root || typeof root !== "object" || !Array.isArray(root.images)) {
    throw new DataError(`${path}: not COCO captions JSON (no "images" array)`);
  }
  if (!Array.isArray(root.annotations)) {
    throw new DataError(`${path}: not COCO captions JSON (no "annotations" array)`);
  }
  const index = new Map<number | string, number>();
  const files: string[] = [];
  const sources: string[] = [];
  root.images.forEach((img: { id?: unknown; file_name?: unknown }, k: number) => {
    const id = img?.id;
    if ((typeof id !== "number" && typeof id !== "string") || typeof img.file_name !== "string") {
      throw new DataError(`${path}: images[${k}] needs an "id" and a "file_name"`);
    }
    if (index.has(id)) throw new DataError(`${path}: images[${k}]: duplicate image id ${id}`);
    index.set(id, files.length);
    files.push(img.file_name);
    sources.push(`images[${k}] (id ${JSON.stringify(id)})`);
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
  return { files, captions, sources };
}

/** Reads a caption CSV (`image,caption` or `image,caption_index,caption`). */
export async function readCaptionCsv(path: string): Promise<CaptionedImages> {
  const table = await readCsv(path, "captions");
  const [ic, cc] = columns(table, ["image", "caption"]);
  const nc = table.header.indexOf("caption_index");
  const index = new Map<string, number>();
  const files: string[] = [];
  const sources: string[] = [];
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
      sources.push(`line ${rec.line}`);
      entries.push([]);
    }
    const order = nc >= 0 ? intField(table, rec, nc, "caption_index") : entries[at].length;
    entries[at].push({ order, caption });
  }
  if (files.length === 0) throw new DataError(`${path}: empty dataset (no caption rows)`);
  const captions = entries.map((list) =>
    list.sort((a, b) => a.order - b.order).map((e) => e.caption)
  );
  return { files, captions, sources };
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

  const folder = await resolvePath(imageDir, `${imageDir}: no such image folder`);
  const named = new Set<string>();
  for (const [i, file] of set.files.entries()) {
    const where = `${captionsFile} ${set.sources[i]}`;
    const real = await resolvePath(
      `${imageDir}/${file}`,
      `${where}: caption for a missing image: ${file} is not in ${imageDir}`,
    );
    if (!isInside(real, folder)) {
      throw new DataError(
        `${where}: image ${JSON.stringify(file)} resolves to ${real}, outside the image folder ` +
          `${folder}; image paths must stay inside the dataset`,
      );
    }
    if (!(await isFile(real))) {
      throw new DataError(`${where}: caption for a missing image: ${file} is not a file`);
    }
    named.add(real);
  }
  // Images of the folder that the captions never name: gallery distractors, sorted by name.
  const extra: string[] = [];
  for await (const entry of Deno.readDir(imageDir)) {
    if (!(entry.isFile || entry.isSymlink) || !IMAGE_EXT.test(entry.name)) continue;
    const real = await resolvePath(`${imageDir}/${entry.name}`, `${imageDir}/${entry.name}`);
    if (named.has(real)) continue;
    if (!isInside(real, folder)) {
      throw new DataError(
        `${imageDir}/${entry.name}: a link to ${real}, outside the image folder ${folder}; ` +
          "image paths must stay inside the dataset",
      );
    }
    if (await isFile(real)) extra.push(entry.name);
  }
  extra.sort();
  const files = [...set.files, ...extra];
  const perImage = [...set.captions, ...extra.map(() => [])];

  const imagePaths = files.map((f) => `${imageDir}/${f}`);
  const captions = perImage.flat();
  if (captions.length === 0) {
    throw new DataError(`${captionsFile}: empty dataset (no captions)`);
  }
  const images = await featuriseImageFiles(imagePaths, options);
  const textToImage = new Int32Array(captions.length);
  let t = 0;
  perImage.forEach((list, i) => list.forEach(() => textToImage[t++] = i));
  const textDim = options.textDim ?? TEXT_FEATURE_DIM;
  return {
    name: options.name ?? (root.split("/").filter((s) => s.length > 0).at(-1) ?? root),
    images,
    numImages: files.length,
    imageDim: images.length / files.length,
    texts: featuriseTexts(captions, { dim: textDim }),
    numTexts: captions.length,
    textDim,
    textToImage,
    imageNames: files,
    imagePaths,
    captions,
  };
}

/** The real path of `path` (symlinks resolved), or a {@link DataError} `missing` when absent. */
async function resolvePath(path: string, missing: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new DataError(missing);
    throw new DataError(`${path}: cannot resolve: ${describeFsError(error)}`);
  }
}

/** Whether the real path `path` is `folder` or lies beneath it. */
function isInside(path: string, folder: string): boolean {
  return path === folder || path.startsWith(folder.endsWith("/") ? folder : `${folder}/`);
}
