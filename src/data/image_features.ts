/**
 * The built-in image featuriser: decode (imagescript: JPEG, PNG), centre-crop and resize on the CPU,
 * then fixed colour and gradient-orientation features on the GPU (`kernels/image_features.wgsl`).
 *
 * Preprocessing (CPU, deterministic): the largest centred square is cropped (so odd aspect ratios
 * keep the middle of the picture and shapes are not distorted), then resampled to `size × size`
 * (default 64) by area averaging (each output pixel is the coverage-weighted mean of the source
 * pixels under it); alpha is composited over white; grayscale images decode to r = g = b.
 *
 * Features (GPU): per cell of a `grid × grid` grid (default 4 × 4) an 8-bin hue histogram weighted
 * by chroma, 3 lightness bins for grey pixels and an 8-bin HOG-like gradient-orientation histogram,
 * each block normalised and power-normalised (a smoothed square root); then 8 global colour
 * statistics; the row has unit L2 norm. See the
 * kernel header for the exact definition; `src/reference/image_features.ts` is its float64 twin.
 * With the defaults, {@link imageFeatureDim} is 312.
 *
 * @example
 * ```ts
 * import { featuriseImageFiles } from "./image_features.ts";
 * const feats = await featuriseImageFiles(["a.jpg", "b.png"]); // 2 × 312 floats
 * ```
 *
 * @module
 */

import { decode, type GIF, Image } from "imagescript";
import { IMAGE_FEATURES } from "../gpu/kernels.ts";
import { initGpu } from "../gpu/runtime.ts";
import { DataError } from "./errors.ts";
import { openBinaryFile } from "./binary_file.ts";

/** Default side of the resized image, in pixels. */
export const IMAGE_FEATURE_SIZE = 64;
/** Default spatial grid (cells per side). */
export const IMAGE_FEATURE_GRID = 4;
/** Values per grid cell: 8 hue + 3 grey + 8 orientation bins (declared with the kernel). */
export const CELL_DIM: number = IMAGE_FEATURES.constants.CELL_DIM;
/** Values of the global block. */
export const GLOBAL_DIM: number = IMAGE_FEATURES.constants.GLOBAL_DIM;

/** Feature length for a `grid × grid` layout (312 for the default 4 × 4). */
export function imageFeatureDim(grid: number = IMAGE_FEATURE_GRID): number {
  return grid * grid * CELL_DIM + GLOBAL_DIM;
}

/** Decoded pixels: `width × height` RGBA8, row-major. */
export interface RgbaImage {
  /** Columns. */
  width: number;
  /** Rows. */
  height: number;
  /** `width × height × 4` bytes (r, g, b, a). */
  rgba: Uint8Array | Uint8ClampedArray;
}

/** Options of the featuriser. */
export interface ImageFeatureOptions {
  /** Side of the resized image (default {@link IMAGE_FEATURE_SIZE}); at least `grid`. */
  size?: number;
  /** Cells per side (default {@link IMAGE_FEATURE_GRID}); at most `size`. */
  grid?: number;
  /** Images per GPU dispatch (default: as many as fit in 32 MiB of pixels). */
  batch?: number;
  /** Output rows per readback (default: as many as fit in 64 MiB). */
  rowsPerRead?: number;
  /**
   * Largest image accepted, in pixels (default {@link DEFAULT_MAX_IMAGE_PIXELS}): checked from the
   * file header before decoding, since decoding takes about 16 bytes per pixel.
   */
  maxImagePixels?: number;
}

/** Default pixel limit of a decoded image: 40 megapixels (about 0.6 GB while decoding). */
export const DEFAULT_MAX_IMAGE_PIXELS = 40_000_000;

/** Width and height as a JPEG or PNG header declares them, or null for another format. */
export function imageHeaderSize(bytes: Uint8Array): { width: number; height: number } | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 24 && png.every((b, i) => bytes[i] === b)) {
    // The first chunk must be IHDR: length (4), "IHDR", width (4, big-endian), height (4).
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  // JPEG: walk the marker segments to the first start-of-frame (SOF0–SOF15 except DHT, JPG, DAC).
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2; // markers without a length
      continue;
    }
    const length = view.getUint16(at + 2);
    const sof = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
    if (sof) {
      if (at + 9 > bytes.length) return null;
      return { width: view.getUint16(at + 7), height: view.getUint16(at + 5) };
    }
    if (marker === 0xda || marker === 0xd9 || length < 2) return null; // scan data, no frame yet
    at += 2 + length;
  }
  return null;
}

/**
 * Decodes JPEG or PNG bytes with imagescript. `name` (a path) is used in the error for an
 * unreadable, corrupt, unsupported or oversized image: the size the header declares is checked
 * against `options.maxImagePixels` (default {@link DEFAULT_MAX_IMAGE_PIXELS}) before anything is
 * decoded.
 */
