/**
 * The data a run sees, and finding it again: every command splits with the one split function
 * ({@link assignImages} under a {@link SplitSpec}, default {@link DEFAULT_SPLIT}: 80/10/10 by
 * image), a run records the split and the data's fingerprint in `config.json`, and
 * {@link resolveRunData} reloads exactly that data and split for evaluation, or refuses.
 *
 * @module
 */

import {
  loadDataset,
  type LoadedDataset,
  type SplitName,
  type SplitRecord,
  splitRecord,
} from "../data/load.ts";
import type { DataSource } from "../data/source.ts";
import {
  DEFAULT_SPLIT,
  type RetrievalSplits,
  splitByImage,
  type SplitSpec,
} from "../data/split.ts";
import type { RetrievalDataset } from "../data/types.ts";
import type { GeneratorVersion } from "../data/synthetic.ts";
import { distractorNote } from "../eval/metrics.ts";
import type { TrainData } from "./trainer.ts";

/** How to load and split. */
export interface TrainDataOptions {
  /** Validation fraction of the images (default 0.1; 0 = no validation). */
  valFraction?: number;
  /** Test fraction of the images (default 0.1; never used in training). */
  testFraction?: number;
  /** Seed of the default dataset's generation and of the split (default 0). */
  dataSeed?: number;
  /** The default dataset's generator (default `v2`; ignored for data from a path). */
  generator?: GeneratorVersion;
  /** Largest image of a raw collection, in pixels (default 40 million; `--max-megapixels`). */
  maxImagePixels?: number;
  /** Log function for a one-line summary. */
  log?: (line: string) => void;
}

function describe(ds: RetrievalDataset): string {
  return `${ds.numImages} images${distractorNote(ds)} / ` +
    `${ds.numTexts} texts`;
}

/** The split spec of the options, with the defaults filled in. */
export function trainSplitSpec(options: TrainDataOptions): Required<SplitSpec> {
  return {
    valFraction: options.valFraction ?? DEFAULT_SPLIT.valFraction,
    testFraction: options.testFraction ?? DEFAULT_SPLIT.testFraction,
    seed: options.dataSeed ?? DEFAULT_SPLIT.seed,
  };
}

/** Splits a loaded dataset into the {@link TrainData} a run consumes. */
export function splitTrainData(loaded: LoadedDataset, spec: Required<SplitSpec>): TrainData {
  const splits = splitByImage(loaded.dataset, spec);
  return {
    train: splits.train,
    val: splits.val.numImages > 0 ? splits.val : null,
    test: splits.test.numImages > 0 ? splits.test : null,
    source: loaded.source,
    split: splitRecord(spec, splits),
  };
}

/**
 * Loads `path` (or generates the default dataset) and splits it by image into train, validation
 * and test parts (80/10/10 unless the options say otherwise).
 */
export async function loadTrainData(
  path: string | null,
  options: TrainDataOptions = {},
): Promise<TrainData> {
  const spec = trainSplitSpec(options);
  const started = performance.now();
  const loaded = await loadDataset(path, {
    seed: spec.seed,
    defaultDataset: options.generator ? { generator: options.generator } : undefined,
    maxImagePixels: options.maxImagePixels,
  });
  const data = splitTrainData(loaded, spec);
  const { train, val, test } = data;
  options.log?.(
    `data ${loaded.source.name}: train ${describe(train)}` +
      (val ? `, val ${describe(val)}` : ", no validation") +
      (test ? `, test ${describe(test)} (held out)` : ", no test part") +
      `; text dim ${train.textDim}, image dim ${train.imageDim} ` +
      `(${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
  for (const [name, part] of [["validation", val], ["test", test]] as const) {
    const warning = part ? smallPartWarning(name, part) : null;
    if (warning) options.log?.(warning);
  }
  return data;
}

/** Below this many queries, a part's metrics are too noisy to rank losses by. */
export const MIN_RELIABLE_QUERIES = 100;

/**
 * A warning when a part has fewer than {@link MIN_RELIABLE_QUERIES} image queries (each moves an
 * i2t R@K by more than one point), else null.
 */
export function smallPartWarning(name: string, part: RetrievalDataset): string | null {
  if (part.numImages >= MIN_RELIABLE_QUERIES) return null;
  return `warning: the ${name} part has only ${part.numImages} images (${part.numTexts} texts): ` +
    `one query moves an image → text R@K by ${(100 / part.numImages).toFixed(1)} points, so its ` +
    `metrics are noisy (fewer than ${MIN_RELIABLE_QUERIES} queries)`;
}

/** What a run folder records about its data (`config.json`'s `dataSource` and `split`). */
export interface RunDataRecord {
  /** The data it read. */
  dataSource: DataSource;
  /** How it split it. */
  split: SplitRecord;
}

/** The data an evaluation of a run scores, and how it relates to what the run trained on. */
export interface ResolvedRunData {
  /** The items to score. */
  dataset: RetrievalDataset;
  /** The whole data they come from. */
  source: DataSource;
  /** The part scored (`all` for all of it). */
  split: SplitName;
  /** Whether the data is the run's own (same fingerprint). */
  own: boolean;
  /** Whether the scored items include images (or their texts) the run trained on. */
  includesTrainingItems: boolean;
  /** The run's own train / val / test parts (when the data is the run's own). */
  parts?: RetrievalSplits;
}

/** Thrown when a run's data cannot be found or has changed; the message says what to do. */
export class RunDataError extends Error {
  /** @param message what is wrong and what to pass instead */
  constructor(message: string) {
    super(message);
    this.name = "RunDataError";
  }
}

/** The part a run's own data is scored on by default: test, else validation. */
export function defaultHeldOutPart(split: SplitRecord): "test" | "val" | null {
  if (split.parts.test.images > 0) return "test";
  if (split.parts.val.images > 0) return "val";
  return null;
}

/**
 * The data to evaluate run `run` (recorded as `record`) on.
 *
 * - `dataPath` absent: the run's own data, reloaded from its recorded path (or regenerated, for the
 *   embedded default) and checked against its fingerprint.
 * - `dataPath` given: that data; it is the run's own when its fingerprint matches.
 *
 * On the run's own data the default part is what the run held out (test, else validation); `train`
 * and `all` must be asked for and are flagged as including training items. Other data is scored
 * whole by default (a part of it is split with `otherSpec`).
 */
export async function resolveRunData(
  run: string,
  record: RunDataRecord,
  options: {
    dataPath?: string;
    split?: SplitName;
    otherSpec?: SplitSpec;
    maxImagePixels?: number;
  },
): Promise<ResolvedRunData> {
  const { loaded, own } = await loadRecordedData(
    run,
    record,
    options.dataPath,
    options.maxImagePixels,
  );
  if (own) {
    const held = defaultHeldOutPart(record.split);
    const split = options.split ?? held;
    if (split === null) {
      throw new RunDataError(
        `${run} held no images out (val and test fractions 0): every image is a training item; ` +
          "pass --split train or --split all to score them anyway",
      );
    }
    const parts = splitByImage(loaded.dataset, record.split);
    const dataset = split === "all" ? loaded.dataset : parts[split];
    if (dataset.numImages === 0) {
      throw new RunDataError(`${run}'s ${split} part is empty (see its config.json split)`);
    }
    return {
      dataset,
      source: loaded.source,
      split,
      own,
      includesTrainingItems: split === "train" || split === "all",
      parts,
    };
  }
  const split = options.split ?? "all";
  const dataset = split === "all"
    ? loaded.dataset
    : splitByImage(loaded.dataset, options.otherSpec ?? DEFAULT_SPLIT)[split];
  return { dataset, source: loaded.source, split, own, includesTrainingItems: false };
}

