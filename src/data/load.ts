/**
 * One entry point for retrieval data: a path (or none) in, a {@link RetrievalDataset} out.
 *
 * - no path → the embedded default dataset ({@link generateDefaultDataset});
 * - a directory with `images.npy` / `texts.npy`, a `.safetensors` file, or a directory holding one
 *   → precomputed features ({@link loadFeatureDataset});
 * - a directory with a captions file (`captions.json`, `captions.csv`, …) and images → a raw
 *   collection, featurised with the built-ins ({@link loadCollection}).
 *
 * Anything else is a {@link DataError}: "no images.npy/texts.npy, *.safetensors or captions file
 * found in DIR".
 *
 * @example
 * ```ts
 * import { loadRetrievalData, loadRetrievalSplits } from "./load.ts";
 * const flickr = await loadRetrievalData("../shared/data/flickr8k-clip-b32-val");
 * const defaultTest = await loadRetrievalData(undefined, { split: "test" });
 * const { train, val } = await loadRetrievalSplits("../shared/data/coco-mini-val", { seed: 1 });
 * ```
 *
 * @module
 */

import type { RetrievalDataset } from "./types.ts";
import { DataError, isDirectory, isFile } from "./errors.ts";
import { loadFeatureDataset } from "./features.ts";
import { findCaptionsFile, loadCollection } from "./collection.ts";
import { type DefaultDatasetOptions, generateDefaultDataset } from "./synthetic.ts";
import { type RetrievalSplits, splitByImage } from "./split.ts";

/** Which part of the data to return. */
export type SplitName = "all" | "train" | "val" | "test";

/** Options of {@link loadRetrievalData} and {@link loadRetrievalSplits}. */
export interface LoadOptions {
  /** Seed of the default dataset and of every split (default 0). */
  seed?: number;
  /** Fraction of images for validation (default 0.1). */
  valFraction?: number;
  /** Fraction of images for test (default 0.1). */
  testFraction?: number;
  /** Which part {@link loadRetrievalData} returns (default `"all"`). */
  split?: SplitName;
  /** Options of the generated default dataset (its size, …) when no path is given. */
  defaultDataset?: Omit<DefaultDatasetOptions, "seed" | "valFraction" | "testFraction">;
  /** Largest image of a raw collection, in pixels (default 40 million; `--max-megapixels`). */
  maxImagePixels?: number;
}

/** What kind of data a path holds (see the module notes). */
export type DataKind = "default" | "features" | "collection";

/** Decides how `path` would be loaded, without loading it. */
export async function detectDataKind(path?: string): Promise<DataKind> {
  if (path === undefined || path === "") return "default";
  const p = path.replace(/\/+$/, "") || "/";
  if (await isFile(p)) {
    if (p.endsWith(".safetensors")) return "features";
    throw new DataError(
      `${p}: not a dataset (expected a directory, or a .safetensors feature file)`,
    );
  }
  if (!(await isDirectory(p))) throw new DataError(`${p}: no such file or directory`);
  if (await isFile(`${p}/images.npy`) || await isFile(`${p}/texts.npy`)) return "features";
  for await (const entry of Deno.readDir(p)) {
    if (entry.isFile && entry.name.endsWith(".safetensors")) return "features";
  }
  if (await findCaptionsFile(p) !== null) return "collection";
  throw new DataError(`no images.npy/texts.npy, *.safetensors or captions file found in ${p}`);
}

/**
 * Loads retrieval data from `path` (or generates the default dataset when it is absent) and
 * returns the whole of it, or one split by image when `options.split` is given.
 */
export async function loadRetrievalData(
  path?: string,
  options: LoadOptions = {},
): Promise<RetrievalDataset> {
  const split = options.split ?? "all";
  if (!["all", "train", "val", "test"].includes(split)) {
    throw new RangeError(`loadRetrievalData: split ${split} is not all, train, val or test`);
  }
  const kind = await detectDataKind(path);
  if (kind === "default") {
    const generated = await generateDefault(options);
    return generated[split];
  }
  const ds = await loadPath(path!, kind, options);
  return split === "all" ? ds : splits(ds, options)[split];
}

/** Loads `path` (or the default dataset) split by image into train / val / test. */
export async function loadRetrievalSplits(
  path?: string,
  options: LoadOptions = {},
): Promise<RetrievalSplits> {
  const kind = await detectDataKind(path);
  if (kind === "default") return await generateDefault(options);
  return splits(await loadPath(path!, kind, options), options);
}

function loadPath(path: string, kind: DataKind, options: LoadOptions): Promise<RetrievalDataset> {
  return kind === "features"
    ? loadFeatureDataset(path)
    : loadCollection(path, { maxImagePixels: options.maxImagePixels });
}

function generateDefault(options: LoadOptions) {
  return generateDefaultDataset({
    ...options.defaultDataset,
    seed: options.seed ?? 0,
    valFraction: options.valFraction ?? 0.1,
    testFraction: options.testFraction ?? 0.1,
  });
}

function splits(ds: RetrievalDataset, options: LoadOptions): RetrievalSplits {
  return splitByImage(ds, {
    valFraction: options.valFraction ?? 0.1,
    testFraction: options.testFraction ?? 0.1,
    seed: options.seed ?? 0,
  });
}