export async function decodeImage(
  bytes: Uint8Array,
  name: string,
  options: Pick<ImageFeatureOptions, "maxImagePixels"> = {},
): Promise<RgbaImage> {
  if (imageHeaderSize(bytes) === null) {
    throw new DataError(`${name}: unreadable image (not a JPEG or PNG file)`);
  }
  checkPixels(bytes, name, options);
  let image: Image | GIF;
  try {
    image = await decode(bytes) as Image | GIF;
  } catch (error) {
    throw new DataError(
      `${name}: unreadable image (${(error as Error).message || "decode failed"}); JPEG and PNG ` +
        "are supported",
    );
  }
  if (!(image instanceof Image)) {
    throw new DataError(`${name}: animated GIF images are not supported (JPEG and PNG are)`);
  }
  if (image.width === 0 || image.height === 0) throw new DataError(`${name}: empty image`);
  return { width: image.width, height: image.height, rgba: image.bitmap };
}

/** Refuses an image whose header declares more pixels than the limit (see {@link decodeImage}). */
function checkPixels(
  head: Uint8Array,
  name: string,
  options: Pick<ImageFeatureOptions, "maxImagePixels">,
): void {
  const maxPixels = options.maxImagePixels ?? DEFAULT_MAX_IMAGE_PIXELS;
  const size = imageHeaderSize(head);
  if (size !== null && size.width * size.height > maxPixels) {
    throw new DataError(
      `${name}: the image declares ${size.width} × ${size.height} pixels ` +
        `(${(size.width * size.height / 1e6).toFixed(1)} MP), over the limit of ` +
        `${maxPixels / 1e6} MP; raise it with --max-megapixels if the image is genuine`,
    );
  }
}

/** Bytes read first to find an image's declared size before reading the whole file. */
const HEAD_BYTES = 1 << 20;

/**
 * Reads and decodes an image file (see {@link decodeImage}); the declared size is checked from the
 * start of the file before the rest is read.
 */
export async function readImageFile(
  path: string,
  options: Pick<ImageFeatureOptions, "maxImagePixels"> = {},
): Promise<RgbaImage> {
  const file = await openBinaryFile(path, "image");
  let bytes: Uint8Array;
  try {
    const head = await file.read(0, Math.min(file.size, HEAD_BYTES));
    checkPixels(head, path, options);
    bytes = file.size > head.length ? await file.read(0, file.size) : head;
  } finally {
    file.close();
  }
  return decodeImage(bytes, path, options);
}

/** Source index ranges and weights of each output pixel along one axis (area averaging). */
function resampleWeights(start: number, length: number, size: number) {
  const step = length / size;
  const from: number[] = [];
  const weights: number[][] = [];
  for (let o = 0; o < size; o++) {
    const a = start + o * step;
    const b = a + step;
    const first = Math.floor(a);
    const w: number[] = [];
    for (let s = first; s < b; s++) {
      w.push((Math.min(b, s + 1) - Math.max(a, s)) / step); // > 0: s + 1 > a and s < b
    }
    from.push(first);
    weights.push(w);
  }
  return { from, weights };
}

/**
 * Centre-crops the largest square of `image` and resamples it to `size × size` by area averaging;
 * alpha is composited over white. Returns RGBA8 (alpha 255), row-major.
 */
export function resizeForFeatures(image: RgbaImage, size: number = IMAGE_FEATURE_SIZE): Uint8Array {
  const { width, height, rgba } = image;
  if (rgba.length !== width * height * 4) {
    throw new RangeError(`resizeForFeatures: ${rgba.length} bytes for ${width} × ${height} RGBA`);
  }
  const side = Math.min(width, height);
  const x0 = Math.floor((width - side) / 2);
  const y0 = Math.floor((height - side) / 2);
  const cols = resampleWeights(x0, side, size);
  const rows = resampleWeights(y0, side, size);
  // Horizontal pass over the cropped rows: side × size × 3 (composited over white).
  const mid = new Float64Array(side * size * 3);
  for (let y = 0; y < side; y++) {
    const srcRow = (y0 + y) * width;
    for (let o = 0; o < size; o++) {
      const w = cols.weights[o];
      let r = 0, g = 0, b = 0;
      for (let k = 0; k < w.length; k++) {
        const at = (srcRow + cols.from[o] + k) * 4;
        const alpha = rgba[at + 3] / 255;
        const white = 255 * (1 - alpha);
        r += w[k] * (rgba[at] * alpha + white);
        g += w[k] * (rgba[at + 1] * alpha + white);
        b += w[k] * (rgba[at + 2] * alpha + white);
      }
      const m = (y * size + o) * 3;
      mid[m] = r;
      mid[m + 1] = g;
      mid[m + 2] = b;
    }
  }
  const out = new Uint8Array(size * size * 4);
  for (let o = 0; o < size; o++) {
    const w = rows.weights[o];
    const first = rows.from[o] - y0;
    for (let x = 0; x < size; x++) {
      let r = 0, g = 0, b = 0;
      for (let k = 0; k < w.length; k++) {
        const m = ((first + k) * size + x) * 3;
        r += w[k] * mid[m];
        g += w[k] * mid[m + 1];
        b += w[k] * mid[m + 2];
      }
      const at = (o * size + x) * 4;
      out[at] = Math.min(255, Math.round(r));
      out[at + 1] = Math.min(255, Math.round(g));
      out[at + 2] = Math.min(255, Math.round(b));
      out[at + 3] = 255;
    }
  }
  return out;
}

