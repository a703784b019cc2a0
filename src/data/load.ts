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
import {
  DEFAULT_GENERATOR,
  type DefaultDatasetOptions,
  generateDefaultDataset,
} from "./synthetic.ts";
import {
  DEFAULT_SPLIT,
  type RetrievalSplits,
  splitByImage,
  type SplitPart,
  type SplitSpec,
} from "./split.ts";
import { type DataSource, describeSource } from "./source.ts";

/** Which part of the data to return. */
export type SplitName = "all" | "train" | "val" | "test";

/** Options of {@link loadRetrievalData} and {@link loadRetrievalSplits}. */
export interface LoadOptions {
  /** Seed of the default dataset and of every split (default 0). */
  seed?: number;
  /** Fraction of images for validation (default {@link DEFAULT_SPLIT}'s 0.1). */
  valFraction?: number;
  /** Fraction of images for test (default {@link DEFAULT_SPLIT}'s 0.1). */
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
  const { dataset } = await loadDataset(path, options);
  return split === "all" ? dataset : splitByImage(dataset, splitSpec(options))[split];
}

/** Loads `path` (or the default dataset) split by image into train / val / test. */
export async function loadRetrievalSplits(
  path?: string,
  options: LoadOptions = {},
): Promise<RetrievalSplits> {
  const { dataset } = await loadDataset(path, options);
  return splitByImage(dataset, splitSpec(options));
}

/** A whole dataset and where it came from. */
export interface LoadedDataset {
  /** All images and texts. */
  dataset: RetrievalDataset;
  /** Its origin and content fingerprint. */
  source: DataSource;
}

/**
 * Loads all of `path`, or generates the default dataset (seeded by `options.seed`), with its
 * {@link DataSource}.
 */
export async function loadDataset(
  path?: string | null,
  options: Pick<LoadOptions, "seed" | "defaultDataset" | "maxImagePixels"> = {},
): Promise<LoadedDataset> {
  const kind = await detectDataKind(path ?? undefined);
  if (kind === "default") {
    // The generator is always recorded by name, so a later default cannot change what a run's
    // record regenerates.
    const generator = {
      generator: DEFAULT_GENERATOR,
      ...options.defaultDataset,
      seed: options.seed ?? 0,
    };
    const { all } = await generateDefaultDataset(generator);
    return { dataset: all, source: await describeSource(all, null, generator) };
  }
  const ds = kind === "features"
    ? await loadFeatureDataset(path!)
    : await loadCollection(path!, { maxImagePixels: options.maxImagePixels });
  return { dataset: ds, source: await describeSource(ds, path!, null) };
}

/** What a run records of its split: the spec and the size of each part. */
export interface SplitRecord extends Required<SplitSpec> {
  /** Images and texts in each part. */
  parts: Record<SplitPart, { images: number; texts: number }>;
}

/** The {@link SplitRecord} of `splits` made under `spec`. */
export function splitRecord(spec: SplitSpec, splits: RetrievalSplits): SplitRecord {
  const count = (ds: RetrievalDataset) => ({ images: ds.numImages, texts: ds.numTexts });
  return {
    valFraction: spec.valFraction,
    testFraction: spec.testFraction ?? 0,
    seed: spec.seed,
    parts: { train: count(splits.train), val: count(splits.val), test: count(splits.test) },
  };
}

function splitSpec(options: LoadOptions): Required<SplitSpec> {
  return {
    valFraction: options.valFraction ?? DEFAULT_SPLIT.valFraction,
    testFraction: options.testFraction ?? DEFAULT_SPLIT.testFraction,
    seed: options.seed ?? DEFAULT_SPLIT.seed,
  };
}