/**
 * The train / val / test parts of run `run`'s own data, split as it recorded (a reranker trains on
 * its first stage's parts). `dataPath` may name the data where it moved; other data is refused.
 */
export async function loadRunTrainData(
  run: string,
  record: RunDataRecord,
  dataPath?: string,
  maxImagePixels?: number,
): Promise<TrainData> {
  const { loaded, own } = await loadRecordedData(run, record, dataPath, maxImagePixels);
  if (!own) {
    throw new RunDataError(
      `${dataPath} is not the data ${run} was trained on (fingerprint ` +
        `${short(loaded.source.fingerprint)}, the run's is ${
          short(record.dataSource.fingerprint)
        })`,
    );
  }
  return splitTrainData(loaded, record.split);
}

/** Reads a run's {@link RunDataRecord} from its config, refusing configs that lack one. */
export function runDataRecord(run: string, config: Record<string, unknown>): RunDataRecord {
  const source = config.dataSource as DataSource | null | undefined;
  const split = config.split as SplitRecord | null | undefined;
  if (!source || !split) {
    throw new RunDataError(
      `${run}/config.json records no data source and split (a run trained on data built in ` +
        "memory, or by an older crossrank): pass --data DIR to score other data, or retrain",
    );
  }
  return { dataSource: source, split };
}

/** Loads the recorded data (or `dataPath`) and says whether it is the run's own. */
async function loadRecordedData(
  run: string,
  record: RunDataRecord,
  dataPath?: string,
  maxImagePixels?: number,
): Promise<{ loaded: LoadedDataset; own: boolean }> {
  const recorded = record.dataSource;
  if (dataPath !== undefined) {
    const loaded = await loadDataset(dataPath, { maxImagePixels });
    return { loaded, own: loaded.source.fingerprint === recorded.fingerprint };
  }
  const path = recorded.path === null ? null : await findRecordedPath(run, recorded);
  // A record without a generator name predates the graded generator: it was made by v1.
  const loaded = await loadDataset(path, {
    seed: Number(recorded.generator?.seed ?? record.split.seed),
    defaultDataset: recorded.generator ? { generator: "v1", ...recorded.generator } : undefined,
    maxImagePixels,
  });
  if (loaded.source.fingerprint !== recorded.fingerprint) {
    const what = path === null
      ? "the embedded default dataset (its generator changed since)"
      : `the data at ${path}`;
    throw new RunDataError(
      `${run} was trained on data with fingerprint ${short(recorded.fingerprint)}, but ` +
        `${what} now has ${short(loaded.source.fingerprint)}: it changed since the run. ` +
        "Retrain, or pass --data DIR to score other data (all of it, as unseen data)",
    );
  }
  return { loaded, own: true };
}

function short(fingerprint: string): string {
  return fingerprint.replace(/^sha256:/, "").slice(0, 12);
}

async function findRecordedPath(run: string, source: DataSource): Promise<string> {
  for (const candidate of [source.absolutePath, source.path]) {
    if (candidate === null) continue;
    try {
      await Deno.stat(candidate);
      return candidate;
    } catch {
      // try the next
    }
  }
  throw new RunDataError(
    `${run} was trained on ${source.absolutePath ?? source.path}, which no longer exists; ` +
      "if it moved, pass --data NEW_PATH (it is recognised by its content)",
  );
}