/** Pixel bytes per dispatch when {@link ImageFeatureOptions.batch} is not given. */
const BATCH_BYTES = 32 * 2 ** 20;
/** Largest output buffer read back at once (collections beyond it are read in several parts). */
const OUTPUT_BYTES = 64 * 2 ** 20;

function checkOptions(options: ImageFeatureOptions): { size: number; grid: number } {
  const { size = IMAGE_FEATURE_SIZE, grid = IMAGE_FEATURE_GRID } = options;
  if (!Number.isInteger(size) || size < 1 || size > 1024) {
    throw new RangeError(`image features: size ${size} must be an integer in [1, 1024]`);
  }
  if (!Number.isInteger(grid) || grid < 1 || grid > size) {
    throw new RangeError(`image features: grid ${grid} must be an integer in [1, size = ${size}]`);
  }
  return { size, grid };
}

/**
 * Computes features of `count` prepared images on the GPU: `pixels` holds `count × size × size`
 * RGBA8 pixels (from {@link resizeForFeatures}). Returns `count × imageFeatureDim(grid)` floats.
 * Batches of images are recorded and submitted one after another into one output buffer, which is
 * read back once (once per 64 MiB of output for very large inputs).
 */
export async function computeImageFeatures(
  pixels: Uint8Array,
  count: number,
  options: ImageFeatureOptions = {},
): Promise<Float32Array> {
  const { size, grid } = checkOptions(options);
  const perImage = size * size * 4;
  if (pixels.length !== count * perImage) {
    throw new RangeError(
      `image features: ${pixels.length} pixel bytes for ${count} images of ${size} × ${size}`,
    );
  }
  const dim = imageFeatureDim(grid);
  const result = new Float32Array(count * dim);
  if (count === 0) return result;
  const runtime = await initGpu();
  const batch = Math.max(1, options.batch ?? Math.floor(BATCH_BYTES / perImage));
  const perRead = Math.max(1, options.rowsPerRead ?? Math.floor(OUTPUT_BYTES / (dim * 4)));
  for (let part = 0; part < count; part += perRead) {
    const rows = Math.min(perRead, count - part);
    const out = runtime.pool.acquire(rows * dim * 4, "image features");
    try {
      for (let first = 0; first < rows; first += batch) {
        const n = Math.min(batch, rows - first);
        const at = (part + first) * perImage;
        const bytes = pixels.subarray(at, at + n * perImage);
        // A 4-byte-aligned view is uploaded in place; otherwise copied.
        const words = bytes.byteOffset % 4 === 0
          ? new Uint32Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.length / 4)
          : new Uint32Array(bytes.slice().buffer);
        const input = runtime.pool.acquire(n * perImage, "image pixels");
        runtime.upload(input, words);
        const params = { count: n, size, grid, dim, first };
        const bindings = { pixels: input, out };
        IMAGE_FEATURES.launch("cell_features", bindings, params, n * grid * grid);
        IMAGE_FEATURES.launch("global_features", bindings, params, n);
        runtime.pool.release(input);
        runtime.submit(); // lets the next batch reuse the pixel buffer (queue order keeps it safe)
      }
      result.set(new Float32Array(await runtime.read(out, rows * dim * 4)), part * dim);
    } finally {
      runtime.pool.release(out);
    }
  }
  return result;
}

/** Resizes decoded images (see {@link resizeForFeatures}) and computes their features on the GPU. */
export function featuriseImages(
  images: readonly RgbaImage[],
  options: ImageFeatureOptions = {},
): Promise<Float32Array> {
  const { size } = checkOptions(options);
  const perImage = size * size * 4;
  const pixels = new Uint8Array(images.length * perImage);
  images.forEach((image, i) => pixels.set(resizeForFeatures(image, size), i * perImage));
  return computeImageFeatures(pixels, images.length, options);
}

/**
 * Reads, decodes and resizes each file, then computes the features on the GPU, a chunk of files at
 * a time (so memory stays bounded for large collections). An unreadable or corrupt file is a
 * {@link DataError} naming it.
 */
export async function featuriseImageFiles(
  paths: readonly string[],
  options: ImageFeatureOptions = {},
): Promise<Float32Array> {
  const { size, grid } = checkOptions(options);
  const perImage = size * size * 4;
  const dim = imageFeatureDim(grid);
  const chunk = Math.max(1, options.batch ?? Math.floor(BATCH_BYTES / perImage));
  const out = new Float32Array(paths.length * dim);
  for (let start = 0; start < paths.length; start += chunk) {
    const n = Math.min(chunk, paths.length - start);
    const pixels = new Uint8Array(n * perImage);
    for (let i = 0; i < n; i++) {
      const image = await readImageFile(paths[start + i], options);
      pixels.set(resizeForFeatures(image, size), i * perImage);
    }
    out.set(await computeImageFeatures(pixels, n, options), start * dim);
  }
  return out;
}
